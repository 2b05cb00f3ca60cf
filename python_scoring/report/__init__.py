"""`scorehouse report`: one self-contained HTML file of what the warehouse knows — per
domain the models' status and the dbt tests, a model card per model (curves recorded at
training in ml.model_curves), monitoring over months, the features' PSI, IV and profiles,
the bank's clusters and rules. It reads only aggregates and ml.* metadata (data.py), so
its size and time do not grow with the number of customers; the charts are inline SVG
(charts.py) and the page makes no network request (page.py, report.html.j2).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.report.data import collect
from python_scoring.report.page import render
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    path: Path
    size: int  # bytes
    seconds: float
    models: int


def write_report(
    project: Project,
    wh: Warehouse,
    output: Path,
    domains: list[str] | None = None,
    month: dt.date | None = None,
) -> Written:
    """Collect, render and write the report atomically (a crash leaves any previous
    report whole)."""
    clock = time.perf_counter()
    data = collect(project, wh, domains, month)
    html = render(data).encode("utf-8")
    output = Path(output).resolve()
    partial = output.with_name(f".{output.name}.{os.getpid()}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(html)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ScorehouseError(f"cannot write the report to {output}: {exc.strerror}") from exc
    seconds = time.perf_counter() - clock
    log.info("report of %d model(s) in %.1fs: %s", len(data.cards), seconds, output)
    return Written(output, len(html), seconds, len(data.cards))
