"""Operator settings read from the environment: the build Job TTL (issue 14)."""

from __future__ import annotations

import pytest

from inference_operator.api.settings import SettingsError, from_env


def test_build_jobs_stay_a_day_unless_told_otherwise() -> None:
    assert from_env({}).build_job_ttl_seconds == 86400
    assert from_env({"INFOP_BUILD_JOB_TTL_SECONDS": "600"}).build_job_ttl_seconds == 600


@pytest.mark.parametrize("raw", ["an hour", "-1"])
def test_a_bad_ttl_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="INFOP_BUILD_JOB_TTL_SECONDS"):
        from_env({"INFOP_BUILD_JOB_TTL_SECONDS": raw})
