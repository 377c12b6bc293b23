"""The client's memory of what it applied is bounded: forgotten on delete and on a DELETED event, and the
least recently applied go first beyond APPLIED_MAX."""

from __future__ import annotations

from typing import Any

import pytest

from inference_operator.kube import client as client_module
from inference_operator.kube.client import Kube


class _Recorder(Kube):
    """The real client with the HTTP call replaced: every PATCH answers as the API server would."""

    def __init__(self) -> None:
        super().__init__(api=None)  # type: ignore[arg-type]
        self.calls = 0

    def _url(self, kind: str, namespace: str | None, name: str | None = None, *_: Any, **__: Any) -> str:
        return f"/{kind}/{namespace}/{name}"

    def _call(self, method: str, url: str, body: Any = None, content_type: str = "") -> Any:
        self.calls += 1
        _, kind, namespace, name = url.split("/")[:4]
        return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": name, "resourceVersion": "1"}}


def obj(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"}, "spec": {"x": 1}}


def test_a_reapply_of_the_same_content_is_skipped_and_deletes_forget(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = _Recorder()
    first = kube.apply(obj("a"))
    assert kube.apply(obj("a"), first) is first and kube.calls == 1
    kube.delete("Service", "ns", "a")
    assert kube.applied_count == 0
    kube.apply(obj("b"))
    kube.observe({"kind": "Service", "metadata": {"name": "b", "namespace": "ns"}}, deleted=True)
    assert kube.applied_count == 0


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "APPLIED_MAX", 3)
    kube = _Recorder()
    for name in "abcde":
        kube.apply(obj(name))
    assert kube.applied_count == 3
