"""The TensorRT-LLM rules and dashboard targets come from the recipe table, and the chart's files hold them."""

from __future__ import annotations

import dataclasses
import json

import yaml

from inference_operator.api.trtllm_recipes import (
    RECIPES,
    RECIPES_BY_NAME,
    SeriesKind,
    TrtllmRecipeName,
    TrtllmSeries,
)
from inference_operator.metrics.trtllm_monitoring import (
    GROUP_NAME,
    RECIPE_LABEL,
    alert_rules,
    panel_targets,
    recording_rules,
)
from inference_operator.metrics.write_monitoring import (
    DASHBOARD_FILE,
    GENERATED_MARKER,
    KV_PANEL,
    RULES_FILE,
    render_dashboard,
    render_rules,
)
from tests.support.samples import REPO_ROOT

RULES_TEXT = (REPO_ROOT / RULES_FILE).read_text()
DASHBOARD_TEXT = (REPO_ROOT / DASHBOARD_FILE).read_text()
ONLY_1_2 = (RECIPES_BY_NAME[TrtllmRecipeName.RELEASE_1_2],)


def alerts(recipes: tuple[object, ...] = RECIPES) -> set[str]:
    return {rule["alert"] for rule in alert_rules(recipes)}  # type: ignore[arg-type]


def test_the_committed_rules_are_the_tables() -> None:
    assert render_rules(RULES_TEXT) == RULES_TEXT, "prometheus-rules.yaml drifted from the table: run make monitoring"


def test_the_committed_dashboard_is_the_tables() -> None:
    assert render_dashboard(DASHBOARD_TEXT) == DASHBOARD_TEXT, "dashboard.json drifted from the table: make monitoring"


def test_the_drift_checks_can_fail() -> None:
    # Another table renders other files, so the two tests above catch an edit of either side.
    assert render_rules(RULES_TEXT, ONLY_1_2) != RULES_TEXT
    assert render_dashboard(DASHBOARD_TEXT, ONLY_1_2) != DASHBOARD_TEXT
    edited = RULES_TEXT.replace("> 5", "> 50")
    assert edited != RULES_TEXT and render_rules(edited) == RULES_TEXT


def test_the_generated_group_is_last_and_only_below_the_marker() -> None:
    hand, _ = RULES_TEXT.split(GENERATED_MARKER)
    hand_rules = [rule for group in yaml.safe_load(hand)["groups"] for rule in group["rules"]]
    assert not {r.get("alert") for r in hand_rules} & alerts()
    assert not any("trtllm" in r["expr"] or "tensorrt-llm" in r["expr"] for r in hand_rules)
    groups = yaml.safe_load(RULES_TEXT)["groups"]
    assert groups[-1]["name"] == GROUP_NAME
    assert [g for g in groups if g["name"] == GROUP_NAME] == [groups[-1]]


def test_one_recording_rule_per_series_of_every_row() -> None:
    rules = recording_rules()
    assert len(rules) == sum(len(row.metrics.series) for row in RECIPES)
    assert {r["labels"][RECIPE_LABEL] for r in rules} == {row.name.value for row in RECIPES}
    by_row = {
        row.name.value: {r["record"] for r in rules if r["labels"][RECIPE_LABEL] == row.name.value} for row in RECIPES
    }
    # Signals both rows export land on the same names: one panel or alert serves either release line.
    assert "inference_operator:trtllm_request_queue_time_seconds_bucket:rate5m" in set.intersection(*by_row.values())


def test_a_kv_cache_alert_and_panel_target_exist_only_where_a_row_has_the_series() -> None:
    assert "TrtllmKvCacheFull" in alerts()
    assert "TrtllmKvCacheFull" not in alerts(ONLY_1_2)
    assert "TrtllmQueueTimeHigh" in alerts(ONLY_1_2)
    assert KV_PANEL in panel_targets()
    assert KV_PANEL not in panel_targets(ONLY_1_2)
    kv = next(r for r in alert_rules() if r["alert"] == "TrtllmKvCacheFull")
    assert "For 1.2.x it cannot fire: no KV-cache series." in kv["annotations"]["description"]


def test_the_kv_panel_says_which_release_lines_have_no_series() -> None:
    def description(text: str) -> str:
        return str(next(p for p in json.loads(text)["panels"] if p["title"] == KV_PANEL)["description"])

    assert description(DASHBOARD_TEXT).endswith("vLLM, and TensorRT-LLM 1.3.0rc21+ only; 1.2.x has no KV-cache series.")
    assert "no TensorRT-LLM release" in description(render_dashboard(DASHBOARD_TEXT, ONLY_1_2))


def test_a_signal_added_to_a_row_gets_its_targets() -> None:
    row = RECIPES_BY_NAME[TrtllmRecipeName.PYTORCH_ONLY]
    tokens = TrtllmSeries("trtllm_generation_tokens_total", SeriesKind.COUNTER, "generation_tokens_total", "Tokens.")
    wider = dataclasses.replace(row, metrics=dataclasses.replace(row.metrics, series=(*row.metrics.series, tokens)))
    assert "Tokens per second" not in panel_targets()
    [(legend, expr)] = panel_targets((wider,))["Tokens per second"]
    assert legend == "TensorRT-LLM generated"
    assert expr.startswith('sum(inference_operator:trtllm_generation_tokens_total:rate5m{namespace="$namespace"')
