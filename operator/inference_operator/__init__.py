"""inference-operator: serve LLMs on Kubernetes with vLLM or TensorRT-LLM."""

GROUP = "inference-operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "inference-operator"
# Creates an autoscaled Deployment with its starting replicas, once; the HPA owns them from then on, and
# FIELD_MANAGER never does (docs/autoscaling.md).
SEED_FIELD_MANAGER = "inference-operator-seed"
__version__ = "0.1.0"
