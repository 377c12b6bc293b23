"""The one error every layer may raise about a resource's spec: time will not fix it.

The runtime maps it to kopf.PermanentError (no retry) and the controller writes it to the status as
Ready=False, reason InvalidSpec. What time can fix (the API server away, a conflict) is kube.errors.KubeError.
"""

from __future__ import annotations


class InvalidSpec(ValueError):
    """The spec passed the API server's schema but the operator cannot use it; str() names the field."""
