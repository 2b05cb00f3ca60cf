"""What the benchmarks measure the same way: median wall times and peak memory."""

from __future__ import annotations

import statistics
import time
from pathlib import Path


def median_seconds(fn, runs: int) -> float:
    """The median wall time of `runs` calls of fn after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        clock = time.perf_counter()
        fn()
        times.append(time.perf_counter() - clock)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program, in MB (VmHWM).
    Not the rusage a parent gets from wait4: Linux carries the forked parent's high-water
    mark across exec into it, so a child of a big bench process would report the bench's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
