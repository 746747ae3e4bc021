"""RAPL from a fake powercap tree: sums, wraparound, permissions, odd layouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import open_rapl
from hyperwatt.sensors.fake import FakePowercap, FakeZone, make_powercap_tree


def _by_name(sensors):
    return {s.name: s for s in sensors}


def test_packages_and_dram_zones_are_summed(tmp_path: Path):
    clock = FakeClock(start=START)
    tree = make_powercap_tree(tmp_path, packages=2, dram=True)
    sensors, missing = open_rapl(tmp_path, clock)
    assert not missing
    cpu, dram = _by_name(sensors)["cpu"], _by_name(sensors)["dram"]
    assert cpu.info.method == "rapl" and cpu.info.domain == "cpu"
    assert cpu.info.device == "package-0 (intel-rapl:0) + package-1 (intel-rapl:1)"
    assert dram.info.domain == "dram" and "dram (intel-rapl:0:1)" in dram.info.device
    first_cpu, first_dram = cpu.read(), dram.read()
    assert first_cpu.energy_j == 0.0 and first_cpu.power_w is None
    assert first_dram.energy_j == 0.0 and first_dram.power_w is None
    tree.add_energy("intel-rapl:0", 30_000_000)
    tree.add_energy("intel-rapl:1", 20_000_000)
    tree.add_energy("intel-rapl:0:0", 99_000_000)  # core sub-zone: part of the package, not added again
    tree.add_energy("intel-rapl:0:1", 4_000_000)
    tree.add_energy("intel-rapl:1:1", 1_000_000)
    clock.advance(0.5)
    s = cpu.read()
    assert s.energy_j == pytest.approx(50.0)
    assert s.power_w == pytest.approx(100.0)
    assert dram.read().energy_j == pytest.approx(5.0)


def test_wraparound_uses_max_energy_range(tmp_path: Path):
    clock = FakeClock(start=START)
    tree = FakePowercap(tmp_path, [FakeZone("package-0", energy_uj=990_000, max_energy_range_uj=1_000_000)])
    sensors, _ = open_rapl(tmp_path, clock)
    cpu = _by_name(sensors)["cpu"]
    cpu.read()
    tree.add_energy("intel-rapl:0", 25_000)  # 990000 -> 15000
    clock.advance(0.1)
    assert (tmp_path / "intel-rapl:0" / "energy_uj").read_text().strip() == "15000"
    assert cpu.read().energy_j == pytest.approx(0.025)
    for _ in range(3):
        tree.add_energy("intel-rapl:0", 600_000)
        clock.advance(0.1)
        cpu.read()
    assert cpu.read().energy_j == pytest.approx(1.825)


def test_permission_denied_gives_a_hint(tmp_path: Path):
    tree = make_powercap_tree(tmp_path, packages=1, readable=False)
    sensors, missing = open_rapl(tmp_path, FakeClock(), read_text=tree.read_text)
    assert sensors == []
    reason = {u.name: u.reason for u in missing}["cpu"]
    assert "permission denied" in reason and "energy_uj" in reason
    assert "chmod" in reason and "root" in reason


def test_no_tree_and_no_dram_zone_are_unavailable_with_reasons(tmp_path: Path):
    sensors, missing = open_rapl(tmp_path / "absent", FakeClock())
    assert sensors == [] and {u.name for u in missing} == {"cpu", "dram"}
    assert all("no powercap tree" in u.reason for u in missing)
    make_powercap_tree(tmp_path / "t", packages=1, dram=False)
    sensors, missing = open_rapl(tmp_path / "t", FakeClock())
    assert [s.name for s in sensors] == ["cpu"]
    assert missing[0].name == "dram" and "dram" in missing[0].reason


def test_amd_naming_and_mmio_duplicates(tmp_path: Path):
    FakePowercap(tmp_path, [FakeZone("package-0", 1_000), FakeZone("package-1", 2_000)], prefix="amd-rapl")
    FakePowercap(tmp_path, [FakeZone("package-0", 5_000)], prefix="intel-rapl-mmio")  # must not count twice
    FakePowercap(tmp_path, [FakeZone("psys", 9_000)], prefix="intel-rapl")  # platform zone: not a package
    sensors, _ = open_rapl(tmp_path, FakeClock())
    cpu = _by_name(sensors)["cpu"]
    assert cpu.info.device == "package-0 (amd-rapl:0) + package-1 (amd-rapl:1)"


def test_read_failure_is_an_error_sample(tmp_path: Path):
    make_powercap_tree(tmp_path, packages=1)
    sensors, _ = open_rapl(tmp_path, FakeClock())
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("garbage\n")
    s = _by_name(sensors)["cpu"].read()
    assert s.error is not None and s.error.startswith("RAPL:") and s.energy_j is None
