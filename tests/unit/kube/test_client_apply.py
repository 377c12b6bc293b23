"""A re-apply that would change nothing costs no write, even in a process that never applied the object: the
stamp on the object (kube/applied.py) says what an earlier process applied, and the object as read must still
hold every field of it. A drift someone else made, a changed desired body, an object not read: applied as today."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from inference_operator.api.labels import ANNOTATION_APPLIED
from inference_operator.kube.applied import digest, first_difference, stamped
from inference_operator.kube.client import Kube


class _Server(Kube):
    """The real client over an in-memory API server that answers an apply as kube-apiserver does here: the body
    stored with uid, generation and the fields the server defaults; quantities in canonical form."""

    def __init__(self) -> None:
        super().__init__(api=None)  # type: ignore[arg-type]
        self.patches: list[dict[str, Any]] = []
        self.stored: dict[str, dict[str, Any]] = {}

    def _url(self, kind: str, namespace: str | None, name: str | None = None, *_: Any, **__: Any) -> str:
        return f"/{kind}/{namespace}/{name}"

    def _call(self, method: str, url: str, body: Any = None, content_type: str = "") -> Any:
        assert method == "PATCH" and content_type == "application/apply-patch+yaml"
        applied = json.loads(body)
        self.patches.append(applied)
        self.stored[url] = served(applied, generation=len(self.patches))
        return copy.deepcopy(self.stored[url])


def served(applied: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    """What the API server makes of an applied Deployment: defaults added, quantities canonical, empties dropped."""
    obj = copy.deepcopy(applied)
    obj["metadata"] |= {"uid": "u-1", "generation": generation, "resourceVersion": str(100 + generation)}
    obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    spec = obj["spec"]
    spec |= {"revisionHistoryLimit": 10, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}
    pod = spec["template"]["spec"]
    pod |= {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"}
    pod.pop("nodeSelector")  # an empty map is not kept
    for container in pod["containers"]:
        container |= {"terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"}
        container["ports"] = [{**p, "protocol": "TCP"} for p in container["ports"]]
        container["resources"]["limits"] = {"cpu": "1500m", "memory": "1Gi", "nvidia.com/gpu": "1"}
    obj["status"] = {"observedGeneration": generation, "replicas": 1}
    return obj


def deployment() -> dict[str, Any]:
    container = {
        "name": "vllm",
        "image": "vllm/vllm-openai:v0.32.0",
        "args": ["--port", "8000"],
        "env": [{"name": "HOME", "value": "/data"}],
        "ports": [{"name": "http", "containerPort": 8000}],
        "resources": {"limits": {"cpu": "1.5", "memory": "1024Mi", "nvidia.com/gpu": 1}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "m-vllm", "namespace": "ns", "labels": {"app": "m"}},
        "spec": {
            "replicas": 1,
            "template": {"metadata": {"labels": {"app": "m"}}, "spec": {"containers": [container], "nodeSelector": {}}},
        },
    }


def restarted(server: _Server) -> _Server:
    """A new process on the same API server: it remembers nothing of its own applies."""
    fresh = _Server()
    fresh.stored = server.stored
    return fresh


def live(server: _Server) -> dict[str, Any]:
    return copy.deepcopy(server.stored["/Deployment/ns/m-vllm"])


def test_every_apply_carries_the_digest_of_the_desired_body() -> None:
    server = _Server()
    server.apply(deployment())
    assert server.patches[0]["metadata"]["annotations"] == {ANNOTATION_APPLIED: digest(deployment())}
    assert {k: v for k, v in server.patches[0].items() if k != "metadata"} == {
        k: v for k, v in deployment().items() if k != "metadata"
    }


def test_a_restarted_client_skips_an_object_with_the_same_digest_that_holds_every_field() -> None:
    server = _Server()
    server.apply(deployment())
    again = restarted(server)
    observed = live(server)
    assert again.apply(deployment(), observed) is observed
    assert again.patches == []
    assert again.apply(deployment(), live(server)) is not None and again.patches == [], "remembered, still no write"


def test_a_changed_desired_body_is_applied() -> None:
    server = _Server()
    server.apply(deployment())
    again = restarted(server)
    changed = deployment()
    changed["spec"]["template"]["spec"]["containers"][0]["env"] = []  # a field dropped: only the apply removes it
    again.apply(changed, live(server))
    assert len(again.patches) == 1
    assert again.patches[0]["metadata"]["annotations"][ANNOTATION_APPLIED] == digest(changed)


@pytest.mark.parametrize(
    ("drift", "where"),
    [
        (lambda o: o["spec"].update(replicas=3), "spec.replicas"),
        (lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image="other:1"), "image"),
        (lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "X"}), "env"),
        (lambda o: o["spec"]["template"]["spec"]["containers"][0]["args"].reverse(), "args[0]"),
        (lambda o: o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(cpu="2"), "cpu"),
        (lambda o: o["metadata"]["labels"].pop("app"), "metadata.labels.app"),
    ],
    ids=["replicas", "image", "list-entry-added", "list-order", "quantity", "label-removed"],
)
def test_a_field_someone_else_changed_is_applied_again(drift: Any, where: str) -> None:
    server = _Server()
    server.apply(deployment())
    observed = live(server)
    drift(observed)
    again = restarted(server)
    again.apply(deployment(), observed)
    assert len(again.patches) == 1
    assert where in (first_difference(stamped(deployment(), digest(deployment())), observed) or "")


def test_an_object_not_read_is_applied() -> None:
    server = _Server()
    server.apply(deployment())
    again = restarted(server)
    again.apply(deployment(), None)
    assert len(again.patches) == 1


def test_an_object_without_the_stamp_is_applied_once() -> None:
    server = _Server()
    server.apply(deployment())
    observed = live(server)
    del observed["metadata"]["annotations"][ANNOTATION_APPLIED]  # applied by a version without stamps
    again = restarted(server)
    again.apply(deployment(), observed)
    again.apply(deployment(), live(server))
    assert len(again.patches) == 1


def test_quantities_compare_by_value() -> None:
    limits = {"resources": {"limits": {"cpu": "1.5", "tag": "v1"}}}
    assert first_difference(limits, {"resources": {"limits": {"cpu": "1500m", "tag": "v1"}}}) is None
    target = {"target": {"type": "AverageValue", "averageValue": "0.8"}}
    assert first_difference(target, {"target": {"type": "AverageValue", "averageValue": "800m"}}) is None
    # Elsewhere a string is a string: "1.0" is not "1".
    assert first_difference({"image": "x:1.0"}, {"image": "x:1"}) == "image"
    assert first_difference({"port": 8000}, {"port": "8000"}) == "port"
    assert first_difference({"on": True}, {"on": 1}) == "on"
