"""The TensorRT-LLM serving Deployment: trtllm-serve for one InferenceDeployment. Pure.

Two backends (spec.engine.tensorrtLLM.backend):
- engine: trtllm-serve on a compiled engine from the store (<mount>/<build>/engine, mounted read-only), with
  the tokenizer files the build copied next to it, so serving needs neither the Hub nor a compile.
- pytorch: trtllm-serve on the Hugging Face checkpoint with the PyTorch backend; no compile, no store.

Flags follow tensorrt_llm/commands/serve.py of the pinned release (api/images.py): `trtllm-serve serve MODEL`
(MODEL: "model name | HF checkpoint path | TensorRT engine path"), --backend pytorch|tensorrt (default
pytorch since 1.0, so the engine path must say tensorrt), --host (default localhost: must be 0.0.0.0 in a
pod), --port, --tp_size, --pp_size, --tokenizer, --revision, --max_batch_size, --max_seq_len, and
--extra_llm_api_options, a YAML file of LLM API arguments. That spelling is a click option of `serve` in
tensorrt_llm/commands/serve.py from 0.19 through 1.2.1 and later; `--config` is only an alias of it added late in
1.2 development (NVIDIA/TensorRT-LLM), which older images refuse as an unknown option.
"""

from __future__ import annotations

from typing import Any

from ..api.inference_deployment import DType, Engine, InferenceDeployment, TrtllmBackend
from ..api.labels import LABEL_BUILD
from ..api.settings import StoreSettings
from .common import MODEL_CACHE_PATH, scrape_annotations
from .engine_key import engine_dir
from .serving import EngineServing, render_serving_deployment

CONTAINER_NAME = "trtllm"
STORE_VOLUME = "engine-store"

# trtllm-serve builds the LLM (loads engine or weights) before its HTTP server listens (launch_server in
# tensorrt_llm/commands/serve.py), and /health answers 200 only while the executor reports healthy, 503
# otherwise (tensorrt_llm/serve/openai_server.py, health/_check_health). /health_generate runs a real
# generation: too heavy for a probe every 10 s.
HEALTH_PATH = "/health"

# Probe timings and the grace period are the skeleton's (serving.py), as for vLLM.

# trtllm-serve's /metrics returns JSON iteration statistics, not Prometheus text; Prometheus metrics are
# served at /prometheus/metrics only when the LLM runs with return_perf_metrics: true (openai_server.py,
# register_routes/mount_metrics; default false).
PROMETHEUS_PATH = "/prometheus/metrics"
# With the TensorRT (engine) backend, return_perf_metrics crashed trtllm-serve at start (TensorRT-LLM#9678,
# 1.2.0rc2; fixed on main by #10662): keep it off there until the pinned release is known to carry the fix.
ENGINE_BACKEND_PERF_METRICS = False
CONFIG_PATH = f"{MODEL_CACHE_PATH}/trtllm-serve.yaml"
# The flag that passes CONFIG_PATH: the spelling every release since 0.19 accepts (see the module docstring).
EXTRA_LLM_API_OPTIONS_FLAG = "--extra_llm_api_options"


def engine_model_path(store: StoreSettings, build_name: str) -> str:
    return f"{engine_dir(store.mount_path, build_name)}/engine"


def engine_tokenizer_path(store: StoreSettings, build_name: str) -> str:
    return f"{engine_dir(store.mount_path, build_name)}/tokenizer"


def perf_metrics_enabled(infd: InferenceDeployment) -> bool:
    """Whether the server exposes Prometheus metrics (monitoring on, and the backend can afford it)."""
    if not infd.spec.monitoring.enabled:
        return False
    return infd.spec.engine.tensorrt_llm.backend is TrtllmBackend.PYTORCH or ENGINE_BACKEND_PERF_METRICS


def llm_api_options(infd: InferenceDeployment) -> list[str]:
    """Lines of the LLM API options YAML (arguments trtllm-serve has no flag for); empty when none needed."""
    lines: list[str] = []
    if perf_metrics_enabled(infd):
        lines.append("return_perf_metrics: true")
    dtype = infd.spec.precision.dtype
    if infd.spec.engine.tensorrt_llm.backend is TrtllmBackend.PYTORCH and dtype is not DType.AUTO:
        lines.append(f"dtype: {dtype.value}")  # an engine's dtype is baked in at build time
    return lines


def trtllm_args(infd: InferenceDeployment, engine_build_name: str | None, store: StoreSettings) -> list[str]:
    """`trtllm-serve` arguments; the user's extra args come last so that they win."""
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    if trt.backend is TrtllmBackend.ENGINE:
        if not engine_build_name:
            raise ValueError("the engine backend needs the EngineBuild whose engine to serve")
        head = [
            "serve",
            engine_model_path(store, engine_build_name),
            "--tokenizer",
            engine_tokenizer_path(store, engine_build_name),
            "--backend",
            "tensorrt",
        ]
    else:
        head = [
            "serve",
            spec.model.name,
            "--revision",
            spec.model.revision,
            "--backend",
            "pytorch",
            # The PyTorch backend sizes its runtime from these (an engine has them baked in).
            "--max_batch_size",
            str(trt.max_batch_size),
            "--max_seq_len",
            str(trt.max_seq_len),
        ]
    args = [
        *head,
        "--host",
        "0.0.0.0",
        "--port",
        str(spec.serving.port),
        "--tp_size",
        str(spec.parallelism.tensor),
        "--pp_size",
        str(spec.parallelism.pipeline),
    ]
    if llm_api_options(infd):
        args += [EXTRA_LLM_API_OPTIONS_FLAG, CONFIG_PATH]
    return args + list(trt.extra_args)


def trtllm_command(infd: InferenceDeployment) -> list[str]:
    """`trtllm-serve`, or a bash wrapper writing the LLM API options YAML first (no ConfigMap to keep in sync)."""
    options = llm_api_options(infd)
    if not options:
        return ["trtllm-serve"]
    quoted = " ".join(f"'{line}'" for line in options)  # fixed operator-made lines, no user text
    script = f"printf '%s\\n' {quoted} > {CONFIG_PATH}\nexec trtllm-serve \"$@\"\n"
    return ["bash", "-c", script, "trtllm-serve"]


def _store_volume(infd: InferenceDeployment, store: StoreSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """For the engine backend, the store, read-only twice over: a server can never damage a shared engine."""
    if infd.spec.engine.tensorrt_llm.backend is not TrtllmBackend.ENGINE:
        return [], []
    claim = {"claimName": store.claim_name, "readOnly": True}
    return (
        [{"name": STORE_VOLUME, "persistentVolumeClaim": claim}],
        [{"name": STORE_VOLUME, "mountPath": store.mount_path, "readOnly": True}],
    )


def trtllm_scrape_annotations(infd: InferenceDeployment) -> dict[str, str]:
    """prometheus.io annotations pointing at /prometheus/metrics, only when that endpoint exists."""
    if not perf_metrics_enabled(infd):
        return {}
    return scrape_annotations(infd) | {"prometheus.io/path": PROMETHEUS_PATH}


def trtllm_serving(infd: InferenceDeployment, engine_build_name: str | None, store: StoreSettings) -> EngineServing:
    """What the TensorRT-LLM Deployment has of its own around the shared skeleton (serving.py)."""
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    volumes, mounts = _store_volume(infd, store)
    labels = {LABEL_BUILD: engine_build_name} if trt.backend is TrtllmBackend.ENGINE and engine_build_name else {}
    return EngineServing(
        engine=Engine.TENSORRT_LLM,
        container_name=CONTAINER_NAME,
        image=spec.trtllm_image,
        command=trtllm_command(infd),
        args=trtllm_args(infd, engine_build_name, store),
        env=list(trt.env),
        health_path=HEALTH_PATH,
        volumes=volumes,
        mounts=mounts,
        labels=labels,
        pod_annotations=trtllm_scrape_annotations(infd),
    )


def render_trtllm_deployment(
    infd: InferenceDeployment, engine_build_name: str | None, store: StoreSettings, hub_endpoint: str | None = None
) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource with trtllm-serve (engine_build_name: backend engine only).

    The pod template carries the EngineBuild's name as a label, so the operator can tell which engine a
    Deployment serves (controller/facts.py) and cut over only once the new engine's pods are Ready.
    """
    return render_serving_deployment(infd, trtllm_serving(infd, engine_build_name, store), hub_endpoint)
