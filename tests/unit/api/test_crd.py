"""The CRDs are generated from the models, and the committed YAML is exactly what they generate."""
# OpenAPI v3.0 schemas use draft 4 semantics (boolean exclusiveMinimum), hence Draft4Validator.

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from inference_operator.api.crdgen import crd_files, render_crds
from inference_operator.cli import main
from tests.support.samples import REPO_ROOT, sample_body, sample_names

COPIES = ("crds", "charts/inference-operator/crds")


@pytest.mark.parametrize("folder", COPIES)
def test_committed_crds_equal_generated(folder: str) -> None:
    committed = {p.name: p.read_text() for p in sorted((REPO_ROOT / folder).glob("*.yaml"))}
    assert committed == crd_files(), f"{folder}/ is stale: run `make crds`"


def test_crd_command_prints_exactly_the_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    out = capsys.readouterr().out
    assert out == "".join(p.read_text() for p in sorted((REPO_ROOT / "crds").glob("*.yaml")))
    assert out == render_crds()


def _schemas() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(render_crds()) if d]
    return {d["spec"]["names"]["kind"]: d["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for d in docs}


def _walk(node: Any, path: str = "") -> list[str]:
    """Every place where the schema is not structural."""
    problems = []
    if isinstance(node, dict):
        for key in ("$ref", "anyOf", "oneOf", "allOf", "nullable"):
            if key in node:
                problems.append(f"{path}: {key}")
        if "properties" in node and node.get("type") != "object":
            problems.append(f"{path}: properties without type object")
        for key, value in node.items():
            problems += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems += _walk(value, f"{path}[{i}]")
    return problems


def test_schemas_are_structural() -> None:
    for kind, schema in _schemas().items():
        assert _walk(schema) == [], kind
        assert "&id" not in render_crds()


def test_every_field_has_a_description() -> None:
    def undocumented(node: dict[str, Any], path: str) -> list[str]:
        missing = []
        for name, sub in (node.get("properties") or {}).items():
            if name in ("apiVersion", "kind", "metadata"):
                continue
            if not sub.get("description"):
                missing.append(f"{path}.{name}")
            missing += undocumented(sub, f"{path}.{name}")
            if "items" in sub:
                missing += undocumented(sub["items"], f"{path}.{name}[]")
        return missing

    for kind, schema in _schemas().items():
        assert undocumented(schema, kind) == []


def test_camel_case_field_names() -> None:
    text = render_crds()
    for snake in ("served_model_name", "gpu_product", "tokens_per_month", "max_batch_size"):
        assert snake not in text


@pytest.mark.parametrize("sample", sample_names())
def test_samples_validate_against_the_schema(sample: str) -> None:
    schema = _schemas()["InferenceDeployment"]
    jsonschema.Draft4Validator(schema).validate(sample_body(sample))


def test_a_bad_sample_is_rejected_by_the_schema() -> None:
    schema = _schemas()["InferenceDeployment"]
    body = sample_body(sample_names()[0])
    body["spec"]["parallelism"] = {"tensor": 0}
    with pytest.raises(jsonschema.ValidationError, match=r"minimum|less than"):
        jsonschema.Draft4Validator(schema).validate(body)
    body["spec"]["engine"] = {"preference": "sglang"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(body)


def test_cel_rules_name_the_field() -> None:
    spec = _schemas()["InferenceDeployment"]["properties"]["spec"]
    for rule in spec["x-kubernetes-validations"]:
        assert rule["message"].startswith("spec."), rule
