"""The seed's settings JSON files, planned exactly as its runner (`mutation/runner.py`) ran them.

For each entry the seed took `mode = entry.mode or top.mode or "mutation"`: `parallel` ran the
foreground (mutated when its own mode is `mutation`, else its fixed values) against the background;
`default` ran the entry's fixed values; any other mode ran the mutation branch. It skipped an entry
whose repository or model was missing (a KeyError) or unknown, read only the keys it knew, let the
last of two equal JSON keys win, dropped fixed values a model does not have, and in mutation mode
never read `mutate_params` nor the fixed values beside `mutate`.

hyperwatt plans the same trainings and says, as notes grouped by cause with the entries concerned,
everything it ignored, skipped or reinterpreted (`--strict` makes them an error). Where the seed's
behaviour was a bug, `seed_compat = "intended"` (a key of the settings file, or `--seed-compat`)
reads the file as its author meant instead. docs/migration.md lists every mapping.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hyperwatt.config.errors import suggest
from hyperwatt.config.registry import Registry
from hyperwatt.config.workload import Workload, coerce
from hyperwatt.errors import ConfigError

SeedCompat = Literal["faithful", "intended"]
COMPAT = ("faithful", "intended")
_NOTES = {"description", "comment", "note", "notes", "version", "created", "updated", "author",
          "target_completion", "purpose", "goal"}
#: Keys the seed's runner read (plus hyperwatt's own `seed`, `random_seed`, `seed_compat`).
_TOP_KEYS = {"experiment_name", "mode", "runs_per_config", "max_retries", "governor", "experiments",
             "use_deduplication", "historical_csvs", "seed", "random_seed", "seed_compat"}
_ENTRY_KEYS = {"repo", "model", "mode", "mutate", "hyperparameters", "runs_per_config", "max_retries",
               "foreground", "background"}
_FOREGROUND_KEYS = {"repo", "model", "mode", "mutate", "hyperparameters", "runs_per_config"}
_BACKGROUND_KEYS = {"repo", "model", "hyperparameters"}
_GOVERNORS = {"performance", "powersave", "ondemand", "conservative", "schedutil", "userspace"}
_KNOWN_MODES = ("mutation", "default", "parallel")
#: Modes the seed's files wrote meaning "not parallel" (no typo to point out).
_SEED_ALIASES = ("nonparallel", "sequential", "batch", "mixed", "mutation")
MAX_RUNS = 100_000


def is_note(key: str) -> bool:
    # the seed's settings carry estimates in many units: estimated_duration_hours, _minutes, ...
    return key in _NOTES or key.startswith("estimated_")


@dataclass
class Notes:
    """What the translation ignored, skipped or reinterpreted: cause -> entries (and details)."""

    causes: dict[str, tuple[list[int], list[str]]] = field(default_factory=dict)

    def add(self, cause: str, index: int | None = None, detail: str | None = None) -> None:
        entries, details = self.causes.setdefault(cause, ([], []))
        if index is not None and index not in entries:
            entries.append(index)
        if detail is not None and detail not in details:
            details.append(detail)

    def lines(self) -> list[str]:
        out = []
        for cause, (entries, details) in self.causes.items():
            what = f" ({', '.join(details[:12])}{', ...' if len(details) > 12 else ''})" if details else ""
            n = len(entries)
            where = (f"; {n} entr{'y' if n == 1 else 'ies'}: {_ranges(entries)}" if entries else "")
            out.append(f"{cause}{what}{where}")
        return out


def _ranges(indexes: list[int]) -> str:
    """experiments[0-3, 7]: the entries, compactly."""
    parts: list[str] = []
    ordered = sorted(indexes)
    start = prev = ordered[0]
    for i in ordered[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return f"experiments[{', '.join(parts)}]"


@dataclass
class SeedPlan:
    """A settings file translated: plan data, the file's own key for each plan key, notes, skips."""

    data: dict[str, Any]
    keys: dict[str, str]
    notes: Notes
    errors: list[ConfigError]
    entries: int  # entries in the file
    #: use_deduplication: the CSVs (as written) whose history the seed deduplicated against
    historical_csvs: list[str] = field(default_factory=list)


class _Skip(Exception):
    """The seed skipped this entry (its reason is a note's cause)."""

    def __init__(self, cause: str, detail: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.detail = detail


def translate(data: Any, path: Path, registry: Registry, compat: SeedCompat | None,
              duplicates: list[str] | None = None) -> SeedPlan:
    """The seed settings `data` as plan data; every problem of the file is collected, none raised."""
    if not isinstance(data, dict):
        raise ConfigError(path, None, "a seed settings file is a JSON object with an 'experiments' list")
    if "models" in data and "experiments" not in data:
        raise ConfigError(path, "models", "this is a seed models_config.json (workloads), not a settings file; "
                          "pass it with -W/--workloads")
    t = _Translation(path, registry, data)
    t.compat = compat or t.file_compat()
    if duplicates:
        for key in duplicates:
            t.notes.add("a key written twice in one object: the last one counts, as the seed's json.load did",
                        detail=repr(key))
    return t.run()


class _Translation:
    def __init__(self, path: Path, registry: Registry, data: dict[str, Any]) -> None:
        self.path, self.registry, self.data = path, registry, data
        self.notes = Notes()
        self.errors: list[ConfigError] = []
        self.keys: dict[str, str] = {"name": "experiment_name"}
        self.compat: SeedCompat = "faithful"

    def error(self, key: str | None, reason: str) -> None:
        self.errors.append(ConfigError(self.path, key, reason))

    def file_compat(self) -> SeedCompat:
        value = self.data.get("seed_compat", "faithful")
        if value not in COMPAT:
            self.error("seed_compat", f"must be \"faithful\" or \"intended\", got {value!r}")
            return "faithful"
        return value

    # top level ------------------------------------------------------------------------------------
    def run(self) -> SeedPlan:
        data = self.data
        self.unknown_keys(data, _TOP_KEYS, None, "top level")
        experiments = data.get("experiments")
        plan: dict[str, Any] = {"experiments": [], "seed_compat": self.compat}
        self.keys["seed_compat"] = "seed_compat"
        if not isinstance(experiments, list) or not experiments:
            typo = difflib.get_close_matches("experiments", [k for k in data if k not in _TOP_KEYS], n=1)
            self.error("experiments", "required: a non-empty list of experiments"
                       + (f" (the file has {typo[0]!r})" if typo else ""))
            return self.result(plan, 0)
        top_mode = data.get("mode", "mutation")
        if top_mode is None:
            top_mode = "mutation"
        if top_mode not in _KNOWN_MODES and top_mode != "mixed":
            hint = "" if top_mode in _SEED_ALIASES else suggest(str(top_mode), _KNOWN_MODES)
            self.notes.add(f"top-level mode {top_mode!r} is not one the seed knew: entries without their own "
                           f"mode ran the mutation branch, as in the seed{hint}")
        runs = self.runs(data)
        self.top_level(data, plan)
        for i, exp in enumerate(experiments):
            key = f"experiments[{i}]"
            if not isinstance(exp, dict):
                self.error(key, "must be a JSON object (the seed's runner stopped here)")
                continue
            if set(exp) and all(is_note(k) for k in exp):
                self.notes.add("comment-only entries (separators) run nothing", i)
                continue
            top_keys, self.keys = self.keys, {}  # this entry's keys, under the file's index
            try:
                entry = self.entry(exp, i, top_mode, runs)
            except _Skip as skip:
                self.notes.add(skip.cause + ": skipped, as the seed did", i, skip.detail)
                continue
            finally:
                entry_keys, self.keys = self.keys, top_keys
            if exp.get("max_retries") is not None:
                entry["timing"] = {"retries": self.count(exp, "max_retries", key, lo=0, hi=100)}
                entry_keys[f"{key}.timing.retries"] = entry_keys[f"{key}.timing"] = f"{key}.max_retries"
            note = exp.get("note") or exp.get("comment")
            if isinstance(note, str) and note:
                entry["note"] = note
            plan_key = f"experiments[{len(plan['experiments'])}]"  # skipped entries shift the plan's index
            self.keys[plan_key] = key
            self.keys.update({plan_key + k[len(key):]: v for k, v in entry_keys.items()})
            plan["experiments"].append(entry)
        csvs = []
        if data.get("use_deduplication"):
            raw = data.get("historical_csvs") or []
            if not isinstance(raw, list) or not all(isinstance(c, str) and c for c in raw):
                self.error("historical_csvs", "must be a list of CSV paths")
            else:
                csvs = list(raw)
        result = self.result(plan, len(experiments))
        result.historical_csvs = csvs
        return result

    def result(self, plan: dict[str, Any], entries: int) -> SeedPlan:
        return SeedPlan(plan, self.keys, self.notes, self.errors, entries)

    def top_level(self, data: dict[str, Any], plan: dict[str, Any]) -> None:
        if data.get("experiment_name") is not None:
            plan["name"] = _safe(str(data["experiment_name"]))
        if isinstance(data.get("description"), str):
            plan["description"] = data["description"]
        seeds = {k: data[k] for k in ("seed", "random_seed") if data.get(k) is not None}
        if len(seeds) == 2 and seeds["seed"] != seeds["random_seed"]:
            self.error("random_seed", f"differs from 'seed' ({seeds['random_seed']!r} vs {seeds['seed']!r}); give one")
        for seed_key, value in seeds.items():
            plan["seed"] = value
            self.keys["seed"] = seed_key
        if data.get("max_retries") is not None:
            plan["timing"] = {"retries": self.count(data, "max_retries", "", lo=0, hi=100)}
            self.keys["timing.retries"] = self.keys["timing"] = "max_retries"
        gov = data.get("governor")
        if gov is not None:
            if not isinstance(gov, str) or gov not in _GOVERNORS:
                self.error("governor", f"unknown governor {gov!r}{suggest(str(gov), _GOVERNORS)}; "
                           f"known: {', '.join(sorted(_GOVERNORS))}")
            else:
                plan["governor"] = gov

    def unknown_keys(self, obj: dict[str, Any], allowed: set[str], index: int | None, where: str) -> None:
        for k in obj:
            if k not in allowed and not is_note(k):
                if k == "mutate_params":
                    continue  # a cause of its own
                self.notes.add(f"keys the seed's runner never read, ignored ({where})", index,
                               repr(k) + suggest(k, allowed))

    def runs(self, obj: dict[str, Any], where: str = "") -> int | None:
        if obj.get("runs_per_config") is None:
            return None
        return self.count(obj, "runs_per_config", where, lo=1, hi=MAX_RUNS)

    def count(self, obj: dict[str, Any], name: str, where: str, lo: int, hi: int) -> int:
        value = obj[name]
        full = f"{where}.{name}" if where else name
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.error(full, f"must be a whole number from {lo} to {hi:,}, got {value!r}")
            return max(lo, 1)
        return value

    # one entry ------------------------------------------------------------------------------------
    def entry(self, exp: dict[str, Any], i: int, top_mode: Any, top_runs: int | None) -> dict[str, Any]:
        key = f"experiments[{i}]"
        mode = exp.get("mode", top_mode)
        if mode is None:
            mode = top_mode
        own_runs = self.runs(exp, key)
        if mode == "parallel":
            return self.parallel(exp, i, own_runs, top_runs)
        self.unknown_keys(exp, _ENTRY_KEYS, i, "entries")
        if mode not in ("default", "mutation") and "mode" in exp:
            hint = "" if mode in _SEED_ALIASES else suggest(str(mode), _KNOWN_MODES)
            self.notes.add(f"entry mode {mode!r}, not one the seed knew: it ran the mutation branch, as in the "
                           f"seed{hint}", i)
        if "foreground" in exp or "background" in exp:
            if "repo" not in exp:
                raise _Skip("a 'foreground' in an entry whose mode is not 'parallel': the seed ran the "
                            f"{'default' if mode == 'default' else 'mutation'} branch, found no 'repo' (KeyError)")
            self.notes.add("'foreground'/'background' in an entry whose mode is not 'parallel': ignored, as the "
                           "seed did", i)
        workload = self.workload(exp, i, "")
        runs = own_runs or top_runs or 1
        self.keys[f"{key}.workload"] = f"{key}.model"
        self.keys[f"{key}.hyperparameters"] = f"{key}.hyperparameters"
        if mode == "default":
            values = self.fixed(exp, workload, i, key)
            self.keys[f"{key}.repeats"] = f"{key}.runs_per_config" if own_runs else "runs_per_config"
            return {"workload": workload.name, "mode": "sequential", "hyperparameters": values, "repeats": runs}
        return self.mutation(exp, workload, i, key, key, runs, "sequential",
                             f"{key}.runs_per_config" if own_runs else "runs_per_config")

    def parallel(self, exp: dict[str, Any], i: int, own_runs: int | None, top_runs: int | None) -> dict[str, Any]:
        key = f"experiments[{i}]"
        self.unknown_keys(exp, _ENTRY_KEYS, i, "entries")
        fg, bg = exp.get("foreground"), exp.get("background")
        if not fg or not bg:
            raise _Skip("a parallel entry without 'foreground' and 'background' objects")
        if not isinstance(fg, dict) or not isinstance(bg, dict):
            raise _Skip("a parallel entry whose 'foreground' or 'background' is not an object")
        fkey, bkey = f"{key}.foreground", f"{key}.background"
        self.unknown_keys(fg, _FOREGROUND_KEYS, i, "foreground")
        self.unknown_keys(bg, _BACKGROUND_KEYS | {"mode"}, i, "background")
        fg_workload = self.workload(fg, i, "foreground")
        bg_workload = self.workload(bg, i, "background")
        beside = [k for k in ("repo", "model") if k in exp]
        if beside:
            same = all(exp[k] == fg.get(k) for k in beside)
            self.notes.add("'repo'/'model' beside 'foreground' in a parallel entry: ignored, as the seed did", i,
                           None if same else "differing from the foreground: " + "/".join(str(exp[k]) for k in beside))
        for k in ("hyperparameters", "mutate", "mutate_params"):
            if k in exp:
                self.notes.add(f"'{k}' beside 'foreground' in a parallel entry: ignored, as the seed did", i)
        for k in ("mutate", "mutate_params", "mode"):
            if k in bg:
                self.notes.add(f"background '{k}': ignored (a background runs its fixed values), as the seed did", i)
        fg_runs = self.runs(fg, fkey)
        runs = own_runs or fg_runs or top_runs or 1
        runs_key = (f"{key}.runs_per_config" if own_runs else f"{fkey}.runs_per_config" if fg_runs
                    else "runs_per_config")
        if own_runs and fg_runs and own_runs != fg_runs:
            self.notes.add("runs_per_config given on the entry and its foreground: the entry's counts", i)
        self.keys[f"{key}.workload"] = f"{fkey}.model"
        self.keys[f"{key}.hyperparameters"] = f"{fkey}.hyperparameters"
        fg_mode = fg.get("mode", "mutation")
        if fg_mode == "mutation":
            entry = self.mutation(fg, fg_workload, i, key, fkey, runs, "parallel", runs_key)
        else:
            if fg_mode != "default":
                self.notes.add(f"foreground mode {fg_mode!r}: anything but 'mutation' ran the foreground's fixed "
                               "values, as in the seed", i)
            entry = {"workload": fg_workload.name, "mode": "parallel",
                     "hyperparameters": self.fixed(fg, fg_workload, i, fkey), "repeats": runs}
            self.keys[f"{key}.repeats"] = runs_key
        entry["background"] = {"workload": bg_workload.name,
                               "hyperparameters": self.fixed(bg, bg_workload, i, bkey)}
        self.keys[f"{key}.background.workload"] = f"{bkey}.model"
        self.keys[f"{key}.background.hyperparameters"] = f"{bkey}.hyperparameters"
        return entry

    def workload(self, side: dict[str, Any], i: int, what: str) -> Workload:
        missing = [k for k in ("repo", "model") if not isinstance(side.get(k), str)]
        if missing:
            hint = " (it writes 'repository')" if "repository" in side and "repo" in missing else ""
            where = f"{what} " if what else ""
            raise _Skip(f"{where}'repo'/'model' missing: the seed's runner failed on it (KeyError){hint}")
        name = Registry.canonical(f"{side['repo']}/{side['model']}")
        if name not in self.registry:
            raise _Skip("unknown workload (not in models_config.json or the built-ins)",
                        f"{name}{suggest(name, self.registry.names())}")
        return self.registry.get(name)

    def fixed(self, side: dict[str, Any], workload: Workload, i: int, skey: str) -> dict[str, Any]:
        """The fixed values the seed passed: those the model has (others dropped, as the seed did)."""
        values = side.get("hyperparameters", {})
        if values is None:
            return {}
        if not isinstance(values, dict):
            self.error(f"{skey}.hyperparameters", "must be an object of name -> value")
            return {}
        out: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            param = workload.hyperparameters.get(name)
            if param is None:
                self.notes.add("fixed values the model does not have: dropped, as the seed did", i,
                               f"{name} on {workload.name}{suggest(name, workload.hyperparameters)}")
                continue
            if isinstance(value, (list, dict)):
                kind = "a list" if isinstance(value, list) else "an object"
                self.error(f"{skey}.hyperparameters.{name}", f"expected a number, string or boolean, got {kind} "
                           f"({value!r})")
                continue
            try:
                coerce(param, value)
            except ValueError as exc:
                self.error(f"{skey}.hyperparameters.{name}", str(exc))
                continue
            out[name] = value
        return out

    def mutation(self, side: dict[str, Any], workload: Workload, i: int, key: str, skey: str, runs: int,
                 mode: str, runs_key: str) -> dict[str, Any]:
        """The seed's mutation branch: `mutate` (all when absent) of the model's parameters, `runs`
        distinct settings."""
        intended = self.compat == "intended"
        mutate: Any = side.get("mutate")
        mkey = f"{skey}.mutate"
        if "mutate_params" in side:
            if intended and mutate is None:
                mutate, mkey = side["mutate_params"], f"{skey}.mutate_params"
                self.notes.add("'mutate_params' read as 'mutate' (seed_compat = \"intended\"; the seed never read "
                               "it)", i)
            else:
                self.notes.add("'mutate_params', which the seed never read: "
                               + ("'mutate' beside it counts" if mutate is not None else
                                  "mutating all parameters, as it did; write 'mutate' to choose "
                                  "(or seed_compat = \"intended\")"), i)
        fixed = self.fixed(side, workload, i, skey)
        if fixed and not intended:
            self.notes.add("fixed values beside a mutation: dropped, as the seed did (seed_compat = \"intended\" "
                           "keeps them)", i)
            fixed = {}
        if mutate is None:
            mutate = ["all"]
        if not isinstance(mutate, list) or not all(isinstance(m, str) for m in mutate):
            raise _Skip("'mutate' is not a list of parameter names: the seed found nothing to mutate")
        mutable = [n for n, p in workload.hyperparameters.items() if p.mutable]
        if "all" in mutate:
            params = [n for n in mutable if n not in fixed]
        else:
            params = []
            for name in mutate:
                if name not in workload.hyperparameters:
                    self.notes.add("mutated parameters the model does not have: dropped, as the seed did", i,
                                   f"{name} on {workload.name}{suggest(name, workload.hyperparameters)}")
                elif name not in mutable:
                    self.notes.add("parameters without a range to mutate within: dropped", i, name)
                elif name in fixed:
                    self.notes.add("parameters both fixed and mutated: the fixed value counts", i, name)
                elif name not in params:
                    params.append(name)
        if not params:
            raise _Skip("no parameter of the model left to mutate (the seed's ValueError)")
        self.keys[f"{key}.mutate.parameters"] = mkey
        self.keys[f"{key}.mutate.mutations"] = runs_key
        self.keys[f"{key}.mutate"] = mkey
        return {"workload": workload.name, "mode": mode, "hyperparameters": fixed,
                "mutate": {"parameters": params, "strategy": "joint", "mutations": runs}}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".")[:100] or "plan"
