"""The chart's alert rules and Grafana dashboard: promtool validates and unit-tests the rules, and every
PromQL expression may name only metrics the operator (metrics/operator.py) or an engine (metrics/engines.py) exports.

promtool comes from Debian's `prometheus` package: apt-get install --no-install-recommends prometheus
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.metrics import operator as metrics
from inference_operator.metrics.engines import RETIRED_ENGINE_METRICS, series_names
from inference_operator.metrics.trtllm_monitoring import RECORDED_PREFIX
from inference_operator.render.podmonitor import TARGET_DEPLOYMENT, TARGET_ENGINE, TARGET_MODEL
from tests.support.queries import metric_names
from tests.support.samples import REPO_ROOT

FILES = REPO_ROOT / "charts" / "inference-operator" / "files"
RULES = FILES / "prometheus-rules.yaml"
DASHBOARD = FILES / "dashboard.json"
DEP = TARGET_DEPLOYMENT


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install Debian's prometheus package "
            "(apt-get install --no-install-recommends prometheus)"
        )
    return path


def run_promtool(*args: str) -> None:
    done = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def all_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def rules() -> list[dict[str, Any]]:
    """The alerting rules."""
    return [rule for rule in all_rules() if "alert" in rule]


def recorded() -> set[str]:
    """What the recording rules (metrics/trtllm_monitoring.py) record: test_trtllm_series.py checks their inputs."""
    return {rule["record"] for rule in all_rules() if "record" in rule}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


# --- Metric names in PromQL -----------------------------------------------------------------------------


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, ns) (rate(a:b_bucket{x="y", z=~"$v"}[$__rate_interval])))'
        " > on (ns) c_total and time() - d"
    )
    assert metric_names(expr) == {"a:b_bucket", "c_total", "d"}


KNOWN = metrics.exposed_metric_names() | series_names() | recorded()


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_expression_names_only_exported_metrics(source: str) -> None:
    exprs = [r["expr"] for r in all_rules()] if source == "rules" else dashboard_exprs()
    assert exprs
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        assert names <= KNOWN, f"{expr!r}: nobody exports {sorted(names - KNOWN)}"
        assert not names & set(RETIRED_ENGINE_METRICS), f"{expr!r} uses a retired engine metric"


def test_engine_queries_use_the_podmonitor_target_labels() -> None:
    text = RULES.read_text() + DASHBOARD.read_text()
    assert DEP in text
    used = set(re.findall(r"inference_operator_dev_[a-z_]+", text))
    assert used <= {TARGET_DEPLOYMENT, TARGET_MODEL, TARGET_ENGINE}


# --- Rules ----------------------------------------------------------------------------------------------


def test_promtool_check_rules_passes() -> None:
    run_promtool("check", "rules", str(RULES))


def test_every_alert_has_severity_summary_and_description() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    selector = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{selector}}}", "values": values}


def case(alert: str, at: str, inputs: list[dict[str, str]], fired: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": inputs,
        "alert_rule_test": [
            {
                "eval_time": at,
                "alertname": alert,
                "exp_alerts": [{"exp_labels": {"severity": "warning", **labels}} for labels in fired],
            }
        ],
    }


ML = {"namespace": "ml"}
POD1 = {**ML, DEP: "chat", "pod": "chat-vllm-1"}
POD2 = {**ML, DEP: "chat", "pod": "chat-vllm-2"}
BUILD = {**ML, "name": "llama-3-1-70b-fp8-0a1b2c3d"}
READY = "inference_operator_inference_deployment_ready"
NOT_READY = {**ML, "name": "chat", "engine": "vllm"}
# Started at Unix time 0 (the test's clock), expected to take 10 minutes.
SLOW_BUILD = [
    series("inference_operator_engine_build_start_time_seconds", BUILD, "0x30"),
    series("inference_operator_engine_build_expected_seconds", BUILD, "600x30"),
]
TRT_POD = {**ML, DEP: "chat", "pod": "chat-trtllm-1", TARGET_ENGINE: "tensorrt-llm"}


def queue_buckets(name: str, pod: dict[str, str]) -> list[dict[str, str]]:
    """A queue-time histogram whose requests all wait between 1 and 10 s."""
    return [
        series(name, {**pod, "le": le}, values)
        for le, values in (("1.0", "0x40"), ("10.0", "0+10x40"), ("+Inf", "0+10x40"))
    ]


# The same signal as each row of the recipe table names it: 1.2.x bare, 1.3.0rc21+ prefixed.
VLLM_POD = {**POD1, TARGET_ENGINE: "vllm"}
TRT_BUCKETS = queue_buckets("request_queue_time_seconds_bucket", TRT_POD)
TRT_1_3_BUCKETS = queue_buckets("trtllm_request_queue_time_seconds_bucket", TRT_POD)
CASES = [
    case("InferenceDeploymentNotReady", "10m", [series(READY, NOT_READY, "0x30")], []),
    case(
        "InferenceDeploymentNotReady",
        "20m",
        [
            series(READY, NOT_READY, "0x30"),
            series(READY, {**ML, "name": "fine", "engine": "vllm"}, "1x30"),
        ],
        [NOT_READY],
    ),
    case(
        "EngineBuildFailed",
        "5m",
        [
            series("inference_operator_engine_build_phase", {**BUILD, "phase": "Failed"}, "1x10"),
            series("inference_operator_engine_build_phase", {**ML, "name": "other", "phase": "Building"}, "1x10"),
        ],
        [{**BUILD, "phase": "Failed"}],
    ),
    case("EngineBuildSlow", "9m", SLOW_BUILD, []),
    case("EngineBuildSlow", "20m", SLOW_BUILD, [BUILD]),
    case(
        "InferenceOperatorReconcileErrors",
        "25m",
        [
            series("inference_operator_reconciles_total", {"kind": "EngineBuild", "result": "error"}, "0+1x40"),
            series(
                "inference_operator_reconciles_total",
                {"kind": "InferenceDeployment", "result": "success"},
                "0+5x40",
            ),
        ],
        [{"kind": "EngineBuild"}],
    ),
    case(
        "VllmQueueHigh",
        "20m",
        [
            series("vllm:num_requests_waiting", POD1, "20x30"),
            series("vllm:num_requests_waiting", POD2, "20x30"),
            series("vllm:num_requests_waiting", {**ML, "pod": "not-ours"}, "99x30"),
        ],
        [{**ML, DEP: "chat"}],
    ),
    case(
        "VllmKvCacheFull",
        "20m",
        [
            series("vllm:kv_cache_usage_perc", POD1, "0.95x30"),
            series("vllm:kv_cache_usage_perc", POD2, "0.5x30"),
        ],
        [POD1],
    ),
    case("TrtllmQueueTimeHigh", "25m", TRT_BUCKETS, [{**ML, DEP: "chat"}]),
    case("TrtllmQueueTimeHigh", "25m", TRT_1_3_BUCKETS, [{**ML, DEP: "chat"}]),
    # The same histogram from a pod of another engine (or any other app) is not TensorRT-LLM's: no alert.
    case("TrtllmQueueTimeHigh", "25m", queue_buckets("request_queue_time_seconds_bucket", VLLM_POD), []),
    # Only 1.3.0rc21+ exports a KV-cache gauge (trtllm_kv_cache_utilization, 1 = full).
    case(
        "TrtllmKvCacheFull",
        "20m",
        [
            series("trtllm_kv_cache_utilization", TRT_POD, "0.95x30"),
            series("trtllm_kv_cache_utilization", {**TRT_POD, "pod": "chat-trtllm-2"}, "0.5x30"),
            series("trtllm_kv_cache_utilization", {**ML, "pod": "not-ours"}, "0.99x30"),
        ],
        [{**ML, DEP: "chat", "pod": "chat-trtllm-1"}],
    ),
    case("TrtllmKvCacheFull", "10m", [series("trtllm_kv_cache_utilization", TRT_POD, "0.95x30")], []),
]


def test_alerts_fire_exactly_when_they_should(tmp_path: Path) -> None:
    # Annotations are stripped so the cases pin labels and timing, not wording; check rules parses templates.
    groups = yaml.safe_load(RULES.read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": CASES}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    run_promtool("test", "rules", str(tmp_path / "tests.yaml"))


def test_every_alert_has_a_firing_case() -> None:
    firing = {t["alertname"] for c in CASES for t in c["alert_rule_test"] if t["exp_alerts"]}
    assert firing == {r["alert"] for r in rules()}


# --- Dashboard ------------------------------------------------------------------------------------------


def test_dashboard_is_grafana_json_with_a_datasource_and_deployment_variable() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "deployment"} <= set(variables)
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]
    titles = {p["title"] for p in board["panels"]}
    assert {
        "InferenceDeployments by phase and engine",
        "EngineBuilds by phase",
        "Engine build duration",
        "Tokens per second",
        "Time to first token",
        "Queue",
        "KV cache usage",
    } <= titles


def test_dashboard_queries_filter_on_the_selected_deployment() -> None:
    engine_exprs = [e for e in dashboard_exprs() if metric_names(e) & (series_names() | recorded())]
    assert any("vllm:" in e for e in engine_exprs) and any(RECORDED_PREFIX in e for e in engine_exprs)
    for expr in engine_exprs:
        assert f'{DEP}="$deployment"' in expr and 'namespace="$namespace"' in expr, expr


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    # Grafana variables replaced by values, each expression checked by Prometheus' own parser as a rule.
    substitutions = {"$__rate_interval": "5m", "$namespace": "ml", "$deployment": "chat"}
    records = []
    for i, expr in enumerate(dashboard_exprs()):
        concrete = expr
        for variable, replacement in substitutions.items():
            concrete = concrete.replace(variable, replacement)
        assert "$" not in concrete, concrete
        records.append({"record": f"dashboard_expr_{i}", "expr": concrete})
    groups = {"groups": [{"name": "dashboard", "rules": records}]}
    (tmp_path / "dashboard-rules.yaml").write_text(yaml.safe_dump(groups))
    run_promtool("check", "rules", str(tmp_path / "dashboard-rules.yaml"))
