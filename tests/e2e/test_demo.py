"""`make demo` then `make demo-down`, as a new user runs them: no operator process is left behind (issue 22).

The demo runs on a test bed of its own (hack/demo.sh honours TESTBED_STATE_DIR and the port variables, as
testbed/up.sh does), so it neither stops nor collides with the shared one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from tests.support.cluster import free_port
from tests.support.private_testbed import REPO, PrivateTestbed


def make(target: str, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"make {target} failed (exit {proc.returncode}):\n{out[-4000:]}"
    return out


def running(pid: int) -> bool:
    """Alive and not a zombie (where nothing reaps orphans, an exited operator stays one)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def operators_of(kubeconfig: Path) -> list[int]:
    """Running `inference-operator run` processes (any interpreter path) started with this kubeconfig."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not running(int(proc.name)):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = f"KUBECONFIG={kubeconfig}".encode() in environ
        if ours and re.search(r"inference[-_]operator", cmdline) and " run " in cmdline:
            found.append(int(proc.name))
    return found


def test_make_demo_then_demo_down_leaves_no_operator_process(tmp_path: Path) -> None:
    bed = PrivateTestbed(tmp_path / "demo-state")
    env = {**bed.env, "INFOP_METRICS_PORT": str(free_port()), "INFOP_HEALTH_PORT": str(free_port())}
    kubeconfig = bed.state_dir / "kubeconfig"
    try:
        make("demo", env, timeout=900)
        pid = int((bed.state_dir / "demo-operator.pid").read_text())
        assert operators_of(kubeconfig) == [pid], "the demo's operator is not the one process of the pid file"

        out = make("demo-down", env, timeout=300)
        assert f"demo: stopped the operator (pid {pid})" in out, out
        assert "did not exit within 10 s" not in out, out
        assert not running(pid)
        assert operators_of(kubeconfig) == []
        log = (bed.state_dir / "demo-operator.log").read_text(errors="replace")
        assert "SIGTERM received" in log and "Traceback" not in log, log[-3000:]
    finally:
        for leftover in operators_of(kubeconfig):
            os.kill(leftover, signal.SIGKILL)
        bed.down()
