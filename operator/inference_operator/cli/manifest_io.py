"""Read one Kubernetes manifest from a file a person hands the CLI, safely; errors explained by api/validation.py.

Anything hostile or malformed becomes a ManifestError with a one-line message: an unreadable or huge file,
binary or non-UTF-8 bytes, an empty file, several YAML documents, a top level that is not a mapping, YAML
anchors and aliases (the "billion laughs" bomb needs them), absurd nesting, duplicate keys, and YAML tags
that construct Python objects (the safe loader never does).
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from ..api.validation import format_validation_error

STDIN = "-"  # the path that means standard input, as in kubectl apply -f -
# A resource is stored whole in etcd, whose default request limit is 1.5 MiB; one manifest is far smaller.
MAX_MANIFEST_BYTES = 1024 * 1024
# Kubernetes objects nest a dozen levels deep; far deeper input is an attack on the parser's recursion.
MAX_NESTING = 64


class ManifestError(ValueError):
    """A manifest file the tools will not read; str() is one line naming the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (YAML 1.2 forbids them; PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def load_resource(path: str | Path) -> dict[str, Any]:
    """The one mapping in a YAML or JSON file ("-": stdin); a ManifestError says in one line what is wrong."""
    text = _read_text(path)
    _check_events(path, text)
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_StrictLoader) if doc is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(path, _yaml_problem(exc)) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise ManifestError(path, f"unreadable value: {exc}") from None
    if not documents:
        raise ManifestError(path, "holds no object (only comments or empty documents)")
    if len(documents) > 1:
        raise ManifestError(path, f"holds {len(documents)} YAML documents; give one object per file")
    document = documents[0]
    if not isinstance(document, dict):
        raise ManifestError(path, f"top level is {_kind(document)}, not a mapping (one Kubernetes object)")
    bad_keys = [key for key in document if not isinstance(key, str)]
    if bad_keys:
        raise ManifestError(path, f"top-level key {bad_keys[0]!r} is not a string")
    return document


def _read_text(path: str | Path) -> str:
    try:
        if str(path) == STDIN:
            data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(path, f"larger than {MAX_MANIFEST_BYTES // 1024} KiB: not one resource manifest")
    if b"\x00" in data:
        raise ManifestError(path, "is binary (holds NUL bytes), not YAML")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, f"is not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise ManifestError(path, "is empty")
    return text


def _check_events(path: str | Path, text: str) -> None:
    """Refuse anchors, aliases and deep nesting from the parser's event stream, before anything is built."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                where = f"line {event.start_mark.line + 1}: " if event.start_mark else ""
                raise ManifestError(path, f"{where}YAML anchors and aliases are not accepted")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise ManifestError(path, f"nested deeper than {MAX_NESTING} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise ManifestError(path, _yaml_problem(exc)) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return f"invalid YAML: {' '.join(str(exc).split())}"


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


__all__ = ["STDIN", "ManifestError", "format_validation_error", "load_resource"]
