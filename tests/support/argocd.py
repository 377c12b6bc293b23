"""Argo CD's health checks (docs/argocd/*.lua) run the way Argo CD runs them: Lua 5.1 (Argo CD embeds
gopher-lua, a Lua 5.1), the resource as the global `obj`, and the script's returned table read back."""

from __future__ import annotations

from typing import Any

from lupa.lua51 import LuaRuntime  # type: ignore[import-untyped]

from tests.support.samples import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "argocd"
HEALTH_CHECKS = {
    "InferenceDeployment": DOCS / "health-inferencedeployment.lua",
    "EngineBuild": DOCS / "health-enginebuild.lua",
}
# What Argo CD accepts as a health status (gitops-engine, health.HealthStatusCode).
ARGO_STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) that Argo CD would show for `obj`, chosen by its kind."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH_CHECKS[obj["kind"]].read_text())
    status, message = str(result["status"]), str(result["message"] or "")
    assert status in ARGO_STATUSES, f"not an Argo CD health status: {status!r}"
    return status, message
