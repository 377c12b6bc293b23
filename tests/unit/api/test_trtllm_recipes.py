"""The TensorRT-LLM recipe table: which row an image gets, backend defaults by row, and refusals that name the field."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pydantic
import pytest

from inference_operator.api.errors import InvalidSpec
from inference_operator.api.images import TRTLLM_IMAGE
from inference_operator.api.inference_deployment import (
    Engine,
    InferenceDeployment,
    TrtllmBackend,
)
from inference_operator.api.trtllm_recipes import (
    PINNED_RECIPE,
    PYTORCH_ONLY_IMAGE_PATTERN,
    RECIPES,
    TRTLLM_RELEASE_REPOSITORY,
    TrtllmRecipeName,
    parse_release_tag,
    recipe_for_image,
    resolve_recipe,
)
from inference_operator.api.trtllm_spec import ENGINE_BACKEND_ABSENT, ENGINE_BACKEND_RULE
from inference_operator.api.validation import format_validation_error
from inference_operator.controller.inference_deployment.desired import parse
from inference_operator.metrics.engines import ENGINE_METRICS
from tests.support.samples import sample_body
from tests.support.trtllm_fixtures import PYTORCH_ONLY_IMAGE, SAMPLE, infd_on

RELEASE = f"{TRTLLM_RELEASE_REPOSITORY}:"
CUSTOM_IMAGE = "registry.example.com/ml/trtllm-serve:2026.11"


@pytest.mark.parametrize(
    ("image", "row"),
    [
        (f"{RELEASE}1.2.1", TrtllmRecipeName.RELEASE_1_2),
        (f"{RELEASE}1.2.0", TrtllmRecipeName.RELEASE_1_2),
        (f"{RELEASE}1.2.0rc6.post2", TrtllmRecipeName.RELEASE_1_2),
        (f"{RELEASE}1.2.1@sha256:{'0' * 64}", TrtllmRecipeName.RELEASE_1_2),
        (f"{RELEASE}1.3.0rc21", TrtllmRecipeName.PYTORCH_ONLY),
        (f"{RELEASE}1.3.0rc24", TrtllmRecipeName.PYTORCH_ONLY),
        (f"{RELEASE}1.3.0", TrtllmRecipeName.PYTORCH_ONLY),
        (f"{RELEASE}1.4.0rc0", TrtllmRecipeName.PYTORCH_ONLY),
        (f"{RELEASE}2.0.0", TrtllmRecipeName.PYTORCH_ONLY),
        (f"{RELEASE}1.3.0rc20", None),  # the engine backend still ships, but no row was checked against it
        (f"{RELEASE}1.1.0", None),
        (f"{RELEASE}latest", None),
        (CUSTOM_IMAGE, None),  # a tag outside NGC's release repository says nothing about the version
        (f"{RELEASE[:-1]}@sha256:{'0' * 64}", None),
    ],
)
def test_the_row_follows_the_ngc_release_tag(image: str, row: TrtllmRecipeName | None) -> None:
    recipe = recipe_for_image(image)
    assert (recipe.name if recipe else None) == row


def test_the_pinned_image_has_a_row_with_both_backends() -> None:
    assert recipe_for_image(TRTLLM_IMAGE) is PINNED_RECIPE
    assert PINNED_RECIPE.name is TrtllmRecipeName.RELEASE_1_2
    assert set(PINNED_RECIPE.backends) == set(TrtllmBackend)


def test_override_wins_and_an_unplaced_image_gets_the_pinned_row() -> None:
    assert resolve_recipe(TrtllmRecipeName.PYTORCH_ONLY, CUSTOM_IMAGE).name is TrtllmRecipeName.PYTORCH_ONLY
    assert resolve_recipe(TrtllmRecipeName.RELEASE_1_2, PYTORCH_ONLY_IMAGE).name is TrtllmRecipeName.RELEASE_1_2
    assert resolve_recipe(None, CUSTOM_IMAGE) is PINNED_RECIPE
    assert resolve_recipe(None, None) is PINNED_RECIPE
    assert resolve_recipe(None, f"{RELEASE}1.1.0") is PINNED_RECIPE


def test_rows_do_not_overlap_and_each_cites_its_sources() -> None:
    for row in RECIPES:
        assert row.sources and all("NVIDIA/TensorRT-LLM" in s or "docs/source" in s for s in row.sources), row.name
        assert row.default_backend in row.backends
        assert (row.build is not None) == (TrtllmBackend.ENGINE in row.backends), row.name
        assert set(row.serve.backend_values) == set(row.backends), row.name
        assert row.metrics.options and row.metrics.names
    ordered = sorted(RECIPES, key=lambda r: r.first)
    for earlier, later in itertools.pairwise(ordered):
        assert earlier.last is not None and earlier.last <= later.first


def test_engine_metrics_list_every_rows_series_and_no_other_trtllm_series() -> None:
    """metrics/engines.py takes its TensorRT-LLM names from the table: every row's, and the pinned row's among them."""
    trtllm = {name for name, metric in ENGINE_METRICS.items() if metric.engine is Engine.TENSORRT_LLM}
    assert trtllm == {name for row in RECIPES for name in row.metrics.names}
    assert set(PINNED_RECIPE.metrics.names) <= trtllm


def test_each_signal_has_one_kind_in_every_row() -> None:
    # The recorded series of a signal (metrics/trtllm_monitoring.py) is one name whatever the row: same kind.
    kinds: dict[str, set[str]] = {}
    for row in RECIPES:
        signals = [s.signal for s in row.metrics.series]
        assert len(signals) == len(set(signals)), row.name
        for series in row.metrics.series:
            kinds.setdefault(series.signal, set()).add(series.kind.value)
    assert all(len(k) == 1 for k in kinds.values()), kinds


def _tags() -> list[str]:
    tags = []
    for major in range(3):
        for minor in (0, 1, 2, 3, 4, 10):
            for patch in ("", ".0", ".1", ".12"):
                for pre in ("", "rc0", "rc9", "rc20", "rc21", "rc24", "rc99", "rc100"):
                    for post in ("", ".post1"):
                        if pre and not patch:
                            continue
                        tags.append(f"{major}.{minor}{patch}{pre}{post}")
    return [*tags, *(f"v{t}" for t in tags[::7]), "latest", "1.3.0-rc21", "1.3"]


def test_the_admission_pattern_agrees_with_the_table() -> None:
    """CEL cannot compare versions: its pattern must say 'pytorch only' for exactly the tags the table does."""
    pattern = re.compile(PYTORCH_ONLY_IMAGE_PATTERN)
    for tag in _tags():
        for image in (f"{RELEASE}{tag}", f"{RELEASE}{tag}@sha256:{'a' * 64}"):
            recipe = recipe_for_image(image)
            by_table = recipe is not None and TrtllmBackend.ENGINE not in recipe.backends
            assert bool(pattern.match(image)) == by_table, image
    assert not pattern.match(f"docker.io/someone/{PYTORCH_ONLY_IMAGE.rsplit('/', 1)[1]}")


def test_the_admission_rule_carries_the_pattern_and_names_the_field() -> None:
    assert ENGINE_BACKEND_ABSENT.startswith("spec.engine.tensorrtLLM.backend: ")
    escaped = PYTORCH_ONLY_IMAGE_PATTERN.replace("\\", "\\\\")
    assert f"self.image.matches('{escaped}')" in ENGINE_BACKEND_RULE
    assert "self.recipe in ['1.2.x']" in ENGINE_BACKEND_RULE


# --- backend defaults by row ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "override", "backend"),
    [
        (None, None, TrtllmBackend.ENGINE),  # the pinned 1.2.1: engine where it exists
        (f"{RELEASE}1.2.0", None, TrtllmBackend.ENGINE),
        (PYTORCH_ONLY_IMAGE, None, TrtllmBackend.PYTORCH),  # pytorch where the engine backend does not exist
        (CUSTOM_IMAGE, None, TrtllmBackend.ENGINE),
        (CUSTOM_IMAGE, "1.3.0rc21+", TrtllmBackend.PYTORCH),
    ],
)
def test_unset_backend_defaults_by_the_row(image: str | None, override: str | None, backend: TrtllmBackend) -> None:
    extra: dict[str, Any] = {"recipe": override} if override else {}
    infd = infd_on(image, **extra)
    assert infd.spec.engine.tensorrt_llm.backend is None
    assert infd.spec.engine.tensorrt_llm.effective_backend is backend


def test_an_explicit_backend_is_kept() -> None:
    trt = infd_on(TRTLLM_IMAGE, backend="pytorch").spec.engine.tensorrt_llm
    assert trt.effective_backend is TrtllmBackend.PYTORCH


# --- refusals -----------------------------------------------------------------------------------------------


def _body(**trt: Any) -> dict[str, Any]:
    body = sample_body(SAMPLE)
    body["spec"]["engine"]["tensorrtLLM"] = {**body["spec"]["engine"]["tensorrtLLM"], **trt}
    body["metadata"]["namespace"] = "team-a"
    return body


@pytest.mark.parametrize(
    "trt",
    [
        {"image": PYTORCH_ONLY_IMAGE, "backend": "engine"},
        {"image": f"{RELEASE}1.4.0", "backend": "engine"},
        {"image": CUSTOM_IMAGE, "recipe": "1.3.0rc21+", "backend": "engine"},
    ],
)
def test_engine_backend_on_a_pytorch_only_release_is_refused_in_one_line_naming_the_field(
    trt: dict[str, Any],
) -> None:
    with pytest.raises(pydantic.ValidationError) as exc:
        InferenceDeployment.model_validate(_body(**trt))
    line = format_validation_error(exc.value)
    assert line.startswith("spec.engine.tensorrtLLM.backend: engine does not exist in TensorRT-LLM 1.3.0rc21+"), line
    assert "\n" not in line and "use backend pytorch" in line
    with pytest.raises(InvalidSpec, match=r"^spec\.engine\.tensorrtLLM\.backend: engine does not exist"):
        parse(_body(**trt))  # the controller's parse: Ready=False, reason InvalidSpec, with this message


@pytest.mark.parametrize(
    "trt",
    [
        {"image": PYTORCH_ONLY_IMAGE, "backend": "pytorch"},
        {"image": PYTORCH_ONLY_IMAGE, "recipe": "1.2.x", "backend": "engine"},  # the override says it has one
        {"image": f"{RELEASE}1.3.0rc20", "backend": "engine"},  # not refused here: the build refuses the line
    ],
)
def test_pairs_that_can_work_are_accepted(trt: dict[str, Any]) -> None:
    InferenceDeployment.model_validate(_body(**trt))


def test_release_tags_parse_to_sortable_versions() -> None:
    parsed = [parse_release_tag(t) for t in ("1.2.0rc6.post2", "1.2.0", "1.2.1", "1.3.0rc20", "1.3.0rc21", "1.3.0")]
    assert all(p is not None for p in parsed)
    assert parsed == sorted(parsed)  # type: ignore[type-var]
    assert parse_release_tag("latest") is None
