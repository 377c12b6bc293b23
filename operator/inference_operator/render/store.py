"""The engine store: one PersistentVolumeClaim per namespace holding every compiled TensorRT-LLM engine.

No InferenceDeployment or EngineBuild owns it (no ownerReferences), so deleting a resource never deletes an
engine; unreferenced EngineBuilds and their engines are kept until someone deletes them.

Access modes (Kubernetes docs, "Persistent Volumes", access modes):
- ReadWriteMany (default): build Jobs write and TensorRT-LLM servers read from any node. Needs a storage class
  that offers it (NFS, CephFS, a cloud file store).
- ReadWriteOnce: "mounted as read-write by a single node"; pods on that same node may share it. So every build
  Job and every TensorRT-LLM server of the namespace must land on one node, and a second GPU node can never
  serve an engine: pods elsewhere stay ContainerCreating (Multi-Attach error). Fine for a single-node cluster.
"""

from __future__ import annotations

from typing import Any

from ..api.inference_deployment import Engine
from ..api.labels import COMPONENT_STORE, LABEL_COMPONENT, LABEL_ENGINE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY
from ..api.settings import StoreSettings


def store_labels() -> dict[str, str]:
    return {
        LABEL_NAME: "engine-store",
        LABEL_COMPONENT: COMPONENT_STORE,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_ENGINE: Engine.TENSORRT_LLM.value,
    }


def render_engine_store(namespace: str, store: StoreSettings) -> dict[str, Any]:
    """The store's PVC; storageClassName only when configured, so the cluster's default class applies."""
    spec: dict[str, Any] = {
        "accessModes": [store.access_mode],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": store.size}},
    }
    if store.storage_class:
        spec["storageClassName"] = store.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": store.claim_name, "namespace": namespace, "labels": store_labels()},
        "spec": spec,
    }
