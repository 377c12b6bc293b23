"""Render of the TensorRT-LLM serving path: golden files, the engine store PVC, the trtllm-serve Deployment.

Golden files: tests/unit/golden/trtllm-*.yaml (EngineBuild, build Job, PVC, Deployment of the 70B sample).
After an intended change, regenerate them with `UPDATE_GOLDEN=1 pytest tests/unit/render/test_render_trtllm.py` and
review the diff by hand. The build Job's own properties are in test_build_job.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE, LABEL_BUILD
from inference_operator.api.settings import StoreSettings
from inference_operator.api.trtllm_recipes import PINNED_RECIPE
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import render_engine_build
from inference_operator.render.store import render_engine_store
from inference_operator.render.trtllm import CONFIG_PATH, render_trtllm_deployment
from tests.support.samples import TEST_NAMESPACE, sample_body
from tests.support.trtllm_fixtures import (
    PYTORCH_ONLY_IMAGE,
    SAMPLE,
    SECRET_REF,
    STORE,
    container,
    created_build,
    infd_on,
    infd_with,
    pod,
)

GOLDEN_DIR = Path(__file__).parents[1] / "golden"


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line strings (the build script) as literal blocks, so a golden diff reads like a script diff."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _str)


def render_all(infd: InferenceDeployment) -> str:
    build = created_build(infd)
    docs: list[dict[str, Any]] = [render_engine_store(TEST_NAMESPACE, STORE)]
    if infd.spec.engine.tensorrt_llm.effective_backend.value == "engine":
        docs += [render_engine_build(infd, STORE), render_build_job(build)]
        docs.append(render_trtllm_deployment(infd, build.metadata["name"], STORE))
    else:
        docs.append(render_trtllm_deployment(infd, None, STORE))
    return yaml.dump_all(docs, Dumper=_ReadableDumper, sort_keys=True)


@pytest.mark.parametrize(
    ("golden", "backend"), [("trtllm-70b-h100-engine", "engine"), ("trtllm-70b-h100-pytorch", "pytorch")]
)
def test_render_matches_golden(golden: str, backend: str) -> None:
    """The 1.2.x row of the recipe table (the pinned 1.2.1 image), with each of its backends."""
    rendered = render_all(infd_with(backend=backend))
    path = GOLDEN_DIR / f"{golden}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}; run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text()


def test_render_of_the_pytorch_only_row_matches_golden() -> None:
    """The 1.3.0rc21+ row: the sample on its first image, backend left to the row (pytorch), no build."""
    rendered = render_all(infd_on(PYTORCH_ONLY_IMAGE))
    path = GOLDEN_DIR / "trtllm-70b-h100-1.3.0rc21-pytorch.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}; run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text()


@pytest.mark.parametrize("backend", ["engine", "pytorch"])
def test_rerender_is_byte_identical_and_alias_free(backend: str) -> None:
    first, second = render_all(infd_with(backend=backend)), render_all(infd_with(backend=backend))
    assert first == second
    assert "&id" not in first


# --- engine store PVC --------------------------------------------------------------------------------------


def test_store_has_no_owner_and_uses_the_default_class_unless_set() -> None:
    pvc = render_engine_store("team-a", STORE)
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["metadata"] == {
        "name": "inference-engine-store",
        "namespace": "team-a",
        "labels": pvc["metadata"]["labels"],
    }
    assert pvc["metadata"]["labels"]["app.kubernetes.io/component"] == "engine-store"
    assert pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "inference-operator"
    assert "storageClassName" not in pvc["spec"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"] == {"requests": {"storage": "500Gi"}}
    custom = render_engine_store("team-a", StoreSettings(storage_class="nfs", size="2Ti", access_mode="ReadWriteOnce"))
    assert custom["spec"]["storageClassName"] == "nfs"
    assert custom["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert custom["spec"]["resources"]["requests"]["storage"] == "2Ti"


# --- trtllm-serve Deployment -------------------------------------------------------------------------------


def test_engine_deployment_serves_the_engine_from_a_read_only_store() -> None:
    infd = infd_with()
    name = created_build(infd).metadata["name"]
    deployment = render_trtllm_deployment(infd, name, STORE)
    assert deployment["metadata"]["name"] == "llama-3-1-70b-trtllm-trtllm"
    args = container(deployment)["args"]
    assert args[:2] == ["serve", f"/engines/{name}/engine"]
    assert args[args.index("--tokenizer") + 1] == f"/engines/{name}/tokenizer"
    assert args[args.index("--backend") + 1] == "tensorrt"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert container(deployment)["command"] == ["trtllm-serve"]
    volumes = {v["name"]: v for v in pod(deployment)["volumes"]}
    mount = next(m for m in container(deployment)["volumeMounts"] if m["mountPath"] == "/engines")
    assert mount["readOnly"] is True
    claim = volumes[mount["name"]]["persistentVolumeClaim"]
    assert claim == {"claimName": STORE.claim_name, "readOnly": True}
    assert deployment["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == name
    assert LABEL_BUILD not in deployment["spec"]["selector"]["matchLabels"]


def test_engine_backend_needs_a_build() -> None:
    with pytest.raises(ValueError, match="EngineBuild"):
        render_trtllm_deployment(infd_with(), None, STORE)


def test_serving_placement_probes_and_port() -> None:
    deployment = render_trtllm_deployment(infd_with(), "b", STORE)
    engine = container(deployment)
    assert engine["resources"]["limits"][GPU_RESOURCE] == 8
    assert pod(deployment)["nodeSelector"] == {GPU_PRODUCT_LABEL: "NVIDIA-H100-80GB-HBM3"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert engine[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert engine["startupProbe"]["periodSeconds"] * engine["startupProbe"]["failureThreshold"] >= 30 * 60
    assert engine["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    shm = next(v for v in pod(deployment)["volumes"] if v.get("emptyDir", {}).get("medium") == "Memory")
    assert shm["emptyDir"]["sizeLimit"] == "16Gi"
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert selector["inference-operator.dev/engine"] == "tensorrt-llm"


def test_engine_pods_carry_no_scrape_annotation_until_prometheus_metrics_exist() -> None:
    deployment = render_trtllm_deployment(infd_with(), "b", STORE)
    assert "annotations" not in deployment["spec"]["template"]["metadata"]
    assert not {"--config", "--extra_llm_api_options"} & set(container(deployment)["args"])


def test_pytorch_backend_serves_the_checkpoint_without_the_store() -> None:
    infd = infd_with(backend="pytorch")
    deployment = render_trtllm_deployment(infd, None, STORE)
    engine = container(deployment)
    args = engine["args"]
    assert args[:2] == ["serve", "meta-llama/Llama-3.1-70B-Instruct"]
    assert args[args.index("--backend") + 1] == "pytorch"
    assert args[args.index("--revision") + 1] == "main"
    assert args[args.index("--tp_size") + 1] == "8"
    assert all(m["mountPath"] != STORE.mount_path for m in engine["volumeMounts"])
    assert all("persistentVolumeClaim" not in v for v in pod(deployment)["volumes"])
    assert LABEL_BUILD not in deployment["spec"]["template"]["metadata"]["labels"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == PINNED_RECIPE.metrics.path
    # The LLM API options go through a file written at start: metrics on, the spec's dtype.
    assert engine["command"][:2] == ["bash", "-c"] and engine["command"][3] == "trtllm-serve"
    assert "'return_perf_metrics: true' 'dtype: bfloat16'" in engine["command"][2]
    # `--extra_llm_api_options`, not its late alias `--config`: images before 1.2 refuse the alias.
    assert args[args.index("--extra_llm_api_options") + 1] == CONFIG_PATH
    assert "--config" not in args


def test_pytorch_backend_without_monitoring_or_dtype_needs_no_config() -> None:
    body = sample_body(SAMPLE)
    body["spec"]["engine"]["tensorrtLLM"]["backend"] = "pytorch"
    body["spec"]["precision"]["dtype"] = "auto"
    body["spec"]["monitoring"] = {"enabled": False}
    deployment = render_trtllm_deployment(InferenceDeployment.model_validate(body), None, STORE)
    assert container(deployment)["command"] == ["trtllm-serve"]
    assert not {"--config", "--extra_llm_api_options"} & set(container(deployment)["args"])
    assert "annotations" not in deployment["spec"]["template"]["metadata"]


def test_serve_extra_args_and_env() -> None:
    infd = infd_with(extraArgs=["--log_level", "debug"], env=[{"name": "HF_HOME", "value": "/elsewhere"}])
    engine = container(render_trtllm_deployment(infd, "b", STORE))
    assert engine["args"][-2:] == ["--log_level", "debug"]
    names = [e["name"] for e in engine["env"]]
    assert len(names) == len(set(names))
    assert {"name": "HF_HOME", "value": "/elsewhere"} in engine["env"]
    token = [e for e in engine["env"] if e["name"] == "HF_TOKEN"]
    assert token == [{"name": "HF_TOKEN", "valueFrom": SECRET_REF}]
