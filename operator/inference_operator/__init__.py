"""inference-operator: serve LLMs on Kubernetes with vLLM or TensorRT-LLM."""

GROUP = "inference-operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "inference-operator"
__version__ = "0.1.0"
