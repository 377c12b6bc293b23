"""`inference-operator render`: what the operator would write for a resource, from the reconcile's own
desired-state functions (controller/inference_deployment/lifecycle.py). No cluster needed."""

from __future__ import annotations

import argparse
import json
import re
import sys

import yaml
from pydantic import ValidationError

from ..api.errors import InvalidSpec
from ..api.inference_deployment import NAME_MAX_LENGTH, NAME_PATTERN, InferenceDeployment
from ..api.settings import from_env
from ..controller.inference_deployment.lifecycle import ASSIGNED_BY_THE_CLUSTER, converged_objects
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


def cmd_render(args: argparse.Namespace) -> int:

    try:
        body = load_resource(args.file)
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        _check_name(args.file, (meta or {}).get("name"))
        body["metadata"] = {"namespace": args.namespace, **(meta or {}), "uid": ASSIGNED_BY_THE_CLUSTER}
        infd = InferenceDeployment.model_validate(body)
        objects = converged_objects(infd, from_env(), monitoring_api=not args.no_pod_monitor)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: {args.file}: {format_validation_error(exc)}", file=sys.stderr)
        return 2
    except InvalidSpec as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2, sort_keys=True))
    else:
        sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=True, explicit_start=True))
    return 0
