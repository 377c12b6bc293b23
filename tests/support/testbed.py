"""The local test bed (testbed/*.sh) from Python: find its binaries, bring it up, run its kubectl.

Plain functions, no pytest fixtures: conftest.py builds fixtures on these. The test bed is a real control
plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) with kwok simulating GPU nodes; see
testbed/README.md.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
TESTBED_DIR = REPO_DIR / "testbed"
LOG_TAIL_LINES = 40


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _run_script(name: str, timeout: float) -> subprocess.CompletedProcess[str]:
    script = TESTBED_DIR / name
    try:
        result = subprocess.run(
            ["bash", str(script)],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise RuntimeError(f"testbed/{name} timed out after {timeout:.0f}s:\n{_tail(out + err)}") from exc
    if result.returncode != 0:
        raise RuntimeError(f"testbed/{name} failed (exit {result.returncode}):\n{_tail(result.stdout + result.stderr)}")
    return result


class KubectlError(subprocess.CalledProcessError):
    """A kubectl command that failed; its message carries kubectl's stderr."""

    def __str__(self) -> str:
        stderr = self.stderr.strip() if isinstance(self.stderr, str) else ""
        return f"{super().__str__()}\n{stderr}"


@functools.cache
def bin_dir() -> Path:
    """The directory of the built binaries (kubectl, kube-apiserver, kwok, helm, ...)."""
    result = _run_script("bin-path.sh", timeout=60)
    return Path(result.stdout.strip())


def state_dir() -> Path:
    """Where the test bed keeps its kubeconfig, logs and data: .testbed in the repo, or TESTBED_STATE_DIR."""
    return Path(os.environ.get("TESTBED_STATE_DIR") or REPO_DIR / ".testbed")


def build(timeout: float = 3600) -> None:
    """Builds the binaries if they are not in the cache yet (testbed/build.sh)."""
    _run_script("build.sh", timeout=timeout)


def ensure_up(build_timeout: float = 3600, up_timeout: float = 180) -> Path:
    """Builds the binaries if needed, starts the test bed if it is not up, and returns its kubeconfig path.

    Raises RuntimeError with the end of the failing script's output (which includes the end of each
    component's log when startup fails).
    """
    build(build_timeout)
    result = _run_script("up.sh", timeout=up_timeout)
    # What up.sh said, for a later failure to point at (a neighbour it started not fatally, such as the S3 store).
    (state_dir() / "logs").mkdir(parents=True, exist_ok=True)
    (state_dir() / "logs" / "up.out").write_text(result.stdout + result.stderr)
    kubeconfig = state_dir() / "kubeconfig"
    if not kubeconfig.is_file():
        raise RuntimeError(f"testbed/up.sh succeeded but {kubeconfig} is missing")
    return kubeconfig


def start_s3(timeout: float = 180) -> None:
    """Starts the test bed's S3 store unless it runs (testbed/s3/start.sh, idempotent); RuntimeError with
    start.sh's output (the end of the store's log when it did not answer) if it cannot."""
    _run_script("s3/start.sh", timeout=timeout)


def down(timeout: float = 120) -> None:
    """Stops the test bed and removes its data."""
    _run_script("down.sh", timeout=timeout)


def kubectl(
    *args: str,
    kubeconfig: Path | str,
    input: str | None = None,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Runs the test bed's kubectl against `kubeconfig`, text in and out.

    With check, a non-zero exit raises KubectlError (a subprocess.CalledProcessError whose message
    includes kubectl's stderr).
    """
    cmd = [str(bin_dir() / "kubectl"), "--kubeconfig", str(kubeconfig), *args]
    result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
    return result
