"""Progress of long work: a bar on a terminal, plain log lines otherwise (CI, cron, files)."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)


class Progress:
    """Rows done out of a known total, reported per step (a scoring piece): rate and ETA
    in a tqdm bar when stderr is a terminal, else one INFO line per step."""

    def __init__(self, label: str, total_rows: int, steps: int, enabled: bool = True) -> None:
        self.label, self.total, self.steps = label, total_rows, steps
        self.rows, self.step = 0, 0
        self.clock = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total_rows, unit="rows", unit_scale=True, desc=label)

    def advance(self, rows: int) -> None:
        self.rows += rows
        if self.bar is not None:
            self.bar.update(rows)

    def step_done(self, note: str = "") -> None:
        self.step += 1
        elapsed = time.perf_counter() - self.clock
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.rows) / rate if rate > 0 else float("nan")
        if self.bar is not None:
            self.bar.set_postfix_str(f"piece {self.step}/{self.steps} {note}".strip())
        else:
            log.info(
                "%s: piece %d/%d %s- %d/%d rows, %.0f rows/s, ETA %.0fs",
                self.label,
                self.step,
                self.steps,
                f"{note} " if note else "",
                self.rows,
                self.total,
                rate,
                eta,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
