"""spec.engine.tensorrtLLM of an InferenceDeployment: the TensorRT-LLM engine, its compile and its recipe."""

from __future__ import annotations

import enum

from pydantic import Field, field_validator, model_validator

from .base import ApiModel, Arg, Quantity, cel, field_conflict
from .env_vars import ENV_SCHEMA, EnvVar, unique_env_names
from .images import TRTLLM_IMAGE
from .trtllm_recipes import (
    PYTORCH_ONLY_IMAGE_PATTERN,
    RECIPES,
    TrtllmBackend,
    TrtllmRecipe,
    TrtllmRecipeName,
    resolve_recipe,
)


class BuildProfile(enum.StrEnum):
    DEFAULT = "default"
    AGGRESSIVE = "aggressive"


def _cel_string(value: str) -> str:
    """A CEL single-quoted string literal of `value` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_ENGINE_RECIPES = [r.name.value for r in RECIPES if TrtllmBackend.ENGINE in r.backends]
# Admission's half of the recipe check (the model validator below is the other): an explicit `backend: engine`
# on a release line without the engine backend, by the recipe override or else by the image's NGC tag.
ENGINE_BACKEND_ABSENT = (
    "spec.engine.tensorrtLLM.backend: engine does not exist in TensorRT-LLM 1.3.0rc21 and later (removed upstream, "
    "NVIDIA/TensorRT-LLM#15918); use backend pytorch, or a 1.2.x image"
)
ENGINE_BACKEND_RULE = (
    "!has(self.backend) || self.backend != 'engine' || (has(self.recipe) ? self.recipe in "
    f"{_ENGINE_RECIPES} : !(has(self.image) && self.image.matches({_cel_string(PYTORCH_ONLY_IMAGE_PATTERN)})))"
)


class TensorrtLlmSpec(ApiModel):
    """Settings of the TensorRT-LLM engine and of its compile."""

    model_config = ApiModel.model_config | {"json_schema_extra": cel((ENGINE_BACKEND_RULE, ENGINE_BACKEND_ABSENT))}

    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description=f"TensorRT-LLM release image used to build and serve. Unset: the operator's pinned release "
        f"({TRTLLM_IMAGE}). Part of the engine cache key: an engine only runs on the TensorRT-LLM version that "
        "built it, so an operator upgrade that moves the pin rebuilds while the old engine keeps serving.",
    )
    recipe: TrtllmRecipeName | None = Field(
        default=None,
        description="Which TensorRT-LLM release line the image is (the recipe table, docs/engine-builds.md): "
        "1.2.x has the engine and PyTorch backends, 1.3.0rc21+ only PyTorch. Unset: read from the tag of an NGC "
        "release image, else the pinned release's. Set it for a custom image whose tag says nothing.",
    )
    backend: TrtllmBackend | None = Field(
        default=None,
        description="`engine` compiles a TensorRT engine once (cached and shared) and serves it; `pytorch` serves "
        "the Hugging Face checkpoint with trtllm-serve's PyTorch backend, with no compile. Unset: engine where "
        "the image's release line has it (1.2.x), pytorch otherwise (1.3.0rc21 and later).",
    )
    build_profile: BuildProfile = Field(
        default=BuildProfile.DEFAULT,
        description="`default` builds quickly with safe plugins; `aggressive` spends more build time for throughput "
        "(multiple optimization profiles, FP8 context attention on Hopper).",
    )
    max_batch_size: int = Field(default=64, ge=1, le=4096, description="Largest batch the engine accepts.")
    max_input_len: int = Field(default=4096, ge=16, le=1048576, description="Longest prompt, in tokens.")
    max_seq_len: int = Field(
        default=8192, ge=32, le=1048576, description="Longest prompt plus generated tokens, in tokens."
    )
    build_deadline_seconds: int | None = Field(
        default=None,
        ge=300,
        le=172800,
        description="How long a build may run before it fails. Default: sized from the model (about 3x the "
        "expected compile time of its size on H100, at least an hour).",
    )
    build_backoff_limit: int = Field(default=2, ge=0, le=10, description="Retries of a failed build Job.")
    build_scratch_size: Quantity | None = Field(
        default=None,
        description="sizeLimit of the build Job's scratch emptyDir on node disk (checkpoint, converted copy, "
        "engine). Default: 3x the model's weights plus 4Gi (docs/resources.md).",
    )
    extra_build_args: list[Arg] = Field(
        default_factory=list,
        max_length=64,
        description="Extra trtllm-build arguments (part of the cache key).",
    )
    extra_args: list[Arg] = Field(default_factory=list, max_length=64, description="Extra trtllm-serve arguments.")
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=64,
        description="Extra environment variables (one entry per name).",
        json_schema_extra=ENV_SCHEMA,
    )

    @field_validator("env")
    @classmethod
    def env_names_unique(cls, env: list[EnvVar]) -> list[EnvVar]:
        return unique_env_names(env)

    @model_validator(mode="after")
    def backend_exists_in_recipe(self) -> TensorrtLlmSpec:
        problem = self.backend and self.resolved_recipe.backend_problem(self.backend)
        if problem:
            raise field_conflict("backend", problem)
        return self

    @property
    def resolved_recipe(self) -> TrtllmRecipe:
        """The recipe table's row for this image (api/trtllm_recipes.py)."""
        return resolve_recipe(self.recipe, self.image)

    @property
    def effective_backend(self) -> TrtllmBackend:
        """The backend that serves: the one asked for, else the release line's default."""
        return self.backend or self.resolved_recipe.default_backend
