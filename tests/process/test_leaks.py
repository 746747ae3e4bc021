"""leak_scan and find_tagged: find exactly the processes carrying the scanned tokens."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hyperwatt.process import Leak, kill_tagged, leak_scan, new_token, spawn
from hyperwatt.process.tree import check_token
from proc_helpers import base_env, wait_for

LEAKER = """
import subprocess, sys
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "leaked-sleeper"],
                       start_new_session=True, stdout=subprocess.DEVNULL)
print(kid.pid)
"""


def test_leak_scan_finds_a_deliberately_leaked_process_and_not_others(script, tmp_path, token):
    bystander_token = new_token("bystander")
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env=base_env() | {"HYPERWATT_TOKEN": bystander_token},
    )
    untagged = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        argv = script("leaker", LEAKER)  # started without a guard (spawn's would kill what it leaves)
        with (tmp_path / "log").open("w") as log:
            assert subprocess.run(argv, env=base_env() | {"HYPERWATT_TOKEN": token}, stdout=log).returncode == 0
        leaked = int((tmp_path / "log").read_text())

        leaks = leak_scan([token, new_token("unrelated")])
        assert [leak.pid for leak in leaks] == [leaked]
        (leak,) = leaks
        assert leak == Leak(pid=leaked, cmdline=leak.cmdline, token=token)
        assert "leaked-sleeper" in leak.cmdline
        assert [x.pid for x in leak_scan([bystander_token])] == [bystander.pid]
        assert leak_scan([]) == []

        assert kill_tagged(token, grace_s=1.0).survivors == []
        assert leak_scan([token]) == []
        assert untagged.poll() is None and bystander.poll() is None
    finally:
        for proc in (bystander, untagged):
            proc.kill()
            proc.wait()


def test_what_a_spawned_training_leaves_is_killed_by_its_guard_and_named(script, tmp_path, token):
    handle = spawn(script("leaker", LEAKER), cwd=tmp_path, env=base_env(), log_path=tmp_path / "log", token=token)
    assert handle.wait(10) == 0
    leaked = int((tmp_path / "log").read_text())
    assert leak_scan([token]) == []
    assert [k.split(":")[0] for k in handle.killed] == [f"pid {leaked}"] and "leaked-sleeper" in handle.killed[0]


def test_zombies_are_not_leaks(tmp_path, token):
    zombie = subprocess.Popen(
        [sys.executable, "-c", "pass"], env=base_env() | {"HYPERWATT_TOKEN": token}
    )
    # not reaped yet: a zombie until wait()
    assert wait_for(lambda: open(f"/proc/{zombie.pid}/stat").read().split(") ")[1][0] == "Z", 5)
    assert leak_scan([token]) == []
    zombie.wait()


@pytest.mark.parametrize("bad", ["", "a b", "x\0y", "tab\there", "new\nline", "x" * 257, 42])
def test_bad_tokens_are_rejected(bad):
    with pytest.raises(ValueError):
        check_token(bad)


@pytest.mark.parametrize("good", ["hw-examples_mnist_ff_001_parallel_a1b2c3-bg", "a=b", "x" * 256])
def test_experiment_style_tokens_are_accepted(good):
    assert check_token(good) == good


def test_new_tokens_are_unique_and_valid():
    tokens = {new_token("exp-1") for _ in range(100)}
    assert len(tokens) == 100
    assert all(check_token(t).startswith("exp-1-") for t in tokens)


def test_a_scanner_carrying_the_token_does_not_report_itself(token):
    code = (
        "import os, sys; from hyperwatt.process import leak_scan;"
        "print(os.getpid(), [leak.pid for leak in leak_scan([sys.argv[1]])])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, token],
        env=base_env() | {"HYPERWATT_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split(" ", 1)[1].strip() == "[]"
