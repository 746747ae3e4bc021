"""Turn parser and validation failures into one-line ConfigErrors with the key and a suggestion."""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hyperwatt.errors import ConfigError


def suggest(word: str, candidates: typing.Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close candidate exists, else ''."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def render_loc(loc: typing.Sequence[Any], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def from_validation(
    err: ValidationError, model: type[BaseModel], source: str | Path, prefix: str = ""
) -> ConfigError:
    """The first validation error as a ConfigError naming the key, with a suggestion for unknown keys."""
    return all_from_validation(err, model, source, prefix)[0]


def all_from_validation(
    err: ValidationError, model: type[BaseModel], source: str | Path, prefix: str = ""
) -> list[ConfigError]:
    """Every validation error as a one-line ConfigError naming its key, with a suggestion for unknown keys.

    A required key reported missing next to an unknown key in the same table is most likely that
    key misspelt (`regexp` for `regex`): the unknown key is reported, with its suggestion, and the
    missing one is not reported on its own."""
    errors = err.errors()
    out: list[ConfigError] = []
    paired: set[int] = set()  # unknown keys already reported for a missing one
    for first in errors:
        if first["type"] == "missing":
            parent = first["loc"][:-1]
            unknown = [e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] == parent]
            if unknown:
                wanted = str(first["loc"][-1])
                close = [e for e in unknown if difflib.get_close_matches(wanted, [str(e["loc"][-1])], cutoff=0.6)]
                first = (close or unknown)[0]
                if id(first) in paired:
                    continue
        if first["type"] == "extra_forbidden":
            if id(first) in paired:
                continue
            paired.add(id(first))
        problem = _one(first, model, source, prefix)
        if str(problem) not in {str(p) for p in out}:
            out.append(problem)
    return _merge_union_branches(out, {str(_one(e, model, source, prefix)) for e in errors
                                       if any(_is_union_tag(p) for p in e["loc"])})


def _merge_union_branches(problems: list[ConfigError], branches: set[str]) -> list[ConfigError]:
    """One problem per key where a value failed every member of a union (`timeout_s`: a number > 0,
    or "auto"/"none"): pydantic reports each member apart, the user wrote one value."""
    out: list[ConfigError] = []
    merged: dict[str | None, ConfigError] = {}
    for problem in problems:
        if str(problem) not in branches:
            out.append(problem)
            continue
        if problem.key not in merged:
            merged[problem.key] = problem
            out.append(problem)
            continue
        first = merged[problem.key]
        got = re.search(r" \(got .*\)$", first.reason)
        suffix = got.group(0) if got else ""
        head = first.reason[: len(first.reason) - len(suffix)] if suffix else first.reason
        tail = problem.reason[: -len(suffix)] if suffix and problem.reason.endswith(suffix) else problem.reason
        combined = ConfigError(first.source, first.key, f"{head}, or {tail[:1].lower()}{tail[1:]}{suffix}")
        out[out.index(first)] = merged[problem.key] = combined
    return out


def _one(first: Any, model: type[BaseModel], source: str | Path, prefix: str) -> ConfigError:
    loc = [p for p in first["loc"][:-1] if not _is_union_tag(p)] + list(first["loc"][-1:])
    if loc and first["type"] != "extra_forbidden" and _is_union_tag(loc[-1]):
        loc = loc[:-1]  # the last part is a user's key only for an unknown key (which may be '[' or 'int')
    key = render_loc(loc, prefix) or None
    if first["type"] == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        reason = f"unknown key{suggest(str(loc[-1]), known)}"
        if known:
            reason += f"; known keys: {', '.join(sorted(known))}"
    elif first["type"] == "missing":
        reason = "required key is missing"
    else:
        msg = first["msg"]
        reason = msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg
        if "input" in first and first["type"] not in ("value_error", "assertion_error"):
            reason += f" (got {_short(first['input'])})"
    return ConfigError(source, key, reason)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_TAG = re.compile(r"^[a-z][\w-]*\[.*\]$")


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the union member's type into the location ('int', 'float', 'function-after[...]')
    return isinstance(part, str) and (part in {"int", "float", "str", "bool"} or part.startswith("constrained-")
                                      or bool(_TYPE_TAG.match(part)))


def _fields_at(model: type[BaseModel], loc: typing.Sequence[Any]) -> list[str]:
    """Field names of the model reached by following `loc` from `model`, if any."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return []
    if not _is_model(current):
        return []
    internal: frozenset[str] = getattr(current, "INTERNAL_KEYS", frozenset())  # set by hyperwatt, never written by users
    return [k for k in current.model_fields if k not in internal] + list(getattr(current, "TABLE_KEYS", ()))


def _descend(tp: Any, part: Any) -> Any:
    for candidate in _unwrap(tp):
        if _is_model(candidate) and isinstance(part, str) and part in candidate.model_fields:
            return candidate.model_fields[part].annotation
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if origin in (list, tuple) and isinstance(part, int) and args:
            return args[0]
        if origin is dict and isinstance(part, str) and len(args) == 2:
            return args[1]
    return None


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)
