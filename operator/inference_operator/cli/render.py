"""`inference-operator render`: what the operator would write for a resource, from the reconcile's own
desired-state functions (controller/inference_deployment/lifecycle.py). No cluster needed.

`--engine-builds` prints only the EngineBuilds, one per engine key, for a pipeline to apply ahead of the
resources (precompile, docs/engine-builds.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

import yaml
from pydantic import ValidationError

from ..api.errors import InvalidSpec
from ..api.inference_deployment import NAME_MAX_LENGTH, NAME_PATTERN, InferenceDeployment
from ..api.settings import OperatorSettings, from_env
from ..controller.inference_deployment.lifecycle import ASSIGNED_BY_THE_CLUSTER, converged_objects, engine_build_for
from .manifest_io import ManifestError, format_validation_error, load_resource


def _check_name(path: str, name: object) -> None:
    """metadata.name as the API server checks it (the CRD's rules): children and the Service are named after it."""
    if name is None:
        raise ManifestError(path, "metadata.name: required")
    if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH or not re.match(NAME_PATTERN, name):
        raise ManifestError(
            path,
            f"metadata.name: must be at most {NAME_MAX_LENGTH} characters of a-z, 0-9 and '-', starting with a "
            "letter (it names a Service)",
        )


def _load(path: str, namespace: str) -> InferenceDeployment:
    body = load_resource(path)
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    _check_name(path, (meta or {}).get("name"))
    body["metadata"] = {"namespace": namespace, **(meta or {}), "uid": ASSIGNED_BY_THE_CLUSTER}
    return InferenceDeployment.model_validate(body)


def _engine_builds(infd: InferenceDeployment, settings: OperatorSettings, path: str) -> list[dict[str, Any]]:
    """The resource's EngineBuild, or none (said on stderr: vLLM, the PyTorch backend, no engine to compile)."""
    build = engine_build_for(infd, settings)
    if build is None:
        print(f"note: {path}: {infd.metadata['name']} needs no engine build", file=sys.stderr)
        return []
    return [build]


def _objects(args: argparse.Namespace) -> list[dict[str, Any]]:
    settings = from_env()
    objects: list[dict[str, Any]] = []
    for path in args.files:
        try:
            infd = _load(path, args.namespace)
            if args.engine_builds:
                objects += _engine_builds(infd, settings, path)
            else:
                objects += converged_objects(infd, settings, monitoring_api=not args.no_pod_monitor)
        except ValidationError as exc:
            raise ManifestError(path, format_validation_error(exc)) from None
        except InvalidSpec as exc:
            raise ManifestError(path, str(exc)) from None
    if args.engine_builds:  # resources with one engine key share one EngineBuild
        unique = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}
        objects = list(unique.values())
    return objects


def cmd_render(args: argparse.Namespace) -> int:

    try:
        objects = _objects(args)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2, sort_keys=True))
    else:
        sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=True, explicit_start=True))
    return 0
