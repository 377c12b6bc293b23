"""An in-memory fake of `kube.protocol.Client`, so the reconcile runs in unit tests without a cluster.

It keeps objects in a dict and answers as the API server would for what the controller relies on: uids and
generations assigned, the generation bumped when a spec changes, status kept across applies and merged by
status patches, 404 as None, create-if-absent never making a twin. Every write is logged in order, so a test
can assert the write order (Service first, deletes last). `cluster_*` methods play the cluster's part:
Deployments rolling out, Jobs finishing, pods the scheduler cannot place.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from inference_operator import FIELD_MANAGER
from inference_operator.kube.applied import digest, first_difference, stamp_of, stamped
from inference_operator.kube.errors import KubeError, NotFound

Key = tuple[str, str, str]
# The GPU products of the samples (and of the test bed's kwok nodes), for fakes of a cluster that has them.
SAMPLE_GPU_PRODUCTS = ("NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB")
List = list  # the class below has a method named list


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"])


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
    return all(labels.get(k) == v for k, v in wanted.items())


@dataclass
class FakeKube:
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    writes: List[tuple[str, str, str]] = field(default_factory=list)  # (verb, kind, name), in order
    events: List[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    fresh_reads: int = 0
    create_calls: int = 0
    managers: List[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, field manager) of creates
    served_apis: set[str] = field(default_factory=set)
    # verb -> error the next call of that verb raises (then forgotten)
    fail_next: dict[str, KubeError] = field(default_factory=dict)
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _maybe_fail(self, verb: str, kind: str = "") -> None:
        error = self.fail_next.pop(f"{verb}:{kind}", None) or self.fail_next.pop(verb, None)
        if error is not None:
            raise error

    # Reads

    def get(self, kind: str, namespace: str, name: str, fresh: bool = False) -> dict[str, Any] | None:
        self._maybe_fail("get", kind)
        self.fresh_reads += int(fresh)
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(
        self, kind: str, namespace: str | None, label_selector: str, limit: int | None = None
    ) -> List[dict[str, Any]]:
        self._maybe_fail("list", kind)
        found = [
            copy.deepcopy(o)
            for (k, ns, _), o in sorted(self.objects.items())
            if k == kind and (namespace is None or ns == namespace) and _matches(o, label_selector)
        ]
        return found[:limit] if limit is not None else found

    def served(self, group_version: str) -> bool:
        return group_version in self.served_apis

    def observe(self, obj: dict[str, Any], deleted: bool = False) -> dict[str, Any] | None:
        return copy.deepcopy(self.objects.get(_key(obj)))

    # Writes

    def _stored(self, obj: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
        body = copy.deepcopy(obj)
        meta = body["metadata"]
        if before is None:
            meta["uid"] = f"uid-{next(self._uids)}"
            meta["generation"] = 1
        else:
            meta["uid"] = before["metadata"]["uid"]
            changed = before.get("spec") != body.get("spec")
            meta["generation"] = before["metadata"]["generation"] + int(changed)
            if "status" in before:
                body["status"] = before["status"]
        self.objects[_key(body)] = body
        return copy.deepcopy(body)

    def apply(
        self, obj: dict[str, Any], observed: dict[str, Any] | None = None, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        self._maybe_fail("apply", obj["kind"])
        if field_manager != FIELD_MANAGER:  # a partial apply of another manager: merge its spec fields
            self.managers.append((obj["kind"], obj["metadata"]["name"], field_manager))
            current = self.objects[_key(obj)]
            self.writes.append(("apply", obj["kind"], obj["metadata"]["name"]))
            return self._stored({**current, "spec": {**current["spec"], **obj["spec"]}}, current)
        if obj["kind"] == "PodMonitor" and "monitoring.coreos.com/v1" not in self.served_apis:
            raise NotFound(404, "NotFound", "the server could not find the requested resource")
        # As the real client: stamped, and skipped when the object read still holds what was applied (so every
        # reconcile here is one of a freshly started operator, which remembers nothing of its own applies).
        obj = stamped(obj, digest(obj))
        if observed is not None and stamp_of(observed) == stamp_of(obj) and first_difference(obj, observed) is None:
            return observed
        self.writes.append(("apply", obj["kind"], obj["metadata"]["name"]))
        before = self.objects.get(_key(obj))
        kept = (before or {}).get("spec", {}).get("replicas")
        if obj["kind"] == "Deployment" and kept is not None and "replicas" not in obj.get("spec", {}):
            # Server-side apply leaves a field alone that another manager owns (the seed's, then the HPA's).
            obj = {**obj, "spec": {"replicas": kept, **obj["spec"]}}
        return self._stored(obj, before)

    def create_if_absent(self, obj: dict[str, Any], field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        self._maybe_fail("create", obj["kind"])
        self.create_calls += 1  # a POST even when the name is taken (the API server answers 409)
        self.managers.append((obj["kind"], obj["metadata"]["name"], field_manager))
        existing = self.objects.get(_key(obj))
        if existing is not None:
            return copy.deepcopy(existing)
        self.writes.append(("create", obj["kind"], obj["metadata"]["name"]))
        return self._stored(obj, None)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        self._maybe_fail("delete", kind)
        self.writes.append(("delete", kind, name))
        return self.objects.pop((kind, namespace, name), None) is not None

    def patch_status(self, kind: str, namespace: str, name: str, new: dict[str, Any], previous: dict[str, Any]) -> None:
        self._maybe_fail("patch", kind)
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            raise NotFound(404, "NotFound", f"{kind} {name} not found")
        self.writes.append(("patch", kind, name))
        status = {**(obj.get("status") or {}), **copy.deepcopy(new)}
        for key in previous:
            if key not in new and key != "kopf":
                status.pop(key, None)
        obj["status"] = status

    def event(self, involved: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    # The cluster's part

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An object created by someone else (a user's resource, a pod the Deployment controller made)."""
        return self._stored(obj, self.objects.get(_key(obj)))

    def body(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.get((kind, namespace, name))
        assert obj is not None, f"no {kind} {namespace}/{name}"
        return obj

    def cluster_add_node(self, name: str, labels: dict[str, str]) -> dict[str, Any]:
        """A Node joins the cluster (cluster-scoped: no namespace)."""
        return self.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})

    def cluster_add_gpu_nodes(self, products: tuple[str, ...] = SAMPLE_GPU_PRODUCTS) -> None:
        """One GPU node per product (label nvidia.com/gpu.product, as GPU feature discovery sets it)."""
        for i, product in enumerate(products):
            self.cluster_add_node(f"gpu-{i}", {"nvidia.com/gpu.product": product})

    def cluster_roll_out(self, namespace: str, name: str, ready: int | None = None) -> None:
        """The Deployment controller has rolled a Deployment out; `ready` of its pods are Ready."""
        obj = self.body("Deployment", namespace, name)
        desired = int(obj["spec"].get("replicas", 1))
        ready = desired if ready is None else ready
        obj["status"] = {
            "observedGeneration": obj["metadata"]["generation"],
            "replicas": desired,
            "updatedReplicas": desired,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }

    def cluster_finish_job(self, namespace: str, name: str, succeeded: bool) -> None:
        job = self.body("Job", namespace, name)
        ctype, reason = ("Complete", "") if succeeded else ("Failed", "BackoffLimitExceeded")
        job["status"] = {
            "startTime": "2026-01-01T00:00:00Z",
            "succeeded" if succeeded else "failed": 1,
            "conditions": [
                {"type": ctype, "status": "True", "reason": reason, "lastTransitionTime": "2026-01-01T00:10:00Z"}
            ],
            **({"completionTime": "2026-01-01T00:10:00Z"} if succeeded else {}),
        }

    def writes_since(self, mark: int) -> List[tuple[str, str, str]]:
        return self.writes[mark:]
