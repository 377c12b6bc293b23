"""A pod's volumes as local directories: emptyDir (either medium) per pod, a PVC's directory per bound volume
(so every pod of one claim shares it, and it outlives the pods), configMap/secret/projected/downwardAPI files.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.env import ConfigError, Fetch, field_value

# (namespace, claim name) -> the bound PersistentVolume's name, or None while the claim is unbound.
ClaimVolume = Callable[[str, str], str | None]
# (namespace, service account, audience or "", expiration seconds) -> a token from the TokenRequest API.
Token = Callable[[str, str, str, int], str]


class VolumeError(ConfigError):
    """A volume cannot be set up yet (the pod waits in ContainerCreating and the agent retries)."""


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    def as_spec(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "readOnly": self.read_only}


def _write_files(directory: Path, files: Mapping[str, tuple[str, int]]) -> None:
    for rel, (content, mode) in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)


def _items(data: Mapping[str, str], items: list[dict[str, Any]] | None, mode: int) -> dict[str, tuple[str, int]]:
    if not items:
        return {k: (v, mode) for k, v in data.items()}
    return {i["path"]: (data[i["key"]], int(i.get("mode", mode))) for i in items if i["key"] in data}


def _object_files(kind: str, src: Mapping[str, Any], namespace: str, fetch: Fetch, mode: int) -> dict[str, Any]:
    name = src.get("name") or src.get("secretName") or ""
    data = fetch(kind, namespace, name)
    if data is None:
        if src.get("optional"):
            return {}
        raise VolumeError(f'{kind.lower()} "{name}" not found')
    return _items(data, src.get("items"), mode)


class PodVolumes:
    """Sets up the volumes of one pod under `pod_dir`; PVC data under `claims_dir`/<volume name>."""

    def __init__(self, pod: Mapping[str, Any], pod_dir: Path, claims_dir: Path) -> None:
        self.pod = pod
        self.pod_dir = pod_dir
        self.claims_dir = claims_dir
        self.paths: dict[str, Path] = {}
        self.read_only: set[str] = set()

    def setup(self, fetch: Fetch, claim_volume: ClaimVolume, token: Token) -> None:
        namespace = self.pod["metadata"]["namespace"]
        for vol in self.pod["spec"].get("volumes") or []:
            name = vol["name"]
            here = self.pod_dir / "volumes" / name
            if "emptyDir" in vol:
                here.mkdir(parents=True, exist_ok=True)
                here.chmod(0o777)  # as the kubelet makes an emptyDir: writable by any uid
            elif "persistentVolumeClaim" in vol:
                claim = vol["persistentVolumeClaim"]["claimName"]
                pv = claim_volume(namespace, claim)
                if not pv:
                    raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound yet')
                here = self.claims_dir / pv
                here.mkdir(parents=True, exist_ok=True)
                here.chmod(0o777)
                if vol["persistentVolumeClaim"].get("readOnly"):
                    self.read_only.add(name)
            else:
                self._files(vol, here, fetch, token)
                self.read_only.add(name)
            self.paths[name] = here

    def _files(self, vol: Mapping[str, Any], here: Path, fetch: Fetch, token: Token) -> None:
        namespace = self.pod["metadata"]["namespace"]
        files: dict[str, tuple[str, int]] = {}
        if "configMap" in vol:
            src = vol["configMap"]
            files = _object_files("ConfigMap", src, namespace, fetch, int(src.get("defaultMode", 0o644)))
        elif "secret" in vol:
            src = vol["secret"]
            files = _object_files("Secret", src, namespace, fetch, int(src.get("defaultMode", 0o644)))
        elif "downwardAPI" in vol:
            src = vol["downwardAPI"]
            files = self._downward(src.get("items") or [], int(src.get("defaultMode", 0o644)))
        elif "projected" in vol:
            mode = int(vol["projected"].get("defaultMode", 0o644))
            for src in vol["projected"].get("sources") or []:
                if "configMap" in src:
                    files.update(_object_files("ConfigMap", src["configMap"], namespace, fetch, mode))
                elif "secret" in src:
                    files.update(_object_files("Secret", src["secret"], namespace, fetch, mode))
                elif "downwardAPI" in src:
                    files.update(self._downward(src["downwardAPI"].get("items") or [], mode))
                elif "serviceAccountToken" in src:
                    sat = src["serviceAccountToken"]
                    sa = self.pod["spec"].get("serviceAccountName") or "default"
                    value = token(namespace, sa, sat.get("audience", ""), int(sat.get("expirationSeconds", 3607)))
                    files[sat["path"]] = (value, mode)
        else:
            kinds = sorted(k for k in vol if k != "name")
            raise VolumeError(f'volume "{vol["name"]}": type {kinds} is not supported by the test bed\'s node agent')
        if here.exists():
            shutil.rmtree(here)
        here.mkdir(parents=True)
        here.chmod(0o755)
        _write_files(here, files)

    def _downward(self, items: list[dict[str, Any]], mode: int) -> dict[str, tuple[str, int]]:
        out = {}
        for item in items:
            if "fieldRef" not in item:
                raise VolumeError(f"downwardAPI item {item.get('path')}: only fieldRef is supported")
            out[item["path"]] = (field_value(self.pod, item["fieldRef"]["fieldPath"]), int(item.get("mode", mode)))
        return out

    def mounts(self, container: Mapping[str, Any]) -> list[Mount]:
        out = []
        for vm in container.get("volumeMounts") or []:
            name = vm["name"]
            if name not in self.paths:
                raise ConfigError(f'volumeMount "{name}": no volume of that name in the pod')
            source = self.paths[name]
            if vm.get("subPath"):
                source = source / vm["subPath"]
                if not source.exists():
                    source.mkdir(parents=True, mode=0o777)
            read_only = bool(vm.get("readOnly")) or name in self.read_only
            out.append(Mount(str(source), vm["mountPath"], read_only))
        return out

    def cleanup(self) -> None:
        """The pod's own directories; a claim's data stays (it belongs to the volume, not the pod)."""
        if self.pod_dir.exists():
            shutil.rmtree(self.pod_dir, ignore_errors=True)
