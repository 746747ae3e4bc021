"""Checks before any training starts: results directory, disk, workloads, a GPU free of strangers."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from hyperwatt.clock import Clock
from hyperwatt.config import PreflightPolicy, Workload
from hyperwatt.engine.command import build_argv
from hyperwatt.engine.context import Slot
from hyperwatt.errors import PreflightError
from hyperwatt.store.diskfull import filesystem, is_disk_full
from hyperwatt.mutation import resolve
from hyperwatt.sensors import SensorSet


def check_results_dir(results_dir: Path, policy: PreflightPolicy) -> None:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=results_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        if is_disk_full(exc):
            raise PreflightError(f"{results_dir}: the file system {filesystem(results_dir)} is full "
                                 "(no space left on device); nothing was started") from None
        if results_dir.is_symlink() and not results_dir.exists():
            raise PreflightError(f"{results_dir}: is a symbolic link to {os.readlink(results_dir)!r} that leads to no "
                                 "folder (broken or looping); pass -o/--results-dir with a folder") from None
        if results_dir.exists() and not results_dir.is_dir():
            raise PreflightError(f"{results_dir}: is a file, not a folder; pass -o/--results-dir with a folder") from None
        blocked = next((p for p in results_dir.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise PreflightError(f"{results_dir}: results directory cannot be created: {blocked} is a file, "
                                 "not a folder") from None
        raise PreflightError(f"{results_dir}: results directory is not writable ({exc.strerror or exc})") from None
    free_mib = shutil.disk_usage(results_dir).free / 2**20
    if free_mib < policy.min_free_disk_mib:
        raise PreflightError(f"{results_dir}: only {free_mib:.0f} MiB free on the file system "
                             f"{filesystem(results_dir)}, the plan needs preflight.min_free_disk_mib = "
                             f"{policy.min_free_disk_mib:g}")


def check_workloads(workloads: Iterable[Workload], python: str) -> None:
    for w in workloads:
        where = w.workdir or Path.cwd()
        if not where.is_dir():
            what = "is a file, not a folder" if where.exists() else "does not exist"
            raise PreflightError(f"{w.source}: workloads.\"{w.name}\".workdir: {where} {what}")
        exe = build_argv(resolve(w, {}), python)[0]
        if os.sep in exe:
            path = Path(exe) if Path(exe).is_absolute() else where / exe
            if not path.is_file():
                what = "is a folder, not a program" if path.is_dir() else "does not exist"
                raise PreflightError(f"{w.source}: workloads.\"{w.name}\".argv: {path} {what}")
            if not os.access(path, os.X_OK):
                raise PreflightError(f"{w.source}: workloads.\"{w.name}\".argv: {path} is not executable "
                                     f"(chmod +x it, or start argv with an interpreter)")
        elif shutil.which(exe, path=w.env.get("PATH")) is None:  # the training's PATH, as it will run
            hint = ""
            if (where / exe).is_file():
                hint = (f" (there is a file {exe!r} in {where}: write \"./{exe}\" for it, executable, "
                        f"or start argv with its interpreter)")
            elif any(c.isspace() or c in "|&;<>$`'\"" for c in exe):
                hint = (" (hyperwatt runs no shell: argv is a list of words, e.g. [\"python\", \"train.py\", "
                        "\"--fast\"]; pipes and redirections belong in a script)")
            raise PreflightError(f"{w.source}: workloads.\"{w.name}\".argv: {exe!r} is not on PATH{hint}")
        _check_script(w, exe, where)


def _check_script(w: Workload, exe: str, where: Path) -> None:
    """`python train.py`: the script must be in the training's folder (without `workdir`, hyperwatt's
    current one: a plan run from another folder failed every attempt with Python's "can't open file").
    Left to the training when a prepare step could write it."""
    if len(w.argv) < 2 or w.prepare is not None or not Path(exe).name.startswith("python"):
        return
    script = w.argv[1]
    if not script.endswith(".py") or "{" in script or Path(script).is_absolute() or (where / script).is_file():
        return
    hint = ""
    if w.workdir is None:
        declared = Path(str(w.source)).parent
        hint = (" (without a workdir the training runs in hyperwatt's current folder" +
                (f"; it is in {declared}: set workdir = \".\" in {Path(str(w.source)).name}"
                 if (declared / script).is_file() else "; set the workload's workdir") + ")")
    raise PreflightError(f"{w.source}: workloads.\"{w.name}\".argv: script {script!r} not found in {where}{hint}")


def check_requested_gpus(requested: list[int] | None, sensors: SensorSet | None, source: object = "plan") -> None:
    """An explicit `[sensors] gpus` list (or `--gpus`, `source` "--gpus") is a demand: every GPU in it
    must have opened (a missing one let the session run on the CPU, unmeasured, without a word)."""
    if not requested:
        return
    opened = {g.index for g in (sensors.gpus() if sensors is not None else [])}
    missing = [i for i in requested if i not in opened]
    if missing:
        unavailable = sensors.unavailable if sensors is not None else []
        why = next((u.reason for u in unavailable if u.name == f"gpu{missing[0]}"), None) or next(
            (u.reason for u in unavailable if u.domain == "gpu"), "no GPU sensor opened")
        where = "--gpus" if source == "--gpus" else f"{source}: sensors.gpus"  # the option, or the plan's key
        raise PreflightError(f"{where}: GPU {missing[0]} cannot be used ({why}); list the GPUs this "
                             "machine has (hyperwatt doctor), or leave gpus out to use whatever is there")


def check_gpus_free(slots: Iterable[Slot], policy: PreflightPolicy, clock: Clock,
                    warn: Callable[[str], None], own_pids: set[int] | None = None) -> None:
    """Foreign compute processes on a target GPU: abort, wait (bounded) or ignore, per policy."""
    own = own_pids or {os.getpid()}
    deadline = clock.monotonic() + policy.gpu_busy_wait_s
    for slot in slots:
        if slot.gpu is None:
            continue
        while True:
            foreign = [p for p in slot.gpu.processes() if p.pid not in own]
            if not foreign or policy.gpu_busy == "ignore":
                if foreign:
                    warn(f"{slot.label} is busy with pids {[p.pid for p in foreign]}; measuring anyway "
                         "(preflight.gpu_busy = 'ignore')")
                break
            desc = ", ".join(f"pid {p.pid}" + (f" ({p.used_memory_mib:.0f} MiB)" if p.used_memory_mib else "")
                             for p in foreign)
            if policy.gpu_busy == "abort" or clock.monotonic() >= deadline:
                raise PreflightError(f"{slot.label} is busy with foreign processes: {desc}; free it, or set "
                                     "preflight.gpu_busy = 'wait' or 'ignore'")
            clock.sleep(min(5.0, max(0.0, deadline - clock.monotonic())))
