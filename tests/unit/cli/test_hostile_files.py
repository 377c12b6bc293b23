"""`render -f` and `advise -f` on hostile files, run as a person runs them: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.samples import SAMPLES_DIR

CLI = [sys.executable, "-m", "inference_operator.cli"]
GOOD = (SAMPLES_DIR / "small-model.yaml").read_text()

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
HOSTILE: dict[str, str | bytes] = {
    "yaml-bomb": BILLION_LAUGHS,
    "binary": bytes(range(256)) * 64,
    "nul-bytes": b"apiVersion: v1\x00\x00kind: x\n",
    "latin-1": "name: caf\xe9\n".encode("latin-1"),
    "empty": b"",
    "only-comments": "# nothing here\n---\n# nor here\n",
    "two-documents": GOOD + "---\n" + GOOD,
    "huge": "a: " + "x" * (2 * 1024 * 1024) + "\n",
    "deep-nesting": "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "python-tag": "!!python/object/apply:os.system ['echo pwned']\n",
    "duplicate-keys": GOOD + "spec: {}\n",
    "a-list": "- 1\n- 2\n",
    "a-string": "just words\n",
    "broken-yaml": "spec: [unclosed\n",
    "tab-indent": "spec:\n\tmodel: x\n",
    "huge-integer": "spec:\n  replicas: " + "9" * 5000 + "\n",
    "not-ours": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    "no-metadata-name": GOOD.replace("  name: qwen-small\n", ""),
    "name-not-a-string": GOOD.replace("  name: qwen-small\n", "  name: [1, 2]\n"),
    "name-invalid": GOOD.replace("  name: qwen-small\n", "  name: Not_A_Name!\n"),
    "metadata-a-list": GOOD.replace("metadata:\n  name: qwen-small\n", "metadata: [1]\n"),
    "spec-null": GOOD.split("spec:")[0] + "spec: null\n",
    "unicode-everywhere": GOOD.replace("Qwen/Qwen2.5-0.5B-Instruct", "模型/🚀\u202e"),
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False)


# What only `render` reads: the object's name (advise prices a spec, whatever the object is called).
RENDER_ONLY = {"no-metadata-name", "name-not-a-string", "name-invalid", "metadata-a-list"}


@pytest.mark.parametrize(
    ("command", "case"),
    [("render", case) for case in sorted(HOSTILE)] + [("advise", case) for case in sorted(set(HOSTILE) - RENDER_ONLY)],
)
def test_hostile_file_gives_one_line(tmp_path: Path, command: str, case: str) -> None:
    path = tmp_path / f"{case}.yaml"
    content = HOSTILE[case]
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    done = run(command, "-f", str(path))
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("error: ") and str(path) in lines[0]
    assert len(lines[0]) < 600, lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize("command", ["render", "advise"])
def test_missing_file_and_directory_give_one_line(tmp_path: Path, command: str) -> None:
    for target in (tmp_path / "absent.yaml", tmp_path):
        done = run(command, "-f", str(target))
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_stdin_bomb_gives_one_line() -> None:
    done = subprocess.run(
        [*CLI, "render", "-f", "-"], input=BILLION_LAUGHS, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "anchors" in done.stderr
