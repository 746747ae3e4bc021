#!/usr/bin/env python3
"""Chaos: the runner killed N times at random moments (SIGKILL, SIGINT, SIGTERM) and resumed each time.

One experiment's training leaves a SIGTERM-ignoring daemon behind (double fork, setsid, empty
environment). Reports leaked processes (alive 2 s after a kill, escaped daemons included), lost and duplicated experiments, and the store's
integrity check — all must be zero / "ok". Runs on any machine (the toy training needs no GPU).

    python benchmarks/chaos.py --kills 50 [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.engine.chaos import run_chaos  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_chaos(Path(tmp) / "chaos", kills=args.kills, seed=args.seed)
    result = {**asdict(report), "ok": report.ok, "wall_s": time.monotonic() - t0}
    text = (f"| kills | rounds | leaks | lost | duplicated | store integrity | wall |\n|---|---|---|---|---|---|---|\n"
            f"| {report.kills} | {report.rounds} | {len(report.leaks)} | {len(report.lost)} | "
            f"{len(report.duplicated)} | {report.integrity} | {result['wall_s']:.0f} s |")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "chaos.json").write_text(json.dumps(result, indent=2))
        (args.out / "chaos.md").write_text(text + "\n")
    print(text)
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
