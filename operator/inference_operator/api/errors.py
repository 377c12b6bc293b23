"""The errors every layer may raise about a resource other than the API server's: its spec (time will not fix it)
and a dependency outside the cluster not answering (time may).

The runtime maps InvalidSpec to kopf.PermanentError (no retry) and the controller writes it to the status as
Ready=False, reason InvalidSpec; RetryLater to kopf.TemporaryError with a growing delay, after the controller
wrote the status that says what it waits for. What time can fix on the API server's side (away, a conflict) is
kube.errors.KubeError.
"""

from __future__ import annotations


class InvalidSpec(ValueError):
    """The spec passed the API server's schema but the operator cannot use it; str() names the field."""


class RetryLater(RuntimeError):
    """Something outside the cluster did not answer (the Hub resolving a revision); the status says so already.
    str() says what and where; the runtime retries with backoff."""
