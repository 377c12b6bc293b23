"""Each row of the TensorRT-LLM recipe table, rendered: the serve command, health probes, metrics options and the
engine build (or its absence) are the row's. Golden files per row: test_render_trtllm.py."""

from __future__ import annotations

from typing import Any

import pytest

from inference_operator.api.images import TRTLLM_IMAGE
from inference_operator.api.inference_deployment import InferenceDeployment, TrtllmBackend
from inference_operator.api.settings import OperatorSettings
from inference_operator.api.trtllm_recipes import RECIPES, TrtllmRecipe, TrtllmRecipeName, recipe_for_image
from inference_operator.controller.inference_deployment.desired import intent_for
from inference_operator.render.build_job import render_build_job
from inference_operator.render.build_recipe import image_recipe_problem
from inference_operator.render.trtllm import CONFIG_PATH, render_trtllm_deployment
from tests.support.trtllm_fixtures import PYTORCH_ONLY_IMAGE, STORE, container, created_build, infd_on, pod

# An image of each row: a new row must name one here, so it gets rendered.
ROW_IMAGES: dict[TrtllmRecipeName, str] = {
    TrtllmRecipeName.RELEASE_1_2: TRTLLM_IMAGE,
    TrtllmRecipeName.PYTORCH_ONLY: PYTORCH_ONLY_IMAGE,
}
ROW_BACKENDS = [(row, backend) for row in RECIPES for backend in row.backends]


def _id(case: tuple[TrtllmRecipe, TrtllmBackend]) -> str:
    return f"{case[0].name.value}-{case[1].value}"


def _infd(row: TrtllmRecipe, backend: TrtllmBackend, **spec: Any) -> InferenceDeployment:
    infd = infd_on(ROW_IMAGES[row.name], backend=backend.value)
    return infd.model_copy(update={"spec": infd.spec.model_copy(update=spec)}) if spec else infd


def _deployment(infd: InferenceDeployment) -> dict[str, Any]:
    engine = infd.spec.engine.tensorrt_llm.effective_backend is TrtllmBackend.ENGINE
    return render_trtllm_deployment(infd, created_build(infd).metadata["name"] if engine else None, STORE)


def test_every_row_has_an_image_of_its_own() -> None:
    assert set(ROW_IMAGES) == {row.name for row in RECIPES}
    for name, image in ROW_IMAGES.items():
        recipe = recipe_for_image(image)
        assert recipe is not None and recipe.name is name


@pytest.mark.parametrize("case", ROW_BACKENDS, ids=_id)
def test_serve_command_health_and_metrics_are_the_rows(case: tuple[TrtllmRecipe, TrtllmBackend]) -> None:
    row, backend = case
    deployment = _deployment(_infd(row, backend))
    engine = container(deployment)
    args = engine["args"]
    assert args[0] == row.serve.subcommand
    assert args[args.index("--backend") + 1] == row.serve.backend_values[backend]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert engine[probe]["httpGet"]["path"] == row.health_path
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if backend is TrtllmBackend.ENGINE and not row.metrics.on_engine_backend:
        assert row.serve.options_flag not in args  # no options to pass: the metrics stay off
        assert "prometheus.io/path" not in annotations
        return
    assert args[args.index(row.serve.options_flag) + 1] == CONFIG_PATH
    script = engine["command"][2]
    for option in row.metrics.options:
        assert f"'{option}'" in script, option
    assert annotations["prometheus.io/path"] == row.metrics.path


@pytest.mark.parametrize("case", ROW_BACKENDS, ids=_id)
def test_monitoring_off_writes_no_metrics_options(case: tuple[TrtllmRecipe, TrtllmBackend]) -> None:
    row, backend = case
    infd = _infd(row, backend)
    monitoring = infd.spec.monitoring.model_copy(update={"enabled": False})
    infd = infd.model_copy(update={"spec": infd.spec.model_copy(update={"monitoring": monitoring})})
    engine = container(_deployment(infd))
    text = " ".join(engine["command"] + engine["args"])
    assert all(option not in text for option in row.metrics.options)


@pytest.mark.parametrize("row", [r for r in RECIPES if r.build is not None], ids=lambda r: r.name.value)
def test_an_engine_rows_build_runs_its_converter_and_build_command(row: TrtllmRecipe) -> None:
    assert row.build is not None
    infd = _infd(row, TrtllmBackend.ENGINE)
    job = render_build_job(created_build(infd), STORE)
    script = container(job)["command"][2]
    lines = script.splitlines()
    assert any(line.startswith(f"{row.build.build_command} --checkpoint_dir ") for line in lines), script
    # The 70B sample is fp8: ModelOpt's quantizer under the row's examples directory converts it.
    assert f"{row.build.examples_dir}/{row.build.quantizer}" in script
    llama = f"{row.build.examples_dir}/{row.build.converter.format(family='llama')}"
    unquantized_precision = infd.spec.precision.model_copy(update={"quantization": "none"})
    unquantized = _infd(row, TrtllmBackend.ENGINE, precision=unquantized_precision)
    assert llama in container(render_build_job(created_build(unquantized), STORE))["command"][2]
    assert image_recipe_problem(ROW_IMAGES[row.name]) is None
    assert pod(job)["containers"][0]["image"] == ROW_IMAGES[row.name]


@pytest.mark.parametrize("row", [r for r in RECIPES if r.build is None], ids=lambda r: r.name.value)
def test_a_row_without_engine_build_renders_no_build_and_refuses_one(row: TrtllmRecipe) -> None:
    body = infd_on(ROW_IMAGES[row.name]).model_dump(by_alias=True, exclude_none=True)
    body["metadata"]["namespace"] = "team-a"
    intent = intent_for(InferenceDeployment.model_validate(body), OperatorSettings())
    assert intent.infd.spec.engine.tensorrt_llm.effective_backend is TrtllmBackend.PYTORCH
    assert intent.engine_build is None and intent.store is None and intent.blocker is None
    problem = image_recipe_problem(ROW_IMAGES[row.name])  # a precompile EngineBuild on this image
    assert problem is not None and problem.startswith("spec.image: ") and "has no engine build" in problem
    args = container(_deployment(intent.infd))["args"]
    assert not any("trtllm-build" in a or "convert_checkpoint" in a for a in args)
