"""At start, one listing of each watched child kind into the read cache, before the first reconcile runs.

kopf lists the serving Deployments and Services too, but says nothing when its listing is in, and its resume
handlers run meanwhile: each reconcile then asks the API server for a child not delivered yet, and for every
child the resource does not have (the other engine's Deployment, a 404), about two GETs per resource at a
restart (docs/benchmarks.md). kopf's indexes would say when the listing is in, but their barrier does not scale
(runtime/handlers.py). So the operator lists these kinds itself, a page at a time, while kopf starts; the
reconcile threads wait for it (at most PRIME_WAIT_SECONDS); from then on a child the cache does not hold is absent
without a request, and kopf's watch events keep the cache current as before (kube/cache.py).

A listing that fails (RBAC without a cluster-wide list for namespace globs, the API server away) leaves the
cache as it was: reads of that kind ask the API server on a miss, as they did before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kopf._cogs.structs.references import match_namespace  # kopf's own glob rules (kopf 1.45.2)

from ..api.labels import SERVING_SELECTOR
from ..kube.client import Kube
from ..kube.errors import KubeError
from .kopf_settings import only_exact_namespaces

PRIMED_KINDS = ("Deployment", "Service")
# How long a reconcile waits for the listing before it reads as it would without one.
PRIME_WAIT_SECONDS = 120.0

logger = logging.getLogger(__name__)


def scope(namespaces: list[str], clusterwide: bool) -> tuple[list[str] | None, Callable[[str], bool]]:
    """Where to list (None: every namespace in one listing) and which namespaces the operator serves, as kopf
    reads --namespace: plain names are listed one by one (a namespaced install may list nothing else); globs,
    negations and comma lists by one cluster-wide listing, kept where kopf's own matching keeps them."""
    if clusterwide or not namespaces:
        return None, lambda _namespace: True
    if only_exact_namespaces(namespaces):
        names = sorted(set(namespaces))
        return names, set(names).__contains__
    patterns = list(namespaces)
    return None, lambda namespace: any(match_namespace(namespace, p) for p in patterns)


def prime_children(kube: Kube, namespaces: list[str], clusterwide: bool, done: threading.Event) -> None:
    """List the serving children into the cache, then set `done` (whatever happened)."""
    try:
        where, covers = scope(namespaces, clusterwide)
        for kind in PRIMED_KINDS:
            started = time.monotonic()
            try:
                count = kube.prime(kind, where, SERVING_SELECTOR, covers)
            except KubeError as exc:
                logger.warning("listing the serving %ss at start failed, reads ask the API server: %s", kind, exc)
                continue
            logger.info(
                "listed %d serving %ss in %.1f s: reads come from memory", count, kind, time.monotonic() - started
            )
    finally:
        done.set()
