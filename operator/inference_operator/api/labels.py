"""Label keys and values on every object the operator makes, and the port name every engine serves on.

They are part of the operator's API: handlers watch by them, dashboards and alerts group by them, and a
user's NetworkPolicy may select by them. Pure constants.
"""

from __future__ import annotations

import re

LABEL_PREFIX = "inference-operator.dev"
LABEL_DEPLOYMENT = f"{LABEL_PREFIX}/deployment"
LABEL_ENGINE = f"{LABEL_PREFIX}/engine"
LABEL_MODEL = f"{LABEL_PREFIX}/model"
LABEL_BUILD = f"{LABEL_PREFIX}/engine-build"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "inference-operator"
# On every object the operator applies: a digest of the body it applied, so a restarted operator need not apply
# an unchanged child again (kube/applied.py).
ANNOTATION_APPLIED = f"{LABEL_PREFIX}/applied"

COMPONENT_SERVING = "serving"
COMPONENT_BUILD = "engine-build"
COMPONENT_STORE = "engine-store"

# The operator's serving children (Deployments, LeaderWorkerSets, Services) and its build Jobs: what kopf watches
# them by (runtime/handlers.py) and the label selectors that list them.
SERVING_LABELS = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_SERVING}
BUILD_LABELS = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_BUILD}


def label_selector(labels: dict[str, str]) -> str:
    """An equality-based label selector matching every one of `labels`."""
    return ",".join(f"{key}={value}" for key, value in labels.items())


SERVING_SELECTOR = label_selector(SERVING_LABELS)
BUILD_SELECTOR = label_selector(BUILD_LABELS)

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"

# Every serving container names its port this, so the Service and the PodMonitor need not know which engine
# listens.
PORT_NAME = "http"


def model_label_value(model_name: str) -> str:
    """A label-safe form of a Hugging Face repo id: meta-llama/Llama-3.1-8B -> meta-llama.Llama-3.1-8B."""
    value = re.sub(r"[^A-Za-z0-9._-]", ".", model_name)[:63]
    return value.strip("._-") or "model"
