"""Environment variables of the engine containers (spec.engine.vllm.env, spec.engine.tensorrtLLM.env)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import LIST_MAP_BY_NAME, ApiModel, SecretKeySelector, cel


class ConfigMapKeySelector(ApiModel):
    """A key of a ConfigMap in the resource's namespace."""

    name: str = Field(min_length=1, max_length=253, description="Name of the ConfigMap.")
    key: str = Field(min_length=1, max_length=253, description="Key within the ConfigMap.")


class EnvVarSource(ApiModel):
    """Where an environment variable's value comes from."""

    secret_key_ref: SecretKeySelector | None = Field(default=None, description="A key of a Secret.")
    config_map_key_ref: ConfigMapKeySelector | None = Field(default=None, description="A key of a ConfigMap.")


class EnvVar(ApiModel):
    """An environment variable for the engine container."""

    name: str = Field(
        min_length=1, max_length=256, pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", description="Variable name."
    )
    value: str | None = Field(default=None, max_length=32768, description="Literal value.")
    value_from: EnvVarSource | None = Field(default=None, description="Take the value from a Secret or ConfigMap.")


# Variables that hold a Hugging Face token: only ever from a Secret, never a literal in the resource.
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
TOKEN_FROM_SECRET = (
    "HF_TOKEN and HUGGING_FACE_HUB_TOKEN must come from a Secret (spec.model.credentials or valueFrom), not a value"
)
ENV_SCHEMA: dict[str, Any] = {
    **LIST_MAP_BY_NAME,
    **cel((f"self.all(e, !(e.name in {list(TOKEN_VARIABLES)}) || !has(e.value))", TOKEN_FROM_SECRET)),
}


def unique_env_names(env: list[EnvVar]) -> list[EnvVar]:
    """A container's env is keyed by name (the API server refuses a name twice); tokens come from Secrets."""
    seen: set[str] = set()
    for var in env:
        if var.name in seen:
            raise ValueError(f"{var.name} is listed twice")
        if var.name in TOKEN_VARIABLES and var.value is not None:
            raise ValueError(TOKEN_FROM_SECRET)
        seen.add(var.name)
    return env
