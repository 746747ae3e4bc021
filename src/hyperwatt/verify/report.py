"""verification.md: the session's own answer to the seed report's three questions, with figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from statistics import quantiles
from typing import Any, Sequence

from hyperwatt.errors import one_line
from hyperwatt.records import ExperimentRecord, cpu_only
from hyperwatt.store import SessionLayout, SlotRow, atomic_write_text
from hyperwatt.store.pick import final_records
from hyperwatt.verify import verdicts
from hyperwatt.verify.verdicts import NO, YES, Verdict, tally


def _t(wall: float | None) -> str:
    if wall is None:
        return "—"
    return datetime.fromtimestamp(wall, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _num(x: float | None, fmt: str = ".1f", unit: str = "") -> str:
    """The number with its unit, or a bare "—" when it is missing."""
    if x is None:
        return "—"
    return format(x, fmt) + (f" {unit}" if unit else "")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _p99(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return quantiles(values, n=100, method="inclusive")[98]


def _verdict(ok: int, total: int, not_measured: int = 0) -> str:
    if total == 0:
        return "not measured" if not_measured else "not applicable"
    return "yes" if ok == total else ("partly" if ok else "no")


def _count(verdicts: Sequence[Verdict]) -> str:
    """"yes/asked", plus how many answered nothing ("not measured") where any."""
    yes, asked, unknown = tally(verdicts)
    return f"{yes}/{asked}" + (f", {unknown} not measured" if unknown else "")


def _cell(v: Verdict) -> str:
    return {YES: "yes", NO: "NO"}.get(v, "not measured")


#: Row labels of the overall table (the wording lives here; the counting in verify/verdicts.py).
LABEL_FOREGROUND = "foreground trainings succeeded"
LABEL_BACKGROUND = "backgrounds effective (really loaded the GPU)"
#: The same row where no experiment saw a GPU: the background can only have really trained.
LABEL_BACKGROUND_NO_GPU = "backgrounds effective (really trained; no GPU on this machine)"
LABEL_STOPPED = "background stopped at once (p99 delay after the foreground's exit)"
LABEL_ENERGY = "energy measured"


@dataclass
class _Answers:
    """Every record's answer to every question, computed once, by verify/verdicts.py."""

    foreground: list[Verdict]
    background: list[Verdict]
    covered: list[Verdict]
    stopped: list[Verdict]
    energy: list[Verdict]

    @classmethod
    def of(cls, finals: Sequence[ExperimentRecord], parallel: Sequence[ExperimentRecord]) -> _Answers:
        return cls(
            foreground=[verdicts.foreground_succeeded(r) for r in finals],
            background=[verdicts.background_effective(r) for r in parallel],
            covered=[verdicts.covered(r) for r in parallel],
            stopped=[verdicts.stopped_promptly(r) for r in parallel],
            energy=[verdicts.energy_measured(r) for r in finals],
        )


def render(session: Any, slots: Sequence[SlotRow], records: Sequence[ExperimentRecord], plan: Any) -> str:
    finals, superseded = final_records(records)  # a rerun supersedes the interrupted run
    parallel = [r for r in finals if r.mode == "parallel"]
    answers = _Answers.of(finals, parallel)
    stops = [r.background.stop.delay_s for r in parallel if r.background and r.background.stop]
    leaks = sum(len(r.leaks) for r in finals)
    skipped = [s for s in slots if s.skip_reason]
    flagged = [r for r in finals if r.flags]
    lines = [
        f"# Verification report — session `{session.session_id}`",
        "",
        f"Plan `{session.name}` ({session.plan_path}, hash `{session.plan_hash}`); host {session.host}; "
        f"hyperwatt {session.version}; status **{session.status}**; "
        f"{_t(session.started_wall)}–{_t(session.ended_wall)} UTC.",
        f"{len(slots)} planned experiment(s): {len(finals)} recorded, {len(skipped)} skipped "
        "(the store already held them)"
        + (f"; {len(superseded)} interrupted run(s) superseded by a rerun: "
           + ", ".join(f"`{r.experiment_id}`" for r in superseded) if superseded else "") + ".",
        "Not measured: an experiment interrupted, or whose foreground never started, answers nothing; "
        "it is counted apart, never as a yes.",
        "",
        "## Overall",
        "",
        "| check | result |",
        "|---|---|",
        f"| {LABEL_FOREGROUND} | {_count(answers.foreground)} |",
    ]
    if parallel:
        lines += [
            f"| {LABEL_BACKGROUND_NO_GPU if cpu_only(parallel) else LABEL_BACKGROUND} | {_count(answers.background)} |",
            f"| coverage ≥ {plan.parallel.min_coverage:.0%} | {_count(answers.covered)} |",
            f"| {LABEL_STOPPED} | {_count(answers.stopped)} "
            f"({_num(_ms(_p99(stops)), '.0f', unit='ms')}) |",
        ]
    lines += [
        f"| leaked processes | {leaks} |",
        f"| {LABEL_ENERGY} | {_count(answers.energy)} |",
        f"| experiments flagged | {len(flagged)} |",
        "",
    ]
    lines += _question1(finals, parallel, answers)
    if parallel:
        lines += _question2(parallel, answers, plan)
        lines += _question3(parallel, answers, stops, leaks)
    lines += _energy([(r, v) for r, v in zip(finals, answers.energy) if v != verdicts.NOT_MEASURED])
    if parallel:
        lines += _attribution(parallel)
    lines += _flagged(flagged)
    if skipped:
        lines += ["## Skipped", ""] + [f"- slot {s.slot + 1}: {s.workload} ({s.label}) — {s.skip_reason}"
                                       for s in skipped] + [""]
    return "\n".join(lines)


def _question1(finals: Sequence[ExperimentRecord], parallel: Sequence[ExperimentRecord], answers: _Answers) -> list[str]:
    fg = tally(answers.foreground)
    bg = tally(answers.background)
    lines = [
        "## Question 1 — did the foreground (and background) run successfully?",
        "",
        f"Verdict: foreground **{_verdict(*fg)}** ({_count(answers.foreground)})"
        + (f"; background **{_verdict(*bg)}** ({_count(answers.background)})." if parallel else "."),
        "",
        "| # | experiment | status | duration | attempts | metrics | foreground succeeded | background | runs "
        "| effective |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    effective = dict(zip((r.experiment_id for r in parallel), answers.background))
    for r, fg_ok in zip(finals, answers.foreground):
        bg_rec = r.background
        # a metric's name is whatever the training wrote: one line, its pipes escaped, or the row breaks
        metrics = one_line(", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:3])).replace(
            "|", "\\|") or "—"
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {r.status} | {_num(r.duration_s, unit='s')} | {len(r.attempts)} | "
            f"{metrics} | {_cell(fg_ok)} | {bg_rec.workload if bg_rec else '—'} | {len(bg_rec.runs) if bg_rec else '—'} | "
            f"{_cell(effective[r.experiment_id]) if r.experiment_id in effective else '—'} |"
        )
    for r, v in zip(parallel, answers.background):
        bg_rec = r.background
        if bg_rec and v == NO:
            runs = bg_rec.runs
            short = [x for x in runs if not x.effective]
            why = bg_rec.ineffective_reason or (bg_rec.readiness.reason if bg_rec.readiness and not bg_rec.readiness.ready
                                                else "never really trained" if cpu_only([r]) else "never loaded the GPU")
            lines += ["", f"`{r.experiment_id}`: {len(runs)} background run(s), {len(short)} too short; {why}."]
    return lines + [""]


def _question2(parallel: Sequence[ExperimentRecord], answers: _Answers, plan: Any) -> list[str]:
    lines = [
        "## Question 2 — did the background cover the foreground's whole training?",
        "",
        f"Verdict: **{_verdict(*tally(answers.covered))}** ({_count(answers.covered)} at ≥ "
        f"{plan.parallel.min_coverage:.0%}). Coverage counts only effective runs, start-up and restart gaps excluded.",
        "",
        "| # | experiment | foreground window (UTC) | readiness | coverage | covered | background GPU-util share "
        "| mean GPU util |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r, v in zip(parallel, answers.covered):
        bg = r.background
        rd = bg.readiness if bg else None
        ready = f"{'ready' if rd.ready else 'NOT ready'} after {rd.waited_s:.1f} s" if rd else "—"
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {_t(r.energy.window_start_wall)}–{_t(r.energy.window_end_wall)} | "
            f"{ready} | {_pct(bg.coverage if bg else None)} | {_cell(v)} | {_pct(bg.gpu_util_share if bg else None)} | "
            f"{_num(bg.mean_gpu_util_pct if bg else None, unit='%')} |"
        )
    return lines + [""]


def _question3(parallel: Sequence[ExperimentRecord], answers: _Answers, stops: Sequence[float],
               leaks: int) -> list[str]:
    yes, asked, unknown = tally(answers.stopped)
    lines = [
        "## Question 3 — did the background stop right after the foreground?",
        "",
        f"Verdict: **{_verdict(yes, asked, unknown) if not leaks else 'no'}** ({_count(answers.stopped)}); "
        f"the background was gone {_num(_ms(_p99(stops)), '.0f', unit='ms')} (p99) after the "
        f"foreground's exit, at most {_num(max(stops) * 1000 if stops else None, '.0f', unit='ms')}; "
        f"{leaks} leaked process(es).",
        "",
        "Delay: from the foreground's exit until the background's last process was gone (without a "
        "foreground: from the stop request). Stop: from the stop request until then.",
        "",
        "| # | experiment | foreground end | background gone | delay | stop | SIGKILL needed | survivors "
        "| stopped at once |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r, v in zip(parallel, answers.stopped):
        stop = r.background.stop if r.background else None
        end = r.energy.window_end_wall
        gone = end + stop.after_foreground_s if stop and end and stop.after_foreground_s is not None else None
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {_t(end)} | {_t(gone)} | "
            f"{_num(stop.delay_s * 1000 if stop else None, '.0f', unit='ms')} | "
            f"{_num(stop.latency_s * 1000 if stop else None, '.0f', unit='ms')} | "
            f"{('yes' if stop.escalated else 'no') if stop else '—'} | {len(stop.survivors) if stop else '—'} | "
            f"{_cell(v)} |"
        )
    return lines + [""]


def _energy(rows: Sequence[tuple[ExperimentRecord, Verdict]]) -> list[str]:
    lines = [
        "## Energy and sensor health",
        "",
        "| # | experiment | GPU energy | net of idle | CPU energy (method) | samples / rate | max gap | partial "
        "| measured |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r, v in rows:
        e = r.energy
        gpu = next((s for s in e.sensors if s.domain == "gpu"), None)
        gpu_txt = (f"{e.gpu_energy_j:.1f} ± {e.gpu_uncertainty_j or 0:.1f} J" if e.gpu_energy_j is not None
                   else f"— ({gpu.reason if gpu and gpu.reason else 'no GPU sensor'})")
        cpu_txt = f"{e.cpu_energy_j:.1f} J ({e.cpu_method})" if e.cpu_energy_j is not None else "—"
        rate = f"{gpu.sample_count} / {_num(gpu.achieved_rate_hz, unit='Hz')}" if gpu else "—"
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {gpu_txt} | {_num(e.gpu_net_energy_j, unit='J')} | {cpu_txt} | "
            f"{rate} | {_num(gpu.max_gap_s if gpu else None, '.2f', unit='s')} | {'yes' if e.partial else 'no'} | {_cell(v)} |"
        )
    return lines + [""]


def _pm(value: float | None, bound: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} ± {bound:.1f} {unit}" if bound is not None else f"{value:.1f} {unit} (no bound)"


def _attribution(parallel: Sequence[ExperimentRecord]) -> list[str]:
    lines = [
        "## Attribution (parallel)",
        "",
        "The whole device's energy over the foreground's window is the measured figure; the rules that split "
        "it (docs/measurement.md, \"Attribution\") stand beside it. A marginal whose interval includes 0 is "
        "not distinguishable from 0; one outside [0, device] is flagged `marginal_out_of_range`. The marginal's "
        "bound includes the background's alone power's spread and the allowance (`parallel.interference_pct`, "
        "shown beside it) for sharing the GPU changing what the background draws.",
        "",
        "| # | experiment | device (whole GPU) | background alone | foreground marginal | marginal | "
        "utilisation-share split |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in parallel:
        a = r.energy.attribution
        if a is None:
            continue
        alone = (f"{_pm(a.background_alone_power_w, a.background_alone_uncertainty_w, 'W')}"
                 + (f", spread ± {a.background_alone_spread_w:.1f} W" if a.background_alone_spread_w is not None else "")
                 + (f", interference ± {a.background_interference_pct:g} %"
                    if a.background_interference_pct is not None else "")
                 if a.background_alone_power_w is not None else "—")
        verdict = a.foreground_marginal_verdict or (a.marginal_reason or "—")
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {_pm(a.device_energy_j, a.device_uncertainty_j, 'J')} | {alone} | "
            f"{_pm(a.foreground_marginal_energy_j, a.foreground_marginal_uncertainty_j, 'J')} | {verdict} | "
            f"{_num(a.foreground_util_share_energy_j, unit='J')}"
            + (f" ({a.foreground_util_share:.0%})" if a.foreground_util_share is not None else "") + " |"
        )
    return lines + [""]


def _flagged(records: Sequence[ExperimentRecord]) -> list[str]:
    if not records:
        return ["## Flagged experiments", "", "None.", ""]
    lines = ["## Flagged experiments", ""]
    for r in records:
        lines.append(f"### `{r.experiment_id}` — {r.status}")
        for f in r.flags:
            lines.append(f"- **{f.severity}** `{f.code}`: {f.message}" + (f" — fix: {f.fix}" if f.fix else ""))
        lines.append("")
    return lines


def write_verification(layout: SessionLayout, session: Any, slots: Sequence[SlotRow],
                       records: Sequence[ExperimentRecord], plan: Any) -> None:
    atomic_write_text(layout.verification, render(session, slots, records, plan) + "\n")
