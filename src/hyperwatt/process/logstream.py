"""Log streaming: a thread that copies a child's output pipe to a log file and an echo callback."""

from __future__ import annotations

import bisect
import os
import select
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from pathlib import Path

CHUNK = 65536
MAX_LINE = 65536  # a longer run of bytes without a newline is echoed in pieces
ARRIVAL_RESOLUTION_S = 0.005  # reads closer together than this share one arrival entry


class LogTimes:
    """When each byte of a log arrived: (end offset, wall time) per read, in arrival order.

    Reads within ARRIVAL_RESOLUTION_S of the previous entry extend it (a chatty training costs at
    most 200 entries a second, 16 bytes each). `arrival_wall(offset)` is the wall time by which the
    byte at `offset` (from the start of the file) had been read: a log line's arrival time is its
    last byte's.
    """

    def __init__(self, start_offset: int = 0) -> None:
        self._ends = array("q")
        self._times = array("d")
        self._start = self._offset = start_offset
        self._lock = threading.Lock()

    def add(self, nbytes: int, t_wall: float) -> None:
        with self._lock:
            self._offset += nbytes
            if self._times and t_wall - self._times[-1] < ARRIVAL_RESOLUTION_S:
                self._ends[-1] = self._offset
            else:
                self._ends.append(self._offset)
                self._times.append(t_wall)

    def arrival_wall(self, offset: int) -> float | None:
        """Wall time the byte at `offset` arrived; None if it has not (or was there before)."""
        with self._lock:
            if offset < self._start:
                return None
            i = bisect.bisect_right(self._ends, offset)
            return self._times[i] if i < len(self._times) else None


class LogPump:
    """Copies everything read from `fd` to `log_path` as it comes, and complete lines to `echo`.

    The log file is opened for appending (never truncated) and written unbuffered, so every
    chunk is in the file as soon as it is read; a partial last line is kept as is. `echo` gets
    lines without their newline, decoded as UTF-8 with errors="replace"; an echo callback that
    raises is dropped and the log goes on. `request_drain()` (called once the child has exited)
    makes the pump read everything already in the pipe and set `drained`, even if leftover
    grandchildren keep the pipe open; the pump then goes on until end of file. `times` holds
    when each byte arrived (phase markers in the log take their line's arrival time).

    With `max_bytes`, the file is written as it comes up to that size; past it only the output's
    last half of `max_bytes` is kept (in memory), and when the child has exited (drain) or at end
    of file the file becomes the output's first half, a line saying how many bytes were cut
    (`cut_bytes`), and its last half. `times` counts the output's bytes, cut or not.
    A write that fails (a full disk) stops the file, not the pump: the child's output is still
    read, so it never blocks on a full pipe; `write_error` says what happened.
    """

    def __init__(self, fd: int, log_path: Path, echo: Callable[[str], None] | None,
                 wall: Callable[[], float] = time.time, max_bytes: int | None = None) -> None:
        self._fd = fd
        self._log = open(log_path, "ab", buffering=0)  # closed by the pump thread
        self._start = self._log.tell()
        self._written = 0  # bytes this pump wrote to the file
        self._max_bytes = max_bytes
        self._tail_max = 0 if max_bytes is None else max_bytes // 2
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self._dropped = 0
        self._capped = False
        self.cut_bytes = 0  # output bytes left out of the file
        self.write_error: str | None = None
        self._wall = wall
        self.times = LogTimes(self._log.tell())
        self._echo = echo
        self._partial = b""
        self._lock = threading.Lock()
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._fd, False)
        os.set_blocking(self._wake_w, False)
        self.drained = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"log:{log_path.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_drain(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._wake_w, b"d")
            except BlockingIOError:
                pass

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                for fd, _ in poller.poll():
                    if fd == self._wake_r:
                        poller.unregister(self._wake_r)
                        if not self._read_available():
                            return
                        self._flush_tail()  # the child has exited: the log is complete for readers
                        self.drained.set()
                    elif not self._read_available():
                        return
        finally:
            self._close()

    def _read_available(self) -> bool:
        """Read until the pipe is empty; False at end of file."""
        while True:
            try:
                data = os.read(self._fd, CHUNK)
            except BlockingIOError:
                return True
            if not data:
                return False
            self._store(data)
            self.times.add(len(data), self._wall())
            if self._echo is not None:
                self._split(data)

    def _store(self, data: bytes) -> None:
        """Write to the file up to the cap; past it, keep only the output's last bytes in memory."""
        if self._max_bytes is None or (not self._capped and self._written + len(data) <= self._max_bytes):
            self._write(data)
            return
        if not self._capped:
            room = self._max_bytes - self._written
            self._write(data[:room])
            data = data[room:]
            self._capped = True
        self._tail.append(data)
        self._tail_len += len(data)
        while self._tail_len > self._tail_max:
            over = self._tail_len - self._tail_max
            first = self._tail[0]
            if len(first) <= over:
                self._tail.popleft()
                self._tail_len -= len(first)
                self._dropped += len(first)
            else:
                self._tail[0] = first[over:]
                self._tail_len -= over
                self._dropped += over

    def _flush_tail(self) -> None:
        """Once capped: the file becomes its first half, a line saying what was cut, the output's last
        half; output after this (rare: the child has exited) is appended uncapped."""
        if self._max_bytes is None or not self._capped or self.write_error is not None:
            return
        head = self._max_bytes - self._tail_max
        from_file = max(head, self._written - (self._tail_max - self._tail_len))  # tail bytes still in the file
        try:
            with open(self._log.name, "rb") as fh:
                fh.seek(self._start + from_file)
                kept = fh.read(self._written - from_file)
            os.ftruncate(self._log.fileno(), self._start + head)
        except OSError as exc:
            self.write_error = f"the log could not be cut: {exc.strerror or exc}"
            return
        self.cut_bytes = from_file - head + self._dropped
        self._written = head
        self._max_bytes = None
        self._write(f"\n[hyperwatt: {self.cut_bytes} bytes of output cut here (the log is capped at "
                    f"{head + self._tail_max} bytes, timing.max_log_mib); the first {head} and the last "
                    f"{len(kept) + self._tail_len} bytes are kept]\n".encode())
        self._write(kept + b"".join(self._tail))
        self._tail.clear()

    def _write(self, data: bytes) -> None:
        if not data or self.write_error is not None:
            return
        try:
            self._log.write(data)
            self._written += len(data)
        except OSError as exc:  # ENOSPC, EDQUOT, EIO: the training runs on; the record says so
            self.write_error = f"the log stopped after {self._written} bytes: {exc.strerror or exc}"

    def _split(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        while len(self._partial) > MAX_LINE:
            lines.append(self._partial[:MAX_LINE])
            self._partial = self._partial[MAX_LINE:]
        for line in lines:
            self._emit(line)

    def _emit(self, line: bytes) -> None:
        if self._echo is None:
            return
        try:
            self._echo(line.rstrip(b"\r").decode("utf-8", errors="replace"))
        except Exception:  # a broken echo must not stop the log
            self._echo = None

    def _close(self) -> None:
        self._flush_tail()
        if self._partial:
            self._emit(self._partial)
            self._partial = b""
        with self._lock:
            self._closed = True
            for fd in (self._fd, self._wake_r, self._wake_w):
                os.close(fd)
        self._log.close()
        self.drained.set()
        self.finished.set()


def last_line(path: Path, max_bytes: int = 4096) -> str | None:
    """The last non-empty line of a log file (decoded leniently), or None."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - max_bytes))
            tail = fh.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        text = line.decode("utf-8", errors="replace").strip()
        if text:
            return text
    return None
