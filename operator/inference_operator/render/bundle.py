"""Everything the operator would apply for one resource over its life, for `inference-operator render`. Pure."""

from __future__ import annotations

from typing import Any

from ..advisor.engine_choice import choose_engine, trtllm_blocker
from ..api.engine_build import EngineBuild
from ..api.inference_deployment import Engine, InferenceDeployment, TrtllmBackend
from ..engine_key import render_engine_build
from ..settings import OperatorSettings
from .build_job import render_build_job
from .podmonitor import render_pod_monitor
from .service import render_service
from .store import render_engine_store
from .trtllm import render_trtllm_deployment
from .vllm import render_vllm_deployment


def render_all(
    infd: InferenceDeployment, settings: OperatorSettings, monitoring_api: bool = True
) -> list[dict[str, Any]]:
    """The objects of the converged state, preceded by what gets there.

    For a compiled TensorRT-LLM engine that is: the engine store, the EngineBuild and its Job, the vLLM
    Deployment that serves while the engine compiles (removed at the cut-over), the TensorRT-LLM Deployment,
    and the Service routing to it. Owner UIDs are placeholders: the cluster assigns them.
    """
    choice = choose_engine(infd, settings.decision)
    objects: list[dict[str, Any]] = []
    route = choice.selected
    if choice.selected is Engine.TENSORRT_LLM and trtllm_blocker(infd) is not None:
        route = Engine.VLLM  # the fallback (or nothing, with fallback none: then this is what would have run)
    if route is Engine.VLLM:
        objects.append(render_vllm_deployment(infd))
    elif infd.spec.engine.tensorrt_llm.backend is TrtllmBackend.PYTORCH:
        if infd.spec.engine.serve_while_building:
            objects.append(render_vllm_deployment(infd))
        objects.append(render_trtllm_deployment(infd, None, settings.store))
    else:
        build_obj = render_engine_build(infd, settings.store)
        build = EngineBuild.model_validate(
            {**build_obj, "metadata": {**build_obj["metadata"], "uid": "<assigned-by-the-cluster>"}}
        )
        objects += [
            render_engine_store(infd.metadata["namespace"], settings.store),
            build_obj,
            render_build_job(build, settings.store),
        ]
        if infd.spec.engine.serve_while_building:
            objects.append(render_vllm_deployment(infd))
        objects.append(render_trtllm_deployment(infd, build_obj["metadata"]["name"], settings.store))
    objects.append(render_service(infd, route))
    if monitoring_api and infd.spec.monitoring.enabled:
        objects.append(render_pod_monitor(infd))
    return objects
