"""What tests and the bench use to talk to a cluster as a user would (kubectl), and to wait with a deadline.

Reads of the common kinds (`get`, `items`, and what builds on them) go to the API server directly, over one
pooled connection per Cluster: the tests poll every quarter second, and a kubectl process per poll cost about
0.1 s of CPU each, a good part of the test bed's two cores while three sessions wait at once. Whatever the
direct read cannot answer as kubectl would (a kind not in READ_PATHS, an error other than the object's own 404,
the API server away) is asked of kubectl, so failures read exactly as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
_OPERATOR_API = "apis/inference-operator.dev/v1alpha1"
# kubectl's names for a kind (singular, plural, short, plural.group) -> (API path prefix, plural, namespaced)
READ_PATHS: dict[str, tuple[str, str, bool]] = {}
for _names, _path in (
    (("pod", "pods", "po"), ("api/v1", "pods", True)),
    (("service", "services", "svc"), ("api/v1", "services", True)),
    (("event", "events", "ev"), ("api/v1", "events", True)),
    (("configmap", "configmaps", "cm"), ("api/v1", "configmaps", True)),
    (("persistentvolumeclaim", "persistentvolumeclaims", "pvc"), ("api/v1", "persistentvolumeclaims", True)),
    (("namespace", "namespaces", "ns"), ("api/v1", "namespaces", False)),
    (("node", "nodes", "no"), ("api/v1", "nodes", False)),
    (("deployment", "deployments", "deploy", "deployments.apps"), ("apis/apps/v1", "deployments", True)),
    (("replicaset", "replicasets", "rs"), ("apis/apps/v1", "replicasets", True)),
    (("job", "jobs", "jobs.batch"), ("apis/batch/v1", "jobs", True)),
    (
        ("hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"),
        ("apis/autoscaling/v2", "horizontalpodautoscalers", True),
    ),
    (
        ("endpointslice", "endpointslices", "endpointslices.discovery.k8s.io"),
        ("apis/discovery.k8s.io/v1", "endpointslices", True),
    ),
    (
        ("crd", "crds", "customresourcedefinition", "customresourcedefinitions"),
        ("apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    ),
    (
        ("inferencedeployment", "inferencedeployments", "infd", "inferencedeployments.inference-operator.dev"),
        (_OPERATOR_API, "inferencedeployments", True),
    ),
    (
        ("enginebuild", "enginebuilds", "eb", "enginebuilds.inference-operator.dev"),
        (_OPERATOR_API, "enginebuilds", True),
    ),
    (("weightcache", "weightcaches", "weightcaches.inference-operator.dev"), (_OPERATOR_API, "weightcaches", True)),
):
    READ_PATHS.update(dict.fromkeys(_names, _path))


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds, adding what
    `explain` returns then (the cluster's state, a log's end) to the failure."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    detail = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last seen: {last!r}){detail}")


_GIVEN_PORTS: set[int] = set()
_GIVEN_LOCK = threading.Lock()
# The shared test bed's fixed ports (testbed/*.sh defaults) and the bench bed's are in 20000-27999.
_FIXED_PORTS = range(20000, 28000)


def ephemeral_ports(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> range:
    """The kernel's range for the local ports of outgoing connections (and of bind to port 0)."""
    try:
        low, high = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


# hack/e2e.sh sets this to a directory of its own for the lanes' sessions: a port given out is a file there, so
# that two sessions (and their subprocesses) never give out the same one.
PORTS_DIR_ENV = "INFOP_TEST_PORTS_DIR"


def _claim(port: int) -> bool:
    """Whether no other process of this run gave the port out before (one file per port, made exclusively)."""
    where = os.environ.get(PORTS_DIR_ENV)
    if not where:
        return True
    Path(where).mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(Path(where) / str(port), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def free_port() -> int:
    """A port nothing listens on, for a process to listen on a moment later. Not from the ephemeral range, where
    bind(0) picks: any outgoing connection may take such a port before the listener binds it (a private test bed's
    kube-scheduler failed so, 'address already in use', beside another session's connections). Never one this
    process gave out before, nor one another session of the e2e lanes did (PORTS_DIR_ENV: a private bed's etcd
    found its port taken when the other lane had picked the same one in the moment before it listened), nor one of
    the shared bed's fixed ports."""
    ephemeral = ephemeral_ports()
    pool = [p for p in range(10000, 65536) if p not in ephemeral and p not in _FIXED_PORTS]
    rng = random.Random()
    for _ in range(200):
        port = rng.choice(pool)
        with _GIVEN_LOCK:
            if port in _GIVEN_PORTS:
                continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        with _GIVEN_LOCK:
            if port in _GIVEN_PORTS or not _claim(port):
                continue
            _GIVEN_PORTS.add(port)
        return port
    raise AssertionError("no free port outside the ephemeral range after 200 tries")


class _NoAnswer(Exception):
    """The direct read could not answer as kubectl would: ask kubectl."""


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl_bin: Path
    _api: Any = field(default=None, init=False, repr=False, compare=False)
    _api_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def _read(self, kind: str, namespace: str, name: str | None, selector: str | None) -> Any:
        """GET a path of READ_PATHS directly; None for the object's own 404. Raises _NoAnswer otherwise."""
        where = READ_PATHS.get(kind.lower())
        if where is None:
            raise _NoAnswer(kind)
        prefix, plural, namespaced = where
        path = f"/{prefix}" + (f"/namespaces/{namespace or 'default'}" if namespaced else "") + f"/{plural}"
        if name is not None:
            path += f"/{name}"
        if selector:
            path += "?" + urllib.parse.urlencode({"labelSelector": selector})
        try:
            with self._api_lock:
                if self._api is None:
                    self._api = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
                        config_file=str(self.kubeconfig)
                    )
                api = self._api
            url = str(api.configuration.host).rstrip("/") + path
            headers = {"Accept": "application/json"}
            api.update_params_for_auth(headers, None, ["BearerToken"], url, "GET", None)
            response = api.call_api("GET", url, header_params=headers, _request_timeout=(5, 20))
            raw = response.read()
            status = int(response.status)
        except kubernetes.client.exceptions.ApiException as exc:
            raw, status = (
                (exc.body or "").encode() if isinstance(exc.body, str) else (exc.body or b""),
                int(exc.status or 0),
            )
        except Exception as exc:  # the API server away, a kubeconfig the client cannot read: kubectl says why
            raise _NoAnswer(str(exc)) from None
        if status == 200:
            return json.loads(raw)
        details: dict[str, Any] = {}
        with contextlib.suppress(ValueError, AttributeError):
            details = json.loads(raw or b"{}").get("details") or {}
        if status == 404 and name is not None and details.get("name") == name:
            return None  # the object is not there (not a kind the server does not serve)
        raise _NoAnswer(str(status))

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below, with kubectl's message
            [str(self.kubectl_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def apply(
        self, obj: dict[str, Any] | str, namespace: str, *extra: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        text = obj if isinstance(obj, str) else yaml.safe_dump(obj)
        return self.kubectl("apply", "-n", namespace, "-f", "-", *extra, input=text, check=check)

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] | None = self._read(kind, namespace, name, None)
            return found
        except _NoAnswer:
            pass
        proc = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name}: {proc.stderr.strip()}")
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        try:
            listed = self._read(kind, namespace, None, selector)
            # A list's items carry no kind or apiVersion; kubectl fills them in, so do the same.
            item_kind = str(listed.get("kind", "")).removesuffix("List")
            return [{"apiVersion": listed.get("apiVersion"), "kind": item_kind, **i} for i in listed["items"]]
        except _NoAnswer:
            pass
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[dict[str, Any]] = json.loads(self.kubectl(*args).stdout)["items"]
        return items

    def status(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        obj = self.get(kind, name, namespace) or {}
        status: dict[str, Any] = obj.get("status") or {}
        return status

    def install_crds(self) -> None:
        """The project's CRDs (crds/), applied and served: Established, discovered and listed."""
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        for crd in ("inferencedeployments", "enginebuilds", "weightcaches"):
            self.wait_established(f"{crd}.inference-operator.dev")

    def wait_established(self, crd: str, timeout: float = 60.0) -> None:
        """Poll a CRD until Established; `kubectl wait` errors out instead while the CRD has no conditions yet."""

        def established() -> dict[str, Any] | None:
            body = self.get("crd", crd, "default") or {}
            conditions = body.get("status", {}).get("conditions") or []
            done = any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
            return body if done else None

        body = wait_for(f"CRD {crd} Established", established, timeout=timeout)
        # Established can come before the API server's discovery documents list the resource, and a client that
        # starts in between (kopf scans discovery at start) finds no such resource: wait for discovery too.
        plural, _, group = crd.partition(".")

        def discovered() -> bool:
            listed = self.kubectl("api-resources", f"--api-group={group}", "-o", "name", check=False)
            return listed.returncode == 0 and f"{plural}.{group}" in listed.stdout.split()

        wait_for(f"{plural}.{group} in the API server's discovery", discovered, timeout=timeout)

        # Discovered can still come before the resource's storage is ready: a list or watch then gets 429 "storage
        # is (re)initializing". A watch opened then delivered no event for two minutes (until kopf's server
        # timeout) in one e2e run, so the session's first test timed out: wait until a list answers (of one item:
        # a bench's bed can hold thousands).
        version = next(v["name"] for v in body["spec"]["versions"] if v.get("storage"))
        one = f"/apis/{group}/{version}/{plural}?limit=1"

        def served() -> bool:
            return self.kubectl("get", "--raw", one, "--request-timeout=10s", check=False).returncode == 0

        wait_for(f"{plural}.{group} served", served, timeout=timeout)

    def condition(self, kind: str, name: str, namespace: str, ctype: str) -> dict[str, Any] | None:
        for cond in self.status(kind, name, namespace).get("conditions") or []:
            if cond.get("type") == ctype:
                return dict(cond)
        return None

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            e for e in self.items("events", namespace) if not name or e.get("involvedObject", {}).get("name") == name
        ]
