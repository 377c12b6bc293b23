"""The real engine: the operator's rendered vLLM pod runs as a real vLLM process on the test bed's process node
local-cpu-0 (testbed/agent), gets the generated tiny Llama through the test bed's Hub mirror, is probed for
real, answers the OpenAI API, is scraped by a real Prometheus, and survives being killed and being hung.

One InferenceDeployment serves the whole module (each vLLM start costs about 90 s on two cores); the tests run
in file order and each leaves it Ready. How this works: docs/testbed-engine.md; figures: docs/reliability.md.
"""

from __future__ import annotations

import math
import os
import signal
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import namespace_name
from tests.support import testbed
from tests.support.cluster import Cluster, wait_for
from tests.support.engine import PrometheusAPI, hub_access_log, hub_traffic
from tests.support.engine_watch import WEIGHTS_LOADED, EngineWatch, Sample, count_delta, reconcile_counts
from tests.support.operator_process import OperatorProcess
from tests.support.queries import vllm_queries, vllm_series
from tests.support.real_engine import (
    chat,
    completion,
    http_error_text,
    hub_endpoint,
    model_repo,
    model_revision,
    ready_endpoints,
    tiny_llama,
)

NAME = "tiny"
SERVICE = NAME  # the operator names the Service after the resource
# The shipped startup and readiness probes are kept (time-to-Ready is measured with them). Liveness is made
# quick so a hung engine is restarted within seconds: a user-facing override (spec.serving.probes), with the
# probe's own grace period, because a stopped process never acts on SIGTERM and the pod's is 120 s.
LIVENESS = {"periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 3, "terminationGracePeriodSeconds": 5}
# vLLM's CPU build compiles the model with torch inductor at every start (cpu_model_runner.py warming_up_model;
# its compile cache failed to load on a restart here): 2-3 minutes of a loaded 2-core machine, three starts in
# this module. --enforce-eager (compilation mode NONE, vllm/config/vllm.py at v0.32.0) skips it; it reaches vLLM
# through spec.engine.vllm.extraArgs like any user's flag, so the rendered pod is otherwise the shipped one.
EXTRA_ARGS = ("--enforce-eager",)
# Loading on two busy cores: ~95 s to Ready on a quiet machine, over 7 minutes with three other test beds
# loading vLLM beside it (load average 13-15). The deadlines leave room for that.
READY_TIMEOUT = 900.0
# The module's fixture (one vLLM start) counts against its first test, and each fault test waits for a start.
pytestmark = pytest.mark.timeout(1500)
# Reconciles of our resource while one pod restarts: a handful of Deployment status events each. Far more
# would be an error or retry loop.
MAX_RECONCILES_PER_FAULT = 60


@dataclass
class Served:
    namespace: str
    watch: EngineWatch
    time_to_ready: float
    first_ready: Sample
    hub_since: int  # access-log lines before the resource was created

    def endpoint_url(self, cluster: Cluster) -> str:
        endpoints = ready_endpoints(cluster, self.namespace, SERVICE)
        assert len(endpoints) == 1, endpoints
        return endpoints[0].url


@pytest.fixture(scope="module")
def served(cluster: Cluster, operator: OperatorProcess) -> Iterator[Served]:
    namespace = namespace_name("real-engine")
    cluster.kubectl("create", "namespace", namespace)
    hub_since = len(hub_access_log())
    body = tiny_llama(NAME, namespace, extra_args=EXTRA_ARGS, spec={"serving": {"probes": {"liveness": LIVENESS}}})
    watch = EngineWatch(cluster, namespace, NAME)
    cluster.apply(body, namespace)
    try:
        ready = watch.until("the InferenceDeployment to be Ready", lambda s: s.infd_ready, READY_TIMEOUT)
        print(f"real engine: InferenceDeployment Ready {ready.t:.1f}s after apply (pod {ready.pod})")
        yield Served(namespace, watch, ready.t, ready, hub_since)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        # Free the ~3 GB of the engine before the next module starts its own.
        wait_for("the engine pod to go", lambda: not watch.engine_pods(), timeout=180, interval=1)


def _assert_not_started_before_loaded(samples: list[Sample]) -> None:
    loading = [s for s in samples if s.running and s.weights_loaded_at < 0]
    # The process ran for a while before its weights were loaded: the watch saw it (else this proves nothing).
    assert len(loading) >= 5, f"only {len(loading)} samples of the engine running before its weights loaded"
    early = [s for s in loading if s.started or s.pod_ready or s.infd_ready]
    assert not early, f"started or Ready before vLLM logged {WEIGHTS_LOADED!r}: {early[:3]}"
    unhealthy = [s for s in samples if s.running and s.health != 200]
    assert unhealthy, "the watch never saw the engine running without /health answering"
    assert not [s for s in unhealthy if s.started or s.pod_ready], "started or Ready before /health answered"


def test_startup_probe_passes_only_once_the_model_is_loaded(served: Served) -> None:
    samples = served.watch.samples
    _assert_not_started_before_loaded(samples)
    first_started = next(s for s in samples if s.started)
    assert first_started.weights_loaded_at >= 0
    ready = served.first_ready
    assert ready.pod_ready and ready.started and ready.restarts == 0 and ready.ready_replicas == 1
    assert ready.ready_condition.get("reason") == "Serving", ready.ready_condition
    print(
        f"real engine: weights loaded by {next(s.t for s in samples if s.weights_loaded_at >= 0):.1f}s, "
        f"startup probe passed by {first_started.t:.1f}s, Ready by {served.time_to_ready:.1f}s"
    )


def test_it_answers_the_openai_api_for_the_served_model_name(cluster: Cluster, served: Served) -> None:
    url = served.endpoint_url(cluster)
    model = model_repo()  # servedModelName defaults to the model's name
    done = completion(url, model, "Kubernetes operators", max_tokens=8)
    assert done["model"] == model and done["object"] == "text_completion"
    assert done["choices"][0]["text"] and done["usage"]["completion_tokens"] > 0, done
    talked = chat(url, model, "Hello there", max_tokens=8)
    assert talked["model"] == model and talked["object"] == "chat.completion"
    assert talked["choices"][0]["message"]["role"] == "assistant", talked
    with pytest.raises(urllib.error.HTTPError) as err:
        completion(url, "not-the-served-model")
    text = http_error_text(err.value)
    assert err.value.code == 404 and "does not exist" in text, text


def test_the_model_came_through_the_hub_mirror(cluster: Cluster, served: Served) -> None:
    pod = cluster.get("pod", served.first_ready.pod, served.namespace) or {}
    engine = next(c for c in pod["spec"]["containers"] if c["name"] == "vllm")
    env = {e["name"]: e.get("value") for e in engine.get("env") or []}
    assert env.get("HF_ENDPOINT") == hub_endpoint() and "HF_HUB_OFFLINE" not in env
    assert engine["args"][0] == model_repo()  # a Hub repo id, not a local directory
    assert engine["args"][engine["args"].index("--revision") + 1] == model_revision()
    files = hub_traffic(since=served.hub_since).files
    prefix = f"/{model_repo()}/resolve/{model_revision()}/"
    fetched = {path.removeprefix(prefix): size for path, size in files.items() if path.startswith(prefix)}
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        assert name in fetched, f"{prefix}{name} was not fetched from the mirror; fetched: {sorted(files)}"
    assert fetched["model.safetensors"] > 1_000_000  # the weights themselves crossed the wire


def test_every_vllm_dashboard_query_and_alert_expression_returns_series(cluster: Cluster, served: Served) -> None:
    url = served.endpoint_url(cluster)
    generated = 0
    for i in range(12):
        done = completion(url, model_repo(), f"Request {i} about GPUs", max_tokens=12)
        talked = chat(url, model_repo(), f"Question {i}", max_tokens=6)
        generated += done["usage"]["completion_tokens"] + talked["usage"]["completion_tokens"]
    prometheus = PrometheusAPI.of_testbed()
    queries = vllm_queries(served.namespace, NAME, rate_interval="1m")
    names = {name for q in queries for name in vllm_series(q)}
    assert len(queries) >= 12 and {"vllm:kv_cache_usage_perc", "vllm:num_requests_waiting"} <= names

    # Each query must return series at least once while the watch polls. A scrape of vLLM's /metrics can miss
    # its 2 s timeout on a loaded machine; an instant gauge then has no series until the next good scrape, while
    # a rate() over 1m keeps its own. Sent without a threshold: an alert's `avg(...) > 10` becomes `avg(...)`
    # (EngineQuery.signal): the full expression has series only while it fires, its vector part always.
    seen: dict[int, list[float]] = {}

    def empty() -> list[str]:
        for i, q in enumerate(queries):
            if i not in seen and (found := prometheus.query(q.signal)):
                seen[i] = [float(v["value"][1]) for v in found]
        return [f"{q.source} {q.title}: {q.signal}" for i, q in enumerate(queries) if i not in seen]

    try:
        wait_for("every vLLM query to return series", lambda: not empty(), timeout=120, interval=1)
    except AssertionError:
        missing = "\n".join(empty())
        raise AssertionError(f"vLLM queries that return nothing after traffic:\n{missing}") from None
    # The traffic above, counted by the real engine (the tiny model may stop before max_tokens), once a scrape
    # after the last request has succeeded.
    counted = f'sum(max_over_time(vllm:generation_tokens_total{{namespace="{served.namespace}"}}[2m]))'
    assert generated > 0
    wait_for(
        f"vllm:generation_tokens_total to count the {generated} tokens generated",
        lambda: (found := prometheus.query(counted)) and float(found[0]["value"][1]) >= generated,
        timeout=120,
        interval=1,
    )
    rules = [r for r in prometheus.rules() if r.get("name", "").startswith("Vllm")]
    assert {r["name"] for r in rules} >= {"VllmQueueHigh", "VllmKvCacheFull"}
    assert all(r["health"] == "ok" for r in rules), rules
    for i, q in enumerate(queries):
        # A number, except that a quantile of a histogram without observations in the window is NaN.
        assert any(not math.isnan(v) for v in seen[i]) or "histogram_quantile" in q.expr, (q.title, seen[i])


def _fault(cluster: Cluster, operator: OperatorProcess, served: Served, sig: signal.Signals) -> list[Sample]:
    """Sends `sig` to the engine's process, then watches it be restarted and come back; returns the samples."""
    watch = served.watch
    before = watch.until("the engine to be Ready before the fault", lambda s: s.infd_ready and s.pod_ready, 60)
    counts = reconcile_counts(operator)
    log_mark = len(operator.log())
    cstatus = (cluster.status("pod", before.pod, served.namespace).get("containerStatuses") or [{}])[0]
    pid = int(cstatus["containerID"].removeprefix("testbed://"))  # the agent's pid of the container's process
    t0 = watch.now()
    os.kill(pid, sig)
    restarted = watch.until("the container to restart", lambda s: s.restarts > before.restarts, 120, 0.5)
    back = watch.until("the engine to be Ready again", lambda s: s.infd_ready and s.pod_ready, READY_TIMEOUT)
    print(f"real engine {sig.name}: restarted after {restarted.t - t0:.1f}s, Ready again after {back.t - t0:.1f}s")
    assert back.pod == before.pod and back.restarts == before.restarts + 1  # the container restarted, in place
    terminated = back.last_state.get("terminated") or {}
    assert terminated.get("exitCode") == 128 + signal.SIGKILL, back.last_state
    # The new run loaded the model again before it was started (its log line comes after the fault).
    assert back.weights_loaded_at > before.log_bytes
    delta = count_delta(counts, reconcile_counts(operator))
    new_log = operator.log()[log_mark:]
    assert delta.get("error", 0) == 0, f"reconcile errors during the {sig.name} fault: {delta}\n{new_log[-3000:]}"
    assert sum(delta.values()) <= MAX_RECONCILES_PER_FAULT, f"reconciles during the fault: {delta}"
    assert "Traceback" not in new_log, new_log[-3000:]
    url = served.endpoint_url(cluster)
    assert completion(url, model_repo())["choices"][0]["text"]
    return watch.since(t0)


def _assert_status_said_down(samples: list[Sample]) -> None:
    down = [s for s in samples if not s.pod_ready]
    assert down, "the watch never saw the pod not Ready"
    said = [s for s in down if s.phase != "Ready" and s.ready_condition.get("status") == "False"]
    assert said, f"the InferenceDeployment's status never left Ready while its pod was down: {down[-1]}"
    assert all(s.ready_replicas == 0 for s in said), said[:2]
    outage = said[len(said) // 2]
    assert outage.phase == "Degraded", outage  # it served before: an outage, not a first deployment
    assert "0/1" in outage.message and "restart" in outage.message, outage.message
    print(f"real engine: status while down: {outage.phase}: {outage.message}")


def test_sigkilled_engine_is_restarted_and_the_status_says_so(
    cluster: Cluster, operator: OperatorProcess, served: Served
) -> None:
    samples = _fault(cluster, operator, served, signal.SIGKILL)
    _assert_status_said_down(samples)


def test_hung_engine_is_restarted_by_liveness_and_the_status_says_so(
    cluster: Cluster, operator: OperatorProcess, served: Served
) -> None:
    agent_log = testbed.state_dir() / "logs" / "node-agent.log"
    mark = agent_log.stat().st_size
    samples = _fault(cluster, operator, served, signal.SIGSTOP)
    _assert_status_said_down(samples)
    # A stopped process answers nothing yet stays alive: only the liveness probe can end it (SIGTERM stays
    # pending on a stopped process; the agent's SIGKILL comes after the probe's 5 s grace period).
    hung = [s for s in samples if s.running and s.health is None and s.restarts == samples[0].restarts]
    assert len(hung) >= 2, "the watch never saw the hung engine still running"
    with agent_log.open(errors="replace") as f:
        f.seek(mark)
        agent_said = f.read()
    assert "container vllm failed its liveness probe" in agent_said, agent_said[-2000:]
