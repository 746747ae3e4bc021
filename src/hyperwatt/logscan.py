"""Log patterns, matched in a child process with a deadline.

Python's `re` cannot be interrupted: one pattern with catastrophic backtracking (`(a+)+b` on a
line of a's) would hang the runner after a training ends. `scan_with_deadline` therefore runs the
patterns in `python -I -S` on this very file (standard library only), one result line per pattern
as it finishes, and names the pattern that was still running at the deadline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

#: A number's exponent, right where a pattern's group stopped (`([0-9.]+)` on "6.4e-05" stops at the "e").
_EXPONENT = re.compile(r"[eE][-+]?[0-9]+")
DEADLINE_S = 60.0


def scan(regex: str, text: str) -> list[tuple[str, str | None]]:
    """(matched text, number text) of every match of `regex` (multi-line) in `text`."""
    return [(m.group(0), _number_text(m, text)) for m in re.finditer(regex, text, flags=re.MULTILINE)]


def _number_text(m: re.Match[str], text: str) -> str | None:
    """Group 1, with the exponent that follows it when the pattern stopped just before one.

    `([0-9.]+)` is the usual way to write a number, and it reads "6.4e-05" as 6.4: wrong by a factor
    of 1e5, silently. A pattern that itself matched past the group decided what follows; it is kept."""
    number = m.group(1)
    if number is None or m.end(0) > m.end(1):
        return number
    exponent = _EXPONENT.match(text, m.end(1))
    if exponent is not None and not _EXPONENT.search(number):
        return number + exponent.group(0)
    return number


def scan_with_deadline(patterns: dict[str, str], text: str, deadline_s: float = DEADLINE_S
                       ) -> tuple[dict[str, list[tuple[str, str | None]]], str | None]:
    """Every pattern's matches, and the problem if the scan did not finish in `deadline_s`."""
    if not patterns:
        return {}, None
    child = subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    payload = json.dumps({"patterns": patterns, "text": text}).encode()
    try:
        out, err = child.communicate(payload, timeout=deadline_s)
        problem = None if child.returncode == 0 else f"log patterns failed: {err.decode(errors='replace')[-300:]}"
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
        problem = ""
    found = {}
    for line in out.decode(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # the line being written when the deadline struck
            continue
        found[row["name"]] = [tuple(m) for m in row["matches"]]
    stuck = next((name for name in patterns if name not in found), None)
    if problem == "":  # the deadline struck (after the last result line, if every pattern finished)
        problem = None if stuck is None else (
            f"{stuck}: its regex {patterns[stuck]!r} ran past {deadline_s:g} s on the log (catastrophic "
            "backtracking, like (a+)+b?); write it without nested repetition")
    return found, problem


def _main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    for name, regex in job["patterns"].items():
        print(json.dumps({"name": name, "matches": scan(regex, job["text"])}), flush=True)


if __name__ == "__main__":
    _main()
