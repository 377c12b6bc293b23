"""Writes the TensorRT-LLM rules and dashboard targets (metrics/trtllm_monitoring.py) into the chart's files.

Run by `make monitoring`. The rest of both files is written by hand: in prometheus-rules.yaml everything above
GENERATED_MARKER, in dashboard.json every target that is not TensorRT-LLM's and every panel. The render_* functions
are pure (text in, text out); tests/unit/metrics/test_trtllm_monitoring.py fails when the committed files differ
from what they return.
"""

from __future__ import annotations

import json
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..api.trtllm_recipes import RECIPES, TrtllmRecipe
from .trtllm_monitoring import KV_CACHE_UTILIZATION, is_trtllm_target, panel_targets, rule_groups, signal_rows

FILES = Path("charts/inference-operator/files")
RULES_FILE = FILES / "prometheus-rules.yaml"
DASHBOARD_FILE = FILES / "dashboard.json"
GENERATED_MARKER = (
    "  # --- Generated from api/trtllm_recipes.py by `make monitoring` (metrics/write_monitoring.py): "
    "do not edit below this line. ---\n"
)
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
KV_PANEL = "KV cache usage"


def render_rules(text: str, recipes: Sequence[TrtllmRecipe] = RECIPES) -> str:
    """The rules file with everything below GENERATED_MARKER (appended if missing) rendered from the table."""
    hand = text.split(GENERATED_MARKER, 1)[0].rstrip("\n") + "\n\n"
    generated = yaml.safe_dump(rule_groups(recipes), sort_keys=False, width=10**6, allow_unicode=True)
    return hand + GENERATED_MARKER + "".join(f"  {line}\n" if line else "\n" for line in generated.splitlines())


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel of a Grafana dashboard's panel list, those inside collapsed rows included."""
    found = []
    for panel in panels:
        found.append(panel)
        found += all_panels(panel.get("panels", []))  # collapsed rows keep their panels inside
    return found


def kv_panel_description(recipes: Sequence[TrtllmRecipe] = RECIPES) -> str:
    has, lacking = signal_rows(recipes, KV_CACHE_UTILIZATION)
    trtllm = f"TensorRT-LLM {', '.join(has)} only" if has else "no TensorRT-LLM release"
    rest = f"; {', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no KV-cache series" if lacking else ""
    return f"Per pod; 100% means new requests wait or are preempted. vLLM, and {trtllm}{rest}."


def render_dashboard(text: str, recipes: Sequence[TrtllmRecipe] = RECIPES) -> str:
    """The dashboard with every TensorRT-LLM target replaced by the ones rendered from the table."""
    board = json.loads(text)
    generated = panel_targets(recipes)
    for panel in all_panels(board.get("panels", [])):
        if "targets" not in panel:
            continue
        kept = [t for t in panel["targets"] if not is_trtllm_target(t.get("expr", ""))]
        for legend, expr in generated.get(panel.get("title", ""), []):
            kept.append({"datasource": dict(_DATASOURCE), "expr": expr, "legendFormat": legend, "refId": ""})
        for letter, target in zip(string.ascii_uppercase, kept, strict=False):
            target["refId"] = letter
        panel["targets"] = kept
        if panel.get("title") == KV_PANEL:
            panel["description"] = kv_panel_description(recipes)
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for path, render in ((RULES_FILE, render_rules), (DASHBOARD_FILE, render_dashboard)):
        path.write_text(render(path.read_text()))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
