"""The package's shape as docs/architecture.md states it: no import cycle, hardware and process-table
access in their own subpackages, the store's records free of sensors' hardware modules, and a module
map that names every module and cites no file that does not exist."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "hyperwatt"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str) -> dict[str, set[str]]:
    """hyperwatt modules imported at run time (any depth, TYPE_CHECKING blocks excluded), and
    third-party top-level packages, of one module."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    ours: set[str] = set()
    theirs: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in MODULES else base)
        for target in targets:
            if target.split(".")[0] == "hyperwatt":
                while target not in MODULES and "." in target:
                    target = target.rpartition(".")[0]
                ours.add(target)
            else:
                theirs.add(target.split(".")[0])
    ours.discard(name)
    return {"ours": ours, "theirs": theirs}


@functools.cache
def _graph() -> dict[str, dict[str, set[str]]]:
    """Every module's imports, parsed once, when a test first asks (not at collection, in each worker)."""
    return {name: _imports(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan). A package importing its
    own submodules (re-exports) is not a cycle unless a submodule imports the package back."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in _graph()[v]["ours"]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(_graph()):
        if name not in index:
            visit(name)
    return found


def _importers(prefix: str, *, ours: bool = True) -> set[str]:
    key = "ours" if ours else "theirs"
    return {name for name, deps in _graph().items() if any(d == prefix or d.startswith(prefix + ".") for d in deps[key])}


def _outside(names: set[str], *allowed: str) -> set[str]:
    return {n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)}


def test_no_import_cycle():
    assert _cycles() == []


def test_psutil_only_in_process_and_sensors():
    users = {name for name, deps in _graph().items() if "psutil" in deps["theirs"]}
    assert _outside(users, "hyperwatt.process", "hyperwatt.sensors", "hyperwatt.doctor") == set()


def test_nvml_only_in_sensors():
    users = {name for name, deps in _graph().items() if {"pynvml", "zeus"} & deps["theirs"]}
    assert _outside(users, "hyperwatt.sensors") == set()


def test_the_store_imports_no_hardware_module():
    sensors_used = {d for name in MODULES if name.startswith("hyperwatt.store") for d in _graph()[name]["ours"]
                    if d.startswith("hyperwatt.sensors")}
    assert sensors_used <= {"hyperwatt.sensors.records"}


def test_layers_do_not_import_upwards():
    for low, high in [("hyperwatt.sensors", "hyperwatt.engine"), ("hyperwatt.process", "hyperwatt.engine"),
                      ("hyperwatt.store", "hyperwatt.engine"), ("hyperwatt.verify", "hyperwatt.engine"),
                      ("hyperwatt.config", "hyperwatt.engine"), ("hyperwatt.sensors", "hyperwatt.store")]:
        offenders = {n for n in MODULES if n.startswith(low) and any(d.startswith(high) for d in _graph()[n]["ours"])}
        assert offenders == set(), f"{low} imports {high}"


def test_workloads_import_only_the_metrics_helper():
    for name in MODULES:
        if name.startswith("hyperwatt.workloads"):
            outside = _outside(_graph()[name]["ours"], "hyperwatt.workloads", "hyperwatt.metricsfile", "hyperwatt")
            assert outside == set(), name


MAP = ARCHITECTURE.read_text()


def _named_in_map(name: str) -> bool:
    rel = name.removeprefix("hyperwatt.").replace(".", "/")
    leaf = rel.rsplit("/", 1)[-1]
    candidates = [f"`{rel}.py`", f"`{rel}/", f"`{leaf}.py`", f" {leaf}.py"]
    return any(c in MAP for c in candidates)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.count(".") == 1))
def test_every_top_level_module_and_package_is_in_the_map(name: str):
    assert _named_in_map(name), f"docs/architecture.md does not name {name}"


def test_every_file_the_map_cites_exists():
    cited = set(re.findall(r"`([a-z_/]+\.py)`", MAP))
    missing = []
    for path in cited:
        if (PACKAGE / path).exists() or (ROOT / path).exists():
            continue
        # a bare file name in a subpackage's row (e.g. `coverage.py` in the verify/ row)
        if not any(PACKAGE.rglob(Path(path).name)) and not (ROOT / "benchmarks" / path).exists():
            missing.append(path)
    assert missing == []
