"""Read one Kubernetes manifest from a file a person hands the CLI, safely, and explain validation errors.

Anything hostile or malformed becomes a ManifestError with a one-line message: an unreadable or huge file,
binary or non-UTF-8 bytes, an empty file, several YAML documents, a top level that is not a mapping, YAML
anchors and aliases (the "billion laughs" bomb needs them), absurd nesting, duplicate keys, and YAML tags
that construct Python objects (the safe loader never does).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pydantic
import yaml

from .api.base import PERCENT_PATTERN, QUANTITY_PATTERN

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


# pydantic names the member of a union that failed (`int`, `str`) as the last element of an error's location.
_UNION_MEMBERS = {"int": "an integer", "str": "a string", "float": "a number", "bool": "a boolean"}
# Patterns a person should not have to read.
_PATTERN_NAMES = {
    QUANTITY_PATTERN: "a quantity such as 4, 500m or 16Gi",
    PERCENT_PATTERN: "a whole number or a percentage such as 25%",
}
# pydantic's tag of a union member with constraints, e.g. an int >= 0 in `Quantity`.
_CONSTRAINED = "constrained-"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_MAX_PROBLEMS = 3


def format_validation_error(exc: pydantic.ValidationError) -> str:
    """One line naming each problem's field path as written (camelCase), unknown fields first.

    e.g. "spec.modle: unknown field; spec.model: required" or "spec.parallelism.tensor: must be >= 1".
    """
    problems: dict[str, list[str]] = {}
    wrong_member: set[str] = set()  # "must be <type>" from a union member the value was not
    errors = sorted(exc.errors(include_url=False), key=lambda error: error["type"] != "extra_forbidden")
    for error in errors:
        loc = list(error["loc"])
        member = str(loc[-1]).removeprefix(_CONSTRAINED) if len(loc) > 1 else ""
        if member in _UNION_MEMBERS and (error["type"].endswith("_type") or error["type"] == f"{member}_parsing"):
            path, message = _path(loc[:-1]), f"must be {_UNION_MEMBERS[member]}"
            wrong_member.add(message)
        elif member in _UNION_MEMBERS and str(loc[-1]).startswith(_CONSTRAINED):
            path, message = _path(loc[:-1]), _message(error)
        else:
            path, message = _path(loc), _message(error)
        problems.setdefault(path, [])
        if message not in problems[path]:
            problems[path].append(message)
    for path, found in problems.items():
        # The value had the type of one member and broke its constraint: that is the news, not the other types.
        if any(message not in wrong_member for message in found):
            problems[path] = [message for message in found if message not in wrong_member]
    parts = [f"{path}: {_either(found)}".removeprefix(": ") for path, found in problems.items()]
    line = "; ".join(parts[:_MAX_PROBLEMS])
    if len(parts) > _MAX_PROBLEMS:
        line += f" (and {len(parts) - _MAX_PROBLEMS} more)"
    return " ".join(line.split())


def _either(messages: list[str]) -> str:
    """["must be an integer", "must be a string"] -> "must be an integer or a string"."""
    if len(messages) > 1 and all(message.startswith("must be ") for message in messages):
        return "must be " + " or ".join(message.removeprefix("must be ") for message in messages)
    return " or ".join(messages)


def _path(loc: list[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            path += f".{part}" if path else part
        else:
            path += f"[{part!r}]"
    return path


def _message(error: Any) -> str:
    """pydantic's message, in the words of `kubectl explain`."""
    kind, ctx = error["type"], error.get("ctx") or {}
    simple = {
        "extra_forbidden": "unknown field",
        "missing": "required",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": "must be a string",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "list_type": "must be a list",
    }
    if kind in simple:
        return simple[kind]
    bounded = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in bounded:
        limit = next(iter(ctx.values()), "")
        return f"must be {bounded[kind]} {limit}"
    templates = {
        "string_too_short": "must be at least {min_length} characters",
        "string_too_long": "must be at most {max_length} characters",
        "string_pattern_mismatch": "must match {pattern}",
        "too_short": "must have at least {min_length} items",
        "too_long": "must have at most {max_length} items",
        "enum": "must be one of {expected}",
        "literal_error": "must be one of {expected}",
    }
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERN_NAMES:
        return f"must be {_PATTERN_NAMES[ctx['pattern']]}"
    if kind in templates:
        try:
            return templates[kind].format(**ctx)
        except KeyError:
            pass
    message = str(error.get("msg", kind))
    return message[:1].lower() + message[1:]
