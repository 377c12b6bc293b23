"""Which Deployments exist and where the Service routes, through every engine transition."""

from __future__ import annotations

from typing import Any

from inference_operator.api.engine_build import BuildPhase
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.controller.facts import BuildFacts, DeploymentFacts
from inference_operator.controller.plan import Action, Mode, plan_serving
from tests.support.samples import TEST_NAMESPACE, TEST_UID

VLLM, TRT = Engine.VLLM, Engine.TENSORRT_LLM


def infd(**engine: Any) -> InferenceDeployment:
    return _infd("RollingUpdate", engine)


def recreate(**engine: Any) -> InferenceDeployment:
    """A resource whose Deployments use the Recreate strategy (the 70B TensorRT-LLM sample's)."""
    return _infd("Recreate", engine)


def _infd(strategy: str, engine: dict[str, Any]) -> InferenceDeployment:
    return InferenceDeployment.model_validate(
        {
            "apiVersion": "inference-operator.dev/v1alpha1",
            "kind": "InferenceDeployment",
            "metadata": {"name": "m", "namespace": TEST_NAMESPACE, "uid": TEST_UID},
            "spec": {
                "model": {"name": "meta-llama/Llama-3.1-8B-Instruct"},
                "engine": {"preference": "tensorrt-llm", **engine},
                "resources": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
                "serving": {"rollout": {"strategy": strategy}},
            },
        }
    )


def dep(ready: bool, build: str | None = None, rolled_out: bool | None = None) -> DeploymentFacts:
    done = ready if rolled_out is None else rolled_out
    return DeploymentFacts(
        name="d",
        generation=2,
        observed_generation=2 if done else 1,
        desired=1,
        replicas=1,
        ready=1 if ready else 0,
        updated=1 if done else 0,
        available=1 if ready else 0,
        engine_build=build,
        progress_deadline_exceeded=False,
    )


def build(phase: BuildPhase, name: str = "eb-new") -> BuildFacts:
    return BuildFacts(name=name, phase=phase, message="boom" if phase is BuildPhase.FAILED else "")


def test_vllm_only() -> None:
    p = plan_serving(infd(preference="vllm"), VLLM, None, {VLLM: None, TRT: None}, None)
    assert (p.vllm, p.trtllm, p.route, p.mode) == (Action.APPLY, Action.DELETE, VLLM, Mode.DIRECT)


def test_vllm_serves_while_the_engine_compiles() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.BUILDING), {VLLM: None, TRT: None}, None)
    assert (p.vllm, p.trtllm, p.route, p.mode) == (Action.APPLY, Action.DELETE, VLLM, Mode.INTERIM)


def test_no_interim_server_when_opted_out() -> None:
    p = plan_serving(infd(serveWhileBuilding=False), TRT, build(BuildPhase.BUILDING), {VLLM: None, TRT: None}, None)
    assert (p.vllm, p.trtllm) == (Action.DELETE, Action.DELETE)


def test_built_engine_rolls_out_while_vllm_keeps_serving() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: dep(True), TRT: dep(False, "eb-new")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.APPLY, Action.APPLY, "eb-new", VLLM)


def test_cut_over_once_tensorrt_llm_is_ready() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: dep(True), TRT: dep(True, "eb-new")}, None)
    assert (p.vllm, p.trtllm, p.route, p.mode) == (Action.DELETE, Action.APPLY, TRT, Mode.DIRECT)


def test_ready_pods_of_an_old_engine_do_not_count_as_the_new_one() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: None, TRT: dep(True, "eb-old")}, None)
    assert (p.trtllm, p.trtllm_build, p.route) == (Action.APPLY, "eb-new", TRT)


def test_a_rolling_update_onto_a_new_engine_starts_no_vllm() -> None:
    """The old engine's pods serve until the new ones are Ready: the Deployment's own rolling update."""
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: None, TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.DELETE, Action.APPLY, TRT)
    rolling = dep(True, "eb-new", rolled_out=False)
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: None, TRT: rolling}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.DELETE, Action.APPLY, TRT)


def test_a_replicas_or_env_rollout_on_the_built_engine_starts_no_vllm() -> None:
    rolling = dep(True, "eb-new", rolled_out=False)
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: None, TRT: rolling}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.DELETE, Action.APPLY, "eb-new", TRT)
    p = plan_serving(infd(**{"tensorrtLLM": {"backend": "pytorch"}}), TRT, None, {VLLM: None, TRT: dep(True)}, None)
    assert (p.vllm, p.route) == (Action.DELETE, TRT)


def test_recreate_onto_a_new_engine_bridges_with_vllm_first() -> None:
    """Recreate stops the old engine's pods before the new ones start: vLLM takes the traffic in between."""
    eng = recreate()
    built = build(BuildPhase.SUCCEEDED)
    p = plan_serving(eng, TRT, built, {VLLM: None, TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.APPLY, Action.KEEP, "eb-old", TRT)
    p = plan_serving(eng, TRT, built, {VLLM: dep(False), TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.APPLY, Action.KEEP, TRT)
    p = plan_serving(eng, TRT, built, {VLLM: dep(True), TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.APPLY, Action.APPLY, "eb-new", VLLM)
    p = plan_serving(eng, TRT, built, {VLLM: dep(True), TRT: dep(False, "eb-new")}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.APPLY, Action.APPLY, VLLM)
    p = plan_serving(eng, TRT, built, {VLLM: dep(True), TRT: dep(True, "eb-new")}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.DELETE, Action.APPLY, TRT)


def test_recreate_without_serve_while_building_moves_at_once() -> None:
    eng = recreate(serveWhileBuilding=False)
    p = plan_serving(eng, TRT, build(BuildPhase.SUCCEEDED), {VLLM: None, TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.DELETE, Action.APPLY, "eb-new", TRT)


def test_old_engine_serves_until_the_new_build_succeeds() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.BUILDING), {VLLM: None, TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route, p.mode) == (
        Action.DELETE,
        Action.KEEP,
        "eb-old",
        TRT,
        Mode.OLD_ENGINE,
    )
    assert p.detail == ""


def test_old_engine_keeps_serving_when_the_rebuild_fails() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.FAILED), {VLLM: None, TRT: dep(True, "eb-old")}, None)
    assert (p.trtllm, p.route, p.mode) == (Action.KEEP, TRT, Mode.OLD_ENGINE)
    assert "failed" in p.detail


def test_failed_build_falls_back_to_vllm() -> None:
    p = plan_serving(infd(), TRT, build(BuildPhase.FAILED), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.trtllm, p.route, p.mode) == (Action.APPLY, Action.DELETE, VLLM, Mode.FALLBACK)
    assert "boom" in p.detail


def test_failed_build_without_fallback_is_unavailable() -> None:
    p = plan_serving(infd(fallback="none"), TRT, build(BuildPhase.FAILED), {VLLM: dep(True), TRT: None}, None)
    assert (p.vllm, p.trtllm, p.mode) == (Action.DELETE, Action.DELETE, Mode.UNAVAILABLE)


def test_unsupported_architecture_falls_back() -> None:
    p = plan_serving(infd(), TRT, None, {VLLM: None, TRT: None}, "TensorRT-LLM does not support FooForCausalLM")
    assert (p.vllm, p.route, p.mode) == (Action.APPLY, VLLM, Mode.FALLBACK)


def test_switch_back_to_vllm_keeps_tensorrt_llm_until_vllm_is_ready() -> None:
    p = plan_serving(infd(preference="vllm"), VLLM, None, {VLLM: dep(False), TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.APPLY, Action.KEEP, TRT)
    p = plan_serving(infd(preference="vllm"), VLLM, None, {VLLM: dep(True), TRT: dep(True, "eb-old")}, None)
    assert (p.vllm, p.trtllm, p.route) == (Action.APPLY, Action.DELETE, VLLM)


def test_pytorch_backend_needs_no_build() -> None:
    eng = {"tensorrtLLM": {"backend": "pytorch"}}
    p = plan_serving(infd(**eng), TRT, None, {VLLM: None, TRT: None}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build) == (Action.DELETE, Action.APPLY, None)  # no compile: no bridge
    p = plan_serving(infd(**eng), TRT, None, {VLLM: dep(True), TRT: dep(False)}, None)
    assert p.route == VLLM  # whichever serves first takes the traffic until the selected engine is ready
    p = plan_serving(infd(**eng), TRT, None, {VLLM: dep(True), TRT: dep(True)}, None)
    assert (p.vllm, p.route) == (Action.DELETE, TRT)


def test_a_rollout_in_progress_is_not_ready() -> None:
    p = plan_serving(
        infd(),
        TRT,
        build(BuildPhase.SUCCEEDED),
        {VLLM: dep(True), TRT: dep(True, "eb-new", rolled_out=False)},
        None,
    )
    assert (p.vllm, p.route) == (Action.APPLY, VLLM)


def test_a_cache_hit_starts_no_vllm_bridge() -> None:
    """A new resource whose engine is already built goes straight to TensorRT-LLM: there is no compile to bridge."""
    p = plan_serving(infd(), TRT, build(BuildPhase.SUCCEEDED), {VLLM: None, TRT: None}, None)
    assert (p.vllm, p.trtllm, p.trtllm_build, p.route) == (Action.DELETE, Action.APPLY, "eb-new", TRT)
