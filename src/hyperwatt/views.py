"""What `list`, `plan` and `status` show: one JSON object per command (`--json`, documented in
docs/output.md) and the table drawn from that same object, so both always say the same."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

from hyperwatt.console import Column, Output
from hyperwatt.engine.eta import Estimator, fmt_duration
from hyperwatt.store.pick import final_records
from hyperwatt.verify.verdicts import outcome
from hyperwatt.words import command, plural

#: `hyperwatt plan` draws this many experiments (a 100,000-row table took minutes); --json has all.
PLAN_TABLE_ROWS = 1000


@dataclass
class View:
    data: dict[str, Any]
    title: str
    columns: list[Column | str]
    rows: list[list[str]]
    caption: str | None = None
    notes: list[str] = field(default_factory=list)

    def show(self, out: Output, as_json: bool) -> None:
        if as_json:
            out.json(self.data)
            return
        out.table(self.title, self.columns, self.rows, self.caption)
        for note in self.notes:
            out.line(note, style="yellow" if note.startswith("note:") else None)


def workloads_view(workloads: Sequence[Any]) -> View:
    """Every workload with its launch, hyperparameters, metrics and source."""
    items, rows = [], []
    for w in workloads:
        params, shown = {}, []
        for name, p in w.hyperparameters.items():
            params[name] = {"type": p.type, "default": p.default, "range": list(p.range) if p.range else None,
                            "values": p.values, "distribution": p.distribution, "mutable": p.mutable,
                            "flag": p.flag, "env": p.env, "positional": p.positional, "description": p.description}
            span = (f" [{p.range[0]:g}, {p.range[1]:g}]" if p.range else
                    f" {{{', '.join(map(str, p.values))}}}" if p.values else "")
            dist = f" {p.distribution}" if p.mutable and p.type != "bool" else ""
            shown.append(f"{name}={p.default if p.default is not None else '—'}{span}{dist}")
        metrics = w.metrics.required or list(w.metrics.patterns)
        items.append({"name": w.name, "description": w.description, "source": w.source, "argv": list(w.argv),
                      "workdir": str(w.workdir) if w.workdir is not None else None, "hyperparameters": params,
                      "metrics": metrics, "required_metrics": list(w.metrics.required),
                      "estimated_duration_s": w.estimated_duration_s})
        rows.append([w.name, shlex.join(w.argv), "\n".join(shown), ", ".join(metrics) or "—", w.source])
    return View({"workloads": items}, "workloads",
                [Column("workload", no_wrap=True), "argv", "hyperparameters (default [range] distribution)", "metrics",
                 "source"], rows)


def plan_view(loaded: Any, expansion: Any, done: Callable[[str, int], str | None], estimator: Estimator,
              searches: Sequence[str] = ()) -> View:
    """The expanded experiments, which the history holds already (`done(key_hash, nth)`: why the
    nth occurrence of a setting is done, or None), and the ETA with its range; `searches`
    describes the plan's search entries (run after the experiments)."""
    from hyperwatt.engine.command import build_argv, hyperparameter_env
    from hyperwatt.mutation import occurrence_indices

    experiments, rows, to_run = [], [], []
    for pe, n in zip(expansion.experiments, occurrence_indices(expansion.experiments)):
        state = done(pe.key_hash, n)
        skip = state is not None
        est = estimator.predict(pe)  # a skipped row too: what the store's runs say it takes (not counted)
        if not skip:
            to_run.append(pe)
        env = hyperparameter_env(pe.foreground)
        argv = build_argv(pe.foreground)
        passed = [f"{k}={v}" for k, v in env.items()] + argv[len(pe.workload.argv):]  # env, then argv
        experiments.append({
            "index": pe.slot + 1, "workload": pe.workload.name, "mode": pe.mode,
            "background": pe.background.workload.name if pe.background else None, "setting": pe.label,
            "repeat": pe.repeat_index + 1, "hyperparameters": pe.foreground.args(), "mutated": list(pe.mutated),
            "argv": argv, "env": env, "key_hash": pe.key_hash, "state": "skip" if skip else "run", "done": state,
            "estimate_s": est.central_s if est else None, "estimate_low_s": est.low_s if est else None,
            "estimate_high_s": est.high_s if est else None,
        })
        if pe.slot < PLAN_TABLE_ROWS:
            mode = pe.mode + (f" + {pe.background.workload.name}" if pe.background else "")
            rows.append([str(pe.slot + 1), pe.workload.name, mode, pe.label, str(pe.repeat_index + 1),
                         shlex.join(passed), fmt_duration(est.central_s if est else None),
                         state or "run"])
    eta = estimator.remaining(to_run)  # with the prepare steps the experiments will run
    total, runs = len(experiments), sum(e["state"] == "run" for e in experiments)
    plan = loaded.plan
    notes = []
    if total > PLAN_TABLE_ROWS:
        notes.append(f"... {total - PLAN_TABLE_ROWS} more experiment(s) not shown (counted below; --json has all)")
    notes += [f"note: {n}" for n in loaded.notes]
    notes += [f"note: {w}" for w in expansion.warnings]
    notes += list(searches)
    notes.append(f"{plural(total, 'experiment')}, {runs} to run, {total - runs} skipped; ETA {eta.text()}")
    data = {"plan": plan.name, "plan_hash": loaded.plan_hash, "source": str(loaded.source), "total": total,
            "to_run": runs, "skipped": total - runs, "eta": eta.as_dict(), "warnings": list(expansion.warnings),
            "seed_notes": list(loaded.notes),
            "searches": list(searches),
            "experiments": experiments}
    return View(data, f"plan {plan.name} (hash {loaded.plan_hash})",
                ["#", Column("workload", no_wrap=True), "mode", "setting", "repeat", "argv", "est.", "state"],
                rows, notes=notes)


#: How a session whose runner died while it ran reads (its status still says running).
RUNNER_GONE = "running, runner gone"


def sessions_view(results_dir: Path, sessions: Sequence[Any], experiments: Callable[[str], Sequence[Any]],
                  runner_gone: Collection[str] = ()) -> View:
    """Every session of a results directory with its counts; `runner_gone`: the sessions marked
    running whose runner no longer holds the directory (it died), said with how to finish them."""
    items, rows = [], []
    for s in sessions:
        recs, superseded = final_records(experiments(s.session_id))  # a rerun counts, not the run it superseded
        outcomes = [outcome(r) for r in recs]  # the rule verification.md and summary.csv count with
        ok, bad, unmeasured = outcomes.count("valid"), outcomes.count("invalid"), outcomes.count("not measured")
        items.append({"session_id": s.session_id, "plan": s.name, "plan_hash": s.plan_hash, "status": s.status,
                      "planned": s.planned, "recorded": len(recs), "succeeded": ok, "invalid_or_failed": bad,
                      "not_measured": unmeasured, "superseded": len(superseded),
                      "started_wall": s.started_wall, "ended_wall": s.ended_wall, "host": s.host,
                      "directory": str(Path(results_dir) / s.session_id),
                      "runner_gone": s.session_id in runner_gone})
        rows.append([s.session_id, s.name, RUNNER_GONE if s.session_id in runner_gone else s.status,
                     str(s.planned), str(len(recs)), str(ok), str(bad),
                     str(unmeasured)])
    return View({"results_dir": str(results_dir), "sessions": items}, f"sessions in {results_dir}",
                [Column("session", no_wrap=True), "plan", *(Column(c, no_wrap=True) for c in
                                                            ("status", "planned", "recorded", "ok", "bad", "n/m"))],
                rows, caption="recorded: one per planned experiment (a rerun, not the interrupted run it superseded); "
                              "ok: valid; bad: invalid or failed; n/m: not measured (interrupted or still running)",
                notes=[f"{sid}: {_gone_hint(results_dir, sid)}" for sid in runner_gone])


def _gone_hint(results_dir: Path, session_id: str) -> str:
    return (f"{RUNNER_GONE}: its runner stopped without marking it (killed, crashed, or the machine restarted); "
            f"`{command('resume', session_id, results_dir=results_dir)}` finishes it")


def session_view(results_dir: Path, row: Any, records: Sequence[Any], runner_gone: bool = False) -> View:
    """One session's experiments, one line each; `runner_gone` as in `sessions_view`."""
    from hyperwatt.progress import describe, total_energy

    items, rows = [], []
    gone = {id(r) for r in final_records(records)[1]}  # interrupted runs a rerun superseded
    for r in records:
        energy, unc = total_energy(r)
        items.append({"experiment_id": r.experiment_id, "index": r.slot + 1, "workload": r.workload,
                      "mode": r.mode, "setting": r.label, "repeat": r.repeat_index + 1, "status": r.status,
                      "status_reason": r.status_reason, "valid": r.valid, "duration_s": r.duration_s,
                      "energy_j": energy, "energy_uncertainty_j": unc, "gpu_energy_j": r.energy.gpu_energy_j,
                      "cpu_energy_j": r.energy.cpu_energy_j, "metrics": r.metrics,
                      "hyperparameters": r.hyperparameter_args, "superseded": id(r) in gone,
                      "directory": str(Path(results_dir) / r.session_id / r.experiment_id)})
        rows.append([str(r.slot + 1), r.experiment_id,
                     f"{r.status}, superseded by its rerun" if id(r) in gone else describe(r)])
    session = {"session_id": row.session_id, "plan": row.name, "plan_hash": row.plan_hash, "status": row.status,
               "planned": row.planned, "started_wall": row.started_wall, "ended_wall": row.ended_wall,
               "host": row.host, "directory": str(Path(results_dir) / row.session_id), "runner_gone": runner_gone}
    return View({"results_dir": str(results_dir), "session": session, "experiments": items},
                f"session {row.session_id}: plan {row.name}, {RUNNER_GONE if runner_gone else row.status}, "
                f"{row.planned} planned",
                ["#", Column("experiment", no_wrap=True), "result"], rows,
                caption=_gone_hint(results_dir, row.session_id) if runner_gone else None)
