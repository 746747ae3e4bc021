"""verification.md: the session's own answer to the seed report's three questions, with figures."""

from __future__ import annotations

from datetime import datetime, timezone
from statistics import quantiles
from typing import Any, Sequence

from hyperwatt.records import ExperimentRecord
from hyperwatt.store import SessionLayout, SlotRow, atomic_write_text


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


def _verdict(ok: int, total: int) -> str:
    if total == 0:
        return "not applicable"
    return "yes" if ok == total else ("partly" if ok else "no")


def render(session: Any, slots: Sequence[SlotRow], records: Sequence[ExperimentRecord], plan: Any) -> str:
    latest: dict[int, ExperimentRecord] = {}
    for r in records:  # an interrupted experiment that was run again is superseded by the rerun
        if r.status == "running":
            continue
        held = latest.get(r.slot)
        if held is None or (r.started_wall or 0.0) >= (held.started_wall or 0.0):
            latest[r.slot] = r
    finals = sorted(latest.values(), key=lambda r: r.slot)
    superseded = [r for r in records if r.status != "running" and latest.get(r.slot) is not r]
    parallel = [r for r in finals if r.mode == "parallel"]
    ran_fg = [r for r in finals if r.attempts]
    fg_ok = [r for r in finals if r.status in ("succeeded", "invalid") and any(a.succeeded for a in r.attempts)]
    bg_ok = [r for r in parallel if r.background and r.background.effective
             and not any(f.code == "background_low_load" for f in r.flags)]
    cov_ok = [r for r in parallel if r.background and r.background.coverage is not None
              and r.background.coverage >= plan.parallel.min_coverage]
    stops = [r.background.stop.delay_s for r in parallel if r.background and r.background.stop]
    leaks = sum(len(r.leaks) for r in finals)
    energy_ok = [r for r in ran_fg if r.energy.available]
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
        "",
        "## Overall",
        "",
        "| check | result |",
        "|---|---|",
        f"| foreground trainings succeeded | {len(fg_ok)}/{len(finals)} |",
    ]
    if parallel:
        lines += [
            f"| backgrounds effective (really loaded the GPU) | {len(bg_ok)}/{len(parallel)} |",
            f"| coverage ≥ {plan.parallel.min_coverage:.0%} | {len(cov_ok)}/{len(parallel)} |",
            f"| background stopped at once (p99 delay after the foreground's exit) | {len(stops)}/{len(parallel)} "
            f"({_num(_ms(_p99(stops)), '.0f', unit='ms')}) |",
        ]
    lines += [
        f"| leaked processes | {leaks} |",
        f"| energy measured | {len(energy_ok)}/{len(ran_fg)} |",
        f"| experiments flagged | {len(flagged)} |",
        "",
    ]
    lines += _question1(finals, parallel, fg_ok, bg_ok)
    if parallel:
        lines += _question2(parallel, cov_ok, plan)
        lines += _question3(parallel, stops, leaks)
    lines += _energy(ran_fg)
    lines += _flagged(flagged)
    if skipped:
        lines += ["## Skipped", ""] + [f"- slot {s.slot + 1}: {s.workload} ({s.label}) — {s.skip_reason}"
                                       for s in skipped] + [""]
    return "\n".join(lines)


def _question1(finals: Sequence[ExperimentRecord], parallel: Sequence[ExperimentRecord],
               fg_ok: Sequence[ExperimentRecord], bg_ok: Sequence[ExperimentRecord]) -> list[str]:
    lines = [
        "## Question 1 — did the foreground (and background) run successfully?",
        "",
        f"Verdict: foreground **{_verdict(len(fg_ok), len(finals))}** ({len(fg_ok)}/{len(finals)})"
        + (f"; background **{_verdict(len(bg_ok), len(parallel))}** ({len(bg_ok)}/{len(parallel)})."
           if parallel else "."),
        "",
        "| # | experiment | status | duration | attempts | metrics | background | runs | effective |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in finals:
        bg = r.background
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:3]) or "—"
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {r.status} | {_num(r.duration_s, unit='s')} | {len(r.attempts)} | "
            f"{metrics} | {bg.workload if bg else '—'} | {len(bg.runs) if bg else '—'} | "
            f"{('yes' if bg.effective else 'NO') if bg else '—'} |"
        )
    for r in parallel:
        bg = r.background
        if bg and not bg.effective:
            runs = bg.runs
            short = [x for x in runs if not x.effective]
            lines += ["", f"`{r.experiment_id}`: {len(runs)} background run(s), {len(short)} too short; "
                      f"{bg.ineffective_reason or 'never loaded the GPU'}."]
    return lines + [""]


def _question2(parallel: Sequence[ExperimentRecord], cov_ok: Sequence[ExperimentRecord], plan: Any) -> list[str]:
    lines = [
        "## Question 2 — did the background cover the foreground's whole training?",
        "",
        f"Verdict: **{_verdict(len(cov_ok), len(parallel))}** ({len(cov_ok)}/{len(parallel)} at ≥ "
        f"{plan.parallel.min_coverage:.0%}). Coverage counts only effective runs, start-up and restart gaps excluded.",
        "",
        "| # | experiment | foreground window (UTC) | readiness | coverage | background GPU-util share | mean GPU util |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in parallel:
        bg = r.background
        rd = bg.readiness if bg else None
        ready = f"{'ready' if rd.ready else 'NOT ready'} after {rd.waited_s:.1f} s" if rd else "—"
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {_t(r.energy.window_start_wall)}–{_t(r.energy.window_end_wall)} | "
            f"{ready} | {_pct(bg.coverage if bg else None)} | {_pct(bg.gpu_util_share if bg else None)} | "
            f"{_num(bg.mean_gpu_util_pct if bg else None, unit='%')} |"
        )
    return lines + [""]


def _question3(parallel: Sequence[ExperimentRecord], stops: Sequence[float], leaks: int) -> list[str]:
    lines = [
        "## Question 3 — did the background stop right after the foreground?",
        "",
        f"Verdict: **{'yes' if stops and len(stops) == len(parallel) and max(stops) <= 1.0 and not leaks else 'no'}**; "
        f"the background was gone {_num(_ms(_p99(stops)), '.0f', unit='ms')} (p99) after the "
        f"foreground's exit, at most {_num(max(stops) * 1000 if stops else None, '.0f', unit='ms')}; "
        f"{leaks} leaked process(es).",
        "",
        "Delay: from the foreground's exit until the background's last process was gone (without a "
        "foreground: from the stop request). Stop: from the stop request until then.",
        "",
        "| # | experiment | foreground end | background gone | delay | stop | SIGKILL needed | survivors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in parallel:
        stop = r.background.stop if r.background else None
        end = r.energy.window_end_wall
        gone = end + stop.after_foreground_s if stop and end and stop.after_foreground_s is not None else None
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {_t(end)} | {_t(gone)} | "
            f"{_num(stop.delay_s * 1000 if stop else None, '.0f', unit='ms')} | "
            f"{_num(stop.latency_s * 1000 if stop else None, '.0f', unit='ms')} | "
            f"{('yes' if stop.escalated else 'no') if stop else '—'} | {len(stop.survivors) if stop else '—'} |"
        )
    return lines + [""]


def _energy(records: Sequence[ExperimentRecord]) -> list[str]:
    lines = [
        "## Energy and sensor health",
        "",
        "| # | experiment | GPU energy | net of idle | CPU energy (method) | samples / rate | max gap | partial |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        e = r.energy
        gpu = next((s for s in e.sensors if s.domain == "gpu"), None)
        gpu_txt = (f"{e.gpu_energy_j:.1f} ± {e.gpu_uncertainty_j or 0:.1f} J" if e.gpu_energy_j is not None
                   else f"— ({gpu.reason if gpu and gpu.reason else 'no GPU sensor'})")
        cpu_txt = f"{e.cpu_energy_j:.1f} J ({e.cpu_method})" if e.cpu_energy_j is not None else "—"
        rate = f"{gpu.sample_count} / {_num(gpu.achieved_rate_hz, unit='Hz')}" if gpu else "—"
        lines.append(
            f"| {r.slot + 1} | `{r.experiment_id}` | {gpu_txt} | {_num(e.gpu_net_energy_j, unit='J')} | {cpu_txt} | "
            f"{rate} | {_num(gpu.max_gap_s if gpu else None, '.2f', unit='s')} | {'yes' if e.partial else 'no'} |"
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
