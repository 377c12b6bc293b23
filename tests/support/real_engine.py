"""What the real-engine e2e tests share: the test bed's Hub mirror and Prometheus, an InferenceDeployment of the
generated tiny Llama placed on the process nodes (its pods are real vLLM processes), the Service's ready
endpoints read from its EndpointSlices as a proxy reads them, and OpenAI requests to them.

The pods get the model the way production pods do: the operator's INFOP_HF_ENDPOINT setting points them at the
test bed's Hub mirror (testbed/hub), and vLLM downloads the revision named in the spec.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import testbed
from .cluster import Cluster
from .engine import engine_paths

API_VERSION = "inference-operator.dev/v1alpha1"
POOL_LABEL = "testbed.inference-operator.dev/pool"
REAL_PROCESSES_TAINT = "testbed.inference-operator.dev/real-processes"
# Small enough for the 2-core CI machine: vLLM's CPU KV cache (VLLM_CPU_KVCACHE_SPACE, GiB) would default to 4.
KV_CACHE_GIB = "1"
MAX_MODEL_LEN = "512"
TINY_LLAMA_BILLIONS = 0.0015


def _state_file(*parts: str) -> Path:
    return testbed.state_dir().joinpath(*parts)


def _not_running(what: str, path: Path) -> RuntimeError:
    return RuntimeError(f"the test bed's {what} is not running ({path} missing): `make engine`, then `make testbed-up`")


def hub_endpoint() -> str:
    """The Hub mirror's URL as pods reach it (the host's address on the pods' bridge). Fails, never skips."""
    path = _state_file("hub", "endpoint")
    if not path.is_file():
        raise RuntimeError(
            f"the test bed's Hub mirror is not running ({path} missing): run `make engine`, then `make testbed-up`"
        )
    return path.read_text().strip()


def model_repo() -> str:
    return engine_paths()["MODEL_REPO_ID"]


def weights_repo() -> str:
    """The same model under the mirror's second repo id (testbed/engine/env.sh: WEIGHTS_REPO_ID): the weight-cache
    tests' own, so the mirror traffic they count for it is theirs while other pods on the bed fetch model_repo()."""
    return engine_paths()["WEIGHTS_REPO_ID"]


def model_revision() -> str:
    return engine_paths()["MODEL_REVISION"]


def tiny_llama(
    name: str,
    namespace: str,
    *,
    replicas: int = 1,
    extra_args: tuple[str, ...] = (),
    env: tuple[tuple[str, str], ...] = (),
    pool: str = "local-cpu",
    engine: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
    repo: str | None = None,
) -> dict[str, Any]:
    """An InferenceDeployment of the generated model on a process-node pool, in CPU mode (gpusPerReplica 0).

    `engine` replaces the whole spec.engine (for TensorRT-LLM cases); `spec` merges top-level spec fields; `repo`
    is the Hub repo id (model_repo() unless given).
    """
    vllm_env = [{"name": "VLLM_CPU_KVCACHE_SPACE", "value": KV_CACHE_GIB}, *({"name": k, "value": v} for k, v in env)]
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "InferenceDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            # Its size, as a user states a model's size the name does not give: the operator sizes the pods' disk
            # by it (1.4 M parameters, testbed/model); without it an 8B model's 25Gi each, and a third replica
            # does not fit the process node's 50Gi of ephemeral storage.
            "model": {
                "name": repo or model_repo(),
                "revision": model_revision(),
                "parametersBillions": TINY_LLAMA_BILLIONS,
            },
            "replicas": replicas,
            "engine": engine
            or {
                "preference": "vllm",
                "vllm": {"extraArgs": ["--max-model-len", MAX_MODEL_LEN, *extra_args], "env": vllm_env},
            },
            "resources": {
                "gpusPerReplica": 0,
                "cpu": 1,
                "memory": "4Gi",
                "shmSize": "256Mi",
                "nodeSelector": {POOL_LABEL: pool},
                "tolerations": [{"key": REAL_PROCESSES_TAINT, "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
    }
    body["spec"].update(spec or {})
    return body


@dataclass(frozen=True)
class Endpoint:
    pod: str
    ip: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"


def ready_endpoints(cluster: Cluster, namespace: str, service: str, port_name: str = "http") -> list[Endpoint]:
    """The Service's ready endpoints, from its EndpointSlices (made by the real EndpointSlice controller)."""
    slices = cluster.items("endpointslices.discovery.k8s.io", namespace, f"kubernetes.io/service-name={service}")
    found: list[Endpoint] = []
    for s in slices:
        ports = [p["port"] for p in s.get("ports") or [] if p.get("name") == port_name and p.get("port")]
        if not ports:
            continue
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is not True:
                continue
            pod = (ep.get("targetRef") or {}).get("name", "")
            found.extend(Endpoint(pod, address, ports[0]) for address in ep.get("addresses") or [])
    return sorted(found, key=lambda e: (e.pod, e.ip))


def post_json(url: str, body: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        result: dict[str, Any] = json.load(response)
    return result


def get_text(url: str, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text: str = response.read().decode()
    return text


def completion(base_url: str, model: str, prompt: str = "The operator", max_tokens: int = 8) -> dict[str, Any]:
    return post_json(f"{base_url}/v1/completions", {"model": model, "prompt": prompt, "max_tokens": max_tokens})


def chat(base_url: str, model: str, content: str = "Hello", max_tokens: int = 8) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
    return post_json(f"{base_url}/v1/chat/completions", body)


def http_error_text(err: urllib.error.HTTPError) -> str:
    try:
        return f"HTTP {err.code}: {err.read().decode(errors='replace')[:300]}"
    except OSError:
        return f"HTTP {err.code}"
