"""Failures of a workload run that end it with a one-line message instead of a traceback."""

from __future__ import annotations


class WorkloadError(Exception):
    """A failure the user can act on; printed as one line, exit status `exit_code`."""

    exit_code = 1


class UsageError(WorkloadError):
    """Bad flags."""

    exit_code = 2


class DataError(UsageError):
    """A data directory that does not hold what it should; the message names the file."""
