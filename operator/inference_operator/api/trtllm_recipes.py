"""What each TensorRT-LLM release line can do and how it is run: one table, keyed by the image's version. Pure data.

A row says which backends exist, the engine build's steps with their paths, the `trtllm-serve` flags, what
/health means, where the Prometheus series are, which LLM API options turn them on and the names they carry,
and the upstream tag or pull request each fact was checked against. render/trtllm.py and render/build_recipe.py
read their flags and paths from the row; nothing else branches on the TensorRT-LLM version.

Which row: `spec.engine.tensorrtLLM.recipe` when set (for custom images, whose tag says nothing), else the row
whose version range holds the tag of an NGC release image (nvcr.io/nvidia/tensorrt-llm/release:<version>),
else the row of the pinned image (api/images.py). So an image the table cannot place (a company's own build, a
digest, a release line no row covers) is run as the pinned release is, exactly as before this table existed;
the engine build still refuses NGC release lines no row covers (render/build_recipe.py, image_recipe_problem).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .images import TRTLLM_IMAGE

TRTLLM_RELEASE_REPOSITORY = "nvcr.io/nvidia/tensorrt-llm/release"


class TrtllmBackend(enum.StrEnum):
    """How trtllm-serve runs the model (spec.engine.tensorrtLLM.backend)."""

    ENGINE = "engine"
    PYTORCH = "pytorch"


class TrtllmRecipeName(enum.StrEnum):
    """A row of the table, by the versions it covers."""

    RELEASE_1_2 = "1.2.x"
    # Named by the minimum version it can cite: v1.3.0rc20's release note says it is the last release with the
    # TensorRT backend and that the next one removes it; the v1.3.0rc21 tag itself was not read here.
    PYTORCH_ONLY = "1.3.0rc21+"


# A release tag as a sortable key: (major, minor, patch, pre-release); a final release sorts after its rcs.
Version = tuple[int, int, int, int]
_FINAL = 10**9
_TAG = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:rc(\d+))?(?:\.post\d+)?$")


def parse_release_tag(tag: str) -> Version | None:
    """1.2.1 -> (1, 2, 1, FINAL); 1.3.0rc21 -> (1, 3, 0, 21); 1.2.0rc6.post2 -> (1, 2, 0, 6); else None."""
    match = _TAG.match(tag)
    if match is None:
        return None
    major, minor, patch, rc = match.groups()
    return int(major), int(minor), int(patch or 0), int(rc) if rc is not None else _FINAL


@dataclass(frozen=True)
class EngineBuildSteps:
    """The engine build of a release line: checkpoint conversion, then trtllm-build (render/build_recipe.py)."""

    examples_dir: str  # where the release container ships the examples
    converter: str  # per-family converter under examples_dir; {family} is the directory of the model family
    quantizer: str  # ModelOpt post-training quantization under examples_dir
    build_command: str


@dataclass(frozen=True)
class ServeFlags:
    """How `trtllm-serve` is called (render/trtllm.py)."""

    subcommand: str
    backend_values: Mapping[TrtllmBackend, str]  # what --backend takes for each backend the row has
    options_flag: str  # the flag passing the LLM API options YAML


class SeriesKind(enum.StrEnum):
    """The prometheus_client type a series is registered with."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class TrtllmSeries:
    """One exported series and the operator-owned signal it stands for (the same signal in every row)."""

    name: str  # exposed name (histograms: the base name, without _bucket/_sum/_count)
    kind: SeriesKind
    signal: str  # what it measures, as metrics/trtllm_monitoring.py names its recorded series
    meaning: str


@dataclass(frozen=True)
class MetricsRecipe:
    """Where the Prometheus series are, what turns them on, and what they are called."""

    path: str
    options: tuple[str, ...]  # LLM API options YAML lines that turn them on
    on_engine_backend: bool  # whether the engine backend may turn them on
    series: tuple[TrtllmSeries, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The exposed names (histograms: the base name)."""
        return tuple(s.name for s in self.series)


@dataclass(frozen=True)
class TrtllmRecipe:
    name: TrtllmRecipeName
    first: Version  # first version the row covers
    last: Version | None  # first version it no longer covers; None: every later one
    backends: tuple[TrtllmBackend, ...]
    default_backend: TrtllmBackend
    build: EngineBuildSteps | None  # None: no engine build exists
    serve: ServeFlags
    health_path: str
    health: str  # what a 200 means
    metrics: MetricsRecipe
    sources: tuple[str, ...]  # what the row was checked against

    def covers(self, version: Version) -> bool:
        return self.first <= version and (self.last is None or version < self.last)

    def backend_problem(self, backend: TrtllmBackend) -> str | None:
        """Why `backend` cannot run on this release line (a message for spec.engine.tensorrtLLM.backend), or None."""
        if backend in self.backends:
            return None
        return (
            f"{backend.value} does not exist in TensorRT-LLM {self.name.value}: upstream removed the TensorRT "
            "engine backend after 1.3.0rc20 (NVIDIA/TensorRT-LLM#15918); use backend pytorch, or a 1.2.x image"
        )


_TRT_SERVE = "tensorrt_llm/commands/serve.py"
_OPENAI_SERVER = "tensorrt_llm/serve/openai_server.py"
# The five request series of MetricsCollector (tensorrt_llm/metrics/collector.py) before the trtllm_ prefix:
# one Counter (labelled finished_reason) and four Histograms.
_REQUEST_SERIES = (
    ("request_success_total", SeriesKind.COUNTER, "Finished requests, by finished_reason."),
    ("e2e_request_latency_seconds", SeriesKind.HISTOGRAM, "End-to-end request latency."),
    ("time_to_first_token_seconds", SeriesKind.HISTOGRAM, "Time to first token."),
    ("time_per_output_token_seconds", SeriesKind.HISTOGRAM, "Time per output token."),
    ("request_queue_time_seconds", SeriesKind.HISTOGRAM, "Time a request spent waiting."),
)


def _request_series(prefix: str) -> tuple[TrtllmSeries, ...]:
    return tuple(TrtllmSeries(prefix + name, kind, name, meaning) for name, kind, meaning in _REQUEST_SERIES)


RECIPES: tuple[TrtllmRecipe, ...] = (
    TrtllmRecipe(
        name=TrtllmRecipeName.RELEASE_1_2,
        first=(1, 2, 0, 0),
        last=(1, 3, 0, 0),
        backends=(TrtllmBackend.ENGINE, TrtllmBackend.PYTORCH),
        default_backend=TrtllmBackend.ENGINE,
        build=EngineBuildSteps(
            examples_dir="/app/tensorrt_llm/examples",
            converter="models/core/{family}/convert_checkpoint.py",
            quantizer="quantization/quantize.py",
            build_command="trtllm-build",
        ),
        serve=ServeFlags(
            subcommand="serve",
            # --backend pytorch|tensorrt; pytorch is the default since 1.0, so the engine path must say tensorrt.
            backend_values=MappingProxyType({TrtllmBackend.ENGINE: "tensorrt", TrtllmBackend.PYTORCH: "pytorch"}),
            # The spelling every release since 0.19 accepts; `--config` is only a late-1.2 alias of it.
            options_flag="--extra_llm_api_options",
        ),
        health_path="/health",
        health="200 once the LLM is built (engine or weights loaded) and while the executor reports healthy, else "
        "503; the HTTP server listens only after the LLM is built",
        metrics=MetricsRecipe(
            path="/prometheus/metrics",
            options=("return_perf_metrics: true",),
            # return_perf_metrics crashed trtllm-serve at start with the engine backend (TensorRT-LLM#9678,
            # 1.2.0rc2; fixed on main by #10662): off there until the release line is known to carry the fix.
            on_engine_backend=False,
            series=_request_series(""),
        ),
        sources=(
            f"NVIDIA/TensorRT-LLM v1.2.1: {_TRT_SERVE}, {_OPENAI_SERVER} (health, mount_metrics), "
            "tensorrt_llm/commands/build.py, examples/models/core/*/convert_checkpoint.py, "
            "examples/quantization/quantize.py",
            "NVIDIA/TensorRT-LLM#5785 (collector.py: the five unprefixed request series of the 1.2 line)",
        ),
    ),
    TrtllmRecipe(
        name=TrtllmRecipeName.PYTORCH_ONLY,
        first=(1, 3, 0, 21),
        last=None,
        backends=(TrtllmBackend.PYTORCH,),
        default_backend=TrtllmBackend.PYTORCH,
        build=None,  # no trtllm-build, no convert_checkpoint.py: Hugging Face checkpoints load directly
        serve=ServeFlags(
            subcommand="serve",
            # The migration guide: `--backend tensorrt` -> "Omit, or pass --backend pytorch".
            backend_values=MappingProxyType({TrtllmBackend.PYTORCH: "pytorch"}),
            # A spelling of the option in the newest serve.py read here (main before the removal, where `--config`
            # is its alias); serve.py after the removal was not read.
            options_flag="--extra_llm_api_options",
        ),
        health_path="/health",
        health="200 once the weights are loaded and while the executor reports healthy, else 503 (as in 1.2.x: "
        "openai_server.py after the removal was not read)",
        metrics=MetricsRecipe(
            path="/prometheus/metrics",
            # return_perf_metrics mounts the endpoint; enable_iter_perf_stats feeds the KV-cache gauges from the
            # iteration statistics (upstream's trtllm-serve Prometheus test after #11243 sets both and waits for
            # trtllm_kv_cache_hit_rate and trtllm_kv_cache_utilization).
            options=("return_perf_metrics: true", "enable_iter_perf_stats: true"),
            on_engine_backend=False,
            # NVIDIA/TensorRT-LLM#11243 (February 2026): the trtllm_ prefix and the KV-cache gauges. Both Gauges;
            # utilization is usedNumBlocks / maxNumBlocks of the iteration's kvCacheStats, so 1 = full
            # (log_iteration_stats in collector.py on main, read at 050f80de; the rc21 tag itself was not read).
            series=(
                *_request_series("trtllm_"),
                TrtllmSeries("trtllm_kv_cache_hit_rate", SeriesKind.GAUGE, "kv_cache_hit_rate", "KV-cache hit rate."),
                TrtllmSeries(
                    "trtllm_kv_cache_utilization", SeriesKind.GAUGE, "kv_cache_utilization", "KV-cache usage, 1 = full."
                ),
            ),
        ),
        sources=(
            "NVIDIA/TensorRT-LLM v1.3.0rc20 release note: the last release with the TensorRT backend",
            "NVIDIA/TensorRT-LLM#15763 (examples), #15918 (Python modules, trtllm-build), #16369 (C++): the removal",
            "docs/source/legacy/tensorrt-backend-removal.md on main (the migration guide)",
            "NVIDIA/TensorRT-LLM#11243 (collector.py: trtllm_ prefix, trtllm_kv_cache_hit_rate/_utilization)",
        ),
    ),
)
RECIPES_BY_NAME: Mapping[TrtllmRecipeName, TrtllmRecipe] = MappingProxyType({r.name: r for r in RECIPES})


def split_image(image: str) -> tuple[str, str | None]:
    """(repository, tag) of an image reference; the tag is None for a digest-only or untagged reference."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, None


def recipe_for_release(tag: str) -> TrtllmRecipe | None:
    """The row covering an NGC release tag, or None (not a release tag, or a version no row covers)."""
    version = parse_release_tag(tag)
    if version is None:
        return None
    return next((r for r in RECIPES if r.covers(version)), None)


def recipe_for_image(image: str) -> TrtllmRecipe | None:
    """The row an image's tag names: NGC release images only (any other tag says nothing about the version)."""
    repository, tag = split_image(image)
    if repository != TRTLLM_RELEASE_REPOSITORY or tag is None:
        return None
    return recipe_for_release(tag)


_pinned = recipe_for_image(TRTLLM_IMAGE)
if _pinned is None:  # pragma: no cover - a pin outside the table is a programming error, caught at import
    raise RuntimeError(f"the pinned TensorRT-LLM image {TRTLLM_IMAGE} has no row in the recipe table")
PINNED_RECIPE: TrtllmRecipe = _pinned


def resolve_recipe(override: TrtllmRecipeName | None, image: str | None) -> TrtllmRecipe:
    """The override, else the image's row, else the pinned release's row."""
    if override is not None:
        return RECIPES_BY_NAME[override]
    return recipe_for_image(image or TRTLLM_IMAGE) or PINNED_RECIPE


# For admission (CEL cannot compare versions): NGC release images of a version >= 1.3.0rc21, as an RE2 pattern.
# tests/unit/api/test_trtllm_recipes.py checks it against recipe_for_image over a grid of tags.
PYTORCH_ONLY_IMAGE_PATTERN = (
    r"^nvcr\.io/nvidia/tensorrt-llm/release:v?("
    r"1\.3\.0rc(2[1-9]|[3-9][0-9]|[1-9][0-9]{2,})"  # 1.3.0rc21 and later release candidates
    r"|1\.3(\.0)?"  # 1.3.0
    r"|1\.3\.[1-9][0-9]*(rc[0-9]+)?"  # 1.3.1 and later patches
    r"|1\.([4-9]|[1-9][0-9]+)(\.[0-9]+)?(rc[0-9]+)?"  # 1.4 and later
    r"|([2-9]|[1-9][0-9]+)\.[0-9]+(\.[0-9]+)?(rc[0-9]+)?"  # 2.0 and later
    r")(\.post[0-9]+)?(@.*)?$"
)
