"""Generates the CustomResourceDefinitions from the pydantic models.

Kubernetes wants a *structural* schema: every node typed, no `$ref`, no `anyOf` with null for optional fields,
and `x-kubernetes-*` extensions where plain OpenAPI cannot say it. Pydantic's JSON schema is close; this module
closes the gap. The committed files in `crds/` must equal `render_crds()` byte for byte (a test checks it).
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from .. import GROUP, VERSION
from . import engine_build, inference_deployment, weight_cache

_DROP = {"title", "additionalProperties"}


class SchemaError(ValueError):
    """The models produced something the converter cannot express structurally."""


def _deref(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return _deref(merged, defs)


def _strip_null(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` (pydantic's Optional) becomes X; the null default is dropped."""
    variants = node.get("anyOf")
    if variants is None:
        return node
    non_null = [v for v in variants if v.get("type") != "null"]
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if rest.get("default", 0) is None:
        del rest["default"]
    if len(non_null) == 1:
        return {**non_null[0], **rest}
    return {**rest, "anyOf": non_null}


def _convert(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    node = _deref(_strip_null(_deref(node, defs)), defs)
    if node.get("x-kubernetes-int-or-string") or _is_int_or_string(node):
        return _int_or_string(node)
    if "anyOf" in node:
        raise SchemaError(f"{path}: a union other than int-or-string cannot be expressed structurally")
    out = {k: v for k, v in node.items() if k not in _DROP and k not in {"properties", "items", "$defs"}}
    kind = node.get("type")
    if kind is None and "enum" in node:
        out["type"] = "string"
    if kind == "object" or "properties" in node:
        out.update(_object(node, defs, path))
    if kind == "array":
        out["items"] = _convert(node.get("items", {}), defs, f"{path}[]")
    if "type" not in out and "x-kubernetes-preserve-unknown-fields" not in out:
        raise SchemaError(f"{path}: no type")
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # JSON Schema's numeric exclusive bounds are OpenAPI v3.0's boolean flag on minimum/maximum.
        if isinstance(out.get(bound), int | float) and not isinstance(out[bound], bool):
            out[limit], out[bound] = out[bound], True
    return _ordered(out)


_FIRST = ("description", "type", "enum", "default")
_LAST = ("x-kubernetes-validations", "required", "properties", "additionalProperties", "items")


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    """A stable, readable key order: what a field is first, its children last."""
    middle = sorted(k for k in node if k not in _FIRST and k not in _LAST)
    return {k: node[k] for k in (*_FIRST, *middle, *_LAST) if k in node}


def _object(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    """An object's children: named properties, a map's value type, or free-form content."""
    props = node.get("properties")
    if props is not None:
        required = node.get("required", [])
        return {
            "type": "object",
            "properties": {name: _property(name, sub, required, defs, f"{path}.{name}") for name, sub in props.items()},
        }
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        return {"type": "object", "additionalProperties": _convert(extra, defs, f"{path}[*]")}
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _property(name: str, sub: dict[str, Any], required: list[str], defs: dict[str, Any], path: str) -> dict[str, Any]:
    converted = _convert(sub, defs, path)
    # A nested settings block with a default factory: default it to {} so the API server fills in its fields.
    if name not in required and "$ref" in sub and "default" not in sub:
        target = _deref(sub, defs)
        if target.get("type") == "object" and not target.get("required"):
            converted = _ordered({**converted, "default": {}})
    return converted


def _int_or_string(node: dict[str, Any]) -> dict[str, Any]:
    """An int-or-string field. A structural schema types nothing inside anyOf, so the members' checks move up:
    the API server applies a pattern only to the string form, bounds only to the integer form."""
    out: dict[str, Any] = {"x-kubernetes-int-or-string": True}
    for key in ("description", "default"):
        if key in node:
            out[key] = node[key]
    for member in node.get("anyOf", []):
        for key in ("pattern", "minimum", "maximum"):
            if key in member:
                out[key] = member[key]
    return _ordered(out)


def _is_int_or_string(node: dict[str, Any]) -> bool:
    kinds = {v.get("type") for v in node.get("anyOf", [])}
    return kinds == {"integer", "string"}


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Structural OpenAPI v3 schema of a top-level resource model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    schema = _convert(raw, defs, model.__name__)
    schema["properties"]["metadata"] = {"type": "object"}
    schema.pop("required", None)
    schema["required"] = ["spec"]
    return schema


def _column(
    name: str, json_path: str, kind: str = "string", priority: int = 0, description: str = ""
) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": kind, "jsonPath": json_path}
    if priority:
        col["priority"] = priority
    if description:
        col["description"] = description
    return col


def _crd(module: Any, model: type[BaseModel], columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{module.PLURAL}.{GROUP}",
            "labels": {
                "app.kubernetes.io/name": "inference-operator",
                "app.kubernetes.io/part-of": "inference-operator",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": module.KIND,
                "listKind": f"{module.KIND}List",
                "plural": module.PLURAL,
                "singular": module.SINGULAR,
                "shortNames": module.SHORT_NAMES,
                "categories": ["inference"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": openapi_schema(model)},
                }
            ],
        },
    }


def inference_deployment_crd() -> dict[str, Any]:
    return _crd(
        inference_deployment,
        inference_deployment.InferenceDeployment,
        [
            _column("Engine", ".status.engine.active", description="Engine serving right now"),
            _column("Phase", ".status.phase"),
            _column("Ready", ".status.readyReplicas", "integer", description="Ready serving replicas"),
            _column("Endpoint", ".status.endpoint"),
            _column("Age", ".metadata.creationTimestamp", "date"),
            _column("Model", ".spec.model.name", priority=1),
            _column("Selected", ".status.engine.selected", priority=1, description="Engine the operator aims for"),
            _column("Reason", ".status.engine.reason", priority=1),
        ],
    )


def engine_build_crd() -> dict[str, Any]:
    return _crd(
        engine_build,
        engine_build.EngineBuild,
        [
            _column("Kind", ".spec.kind", description="Engine or Quantization (unset: Engine)"),
            _column("Model", ".spec.model"),
            _column("GPU", ".spec.gpuProduct"),
            _column("Quantization", ".spec.quantization"),
            _column("Phase", ".status.phase"),
            _column("Building", ".status.buildingSince", "date", description="Time since the compile started"),
            _column("Expected", ".status.expectedDuration", description="How long the compile should take"),
            _column("Duration", ".status.durationSeconds", "integer", description="Build seconds"),
            _column("Age", ".metadata.creationTimestamp", "date"),
            _column("Job", ".status.jobName", priority=1),
            _column("Message", ".status.message", priority=1),
        ],
    )


def weight_cache_crd() -> dict[str, Any]:
    return _crd(
        weight_cache,
        weight_cache.WeightCache,
        [
            _column("Model", ".spec.model"),
            _column("Revision", ".spec.revision"),
            _column("Source", ".spec.source", priority=1),
            _column("Size", ".spec.size"),
            _column("Phase", ".status.phase"),
            _column("Age", ".metadata.creationTimestamp", "date"),
            _column("Message", ".status.message", priority=1),
        ],
    )


class _PlainDumper(yaml.SafeDumper):
    """Writes shared sub-objects out in full: CRDs must not carry YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def crd_files() -> dict[str, str]:
    """File name in crds/ -> YAML text, in the order `cat crds/*.yaml` reads them."""
    files = {
        f"{GROUP}_{engine_build.PLURAL}.yaml": engine_build_crd(),
        f"{GROUP}_{inference_deployment.PLURAL}.yaml": inference_deployment_crd(),
        f"{GROUP}_{weight_cache.PLURAL}.yaml": weight_cache_crd(),
    }
    return {
        name: "---\n" + yaml.dump(body, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=120)
        for name, body in sorted(files.items())
    }


def render_crds() -> str:
    """Every CRD, as one YAML stream: exactly the concatenation of the files in crds/."""
    return "".join(crd_files().values())
