"""One pod on one of the agent's nodes: its sandbox (network namespace, volumes), its containers in order, its
status as the kubelet writes it, and its graceful deletion. One thread per pod."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import podstatus
from agent.container import Container, Launch, now_iso
from agent.cpus import CpuSets, cores_requested
from agent.env import ConfigError, command_line, container_env
from agent.images import DEFAULT_PATH, ImageError, ImageTable, resolve_command
from agent.kubeapi import Api
from agent.network import Network
from agent.volumes import PodVolumes

log = logging.getLogger(__name__)
RETRY = 2.0  # seconds between attempts at what failed to set up (a missing Secret, an unbound claim)
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


@dataclass
class Node:
    """What a pod worker needs from its node and agent."""

    name: str
    gpu_stand_in: bool
    api: Api
    network: Network
    cpus: CpuSets
    images: ImageTable
    pods_dir: Path
    claims_dir: Path
    logs_dir: Path
    root_dir: Path


def _gpus(container: Mapping[str, Any]) -> bool:
    resources = container.get("resources") or {}
    return any("nvidia.com/gpu" in (resources.get(k) or {}) for k in ("limits", "requests"))


class PodWorker(threading.Thread):
    def __init__(self, node: Node, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.node = node
        self.pod = pod
        self.uid: str = meta["uid"]
        self.label = f"{meta['name']}_{meta['namespace']}({self.uid})"
        self.dir = node.pods_dir / self.uid
        self.volumes = PodVolumes(pod, self.dir, node.claims_dir)
        self.netns = ""
        self.pod_ip = ""
        self.cpus: list[int] = []
        self.setup_message = ""
        self.retry_at = 0.0
        self.start_time = now_iso()
        self.conditions: dict[str, dict[str, Any]] = {}
        self.published: dict[str, Any] | None = None
        self.frozen = False
        self.gone = False  # DELETED seen: no status to write, nothing to delete
        self.finished = False
        self.terminating = False
        self._wake = threading.Event()
        self._lock = threading.Lock()
        spec = pod["spec"]
        logs = node.logs_dir
        prefix = f"{meta['namespace']}_{meta['name']}_"
        inits = spec.get("initContainers") or []
        self.init = [Container(c, logs / f"{prefix}{c['name']}.log", init=True) for c in inits]
        self.main = [Container(c, logs / f"{prefix}{c['name']}.log") for c in spec["containers"]]
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self.frozen = True  # ran to its end before this agent started: nothing more to run or write
            for c in self.init + self.main:
                c.done = True

    # --- called from the watch thread --------------------------------------------------------------------------
    def update(self, pod: dict[str, Any]) -> None:
        with self._lock:
            self.pod = pod
        self._wake.set()

    def deleted(self) -> None:
        self.gone = True
        self._wake.set()

    # --- the worker thread ---------------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.finished:
            try:
                self.step()
                if not self.gone and not self.finished:
                    self.publish()
            except Exception:
                log.exception("pod %s: sync failed; retrying", self.label)
                time.sleep(RETRY)
            self._wake.wait(0.25)
            self._wake.clear()

    def step(self) -> None:
        with self._lock:
            pod = self.pod
        if self.gone or pod["metadata"].get("deletionTimestamp"):
            self.terminate(pod)
            return
        if self.phase() in ("Succeeded", "Failed"):
            self.release()
            return
        if not self.netns and not self.setup(pod):
            return
        for c in self.init:
            if not c.done:
                self.drive(c, pod)
                return
        for c in self.main:
            self.drive(c, pod)

    def setup(self, pod: dict[str, Any]) -> bool:
        if time.monotonic() < self.retry_at:
            return False
        try:
            self.volumes.pod = self.view(pod)
            self.volumes.setup(self.node.api.fetch, self.node.api.claim_volume, self.node.api.token)
            (self.dir / "etc").mkdir(parents=True, exist_ok=True)
            (self.dir / "etc" / "passwd").write_text(PASSWD)
            (self.dir / "etc" / "group").write_text(GROUP)
        except ConfigError as exc:
            self.setup_message = str(exc)
            self.retry_at = time.monotonic() + RETRY
            return False
        self.netns, self.pod_ip = self.node.network.add_pod()
        self.cpus = self.node.cpus.assign(self.uid, cores_requested(self.pod["spec"].get("containers") or []))
        self.setup_message = ""
        log.info("pod %s: sandbox %s at %s, CPUs %s", self.label, self.netns, self.pod_ip, self.cpus)
        return True

    def view(self, pod: dict[str, Any]) -> dict[str, Any]:
        """The pod as fieldRefs see it: with the addresses this agent gave it."""
        status = {**(pod.get("status") or {}), **self.addresses()}
        return {**pod, "status": status}

    def addresses(self) -> dict[str, Any]:
        host = str(self.node.network.gateway)
        out: dict[str, Any] = {"hostIP": host, "hostIPs": [{"ip": host}]}
        if self.pod_ip:
            out |= {"podIP": self.pod_ip, "podIPs": [{"ip": self.pod_ip}]}
        return out

    def grace(self, pod: Mapping[str, Any]) -> float:
        meta_grace = pod["metadata"].get("deletionGracePeriodSeconds")
        return float(meta_grace if meta_grace is not None else pod["spec"].get("terminationGracePeriodSeconds", 30))

    def drive(self, c: Container, pod: dict[str, Any]) -> None:
        code = c.poll()
        if code is not None:
            policy = pod["spec"].get("restartPolicy", "Always")
            if c.init:
                restart = code != 0 and policy != "Never"
            else:
                restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if restart:
                c.schedule_restart(self.label)
            else:
                c.done = True
                return
        if c.running:
            c.check_probes(self.grace(pod))
        elif not c.done and time.monotonic() >= c.restart_at:
            try:
                c.start(self.launch(c, pod), self.netns, self.dir / f"{c.name}.json", self.node.root_dir, self.pod_ip)
            except (ImageError, ConfigError) as exc:
                reason = exc.reason if isinstance(exc, ImageError) else "CreateContainerConfigError"
                c.wait(reason, str(exc))
                c.restart_at = time.monotonic() + RETRY

    def launch(self, c: Container, pod: dict[str, Any]) -> Launch:
        spec = c.spec
        entry = self.node.images.lookup(spec["image"])
        if _gpus(spec) and not entry.may_hold_stand_in_gpus():
            raise ImageError(
                "GpuIsStandIn",
                f"node {self.node.name} has stand-in GPUs only; image {spec['image']} is not a stand-in "
                "(only standIn or cpuOnStandInGpus entries of the image table may request nvidia.com/gpu here)",
            )
        pod_sc = pod["spec"].get("securityContext") or {}
        sc = {**pod_sc, **(spec.get("securityContext") or {})}
        uid, gid = int(sc.get("runAsUser", 0)), int(sc.get("runAsGroup", 0))
        if sc.get("runAsNonRoot") and uid == 0:
            raise ConfigError("container has runAsNonRoot and image will run as root")
        base = {
            "PATH": ":".join([*entry.path, DEFAULT_PATH]),
            "HOSTNAME": pod["metadata"]["name"],
            "HOME": "/root" if uid == 0 else "/",
            **entry.env,
        }
        env = container_env(self.view(pod), spec, base, self.node.api.fetch)
        argv = command_line(spec, [], env)
        if not argv:
            raise ConfigError(f"container {c.name}: no command, and the image table gives no entrypoint")
        path = resolve_command(argv[0], env.get("PATH", ""))
        if path is None:
            raise ImageError("CreateContainerError", f'exec: "{argv[0]}": executable file not found in $PATH')
        groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
        if "fsGroup" in pod_sc:
            groups.append(int(pod_sc["fsGroup"]))
        etc = self.dir / "etc"
        mounts = [m.as_spec() for m in self.volumes.mounts(spec)]
        mounts += [{"source": str(etc / f), "target": f"/etc/{f}", "readOnly": True} for f in ("passwd", "group")]
        workdir = spec.get("workingDir") or "/"
        return Launch(path, argv, env, uid, gid, groups, workdir, mounts, entry.expose(), self.cpus)

    def terminate(self, pod: dict[str, Any]) -> None:
        """SIGTERM, SIGKILL after the grace period, then the sandbox goes and the pod is deleted with grace 0."""
        containers = self.init + self.main
        if not self.terminating:
            self.terminating = True
            grace = 0.0 if self.gone else self.grace(pod)
            log.info("pod %s: stopping (grace %.0fs)", self.label, grace)
            for c in containers:
                c.stop(grace)
        for c in containers:
            c.poll()
        if any(c.running for c in containers):
            return
        self.release()
        self.volumes.cleanup()
        if not self.gone:
            self.node.api.delete_pod_now(pod["metadata"]["namespace"], pod["metadata"]["name"], self.uid)
        log.info("pod %s: removed", self.label)
        self.finished = True

    def release(self) -> None:
        if self.netns:
            self.node.network.remove_pod(self.netns, self.pod_ip)
            self.netns = ""
        self.node.cpus.release(self.uid)

    def stop_now(self) -> None:
        """The agent is stopping: kill what runs (as a node that shuts down), free the sandbox."""
        for c in self.init + self.main:
            c.stop(0)
            c.kill_group()
        deadline = time.monotonic() + 5
        while any(c.poll() is None and c.running for c in self.init + self.main) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.release()

    # --- status -------------------------------------------------------------------------------------------------
    def phase(self) -> str:
        return podstatus.phase(self.init, self.main, self.pod["spec"].get("restartPolicy", "Always"))

    def publish(self) -> None:
        if self.frozen:
            return
        if not self.netns and not self.pod_ip:
            podstatus.waiting_reason(self.init + self.main, self.setup_message)
        pod_phase = self.phase()
        self.conditions = podstatus.merge_conditions(
            self.conditions, podstatus.conditions(self.init, self.main, pod_phase)
        )
        status: dict[str, Any] = {
            "phase": pod_phase,
            "conditions": list(self.conditions.values()),
            "startTime": self.start_time,
            "containerStatuses": podstatus.container_statuses(self.main),
            **self.addresses(),
        }
        if self.init:
            status["initContainerStatuses"] = podstatus.container_statuses(self.init)
        if status == self.published:
            return
        meta = self.pod["metadata"]
        if self.node.api.patch_pod_status(meta["namespace"], meta["name"], status):
            self.published = status
        else:
            self.gone = True
