"""One function per question asked of an experiment. verification.md, the HTML report, `status`
and summary.csv all count with these, so no two places can answer a question differently.

Each answer is "yes", "no" or "not measured": an experiment interrupted (or still running), or
one whose foreground never started, answered nothing and is counted apart, never as a yes.
Where the answer depends on the plan's thresholds (utilisation, coverage), it is the record's own
flags that say no: verify/checks.py sets them with the session's policy when the record is
written (and `hyperwatt verify` sets them again), so a record answers the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from hyperwatt.records import ExperimentRecord

Verdict = Literal["yes", "no", "not measured"]
YES: Verdict = "yes"
NO: Verdict = "no"
NOT_MEASURED: Verdict = "not measured"

#: A background outliving its foreground by more than this invalidates the experiment.
STOP_ERROR_S = 1.0
#: Statuses of an experiment that did not reach its end: nothing it would answer was measured.
UNFINISHED = ("interrupted", "running", "pending", "skipped")
#: The checks' error flags that answer "did the background really load the GPU?" with no.
BACKGROUND_FLAGS = ("background_missing", "background_ineffective", "background_not_ready", "background_low_load")
#: The checks' error flag that answers "was the foreground's window covered?" with no.
COVERAGE_FLAGS = ("low_coverage",)


def _flagged(r: ExperimentRecord, codes: tuple[str, ...]) -> bool:
    return any(f.code in codes and f.severity == "error" for f in r.flags)


def window_measured(r: ExperimentRecord) -> bool:
    """The foreground ran to its end (its window closed on its exit, not on an interrupt)."""
    if r.status in UNFINISHED or not r.attempts:
        return False
    last = r.attempts[-1]
    return last.duration_s is not None and not last.interrupted


def foreground_succeeded(r: ExperimentRecord) -> Verdict:
    """Did the foreground training succeed (exit and metrics as declared)?"""
    if r.status in UNFINISHED or not r.attempts:
        return NOT_MEASURED
    return YES if any(a.succeeded for a in r.attempts) else NO


def background_effective(r: ExperimentRecord) -> Verdict:
    """Did the background really load the GPU? No when the checks (verify/checks.py, with the
    session's policy) found it ineffective, never ready, or too lightly loading the GPU. Not
    measured for an experiment imported from the seed system, which never watched its background."""
    if r.mode != "parallel" or r.status in UNFINISHED or r.background is None or r.imported is not None:
        return NOT_MEASURED
    return NO if _flagged(r, BACKGROUND_FLAGS) else YES


def covered(r: ExperimentRecord) -> Verdict:
    """Did effective background load cover at least the plan's `min_coverage` of the foreground's window?"""
    if r.mode != "parallel" or not window_measured(r) or r.background is None or r.background.coverage is None:
        return NOT_MEASURED
    return NO if _flagged(r, COVERAGE_FLAGS) else YES


def stopped_promptly(r: ExperimentRecord) -> Verdict:
    """Was the background gone within STOP_ERROR_S of the foreground's exit, nothing surviving?"""
    stop = r.background.stop if r.mode == "parallel" and r.background is not None else None
    if stop is None:
        return NOT_MEASURED
    return YES if stop.delay_s <= STOP_ERROR_S and not stop.survivors else NO


def energy_measured(r: ExperimentRecord) -> Verdict:
    """Was the foreground window's energy measured in full?"""
    if not window_measured(r):
        return NOT_MEASURED
    return YES if r.energy.available and not r.energy.partial else NO


def outcome(r: ExperimentRecord) -> Literal["valid", "invalid", "not measured"]:
    """valid: succeeded without an error flag; invalid: failed or flagged; not measured: unfinished."""
    if r.status in UNFINISHED:
        return "not measured"
    return "valid" if r.valid else "invalid"


def as_bool(v: Verdict) -> bool | None:
    """yes/no as True/False, not measured as None (an empty cell in summary.csv)."""
    return None if v == NOT_MEASURED else v == YES


def tally(verdicts: Iterable[Verdict]) -> tuple[int, int, int]:
    """(yes, asked, not measured): `asked` counts yes and no only."""
    vs = list(verdicts)
    yes, no = vs.count(YES), vs.count(NO)
    return yes, yes + no, len(vs) - yes - no
