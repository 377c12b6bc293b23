"""Chaos on a real control plane of its own: killed operators, API server and etcd outages, failover, deletions
mid-build, racing clients. Each test asserts convergence and that nothing was lost or duplicated.

Everything here runs on a private test bed (tests/support/private_testbed.py): stopping kube-apiserver or etcd on the
shared one would fail the tests of other sessions. Its Job pods run for BUILD_SECONDS, long enough to act while
a build runs. docs/reliability.md lists the scenarios and the command that reproduces each.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import Cluster, wait_for
from tests.support.operator_process import OperatorProcess
from tests.support.private_testbed import PrivateTestbed, private_testbed
from tests.support.samples import SAMPLES_DIR

FIXTURES = Path(__file__).parent / "fixtures"
BUILD_SECONDS = 10
# The namespaces of the module's operator; the HA test's replicas watch their own.
CHAOS_PREFIX = "chaos"
H100 = "NVIDIA-H100-80GB-HBM3"
BUILD_LABEL = "inference-operator.dev/engine-build"
OUTAGE_SECONDS = 20
# "Within seconds" of the API answering again: the operator retries API calls at most 5 s apart
# (runtime/kopf_settings.py).
RECOVERY_SECONDS = 15
# The Deployments' own status needs kube-controller-manager back: after an API server restart RBAC denies it
# for a while and its watches back off (about a minute on the test bed).
CONVERGENCE_SECONDS = 180
TAKEOVER_SECONDS = 30
# A resource's first Ready on a private bed just started: nodes registering, the scheduler's first pass.
BED_SETTLE_SECONDS = 150


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateTestbed]:
    with private_testbed(tmp_path_factory.mktemp("chaos-testbed"), pod_run_ms=BUILD_SECONDS * 1000) as testbed:
        testbed.cluster.kubectl("apply", "--server-side", "-f", str(FIXTURES / "kopf-peering-crds.yaml"))
        yield testbed


@pytest.fixture(scope="module")
def module_operator(bed: PrivateTestbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(bed.cluster, tmp_path_factory.mktemp("chaos-operator"), args=("-n", f"{CHAOS_PREFIX}-*"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def op(module_operator: OperatorProcess) -> OperatorProcess:
    """The module's operator, running (a test before may have killed it)."""
    if module_operator.proc is None or module_operator.proc.poll() is not None:
        module_operator.start()
    return module_operator


def new_namespace(cluster: Cluster, prefix: str, hint: str) -> str:
    name = f"{prefix}-{hint}-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", name)
    return name


@pytest.fixture
def ns(bed: PrivateTestbed, request: pytest.FixtureRequest) -> Iterator[str]:
    hint = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")
    name = new_namespace(bed.cluster, CHAOS_PREFIX, hint)
    yield name
    bed.cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def outage_bed(tmp_path: Path) -> Iterator[tuple[PrivateTestbed, OperatorProcess]]:
    """A test bed and an operator of the test's own: an outage leaves the control plane's other components
    backing off for a while, which would slow the tests after it."""
    (tmp_path / "operator").mkdir()
    with private_testbed(tmp_path / "testbed") as testbed:
        proc = OperatorProcess(testbed.cluster, tmp_path / "operator", args=("-n", f"{CHAOS_PREFIX}-*"))
        proc.start()
        try:
            yield testbed, proc
        finally:
            proc.stop()


def vllm_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / "small-model.yaml").read_text())
    body["metadata"]["name"] = name
    return body


def trt_body(name: str) -> dict[str, Any]:
    """A small TensorRT-LLM resource: one H100, an engine built once."""
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "meta-llama/Llama-3.1-8B-Instruct", "architecture": "LlamaForCausalLM"},
            "engine": {"preference": "tensorrt-llm"},
            "resources": {"gpuProduct": H100},
        },
    }


def ready(cluster: Cluster, name: str, namespace: str, engine: str = "vllm", replicas: int = 1) -> bool:
    """Ready on `engine` with `replicas` Ready, for the resource's current generation."""
    obj = cluster.get("infd", name, namespace) or {}
    st = obj.get("status") or {}
    return (
        st.get("phase") == "Ready"
        and st.get("observedGeneration") == obj.get("metadata", {}).get("generation")
        and (st.get("engine") or {}).get("active") == engine
        and st.get("readyReplicas") == replicas
    )


def reconciled(cluster: Cluster, name: str, namespace: str, replicas: int = 1) -> bool:
    """The operator handled the current generation: Deployment and Service written, status for this generation."""
    obj = cluster.get("infd", name, namespace) or {}
    st = obj.get("status") or {}
    deployment = cluster.get("deployment", f"{name}-vllm", namespace) or {}
    return (
        st.get("observedGeneration") == obj.get("metadata", {}).get("generation")
        and bool(st.get("phase"))
        and deployment.get("spec", {}).get("replicas") == replicas
        and cluster.get("service", name, namespace) is not None
    )


def mirrors(cluster: Cluster, name: str, namespace: str, replicas: int) -> bool:
    """The Deployment controller has handled the current spec, and the resource's status says what it reports."""
    obj = cluster.get("infd", name, namespace) or {}
    deployment = cluster.get("deployment", f"{name}-vllm", namespace) or {}
    dst, st = deployment.get("status") or {}, obj.get("status") or {}
    return (
        dst.get("observedGeneration") == deployment.get("metadata", {}).get("generation")
        and dst.get("replicas") == replicas
        and st.get("observedGeneration") == obj.get("metadata", {}).get("generation")
        and st.get("readyReplicas") == dst.get("readyReplicas", 0)
        and st.get("replicas") == replicas
    )


def recreated(cluster: Cluster, name: str, namespace: str, old_uid: str) -> bool:
    found = cluster.get("deployment", name, namespace)
    return found is not None and found["metadata"]["uid"] != old_uid


def jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return cluster.items("jobs", namespace, BUILD_LABEL)


def only_build(cluster: Cluster, namespace: str) -> dict[str, Any]:
    builds = cluster.items("enginebuilds", namespace)
    assert len(builds) == 1, [b["metadata"]["name"] for b in builds]
    return builds[0]


def names(cluster: Cluster, kind: str, namespace: str) -> list[str]:
    return sorted(obj["metadata"]["name"] for obj in cluster.items(kind, namespace))


# --- the operator killed between two writes ----------------------------------------------------------------


def hold_back_build_status(namespace: str) -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy refusing EngineBuild status writes in the namespace (and a probe ConfigMap,
    to tell when it is in force): the operator creates the build Job, then cannot record anything."""
    policy = f"hold-build-status-{namespace}"
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["inference-operator.dev"],
                            "apiVersions": ["*"],
                            "operations": ["UPDATE"],
                            "resources": ["enginebuilds/status"],
                        },
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        },
                    ]
                },
                "validations": [
                    {
                        "expression": "request.resource.resource == 'configmaps' && object.metadata.name != 'probe'",
                        "message": "chaos test: EngineBuild status writes are held back",
                        "reason": "Forbidden",
                    }
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy},
            "spec": {
                "policyName": policy,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
            },
        },
    ]


def probe_refused(cluster: Cluster, namespace: str) -> bool:
    args = ("create", "configmap", "probe", "-n", namespace, "--dry-run=server")
    return cluster.kubectl(*args, check=False).returncode != 0


def test_kill_after_the_build_job_is_created_and_before_its_status(
    bed: PrivateTestbed, op: OperatorProcess, ns: str
) -> None:
    cluster = bed.cluster
    policy = hold_back_build_status(ns)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(policy))
    wait_for("the admission policy to be in force", lambda: probe_refused(cluster, ns), timeout=30)

    cluster.apply(trt_body("trt"), ns)
    created = wait_for("the build Job", lambda: jobs(cluster, ns), timeout=60, interval=0.05)
    op.kill()
    job_uid = created[0]["metadata"]["uid"]
    build = only_build(cluster, ns)
    assert not (build.get("status") or {}).get("phase"), f"status was recorded before the kill: {build['status']}"

    cluster.kubectl("delete", "-f", "-", input=yaml.safe_dump_all(policy))
    wait_for("the admission policy to be gone", lambda: not probe_refused(cluster, ns), timeout=30)
    op.start()

    wait_for(
        "the build recorded as Succeeded", lambda: only_build(cluster, ns).get("status", {}).get("phase") == "Succeeded"
    )
    wait_for("Ready on TensorRT-LLM", lambda: ready(cluster, "trt", ns, engine="tensorrt-llm"), timeout=90)
    found = jobs(cluster, ns)
    assert [j["metadata"]["uid"] for j in found] == [job_uid], "the build Job was created again"
    assert found[0]["metadata"]["name"] == f"{build['metadata']['name']}-build"
    assert only_build(cluster, ns)["status"]["jobName"] == found[0]["metadata"]["name"]
    wait_for("the interim vLLM Deployment retired", lambda: names(cluster, "deployments", ns) == ["trt-trtllm"])


def quota(cluster: Cluster, namespace: str, resource: str) -> None:
    """A ResourceQuota of none of `resource`, in force once the quota controller has counted it."""
    name = "none-of-" + resource.replace("/", "-").replace(".", "-")
    spec = {"hard": {resource: "0"}}
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": spec}, namespace)
    wait_for("the quota to be counted", lambda: (cluster.get("resourcequota", name, namespace) or {}).get("status"))


def test_kill_between_the_deployment_and_the_service(bed: PrivateTestbed, op: OperatorProcess, ns: str) -> None:
    """A quota lets the operator apply one of the two children and refuses the other; it dies right there.

    Which child comes first is the reconcile's business (today the Service, so a Recreate rollout never leaves
    it routing to stopped pods): the test refuses Deployments, and if that stopped the reconcile before the
    Service, it refuses Services instead and waits for the operator's retry to apply the Deployment.
    """
    cluster = bed.cluster
    quota(cluster, ns, "count/deployments.apps")
    log_start = len(op.log())
    cluster.apply(vllm_body("m"), ns)
    wait_for("a child refused", lambda: "exceeded quota" in op.log()[log_start:], timeout=60, interval=0.1)
    if cluster.get("service", "m", ns) is None:  # the Deployment comes first: refuse the Service instead
        quota(cluster, ns, "services")
        cluster.kubectl("delete", "resourcequota", "none-of-count-deployments-apps", "-n", ns)
        wait_for("the Deployment applied", lambda: cluster.get("deployment", "m-vllm", ns), timeout=90, interval=0.1)
    op.kill()
    children = {kind: cluster.get(kind, name, ns) for kind, name in (("service", "m"), ("deployment", "m-vllm"))}
    applied = {kind: obj["metadata"]["uid"] for kind, obj in children.items() if obj is not None}
    assert len(applied) == 1, f"not between the two applies: {sorted(applied)}"
    for obj in cluster.items("resourcequotas", ns):
        cluster.kubectl("delete", "resourcequota", obj["metadata"]["name"], "-n", ns)
    op.start()

    wait_for("Ready", lambda: ready(cluster, "m", ns))
    service = cluster.get("service", "m", ns)
    assert service is not None and service["spec"]["selector"]["inference-operator.dev/engine"] == "vllm"
    for kind, uid in applied.items():
        now = cluster.get(kind, "m" if kind == "service" else "m-vllm", ns)
        assert now is not None and now["metadata"]["uid"] == uid, f"the {kind} was created again"
    deployment = cluster.get("deployment", "m-vllm", ns)
    assert deployment is not None and deployment["metadata"]["generation"] == 1, "the restart rolled the pods"
    assert names(cluster, "deployments", ns) == ["m-vllm"]
    assert names(cluster, "services", ns) == ["m"]
    assert len(cluster.items("replicasets", ns)) == 1
    assert len(cluster.items("pods", ns, "inference-operator.dev/deployment=m")) == 1


# --- the control plane away ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "down", "up"),
    [
        ("kube-apiserver", "stop", "start"),
        ("kube-apiserver", "freeze", "thaw"),
        ("etcd", "stop", "start"),
        ("etcd", "freeze", "thaw"),
    ],
    ids=["apiserver-stopped", "apiserver-frozen", "etcd-stopped", "etcd-frozen"],
)
def test_edits_after_an_outage_are_reconciled_within_seconds(
    outage_bed: tuple[PrivateTestbed, OperatorProcess], component: str, down: str, up: str
) -> None:
    """stop: the process is gone and its connections close. freeze (SIGSTOP): it hangs with its connections
    open, the way a watch dies silently behind a dead network path (kopf#698)."""
    bed, op = outage_bed
    cluster = bed.cluster
    ns = new_namespace(cluster, CHAOS_PREFIX, "outage")
    cluster.apply(vllm_body("before"), ns)
    # A new bed on a loaded machine (CI runs this after the real-engine tests) can take a while to schedule its
    # first pod; a failure here says what the bed and the operator were doing.
    wait_for(
        "Ready before the outage",
        lambda: ready(cluster, "before", ns),
        timeout=BED_SETTLE_SECONDS,
        explain=lambda: f"{bed.diagnostics()}\n--- operator\n{op.log()[-3000:]}",
    )

    bed.component(down, component)
    time.sleep(OUTAGE_SECONDS)  # the outage's length is the point of the test: nothing to poll for
    bed.component(up, component)
    bed.wait_ready()
    back = time.monotonic()

    cluster.kubectl("patch", "infd", "before", "-n", ns, "--type=merge", "-p", '{"spec": {"replicas": 2}}')
    cluster.apply(vllm_body("after"), ns)
    # The operator's part: the edit and the new resource reconciled (children written, status for the generation).
    wait_for("the edit reconciled", lambda: reconciled(cluster, "before", ns, replicas=2), timeout=RECOVERY_SECONDS)
    wait_for("the new resource reconciled", lambda: reconciled(cluster, "after", ns), timeout=RECOVERY_SECONDS)
    operator_back = time.monotonic() - back
    # The Deployments' status is the control plane's business: kube-controller-manager and kube-scheduler come back
    # with their own back-offs, and may mark pods NotReady while node leases looked stale (kwok, unlike a kubelet,
    # never marks them Ready again). The operator's business is to report it: its status follows each Deployment's.
    converged = time.monotonic() + CONVERGENCE_SECONDS
    while not (mirrors(cluster, "before", ns, 2) and mirrors(cluster, "after", ns, 1)):
        assert time.monotonic() < converged, f"status not following {CONVERGENCE_SECONDS}s later:\n{bed.diagnostics()}"
        time.sleep(0.5)  # a poll interval, bounded by the deadline above
    # A child deleted behind the operator's back: its Deployment watch is alive too.
    uid = (cluster.get("deployment", "after-vllm", ns) or {})["metadata"]["uid"]
    cluster.kubectl("delete", "deployment", "after-vllm", "-n", ns, "--wait=false")
    wait_for("the Deployment restored", lambda: recreated(cluster, "after-vllm", ns, uid), timeout=RECOVERY_SECONDS)
    print(
        f"\n{component} {down} for {OUTAGE_SECONDS}s: edits reconciled {operator_back:.1f}s after the API answered; "
        f"all Ready: {ready(cluster, 'before', ns, replicas=2) and ready(cluster, 'after', ns)}"
    )
    assert op.proc is not None and op.proc.poll() is None, "the operator exited during the outage"


# --- two replicas, one works ---------------------------------------------------------------------------------


def scrape(proc: OperatorProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def writes(proc: OperatorProcess) -> float:
    """API writes the replica made to reconcile (kopf's own peering keep-alives are not counted)."""
    total = 0.0
    for line in scrape(proc).splitlines():
        if line.startswith("inference_operator_api_writes_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def serves(proc: OperatorProcess, namespace: str, name: str) -> bool:
    """The replica reconciled the resource to Ready (its own per-resource gauge says so)."""
    wanted = f'inference_operator_inference_deployment_ready{{engine="vllm",name="{name}",namespace="{namespace}"}} 1.0'
    return wanted in scrape(proc)


@pytest.mark.parametrize("priorities", [(None, None), (100, 50)], ids=["default-priority", "explicit-priority"])
def test_standby_replica_takes_over_within_30s(
    bed: PrivateTestbed, tmp_path: Path, priorities: tuple[int | None, int | None]
) -> None:
    """Two replicas with one peering name, as a Deployment of two runs them: the first started works."""
    cluster = bed.cluster
    namespace = new_namespace(cluster, "ha", "takeover")
    peering = f"ha-{uuid.uuid4().hex[:6]}"
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": peering}}),
    )
    replicas = []
    for index, priority in enumerate(priorities):
        args = ["-n", namespace, "--peering", peering] + ([] if priority is None else ["--priority", str(priority)])
        replica = OperatorProcess(cluster, tmp_path / f"replica-{index}", args=tuple(args))
        (tmp_path / f"replica-{index}").mkdir()
        replica.start()
        replicas.append(replica)
    active, standby = replicas
    try:
        cluster.apply(vllm_body("first"), namespace)
        wait_for(
            "the active replica to serve",
            lambda: ready(cluster, "first", namespace) and serves(active, namespace, "first"),
        )
        assert writes(standby) == 0, "the standby wrote to the API"
        assert not serves(standby, namespace, "first")
        assert writes(active) > 0

        active.kill()
        killed = time.monotonic()
        cluster.apply(vllm_body("second"), namespace)
        wait_for("the standby to take over", lambda: ready(cluster, "second", namespace), timeout=TAKEOVER_SECONDS)
        print(f"\ntakeover: a resource created at the kill was Ready after {time.monotonic() - killed:.1f}s")
        wait_for("the standby's gauge for it", lambda: serves(standby, namespace, "second"), timeout=10)
        wait_for("the standby to adopt the first resource", lambda: serves(standby, namespace, "first"), timeout=30)
        assert names(cluster, "deployments", namespace) == ["first-vllm", "second-vllm"]
    finally:
        for replica in replicas:
            replica.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.kubectl("delete", "clusterkopfpeering", peering, check=False)


# --- a restart: nothing to write, but what changed meanwhile -------------------------------------------------


def writes_by_kind(proc: OperatorProcess) -> dict[str, float]:
    """The replica's API writes, by verb and kind ("apply Deployment": 1.0), none counted as 0."""
    found: dict[str, float] = {}
    for line in scrape(proc).splitlines():
        if not line.startswith("inference_operator_api_writes_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        value = float(line.rsplit(" ", 1)[1])
        if value:
            found[f"{labels['verb']} {labels['kind']}"] = value
    return found


def resource_version(cluster: Cluster, kind: str, name: str, namespace: str) -> str:
    obj = cluster.get(kind, name, namespace)
    assert obj is not None, f"no {kind} {name}"
    return str(obj["metadata"]["resourceVersion"])


def test_a_restart_writes_nothing_but_puts_right_what_changed_meanwhile(bed: PrivateTestbed, tmp_path: Path) -> None:
    """Killed with two resources Ready; meanwhile someone edits one's Service selector and a label of its
    Deployment. The new process verifies both and writes exactly those two children back (the stamps on the
    children, kube/applied.py, say what the first process applied); the untouched resource costs nothing."""
    cluster = bed.cluster
    # Not under CHAOS_PREFIX: the module's operator, when a test before has started it, would own these
    # resources too, and since Services are watched it puts the Service right before this process can.
    namespace = new_namespace(cluster, "restart", "drift")
    proc = OperatorProcess(cluster, tmp_path, args=("-n", namespace))
    proc.start()
    try:
        for name in ("same", "drift"):
            cluster.apply(vllm_body(name), namespace)
        for name in ("same", "drift"):
            wait_for(f"{name} Ready", functools.partial(ready, cluster, name, namespace))
            wait_for(f"{name} in the gauge", functools.partial(serves, proc, namespace, name))
        proc.kill()
        same = resource_version(cluster, "service", "same", namespace)
        engine = '{"spec": {"selector": {"inference-operator.dev/engine": "tensorrt-llm"}}}'
        cluster.kubectl("patch", "service", "drift", "-n", namespace, "--type=merge", "-p", engine)
        deployment = cluster.get("deployment", "drift-vllm", namespace) or {}
        model = deployment["metadata"]["labels"]["inference-operator.dev/model"]
        label = '{"metadata": {"labels": {"inference-operator.dev/model": "someone-else"}}}'
        cluster.kubectl("patch", "deployment", "drift-vllm", "-n", namespace, "--type=merge", "-p", label)

        proc.start()
        for name in ("same", "drift"):
            wait_for(f"{name} verified", functools.partial(serves, proc, namespace, name), timeout=30)
        service = cluster.get("service", "drift", namespace) or {}
        assert service["spec"]["selector"]["inference-operator.dev/engine"] == "vllm"
        deployment = cluster.get("deployment", "drift-vllm", namespace) or {}
        assert deployment["metadata"]["labels"]["inference-operator.dev/model"] == model
        assert writes_by_kind(proc) == {"apply Deployment": 1.0, "apply Service": 1.0}
        assert resource_version(cluster, "service", "same", namespace) == same
        assert "re-applying Service" in proc.log() and "re-applying Deployment" in proc.log()
    finally:
        proc.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


# --- deletions -----------------------------------------------------------------------------------------------


def build_running(cluster: Cluster, namespace: str) -> bool:
    pods = cluster.items("pods", namespace, BUILD_LABEL)
    return any(p["status"].get("phase") == "Running" for p in pods)


def test_deleting_a_resource_mid_build_keeps_the_build(bed: PrivateTestbed, op: OperatorProcess, ns: str) -> None:
    """Policy: serving children go with the resource; the EngineBuild, its Job and the engine store stay, the build
    finishes, and the next resource with the same engine settings serves it without building again."""
    cluster = bed.cluster
    cluster.apply(trt_body("trt"), ns)
    wait_for("the build to run", lambda: build_running(cluster, ns), timeout=60, interval=0.2)
    job_uid = jobs(cluster, ns)[0]["metadata"]["uid"]
    cluster.kubectl("delete", "infd", "trt", "-n", ns, "--wait=true", "--timeout=30s")

    def serving_gone() -> bool:
        return names(cluster, "deployments", ns) == [] and cluster.get("service", "trt", ns) is None

    wait_for("the serving children garbage-collected", serving_gone, timeout=30)
    assert [j["metadata"]["uid"] for j in jobs(cluster, ns)] == [job_uid], "the build Job went with the resource"
    wait_for("the build to finish", lambda: only_build(cluster, ns).get("status", {}).get("phase") == "Succeeded")
    assert cluster.get("pvc", "inference-engine-store", ns) is not None

    cluster.apply(trt_body("again"), ns)
    wait_for("the same engine served again", lambda: ready(cluster, "again", ns, engine="tensorrt-llm"), timeout=90)
    assert [j["metadata"]["uid"] for j in jobs(cluster, ns)] == [job_uid], "the engine was built twice"
    only_build(cluster, ns)


def leftovers(cluster: Cluster, namespace: str) -> str:
    """Why a namespace is still there: its conditions and what it still holds."""
    conditions = ((cluster.get("namespace", namespace, "default") or {}).get("status") or {}).get("conditions")
    kinds = "infd,enginebuilds,deployments,replicasets,pods,jobs,services,pvc,events"
    held = cluster.kubectl("get", kinds, "-n", namespace, "-o", "wide", check=False).stdout
    return f"namespace conditions: {json.dumps(conditions, indent=1)}\nstill there:\n{held}"


def test_deleting_a_namespace_mid_build_completes(bed: PrivateTestbed, op: OperatorProcess) -> None:
    """No finalizers on anything the operator owns or watches, so the namespace controller finishes (kopf#1088)."""
    cluster = bed.cluster
    namespace = new_namespace(cluster, CHAOS_PREFIX, "doomed")
    cluster.apply(vllm_body("served"), namespace)
    cluster.apply(trt_body("building"), namespace)
    wait_for("one resource Ready", lambda: ready(cluster, "served", namespace))
    wait_for("the build to run", lambda: build_running(cluster, namespace), timeout=60, interval=0.2)
    for kind in ("infd", "enginebuilds", "deployments", "jobs", "services"):
        for obj in cluster.items(kind, namespace):
            assert not obj["metadata"].get("finalizers"), f"{kind}/{obj['metadata']['name']} has finalizers"
    log_start = len(op.log())

    started = time.monotonic()
    deleted = cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=90s", check=False)
    assert deleted.returncode == 0, f"{deleted.stderr}\n{leftovers(cluster, namespace)}"
    print(f"\nnamespace deleted in {time.monotonic() - started:.1f}s")
    assert cluster.get("namespace", namespace, "default") is None
    assert op.proc is not None and op.proc.poll() is None
    log = op.log()[log_start:]
    assert "Traceback" not in log
    assert log.count(namespace) < 100, "the operator kept retrying in the deleted namespace"


# --- racing clients ------------------------------------------------------------------------------------------


def run_concurrently(works: Sequence[Callable[[], None]], timeout: float = 300) -> list[BaseException]:
    """Run each in a thread of its own; the exceptions they raised (an assertion in a thread would vanish)."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors


def test_concurrent_edits_follow_the_last_write(bed: PrivateTestbed, op: OperatorProcess, ns: str) -> None:
    """Two field managers apply over each other while a third client replaces with stale resourceVersions."""
    cluster = bed.cluster
    cluster.apply(vllm_body("m"), ns)
    wait_for("Ready", lambda: ready(cluster, "m", ns))
    log_start = len(op.log())
    conflicts: list[str] = []

    def stale_replace() -> None:
        obj = cluster.get("infd", "m", ns)
        assert obj is not None
        obj["spec"].setdefault("engine", {}).setdefault("vllm", {})["extraArgs"] = ["--from=replace"]
        time.sleep(0.05)  # widen the race window: another client writes in between
        done = cluster.kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
        if done.returncode != 0:
            assert "the object has been modified" in done.stderr, done.stderr
            conflicts.append(done.stderr)

    def replacer(rounds: int) -> None:
        for _ in range(rounds):
            stale_replace()

    def applier(manager: str, rounds: int) -> None:
        for i in range(rounds):
            body = vllm_body("m")
            body["spec"]["replicas"] = 1 + i % 2
            body["spec"]["engine"]["vllm"] = {"extraArgs": [f"--seed={manager}-{i}"]}
            cluster.apply(body, ns, "--server-side", f"--field-manager={manager}", "--force-conflicts")

    # One conflict for certain: a replace from a copy read before someone else's write.
    stale = cluster.get("infd", "m", ns)
    assert stale is not None
    cluster.kubectl("annotate", "infd", "m", "-n", ns, "chaos.test/touched=yes")
    refused = cluster.kubectl("replace", "-f", "-", input=json.dumps(stale), check=False)
    assert refused.returncode != 0 and "the object has been modified" in refused.stderr

    errors = run_concurrently(
        [functools.partial(applier, f"client-{c}", 12) for c in "ab"] + [functools.partial(replacer, 8)]
    )
    assert not errors, errors
    final = vllm_body("m")
    final["spec"]["replicas"] = 3
    final["spec"]["engine"]["vllm"] = {"extraArgs": ["--max-model-len=2048"]}
    cluster.apply(final, ns, "--server-side", "--field-manager=client-b", "--force-conflicts")

    wait_for("the last write served", lambda: ready(cluster, "m", ns, replicas=3))
    deployment = cluster.get("deployment", "m-vllm", ns)
    assert deployment is not None and deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--max-model-len=2048"
    log = op.log()[log_start:]
    failures = len(re.findall(r"failed (temporarily|permanently|with an exception)|reconcile of \S+ failed", log))
    print(f"\nconcurrent edits: {len(conflicts) + 1} client conflicts (409), operator failures logged: {failures}")
    assert "Traceback" not in log
    assert failures <= 5, log[-3000:]
