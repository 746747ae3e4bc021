"""The CPU governor: applied where permitted, restored afterwards, a clear reason where not."""

from __future__ import annotations

from pathlib import Path

from hyperwatt.sensors.governor import apply, governed, restore


def _tree(root: Path, cpus: int = 2, current: str = "powersave", offered: str = "performance powersave") -> Path:
    for i in range(cpus):
        d = root / f"cpu{i}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text(current)
        (d / "scaling_available_governors").write_text(offered)
    return root


def _governors(root: Path) -> list[str]:
    return [p.read_text() for p in sorted(root.glob("cpu*/cpufreq/scaling_governor"))]


def test_apply_and_restore(tmp_path):
    root = _tree(tmp_path)
    change = apply("performance", root)
    assert change.applied and _governors(root) == ["performance", "performance"]
    assert restore(change) == [] and _governors(root) == ["powersave", "powersave"]


def test_unoffered_governor_is_refused_and_nothing_changes(tmp_path):
    root = _tree(tmp_path, offered="powersave schedutil")
    change = apply("performance", root)
    assert not change.applied and "not offered" in change.reason
    assert _governors(root) == ["powersave", "powersave"]


def test_permission_denied_undoes_partial_changes(tmp_path):
    root = _tree(tmp_path)
    (root / "cpu1" / "cpufreq" / "scaling_governor").chmod(0o444)
    change = apply("performance", root)
    if change.applied:  # running as root: permissions do not bind, nothing to check
        restore(change)
        return
    assert "permission denied" in change.reason and _governors(root) == ["powersave", "powersave"]


def test_governed_restores_on_exception_and_warns_without_cpufreq(tmp_path):
    root = _tree(tmp_path / "a")
    notes: list[str] = []
    try:
        with governed("performance", notes.append, root):
            assert _governors(root) == ["performance", "performance"]
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert _governors(root) == ["powersave", "powersave"]
    with governed("performance", notes.append, tmp_path / "empty"):
        pass
    assert notes and "no cpufreq governors" in notes[0]
