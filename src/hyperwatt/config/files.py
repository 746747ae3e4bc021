"""Reading TOML and JSON files into plain data, with one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hyperwatt.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise ConfigError(path, None, "is a directory, not a file")
        # read at most one byte past the limit: a device (/dev/zero) or a pipe has no size to check
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(path, None, f"is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except PermissionError:
        raise ConfigError(path, None, "permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(path, None, exc.strerror or str(exc)) from None
    # editors on Windows save UTF-8 with a byte-order mark; neither TOML nor JSON allows one
    return text[1:] if text.startswith("\ufeff") else text


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(path, None, "invalid TOML: nested too deeply") from None


def read_json(path: Path, duplicates: list[str] | None = None) -> Any:
    """JSON data; a key written twice in one object is an error, or, given `duplicates`, the last
    one counts (as Python's json.load reads it) and the key is appended there."""
    hook = _unique_keys if duplicates is None else _last_wins(duplicates)
    try:
        return json.loads(_read_text(path), parse_constant=_reject_constant, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise ConfigError(path, None, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(path, None, "invalid JSON: nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _last_wins(seen: list[str]) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                seen.append(key)
            out[key] = value
        return out

    return hook


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out
