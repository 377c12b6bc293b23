"""The plan of a resource served from a quantization build (issue 16 §2): unquantized meanwhile, the checkpoint
once built, the unquantized model again (or nothing) when the build failed; a newer checkpoint replaces an older
one only once it is built."""

from __future__ import annotations

from inference_operator.api.engine_build import BuildPhase
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.controller.plan import Action, Mode, plan_serving
from tests.support.quantization import calibrated, calibrated_body
from tests.unit.controller.test_plan import TRT, VLLM, build, dep

ON_VLLM = calibrated("m", "vllm")
ON_TRT = calibrated("m", "tensorrt-llm")


def test_vllm_serves_unquantized_while_the_build_runs() -> None:
    p = plan_serving(ON_VLLM, VLLM, build(BuildPhase.BUILDING), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.trtllm, p.vllm_build, p.route, p.mode) == (Action.APPLY, Action.DELETE, None, VLLM, Mode.INTERIM)


def test_vllm_rolls_onto_the_checkpoint_once_built() -> None:
    p = plan_serving(ON_VLLM, VLLM, build(BuildPhase.SUCCEEDED), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.vllm_build, p.route, p.mode) == (Action.APPLY, "eb-new", VLLM, Mode.DIRECT)


def test_a_failed_build_leaves_vllm_unquantized_with_the_reason_or_nothing_without_fallback() -> None:
    p = plan_serving(ON_VLLM, VLLM, build(BuildPhase.FAILED), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.vllm_build, p.mode) == (Action.APPLY, None, Mode.FALLBACK)
    assert p.detail == "the build eb-new failed: boom"
    body = calibrated_body("m", "vllm")
    body["spec"]["engine"]["fallback"] = "none"
    strict = InferenceDeployment.model_validate(body)
    p = plan_serving(strict, VLLM, build(BuildPhase.FAILED), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.trtllm, p.mode) == (Action.DELETE, Action.DELETE, Mode.UNAVAILABLE)


def test_an_older_checkpoint_keeps_serving_until_the_new_one_is_built() -> None:
    p = plan_serving(ON_VLLM, VLLM, build(BuildPhase.BUILDING), {VLLM: dep(True, "eb-old"), TRT: None}, None)
    assert (p.vllm, p.vllm_build, p.mode) == (Action.KEEP, "eb-old", Mode.OLD_ENGINE)


def test_trtllm_pytorch_bridges_with_vllm_then_serves_the_checkpoint() -> None:
    p = plan_serving(ON_TRT, TRT, build(BuildPhase.BUILDING), {VLLM: None, TRT: None}, None)
    assert (p.vllm, p.trtllm, p.route, p.mode) == (Action.APPLY, Action.DELETE, VLLM, Mode.INTERIM)
    p = plan_serving(ON_TRT, TRT, build(BuildPhase.SUCCEEDED), {VLLM: dep(True), TRT: dep(False, "eb-new")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.APPLY, Action.APPLY, "eb-new", VLLM)
    p = plan_serving(ON_TRT, TRT, build(BuildPhase.SUCCEEDED), {VLLM: dep(True), TRT: dep(True, "eb-new")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.DELETE, Action.APPLY, "eb-new", TRT)
    p = plan_serving(ON_TRT, TRT, build(BuildPhase.FAILED), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.route, p.mode) == (Action.APPLY, VLLM, Mode.FALLBACK)
