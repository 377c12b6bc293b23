"""RFC 3339 timestamps as Kubernetes writes them (second precision, UTC, `Z`): one format, one parser."""

from __future__ import annotations

import datetime

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime(RFC3339)


def parse_time(timestamp: str | None) -> datetime.datetime | None:
    """The moment a Kubernetes timestamp names; None for an empty or absent one."""
    if not timestamp:
        return None
    return datetime.datetime.strptime(timestamp, RFC3339).replace(tzinfo=datetime.UTC)


def utc_now() -> str:
    """Now, as a status timestamp. The clock is read by the I/O layers only; pure code is handed `now`."""
    return format_time(datetime.datetime.now(datetime.UTC))


def format_duration(seconds: int) -> str:
    """A duration as kubectl prints ages: 45m, 1h, 2h30m, 3h2m."""
    minutes = max(1, round(seconds / 60))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes}m"
    return f"{hours}h{rest}m" if rest else f"{hours}h"
