"""The TensorRT-LLM serving Deployment: trtllm-serve for one InferenceDeployment. Pure.

Two backends (spec.engine.tensorrtLLM.backend):
- engine: trtllm-serve on a compiled engine from the store (<mount>/<build>/engine, mounted read-only), with
  the tokenizer files the build copied next to it, so serving needs neither the Hub nor a compile.
- pytorch: trtllm-serve on the Hugging Face checkpoint with the PyTorch backend; no compile, no store.

Flags follow tensorrt_llm/commands/serve.py of the pinned release (api/images.py): `trtllm-serve serve MODEL`
(MODEL: "model name | HF checkpoint path | TensorRT engine path"), --backend pytorch|tensorrt (default
pytorch since 1.0, so the engine path must say tensorrt), --host (default localhost: must be 0.0.0.0 in a
pod), --port, --tp_size, --pp_size, --tokenizer, --revision, --max_batch_size, --max_seq_len, and --config
(alias --extra_llm_api_options), a YAML file of LLM API arguments.
"""

from __future__ import annotations

from typing import Any

from ..api.inference_deployment import DType, Engine, InferenceDeployment, TrtllmBackend
from ..engine_key import engine_dir
from ..settings import StoreSettings
from .common import (
    COMPONENT_SERVING,
    LABEL_BUILD,
    MODEL_CACHE_PATH,
    SHM_PATH,
    cache_env,
    common_labels,
    container_resources,
    container_security_context,
    deployment_strategy,
    gpu_scheduling,
    hf_token_env,
    merge_env,
    object_meta,
    pod_security_context,
    probe,
    progress_deadline_seconds,
    scrape_annotations,
    selector_labels,
    serving_name,
    user_env,
)

CONTAINER_NAME = "trtllm"
PORT_NAME = "http"
SHM_VOLUME = "dshm"
CACHE_VOLUME = "model-cache"
STORE_VOLUME = "engine-store"

# trtllm-serve builds the LLM (loads engine or weights) before its HTTP server listens (launch_server in
# tensorrt_llm/commands/serve.py), and /health answers 200 only while the executor reports healthy, 503
# otherwise (tensorrt_llm/serve/openai_server.py, health/_check_health). /health_generate runs a real
# generation: too heavy for a probe every 10 s.
HEALTH_PATH = "/health"

# Same timing as the vLLM path: 10 s x 180 = 30 minutes to load a large engine or download a checkpoint.
STARTUP_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 180}
READINESS_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
LIVENESS_PROBE = {"periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 5}
TERMINATION_GRACE_PERIOD_SECONDS = 120

# trtllm-serve's /metrics returns JSON iteration statistics, not Prometheus text; Prometheus metrics are
# served at /prometheus/metrics only when the LLM runs with return_perf_metrics: true (openai_server.py,
# register_routes/mount_metrics; default false).
PROMETHEUS_PATH = "/prometheus/metrics"
# With the TensorRT (engine) backend, return_perf_metrics crashed trtllm-serve at start (TensorRT-LLM#9678,
# 1.2.0rc2; fixed on main by #10662): keep it off there until the pinned release is known to carry the fix.
ENGINE_BACKEND_PERF_METRICS = False
CONFIG_PATH = f"{MODEL_CACHE_PATH}/trtllm-serve.yaml"


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
    """Lines of the --config YAML (LLM API arguments trtllm-serve has no flag for); empty when none needed."""
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
        args += ["--config", CONFIG_PATH]
    return args + list(trt.extra_args)


def trtllm_command(infd: InferenceDeployment) -> list[str]:
    """`trtllm-serve`, or a bash wrapper writing the --config YAML first (no ConfigMap to keep in sync)."""
    options = llm_api_options(infd)
    if not options:
        return ["trtllm-serve"]
    quoted = " ".join(f"'{line}'" for line in options)  # fixed operator-made lines, no user text
    script = f"printf '%s\\n' {quoted} > {CONFIG_PATH}\nexec trtllm-serve \"$@\"\n"
    return ["bash", "-c", script, "trtllm-serve"]


def _volumes(infd: InferenceDeployment, store: StoreSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """/dev/shm for NCCL/MPI between ranks, a writable cache, and for engines the store, read-only."""
    volumes: list[dict[str, Any]] = [
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": infd.spec.resources.shm_size}},
        {"name": CACHE_VOLUME, "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": SHM_VOLUME, "mountPath": SHM_PATH},
        {"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_PATH},
    ]
    if infd.spec.engine.tensorrt_llm.backend is TrtllmBackend.ENGINE:
        # Read-only twice over: a server can never damage an engine other resources share.
        claim = {"claimName": store.claim_name, "readOnly": True}
        volumes.append({"name": STORE_VOLUME, "persistentVolumeClaim": claim})
        mounts.append({"name": STORE_VOLUME, "mountPath": store.mount_path, "readOnly": True})
    return volumes, mounts


def _probes(infd: InferenceDeployment) -> dict[str, dict[str, Any]]:
    overrides = infd.spec.serving.probes

    def health_check(timing: dict[str, int]) -> dict[str, Any]:
        # A fresh httpGet per probe: shared objects would become YAML anchors.
        return {"httpGet": {"path": HEALTH_PATH, "port": PORT_NAME}} | timing

    return {
        "startupProbe": probe(health_check(STARTUP_PROBE), overrides.startup),
        "readinessProbe": probe(health_check(READINESS_PROBE), overrides.readiness),
        "livenessProbe": probe(health_check(LIVENESS_PROBE), overrides.liveness),
    }


def _container(
    infd: InferenceDeployment,
    engine_build_name: str | None,
    store: StoreSettings,
    probes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    _, mounts = _volumes(infd, store)
    env = merge_env(hf_token_env(spec.model.credentials) + cache_env(), user_env(trt.env))
    return {
        "name": CONTAINER_NAME,
        "image": spec.trtllm_image,
        "imagePullPolicy": "IfNotPresent",
        "command": trtllm_command(infd),
        "args": trtllm_args(infd, engine_build_name, store),
        "env": env,
        "ports": [{"name": PORT_NAME, "containerPort": spec.serving.port, "protocol": "TCP"}],
        "resources": container_resources(spec.resources, spec.gpus_per_replica),
        "volumeMounts": mounts,
        **probes,
        "securityContext": container_security_context(),
    }


def _pod_spec(infd: InferenceDeployment, store: StoreSettings, container: dict[str, Any]) -> dict[str, Any]:
    spec = infd.spec
    volumes, _ = _volumes(infd, store)
    node_selector, tolerations = gpu_scheduling(spec.resources.gpu_product, spec.gpus_per_replica)
    node_selector = node_selector | spec.resources.node_selector
    tolerations = tolerations + [t.to_wire() for t in spec.resources.tolerations]
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,  # the server never talks to the API server
        "enableServiceLinks": False,  # no *_PORT variables from the namespace's Services in the environment
        "terminationGracePeriodSeconds": TERMINATION_GRACE_PERIOD_SECONDS,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    if node_selector:
        pod["nodeSelector"] = node_selector
    if tolerations:
        pod["tolerations"] = tolerations
    return pod


def trtllm_scrape_annotations(infd: InferenceDeployment) -> dict[str, str]:
    """prometheus.io annotations pointing at /prometheus/metrics, only when that endpoint exists."""
    if not perf_metrics_enabled(infd):
        return {}
    return scrape_annotations(infd) | {"prometheus.io/path": PROMETHEUS_PATH}


def render_trtllm_deployment(
    infd: InferenceDeployment, engine_build_name: str | None, store: StoreSettings
) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource with trtllm-serve (engine_build_name: backend engine only).

    The pod template carries the EngineBuild's name as a label, so the operator can tell which engine a
    Deployment serves (observed.py) and cut over only once the new engine's pods are Ready.
    """
    spec = infd.spec
    labels = common_labels(infd, Engine.TENSORRT_LLM, COMPONENT_SERVING)
    if spec.engine.tensorrt_llm.backend is TrtllmBackend.ENGINE and engine_build_name:
        labels[LABEL_BUILD] = engine_build_name
    probes = _probes(infd)
    template_metadata: dict[str, Any] = {"labels": dict(labels)}
    annotations = trtllm_scrape_annotations(infd)
    if annotations:
        template_metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(infd, serving_name(infd, Engine.TENSORRT_LLM), labels),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector_labels(infd, Engine.TENSORRT_LLM)},
            "strategy": deployment_strategy(spec.serving.rollout),
            "progressDeadlineSeconds": progress_deadline_seconds(probes["startupProbe"]),
            "template": {
                "metadata": template_metadata,
                "spec": _pod_spec(infd, store, _container(infd, engine_build_name, store, probes)),
            },
        },
    }
