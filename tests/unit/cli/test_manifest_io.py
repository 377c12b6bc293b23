"""The manifest loader against hostile and malformed files, and the one-line validation messages."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.cli.manifest_io import (
    MAX_MANIFEST_BYTES,
    ManifestError,
    format_validation_error,
    load_resource,
)

GOOD = """\
apiVersion: inference-operator.dev/v1alpha1
kind: InferenceDeployment
metadata:
  name: m
spec:
  model:
    name: meta-llama/Llama-3.1-8B-Instruct
"""

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def file_with(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "manifest.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def problem(tmp_path: Path, content: str | bytes) -> str:
    path = file_with(tmp_path, content)
    with pytest.raises(ManifestError) as caught:
        load_resource(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return caught.value.problem


def test_good_file_loads(tmp_path: Path) -> None:
    body = load_resource(file_with(tmp_path, GOOD))
    assert body["spec"]["model"]["name"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert load_resource(file_with(tmp_path, "---\n" + GOOD + "---\n")) == body  # empty documents are ignored
    assert load_resource(file_with(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())) == body  # a BOM is fine
    as_json = '{"kind": "InferenceDeployment"}'
    assert load_resource(file_with(tmp_path, as_json)) == {"kind": "InferenceDeployment"}


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode())))
    assert load_resource("-")["kind"] == "InferenceDeployment"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (BILLION_LAUGHS, "anchors and aliases"),
        ("base: &base {x: 1}\nother:\n  <<: *base\n", "anchors and aliases"),
        ("spec: &unused {x: 1}\n", "anchors and aliases"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"name: caf\xe9\n", "not UTF-8"),
        ("", "empty"),
        ("  \n\t\n", "empty"),
        ("# only a comment\n", "no object"),
        ("---\n---\n", "no object"),
        (GOOD + "---\n" + GOOD, "2 YAML documents"),
        ("- a\n- b\n", "a list"),
        ("just a string\n", "a string"),
        ("42\n", "a number"),
        ("[" * 10_000 + "]" * 10_000, "nested deeper"),
        ("spec: {}\nspec: {}\n", "duplicate key 'spec'"),
        ("spec:\n  model: {}\n  model: {}\n", "duplicate key 'model'"),
        ("!!python/object/apply:os.system ['echo pwned']\n", "invalid YAML"),
        ("x: !!python/name:os.system\n", "invalid YAML"),
        ("key: [unclosed\n", "invalid YAML at line"),
        ("n: " + "9" * 5000 + "\n", "unreadable value"),
        ("1: one\n", "not a string"),
    ],
)
def test_hostile_and_malformed_files(tmp_path: Path, content: str | bytes, words: str) -> None:
    assert words in problem(tmp_path, content)


def test_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    assert "larger than" in problem(tmp_path, "a: " + "x" * MAX_MANIFEST_BYTES + "\n")


def test_unreadable_paths(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.yaml", tmp_path):
        with pytest.raises(ManifestError, match="cannot read"):
            load_resource(path)


def validation_message(spec: dict[str, Any], **top: Any) -> str:
    body = {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": "m"},
        "spec": spec,
        **top,
    }
    with pytest.raises(pydantic.ValidationError) as caught:
        InferenceDeployment.model_validate(body)
    message = format_validation_error(caught.value)
    assert "\n" not in message
    return message


MODEL = {"name": "meta-llama/Llama-3.1-8B-Instruct"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"model": MODEL, "modle": {}}, "spec.modle: unknown field"),
        ({"modle": MODEL}, "spec.modle: unknown field; spec.model: required"),
        ({"model": MODEL, "parallelism": {"tensor": 0}}, "spec.parallelism.tensor: must be >= 1"),
        ({"model": MODEL, "replicas": 2000}, "spec.replicas: must be <= 1000"),
        (
            {"model": MODEL, "model2": 1, "engine": {"tensorrtLLM": {"maxBatchSiz": 1}}},
            "spec.engine.tensorrtLLM.maxBatchSiz: unknown field; spec.model2: unknown field",
        ),
        (
            {"model": MODEL, "engine": {"preference": "fast"}},
            "spec.engine.preference: must be one of 'vllm', 'tensorrt-llm' or 'auto'",
        ),
        (
            {"model": MODEL, "workload": {"tokensPerMonth": "lots"}},
            "spec.workload.tokensPerMonth: must be a whole number",
        ),
        ({"model": MODEL, "workload": {"stable": "maybe"}}, "spec.workload.stable: must be true or false"),
        ({"model": MODEL, "resources": {"cpu": [1]}}, "spec.resources.cpu: must be an integer or a string"),
        (
            {"model": MODEL, "resources": {"tolerations": [{"effect": "Sometimes"}]}},
            "spec.resources.tolerations[0].effect: must match ^(NoSchedule|PreferNoSchedule|NoExecute)$",
        ),
        (
            {"model": MODEL, "resources": {"nodeSelector": {"nvidia.com/gpu.present": True}}},
            "spec.resources.nodeSelector['nvidia.com/gpu.present']: must be a string",
        ),
        ({"model": {"name": ""}}, "spec.model.name: must be at least 1 characters"),
        ({"model": MODEL, "serving": 3}, "spec.serving: must be a mapping"),
    ],
)
def test_validation_messages_name_the_camel_case_path(spec: dict[str, Any], expected: str) -> None:
    assert validation_message(spec) == expected


def test_many_problems_stay_on_one_line() -> None:
    message = validation_message({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert message.startswith("spec.a: unknown field; spec.b: unknown field; spec.c: unknown field")
    assert message.endswith("(and 3 more)")  # d, e, and the missing spec.model


def test_top_level_problems() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        InferenceDeployment.model_validate({"kind": "InferenceDeployment", "spec": {"model": MODEL}})
    assert format_validation_error(caught.value) == "apiVersion: required"
    with pytest.raises(pydantic.ValidationError) as caught:
        InferenceDeployment.model_validate([])
    assert format_validation_error(caught.value) == "must be a mapping"
