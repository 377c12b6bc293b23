"""The test bed's Hub mirror (olah, offline, on loopback) serves the generated model to huggingface_hub the
way the Hub does, and its access log counts what it served. Runs the real olah and the engine venv's
huggingface_hub; no cluster. Needs `make engine` (a dependency of `make test`): fails, never skips, without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import TESTBED, engine_paths, engine_python, hub_access_log, hub_traffic

DOWNLOAD = """
import json, sys
from huggingface_hub import snapshot_download
path = snapshot_download(sys.argv[1], revision=sys.argv[2])
print(json.dumps(path))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("hub-state")
    env = {**os.environ, "TESTBED_STATE_DIR": str(state), "TESTBED_HUB_PORT": str(_free_port())}
    subprocess.run(["bash", str(TESTBED / "hub" / "start.sh")], env=env, check=True, timeout=120)
    try:
        yield {**env, "HUB_URL": (state / "hub" / "endpoint").read_text().strip(), "STATE": str(state)}
    finally:
        subprocess.run(["bash", str(TESTBED / "hub" / "stop.sh")], env=env, check=True, timeout=60)
    assert not (state / "pids" / "hub.pid").exists()


def _download(hub: dict[str, str], hf_home: Path, repo: str, revision: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINT": hub["HUB_URL"], "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.run(
        [str(engine_python()), "-c", DOWNLOAD, repo, revision],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_snapshot_download_through_the_mirror_gets_the_model_and_is_counted(
    hub: dict[str, str], tmp_path: Path
) -> None:
    paths = engine_paths()
    model = Path(paths["MODEL_DIR"])
    log = Path(hub["STATE"]) / "hub" / "access.jsonl"
    before = len(hub_access_log(log))
    out = _download(hub, tmp_path / "hf", paths["MODEL_REPO_ID"], "main")
    assert out.returncode == 0, out.stderr[-3000:]
    snapshot = Path(json.loads(out.stdout.strip().splitlines()[-1]))
    # `main` resolved to the model's commit, and every file arrived intact.
    assert snapshot.name == paths["MODEL_REVISION"]
    expected = {p.name: _sha(p) for p in model.iterdir()}
    assert {p.name: _sha(p) for p in snapshot.iterdir()} == expected
    traffic = hub_traffic(since=before, path=log)
    sizes = {p.name: p.stat().st_size for p in model.iterdir()}
    assert {path.rsplit("/", 1)[1]: sent for path, sent in traffic.files.items()} == sizes
    assert traffic.bytes >= sum(sizes.values()) and traffic.requests > len(sizes)

    # A second download into the same HF_HOME asks only for metadata: no file bytes.
    again = len(hub_access_log(log))
    out = _download(hub, tmp_path / "hf", paths["MODEL_REPO_ID"], paths["MODEL_REVISION"])
    assert out.returncode == 0, out.stderr[-3000:]
    assert hub_traffic(since=again, path=log).files == {}


def test_an_unknown_repo_or_revision_is_refused_at_once(hub: dict[str, str], tmp_path: Path) -> None:
    out = _download(hub, tmp_path / "hf", "inference-operator/no-such-model", "main")
    assert out.returncode != 0 and "RepositoryNotFound" in out.stderr
    out = _download(hub, tmp_path / "hf", engine_paths()["MODEL_REPO_ID"], "no-such-branch")
    assert out.returncode != 0 and ("RevisionNotFound" in out.stderr or "RepositoryNotFound" in out.stderr)


def test_branch_v2_resolves_to_its_own_commit_and_serves_main_s_weights_and_a_card(
    hub: dict[str, str], tmp_path: Path
) -> None:
    """The revision change the weight cache e2e tests move to (testbed/model/build.sh): v2 is main plus README.md."""
    paths = engine_paths()
    repo = paths["MODEL_REPO_ID"]
    for branch, commit in (("main", paths["MODEL_REVISION"]), ("v2", paths["MODEL_REVISION_V2"])):
        with urllib.request.urlopen(f"{hub['HUB_URL']}/api/models/{repo}/revision/{branch}", timeout=30) as r:
            assert json.loads(r.read())["sha"] == commit, branch
    assert paths["MODEL_REVISION_V2"] != paths["MODEL_REVISION"]
    out = _download(hub, tmp_path / "hf", repo, "v2")
    assert out.returncode == 0, out.stderr[-3000:]
    snapshot = Path(json.loads(out.stdout.strip().splitlines()[-1]))
    assert snapshot.name == paths["MODEL_REVISION_V2"]
    model = Path(paths["MODEL_DIR"])
    assert {p.name: _sha(p) for p in snapshot.iterdir() if p.name != "README.md"} == {
        p.name: _sha(p)
        for p in model.iterdir()
        if p.name != "README.md"  # main has generate.py's card, v2 its own
    }
    assert "revision v2" in (snapshot / "README.md").read_text()


def test_the_second_repo_id_serves_the_same_commits_and_its_traffic_is_counted_apart(
    hub: dict[str, str], tmp_path: Path
) -> None:
    """WEIGHTS_REPO_ID (the weight-cache tests' repo) is the same repository: the same commits and files; the
    access log's traffic for one id leaves out the other's, which is what lets those tests count their own
    fetches while another lane's pods download at the same time."""
    paths = engine_paths()
    main_id, weights_id = paths["MODEL_REPO_ID"], paths["WEIGHTS_REPO_ID"]
    assert weights_id != main_id
    for branch, commit in (("main", paths["MODEL_REVISION"]), ("v2", paths["MODEL_REVISION_V2"])):
        with urllib.request.urlopen(f"{hub['HUB_URL']}/api/models/{weights_id}/revision/{branch}", timeout=30) as r:
            assert json.loads(r.read())["sha"] == commit, branch
    log = Path(hub["STATE"]) / "hub" / "access.jsonl"
    before = len(hub_access_log(log))
    out = _download(hub, tmp_path / "hf", weights_id, "main")
    assert out.returncode == 0, out.stderr[-3000:]
    sizes = {p.name: p.stat().st_size for p in Path(paths["MODEL_DIR"]).iterdir()}
    mine = hub_traffic(since=before, path=log, repo=weights_id)
    assert {path.rsplit("/", 1)[1]: sent for path, sent in mine.files.items()} == sizes
    assert hub_traffic(since=before, path=log, repo=main_id).requests == 0
    assert hub_traffic(since=before, path=log).requests == mine.requests
    # The link lives in the bed's state, not in the cached model.
    assert not (Path(paths["MODEL_DIR"]).parent / "mirrors" / "models" / weights_id).exists()
