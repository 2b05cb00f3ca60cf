"""The request spool's cost per line (python_scoring/serving/spool.py), with and without
fsync: µs per `Spool.write` of a typical request record (one scored row with 20
features, ~700 bytes), one thread, median of the repeats. The fsync figure depends on the
disk (and its write cache) far more than on the code.

    .venv/bin/python bench/spool_throughput.py                 # 20,000 lines, 2,000 with fsync
    .venv/bin/python bench/spool_throughput.py --lines 100000 --fsync-lines 5000

Work files under bench/results/spool/ (deleted first); `--dir` puts them on another disk.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
import uuid
from pathlib import Path

from python_scoring.serving.spool import Spool, encode

REPO = Path(__file__).resolve().parents[1]


def record(i: int) -> dict:
    return {
        "request_id": uuid.uuid4().hex,
        "received_at": "2026-11-26T08:01:02.123456Z",
        "endpoint": "score",
        "model_name": "churn_lgbm",
        "model_version": "v20261126T042659788725Z",
        "status": 200,
        "latency_ms": 1.234,
        "error": None,
        "rows": [
            {
                "entity_id": str(1_000_000 + i),
                "score": 0.123456789,
                "features": {f"feature_{j}": j * 1.5 + i for j in range(20)},
            }
        ],
    }


def per_line(directory: Path, lines: int, fsync: bool) -> float:
    """µs per write of `lines` records (records built before the clock starts)."""
    records = [record(i) for i in range(lines)]
    spool = Spool(directory, fsync=fsync)
    clock = time.perf_counter()
    for r in records:
        spool.write(r)
    seconds = time.perf_counter() - clock
    spool.close()
    return seconds / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--fsync-lines", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=REPO / "bench" / "results" / "spool")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    size = len(encode(record(0)))
    print(f"line: {size} bytes; directory {args.dir}")
    for fsync, lines in ((False, args.lines), (True, args.fsync_lines)):
        runs = [
            per_line(args.dir / f"{'fsync' if fsync else 'plain'}-{k}", lines, fsync)
            for k in range(args.repeats)
        ]
        print(
            f"fsync={fsync!s:5} {lines:>7,} lines x {args.repeats}: "
            f"{statistics.median(runs):8.1f} µs per line (runs: "
            + ", ".join(f"{r:.1f}" for r in runs)
            + ")"
        )
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
