"""The weight cache on the real control plane: a real download Job on the process node fetches the generated
tiny Llama once from the test bed's Hub mirror (testbed/hub) into a WeightCache entry keyed by the commit the
operator resolved (`main` and its commit: one entry), and real vLLM pods of two resources start from it read-only
and offline and answer a completion; a revision change (main -> v2) is one new entry the resource rolls onto; a
revision the mirror lacks is refused by the operator's resolve with a condition and an Event, before any Job,
while nothing else is lost; eviction under a small budget removes only the unused entry.

This module runs its own operator (its namespaces carry their own prefix), set up with a 1Gi budget.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import s3_store
from tests.support.cluster import Cluster, wait_for
from tests.support.engine import engine_paths, hub_access_log, hub_traffic
from tests.support.engine import engine_paths as paths
from tests.support.operator_process import OperatorProcess
from tests.support.real_engine import (
    completion,
    hub_endpoint,
    model_revision,
    ready_endpoints,
    tiny_llama,
    weights_repo,
)

from .conftest import drain_namespaces

PREFIX = f"wc{uuid.uuid4().hex[:4]}"
READY_TIMEOUT = 900.0
DOWNLOAD_TIMEOUT = 300.0
BUDGET = "1Gi"  # one 1Gi entry fits; a second complete one pushes the unused one out
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def weight_operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    env = {"INFOP_HF_ENDPOINT": hub_endpoint(), "INFOP_WEIGHT_CACHE_BUDGET": BUDGET}
    proc = OperatorProcess(
        cluster, tmp_path_factory.mktemp("wc-operator"), extra_env=env, args=("--namespace", f"{PREFIX}-*")
    )
    proc.start()
    yield proc
    drain_namespaces(cluster, f"{PREFIX}-")
    proc.stop()


@pytest.fixture
def s3(cluster: Cluster) -> str:
    """The test bed's S3 store, running: its endpoint as pods reach it."""
    return s3_store.ensure_running()


@pytest.fixture
def ns(cluster: Cluster, weight_operator: OperatorProcess) -> Iterator[str]:
    name = f"{PREFIX}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
    wait_for(
        "the namespace's pods to go",
        lambda: not cluster.items("pods", name) if cluster.get("namespace", name, "default") else True,
        timeout=240,
        interval=1,
    )


def cached(name: str, namespace: str, revision: str | None = None, **spec: Any) -> dict[str, Any]:
    body = tiny_llama(name, namespace, extra_args=("--enforce-eager",), spec=spec, repo=weights_repo())
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "1Gi"}
    if revision is not None:
        body["spec"]["model"]["revision"] = revision
    return body


def entries(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return cluster.items("weightcaches.inference-operator.dev", namespace)


def entry_phase(cluster: Cluster, namespace: str, resource: str) -> tuple[str, str] | None:
    weights = cluster.status("inferencedeployment", resource, namespace).get("weights") or {}
    return (weights["entry"], weights["phase"]) if weights.get("phase") in ("Complete", "Failed") else None


def download_jobs(cluster: Cluster, namespace: str) -> list[str]:
    jobs = cluster.items("jobs", namespace, "app.kubernetes.io/component=weight-cache")
    return sorted(j["metadata"]["name"] for j in jobs)


def resolve_bytes(since: int) -> int:
    """File bytes the mirror served for this module's repo id since `since` (other pods on the bed fetch the other)."""
    return sum(hub_traffic(since=since, repo=weights_repo()).files.values())


def patch(cluster: Cluster, namespace: str, name: str, spec: str) -> None:
    cluster.kubectl("patch", "inferencedeployment", name, "-n", namespace, "--type=merge", "-p", spec)


def claims_of_pods(cluster: Cluster, namespace: str, name: str) -> set[str]:
    pods = cluster.items("pods", namespace, f"inference-operator.dev/deployment={name}")
    return {
        v["persistentVolumeClaim"]["claimName"]
        for p in pods
        for v in p["spec"].get("volumes") or []
        if v.get("persistentVolumeClaim")
    }


def ready_replicas(cluster: Cluster, namespace: str, name: str, want: int) -> bool:
    status = cluster.status("inferencedeployment", name, namespace)
    ready = (cluster.condition("inferencedeployment", name, namespace, "Ready") or {}).get("status") == "True"
    return ready and int(status.get("readyReplicas") or 0) >= want


def test_two_resources_share_one_download_and_serve_from_it_offline(cluster: Cluster, ns: str) -> None:
    hub_before = len(hub_access_log())
    started = time.monotonic()
    cluster.apply(cached("first", ns, revision="main"), ns)  # `main`, resolved by the operator to its commit
    entry, phase = wait_for("the entry to complete", lambda: entry_phase(cluster, ns, "first"), DOWNLOAD_TIMEOUT, 1)
    assert phase == "Complete", cluster.status("weightcache", entry, ns)
    fetched_by_job = resolve_bytes(hub_before)
    assert fetched_by_job > 0, "the download Job fetched nothing through the mirror"
    hub_after_job = len(hub_access_log())
    wait_for("first Ready", lambda: ready_replicas(cluster, ns, "first", 1), READY_TIMEOUT, 1)
    cold = time.monotonic() - started
    resolved = cluster.status("inferencedeployment", "first", ns)["weights"]["resolved"]
    assert (resolved["revision"], resolved["commit"]) == ("main", model_revision()), resolved
    assert (cluster.get("weightcache", entry, ns) or {})["spec"]["revision"] == model_revision()
    # A second resource of the same model at main's 40-hex commit, created once the entry is complete: the same
    # entry (the key is the commit), and its replica starts warm.
    started = time.monotonic()
    cluster.apply(cached("second", ns, revision=model_revision()), ns)
    wait_for("second Ready", lambda: ready_replicas(cluster, ns, "second", 1), READY_TIMEOUT, 1)
    warm = time.monotonic() - started
    assert download_jobs(cluster, ns) == [f"{entry}-download"]  # exactly one for both resources
    assert [e["metadata"]["name"] for e in entries(cluster, ns)] == [entry]
    for name in ("first", "second"):
        (endpoint,) = ready_endpoints(cluster, ns, name)
        done = completion(endpoint.url, weights_repo(), "Weights cached", max_tokens=4)
        assert done["choices"][0]["text"] and done["usage"]["completion_tokens"] > 0, done
        pod = cluster.get("pod", endpoint.pod, ns) or {}
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "vllm")
        assert container["args"][0] == "/weights/model"
        assert {"name": "HF_HUB_OFFLINE", "value": "1"} in container["env"]
    # A second replica of the first resource (second suspended meanwhile, so that no more than two engines run at
    # once on the shared cores) and a pod restart start from the entry too.
    patch(cluster, ns, "second", '{"spec":{"replicas":0}}')
    wait_for(
        "second's pod to go",
        lambda: not cluster.items("pods", ns, "inference-operator.dev/deployment=second"),
        300,
        1,
    )
    patch(cluster, ns, "first", '{"spec":{"replicas":2}}')
    wait_for("first at 2 Ready replicas", lambda: ready_replicas(cluster, ns, "first", 2), READY_TIMEOUT, 1)
    assert download_jobs(cluster, ns) == [f"{entry}-download"]  # two replicas and a second resource: one Job
    victim = ready_endpoints(cluster, ns, "first")[0]
    cluster.kubectl("delete", "pod", victim.pod, "-n", ns, "--wait=false")
    wait_for(
        "first's replacement pod Ready",
        lambda: len([e for e in ready_endpoints(cluster, ns, "first") if e.pod != victim.pod]) == 2,
        READY_TIMEOUT,
        1,
    )
    # Three serving pod starts (second's first, a scale-up, a restart), and not one byte through the mirror.
    assert resolve_bytes(hub_after_job) == 0
    assert download_jobs(cluster, ns) == [f"{entry}-download"]
    print(
        f"weight cache: the Job fetched {fetched_by_job} bytes, the three serving pod starts 0; "
        f"created to Ready: cold (download + start) {cold:.1f}s, warm (second resource) {warm:.1f}s"
    )
    moves_to_v2_and_refuses_a_missing_revision(cluster, ns, entry)


def moves_to_v2_and_refuses_a_missing_revision(cluster: Cluster, ns: str, old: str) -> None:
    """A revision change (first: main -> v2): exactly one new entry and one new Job, the old entry kept while
    second asks for it, first rolls onto the new entry and answers; then a revision the mirror lacks is refused
    by the operator's resolve (no entry, no Job) while first serves on."""
    patch(cluster, ns, "first", '{"spec":{"replicas":1}}')
    wait_for("first at one pod", lambda: len(ready_endpoints(cluster, ns, "first")) == 1, 300, 1)
    patch(cluster, ns, "first", '{"spec":{"model":{"revision":"v2"}}}')

    def on_v2() -> str | None:
        weights = cluster.status("inferencedeployment", "first", ns).get("weights") or {}
        done = weights.get("entry") not in (None, old) and weights.get("phase") == "Complete"
        return str(weights["entry"]) if done else None

    new = wait_for("first's v2 entry to complete", on_v2, DOWNLOAD_TIMEOUT, 1)
    v2 = paths()["MODEL_REVISION_V2"]
    assert (cluster.get("weightcache", new, ns) or {})["spec"]["revision"] == v2
    assert download_jobs(cluster, ns) == sorted([f"{old}-download", f"{new}-download"])
    wait_for(
        "first's pods on the v2 entry and Ready",
        lambda: claims_of_pods(cluster, ns, "first") == {new} and ready_replicas(cluster, ns, "first", 1),
        READY_TIMEOUT,
        1,
    )
    (endpoint,) = ready_endpoints(cluster, ns, "first")
    done = completion(endpoint.url, weights_repo(), "Moved to v2", max_tokens=4)
    assert done["choices"][0]["text"], done
    assert sorted(e["metadata"]["name"] for e in entries(cluster, ns)) == sorted([old, new])  # second uses old
    serving = cluster.get("deployment", "first-vllm", ns) or {}
    patch(cluster, ns, "first", '{"spec":{"model":{"revision":"no-such-revision"}}}')

    def refused() -> dict[str, Any] | None:
        weights = cluster.status("inferencedeployment", "first", ns).get("weights") or {}
        return weights if weights.get("reason") == "RevisionNotFound" else None

    weights = wait_for("the revision to be refused", refused, 60, 1)
    assert weights["phase"] == "Failed" and "entry" not in weights and "no-such-revision" in weights["message"]
    condition = cluster.condition("inferencedeployment", "first", ns, "WeightsCached") or {}
    assert (condition.get("status"), condition.get("reason")) == ("False", "RevisionNotFound"), condition
    assert "RevisionNotFound" in {e["reason"] for e in cluster.events(ns, "first")}
    assert download_jobs(cluster, ns) == sorted([f"{old}-download", f"{new}-download"])  # no Job for it
    assert (cluster.get("deployment", "first-vllm", ns) or {}).get("spec") == serving.get("spec")
    done = completion(endpoint.url, weights_repo(), "Still serving v2", max_tokens=4)
    assert done["choices"][0]["text"], done


def test_a_missing_revision_is_refused_by_the_resolve_before_any_job(cluster: Cluster, ns: str) -> None:
    cluster.apply(cached("broken", ns, revision="no-such-revision"), ns)

    def failed() -> dict[str, Any] | None:
        weights = cluster.status("inferencedeployment", "broken", ns).get("weights") or {}
        return weights if weights.get("phase") == "Failed" else None

    weights = wait_for("the revision to be refused", failed, 60, 1)
    assert weights["reason"] == "RevisionNotFound", weights  # the mirror's refs tell it from a missing model
    assert "spec.model.revision 'no-such-revision'" in weights["message"] and "entry" not in weights
    on_resource = cluster.condition("inferencedeployment", "broken", ns, "WeightsCached") or {}
    assert (on_resource.get("status"), on_resource.get("reason")) == ("False", "RevisionNotFound"), on_resource
    assert "RevisionNotFound" in {e["reason"] for e in cluster.events(ns, "broken")}
    assert cluster.get("deployment", "broken-vllm", ns) is None  # nothing started that would download
    assert not entries(cluster, ns) and not download_jobs(cluster, ns)


def test_eviction_under_the_budget_removes_only_the_unused_entry(cluster: Cluster, ns: str, s3: str) -> None:
    # An entry nobody uses any more (its resource is deleted), then a new one: 2Gi of entries over a 1Gi budget.
    # Entries whose Job fails at once (an S3 prefix read anonymously: the store refuses it) cost no transfer.
    def refused_s3(name: str) -> dict[str, Any]:
        body = cached(name, ns)
        body["spec"]["model"]["cache"] |= {"source": f"s3://models/{ns}-{name}", "s3Endpoint": s3}
        return body

    cluster.apply(refused_s3("gone"), ns)
    old, _ = wait_for("the first entry to finish", lambda: entry_phase(cluster, ns, "gone"), DOWNLOAD_TIMEOUT, 1)
    cluster.kubectl("delete", "inferencedeployment", "gone", "-n", ns)
    cluster.apply(refused_s3("kept"), ns)
    new, _ = wait_for("the second entry to finish", lambda: entry_phase(cluster, ns, "kept"), DOWNLOAD_TIMEOUT, 1)
    assert new != old
    wait_for(
        "the unused entry to be evicted", lambda: [e["metadata"]["name"] for e in entries(cluster, ns)] == [new], 60, 1
    )
    # The Event is recorded on the evicted entry (kept after it is gone) and on the entry whose reconcile evicted it.
    events = [e for e in cluster.events(ns, "") if e["reason"] == "Evicted"]
    assert events and all(old in e["message"] and new not in e["message"] for e in events), events
    assert all(e["involvedObject"]["kind"] == "WeightCache" for e in events)


def test_an_s3_entry_is_filled_from_the_store_with_signed_requests_and_served(
    cluster: Cluster, ns: str, s3: str
) -> None:
    bucket = "models"  # one bucket (a weed collection: its volumes are made once), a prefix per namespace
    before = s3_store.get_requests(bucket)
    files = s3_store.upload_dir(bucket, ns, Path(engine_paths()["MODEL_DIR"]))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s3-keys", "namespace": ns},
        "stringData": {"AWS_ACCESS_KEY_ID": s3_store.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": s3_store.SECRET_KEY},
    }
    cluster.apply(secret, ns)
    body = cached("from-s3", ns)
    body["spec"]["model"]["cache"] |= {
        "source": f"s3://{bucket}/{ns}",
        "s3Endpoint": s3,
        "s3Credentials": "s3-keys",
    }
    cluster.apply(body, ns)
    entry, phase = wait_for("the entry to finish", lambda: entry_phase(cluster, ns, "from-s3"), DOWNLOAD_TIMEOUT, 1)
    assert phase == "Complete", cluster.status("weightcache", entry, ns)
    gets_by_job = s3_store.get_requests(bucket) - before
    assert gets_by_job == files, (gets_by_job, files)  # each object once (the store refuses unsigned requests)
    wait_for("from-s3 Ready", lambda: ready_replicas(cluster, ns, "from-s3", 1), READY_TIMEOUT, 1)
    (endpoint,) = ready_endpoints(cluster, ns, "from-s3")
    done = completion(endpoint.url, weights_repo(), "From the store", max_tokens=4)
    assert done["choices"][0]["text"], done
    cluster.kubectl("delete", "pod", endpoint.pod, "-n", ns, "--wait=false")
    wait_for(
        "the replacement pod Ready",
        lambda: [e for e in ready_endpoints(cluster, ns, "from-s3") if e.pod != endpoint.pod],
        READY_TIMEOUT,
        1,
    )
    assert s3_store.get_requests(bucket) - before == gets_by_job  # the restart read the entry, not the store
    # An edit to a source the store refuses (a prefix with keys it does not know): a new entry fails with
    # SourceUnreadable, said by a condition and an Event on the resource, and the running pod serves on.
    bad = {**secret, "metadata": {"name": "bad-keys", "namespace": ns}}
    bad["stringData"] = {"AWS_ACCESS_KEY_ID": s3_store.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    cluster.apply(bad, ns)
    serving = cluster.get("deployment", "from-s3-vllm", ns) or {}
    body["spec"]["model"]["cache"] |= {"source": f"s3://{bucket}/{ns}-refused", "s3Credentials": "bad-keys"}
    cluster.apply(body, ns)

    def refused() -> dict[str, Any] | None:
        weights = cluster.status("inferencedeployment", "from-s3", ns).get("weights") or {}
        return weights if weights.get("entry") != entry and weights.get("phase") == "Failed" else None

    weights = wait_for("the refused entry to fail", refused, DOWNLOAD_TIMEOUT, 1)
    assert weights["reason"] == "SourceUnreadable", weights
    condition = cluster.condition("inferencedeployment", "from-s3", ns, "WeightsCached") or {}
    assert (condition.get("status"), condition.get("reason")) == ("False", "SourceUnreadable"), condition
    assert "SourceUnreadable" in {e["reason"] for e in cluster.events(ns, "from-s3")}
    assert (cluster.get("deployment", "from-s3-vllm", ns) or {}).get("spec") == serving.get("spec")
    (endpoint,) = ready_endpoints(cluster, ns, "from-s3")
    done = completion(endpoint.url, weights_repo(), "Still serving", max_tokens=4)
    assert done["choices"][0]["text"], done


def test_without_the_cache_each_pod_start_fetches_the_model(cluster: Cluster, ns: str) -> None:
    """The baseline the cache is measured against, and proof the mirror's counter sees a serving pod's fetch."""
    hub_before = len(hub_access_log())
    started = time.monotonic()
    cluster.apply(tiny_llama("uncached", ns, extra_args=("--enforce-eager",), repo=weights_repo()), ns)
    wait_for("uncached Ready", lambda: ready_replicas(cluster, ns, "uncached", 1), READY_TIMEOUT, 1)
    took = time.monotonic() - started
    fetched = resolve_bytes(hub_before)
    assert fetched > 0
    assert not entries(cluster, ns) and not download_jobs(cluster, ns)
    print(f"weight cache: without it, one pod start fetched {fetched} bytes; created to Ready {took:.1f}s")


def test_weights_larger_than_the_cache_size_fail_the_entry_with_volume_full(cluster: Cluster, ns: str) -> None:
    """spec.model.cache.size 1Mi for the 2.9 MB model: the download Job stops before its first byte, on the claim's
    requested size (a test bed PV is a host directory: its free space is the host's, so that check is not what
    fails here). No serving pod starts; the resource says why, naming the field."""
    body = cached("too-small", ns)
    body["spec"]["model"]["cache"]["size"] = "1Mi"
    hub_before = len(hub_access_log())
    cluster.apply(body, ns)
    entry, phase = wait_for("the entry to fail", lambda: entry_phase(cluster, ns, "too-small"), DOWNLOAD_TIMEOUT, 1)
    assert phase == "Failed", cluster.status("weightcache", entry, ns)
    weights = cluster.status("inferencedeployment", "too-small", ns)["weights"]
    assert weights["reason"] == "VolumeFull" and "spec.model.cache.size" in weights["message"], weights
    condition = cluster.condition("inferencedeployment", "too-small", ns, "WeightsCached") or {}
    assert (condition.get("status"), condition.get("reason")) == ("False", "VolumeFull"), condition
    assert "raise spec.model.cache.size (now 1Mi)" in condition["message"], condition
    assert "\n" not in condition["message"], condition
    on_entry = cluster.condition("weightcache", entry, ns, "Complete") or {}
    assert (on_entry.get("status"), on_entry.get("reason")) == ("False", "VolumeFull"), on_entry
    assert "VolumeFull" in {e["reason"] for e in cluster.events(ns, "too-small")}
    assert cluster.get("deployment", "too-small-vllm", ns) is None
    assert resolve_bytes(hub_before) == 0  # refused on the total the Hub's HEADs gave, before any file
