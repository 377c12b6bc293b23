"""The controller: each kind's reconcile as observe (I/O) -> desired (pure) -> act (the ordered writes).

Pure: facts.py, plan.py, conditions.py and each kind's desired.py and status.py; they import no client, no kopf.
I/O: each kind's observe.py (reads) and act.py (writes), through the `kube.protocol.Client` in context.py.
"""
