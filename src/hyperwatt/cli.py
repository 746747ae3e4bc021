"""The `hyperwatt` command. Parses arguments, calls the library, prints; holds no logic of its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from hyperwatt import __version__
from hyperwatt.errors import ConfigError, HyperwattError

if TYPE_CHECKING:  # imported where used: `hyperwatt --help` stays quick
    from hyperwatt.config import LoadedPlan, Registry
    from hyperwatt.engine import SessionOptions, SessionResult
    from hyperwatt.progress import ConsoleEvents
    from hyperwatt.store import Store

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Measure how hyperparameters change the energy and results of deep-learning training.",
)
console = Console()

#: `hyperwatt plan` lists this many experiments (a 100,000-row table took minutes to draw).
PLAN_TABLE_ROWS = 1000

ResultsDir = typer.Option(Path("results"), "--results-dir", "-o", help="Where the store and session folders live.")
WorkloadsOpt = typer.Option(None, "--workloads", "-W", help="Extra workloads file (TOML, or the seed's models_config.json). Repeatable.")


def _registry(workloads: list[Path] | None) -> Registry:
    from hyperwatt.config import load_registry

    return load_registry(workloads or [])


def _load(plan: Path, workloads: list[Path] | None) -> LoadedPlan:
    from hyperwatt.config import load_plan

    return load_plan(plan, _registry(workloads))


def _history(results_dir: Path) -> Callable[[str], Sequence[float]]:
    from hyperwatt.store import DB_NAME, open_store

    if not (results_dir / DB_NAME).exists():
        return lambda workload: []
    store = open_store(results_dir, readonly=True)
    return store.durations_s


@app.command("list")
def list_workloads(workloads: list[Path] | None = WorkloadsOpt) -> None:
    """Workloads with their hyperparameters, defaults and ranges."""
    registry = _registry(workloads)
    table = Table(title="workloads", show_lines=True)
    for col in ("workload", "hyperparameters (default [range] distribution)", "metrics", "source"):
        table.add_column(col, overflow="fold")
    for w in registry.all():
        params = []
        for name, p in w.hyperparameters.items():
            span = (f" [{p.range[0]:g}, {p.range[1]:g}]" if p.range else
                    f" {{{', '.join(map(str, p.values))}}}" if p.values else "")
            dist = f" {p.distribution}" if p.mutable and p.type != "bool" else ""
            params.append(f"{name}={p.default if p.default is not None else '—'}{span}{dist}")
        metrics = ", ".join(w.metrics.required or list(w.metrics.patterns)) or "—"
        table.add_row(w.name, "\n".join(params), metrics, w.source)
    console.print(table)


@app.command("plan")
def dry_run(
    plan: Path = typer.Argument(..., help="Plan file (TOML, or the seed's settings JSON)."),
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
    rerun: bool = typer.Option(False, "--rerun", help="Count nothing as done."),
) -> None:
    """Dry run: the expanded experiments, which the store already holds, and an ETA."""
    from hyperwatt.engine.command import build_argv, hyperparameter_env
    from hyperwatt.engine.eta import estimate_s
    from hyperwatt.engine.search_trials import search_entries
    from hyperwatt.mutation import expand, occurrence_indices
    from hyperwatt.progress import fmt_duration
    from hyperwatt.store import DB_NAME, open_store

    loaded = _load(plan, workloads)
    expansion = expand(loaded)
    nth = occurrence_indices(expansion.experiments)
    history = _history(results_dir)
    counts: dict[str, int] = {}
    if not rerun and (results_dir / DB_NAME).exists():
        counts = open_store(results_dir, readonly=True).succeeded_counts(pe.key_hash for pe in expansion.experiments)
    table = Table(title=f"plan {loaded.plan.name} (hash {loaded.plan_hash})")
    for col in ("#", "workload", "mode", "setting", "repeat", "argv", "est.", "state"):
        table.add_column(col, overflow="fold")
    total = 0.0
    unknown = 0
    runs = 0
    for pe, n in zip(expansion.experiments, nth):
        skip = counts.get(pe.key_hash, 0) > n
        est = None if skip else estimate_s(pe, history)
        if not skip:
            runs += 1
            total += est or 0.0
            unknown += est is None
        if pe.slot >= PLAN_TABLE_ROWS:
            continue
        mode = pe.mode + (f" + {pe.background.workload.name}" if pe.background else "")
        passed = [f"{k}={v}" for k, v in hyperparameter_env(pe.foreground).items()]  # env, then argv
        passed += build_argv(pe.foreground)[len(pe.workload.argv):]  # the hyperparameters part
        table.add_row(str(pe.slot + 1), pe.workload.name, mode, pe.label, str(pe.repeat_index + 1),
                      " ".join(passed),
                      fmt_duration(est), "skip (in store)" if skip else "run")
    console.print(table)
    if len(expansion.experiments) > PLAN_TABLE_ROWS:
        console.print(f"... {len(expansion.experiments) - PLAN_TABLE_ROWS} more experiment(s) not shown "
                      "(counted below)")
    for w in expansion.warnings:
        console.print(f"note: {w}", style="yellow")
    for entry in search_entries(loaded):
        s = entry.spec.search
        assert s is not None
        console.print(f"search experiments[{entry.index}]: up to {s.trials} trial(s) of {entry.spec.workload} over "
                      f"{', '.join(s.parameters)} for {', '.join(s.objectives)} (sampler {s.sampler or 'tpe'}, "
                      f"study {entry.study_name} in {results_dir / 'search.db'}), after the experiments above")
    eta = fmt_duration(total) + (f" + {unknown} without an estimate" if unknown else "")
    console.print(f"{len(expansion.experiments)} experiments, {runs} to run, "
                  f"{len(expansion.experiments) - runs} skipped; ETA {eta}")


@app.command("run")
def run(
    plan: Path = typer.Argument(..., help="Plan file (TOML, or the seed's settings JSON)."),
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
    rerun: bool = typer.Option(False, "--rerun", help="Run settings the store already holds."),
    resume_: bool = typer.Option(False, "--resume", help="Finish the latest unfinished session of this plan."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any experiment is invalid, too (failed ones always exit 1)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Stream training logs to the console."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Plain, minimal output."),
) -> None:
    """Run a plan."""
    from hyperwatt.engine import find_resumable, resume, run_plan

    loaded = _load(plan, workloads)
    options = _options(results_dir, rerun, verbose)
    with _events(results_dir, quiet) as events:
        sid = find_resumable(results_dir, loaded) if resume_ and (results_dir / "hyperwatt.db").exists() else None
        result = resume(sid, options, events) if sid else run_plan(loaded, options, events)
    _finish(result, strict)


@app.command("resume")
def resume_cmd(
    session: str = typer.Argument(..., help="Session id (see `hyperwatt status`)."),
    results_dir: Path = ResultsDir,
    strict: bool = typer.Option(False, "--strict"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Finish an interrupted session: nothing finished runs twice, nothing is skipped."""
    from hyperwatt.engine import resume

    with _events(results_dir, quiet) as events:
        result = resume(session, _options(results_dir, False, verbose), events)
    _finish(result, strict)


@app.command("mutate")
def mutate(
    workload: str | None = typer.Option(None, "--workload", "-w", help="repo/model"),
    params: str = typer.Option(..., "--params", "-p", "--mt", "-mt",
                               help="Comma-separated hyperparameters to mutate ('all' for every one)."),
    repo: str | None = typer.Option(None, "--repo", "-r", help="With --model: the seed's way to name a workload."),
    model: str | None = typer.Option(None, "--model", "-m"),
    mutations: int = typer.Option(1, "--mutations", "-n", min=1),
    strategy: str = typer.Option("joint", "--strategy", help="joint | one_at_a_time"),
    fixed: list[str] | None = typer.Option(None, "--set", "-s", help="Fix a hyperparameter: NAME=VALUE. Repeatable."),
    background: str | None = typer.Option(None, "--background", "-b", help="Run in parallel mode with this background workload."),
    repeats: int = typer.Option(1, "--repeats", min=1),
    include_default: bool = typer.Option(False, "--include-default"),
    seed: int = typer.Option(0, "--seed"),
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
    rerun: bool = typer.Option(False, "--rerun"),
    strict: bool = typer.Option(False, "--strict"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """One-liner: mutate hyperparameters of one workload (like the seed's -r -m -mt -n)."""
    from hyperwatt.config.oneliner import oneliner_plan
    from hyperwatt.engine import run_plan

    if workload is None:
        if not (repo and model):
            raise ConfigError("<command line>", "--workload", "name a workload: -w repo/model (or -r repo -m model)")
        workload = f"{repo}/{model}"
    loaded = oneliner_plan(_registry(workloads), workload, params, mutations, strategy, fixed or [],
                           background, repeats, include_default, seed)
    with _events(results_dir, quiet) as events:
        result = run_plan(loaded, _options(results_dir, rerun, verbose), events)
    _finish(result, strict)


@app.command("status")
def status(
    session: str | None = typer.Argument(None, help="A session id; all sessions when omitted."),
    results_dir: Path = ResultsDir,
) -> None:
    """Sessions, or one session's experiments."""
    from hyperwatt.progress import describe

    store = _existing_store(results_dir)
    if session is None:
        table = Table(title=f"sessions in {results_dir}", caption="ok: succeeded; bad: invalid or failed")
        table.add_column("session", no_wrap=True, min_width=20)  # the id users copy: never cut
        table.add_column("plan", overflow="fold")
        for col in ("status", "planned", "recorded", "ok", "bad"):
            table.add_column(col, no_wrap=True)
        for s in store.sessions():
            recs = store.experiments(s.session_id)
            table.add_row(s.session_id, s.name, s.status, str(s.planned), str(len(recs)),
                          str(sum(r.status == "succeeded" for r in recs)),
                          str(sum(r.status in ("invalid", "failed") for r in recs)))
        console.print(table)
        return
    row = store.session(session)
    if row is None:
        raise ConfigError(results_dir / "hyperwatt.db", "session", f"no session {session!r}")
    console.print(f"session {row.session_id}: plan {row.name}, {row.status}, {row.planned} planned")
    for r in store.experiments(session):
        console.print(f"  [{r.slot + 1}] {r.experiment_id}: {describe(r)}", highlight=False, markup=False)


@app.command("export")
def export_cmd(
    fmt: str = typer.Option("csv", "--format", "-f", help="csv | parquet | json"),
    out: Path | None = typer.Option(None, "--out", help="Output file (default: results/export.<format>)."),
    session: str | None = typer.Option(None, "--session", help="Only this session."),
    results_dir: Path = ResultsDir,
) -> None:
    """Export experiments (all sessions by default)."""
    from hyperwatt.store import export

    if fmt not in ("csv", "parquet", "json"):
        raise ConfigError(None, "--format", f"unknown format {fmt!r}; use csv, parquet or json")
    store = _existing_store(results_dir)
    if session is not None and store.session(session) is None:  # it wrote an empty export
        known = ", ".join(s.session_id for s in store.sessions()[-5:]) or "none"
        raise ConfigError(results_dir / "hyperwatt.db", "--session", f"no session {session!r}; recent: {known}")
    records = store.experiments(session)
    path = export(records, fmt, out or results_dir / f"export.{fmt}")  # type: ignore[arg-type]
    console.print(f"{len(records)} experiments -> {path}")


@app.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(..., help="The seed's raw_data.csv / summary_all.csv / results/summary_*.csv, "
                                       "or its results/ or run_*/ folders."),
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
) -> None:
    """Import the seed system's measurements as imported sessions (idempotent; the sources are only read)."""
    from hyperwatt.importing import import_paths

    report = import_paths(paths, results_dir, _registry(workloads))
    for line in report.lines():
        console.print(line, markup=False, highlight=False)
    console.print(f"{report.imported} experiment(s) imported into {results_dir}")


@app.command("verify")
def verify_cmd(
    session: str = typer.Argument(...),
    results_dir: Path = ResultsDir,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any experiment is invalid or failed."),
) -> None:
    """Re-check a session's experiments with today's rules; rewrite and print its verification report."""
    from hyperwatt.engine.session import reverify

    layout, records, changed = reverify(results_dir, session)
    console.print(layout.verification.read_text(), markup=False, highlight=False)
    console.print(f"{changed} record(s) changed by the re-check; written to {layout.verification}")
    if strict and any(r.status in ("invalid", "failed") for r in records):
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    session: str | None = typer.Argument(None, help="A session id; the latest when omitted."),
    all_sessions: bool = typer.Option(False, "--all", help="Every session in the results directory."),
    out: Path | None = typer.Option(None, "--out", help="HTML file to write (default: <session>/report.html)."),
    results_dir: Path = ResultsDir,
) -> None:
    """Statistics, hyperparameter effects, energy/performance Pareto fronts and plots as one HTML file."""
    from hyperwatt.analysis.command import report_command

    report_command(session, results_dir, out, all_sessions,
                   echo=lambda text: console.print(text, markup=False, highlight=False))


@app.command("doctor")
def doctor(results_dir: Path = ResultsDir) -> None:
    """What this machine offers: Python, torch, GPUs, energy sensors, a writable results directory."""
    from hyperwatt.doctor import checks

    table = Table(title=f"hyperwatt {__version__} doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col, overflow="fold")
    for name, ok, detail in checks(results_dir):
        table.add_row(name, "[green]ok" if ok else "[yellow]missing", detail)
    console.print(table)


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        console.print(f"hyperwatt {__version__}")
        raise typer.Exit()


def _options(results_dir: Path, rerun: bool, verbose: bool) -> SessionOptions:
    from hyperwatt.engine import SessionOptions

    echo = (lambda line: console.print(f"  | {line}", markup=False, highlight=False, style="dim")) if verbose else None
    return SessionOptions(results_dir=results_dir, rerun=rerun, echo=echo)


def _events(results_dir: Path, quiet: bool) -> ConsoleEvents:
    from hyperwatt.progress import ConsoleEvents

    return ConsoleEvents(console, _history(results_dir), quiet=quiet)


def _existing_store(results_dir: Path) -> Store:
    from hyperwatt.store import DB_NAME, open_store

    if not (results_dir / DB_NAME).exists():
        raise ConfigError(results_dir / DB_NAME, None, "no results store here; run a plan first or pass --results-dir")
    return open_store(results_dir, readonly=True)


def _finish(result: SessionResult, strict: bool) -> None:
    """Exit 0 when every experiment succeeded (and, with --strict, is valid); 1 when one failed,
    never ran (or, with --strict, is invalid); 130/143 when interrupted."""
    report = _session_report(result)
    console.print(f"results: {result.layout.dir}  (summary.csv, verification.md{', report.html' if report else ''})")
    bad = result.invalid
    if bad:
        console.print(f"{len(bad)} experiment(s) invalid or failed; see {result.layout.verification}", style="red")
    if result.signum:
        console.print(f"interrupted; resume with: hyperwatt resume {result.session_id}", style="yellow")
    elif result.never_ran:
        console.print(f"{result.never_ran} experiment(s) did not run; finish them with: "
                      f"hyperwatt resume {result.session_id}", style="yellow")
    code = result.exit_status(strict)
    if code:
        raise typer.Exit(code)


def _session_report(result: SessionResult) -> Path | None:
    """The HTML report of a finished session; a failure here never fails the run."""
    if not result.records:
        return None
    try:
        from hyperwatt.analysis.command import report_command

        return report_command(result.session_id, result.layout.results_dir, None, False)
    except Exception as exc:
        console.print(f"note: report.html not written ({exc!r}); try `hyperwatt report {result.session_id}`",
                      style="yellow")
        return None


def main() -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except HyperwattError as err:
        print(f"hyperwatt: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("hyperwatt: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # usage errors (typer's click, vendored or not: matched by shape)
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        if os.environ.get("HYPERWATT_DEBUG"):
            raise
        print(f"hyperwatt: internal error: {exc!r} (set HYPERWATT_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
