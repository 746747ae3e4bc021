"""The prepare step's data cache: prepare stores a synthetic set, a run loads it (same tensors),
a damaged or missing file makes the run build the set itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperwatt.workloads import prepare
from hyperwatt.workloads.data import cache, code_tokens, digit_images, person_images
from hyperwatt.workloads.data import digits as digits_mod

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    yield
    cache.set_writing(False)


def test_prepare_stores_the_set_and_a_run_loads_it_unchanged(monkeypatch, capsys):
    built = digit_images("tiny", None, CPU)
    prepare.main(["digits", "--size", "tiny", "--device", "cpu"])
    cache.set_writing(False)
    assert "prepared digits (size tiny)" in capsys.readouterr().out
    assert len(list(cache.cache_dir().glob("digits-*.pt"))) == 1
    monkeypatch.setattr(digits_mod, "_synthetic_digits", lambda *a: pytest.fail("built instead of loaded"))
    loaded = digit_images("tiny", None, CPU)
    assert "data: digits set loaded from the prepare step's cache" in capsys.readouterr().out
    assert loaded.name == built.name and loaded.num_classes == 10
    assert loaded.mean == pytest.approx(built.mean) and isinstance(loaded.mean, tuple)
    for field in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(loaded, field), getattr(built, field))


def test_numpy_fields_and_sets_kept_on_the_cpu_round_trip():
    prepare.main(["persons", "--size", "tiny", "--device", "cpu"])
    prepare.main(["code-tokens", "--size", "tiny"])
    cache.set_writing(False)
    persons = person_images("tiny", None, CPU)
    assert isinstance(persons.query_ids, np.ndarray) and persons.query_ids.dtype == np.int64
    tokens = code_tokens("tiny")
    assert tokens.train_tokens.device == CPU and tokens.vocab_size == 512


def test_a_damaged_cache_file_is_ignored():
    prepare.main(["digits", "--size", "tiny", "--device", "cpu"])
    cache.set_writing(False)
    (path,) = cache.cache_dir().glob("digits-*.pt")
    path.write_bytes(b"not a torch file")
    assert len(digit_images("tiny", None, CPU).train_x) == 1437


def test_real_data_needs_no_preparing(tmp_path, capsys):
    prepare.main(["digits", "--data-dir", str(tmp_path)])
    assert "nothing to prepare" in capsys.readouterr().out
    assert not cache.cache_dir().exists()


def test_the_key_holds_what_the_set_depends_on():
    assert cache.cache_path("digits", train=1, test=2) != cache.cache_path("digits", train=1, test=3)
    assert cache.cache_path("digits", train=1, test=2) == cache.cache_path("digits", test=2, train=1)
