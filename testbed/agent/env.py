"""A container's environment and command line from its pod spec, as the kubelet computes them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# (kind "Secret" | "ConfigMap", namespace, name) -> its data, decoded; None when it does not exist.
Fetch = Callable[[str, str, str], dict[str, str] | None]


class ConfigError(Exception):
    """The container's config cannot be made (waiting reason CreateContainerConfigError, as the kubelet says)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """$(VAR) expansion by Kubernetes' rules: $$ is a literal $, an undefined or unterminated reference stays."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env[name] if name in env else text[i : end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_value(pod: Mapping[str, Any], path: str) -> str:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs") or []),
        "status.hostIPs": ",".join(p["ip"] for p in status.get("hostIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    match = _SUBSCRIPT.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ConfigError(f"fieldRef.fieldPath {path!r} is not supported")


def _source(ref: Mapping[str, Any], kind: str, namespace: str, fetch: Fetch) -> str | None:
    data = fetch(kind, namespace, ref.get("name", ""))
    optional = bool(ref.get("optional"))
    if data is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
    if ref["key"] not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref.get('name')}")
    return data[ref["key"]]


def container_env(
    pod: Mapping[str, Any], container: Mapping[str, Any], base: Mapping[str, str], fetch: Fetch
) -> dict[str, str]:
    """base (the image's PATH, env), then envFrom, then env in order, each value expanded against those before."""
    namespace = pod["metadata"]["namespace"]
    env = dict(base)
    for src in container.get("envFrom") or []:
        kind, ref = ("ConfigMap", src["configMapRef"]) if "configMapRef" in src else ("Secret", src.get("secretRef"))
        if not ref:
            continue
        data = fetch(kind, namespace, ref.get("name", ""))
        if data is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
        env.update({src.get("prefix", "") + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(var.get("value") or "", env)
            continue
        value_from = var["valueFrom"]
        value: str | None
        if "fieldRef" in value_from:
            value = field_value(pod, value_from["fieldRef"]["fieldPath"])
        elif "secretKeyRef" in value_from:
            value = _source(value_from["secretKeyRef"], "Secret", namespace, fetch)
        elif "configMapKeyRef" in value_from:
            value = _source(value_from["configMapKeyRef"], "ConfigMap", namespace, fetch)
        else:
            raise ConfigError(f"env {name}: valueFrom {sorted(value_from)} is not supported by the node agent")
        if value is not None:
            env[name] = value
    return env


def command_line(container: Mapping[str, Any], entrypoint: list[str], env: Mapping[str, str]) -> list[str]:
    """command (or the image's entrypoint) + args, with $(VAR) expanded; the kubelet's rule for each."""
    command = list(container.get("command") or entrypoint)
    args = list(container.get("args") or [])
    return [expand(part, env) for part in command + args]
