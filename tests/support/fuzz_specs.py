"""InferenceDeployment bodies generated from the CRD's own OpenAPI schema, valid and corrupted, reproducibly.

The CRD schema is OpenAPI 3.0 with Kubernetes extensions; hypothesis-jsonschema reads JSON Schema (draft
2020-12), so `json_schema()` converts it: boolean `exclusiveMinimum` becomes the numeric form, int-or-string
becomes `anyOf`, `x-kubernetes-*` goes, and objects with listed properties refuse others (as the API server
does with strict field validation). CEL rules are not JSON Schema: generated bodies may break them, and then
the API server rejects them, which is one of the outcomes the tests expect.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis
import yaml
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants
from hypothesis_jsonschema import from_schema

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "inference-operator.dev_inferencedeployments.yaml"
API_VERSION = "inference-operator.dev/v1alpha1"
KIND = "InferenceDeployment"
# Generated bodies keep to at most this many serving replicas, so hundreds of them stay a light load on the
# shared test bed (a GPU ask no node has is fine: it is an explained Pending state, and costs one pod).
MAX_REPLICAS = 1

Json = Any
NO_LOCAL_CONSTANTS = Constants()


def crd_spec_schema() -> dict[str, Any]:
    """The OpenAPI schema of `.spec`, as written in crds/."""
    crd = yaml.safe_load(CRD.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def json_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 (Kubernetes structural) schema as JSON Schema 2020-12, walked structurally."""
    out: dict[str, Any] = {}
    for key, value in openapi.items():
        if key.startswith("x-kubernetes-") or key in ("description", "default", "nullable"):
            continue
        if key == "properties":
            out[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = json_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [json_schema(sub) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if out.get(bound) is True:
            out[bound] = out.pop(limit)
        elif out.get(bound) is False:
            del out[bound]
    if openapi.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if openapi.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def generation_schema() -> dict[str, Any]:
    """The spec schema to generate from: the CRD's, with replicas capped (see MAX_REPLICAS)."""
    schema = json_schema(crd_spec_schema())
    schema["properties"]["replicas"]["maximum"] = MAX_REPLICAS
    return schema


def body(name: str, spec: Json) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}


# Corruptions of one value somewhere in a valid spec: each breaks a type, a bound, a pattern or the shape.
HUGE = "x" * (256 * 1024)
_REPLACEMENTS: tuple[Json, ...] = (
    None,
    -1,
    0,
    2**63,
    -(2**63),
    1.5,
    "",
    " ",
    "\u202e\u0000\ufeff",
    "ünïcødé 🚀 模型",
    HUGE,
    [],
    {},
    {"unknownField": True},
    [[[[[[[[[[["deep"]]]]]]]]]]],
    True,
    "${HF_TOKEN}",
    "$(rm -rf /)",
)


def _paths(value: Json, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _paths(sub, (*prefix, index))
    return found


def _set(value: Json, path: tuple[str | int, ...], new: Json) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


@st.composite
def corrupted_specs(draw: st.DrawFn, valid: st.SearchStrategy[Json]) -> Json:
    """A valid spec with one value replaced by a hostile one, or one unknown field added somewhere."""
    spec = copy.deepcopy(draw(valid))
    paths = _paths(spec)
    if not paths or draw(st.integers(0, 9)) == 0:
        objects = [p for p in [(), *paths] if isinstance(_get(spec, p), dict)]
        where = draw(st.sampled_from(objects))
        _get(spec, where)[draw(st.sampled_from(["modle", "gpus", "Replicas", "extra"]))] = draw(
            st.sampled_from(_REPLACEMENTS)
        )
        return spec
    _set(spec, draw(st.sampled_from(paths)), draw(st.sampled_from(_REPLACEMENTS)))
    return spec


def _get(value: Json, path: tuple[str | int, ...]) -> Json:
    for step in path:
        value = value[step]
    return value


def collect(strategy: st.SearchStrategy[Json], count: int, seed: int) -> list[Json]:
    """`count` examples of a strategy, the same ones on every run (a fixed seed, no example database)."""
    examples: list[Json] = []
    if count <= 0:
        return examples

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        deadline=None,
    )
    @hypothesis.given(strategy)
    def gather(example: Json) -> None:
        examples.append(copy.deepcopy(example))

    # Hypothesis also draws constants it finds in the project's own modules that happen to be imported (its
    # "local constants"), so the same seed gave other examples under pytest than alone. Without them it does not.
    with mock.patch.object(providers, "_get_local_constants", lambda: NO_LOCAL_CONSTANTS):
        providers.CONSTANTS_CACHE.cache.clear()
        try:
            gather()
        finally:
            providers.CONSTANTS_CACHE.cache.clear()
    return examples


def generated_specs(valid: int, corrupted: int, seed: int = 20240909) -> list[Json]:
    """`valid` specs from the schema and `corrupted` ones, deterministic for a given seed."""
    strategy = from_schema(generation_schema())
    return collect(strategy, valid, seed) + collect(corrupted_specs(strategy), corrupted, seed + 1)


def nasty_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Hand-written hostile resources: (label, body); an empty metadata.name is the caller's to fill in."""
    model = {"name": "Qwen/Qwen2.5-0.5B-Instruct"}
    cases: list[tuple[str, Json]] = [
        ("huge-model-name", {"model": {"name": "a" * (1024 * 1024)}}),
        ("huge-extra-args", {"model": model, "engine": {"vllm": {"extraArgs": ["--x=" + "y" * 5000] * 70}}}),
        ("unicode-model", {"model": {"name": "模型/ünïcødé-🚀"}}),
        ("rtl-served-name", {"model": {**model, "servedModelName": "\u202egnp.exe"}}),
        ("nul-in-arg", {"model": model, "engine": {"vllm": {"extraArgs": ["--a\u0000b"]}}}),
        (
            "zero-gpus-trt",
            {"model": model, "engine": {"preference": "tensorrt-llm"}, "resources": {"gpusPerReplica": 0}},
        ),
        ("negative-gpus", {"model": model, "resources": {"gpusPerReplica": -1}}),
        ("huge-gpus", {"model": model, "resources": {"gpusPerReplica": 10**9}}),
        ("huge-tensor", {"model": model, "parallelism": {"tensor": 64, "pipeline": 64}}),
        (
            "tensor-64",
            {"model": model, "parallelism": {"tensor": 64}, "resources": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"}},
        ),
        ("gpus-not-tp", {"model": model, "parallelism": {"tensor": 2}, "resources": {"gpusPerReplica": 3}}),
        ("unknown-engine", {"model": model, "engine": {"preference": "sglang"}}),
        ("trt-no-product", {"model": model, "engine": {"preference": "tensorrt-llm"}}),
        ("cpu-tensor-parallel", {"model": model, "resources": {"gpusPerReplica": 0}, "parallelism": {"tensor": 2}}),
        ("input-above-seq", {"model": model, "engine": {"tensorrtLLM": {"maxInputLen": 9000, "maxSeqLen": 8192}}}),
        ("null-model", {"model": None}),
        ("null-spec-fields", {"model": model, "engine": None, "serving": None, "monitoring": None, "cost": None}),
        ("model-is-list", {"model": ["a", "b"]}),
        ("model-is-string", {"model": "Qwen/Qwen2.5-0.5B-Instruct"}),
        ("deep-junk", {"model": model, "engine": {"vllm": {"env": [{"name": "A", "value": {"a": {"b": {"c": 1}}}}]}}}),
        ("deep-nesting", {"model": model, "junk": _deep(60)}),
        ("replicas-huge", {"model": model, "replicas": 10**12}),
        ("replicas-negative", {"model": model, "replicas": -5}),
        ("replicas-float", {"model": model, "replicas": 1.5}),
        ("replicas-string", {"model": model, "replicas": "one"}),
        ("port-privileged", {"model": model, "serving": {"port": 80}}),
        ("bad-quantity-cpu", {"model": model, "resources": {"cpu": "lots"}}),
        ("negative-memory", {"model": model, "resources": {"memory": "-8Gi"}}),
        ("huge-shm", {"model": model, "resources": {"shmSize": "999999999999Ei"}}),
        ("bad-max-surge", {"model": model, "serving": {"rollout": {"maxSurge": "many"}}}),
        ("bad-node-selector", {"model": model, "resources": {"nodeSelector": {"not a label!": "x y"}}}),
        (
            "toleration-seconds-noschedule",
            {
                "model": model,
                "resources": {
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]
                },
            },
        ),
        (
            "toleration-value-with-exists",
            {"model": model, "resources": {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}},
        ),
        (
            "env-both-value-and-ref",
            {
                "model": model,
                "engine": {
                    "vllm": {
                        "env": [{"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
                    }
                },
            },
        ),
        ("env-empty-ref", {"model": model, "engine": {"vllm": {"env": [{"name": "A", "valueFrom": {}}]}}}),
        (
            "env-dup-names",
            {"model": model, "engine": {"vllm": {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}}},
        ),
        ("image-with-spaces", {"model": model, "engine": {"vllm": {"image": "not an image ref"}}}),
        (
            "trt-unknown-arch",
            {
                "model": {**model, "architecture": "NoSuchForCausalLM"},
                "engine": {"preference": "tensorrt-llm"},
                "resources": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
            },
        ),
        (
            "trt-unsupported-no-fallback",
            {
                "model": {**model, "architecture": "MambaForCausalLM"},
                "engine": {"preference": "tensorrt-llm", "fallback": "none"},
                "resources": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
            },
        ),
        (
            "auto-huge-volume",
            {"model": model, "engine": {"preference": "auto"}, "workload": {"tokensPerMonth": 10**15, "stable": True}},
        ),
        (
            "auto-no-product",
            {
                "model": model,
                "engine": {"preference": "auto"},
                "workload": {"tokensPerMonth": 10**12, "profile": "batch"},
            },
        ),
        ("gpu-product-nowhere", {"model": model, "resources": {"gpuProduct": "NVIDIA-B200"}}),
        ("credentials-missing-secret", {"model": {**model, "credentials": {"name": "no-such-secret"}}}),
        ("probe-zero-period", {"model": model, "serving": {"probes": {"startup": {"periodSeconds": 0}}}}),
        ("interval-junk", {"model": model, "monitoring": {"interval": "soon"}}),
        ("cost-negative", {"model": model, "cost": {"gpuHourlyPrice": -1}}),
        ("params-zero", {"model": {**model, "parametersBillions": 0}}),
        ("params-nan-string", {"model": {**model, "parametersBillions": "NaN"}}),
    ]
    out = [(label, body("", copy.deepcopy(spec))) for label, spec in cases]
    for label, meta in (
        ("name-too-long", {"name": "a" * 60}),
        ("name-uppercase", {"name": "Upper-Case"}),
        ("name-leading-digit", {"name": "1model"}),
        ("labels-huge", {"name": "", "labels": {"a": "b" * 100}}),
    ):
        out.append((label, {**body("", {"model": model}), "metadata": meta}))
    out.append(("spec-null", body("", None)))
    out.append(("spec-list", body("", [1, 2, 3])))
    out.append(("no-spec", {k: v for k, v in body("", {}).items() if k != "spec"}))
    return out


def _deep(levels: int) -> Json:
    value: Json = "bottom"
    for _ in range(levels):
        value = {"d": value}
    return value
