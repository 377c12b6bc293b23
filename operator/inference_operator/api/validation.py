"""One-line explanations of pydantic validation errors, naming each field as written (camelCase).

Used wherever a body meets a model: the CLI (a file a person hands it) and the reconcile (a body the API
server admitted but the models refuse).
"""

from __future__ import annotations

import re
from typing import Any

import pydantic

from .base import FIELD_CONFLICT, PERCENT_PATTERN, QUANTITY_PATTERN

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
        if error["type"] == FIELD_CONFLICT:  # raised by a model about one of its fields: name that field
            loc.append(str((error.get("ctx") or {})["field"]))
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
