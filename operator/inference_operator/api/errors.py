"""The errors every layer may raise about a resource's spec: InvalidSpec (time will not fix it) and
WaitingForCluster (the cluster as it is cannot run it yet).

The runtime maps InvalidSpec to kopf.PermanentError (no retry; the controller writes it to the status as
Ready=False, reason InvalidSpec) and WaitingForCluster to kopf.TemporaryError with its delay. What time alone
can fix (the API server away, a conflict) is kube.errors.KubeError.
"""

from __future__ import annotations


class InvalidSpec(ValueError):
    """The spec passed the API server's schema but the operator cannot use it; str() names the field."""


class WaitingForCluster(Exception):
    """The spec is valid, but the cluster cannot run it as it is now (no node has the GPU product it names): a
    change to the cluster fixes it, so the runtime checks again after `recheck_seconds`. str() names the field."""

    def __init__(self, message: str, recheck_seconds: int) -> None:
        super().__init__(message)
        self.recheck_seconds = recheck_seconds
