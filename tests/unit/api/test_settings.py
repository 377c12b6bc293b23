"""The operator's settings from its environment: defaults, the Hub mirror, the build Job TTL, and one-line errors
naming the variable."""

from __future__ import annotations

import pytest

from inference_operator.api.settings import SettingsError, from_env


def test_defaults_have_no_hub_mirror() -> None:
    assert from_env({}).hub_endpoint is None
    assert from_env({"INFOP_HF_ENDPOINT": "  "}).hub_endpoint is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://hub.internal:8090", "http://hub.internal:8090"),
        ("https://hf.example.com/mirror/", "https://hf.example.com/mirror"),
    ],
)
def test_hub_endpoint_is_kept_without_a_trailing_slash(raw: str, expected: str) -> None:
    assert from_env({"INFOP_HF_ENDPOINT": raw}).hub_endpoint == expected


@pytest.mark.parametrize("raw", ["hub.internal", "ftp://hub", "http://", "http://hub?x=1", "http://hub#top"])
def test_a_bad_hub_endpoint_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError) as err:
        from_env({"INFOP_HF_ENDPOINT": raw})
    message = str(err.value)
    assert message.startswith("INFOP_HF_ENDPOINT must be an http(s) URL") and "\n" not in message


def test_build_jobs_stay_a_day_unless_told_otherwise() -> None:
    assert from_env({}).build_job_ttl_seconds == 86400
    assert from_env({"INFOP_BUILD_JOB_TTL_SECONDS": "600"}).build_job_ttl_seconds == 600


@pytest.mark.parametrize("raw", ["an hour", "-1"])
def test_a_bad_ttl_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="INFOP_BUILD_JOB_TTL_SECONDS"):
        from_env({"INFOP_BUILD_JOB_TTL_SECONDS": raw})


def test_builds_wait_for_a_node_with_their_gpu_product_unless_told_otherwise() -> None:
    assert from_env({}).build_require_gpu_node is True
    assert from_env({"INFOP_BUILD_REQUIRE_GPU_NODE": "false"}).build_require_gpu_node is False
    assert from_env({"INFOP_BUILD_REQUIRE_GPU_NODE": "True"}).build_require_gpu_node is True


@pytest.mark.parametrize("raw", ["no", "0", "off"])
def test_a_bad_gpu_node_switch_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^INFOP_BUILD_REQUIRE_GPU_NODE must be true or false"):
        from_env({"INFOP_BUILD_REQUIRE_GPU_NODE": raw})


def test_the_weight_cache_default_is_off_unless_the_install_turns_it_on() -> None:
    assert from_env({}).weight_cache_default is False
    assert from_env({"INFOP_WEIGHT_CACHE_DEFAULT": "true"}).weight_cache_default is True


def test_a_bad_weight_cache_default_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^INFOP_WEIGHT_CACHE_DEFAULT must be true or false"):
        from_env({"INFOP_WEIGHT_CACHE_DEFAULT": "yes"})
