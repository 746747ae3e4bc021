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
from typing import Any

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


def scan_lines(regex: str, text: str) -> list[tuple[int, str | None]]:
    """(line index, group 1 or None) of every line of `text` that `regex` matches (searched per line)."""
    compiled = re.compile(regex)
    found = []
    for i, line in enumerate(text.split("\n")):
        m = compiled.search(line)
        if m is not None:
            found.append((i, m.group(1) if compiled.groups else None))
    return found


def scan_with_deadline(patterns: dict[str, str], text: str, deadline_s: float = DEADLINE_S
                       ) -> tuple[dict[str, list[tuple[str, str | None]]], str | None]:
    """Every pattern's matches, and the problem if one did not finish in `deadline_s`: the patterns
    after a stuck one run again in a fresh child, so only the stuck ones are lost."""
    return _with_deadline(patterns, text, deadline_s, lines=False)


def scan_lines_with_deadline(patterns: dict[str, str], text: str, deadline_s: float = DEADLINE_S
                             ) -> tuple[dict[str, list[tuple[int, str | None]]], str | None]:
    """`scan_lines` of every pattern, with the deadline of `scan_with_deadline`."""
    return _with_deadline(patterns, text, deadline_s, lines=True)


def _with_deadline(patterns: dict[str, str], text: str, deadline_s: float, lines: bool
                   ) -> tuple[dict[str, list[Any]], str | None]:
    found: dict[str, list[Any]] = {}
    stuck: list[str] = []
    failure = None
    todo = dict(patterns)
    while todo and failure is None:
        done, timed_out, failure = _run_child(todo, text, deadline_s, lines)
        found.update(done)
        if not timed_out:
            break
        name = next((n for n in todo if n not in done), None)
        if name is None:
            break
        stuck.append(name)
        todo = {n: r for n, r in todo.items() if n not in done and n != name}
    if stuck:
        regexes = ", ".join(f"{n} ({patterns[n]!r})" for n in stuck)
        failure = (f"log pattern(s) {regexes} ran past {deadline_s:g} s on the log (catastrophic backtracking, "
                   "like (a+)+b?); write them without nested repetition")
    return found, failure


def _run_child(patterns: dict[str, str], text: str, deadline_s: float, lines: bool
               ) -> tuple[dict[str, list[Any]], bool, str | None]:
    """(results of the patterns that finished, whether the deadline struck, a crash's message)."""
    child = subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    payload = json.dumps({"patterns": patterns, "text": text, "lines": lines}).encode()
    timed_out, failure = False, None
    try:
        out, err = child.communicate(payload, timeout=deadline_s)
        if child.returncode != 0:
            failure = f"log patterns failed: {err.decode(errors='replace')[-300:]}"
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
        timed_out = True
    done = {}
    for line in out.decode(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # the line being written when the deadline struck
            continue
        done[row["name"]] = [tuple(m) for m in row["matches"]]
    return done, timed_out, failure


def _main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    for name, regex in job["patterns"].items():
        matches = scan_lines(regex, job["text"]) if job.get("lines") else scan(regex, job["text"])
        print(json.dumps({"name": name, "matches": matches}), flush=True)


if __name__ == "__main__":
    _main()
