"""The `hyperwatt` command. Parses arguments, calls the library, prints; holds no logic of its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hyperwatt import __version__
from hyperwatt.console import make_output
from hyperwatt.errors import ConfigError, HyperwattError, one_line
from hyperwatt.words import DEFAULT_RESULTS_DIR, command, plural

if TYPE_CHECKING:  # imported where used: `hyperwatt --help` stays quick
    from collections.abc import Sequence

    from hyperwatt.config import LoadedPlan, Registry
    from hyperwatt.store import SessionRow
    from hyperwatt.engine import SessionOptions, SessionResult
    from hyperwatt.engine.eta import Estimator
    from hyperwatt.progress import ConsoleEvents
    from hyperwatt.store import Store

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Measure how hyperparameters change the energy and results of deep-learning training.",
)
out = make_output()
console = out.console

ResultsDir = typer.Option(DEFAULT_RESULTS_DIR, "--results-dir", "-o", metavar="DIR",
                          help="Where the store and session folders live.")
WorkloadsOpt = typer.Option(None, "--workloads", "-W", metavar="FILE",
                            help="Extra workloads file (TOML, or the seed's models_config.json); repeatable.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object for scripts (see docs/output.md).")
PlanArg = typer.Argument(..., metavar="PLAN", help="Plan file (TOML, or the seed's settings JSON).")
StrictOpt = typer.Option(False, "--strict", help="Exit 1 if any experiment is invalid, too (failed ones always exit 1).")
SeedCompatOpt = typer.Option(None, "--seed-compat", metavar="faithful|intended",
                             help="The seed's settings and models_config: as the seed ran them (faithful, the "
                             "default) or as meant (intended: mutate_params read, fixed values kept, exact floats).")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Stream training logs to the console.")
ExecutorOpt = typer.Option(None, "--executor", metavar="local|ray",
                           help="local: one slot per GPU; ray: a Ray task per experiment (default: the plan's [execution]).")
RayAddressOpt = typer.Option(None, "--ray-address", metavar="HOST:PORT",
                             help="Ray cluster (default: the plan's, else $RAY_ADDRESS, else a local Ray).")
GpusOpt = typer.Option(None, "--gpus", metavar="0,2",
                       help="GPUs to run on by NVML index, one slot each (default: the plan's sensors.gpus, else all).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Only warnings and the final summary.")


def _registry(workloads: list[Path] | None) -> Registry:
    from hyperwatt.config import load_registry

    return load_registry(workloads or [])


def _load(plan: Path, workloads: list[Path] | None, strict: bool = False,
          seed_compat: str | None = None) -> LoadedPlan:
    from hyperwatt.config import load_plan

    return load_plan(plan, _registry(workloads), strict=strict, seed_compat=seed_compat)


def _estimator(results_dir: Path) -> Estimator:
    """ETAs from the store's history of each workload (none when there is no store yet)."""
    from hyperwatt.engine.eta import Estimator, Past
    from hyperwatt.store import DB_NAME, open_store

    if not (results_dir / DB_NAME).exists():
        return Estimator(lambda workload: [])
    try:
        store = open_store(results_dir, readonly=True)
    except HyperwattError:  # a damaged or busy store, a full disk: the run's own checks say so
        return Estimator(lambda workload: [])
    return Estimator(lambda workload: [Past(*row) for row in store.durations(workload)])


@app.command("list", epilog="Example: hyperwatt list | grep resnet   (hyperwatt list --json for scripts)")
def list_workloads(workloads: list[Path] | None = WorkloadsOpt, as_json: bool = JsonOpt) -> None:
    """Workloads with their hyperparameters, defaults and ranges."""
    from hyperwatt.views import workloads_view

    workloads_view(_registry(workloads).all()).show(out, as_json)


@app.command("plan", epilog="Example: hyperwatt plan plans/quickstart.toml")
def dry_run(
    plan: Path = PlanArg,
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
    rerun: bool = typer.Option(False, "--rerun", help="Count nothing as done."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a seed settings file that needs reinterpreting."),
    seed_compat: str | None = SeedCompatOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Dry run: the expanded experiments, which the history (store, imported seed results) holds, and an ETA."""
    from hyperwatt.engine.search_trials import search_entries
    from hyperwatt.importing.history import History, plan_history
    from hyperwatt.mutation import expand
    from hyperwatt.views import plan_view

    loaded = _load(plan, workloads, strict, seed_compat)
    expansion = expand(loaded)
    done = History() if rerun else plan_history(loaded, results_dir, [pe.key_hash for pe in expansion.experiments])
    searches = []
    for entry in search_entries(loaded):
        s = entry.spec.search
        assert s is not None
        searches.append(f"search experiments[{entry.index}]: up to {s.trials} trial(s) of {entry.spec.workload} over "
                        f"{', '.join(s.parameters)} for {', '.join(s.objectives)} (sampler {s.sampler or 'tpe'}, "
                        f"study {entry.study_name} in {results_dir / 'search.db'}), after the experiments above")
    plan_view(loaded, expansion, done.state, _estimator(results_dir), searches).show(out, as_json)


@app.command("run", epilog="Example: hyperwatt run plans/quickstart.toml  (Ctrl-C is safe: hyperwatt resume)")
def run(
    plan: Path = PlanArg,
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
    rerun: bool = typer.Option(False, "--rerun", help="Run settings the store already holds."),
    resume_: bool = typer.Option(False, "--resume", help="Finish the latest unfinished session of this plan "
                                  "(as it is now: after an edit, a new session, naming the unfinished one)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any experiment is invalid, too (failed ones "
                                "always exit 1); refuse a seed settings file that needs reinterpreting."),
    seed_compat: str | None = SeedCompatOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
    executor: str | None = ExecutorOpt,
    ray_address: str | None = RayAddressOpt,
    gpus: str | None = GpusOpt,
) -> None:
    """Run a plan: every experiment measured, recorded and verified."""
    from hyperwatt.engine import find_resumable, resume, run_plan
    from hyperwatt.importing.history import import_history
    from hyperwatt.store import DB_NAME

    loaded = _load(plan, workloads, strict, seed_compat)
    for note in loaded.notes:
        out.line(f"note: {note}", style="yellow")
    history = None if rerun else import_history(loaded, results_dir)
    for line in history.lines() if history else []:
        out.line(f"history: {line}")
    options = _options(results_dir, rerun, verbose, executor, ray_address, gpus)
    with _events(results_dir, quiet) as events:
        sid = find_resumable(results_dir, loaded) if resume_ and (results_dir / DB_NAME).exists() else None
        if resume_ and sid is None:
            _say_nothing_resumed(results_dir, loaded)
        result = resume(sid, options, events) if sid else run_plan(loaded, options, events)
    _finish(result, strict, results_dir)


def _say_nothing_resumed(results_dir: Path, loaded: LoadedPlan) -> None:
    """`run --resume` that finds no unfinished session of this very plan starts a new one: said, with
    the unfinished sessions of an earlier version of the plan (edited since) and how to finish them."""
    from hyperwatt.engine import unfinished_versions
    from hyperwatt.store import DB_NAME

    others = unfinished_versions(results_dir, loaded) if (results_dir / DB_NAME).exists() else []
    line = "note: --resume: no unfinished session of this plan; starting a new session"
    if others:
        line += (f" (the plan changed since {plural(len(others), 'unfinished session')} of "
                 f"'{loaded.plan.name}': {', '.join(others)}; `{command('resume', others[-1], results_dir=results_dir)}` "
                 "finishes {'it' if len(others) == 1 else 'the latest'} as it was planned)")
    out.line(line, style="yellow")


@app.command("resume", epilog="Example: hyperwatt resume   (the latest session; or name one: hyperwatt resume SESSION)")
def resume_cmd(
    session: str | None = typer.Argument(None, metavar="[SESSION]",
                                         help="Session id (see `hyperwatt status`); the latest when omitted."),
    results_dir: Path = ResultsDir,
    strict: bool = StrictOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
    executor: str | None = ExecutorOpt,
    ray_address: str | None = RayAddressOpt,
    gpus: str | None = GpusOpt,
) -> None:
    """Finish an interrupted session: nothing finished runs twice, nothing is skipped."""
    from hyperwatt.engine import AlreadyComplete, resume

    try:
        with _events(results_dir, quiet) as events:
            result = resume(session, _options(results_dir, False, verbose, executor, ray_address, gpus), events)
    except AlreadyComplete as done:
        out.line(str(done))
        return
    _finish(result, strict, results_dir)


@app.command("mutate", epilog="Example: hyperwatt mutate -w examples/mnist -p learning_rate,batch_size -n 3 "
                              "--set epochs=2")
def mutate(
    workload: str | None = typer.Option(None, "--workload", "-w", metavar="REPO/MODEL",
                                           help="The workload to mutate, named repo/model."),
    params: str = typer.Option(..., "--params", "-p", "--mt", "-mt", metavar="NAMES",
                               help="Comma-separated hyperparameters to mutate ('all' for every one)."),
    repo: str | None = typer.Option(None, "--repo", "-r", metavar="REPO",
                                       help="With --model: the seed's way to name a workload."),
    model: str | None = typer.Option(None, "--model", "-m", metavar="MODEL",
                                        help="With --repo: the model within the repository."),
    mutations: int = typer.Option(1, "--mutations", "-n", min=1, metavar="N", help="How many mutated settings."),
    strategy: str = typer.Option("joint", "--strategy", metavar="joint|one_at_a_time",
                                 help="Mutate all named hyperparameters together, or one at a time."),
    fixed: list[str] | None = typer.Option(None, "--set", "-s", metavar="NAME=VALUE",
                                              help="Fix a hyperparameter; repeatable."),
    background: str | None = typer.Option(None, "--background", "-b", metavar="REPO/MODEL",
                                             help="Run in parallel mode with this background workload."),
    repeats: int = typer.Option(1, "--repeats", min=1, metavar="N", help="Runs of each setting."),
    include_default: bool = typer.Option(False, "--include-default", help="Also run the default setting."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Seed of the random mutations."),
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
    rerun: bool = typer.Option(False, "--rerun", help="Run settings the store already holds."),
    strict: bool = StrictOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
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
    _finish(result, strict, results_dir)


@app.command("status", epilog="Example: hyperwatt status --json | jq '.sessions[-1].session_id'")
def status(
    session: str | None = typer.Argument(None, metavar="[SESSION]", help="A session id; all sessions when omitted."),
    results_dir: Path = ResultsDir,
    as_json: bool = JsonOpt,
) -> None:
    """Sessions, or one session's experiments."""
    from hyperwatt.store.pick import pick_session
    from hyperwatt.views import session_view, sessions_view

    with _existing_store(results_dir) as store:
        if session is None:
            sessions = store.sessions()
            sessions_view(results_dir, sessions, store.experiments, _runner_gone(results_dir, sessions)).show(
                out, as_json)
            return
        row = pick_session(store, session, results_dir)
        session_view(results_dir, row, store.experiments(row.session_id),
                     row.session_id in _runner_gone(results_dir, [row])).show(out, as_json)


def _runner_gone(results_dir: Path, sessions: Sequence[SessionRow]) -> set[str]:
    """Sessions whose status says running while no runner of theirs holds the results directory:
    the runner died (kill -9, a crash, a reboot) before it could mark them interrupted."""
    from hyperwatt.store.lock import runner_holding

    running = [s for s in sessions if s.status == "running"]
    if not running:
        return set()
    holder = runner_holding(results_dir)
    return {s.session_id for s in running
            if holder is None or (holder.get("pid"), holder.get("host")) not in ((s.pid, s.host), (None, None))}


@app.command("export", epilog="Example: hyperwatt export --format mlflow --experiment lr-study")
def export_cmd(
    fmt: str = typer.Option("csv", "--format", "-f", metavar="csv|parquet|json|mlflow",
                            help="Flat file of every experiment, or one MLflow run per experiment."),
    out_path: Path | None = typer.Option(None, "--out", metavar="FILE",
                                            help="Output file (default: <results-dir>/export.<format>)."),
    session: str | None = typer.Option(None, "--session", metavar="SESSION", help="Only this session."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", metavar="URI",
                                               help="MLflow tracking URI (default: MLflow's own default)."),
    experiment: str = typer.Option("hyperwatt", "--experiment", metavar="NAME",
                                   help="MLflow experiment to log the runs into."),
    results_dir: Path = ResultsDir,
) -> None:
    """Export experiments (all sessions by default) to a file or to MLflow."""
    from hyperwatt.store import export

    if fmt not in ("csv", "parquet", "json", "mlflow"):
        raise ConfigError(None, "--format", f"unknown format {fmt!r}; use csv, parquet, json or mlflow")
    store = _existing_store(results_dir)
    if session is not None:  # an unknown one wrote an empty export
        from hyperwatt.store.pick import pick_session

        pick_session(store, session, results_dir, key="--session")
    records = store.experiments(session)
    if fmt == "mlflow":
        from hyperwatt.store.mlflow_export import export_mlflow

        done = export_mlflow(records, results_dir, tracking_uri, experiment)
        out.line(f"{done.logged} run(s) logged, {done.existing} already there -> MLflow experiment "
                 f"{experiment!r} at {done.tracking_uri}")
        return
    path = export(records, fmt, out_path or results_dir / f"export.{fmt}")  # type: ignore[arg-type]
    out.line(f"{plural(len(records), 'experiment')} -> {path}")


@app.command("import", epilog="Example: hyperwatt import ../seed/results/run_20251115_165340")
def import_cmd(
    paths: list[Path] = typer.Argument(..., metavar="FILE_OR_FOLDER...", help="The seed's raw_data.csv / summary_all.csv / results/summary_*.csv, "
                                       "or its results/ or run_*/ folders."),
    workloads: list[Path] | None = WorkloadsOpt,
    results_dir: Path = ResultsDir,
) -> None:
    """Import the seed system's measurements as imported sessions (idempotent; the sources are only read)."""
    from hyperwatt.importing import import_paths

    report = import_paths(paths, results_dir, _registry(workloads))
    for line in report.lines():
        out.line(line)
    out.line(f"{report.imported} experiment(s) imported into {results_dir}")


@app.command("verify", epilog="Example: hyperwatt verify --strict   (the latest session; or name one)")
def verify_cmd(
    session: str | None = typer.Argument(None, metavar="[SESSION]",
                                         help="Session id (see `hyperwatt status`); the latest when omitted."),
    results_dir: Path = ResultsDir,
    strict: bool = StrictOpt,
) -> None:
    """Re-check a session's experiments with today's rules; rewrite and print its verification report."""
    from hyperwatt.engine.reverify import reverify
    from hyperwatt.verify.verdicts import outcome

    layout, records, changed = reverify(results_dir, session)
    out.lines(layout.verification.read_text())
    out.line(f"{plural(changed, 'record')} changed by the re-check; wrote {layout.verification} and {layout.summary}")
    if strict and any(outcome(r) == "invalid" for r in records):
        raise typer.Exit(1)


@app.command("report", epilog="Example: hyperwatt report --all --out study.html")
def report_cmd(
    sessions: list[str] | None = typer.Argument(None, metavar="[SESSION]...", help="Session ids; the latest when omitted."),
    all_sessions: bool = typer.Option(False, "--all", help="Every session in the results directory."),
    workload: list[str] | None = typer.Option(None, "--workload", "-w", metavar="PATTERN",
                                              help="Only this workload (a shell pattern such as 'examples/*'). Repeatable."),
    out_path: Path | None = typer.Option(None, "--out", metavar="FILE",
                                         help="HTML file to write (default: <session>/report.html); findings.json goes beside it."),
    saving: float = typer.Option(0.10, "--saving", metavar="FRACTION", help="Greener: the energy saving a setting needs, as a fraction of the default's."),
    tolerance: float = typer.Option(0.01, "--tolerance", metavar="FRACTION", help="Greener: the relative loss of the primary metric allowed."),
    target: list[str] | None = typer.Option(None, "--target", metavar="METRIC=VALUE",
                                            help="Energy to target (default: the default setting's quality). Repeatable."),
    carbon_intensity: float | None = typer.Option(None, "--carbon-intensity", metavar="G_PER_KWH", help="Grid g CO2e/kWh (else $HYPERWATT_CARBON_INTENSITY, the plan's [carbon], the world average)."),
    pue: float | None = typer.Option(None, "--pue", metavar="RATIO", help="Data-centre PUE (else $HYPERWATT_PUE, the plan's [carbon], 1.0)."),
    split_methods: bool = typer.Option(False, "--split-methods", help="Analyse each energy method apart (e.g. imported 1 Hz sums vs counters)."),
    results_dir: Path = ResultsDir,
) -> None:
    """The study's findings, statistics, effects, Pareto fronts and plots: report.html and findings.json."""
    from hyperwatt.analysis.command import FindingsArgs, report_command

    args = FindingsArgs(saving, tolerance, split_methods, tuple(target or ()), carbon_intensity, pue)
    report_command(sessions or None, results_dir, out_path, all_sessions, workloads=workload or (), args=args,
                   echo=out.lines)


@app.command("compare", epilog="Example: hyperwatt compare SESSION_A 'session=SESSION_B,gpu=*H200*'")
def compare_cmd(
    a: str = typer.Argument(..., metavar="A", help="A session id, or a filter key=value[,key=value] (session, workload, mode, background, host, gpu, method, label, plan, version, torch, driver)."),
    b: str = typer.Argument(..., metavar="B", help="The other side, given the same way."),
    out_path: Path | None = typer.Option(None, "--out", metavar="FILE", help="HTML file to write (default: results/compare.html); its JSON goes beside it."),
    results_dir: Path = ResultsDir,
) -> None:
    """The same settings measured twice, side by side: energy and metric differences with 95% intervals."""
    from hyperwatt.analysis.compare_report import HEADER, compare_command

    result = compare_command(a, b, results_dir, out_path)
    out.table(f"{a} (A) vs {b} (B)", list(HEADER), result.rows)
    out.line(f"verdict: {result.comparison.verdict}")
    for note in result.comparison.notes:
        out.line(f"note: {note}")
    out.line(f"compare: {result.html}  ({result.json.name} beside it)")


@app.command("doctor", epilog="Example: hyperwatt doctor")
def doctor(results_dir: Path = ResultsDir) -> None:
    """What this machine offers: Python, torch, GPUs, energy sensors, a writable results directory."""
    from hyperwatt.doctor import checks

    found = checks(results_dir)
    out.table(f"hyperwatt {__version__} doctor", ["check", "status", "detail"],
              [[name, "ok" if ok else "missing", detail] for name, ok, detail in found],
              row_styles=["green" if ok else "yellow" for _name, ok, _detail in found])


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        out.line(f"hyperwatt {__version__}")
        raise typer.Exit()


def _options(results_dir: Path, rerun: bool, verbose: bool, executor: str | None = None,
             ray_address: str | None = None, gpus: str | None = None) -> SessionOptions:
    from hyperwatt.engine import SessionOptions

    if executor not in (None, "local", "ray"):
        raise ConfigError(None, "--executor", f"unknown executor {executor!r}; use local or ray")
    indices = None
    if gpus is not None:
        try:
            indices = [int(part) for part in gpus.split(",")]
        except ValueError:
            raise ConfigError(None, "--gpus", f"expected GPU indices like 0,2, got {gpus!r}") from None
        if not indices or min(indices) < 0 or len(set(indices)) != len(indices):
            raise ConfigError(None, "--gpus", f"expected distinct GPU indices like 0,2, got {gpus!r}")

    echo = (lambda line: out.line(f"  | {line}", style="dim")) if verbose else None
    return SessionOptions(results_dir=results_dir, rerun=rerun, echo=echo, executor=executor, ray_address=ray_address,
                          gpus=indices)


def _events(results_dir: Path, quiet: bool) -> ConsoleEvents:
    from hyperwatt.progress import ConsoleEvents

    return ConsoleEvents(out, _estimator(results_dir), quiet=quiet)


def _existing_store(results_dir: Path) -> Store:
    from hyperwatt.store import existing_store, open_store

    existing_store(results_dir)
    return open_store(results_dir, readonly=True)


def _finish(result: SessionResult, strict: bool, results_dir: Path) -> None:
    """Exit 0 when every experiment succeeded (and, with --strict, is valid); 1 when one failed,
    never ran (or, with --strict, is invalid); 130/143 when interrupted."""
    if result.layout is None:
        out.line(f"nothing to run: the store already holds all {plural(result.skipped, 'experiment')} of this plan "
                 "(--rerun runs them again)")
        return
    report = _session_report(result, results_dir)
    out.line(f"results: {result.layout.dir}  (summary.csv, verification.md{', report.html' if report else ''})")
    bad = result.invalid
    if bad:
        out.line(f"{plural(len(bad), 'experiment')} invalid or failed; see {result.layout.verification}", style="red")
    if result.signum:
        out.line(f"interrupted; resume with: {command('resume', result.session_id, results_dir=results_dir)}",
                 style="yellow")
    elif result.never_ran:
        out.line(f"{plural(result.never_ran, 'experiment')} did not run; finish them with: "
                 f"{command('resume', result.session_id, results_dir=results_dir)}", style="yellow")
    code = result.exit_status(strict)
    if code:
        raise typer.Exit(code)


def _session_report(result: SessionResult, results_dir: Path) -> Path | None:
    """The HTML report of a finished session; a failure here never fails the run."""
    if not result.records or result.layout is None:
        return None
    try:
        from hyperwatt.analysis.command import report_command

        return report_command(result.session_id, result.layout.results_dir, None, False)
    except Exception as exc:
        out.line(f"note: report.html not written ({exc!r}); try "
                 f"`{command('report', result.session_id, results_dir=results_dir)}`", style="yellow")
        return None


def _usage_line(exc: Exception) -> str | None:
    """A usage error (unknown option, missing argument, bad value) as one line naming the command and
    the option, with where to read more; None for what click shows as help (no arguments at all)."""
    message, ctx = getattr(exc, "format_message", None), getattr(exc, "ctx", None)
    if not callable(message) or type(exc).__name__ == "NoArgsIsHelpError":
        return None
    sub = ""
    if ctx is not None:
        sub = ctx.command_path[len(ctx.find_root().command_path):].strip()
    where = f"{sub}: " if sub else ""
    see = command(*(sub.split() if sub else []), "--help")
    return one_line(f"hyperwatt: error: {where}{str(message()).rstrip('.')}; see `{see}`")


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
            line = _usage_line(exc)
            if line is None:
                show()
            else:
                print(line, file=sys.stderr)
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
