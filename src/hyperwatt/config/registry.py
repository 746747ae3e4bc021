"""The workload registry: built-in workloads plus those users declare in TOML or the seed's JSON."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from hyperwatt.config.errors import from_validation, suggest
from hyperwatt.config.files import read_toml
from hyperwatt.config.workload import Workload, check_workload_name
from hyperwatt.errors import ConfigError

BUILTIN_FILE = "builtin.toml"
#: The hyperparameter keys that say how a value is passed (exactly one per hyperparameter).
PASSING_KEYS = frozenset({"flag", "env", "positional"})
#: The seed system's repository names, mapped to ours.
REPO_ALIASES = {"Person_reID_baseline_pytorch": "Person_reID"}


@functools.cache
def _builtin_workloads() -> Mapping[str, Workload]:
    """The package's builtin.toml, built once: it cannot change while the process runs, and a
    Workload is frozen, so every Registry.builtin() shares these (its own dict, the same values)."""
    registry = Registry()
    ref = resources.files("hyperwatt.workloads").joinpath(BUILTIN_FILE)
    if ref.is_file():
        with resources.as_file(ref) as path:
            registry.add_file(path, source_label="builtin")
    return MappingProxyType(registry._workloads)


class Registry:
    """Workloads by name. Later declarations may `extends` earlier ones."""

    def __init__(self, workloads: Mapping[str, Workload] | None = None) -> None:
        self._workloads: dict[str, Workload] = dict(workloads or {})

    @classmethod
    def builtin(cls) -> Registry:
        """A fresh registry holding the built-in workloads (read and validated once per process)."""
        return cls(_builtin_workloads())

    def __contains__(self, name: str) -> bool:
        return self.canonical(name) in self._workloads

    def names(self) -> list[str]:
        return sorted(self._workloads)

    def all(self) -> list[Workload]:
        return [self._workloads[n] for n in self.names()]

    @staticmethod
    def canonical(name: str) -> str:
        repo, _, model = name.partition("/")
        return f"{REPO_ALIASES.get(repo, repo)}/{model}" if model else name

    def get(self, name: str, source: str | Path | None = None, key: str | None = None) -> Workload:
        found = self._workloads.get(self.canonical(name))
        if found is None:
            raise ConfigError(
                source, key, f"unknown workload {name!r}{suggest(name, self._workloads)}; "
                "see `hyperwatt list`, or declare it in a [workloads] table / --workloads file"
            )
        return found

    def add_file(self, path: Path, source_label: str | None = None) -> list[str]:
        """Declarations from a TOML workloads file (`[workloads.*]` tables)."""
        data = read_toml(path)
        unknown = set(data) - {"workloads"}
        if unknown:
            bad = sorted(unknown)[0]
            raise ConfigError(path, bad, f"unknown top-level key{suggest(bad, ['workloads'])}; "
                              "a workloads file holds [workloads.\"repo/model\"] tables")
        return self.add_tables(data.get("workloads", {}), path, source_label)

    def add_workloads(self, workloads: Iterable[Workload], path: Path) -> list[str]:
        """Workloads already built (e.g. from a seed models_config.json); later ones replace earlier ones."""
        added = []
        for workload in workloads:
            self._put(workload, path, f"models.{workload.repo}")
            added.append(workload.name)
        return added

    def add_tables(
        self, tables: Any, path: Path, source_label: str | None = None, prefix: str = "workloads"
    ) -> list[str]:
        """Register `{name: table}` declarations from `path` (workdir resolves against its folder)."""
        if not isinstance(tables, dict):
            raise ConfigError(path, prefix, "must be a table of workloads keyed by 'repo/model'")
        added = []
        for name, table in tables.items():
            key = f'{prefix}."{name}"'
            if not isinstance(table, dict):
                raise ConfigError(path, key, "must be a table")
            try:
                check_workload_name(name)
            except ValueError as exc:
                raise ConfigError(path, key, str(exc)) from None
            if name in added:
                raise ConfigError(path, key, "declared twice")
            workload = self._build(name, table, path, key, source_label or str(path))
            self._put(workload, path, key)
            added.append(name)
        return added

    def replace(self, workload: Workload) -> None:
        """Put a changed copy of a declared workload in its place."""
        self._workloads[workload.name] = workload

    def _put(self, workload: Workload, path: Path, key: str) -> None:
        self._workloads[workload.name] = workload

    def _build(self, name: str, table: dict[str, Any], path: Path, key: str, label: str) -> Workload:
        table = dict(table)
        for reserved in ("name", "source"):
            if reserved in table:
                raise ConfigError(path, f"{key}.{reserved}", "not a workload setting: the table's key "
                                  f"(\"{name}\") names the workload and hyperwatt records where it came from")
        parent_name = table.pop("extends", None)
        merged: dict[str, Any] = {}
        if parent_name is not None:
            if not isinstance(parent_name, str):
                raise ConfigError(path, f"{key}.extends", "must be a workload name")
            if self.canonical(parent_name) == name:
                raise ConfigError(path, f"{key}.extends", "a workload cannot extend itself")
            parent = self.get(parent_name, path, f"{key}.extends")
            merged = parent.model_dump(exclude={"name", "source"}, exclude_defaults=True)
        if "workdir" in table and isinstance(table["workdir"], str):
            if "\0" in table["workdir"]:
                raise ConfigError(path, f"{key}.workdir", "contains a NUL byte, which no path can hold")
            table["workdir"] = str((path.parent / Path(table["workdir"]).expanduser()).resolve())  # ~ is home
        merged = _merge(merged, table)
        try:
            return Workload(name=name, source=label, **merged)
        except ValidationError as err:
            raise from_validation(err, Workload, path, key) from None
        except TypeError as err:  # a non-string key in the table
            raise ConfigError(path, key, str(err)) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Override wins; `hyperparameters` and `metrics` merge one level deeper."""
    out = dict(base)
    for k, v in override.items():
        if k in ("hyperparameters", "metrics", "env") and isinstance(v, dict) and isinstance(out.get(k), dict):
            inner = dict(out[k])
            for name, sub in v.items():
                if k == "hyperparameters" and isinstance(sub, dict) and isinstance(inner.get(name), dict):
                    parent = dict(inner[name])
                    if PASSING_KEYS & set(sub):  # the child says how it is passed: the parent's way goes
                        for key in PASSING_KEYS:
                            parent.pop(key, None)
                    inner[name] = {**parent, **sub}
                else:
                    inner[name] = sub
            out[k] = inner
        else:
            out[k] = v
    return out
