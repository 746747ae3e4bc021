"""The workloads' shared plumbing: flags, device choice, tallies, batching, failure handling."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

from hyperwatt.metricsfile import ENV_VAR
from hyperwatt.workloads._common import (
    Defaults, Tally, Variants, batches, choose_device, log_epoch, log_final, parse_args, run_main,
)
from hyperwatt.workloads._errors import DataError, UsageError, WorkloadError

DEFAULTS = Defaults(epochs=3, learning_rate=0.1, batch_size=8, seed=5, weight_decay=1e-4, dropout=0.2)


def test_defaults_apply_and_flags_override() -> None:
    args = parse_args("repo/model", DEFAULTS, [])
    assert (args.epochs, args.learning_rate, args.batch_size, args.seed) == (3, 0.1, 8, 5)
    assert (args.weight_decay, args.dropout, args.size, args.device, args.data_dir) == (1e-4, 0.2, "small", "auto", None)
    args = parse_args("repo/model", DEFAULTS, ["--epochs", "7", "--learning-rate", "0.5", "--dropout", "0",
                                               "--size", "tiny", "--device", "cpu"])
    assert (args.epochs, args.learning_rate, args.dropout, args.size, args.device) == (7, 0.5, 0.0, "tiny", "cpu")


def test_a_variant_flag_names_the_workload() -> None:
    args = parse_args("repo", DEFAULTS, ["--arch", "b"], Variants("--arch", ("a", "b")))
    assert (args.workload, args.variant) == ("repo/b", "b")
    with pytest.raises(UsageError, match="--arch"):
        parse_args("repo", DEFAULTS, ["--arch", "c"], Variants("--arch", ("a", "b")))


@pytest.mark.parametrize("argv, flag", [
    (["--epochs", "0"], "--epochs"), (["--learning-rate", "-1"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"), (["--batch-size", "0"], "--batch-size"),
    (["--weight-decay", "-0.1"], "--weight-decay"), (["--dropout", "1"], "--dropout"),
    (["--seed", "-3"], "--seed"), (["--size", "huge"], "--size"), (["--epochs", "two"], "--epochs"),
    (["--data-dir", "/nonexistent/dir"], "--data-dir"),
])
def test_bad_flags_are_usage_errors_naming_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        parse_args("repo/model", DEFAULTS, argv)


def test_device_choice() -> None:
    assert choose_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device("auto").type == expected
    with pytest.raises(UsageError, match="--device"):
        choose_device("tpu")
    with pytest.raises(UsageError, match="--device"):
        choose_device("cuda:99")


def test_batches_cover_every_index_once() -> None:
    gen = torch.Generator().manual_seed(0)
    parts = list(batches(10, 4, gen, torch.device("cpu")))
    assert [len(p) for p in parts] == [4, 4, 2]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))
    assert torch.cat(list(batches(5, 2, None, torch.device("cpu")))).tolist() == [0, 1, 2, 3, 4]


def test_tally_weights_batch_means_by_batch_size() -> None:
    tally = Tally(torch.device("cpu"))
    tally.add(torch.tensor(1.0), torch.tensor(3), 4)
    tally.add(torch.tensor(4.0), torch.tensor(0), 2)
    assert tally.mean_loss() == pytest.approx((4 * 1.0 + 2 * 4.0) / 6)
    assert tally.accuracy() == pytest.approx(3 / 6)


def test_epoch_and_final_records_reach_the_metrics_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    metrics = tmp_path / "m.jsonl"
    monkeypatch.setenv(ENV_VAR, str(metrics))
    log_epoch(2, 5, 0.5, 0.75, 0.01, 1.5, val_accuracy=0.7)
    log_final(["Test Accuracy: 70.00%"], test_accuracy=0.7)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("epoch 2/5 loss=0.5000 accuracy=0.7500 lr=0.01")
    assert out[1] == "Test Accuracy: 70.00%"
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert records[0]["epoch"] == 2 and records[0]["val_accuracy"] == 0.7
    assert records[1] == {"test_accuracy": 0.7}


def test_a_diverged_metric_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "m.jsonl"))
    with pytest.raises(WorkloadError, match="diverged"):
        log_final([], test_loss=float("nan"))
    assert not (tmp_path / "m.jsonl").exists()


def _raiser(exc: BaseException) -> Callable[[Sequence[str] | None], None]:
    def main(argv: Sequence[str] | None) -> None:
        raise exc
    return main


@pytest.mark.parametrize("exc, code", [
    (UsageError("--epochs: bad"), 2), (DataError("/d: no files"), 2), (WorkloadError("diverged"), 1),
    (RuntimeError("boom\nsecond line"), 1), (KeyboardInterrupt(), 130),
])
def test_failures_end_in_one_line_and_a_status(exc: BaseException, code: int,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(_raiser(exc), []) == code
    err = capsys.readouterr().err.strip().splitlines()
    if isinstance(exc, WorkloadError):
        assert len(err) == 1 and str(exc) in err[0]
    elif isinstance(exc, RuntimeError):
        assert err[-1].endswith("error: RuntimeError: boom")


def test_success_is_status_zero() -> None:
    assert run_main(lambda argv: None, []) == 0
