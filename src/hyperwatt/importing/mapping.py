"""One row of the seed's results (CSV row or experiment.json) as an experiment record.

Rules (docs/migration.md): a parallel foreground may sit in the unprefixed columns, in `fg_*`, or in
both — coalesced preferring `fg_*`, a conflict recorded; an empty hyperparameter is the workload's
default (recorded in `imported.defaulted`); the GPU energy is the seed's 1 Hz power sum
(`nvidia-smi-1hz-sum`); the seed's repository names are kept beside ours; every cell's text is kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from hyperwatt.config import Registry, Workload
from hyperwatt.config.plan import Mode
from hyperwatt.config.workload import Scalar, coerce
from hyperwatt.errors import ConfigError
from hyperwatt.importing.seedcsv import FAMILIES, FG_BASE, SeedRow
from hyperwatt.mutation import Setting, canonical_key, key_hash
from hyperwatt.records import (
    Attempt,
    BackgroundRecord,
    Energy,
    ExperimentRecord,
    Flag,
    Imported,
    SensorEnergy,
)
from hyperwatt.space import Value, literal

GPU_METHOD = "nvidia-smi-1hz-sum"
CPU_METHOD = "seed-perf-rapl"
GPU_METHOD_NOTE = ("GPU energy is the seed's sum of 1 Hz nvidia-smi power readings, not an energy counter; "
                   "this project measured it -9 % to -39 % off on 2-5 s windows: compare it only with energy "
                   "of the same method")
_INT = re.compile(r"^[+-]?\d+$")


@dataclass
class Mapped:
    record: ExperimentRecord
    causes: list[str] = field(default_factory=list)  # what the import noticed, one cause each


def experiment_id(seed_id: str, timestamp: str) -> str:
    """Stable and unique: the seed's id (not unique alone) and its timestamp."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", seed_id)[:80].strip(".") or "row"
    digest = hashlib.sha256(f"{seed_id}\0{timestamp}".encode()).hexdigest()[:10]
    return f"seed-{safe}-{digest}"


def map_row(row: SeedRow, source: Path, session_id: str, slot: int, registry: Registry) -> Mapped:
    where = f"line {row.line}" if row.line else None
    cells, causes, problems = _coalesced(row.cells)
    seed_id, stamp = row.cells.get("experiment_id", ""), row.cells.get("timestamp", "")
    if not seed_id or not stamp:
        raise ConfigError(source, where, "experiment_id and timestamp are required in every row")
    started = _wall(stamp, source, where)
    repo, model = cells.get("repository"), cells.get("model")
    if not repo or not model:
        raise ConfigError(source, where, "repository and model are required in every row")
    mode = cells.get("mode", "")
    if mode not in ("", "parallel", "nonparallel", "sequential"):
        raise ConfigError(source, where, f"mode {mode!r} is neither 'parallel' nor empty")
    run_mode: Mode = "parallel" if mode == "parallel" else "sequential"
    name = Registry.canonical(f"{repo}/{model}")
    workload = registry.get(name) if name in registry else None
    if workload is None:
        causes.append("unknown workload (no defaults filled; not matched by deduplication)")
        problems.append(f"workload {name} is not declared here: defaults not filled")
    values, defaulted = _hyperparameters(cells, workload, source, where, problems, causes)
    metrics = {k[5:]: _number(v, k, source, where) for k, v in cells.items() if k.startswith("perf_")}
    success = _bool(cells.get("training_success"), source, where)
    duration = _number(cells["duration_seconds"], "duration_seconds", source, where) \
        if "duration_seconds" in cells else None
    if duration is not None and duration < 0:
        problems.append(f"duration_seconds {cells['duration_seconds']} is negative")
        causes.append("suspect value (negative duration)")
    energy = _energy(cells, duration, source, where, problems, causes)
    background = None
    bg_name = None
    if run_mode == "parallel":
        bg_repo, bg_model = cells.get("bg_repository"), cells.get("bg_model")
        bg_name = Registry.canonical(f"{bg_repo}/{bg_model}") if bg_repo and bg_model else "unknown/unknown"
        background = BackgroundRecord(workload=bg_name, hyperparameters={}, argv=[], effective=False,
                                      ineffective_reason="not known: the seed did not monitor its background")
        if not (bg_repo and bg_model):
            problems.append("parallel row names no background (bg_repository/bg_model empty)")
            causes.append("parallel row without its background")
    error = cells.get("error_message", "")
    ended = started + duration if duration is not None else None
    attempt = Attempt(number=_int(cells.get("retries"), "retries", source, where) + 1, argv=[], cwd="", log="",
                      started_wall=started, ended_wall=ended, duration_s=duration,
                      exit_code=0 if success else None, metrics=metrics, succeeded=bool(success),
                      error=None if success else (error or "training failed"))
    flags = [Flag(code="seed_gpu_energy_method", severity="warning", message=GPU_METHOD_NOTE)] \
        if energy.gpu_energy_j is not None else []
    key = _key(run_mode, name, workload, values, bg_name, registry)
    mutated = [p.strip() for p in re.split(r"[,;+]", cells.get("mutated_param", "")) if p.strip()]
    record = ExperimentRecord(
        experiment_id=experiment_id(seed_id, stamp), session_id=session_id, slot=slot,
        label=("mutate " + "+".join(mutated)) if mutated else (cells.get("experiment_source") or "seed"),
        workload=name, mode=run_mode, status="succeeded" if success else "failed",
        status_reason="" if success else (error or "training failed (the seed gave no message)"),
        key=key, key_hash=key_hash(key), mutated=mutated,
        hyperparameters={k: v.typed for k, v in values.items()},
        hyperparameter_args={k: v.text for k, v in values.items() if k not in defaulted},
        started_wall=started, ended_wall=ended, duration_s=duration, attempts=[attempt], metrics=metrics,
        energy=energy, background=background, flags=flags,
        imported=Imported(source=str(source), line=row.line, seed_experiment_id=seed_id, seed_timestamp=stamp,
                          seed_repository=repo, seed_model=model,
                          seed_background=f"{cells['bg_repository']}/{cells['bg_model']}"
                          if cells.get("bg_repository") and cells.get("bg_model") else None,
                          columns=dict(row.cells), defaulted=defaulted, problems=problems),
    )
    if not success:
        causes.append("failed in the seed (its error message kept)")
    elif not energy.available:
        causes.append("succeeded with no energy recorded by the seed (kept; no energy to analyse)")
    return Mapped(record, causes)


def _coalesced(cells: dict[str, str]) -> tuple[dict[str, str], list[str], list[str]]:
    """The foreground's cells: `fg_X` preferred over `X`; a conflict is a recorded problem."""
    out = {k: v for k, v in cells.items() if not k.startswith("fg_")}
    causes: list[str] = []
    problems: list[str] = []
    for column, fg_text in cells.items():
        if not column.startswith("fg_"):
            continue
        base = column[3:]
        if base not in FG_BASE and not base.startswith(FAMILIES):
            continue
        plain = cells.get(base)
        if plain is not None and not _same(plain, fg_text):
            problems.append(f"{base}={plain!r} but {column}={fg_text!r}: kept {column}")
            if "conflicting fg_* and unprefixed cells (fg_* kept)" not in causes:
                causes.append("conflicting fg_* and unprefixed cells (fg_* kept)")
        out[base] = fg_text
    return out, causes, problems


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return a.strip().lower() == b.strip().lower()


def _hyperparameters(cells: dict[str, str], workload: Workload | None, source: Path, where: str | None,
                     problems: list[str], causes: list[str]) -> tuple[dict[str, Value], list[str]]:
    given = {k[len("hyperparam_"):]: v for k, v in cells.items() if k.startswith("hyperparam_")}
    values: dict[str, Value] = {}
    params = workload.hyperparameters if workload else {}
    label = workload.name if workload else "its workload"
    for name, text in given.items():
        param = params.get(name)
        if param is None:
            if workload is not None:
                problems.append(f"hyperparam_{name} is not a hyperparameter of {label}")
                causes.append("hyperparameter the workload does not declare (kept, not in the dedup key)")
            values[name] = Value(text, _guess(text))
            continue
        try:
            values[name] = Value(text, coerce(param, text))
        except ValueError as exc:  # kept as written: the seed ran it, whatever its type said
            values[name] = Value(text, _guess(text))
            problems.append(f"hyperparam_{name} {text!r} does not fit {label} ({exc}): kept as written")
            causes.append("hyperparameter value of another type than the workload's (kept; the row matches no plan)")
    defaulted = []
    for name, param in params.items():
        if name not in values and param.default is not None:
            values[name] = literal(param, param.default)
            defaulted.append(name)
    if defaulted:
        causes.append("hyperparameters left empty, filled with the workload's defaults")
    return values, defaulted


def _guess(text: str) -> Scalar:
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return {"true": True, "false": False}.get(text.lower(), text)


def _energy(cells: dict[str, str], duration: float | None, source: Path, where: str | None,
            problems: list[str], causes: list[str]) -> Energy:
    num = {k: _number(v, k, source, where) for k, v in cells.items() if k.startswith("energy_")}
    for k, v in num.items():
        if v < 0:
            problems.append(f"{k} {cells[k]} is negative")
            if "suspect value (negative energy or power)" not in causes:
                causes.append("suspect value (negative energy or power)")
    gpu, pkg, ram = (num.get(k) for k in ("energy_gpu_total_joules", "energy_cpu_pkg_joules",
                                           "energy_cpu_ram_joules"))
    cpu_total = num.get("energy_cpu_total_joules")
    if pkg is None and cpu_total is not None:  # only the total: it is the CPU's energy, DRAM included
        pkg = cpu_total - (ram or 0.0)
    sensors = []
    span = duration or 0.0
    if gpu is not None:
        sensors.append(SensorEnergy(sensor="seed:nvidia-smi", domain="gpu", method=GPU_METHOD, energy_j=gpu,
                                    mean_power_w=num.get("energy_gpu_avg_watts"),
                                    peak_power_w=num.get("energy_gpu_max_watts"), duration_s=span,
                                    update_period_s=1.0))
    if pkg is not None:
        sensors.append(SensorEnergy(sensor="seed:perf", domain="cpu", method=CPU_METHOD, energy_j=pkg,
                                    duration_s=span))
    if ram is not None:
        sensors.append(SensorEnergy(sensor="seed:perf", domain="dram", method=CPU_METHOD, energy_j=ram,
                                    duration_s=span))
    total = None
    if gpu is not None and pkg is not None:
        total = gpu + pkg + (ram or 0.0)
    available = bool(sensors)
    return Energy(available=available, reason=None if available else "the seed recorded no energy for this run",
                  duration_s=duration, gpu_energy_j=gpu, cpu_energy_j=pkg,
                  cpu_method=CPU_METHOD if pkg is not None else None,
                  gpu_method=GPU_METHOD if gpu is not None else None, dram_energy_j=ram,
                  total_energy_j=total, sensors=sensors)


def _key(mode: Mode, name: str, workload: Workload | None, values: dict[str, Value], bg_name: str | None,
         registry: Registry) -> str:
    if workload is None:  # no typed identity to match a plan with: a key of its own
        return json.dumps({"mode": mode, "workload": name, "background": bg_name,
                           "hyperparameters": {k: repr(v.typed) for k, v in sorted(values.items())}},
                          sort_keys=True)
    fg = Setting(workload, {k: v for k, v in values.items() if k in workload.hyperparameters}, ())
    bg = None
    if bg_name is not None:
        bg_workload = registry.get(bg_name) if bg_name in registry else None
        if bg_workload is None:
            return json.dumps({"mode": mode, "foreground": canonical_key("sequential", fg, None),
                               "background": bg_name}, sort_keys=True)
        bg = Setting(bg_workload, {n: literal(p, p.default) for n, p in bg_workload.hyperparameters.items()
                                   if p.default is not None}, ())
    return canonical_key(mode, fg, bg)


def _wall(stamp: str, source: Path, where: str | None) -> float:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise ConfigError(source, where, f"timestamp {stamp!r} is not an ISO date and time") from None
    if moment.tzinfo is None:  # the seed wrote local time without a zone: read as UTC (docs/migration.md)
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _number(text: str, column: str, source: Path, where: str | None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(source, where, f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(source, where, f"{column} {text!r} is not a finite number")
    return value


def _int(text: str | None, column: str, source: Path, where: str | None) -> int:
    if text is None:
        return 0
    value = _number(text, column, source, where)
    if value != int(value) or value < 0:
        raise ConfigError(source, where, f"{column} {text!r} is not a count")
    return int(value)


def _bool(text: str | None, source: Path, where: str | None) -> bool:
    if text in ("True", "true", "1"):
        return True
    if text in ("False", "false", "0"):
        return False
    raise ConfigError(source, where, f"training_success {text!r} is neither True nor False")
