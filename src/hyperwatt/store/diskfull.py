"""A full disk, said in one line: which file system, and what of the results was kept."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from hyperwatt.errors import DiskFullError

#: Errors that mean "no room": the disk, or the user's quota.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: Below this much free space an SQLite "disk I/O error" is read as a full disk.
FULL_BELOW_BYTES = 1 << 20


def filesystem(path: Path) -> str:
    """The mount point of the file system holding `path` (or the nearest existing folder above it)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


def free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(filesystem(path))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def is_disk_full(exc: BaseException, near: Path | None = None) -> bool:
    """Whether `exc` (an OSError, an sqlite3 error, a DiskFullError) means the disk is full."""
    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _NO_SPACE
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        if "disk is full" in text:
            return True
        if "disk I/O error" in text and near is not None:
            free = free_bytes(near)
            return free is not None and free < FULL_BELOW_BYTES
    return False


def disk_full(results_dir: Path, exc: BaseException, kept: str) -> DiskFullError:
    """One line: the file system, what failed, what was kept (`kept`, from the caller)."""
    what = getattr(exc, "filename", None) or (exc.path if isinstance(exc, DiskFullError) else results_dir)
    return DiskFullError(filesystem(results_dir), f"the file system is full (writing {what} failed: no space left "
                         f"on device); kept: {kept}")
