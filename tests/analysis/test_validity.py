from hyperwatt.analysis import split_valid
from hyperwatt.records import Flag

from .factories import record


def test_only_succeeded_unflagged_experiments_count_and_reasons_are_kept() -> None:
    ok = record()
    failed = record(status="failed", gpu_j=None)
    failed.status_reason = "exit code 1"
    invalid = record(status="invalid", flags=[Flag(code="background_ineffective", severity="error",
                                                   message="103 runs of about 1 s")])
    leaked = record(flags=[Flag(code="process_leak", severity="error", message="pid 42 survived")])
    warned = record(flags=[Flag(code="sampling_gap", severity="warning", message="1.2 s gap")])
    partial = record(partial=True)
    v = split_valid([ok, failed, invalid, leaked, warned, partial])
    assert v.total == 6
    assert [r.experiment_id for r in v.valid] == [ok.experiment_id, warned.experiment_id, partial.experiment_id]
    by_id = {x.experiment_id: x for x in v.excluded}
    assert by_id[failed.experiment_id].code == "failed" and by_id[failed.experiment_id].reason == "exit code 1"
    assert by_id[invalid.experiment_id].code == "background_ineffective"
    assert "103 runs" in by_id[invalid.experiment_id].reason
    assert by_id[leaked.experiment_id].code == "process_leak"
    assert dict(v.reasons()) == {"failed": 1, "background_ineffective": 1, "process_leak": 1}
    assert [x.experiment_id for x in v.energy_excluded] == [partial.experiment_id]
    assert v.energy_excluded[0].scope == "energy"
