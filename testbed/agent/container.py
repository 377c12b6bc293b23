"""One container of a pod: its process, its state as the kubelet reports it, its probes, its restarts."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.probes import PreStopHook, ProbeState, Target, new_probes, run_probe

log = logging.getLogger(__name__)
BACKOFF_INITIAL = 10.0  # the kubelet's container restart back-off: 10 s, doubled per restart, capped at 5 min
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0  # a container that ran this long without exiting starts its back-off afresh
AGENT_DIR = Path(__file__).resolve().parent


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def backoff_delay(restarts: int) -> float:
    """Delay before restart number `restarts + 1`: none for the first, then 10 s, 20 s, 40 s ... 300 s."""
    if restarts == 0:
        return 0.0
    return float(min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (restarts - 1)))


def probe_grace(probe: Mapping[str, Any], pod_grace: float) -> float:
    """The grace period of a stop for a failed liveness or startup probe: the probe's own when it sets one (as the
    kubelet honours probe-level terminationGracePeriodSeconds), else the pod's."""
    own = probe.get("terminationGracePeriodSeconds")
    return pod_grace if own is None else float(own)


@dataclass
class Launch:
    """Everything a start needs, resolved by the pod worker from the spec."""

    path: str
    argv: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    groups: list[int]
    working_dir: str
    mounts: list[dict[str, Any]]
    expose: list[str]
    cpus: list[int] = field(default_factory=list)  # the pod's CPU set (agent/cpus.py); empty: the host's all


@dataclass
class Container:
    spec: Mapping[str, Any]
    log_path: Path
    init: bool = False
    proc: subprocess.Popen[bytes] | None = None
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    restart_at: float = 0.0
    backoff_restarts: int = 0
    done: bool = False  # exited and will not restart
    started_mono: float = 0.0
    probes: dict[str, ProbeState] = field(default_factory=dict)
    kill_at: float | None = None  # SIGKILL deadline of a stop in progress
    pre_stop: PreStopHook | None = None  # running before the SIGTERM of a stop in progress
    target: Target | None = None

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return self.proc is not None

    @property
    def started(self) -> bool:
        return self.running and ("startupProbe" not in self.probes or self.probes["startupProbe"].result)

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        return "readinessProbe" not in self.probes or self.probes["readinessProbe"].result

    def wait(self, reason: str, message: str = "") -> None:
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}

    def start(self, launch: Launch, netns: str, spec_file: Path, root: Path, pod_ip: str) -> None:
        spec_file.write_text(
            json.dumps(
                {
                    "root": str(root),
                    "expose": launch.expose,
                    "mounts": launch.mounts,
                    "workingDir": launch.working_dir,
                    "uid": launch.uid,
                    "gid": launch.gid,
                    "groups": launch.groups,
                    "path": launch.path,
                    "argv": launch.argv,
                    "env": launch.env,
                    "cpus": launch.cpus,
                }
            )
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", netns, sys.executable, str(AGENT_DIR / "launch.py"), str(spec_file)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a stop reaches its children too
                env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            )
        if self.started_mono:
            self.restart_count += 1  # counted when the restart happens, as the kubelet counts
        self.started_mono = time.monotonic()
        self.state = {"running": {"startedAt": now_iso()}}
        self.probes = new_probes(self.spec, self.started_mono)
        self.target = Target(pod_ip, self.proc.pid, launch.uid, launch.gid, launch.env)
        self.kill_at = None
        log.info("started container %s (pid %d): %s", self.name, self.proc.pid, launch.argv)

    def stop(self, grace: float) -> None:
        """As the kubelet stops a container: its preStop hook first (when there is grace), then SIGTERM to the
        process; SIGKILL once `grace` (which the hook's time counts against) has passed."""
        if self.proc is None or self.kill_at is not None:
            return
        now = time.monotonic()
        self.kill_at = now + max(grace, 0.0)
        handler = (self.spec.get("lifecycle") or {}).get("preStop")
        if handler and grace > 0 and self.target is not None:
            self.pre_stop = PreStopHook.start(handler, self.target, now)
            log.info("container %s: preStop hook %s before SIGTERM", self.name, sorted(handler))
            return
        self._signal_stop()

    def _signal_stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        if self.pre_stop is not None:
            self.pre_stop.kill()
            self.pre_stop = None
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def poll(self) -> int | None:
        """Reaps the process; returns its exit code once it has exited (128+N for signal N), else None."""
        if self.proc is None:
            return None
        now = time.monotonic()
        if self.pre_stop is not None and (
            self.pre_stop.done(now) or (self.kill_at is not None and now >= self.kill_at)
        ):
            self.pre_stop.kill()
            self.pre_stop = None
            self._signal_stop()
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_group()
        code = self.proc.poll()
        if code is None:
            return None
        self.kill_group()  # as when a container's pid 1 exits: whatever it left behind goes too
        exit_code = 128 - code if code < 0 else code
        running = self.state.get("running", {})
        self.state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": running.get("startedAt", now_iso()),
                "finishedAt": now_iso(),
            }
        }
        if time.monotonic() - self.started_mono > BACKOFF_RESET:
            self.backoff_restarts = 0
        self.proc, self.probes, self.kill_at, self.target = None, {}, None, None
        log.info("container %s exited with %d", self.name, exit_code)
        return exit_code

    def schedule_restart(self, pod_label: str) -> None:
        """Keeps the terminated state as lastState and waits out the back-off before the next start."""
        delay = backoff_delay(self.backoff_restarts)
        self.backoff_restarts += 1
        self.last_state = dict(self.state)
        self.restart_at = time.monotonic() + delay
        if delay:
            message = f"back-off {delay:.0f}s restarting failed container={self.name} pod={pod_label}"
            self.wait("CrashLoopBackOff", message)

    def check_probes(self, grace: float) -> None:
        """Runs the probes that are due; a failed liveness or startup probe stops the container (then it restarts)."""
        if self.target is None or self.kill_at is not None:
            return
        now = time.monotonic()
        startup = self.probes.get("startupProbe")
        if startup is not None and not startup.result:
            if startup.due(now):
                startup.record(run_probe(startup.spec, self.spec, self.target), now)
                if startup.failures >= int(startup.spec.get("failureThreshold", 3)):
                    log.info("container %s failed its startup probe; stopping it", self.name)
                    self.stop(probe_grace(startup.spec, grace))
            return
        for kind in ("livenessProbe", "readinessProbe"):
            probe = self.probes.get(kind)
            if probe is not None and probe.due(time.monotonic()):
                probe.record(run_probe(probe.spec, self.spec, self.target), time.monotonic())
        liveness = self.probes.get("livenessProbe")
        if liveness is not None and not liveness.result:
            log.info("container %s failed its liveness probe; stopping it", self.name)
            self.stop(probe_grace(liveness.spec, grace))

    def status(self, image: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "image": image,
            "imageID": "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.started,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.running:
            out["containerID"] = f"testbed://{self.proc.pid if self.proc else 0}"
        return out
