"""One runner per results directory: an advisory lock (`flock`) on `hyperwatt.lock` beside the store.

The kernel drops the lock when its holder dies (even by `kill -9`), so a dead runner's lock is
simply taken over; the file's text (pid, host, start) only names the holder for the error line.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from hyperwatt.errors import HyperwattError, StoreError

LOCK_NAME = "hyperwatt.lock"
#: How long a second runner waits for the first's details to appear in a lock file just taken.
_HOLDER_WAIT_S = 1.0


class RunnerLocked(HyperwattError):
    """Another runner holds the results directory (exit 2: nothing was started)."""

    exit_code = 2


@contextmanager
def runner_lock(results_dir: Path) -> Iterator[Path]:
    """Hold the results directory's lock for the block; RunnerLocked names the holder when taken."""
    path = Path(results_dir) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(path, f"cannot create the runner lock ({exc.strerror or exc}); pass a writable "
                         "--results-dir") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunnerLocked(f"{path}: another hyperwatt runner ({_holder(fd)}) is using this results "
                               "directory; wait for it to finish, or pass another --results-dir") from None
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode() + b"\n", 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a new holder)


def runner_holding(results_dir: Path) -> dict[str, object] | None:
    """The details (pid, host, started) of the runner holding the results directory now, or None
    when no runner holds it (none started, or it died: the kernel dropped its lock). Takes nothing."""
    path = Path(results_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                info = json.loads(os.pread(fd, 4096, 0) or b"null")
            except (OSError, ValueError):
                info = None
            return info if isinstance(info, dict) else {}
        except OSError:
            return None  # a file system without flock: nothing to say
        return None
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    end = time.monotonic() + _HOLDER_WAIT_S
    while True:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"null")
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict) or time.monotonic() >= end:
            break
        time.sleep(0.05)  # the holder has the lock but has not written its details yet
    if not isinstance(info, dict):
        return "pid unknown"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, since {info.get('started', '?')}"
