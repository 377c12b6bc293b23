"""`Kube.prime`: a paginated listing of a watched kind into the cache, after which a miss is "absent"."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from inference_operator.kube.client import Kube
from inference_operator.kube.errors import KubeError


class _Pages(Kube):
    """The real client with the HTTP call replaced by pages of a listing, by continue token."""

    def __init__(self, pages: dict[str, dict[str, Any]], fail_at: str | None = None) -> None:
        super().__init__(api=None)  # type: ignore[arg-type]
        self.pages = pages
        self.fail_at = fail_at
        self.urls: list[str] = []

    def _url(self, kind: str, namespace: str | None, name: str | None = None, *_: Any, **kw: Any) -> str:
        query = kw.get("query") or {}
        token = query.get("continue", "")
        return f"http://api/{kind}/{namespace}/{name}?labelSelector={query.get('labelSelector', '')}&continue={token}"

    def _call(self, method: str, url: str, body: Any = None, content_type: str = "") -> Any:
        self.urls.append(url)
        parts = urlparse(url)
        kind, namespace, name = parts.path.strip("/").split("/")
        token = parse_qs(parts.query).get("continue", [""])[0]
        if name != "None":
            raise AssertionError(f"a GET of {kind} {namespace}/{name}: the listing should have answered it")
        if token == self.fail_at:
            raise KubeError(410, "Expired", "the continue token expired")
        return self.pages[token]


def item(namespace: str, name: str, rv: str = "1") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": rv}, "spec": {}}


PAGES: dict[str, dict[str, Any]] = {
    "": {"items": [item("a", "one"), item("b", "two")], "metadata": {"continue": "p2"}},
    "p2": {"items": [item("a", "three"), item("other", "x")], "metadata": {}},
}


def test_every_page_is_put_with_its_kind_and_a_name_it_did_not_hold_is_absent() -> None:
    kube = _Pages(PAGES)
    covered = {"a", "b"}
    assert kube.prime("Deployment", None, "x=y", covered.__contains__) == 3
    assert len(kube.urls) == 2 and "continue=p2" in kube.urls[1]
    one = kube.get("Deployment", "a", "one")
    assert one is not None and (one["kind"], one["apiVersion"]) == ("Deployment", "apps/v1")
    assert kube.get("Deployment", "a", "three") is not None
    assert kube.get("Deployment", "a", "not-there") is None  # absent, with no request (the fake refuses GETs)
    assert kube.cache.lookup(("Deployment", "other", "x")) == (False, None)  # not ours: not kept
    assert len(kube.urls) == 2


def test_services_get_the_core_api_version() -> None:
    kube = _Pages(PAGES)
    kube.prime("Service", ["a"], "x=y", lambda ns: ns == "a")
    service = kube.get("Service", "a", "one")
    assert service is not None and service["apiVersion"] == "v1"


def test_a_listing_that_fails_halfway_leaves_the_kind_unlisted() -> None:
    kube = _Pages(PAGES, fail_at="p2")
    with pytest.raises(KubeError):
        kube.prime("Deployment", None, "x=y", lambda _ns: True)
    assert kube.cache.lookup(("Deployment", "a", "one"))[1] is not None  # what came is kept
    assert kube.cache.lookup(("Deployment", "a", "not-there")) == (False, None)  # but a miss still asks
