"""The TensorRT-LLM serving Deployment: trtllm-serve for one InferenceDeployment. Pure.

Two backends (spec.engine.tensorrtLLM.backend):
- engine: trtllm-serve on a compiled engine from the store (<mount>/<build>/engine, mounted read-only), with
  the tokenizer files the build copied next to it, so serving needs neither the Hub nor a compile.
- pytorch: trtllm-serve on the Hugging Face checkpoint with the PyTorch backend; no compile, no store. With a
  complete weight cache entry, on the entry's directory (a local checkpoint path), read-only and offline.

What differs between TensorRT-LLM release lines (the backends, the --backend values, the options flag, /health,
the metrics path and the options that turn the metrics on) comes from the recipe table's row for the image
(api/trtllm_recipes.py); this module only assembles it. Flags common to every row, from
tensorrt_llm/commands/serve.py of v1.2.1 (the 1.3.0rc21+ row takes them as unchanged: see its sources):
`trtllm-serve serve MODEL` (MODEL: "model name | HF checkpoint path | TensorRT engine path"), --host (default
localhost: must be 0.0.0.0 in a pod), --port, --tp_size, --pp_size, --tokenizer, --revision, --max_batch_size,
--max_seq_len.
"""

from __future__ import annotations

from typing import Any

from ..api.env_vars import EnvVar
from ..api.inference_deployment import DType, Engine, InferenceDeployment, TrtllmBackend
from ..api.labels import LABEL_BUILD
from ..api.settings import StoreSettings
from ..api.trtllm_recipes import TrtllmRecipe
from .common import MODEL_CACHE_PATH, scrape_annotations
from .engine_key import engine_dir
from .quantize_job import checkpoint_dir, store_mount
from .serving import EngineServing, render_serving_deployment
from .weight_cache import LABEL_WEIGHT_CACHE, serving_model_path, serving_volume

CONTAINER_NAME = "trtllm"
STORE_VOLUME = "engine-store"

# Probe timings and the grace period are the skeleton's (serving.py), as for vLLM. /health_generate runs a real
# generation: too heavy for a probe every 10 s, so every row probes its plain health path.

# trtllm-serve's /metrics returns JSON iteration statistics, not Prometheus text; Prometheus text is on the row's
# metrics path, mounted only when the LLM runs with the row's metrics options (openai_server.py, mount_metrics).
CONFIG_PATH = f"{MODEL_CACHE_PATH}/trtllm-serve.yaml"


def recipe_of(infd: InferenceDeployment) -> TrtllmRecipe:
    return infd.spec.engine.tensorrt_llm.resolved_recipe


def engine_model_path(store: StoreSettings, build_name: str) -> str:
    return f"{engine_dir(store.mount_path, build_name)}/engine"


def engine_tokenizer_path(store: StoreSettings, build_name: str) -> str:
    return f"{engine_dir(store.mount_path, build_name)}/tokenizer"


def perf_metrics_enabled(infd: InferenceDeployment) -> bool:
    """Whether the server exposes Prometheus metrics (monitoring on, and the backend can afford it)."""
    if not infd.spec.monitoring.enabled:
        return False
    on_engine = recipe_of(infd).metrics.on_engine_backend
    return infd.spec.engine.tensorrt_llm.effective_backend is TrtllmBackend.PYTORCH or on_engine


def llm_api_options(infd: InferenceDeployment) -> list[str]:
    """Lines of the LLM API options YAML (arguments trtllm-serve has no flag for); empty when none needed."""
    lines: list[str] = []
    if perf_metrics_enabled(infd):
        lines += recipe_of(infd).metrics.options
    dtype = infd.spec.precision.dtype
    if infd.spec.engine.tensorrt_llm.effective_backend is TrtllmBackend.PYTORCH and dtype is not DType.AUTO:
        lines.append(f"dtype: {dtype.value}")  # an engine's dtype is baked in at build time
    return lines


def trtllm_args(
    infd: InferenceDeployment, engine_build_name: str | None, store: StoreSettings, local_model: str | None = None
) -> list[str]:
    """`trtllm-serve` arguments; the user's extra args come last so that they win. `local_model`: the PyTorch
    backend serves the checkpoint from this directory instead of the Hub (a weight cache entry, or a multi-node
    group's own download): trtllm-serve's MODEL is "model name | HF checkpoint path | TensorRT engine path"."""
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    serve = recipe_of(infd).serve
    backend = trt.effective_backend
    if backend is TrtllmBackend.ENGINE:
        if not engine_build_name:
            raise ValueError("the engine backend needs the EngineBuild whose engine to serve")
        head = [
            serve.subcommand,
            engine_model_path(store, engine_build_name),
            "--tokenizer",
            engine_tokenizer_path(store, engine_build_name),
            "--backend",
            serve.backend_values[backend],
        ]
    else:
        # A quantization build's checkpoint (hf_quant_config.json) in place of the Hub's, once it is there.
        model = [spec.model.name, "--revision", spec.model.revision]
        if engine_build_name and spec.precision.calibration is not None:
            model = [checkpoint_dir(store.mount_path, engine_build_name)]
        elif local_model is not None:
            model = [local_model]
        head = [
            serve.subcommand,
            *model,
            "--backend",
            serve.backend_values[backend],
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
        args += [serve.options_flag, CONFIG_PATH]
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
    """For the engine backend (and a quantized checkpoint), the store, read-only twice over: a server can never
    damage a shared engine."""
    if infd.spec.precision.calibration is not None:
        return store_mount(store.claim_name, store.mount_path, STORE_VOLUME)
    if infd.spec.engine.tensorrt_llm.effective_backend is not TrtllmBackend.ENGINE:
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
    return scrape_annotations(infd) | {"prometheus.io/path": recipe_of(infd).metrics.path}


def reads_weight_cache(infd: InferenceDeployment) -> bool:
    """Whether the server loads the Hugging Face checkpoint itself (the PyTorch backend, no quantization build),
    so it can load from a weight cache entry in place of the Hub. The engine backend serves from the engine store."""
    spec = infd.spec
    return spec.engine.tensorrt_llm.effective_backend is TrtllmBackend.PYTORCH and spec.precision.calibration is None


def trtllm_serving(
    infd: InferenceDeployment, engine_build_name: str | None, store: StoreSettings, weights: str | None = None
) -> EngineServing:
    """What the TensorRT-LLM Deployment has of its own around the shared skeleton (serving.py). `weights`: a
    complete weight cache entry the PyTorch backend serves from, read-only and offline (render/weight_cache.py)."""
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    volumes, mounts = _store_volume(infd, store)
    built = trt.effective_backend is TrtllmBackend.ENGINE or spec.precision.calibration is not None
    labels = {LABEL_BUILD: engine_build_name} if built and engine_build_name else {}
    if not (built and engine_build_name):
        volumes, mounts = [], []
    env = list(trt.env)
    local_model = None
    if weights and reads_weight_cache(infd):
        volume, mount = serving_volume(weights)
        volumes, mounts = [*volumes, volume], [*mounts, mount]
        labels = labels | {LABEL_WEIGHT_CACHE: weights}  # the entry is in use while a Deployment carries this
        local_model = serving_model_path()
        env = [EnvVar(name="HF_HUB_OFFLINE", value="1"), *env]
    return EngineServing(
        engine=Engine.TENSORRT_LLM,
        container_name=CONTAINER_NAME,
        image=spec.trtllm_image,
        command=trtllm_command(infd),
        args=trtllm_args(infd, engine_build_name, store, local_model),
        env=env,
        health_path=recipe_of(infd).health_path,
        volumes=volumes,
        mounts=mounts,
        labels=labels,
        pod_annotations=trtllm_scrape_annotations(infd),
    )


def render_trtllm_deployment(
    infd: InferenceDeployment,
    engine_build_name: str | None,
    store: StoreSettings,
    hub_endpoint: str | None = None,
    weights: str | None = None,
) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource with trtllm-serve (engine_build_name: backend engine only).

    The pod template carries the EngineBuild's name as a label, so the operator can tell which engine a
    Deployment serves (controller/facts.py) and cut over only once the new engine's pods are Ready.
    """
    return render_serving_deployment(infd, trtllm_serving(infd, engine_build_name, store, weights), hub_endpoint)
