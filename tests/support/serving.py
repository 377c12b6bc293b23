"""Reads of an InferenceDeployment's serving state shared by the e2e tests of the engine paths: which engine the
Service routes to, with how many Ready endpoints, sampled through every transition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from inference_operator.api.labels import LABEL_BUILD, LABEL_DEPLOYMENT, LABEL_ENGINE
from tests.support.cluster import Cluster
from tests.support.cluster import wait_for as _wait_for

VLLM, TRT = "vllm", "tensorrt-llm"
H100 = "NVIDIA-H100-80GB-HBM3"
TIMEOUT = 120.0  # generous: the test bed's 2 cores are shared with other sessions
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT, interval: float = 0.25) -> T:
    return _wait_for(what, probe, timeout=timeout, interval=interval)


def phase_is(cluster: Cluster, name: str, namespace: str, *phases: str) -> dict[str, Any] | None:
    status = cluster.status("infd", name, namespace)
    return status if status.get("phase") in phases else None


def served_by(cluster: Cluster, name: str, namespace: str, engine: str, phase: str = "Ready") -> dict[str, Any] | None:
    """The status once the resource is in `phase`, the Service routes to `engine` and only that engine runs."""
    status = cluster.status("infd", name, namespace)
    if status.get("phase") != phase or (status.get("engine") or {}).get("active") != engine:
        return None
    service = cluster.get("service", name, namespace)
    if service is None or service["spec"]["selector"].get(LABEL_ENGINE) != engine:
        return None
    engines = {d["metadata"]["labels"].get(LABEL_ENGINE) for d in deployments(cluster, name, namespace)}
    return status if engines == {engine} else None


def serving_state(cluster: Cluster, name: str, namespace: str) -> str:
    """One line on where a resource stands, for a timeout's message."""
    status = cluster.status("infd", name, namespace)
    service = cluster.get("service", name, namespace)
    routed = service["spec"]["selector"].get(LABEL_ENGINE) if service else None
    deps = [
        f"{d['metadata']['name']}(ready {(d.get('status') or {}).get('readyReplicas', 0)}/{d['spec']['replicas']}, "
        f"build {d['spec']['template']['metadata']['labels'].get(LABEL_BUILD)})"
        for d in deployments(cluster, name, namespace)
    ]
    return (
        f"phase {status.get('phase')} ({status.get('message')}), active {(status.get('engine') or {}).get('active')}, "
        f"build {status.get('build')}, Service -> {routed}, Deployments {deps}"
    )


def wait_served(
    cluster: Cluster, name: str, namespace: str, engine: str, phase: str = "Ready", timeout: float = TIMEOUT
) -> dict[str, Any]:
    """served_by, waited for; a timeout says where the resource stands."""
    try:
        return wait_for(
            f"{name} {phase} on {engine}", lambda: served_by(cluster, name, namespace, engine, phase), timeout
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; now: {serving_state(cluster, name, namespace)}") from None


def deployments(cluster: Cluster, name: str, namespace: str) -> list[dict[str, Any]]:
    return cluster.items("deployments", namespace, f"{LABEL_DEPLOYMENT}={name}")


def condition(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    found = [c for c in status.get("conditions") or [] if c["type"] == ctype]
    assert found, f"no {ctype} condition in {status.get('conditions')}"
    return dict(found[0])


def event_reasons(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str]]:
    """(type, reason) of the Events on an object, oldest first (resourceVersions grow with every write)."""
    events = sorted(cluster.events(namespace, name), key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [(str(e.get("type")), str(e.get("reason"))) for e in events]


# The Service's endpoints, sampled through every transition


@dataclass(frozen=True)
class Sample:
    engine: str | None  # the engine the Service selects
    ready: int  # Ready, non-terminating pods the Service selects
    builds: frozenset[str]  # engine-build labels of those pods


class ServingWatch:
    """Samples which pods the Service selects and how many are Ready; a sample is taken only when the Service's
    selector was the same before and after reading the pods (the operator deletes a retired Deployment only after
    the Service points elsewhere, so a stable selector means the pods read are the ones it selected)."""

    def __init__(self, cluster: Cluster, name: str, namespace: str) -> None:
        self.cluster, self.name, self.namespace = cluster, name, namespace
        self.samples: list[Sample] = []

    def _selector(self) -> dict[str, str] | None:
        svc = self.cluster.get("service", self.name, self.namespace)
        return dict(svc["spec"]["selector"]) if svc else None

    def sample(self) -> Sample | None:
        before = self._selector()
        if before is None:
            return None
        selector = ",".join(f"{k}={v}" for k, v in sorted(before.items()))
        pods = self.cluster.items("pods", self.namespace, selector)
        if self._selector() != before:
            return None  # the Service moved while the pods were read: inconclusive
        ready = [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or []
            )
        ]
        builds = frozenset(str(p["metadata"]["labels"].get(LABEL_BUILD, "")) for p in ready)
        taken = Sample(before.get(LABEL_ENGINE), len(ready), builds)
        self.samples.append(taken)
        return taken

    def until(self, what: str, done: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Sample at every poll until `done` returns something truthy."""

        def probe() -> Any:
            self.sample()
            return done()

        result = wait_for(what, probe, timeout=timeout, interval=0.1)
        self.sample()  # the state `done` saw
        return result

    def until_only(self, what: str, builds: set[str], timeout: float = TIMEOUT) -> None:
        """Sample until the Service's ready pods are those of `builds` alone. The resource's status can say the new
        engine serves (its Deployment rolled out) a moment before the ReplicaSet controller marks the old pods
        for deletion: a sample taken in between still counts an old pod among the ready ones."""
        self.until(what, lambda: bool(self.samples) and self.samples[-1].builds == frozenset(builds), timeout)

    def assert_never_without_endpoint(self) -> None:
        """From the first Ready endpoint on, every sample had at least one."""
        first = next((i for i, s in enumerate(self.samples) if s.ready > 0), None)
        assert first is not None, f"never saw a ready endpoint: {self.samples}"
        gaps = [s for s in self.samples[first:] if s.ready == 0]
        assert not gaps, f"{len(gaps)} of {len(self.samples) - first} samples had no ready endpoint: {gaps[:5]}"

    def engines(self) -> list[str | None]:
        """The engines the Service selected with a ready endpoint, in order, without repeats."""
        seen: list[str | None] = []
        for s in self.samples:
            if s.ready and (not seen or seen[-1] != s.engine):
                seen.append(s.engine)
        return seen
