"""energy/timeline.csv: contents, round trip, atomic write, clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hyperwatt.errors import ConfigError
from hyperwatt.sensors import Sample
from hyperwatt.store.timeline import COLUMNS, read_timeline_csv, write_timeline_csv

SAMPLES = [
    Sample("gpu0", 1000.123456789, 1_700_000_000.25, power_w=312.5, power_avg_w=298.0, energy_j=12.345,
           util_pct=97.0, mem_used_mib=2048.0, temp_c=51.0, sm_clock_mhz=1980.0, read_latency_s=0.0035),
    Sample("gpu0", 1000.173456789, 1_700_000_000.30, power_w=0.1 + 0.2),
    Sample("cpu", 1000.2, 1_700_000_000.35, error='RAPL: [Errno 13] Permission denied, "energy_uj"'),
]


def test_columns_and_empty_cells(tmp_path: Path):
    path = tmp_path / "exp" / "energy" / "timeline.csv"
    assert write_timeline_csv(path, SAMPLES) == 3
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS == ("sensor", "t_mono", "t_wall", "power_w", "power_avg_w", "energy_j",
                                         "util_pct", "mem_used_mib", "temp_c", "sm_clock_mhz", "read_latency_s",
                                         "error")
    assert rows[1][:6] == ["gpu0", "1000.123456789", "1700000000.25", "312.5", "298.0", "12.345"]
    assert rows[1][10] == "0.0035"  # the counter read's duration: its step's bracket can be replayed
    assert rows[2][5:] == ["", "", "", "", "", "", ""]
    assert rows[3][0] == "cpu" and rows[3][3] == "" and "Permission denied" in rows[3][-1]


def test_round_trip_is_exact(tmp_path: Path):
    path = tmp_path / "timeline.csv"
    write_timeline_csv(path, SAMPLES)
    assert read_timeline_csv(path) == SAMPLES


def test_a_timeline_written_before_the_latency_column_still_reads(tmp_path: Path):
    path = tmp_path / "old.csv"
    path.write_text("sensor,t_mono,t_wall,power_w,power_avg_w,energy_j,util_pct,mem_used_mib,temp_c,sm_clock_mhz,error\n"
                    "gpu0,1.5,1700000000.5,300.0,,12.0,,,,,\n")
    (s,) = read_timeline_csv(path)
    assert s.energy_j == 12.0 and s.read_latency_s is None


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path):
    path = tmp_path / "timeline.csv"
    write_timeline_csv(path, SAMPLES)

    def broken():
        yield SAMPLES[0]
        raise RuntimeError("sampler died")

    with pytest.raises(RuntimeError):
        write_timeline_csv(path, broken())
    assert read_timeline_csv(path) == SAMPLES  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["timeline.csv"]


def test_empty_timeline(tmp_path: Path):
    path = tmp_path / "t.csv"
    assert write_timeline_csv(path, []) == 0
    assert read_timeline_csv(path) == []


def test_malformed_files_name_the_line_and_column(tmp_path: Path):
    path = tmp_path / "t.csv"
    write_timeline_csv(path, SAMPLES)
    text = path.read_text().replace("312.5", "lots")
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_timeline_csv(path)
    assert "line 2: power_w" in str(err.value) and "lots" in str(err.value)
    path.write_text("sensor,t_mono\ngpu0,1\n")
    with pytest.raises(ConfigError, match="missing column"):
        read_timeline_csv(path)
    with pytest.raises(ConfigError, match="cannot read timeline"):
        read_timeline_csv(tmp_path / "absent.csv")
