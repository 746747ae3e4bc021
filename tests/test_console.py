"""Output for humans and for pipes: rich on a terminal (a real pseudo-terminal here), plain unwrapped
lines through a pipe, one JSON object with --json, and no colour under NO_COLOR."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.console import Console

from hyperwatt.config import Registry
from hyperwatt.console import Column, Output
from tests.conftest import FAST_TIMING, TOY_TRAIN, TOY_WORKLOAD

SRC = str(Path(__file__).resolve().parents[1] / "src")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|9[0-7]|38;[25])[;m]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS")}
    return {**env, "PYTHONPATH": SRC, "TERM": "xterm-256color", **extra}


def piped(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`hyperwatt ARGS | cat`, in a 40-column world."""
    return subprocess.run([sys.executable, "-m", "hyperwatt", *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(COLUMNS="40", **env), timeout=300)


def in_pty(*args: str, cwd: Path, columns: int = 120, timeout_s: float = 240, **env: str) -> tuple[int, str]:
    """Run hyperwatt on a pseudo-terminal of `columns` columns; its exit status and everything it drew."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, "-m", "hyperwatt", *args], _env(**env))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    chunks, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TOY_TRAIN)
    (tmp_path / "toy.toml").write_text(TOY_WORKLOAD)
    (tmp_path / "plan.toml").write_text(
        f'name = "toy"\nseed = 3\n{FAST_TIMING}\n[[experiments]]\nworkload = "toy/net"\ninclude_default = true\n'
        'mutate = { parameters = ["lr"], mutations = 2 }\n')
    return tmp_path


def test_list_through_a_pipe_has_every_workload_on_one_unbroken_line(project):
    proc = piped("list", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert not ANSI.search(proc.stdout) and "\r" not in proc.stdout
    lines = proc.stdout.splitlines()
    for w in Registry.builtin().all():
        (row,) = [line for line in lines if line.startswith(w.name + "\t")]
        cells = row.split("\t")
        assert cells[0] == w.name and cells[-1] == w.source
        assert shlex.split(cells[1]) == w.argv  # the launch, unbroken
        for name in w.hyperparameters:  # every hyperparameter of the workload, on that one line
            assert f"{name}=" in cells[2]
    assert "Person_reID/densenet121" in proc.stdout


def test_plan_through_a_pipe_shows_every_experiment_and_argv_unbroken(project):
    proc = piped("plan", "plan.toml", "-W", "toy.toml", cwd=project)
    data = json.loads(piped("plan", "plan.toml", "-W", "toy.toml", "--json", cwd=project).stdout)
    assert proc.returncode == 0, proc.stderr
    assert not ANSI.search(proc.stdout)
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line.split("\t")[0].isdigit()]
    assert len(rows) == data["total"] == 3
    for row, exp in zip(rows, data["experiments"]):
        assert row[1] == exp["workload"] == "toy/net"
        assert row[5] == " ".join(exp["argv"][2:])  # the hyperparameters part, on one line
        assert exp["argv"][1] == "train.py" and exp["state"] == "run"
    assert data["to_run"] == 3 and data["eta"]["unknown"] == 3  # nothing of toy/net ran, no declaration
    assert proc.stdout.splitlines()[-1] == "3 experiments, 3 to run, 0 skipped; ETA unknown"


def test_list_on_a_terminal_is_a_rich_table_and_no_color_drops_the_colours(project):
    code, shown = in_pty("list", cwd=project)
    assert code == 0, shown
    assert "┃" in shown or "│" in shown  # a drawn table
    assert "Person_reID/densenet121" in shown
    code, coloured = in_pty("doctor", cwd=project, columns=160)
    assert COLOUR.search(coloured), coloured[:500]
    code, plain = in_pty("doctor", cwd=project, columns=160, NO_COLOR="1")
    assert code == 0 and not COLOUR.search(plain), plain[:500]


def test_json_of_list_plan_and_status(project):
    listing = json.loads(piped("list", "--json", "-W", "toy.toml", cwd=project).stdout)
    toy = next(w for w in listing["workloads"] if w["name"] == "toy/net")
    assert toy["hyperparameters"]["lr"]["range"] == [0.01, 1.0] and toy["metrics"] == ["acc"]
    run = piped("run", "plan.toml", "-W", "toy.toml", cwd=project)
    assert run.returncode == 0, run.stderr
    sessions = json.loads(piped("status", "--json", cwd=project).stdout)
    (s,) = sessions["sessions"]
    assert (s["plan"], s["status"], s["planned"], s["succeeded"]) == ("toy", "completed", 3, 3)
    one = json.loads(piped("status", s["session_id"], "--json", cwd=project).stdout)
    assert one["session"]["session_id"] == s["session_id"] and len(one["experiments"]) == 3
    assert all(e["metrics"]["acc"] == pytest.approx(0.52) for e in one["experiments"])
    plan = json.loads(piped("plan", "plan.toml", "-W", "toy.toml", "--json", cwd=project).stdout)
    assert plan["skipped"] == 3 and plan["to_run"] == 0


def test_a_run_through_a_pipe_is_one_line_per_event_and_a_rerun_has_nothing_to_run(project):
    proc = piped("run", "plan.toml", "-W", "toy.toml", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert not ANSI.search(proc.stdout) and "\r" not in proc.stdout
    finished = [line for line in proc.stdout.splitlines() if re.match(r"\[\d/3\] toy/net .* (succeeded|failed)", line)]
    assert len(finished) == 3
    assert re.match(r"\[1/3\] toy/net default succeeded \d+\.\d s .*\| acc=0\.52 loss=0\.1 test_accuracy=0\.925",
                    finished[0]), finished[0]
    assert re.match(r"\[2/3\] toy/net lr=\S+ succeeded", finished[1]), finished[1]
    assert re.search(r"\| ETA \d+s( \(\d+s–\d+s\))?$", finished[0]), finished[0]  # from the first run: no longer unknown
    assert "ETA" not in finished[2]  # nothing left
    sessions = sorted(p.name for p in (project / "results").iterdir() if p.is_dir())
    again = piped("run", "plan.toml", "-W", "toy.toml", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "nothing to run" in again.stdout
    assert sorted(p.name for p in (project / "results").iterdir() if p.is_dir()) == sessions


def test_a_run_on_a_terminal_draws_a_live_progress_bar(project):
    code, shown = in_pty("run", "plan.toml", "-W", "toy.toml", cwd=project)
    assert code == 0, shown
    assert "━" in shown and "running" in shown and "so far" in shown and "ETA" in shown
    assert re.search(r"\[3/3\] toy/net lr=\S+ succeeded", ANSI.sub("", shown))


def test_output_table_is_tab_separated_off_a_terminal_and_drawn_on_one():
    buf = io.StringIO()
    out = Output(Console(file=buf, force_terminal=False))
    out.table("t", [Column("id", no_wrap=True), "cell"], [["a" * 150, "x\ny\tz"]], caption="c")
    assert buf.getvalue().splitlines() == ["t", "id\tcell", "a" * 150 + "\tx; y z", "c"]
    term = io.StringIO()
    Output(Console(file=term, force_terminal=True, width=60)).table("t", [Column("id", no_wrap=True)], [["b" * 30]])
    assert "b" * 30 in term.getvalue() and "┃" in term.getvalue()
