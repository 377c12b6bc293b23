"""Hundreds of generated and hand-written hostile resources against the real API server and the session operator.

Each body is either rejected by the API server with a message naming a field, or accepted and then explained
by the operator: status.phase set and a Ready condition with a reason and a message for the current
generation. The operator must neither exit nor log a traceback. Reproducible: a fixed hypothesis seed.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import namespace_name
from tests.support.cluster import Cluster, wait_for
from tests.support.fuzz_specs import body, generated_specs, nasty_bodies
from tests.support.operator_process import OperatorProcess
from tests.support.samples import SAMPLES_DIR

GROUP, VERSION, PLURAL = "inference-operator.dev", "v1alpha1", "inferencedeployments"
GENERATED_VALID = 330
GENERATED_CORRUPTED = 200
BATCH_SIZE = 90  # bodies per namespace: bounds what the shared test bed holds at once
APPLY_WORKERS = 8
EXPLAIN_DEADLINE_S = 240.0
# Every body asks for this node label, which no node has: its pods stay Pending (an explained state) and never
# take a GPU or a pod slot from the tests running beside this one on the shared test bed.
NOWHERE = {"testbed.inference-operator.dev/pool": "bad-input-nowhere"}
FIELD_WORDS = ("spec", "metadata", "field", "name")


@dataclass
class Tally:
    tried: int = 0
    rejected: int = 0
    explained: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    unclear_rejections: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)


def pinned_nowhere(obj: dict[str, Any]) -> dict[str, Any]:
    """The body with NOWHERE merged into spec.resources.nodeSelector, where the shape allows it."""
    spec = obj.get("spec")
    if isinstance(spec, dict):
        resources = spec.setdefault("resources", {})
        if isinstance(resources, dict):
            selector = resources.setdefault("nodeSelector", {})
            if isinstance(selector, dict):
                selector.update(NOWHERE)
    return obj


def cases() -> list[tuple[str, dict[str, Any]]]:
    """(label, body) for every resource of the run; names are unique within a batch namespace."""
    out: list[tuple[str, dict[str, Any]]] = []
    for index, spec in enumerate(generated_specs(GENERATED_VALID, GENERATED_CORRUPTED)):
        out.append((f"generated-{index}", body(f"gen-{index}", spec)))
    for index, (label, obj) in enumerate(nasty_bodies()):
        obj["metadata"]["name"] = obj["metadata"]["name"] or f"nasty-{index}"
        out.append((label, obj))
    return [(label, pinned_nowhere(obj)) for label, obj in out]


class Api:
    """The custom-objects API, one client per worker thread (the generated client is not thread-safe)."""

    def __init__(self, cluster: Cluster) -> None:
        self.kubeconfig = str(cluster.kubeconfig)
        self.local = threading.local()
        self.clients: list[Any] = []
        self.lock = threading.Lock()

    def _api(self) -> Any:
        if not hasattr(self.local, "api"):
            api_client = kubernetes.config.new_client_from_config(config_file=self.kubeconfig)  # type: ignore[no-untyped-call]
            with self.lock:
                self.clients.append(api_client)
            self.local.api = kubernetes.client.CustomObjectsApi(api_client)
        return self.local.api

    def create(self, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self._api().create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, obj, field_validation="Strict", _request_timeout=60
        )
        return created

    def list(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._api().list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)[
            "items"
        ]
        return items

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._api().get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return found

    def close(self) -> None:
        for api_client in self.clients:
            api_client.close()


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[Api]:
    client = Api(cluster)
    yield client
    client.close()


def rejection_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or "")
    except ValueError:
        return str(exc.body or exc.reason or "")


def create(api: Api, namespace: str, label: str, obj: dict[str, Any]) -> tuple[str, str | None, str]:
    """(label, name if the API server accepted it, its rejection message otherwise)."""
    try:
        created = api.create(namespace, obj)
    except ApiException as exc:
        return label, None, rejection_message(exc)
    return label, str(created["metadata"]["name"]), ""


def explanation(obj: dict[str, Any]) -> str | None:
    """The Ready condition's reason when the status explains the current generation, else None."""
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation")
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if not status.get("phase") or ready is None or status.get("observedGeneration") != generation:
        return None
    if not ready.get("reason") or not ready.get("message"):
        return None
    return f"{status['phase']}/{ready['reason']}"


def run_batch(cluster: Cluster, api: Api, batch: list[tuple[str, dict[str, Any]]], tally: Tally) -> None:
    namespace = namespace_name("bad-input")
    cluster.kubectl("create", "namespace", namespace)
    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(APPLY_WORKERS) as pool:
            results = list(pool.map(lambda case: create(api, namespace, *case), batch))
        tally.tried += len(results)
        accepted: dict[str, str] = {}
        for label, name, message in results:
            if name is not None:
                accepted[name] = label
                continue
            tally.rejected += 1
            if not message.strip() or not any(word in message for word in FIELD_WORDS):
                tally.unclear_rejections.append(f"{label}: {message[:200]!r}")
        waiting = dict(accepted)
        deadline = time.monotonic() + EXPLAIN_DEADLINE_S
        while waiting and time.monotonic() < deadline:
            items = api.list(namespace)
            for item in items:
                name = item["metadata"]["name"]
                found = explanation(item) if name in waiting else None
                if found:
                    tally.explained += 1
                    tally.reasons[found] += 1
                    del waiting[name]
            if waiting:
                time.sleep(1)  # a poll interval: the loop itself is bounded by the deadline above
        print(f"batch of {len(batch)}: {len(accepted)} accepted, explained in {time.monotonic() - started:.0f}s")
        for name, label in waiting.items():
            obj = api.get(namespace, name)
            tally.unexplained.append(
                f"{label} ({name}): spec={json.dumps(obj.get('spec'))[:300]} "
                f"status={json.dumps(obj.get('status'))[:300]}"
            )
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_generated_and_hostile_resources_are_rejected_or_explained(
    cluster: Cluster, operator: OperatorProcess, api: Api
) -> None:
    started = time.monotonic()
    tracebacks_before = operator.log().count("Traceback")
    all_cases = cases()
    tally = Tally()
    for first in range(0, len(all_cases), BATCH_SIZE):
        run_batch(cluster, api, all_cases[first : first + BATCH_SIZE], tally)
    alive = operator.proc is not None and operator.proc.poll() is None
    tracebacks = operator.log().count("Traceback") - tracebacks_before
    crashes = 0 if alive else 1
    print(
        f"\nbad input: tried {tally.tried}, rejected by the API server {tally.rejected}, explained by the operator "
        f"{tally.explained}, unexplained {len(tally.unexplained)}, crashes {crashes}, tracebacks {tracebacks} "
        f"({time.monotonic() - started:.0f}s)\nexplained as: {dict(tally.reasons.most_common())}"
    )
    assert tally.tried >= 500
    assert alive, f"the operator exited:\n{operator.log()[-3000:]}"
    assert tracebacks == 0, f"the operator logged {tracebacks} tracebacks:\n{operator.log()[-6000:]}"
    assert not tally.unclear_rejections, "rejections that name no field:\n" + "\n".join(tally.unclear_rejections)
    assert not tally.unexplained, "accepted but never explained:\n" + "\n".join(tally.unexplained[:20])
    assert tally.rejected + tally.explained == tally.tried


# --- precision.dtype float32 with a quantization (issue 13): vLLM would refuse to start, so the API server does ---

FLOAT32_MESSAGE = "spec.precision.dtype must be auto, float16 or bfloat16 when spec.precision.quantization is set"


def small_model(**precision: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / "small-model.yaml").read_text())
    if precision:
        obj["spec"]["precision"] = dict(precision)
    return obj


@pytest.mark.parametrize("quantization", ["fp8", "int4-awq", "int4-gptq"])
def test_float32_with_a_quantization_is_refused_by_the_api_server(
    cluster: Cluster, namespace: str, quantization: str
) -> None:
    proc = cluster.apply(small_model(dtype="float32", quantization=quantization), namespace, check=False)
    assert proc.returncode != 0
    assert FLOAT32_MESSAGE in proc.stderr, proc.stderr
    assert cluster.get("infd", "qwen-small", namespace) is None


def test_float32_without_quantization_is_accepted(cluster: Cluster, namespace: str) -> None:
    cluster.apply(small_model(dtype="float32", quantization="none"), namespace)
    assert cluster.get("infd", "qwen-small", namespace) is not None


def ready_status(cluster: Cluster, name: str, namespace: str) -> dict[str, Any] | None:
    status = cluster.status("infd", name, namespace)
    return status if status.get("phase") == "Ready" else None


def serving_small_model(cluster: Cluster, namespace: str) -> tuple[str, dict[str, Any]]:
    """small_model() applied and Ready (on kwok pods): its name and its Deployment as it serves."""
    good = small_model()
    name = good["metadata"]["name"]
    cluster.apply(good, namespace)
    wait_for("Ready", lambda: ready_status(cluster, name, namespace))
    before = cluster.get("deployment", f"{name}-vllm", namespace)
    assert before is not None
    return name, before


def test_a_refused_float32_edit_leaves_the_deployment_serving(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    name, before = serving_small_model(cluster, namespace)
    generation = cluster.get("infd", name, namespace)["metadata"]["generation"]  # type: ignore[index]

    proc = cluster.apply(small_model(dtype="float32", quantization="fp8"), namespace, check=False)
    assert proc.returncode != 0 and FLOAT32_MESSAGE in proc.stderr, proc.stderr

    stored = cluster.get("infd", name, namespace)
    assert stored is not None and stored["metadata"]["generation"] == generation
    assert stored["spec"].get("precision", {}).get("dtype") != "float32"
    assert ready_status(cluster, name, namespace)
    after = cluster.get("deployment", f"{name}-vllm", namespace)
    assert after is not None and after["status"].get("readyReplicas") == 1
    assert after["spec"]["template"] == before["spec"]["template"]


# --- spec.model.cache.source with an unknown scheme (issue 15): the operator refuses it, naming the field ---

CACHE_SOURCE_FIELD = "spec.model.cache.source"


def with_cache_source(source: str, name: str | None = None) -> dict[str, Any]:
    obj = small_model()
    obj["spec"]["model"]["cache"] = {"enabled": True, "source": source}
    if name is not None:
        obj["metadata"]["name"] = name
    return obj


def refusal(cluster: Cluster, name: str, namespace: str) -> dict[str, Any] | None:
    """The Ready condition once it refuses the resource's current generation as an invalid spec."""
    stored = cluster.get("infd", name, namespace) or {}
    ready = cluster.condition("infd", name, namespace, "Ready") or {}
    current = ready.get("observedGeneration") == stored.get("metadata", {}).get("generation")
    return ready if current and ready.get("reason") == "InvalidSpec" else None


def test_an_unknown_cache_scheme_is_refused_naming_the_field_and_an_edit_to_one_leaves_the_deployment_serving(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    # A new resource with such a source: refused in one line naming the field; no entry, no Deployment.
    cluster.apply(with_cache_source("ftp://mirror.example/qwen", name="bad-scheme"), namespace)
    refused = wait_for("the new resource refused", lambda: refusal(cluster, "bad-scheme", namespace))
    assert refused["status"] == "False", refused
    assert refused["message"].startswith(CACHE_SOURCE_FIELD) and "ftp://" in refused["message"], refused
    assert "\n" not in refused["message"]
    assert "InvalidSpec" in {e["reason"] for e in cluster.events(namespace, "bad-scheme")}
    assert cluster.get("deployment", "bad-scheme-vllm", namespace) is None
    assert not cluster.items("weightcaches.inference-operator.dev", namespace)

    # A running resource (kwok pods) edited to such a source: refused the same way, and what runs runs on.
    name, before = serving_small_model(cluster, namespace)
    cluster.apply(with_cache_source("gs://bucket/qwen"), namespace)
    refused = wait_for("the edit refused", lambda: refusal(cluster, name, namespace))
    assert refused["message"].startswith(CACHE_SOURCE_FIELD) and "\n" not in refused["message"], refused
    after = cluster.get("deployment", f"{name}-vllm", namespace)
    assert after is not None and after["spec"]["template"] == before["spec"]["template"]
    assert after["status"].get("readyReplicas") == 1
    assert not cluster.items("weightcaches.inference-operator.dev", namespace)
    # The edit undone: Ready again, on the same pods' template.
    cluster.apply(small_model(), namespace)
    wait_for("Ready again", lambda: ready_status(cluster, name, namespace))
    again = cluster.get("deployment", f"{name}-vllm", namespace)
    assert again is not None and again["spec"]["template"] == before["spec"]["template"]
