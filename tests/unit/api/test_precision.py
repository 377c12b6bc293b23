"""precision.dtype float32 with a quantization: refused by the models (so by `render`) and by the CRD's CEL rule.

vLLM v0.32.0 refuses to start so: its fp8, AWQ and GPTQ configs support only float16 and bfloat16 activations
(get_supported_act_dtypes in vllm/model_executor/layers/quantization/{fp8,auto_awq,auto_gptq}.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from inference_operator.api.crdgen import crd_files
from inference_operator.api.inference_deployment import DType, InferenceDeployment, Quantization
from inference_operator.api.validation import format_validation_error
from tests.support.samples import sample_body
from tests.unit.cli.test_cli_render import run_cli

QUANTIZED = [q.value for q in Quantization if q is not Quantization.NONE]


def with_precision(precision: dict[str, str]) -> dict[str, Any]:
    body = sample_body("small-model")
    body["spec"]["precision"] = precision
    return body


@pytest.mark.parametrize("quantization", QUANTIZED)
def test_float32_with_a_quantization_is_refused_naming_the_field(quantization: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        InferenceDeployment.model_validate(with_precision({"dtype": "float32", "quantization": quantization}))
    message = format_validation_error(caught.value)
    assert message.startswith("spec.precision.dtype: must be auto, float16 or bfloat16"), message
    assert "spec.precision.quantization" in message and "\n" not in message


@pytest.mark.parametrize(
    "precision",
    [
        {"dtype": "float32"},
        {"dtype": "float32", "quantization": "none"},
        *(
            {"dtype": d.value, "quantization": q}
            for d in DType
            if d is not DType.FLOAT32
            for q in QUANTIZED
            if q != Quantization.NVFP4.value  # only with spec.precision.calibration (test_quantization_api.py)
        ),
    ],
)
def test_every_other_combination_is_accepted(precision: dict[str, str]) -> None:
    InferenceDeployment.model_validate(with_precision(precision))


def precision_schema() -> dict[str, Any]:
    crds = {c["spec"]["names"]["kind"]: c for c in map(yaml.safe_load, crd_files().values())}
    schema = crds["InferenceDeployment"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    precision: dict[str, Any] = schema["properties"]["spec"]["properties"]["precision"]
    return precision


def test_the_crd_carries_the_same_rule_as_cel() -> None:
    rules = [r for r in precision_schema()["x-kubernetes-validations"] if "float32" in r["rule"]]
    assert len(rules) == 1
    rule = rules[0]
    # Absent fields are read only behind has(), so the rule never fails to evaluate.
    assert rule["rule"] == (
        "!has(self.dtype) || !has(self.quantization) || self.dtype != 'float32' || self.quantization == 'none'"
    )
    assert rule["message"].startswith("spec.precision.dtype must be auto, float16 or bfloat16")
    assert [v for v in precision_schema()["properties"]["dtype"]["enum"] if v == "float32"] == ["float32"]


def test_render_refuses_it_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "float32-fp8.yaml"
    path.write_text(yaml.safe_dump(with_precision({"dtype": "float32", "quantization": "fp8"})))
    proc = run_cli("render", "-f", str(path))
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "spec.precision.dtype: must be auto, float16 or bfloat16" in lines[0], proc.stderr
