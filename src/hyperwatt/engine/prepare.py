"""A workload's prepare step: run once per session, before the first measured window that needs it.

The command is the workload's `prepare.argv` with the values of `prepare.hyperparameters` passed as
the training gets them; each distinct command (argv, working directory, environment) runs once
per session, whichever experiment or background needs it first. Its log goes to
`<session>/prepare/`; each experiment records the prepare runs it relied on. A failed or timed-out
prepare is recorded and the experiment goes on (a built-in workload then builds its data itself).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from hyperwatt.engine.command import build_argv, build_env, workdir
from hyperwatt.errors import HyperwattError
from hyperwatt.mutation import PlannedExperiment, Setting
from hyperwatt.process import spawn
from hyperwatt.words import exit_status

POLL_S = 0.1


@dataclass(frozen=True)
class PrepareRun:
    workload: str
    argv: list[str]
    log: str  # relative to the session folder
    exit_code: int | None
    duration_s: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "argv": self.argv, "log": self.log, "exit_code": self.exit_code,
                "duration_s": round(self.duration_s, 3), "error": self.error}


class PrepareSteps:
    """The prepare runs of one session, each command once (concurrent slots wait for it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, PrepareRun] = {}

    def ensure(self, ctx: Any, setting: Setting, gpu_index: int | None) -> tuple[PrepareRun | None, bool]:
        """(the prepare run this setting relies on or None, whether it ran just now)."""
        prep, spec = prepare_setting(setting), setting.workload.prepare
        if prep is None or spec is None:
            return None, False
        argv = build_argv(prep, ctx.python)
        env = build_env(prep, None, gpu_index)
        key = _key(prep, argv, env)
        with self._lock:
            if key in self._done:
                return self._done[key], False
            run = _run(ctx, setting.workload.name, argv, prep, env, len(self._done) + 1, spec.timeout_s)
            self._done[key] = run
            return run, True


def prepare_setting(setting: Setting) -> Setting | None:
    """The setting's prepare command as a setting of its own (the prepare's hyperparameters only)."""
    spec = setting.workload.prepare
    if spec is None:
        return None
    return Setting(workload=setting.workload.model_copy(update={"argv": spec.argv}), values=setting.values,
                   passed=tuple(n for n in setting.passed if n in spec.hyperparameters))


def prepare_key(setting: Setting, python: str, gpu_index: int | None = None) -> str | None:
    """What makes two prepare runs the same (argv, working directory, the workload's environment):
    a session runs each key once. None: the workload has no prepare step."""
    prep = prepare_setting(setting)
    if prep is None:
        return None
    return _key(prep, build_argv(prep, python), build_env(prep, None, gpu_index, base={}))


def _key(prep: Setting, argv: list[str], env: dict[str, str]) -> str:
    return json.dumps([argv, str(workdir(prep)), {k: env[k] for k in sorted(prep.workload.env)}])


def _run(ctx: Any, name: str, argv: list[str], prep: Setting, env: dict[str, str], number: int,
         timeout_s: float) -> PrepareRun:
    rel = f"prepare/{number:02d}-{name.replace('/', '_')}.log"
    log = ctx.layout.dir / rel
    started = ctx.clock.monotonic()
    try:
        handle = spawn(argv, cwd=workdir(prep), env=env, log_path=log, token=f"hw-prepare-{ctx.session_id}-{number}",
                       clock=ctx.clock)
    except HyperwattError as exc:
        return PrepareRun(name, argv, rel, None, 0.0, f"could not start: {exc}")
    error = None
    while True:
        code = handle.wait(timeout=POLL_S)
        if code is not None:
            break
        if ctx.interrupt.is_set():
            handle.stop(grace_s=1.0)
            code, error = handle.returncode, "interrupted"
            break
        if ctx.clock.monotonic() - started >= timeout_s:
            handle.stop(grace_s=2.0)
            code, error = handle.returncode, f"timed out after {timeout_s:g} s; the whole process tree was killed"
            break
    if error is None and code != 0:
        error = f"{exit_status(code)}; see {rel}"
    return PrepareRun(name, argv, rel, code, ctx.clock.monotonic() - started, error)


def before_window(ctx: Any, pe: PlannedExperiment, gpu_index: int | None, record: Any) -> None:
    """Run the prepare steps the experiment needs (foreground, background) unless this session ran
    them already; record them in `record.environment["prepare"]`. After a prepare that ran now,
    wait the cooldown's minimum so the idle baseline does not read its heat."""
    runs, ran_now = [], False
    for setting in (pe.foreground, pe.background):
        if setting is None:
            continue
        run, now = ctx.prepared.ensure(ctx, setting, gpu_index)
        if run is not None:
            runs.append(run.as_dict())
            ran_now = ran_now or now
    if runs:
        record.environment["prepare"] = runs
    if ran_now and ctx.monitor is not None:
        ctx.pause(pe.timing.cooldown.min_s)
