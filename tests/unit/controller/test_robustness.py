"""Whatever the API admits, the operator can render, price, report and send back without crashing or looping.

The generated specs come from the CRD's own schema (tests/support/fuzz_specs.py, a fixed seed); the e2e counterpart is
tests/e2e/test_bad_input.py.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pydantic
import pytest
import yaml

from inference_operator.advisor.engine_choice import choose_engine, trtllm_blocker
from inference_operator.api.errors import InvalidSpec
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.api.validation import format_validation_error
from inference_operator.controller.inference_deployment.lifecycle import converged_objects as render_all
from inference_operator.controller.inference_deployment.status import StatusInputs, compute_status
from inference_operator.controller.plan import plan_serving
from inference_operator.kube.client import apply_patch_body
from inference_operator.kube.errors import KubeError
from inference_operator.render.common import endpoint
from inference_operator.render.engine_build import EngineKeyError
from tests.support.fuzz_specs import body, crd_spec_schema, generated_specs, json_schema
from tests.support.samples import sample_body

SETTINGS = OperatorSettings()
NOW = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "ünïcødé 模型",
        "🚀 beyond the basic plane \U0010ffff",
        "\\ud83d written out by hand",
        "\\\\🚀 after escaped backslashes \\",
        "del \x7f and controls \x00\x1b and separators \u2028\u2029\x85 and a BOM \ufeff",
    ],
)
def test_apply_patch_body_reads_back_unchanged_as_yaml(text: str) -> None:
    """The API server parses apply patches as YAML; JSON's surrogate pairs and a raw DEL break that parser."""
    obj = {"metadata": {"name": "x"}, "spec": {"args": [text], "nested": {text: text}}}
    encoded = apply_patch_body(obj)
    assert encoded.isascii()
    assert yaml.safe_load(encoded.decode()) == obj


def test_apply_patch_body_refuses_nan() -> None:
    with pytest.raises(ValueError):
        apply_patch_body({"x": float("inf")})


@pytest.mark.parametrize(
    ("status", "message", "rejected", "transient"),
    [
        (422, "Deployment.apps x is invalid", True, False),
        (400, "error decoding YAML", True, False),
        (500, "failed to create typed patch object (ns/x; apps/v1, Kind=Deployment): duplicate entries", True, False),
        (500, "failed to convert new object (ns/x; apps/v1, Kind=Deployment) to proper version", True, False),
        (500, "etcdserver: request timed out", False, True),
        (503, "the server is currently unable to handle the request", False, True),
        (409, "the object has been modified", False, True),
        (0, "connection refused", False, True),
        (403, "forbidden", False, False),
    ],
)
def test_kube_errors_say_whether_a_retry_can_help(status: int, message: str, rejected: bool, transient: bool) -> None:
    error = KubeError(status, "", message)
    assert (error.rejected, error.transient) == (rejected, transient)


# Values a Deployment would refuse, refused by the resource's own schema: pydantic, and the CRD's JSON schema
# or (last column False) the API server's own checks of it (a list keyed by name, CEL rules).
REFUSED: list[tuple[dict[str, Any], str, bool]] = [
    ({"resources": {"cpu": "lots"}}, "spec.resources.cpu: must be a quantity such as 4, 500m or 16Gi", True),
    ({"resources": {"memory": -1}}, "spec.resources.memory: must be >= 0", True),
    ({"resources": {"shmSize": "-8Gi"}}, "spec.resources.shmSize: must be a quantity", True),
    ({"serving": {"rollout": {"maxSurge": 10_000_000_001}}}, "maxSurge: must be <= 2147483647", True),
    (
        {"serving": {"rollout": {"maxUnavailable": "many"}}},
        "maxUnavailable: must be a whole number or a percentage",
        True,
    ),
    (
        {"engine": {"vllm": {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}}},
        "spec.engine.vllm.env: value error, A is listed twice",
        False,
    ),
    (
        {"engine": {"tensorrtLLM": {"env": [{"name": "HF_TOKEN", "value": "hf_literal"}]}}},
        "HF_TOKEN and HUGGING_FACE_HUB_TOKEN must come from a Secret",
        False,
    ),
    ({"cost": {"gpuHourlyPrice": 1e308}}, "spec.cost.gpuHourlyPrice: must be <= 10000", True),
]


@pytest.mark.parametrize(("patch", "expected", "in_json_schema"), REFUSED)
def test_values_a_child_would_refuse_are_refused_by_the_resource(
    patch: dict[str, Any], expected: str, in_json_schema: bool
) -> None:
    obj = sample_body("small-model")
    obj["spec"] = {**obj["spec"], **patch}
    with pytest.raises(pydantic.ValidationError) as caught:
        InferenceDeployment.model_validate(obj)
    assert expected in format_validation_error(caught.value)
    crd = jsonschema.Draft202012Validator(json_schema(crd_spec_schema()))
    assert bool(list(crd.iter_errors(obj["spec"]))) is in_json_schema


def status_of(infd: InferenceDeployment) -> dict[str, Any]:
    """The status of a first reconcile (nothing observed yet), as reconcile computes it."""
    choice = choose_engine(infd, SETTINGS.decision)
    blocker = trtllm_blocker(infd) if choice.selected is Engine.TENSORRT_LLM else None
    plan = plan_serving(infd, choice.selected, None, {e: None for e in Engine}, blocker)
    obs = StatusInputs(plan, {e: None for e in Engine}, None, None, endpoint(infd), choice.status)
    return compute_status(infd, obs, {}, NOW)


def test_generated_specs_render_price_and_serialize() -> None:
    """Specs from the CRD's schema: the operator's pure path never raises and writes only finite JSON."""
    checked = 0
    for index, spec in enumerate(generated_specs(valid=150, corrupted=0, seed=7)):
        obj = body(f"r{index}", spec)
        obj["metadata"].update(namespace="ns", uid="u", generation=1)
        try:
            infd = InferenceDeployment.model_validate(obj)
        except pydantic.ValidationError:
            continue  # the operator reports it as InvalidSpec
        try:
            objects = render_all(infd, SETTINGS)
        except EngineKeyError as exc:  # reconcile reports it as InvalidSpec too
            assert "gpuProduct" in str(exc)
            continue
        except InvalidSpec as exc:  # a replica that cannot be split over nodes (render/multinode.py), or a
            # quantization the selected engine cannot serve (controller/inference_deployment/desired.py)
            assert str(exc).startswith(("spec.parallelism", "spec.multiNode", "spec.precision")), exc
            continue
        for rendered in objects:
            apply_patch_body(rendered)
        json.dumps(status_of(infd), allow_nan=False)
        checked += 1
    assert checked >= 100
