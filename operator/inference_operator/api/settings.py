"""The operator's own settings (not per resource): where engines are stored and the auto-choice thresholds.

Read once at start from environment variables (the chart sets them), so every part sees one frozen value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# The article's break-even points: below 100M tokens a month vLLM's simplicity wins, above 1B TensorRT-LLM's
# efficiency justifies the compile (shared/reference, "Cost Analysis for Different Scenarios").
DEFAULT_LOW_TOKENS_PER_MONTH = 100_000_000
DEFAULT_HIGH_TOKENS_PER_MONTH = 1_000_000_000


@dataclass(frozen=True)
class StoreSettings:
    """The per-namespace PVC holding compiled engines. No InferenceDeployment owns it."""

    claim_name: str = "inference-engine-store"
    storage_class: str | None = None
    size: str = "500Gi"
    access_mode: str = "ReadWriteMany"
    mount_path: str = "/engines"


@dataclass(frozen=True)
class DecisionSettings:
    """Thresholds of `engine.preference: auto`, in tokens per month."""

    low_tokens_per_month: int = DEFAULT_LOW_TOKENS_PER_MONTH
    high_tokens_per_month: int = DEFAULT_HIGH_TOKENS_PER_MONTH


@dataclass(frozen=True)
class OperatorSettings:
    store: StoreSettings = field(default_factory=StoreSettings)
    decision: DecisionSettings = field(default_factory=DecisionSettings)
    metrics_port: int = 8080
    health_port: int = 8081
    # A Hugging Face-compatible Hub mirror every engine pod and build Job downloads from (HF_ENDPOINT), as
    # companies point vLLM and huggingface_hub at theirs. None: the public Hub. A resource's own env wins.
    hub_endpoint: str | None = None
    # ttlSecondsAfterFinished of build Jobs (INFOP_BUILD_JOB_TTL_SECONDS); the EngineBuild keeps the result.
    build_job_ttl_seconds: int = 86400
    # Whether a build waits, with no Job, while no Node carries its GPU product (INFOP_BUILD_REQUIRE_GPU_NODE).
    # Off for clusters whose GPU pools scale from zero: there, only a pending pod makes the autoscaler add a node.
    build_require_gpu_node: bool = True
    # The storage budget of a namespace's weight cache entries (INFOP_WEIGHT_CACHE_BUDGET, a quantity such as
    # 2Ti): over it, unused entries are evicted oldest-first. None: never evict.
    weight_cache_budget: str | None = None
    # Whether a resource that does not set spec.model.cache.enabled caches its weights (INFOP_WEIGHT_CACHE_DEFAULT):
    # one download per (source, model, revision) on a ReadWriteMany PVC, and a resource opts out with false. The
    # chart (and so manifests/install.yaml) turns it on; a bare `inference-operator run` without the variable, as
    # the test bed and the demo start it, keeps each pod downloading.
    weight_cache_default: bool = False


class SettingsError(ValueError):
    """An environment variable holds a value the operator cannot use."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("true", "false"):
        raise SettingsError(f"{name} must be true or false, got {env[name]!r}")
    return raw == "true"


def _hub_endpoint(env: Mapping[str, str]) -> str | None:
    raw = env.get("INFOP_HF_ENDPOINT", "").strip()
    if not raw:
        return None
    parsed = urlsplit(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        raise SettingsError(f"INFOP_HF_ENDPOINT must be an http(s) URL such as https://hub.example.com, got {raw!r}")
    return raw.rstrip("/")


def _budget(env: Mapping[str, str]) -> str | None:
    raw = env.get("INFOP_WEIGHT_CACHE_BUDGET", "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?([KMGTPE]i?)?", raw):
        raise SettingsError(f"INFOP_WEIGHT_CACHE_BUDGET must be a quantity such as 500Gi, got {raw!r}")
    return raw


def from_env(env: Mapping[str, str] | None = None) -> OperatorSettings:
    env = os.environ if env is None else env
    store = StoreSettings(
        claim_name=env.get("INFOP_STORE_CLAIM", StoreSettings.claim_name),
        storage_class=env.get("INFOP_STORE_STORAGE_CLASS") or None,
        size=env.get("INFOP_STORE_SIZE", StoreSettings.size),
        access_mode=env.get("INFOP_STORE_ACCESS_MODE", StoreSettings.access_mode),
    )
    if store.access_mode not in ("ReadWriteMany", "ReadWriteOnce"):
        raise SettingsError(
            f"INFOP_STORE_ACCESS_MODE must be ReadWriteMany or ReadWriteOnce, got {store.access_mode!r}"
        )
    decision = DecisionSettings(
        low_tokens_per_month=_int(env, "INFOP_AUTO_LOW_TOKENS_PER_MONTH", DEFAULT_LOW_TOKENS_PER_MONTH),
        high_tokens_per_month=_int(env, "INFOP_AUTO_HIGH_TOKENS_PER_MONTH", DEFAULT_HIGH_TOKENS_PER_MONTH),
    )
    if decision.low_tokens_per_month > decision.high_tokens_per_month:
        raise SettingsError("INFOP_AUTO_LOW_TOKENS_PER_MONTH must not exceed INFOP_AUTO_HIGH_TOKENS_PER_MONTH")
    return OperatorSettings(
        store=store,
        decision=decision,
        metrics_port=_int(env, "INFOP_METRICS_PORT", 8080),
        health_port=_int(env, "INFOP_HEALTH_PORT", 8081),
        hub_endpoint=_hub_endpoint(env),
        build_job_ttl_seconds=_int(env, "INFOP_BUILD_JOB_TTL_SECONDS", OperatorSettings.build_job_ttl_seconds),
        build_require_gpu_node=_bool(env, "INFOP_BUILD_REQUIRE_GPU_NODE", OperatorSettings.build_require_gpu_node),
        weight_cache_budget=_budget(env),
        weight_cache_default=_bool(env, "INFOP_WEIGHT_CACHE_DEFAULT", OperatorSettings.weight_cache_default),
    )
