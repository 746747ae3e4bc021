"""Log streaming: bytes to the file as they come, lines to echo, partial lines, large output."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from hyperwatt.process import last_line, spawn
from hyperwatt.process.logstream import MAX_LINE, LogPump
from proc_helpers import base_env, wait_for


def _pump(tmp_path: Path, echo: Callable[[str], None] | None = None) -> tuple[LogPump, int]:
    read_fd, write_fd = os.pipe()
    pump = LogPump(read_fd, tmp_path / "x.log", echo)
    pump.start()
    return pump, write_fd


def test_bytes_reach_the_file_before_the_writer_closes(tmp_path):
    lines: list[str] = []
    pump, fd = _pump(tmp_path, lines.append)
    os.write(fd, b"first line\nsecond ")
    log = tmp_path / "x.log"
    assert wait_for(lambda: log.read_bytes() == b"first line\nsecond ", 5)
    assert lines == ["first line"]
    os.write(fd, b"half\r\nno newline at end")
    os.close(fd)
    assert pump.finished.wait(5)
    assert log.read_bytes() == b"first line\nsecond half\r\nno newline at end"
    assert lines == ["first line", "second half", "no newline at end"]


def test_invalid_utf8_is_replaced_in_echo_but_kept_in_the_file(tmp_path):
    lines: list[str] = []
    pump, fd = _pump(tmp_path, lines.append)
    os.write(fd, b"caf\xc3\xa9 \xff\xfe\n")
    os.close(fd)
    assert pump.finished.wait(5)
    assert (tmp_path / "x.log").read_bytes() == b"caf\xc3\xa9 \xff\xfe\n"
    assert lines == ["café \ufffd\ufffd"]


def test_a_raising_echo_is_dropped_and_the_log_goes_on(tmp_path):
    calls = []

    def echo(line: str) -> None:
        calls.append(line)
        raise RuntimeError("terminal gone")

    pump, fd = _pump(tmp_path, echo)
    os.write(fd, b"a\nb\nc\n")
    os.close(fd)
    assert pump.finished.wait(5)
    assert calls == ["a"]
    assert (tmp_path / "x.log").read_bytes() == b"a\nb\nc\n"


def test_an_overlong_line_is_echoed_in_pieces(tmp_path):
    lines: list[str] = []
    pump, fd = _pump(tmp_path, lines.append)
    def write() -> None:
        os.write(fd, b"x" * (2 * MAX_LINE + 10))
        os.close(fd)

    writer = threading.Thread(target=write)
    writer.start()
    assert pump.finished.wait(5)
    writer.join()
    assert [len(line) for line in lines] == [MAX_LINE, MAX_LINE, 10]


def test_drain_returns_while_another_writer_keeps_the_pipe_open(tmp_path):
    pump, fd = _pump(tmp_path)
    os.write(fd, b"all that was written\n")
    pump.request_drain()
    assert pump.drained.wait(5)
    assert not pump.finished.is_set()
    assert (tmp_path / "x.log").read_bytes() == b"all that was written\n"
    os.close(fd)
    assert pump.finished.wait(5)


def test_log_is_appended_never_truncated(tmp_path):
    (tmp_path / "x.log").write_bytes(b"earlier\n")
    pump, fd = _pump(tmp_path)
    os.write(fd, b"later\n")
    os.close(fd)
    assert pump.finished.wait(5)
    assert (tmp_path / "x.log").read_bytes() == b"earlier\nlater\n"


def test_large_output_is_complete_and_echoed_in_order(script, tmp_path, token):
    argv = script(
        "chatty",
        """
        import sys
        for i in range(50000):
            print(f"line {i:06d} " + "y" * 80)
        sys.stderr.write("to stderr, no newline")
        """,
    )
    lines: list[str] = []
    log = tmp_path / "deep" / "dir" / "training.log"
    handle = spawn(argv, cwd=tmp_path, env=base_env(), log_path=log, token=token, echo=lines.append)
    assert handle.wait(30) == 0
    expected = [f"line {i:06d} " + "y" * 80 for i in range(50000)] + ["to stderr, no newline"]
    assert lines == expected
    assert log.read_text() == "\n".join(expected)


def test_output_is_on_disk_while_the_training_runs(script, tmp_path, token):
    argv = script(
        "slow",
        """
        import sys, time
        print("epoch 1 done", flush=True)
        time.sleep(30)
        """,
    )
    log = tmp_path / "training.log"
    handle = spawn(argv, cwd=tmp_path, env=base_env(), log_path=log, token=token)
    assert wait_for(lambda: log.exists() and log.read_text() == "epoch 1 done\n", 5)
    assert handle.poll() is None
    handle.stop(grace_s=1.0)


def test_last_line_skips_trailing_blank_lines(tmp_path):
    path = tmp_path / "run.log"
    assert last_line(path) is None
    path.write_bytes(b"")
    assert last_line(path) is None
    path.write_bytes(b"start\nCNN training not yet implemented\n\n  \n")
    assert last_line(path) == "CNN training not yet implemented"
    path.write_bytes(b"x" * 10000 + b"\ntail")
    assert last_line(path) == "tail"


def test_arrival_times_follow_the_bytes(tmp_path):
    now = [100.0]
    read_fd, write_fd = os.pipe()
    (tmp_path / "x.log").write_bytes(b"old\n")  # a log appended to: offsets count from the file's start
    pump = LogPump(read_fd, tmp_path / "x.log", None, wall=lambda: now[0])
    pump.start()
    os.write(write_fd, b"startup\n")
    assert wait_for(lambda: pump.times.arrival_wall(4) is not None, 5)
    now[0] = 105.0
    os.write(write_fd, b"Train Epoch: 1\n")
    assert wait_for(lambda: pump.times.arrival_wall(12) is not None, 5)
    os.close(write_fd)
    assert pump.finished.wait(5)
    assert pump.times.arrival_wall(0) is None  # there before the pump
    assert pump.times.arrival_wall(4) == 100.0
    assert pump.times.arrival_wall(11) == 100.0
    assert pump.times.arrival_wall(12) == 105.0
    assert pump.times.arrival_wall(26) == 105.0
    assert pump.times.arrival_wall(27) is None  # not written


def test_a_spawned_training_s_log_lines_carry_their_arrival_time(tmp_path):
    import sys
    import time

    argv = [sys.executable, "-c", "import time; print('a', flush=True); time.sleep(0.4); print('b', flush=True)"]
    before = time.time()
    handle = spawn(argv, cwd=tmp_path, env=base_env(), log_path=tmp_path / "t.log", token="hw-test-times")
    assert handle.wait(30) == 0
    text = (tmp_path / "t.log").read_bytes()
    ta = handle.log_times.arrival_wall(text.index(b"a"))
    tb = handle.log_times.arrival_wall(text.index(b"b"))
    assert ta is not None and tb is not None
    assert before <= ta <= tb <= time.time()
    assert tb - ta >= 0.3


def _capped(tmp_path: Path, chunks: list[bytes], max_bytes: int, drain: bool = False) -> tuple[LogPump, bytes]:
    tmp_path.mkdir(exist_ok=True)
    read_fd, write_fd = os.pipe()
    pump = LogPump(read_fd, tmp_path / "capped.log", None, max_bytes=max_bytes)
    pump.start()
    for chunk in chunks:
        os.write(write_fd, chunk)
    if drain:  # the child exited while a leftover still holds the pipe: the tail lands at the drain
        pump.request_drain()
        assert pump.drained.wait(5)
        text = (tmp_path / "capped.log").read_bytes()
        os.close(write_fd)
        assert pump.finished.wait(5)
        assert (tmp_path / "capped.log").read_bytes() == text
    else:
        os.close(write_fd)
        assert pump.finished.wait(5)
    return pump, (tmp_path / "capped.log").read_bytes()


def test_a_log_under_its_cap_is_kept_whole(tmp_path):
    data = bytes(range(256)) * 3
    pump, text = _capped(tmp_path, [data[:500], data[500:]], max_bytes=768)
    assert text == data and pump.cut_bytes == 0


def test_a_capped_log_keeps_its_head_and_tail_and_says_what_was_cut(tmp_path):
    data = b"".join(f"line {i:05d}\n".encode() for i in range(2000))  # 22,000 bytes
    for drain in (False, True):
        pump, text = _capped(tmp_path / str(drain), [data[i:i + 333] for i in range(0, len(data), 333)],
                             max_bytes=1000, drain=drain)
        head, marker, tail = text[:500], text[500:].split(b"\n", 2)[1], text[500:].split(b"\n", 2)[2]
        assert head == data[:500] and tail == data[-500:]
        assert pump.cut_bytes == len(data) - 1000
        assert marker.decode() == (f"[hyperwatt: {len(data) - 1000} bytes of output cut here (the log is capped "
                                   "at 1000 bytes, timing.max_log_mib); the first 500 and the last 500 bytes are kept]")


def test_a_log_just_over_its_cap_loses_only_the_excess(tmp_path):
    data = bytes(i % 251 for i in range(1010))
    pump, text = _capped(tmp_path, [data], max_bytes=1000)
    assert pump.cut_bytes == 10
    assert text.startswith(data[:500]) and text.endswith(data[-500:])


def test_a_full_disk_stops_the_log_not_the_training(tmp_path):
    """/dev/full fails every write with ENOSPC: the pump still drains the pipe and says why."""
    read_fd, write_fd = os.pipe()
    pump = LogPump(read_fd, Path("/dev/full"), None)
    pump.start()
    for _ in range(64):  # far more than a pipe holds: a pump that stopped reading would block this
        os.write(write_fd, b"x" * 65536)
    os.close(write_fd)
    assert pump.finished.wait(10)
    assert pump.write_error is not None and "No space left on device" in pump.write_error
