"""`hyperwatt verify`: today's validity checks re-applied to a stored session's records, with its
summary.csv and verification.md rewritten. A verification job: it runs no training."""

from __future__ import annotations

from pathlib import Path

from hyperwatt.config import ExperimentSpec, Plan, Registry, load_plan
from hyperwatt.engine.recording import save_record
from hyperwatt.records import ExperimentRecord
from hyperwatt.store import SessionLayout, existing_store, open_store, write_summary
from hyperwatt.store.pick import pick_session
from hyperwatt.verify.report import write_verification


def reverify(results_dir: Path, session_id: str | None) -> tuple[SessionLayout, list[ExperimentRecord], int]:
    """Re-apply the validity checks to a session's records (the latest session when `session_id` is
    None), save what changed, rewrite summary.csv and verification.md. Returns the layout, the
    records and how many records changed."""
    from hyperwatt.verify import recheck

    existing_store(results_dir)
    store = open_store(results_dir)
    try:
        row = pick_session(store, session_id, results_dir)
        session_id = row.session_id
        layout = SessionLayout(results_dir, session_id)
        records = store.experiments(session_id)
        if row.status == "imported":  # no plan: the seed ran it; its records keep the import's flags
            first = records[0].workload if records else "seed/none"
            plan = Plan(name="imported", experiments=[ExperimentSpec(workload=first)])
        else:
            plan = load_plan(layout.plan, Registry.builtin()).plan
        changed = 0
        for record in records:
            if record.status != "running" and record.imported is None and recheck(record, plan.parallel):
                save_record(layout, store, record)
                changed += 1
        write_summary(layout.summary, records)
        write_verification(layout, row, store.slots(session_id), records, plan)
        return layout, records, changed
    finally:
        store.close()
