"""The /proc snapshot: parents, groups, zombies and tokens, and the psutil fallback agrees."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hyperwatt.process import proctable
from hyperwatt.process.proctable import descendants, snapshot
from proc_helpers import running, wait_for

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def family(token: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A parent (token only in its environment) with one child in its own process group."""
    code = (
        "import os, subprocess, sys, time\n"
        "kid = subprocess.Popen(sys.argv[1:], preexec_fn=lambda: os.setpgid(0, 0))\n"
        "print(kid.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code, *SLEEP],
        env={"HYPERWATT_TOKEN": token, "PATH": os.environ.get("PATH", "")},  # token comes first
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    kid = int(parent.stdout.readline())
    yield parent, kid
    parent.kill()
    parent.wait()
    os.kill(kid, 9)
    assert wait_for(lambda: not running(kid), 5)


def test_snapshot_sees_parents_groups_and_tokens(family, token):
    parent, kid = family
    table = snapshot(read_tokens=True)
    assert os.getpid() not in table
    assert table[parent.pid].ppid == os.getpid()
    assert table[kid].ppid == parent.pid
    assert table[kid].pgrp == kid != table[parent.pid].pgrp
    assert table[parent.pid].token == token == table[kid].token
    assert not table[kid].zombie
    assert {parent.pid, kid} <= descendants({**table, os.getpid(): table[parent.pid]}, os.getpid())
    assert descendants(table, parent.pid) == {kid}
    assert all(row.token is None for row in snapshot(read_tokens=False).values())


def test_psutil_fallback_agrees_with_proc(family):
    parent, kid = family
    fast = proctable._proc_snapshot(read_tokens=True)
    slow = proctable._psutil_snapshot(read_tokens=True)
    for pid in (parent.pid, kid):
        assert fast[pid] == slow[pid]


def test_zombies_are_marked():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert wait_for(lambda: snapshot(read_tokens=False)[child.pid].zombie, 5)
    child.wait()
    assert child.pid not in snapshot(read_tokens=False)


def test_descendants_of_a_chain():
    table = {
        10: proctable.ProcessRow(1, 10, False, None),
        11: proctable.ProcessRow(10, 10, False, None),
        12: proctable.ProcessRow(11, 12, False, None),
        20: proctable.ProcessRow(1, 20, False, None),
    }
    assert descendants(table, 10) == {11, 12}
    assert descendants(table, 12) == set()
    assert descendants(table, 1) == {10, 11, 12, 20}
