"""Validity checks and the verification report. Reads records; runs nothing."""

from hyperwatt.verify.checks import apply, check, recheck
from hyperwatt.verify.coverage import coverage, effective_intervals
from hyperwatt.verify.report import render, write_verification

__all__ = ["apply", "check", "recheck", "coverage", "effective_intervals", "render", "write_verification"]
