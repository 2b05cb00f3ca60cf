"""`scorehouse ingest-requests`: the service's request spool (serving/spool.py) into
ml.online_requests.

Which files: every closed spool file (`*.jsonl`), and every `*.jsonl.open` file whose
writer is gone: its host is this host and its pid no longer runs (or now belongs to a
process started after the file was opened: a restarted container reuses pids). Such a
file is first renamed to `.jsonl`: nobody will append to it again. A `.jsonl.open` file
of a live writer, or of another host (which this host cannot check), is left alone.

How: a file's complete lines (up to its last "\\n") become rows, one per scored row of a
request (one row with row_index null for a request without rows); they replace the
file's slice {"spool_file": <name>} of ml.online_requests, several files per
transaction (`Warehouse.replace_slices`; Spark: one partition overwrite per file). Only
then is the file moved to `<spool>/ingested/`. A crash in between leaves the file where
it was, and the rerun replaces the same slice: nothing is loaded twice.

What is skipped, counted in `bad_lines` and logged with its file:line: a line that is not
a JSON request record, and a closed file's torn last line (no "\\n": a power loss or a
full disk during its write; its writer is gone, so it will never be completed). The
skipped bytes stay in the moved file under ingested/.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from python_scoring import contract
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.serving.spool import (
    CLOSED_SUFFIX,
    INGESTED,
    OPEN_SUFFIX,
    SpoolName,
    host_name,
)
from python_scoring.warehouse import BATCH_ROWS, Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    files: int  # spool files loaded (and moved to ingested/)
    lines: int  # request lines loaded
    rows: int  # rows written to ml.online_requests
    bad_lines: int  # lines skipped: not a request record, or a torn last line


class _BadLine(ValueError):
    pass


def ingest_requests(project: Project, wh: Warehouse, spool_dir: Path) -> IngestResult:
    """Load every finished spool file of `spool_dir` into ml.online_requests (see the
    module doc). A missing or empty directory loads nothing."""
    spool_dir = Path(spool_dir)
    files = _finished_files(spool_dir)
    if not files:
        log.info("ingest-requests: no finished spool file in %s", spool_dir)
        return IngestResult(0, 0, 0, 0)
    relation = project.source("ml", "online_requests")
    if not wh.exists(relation):
        raise ScorehouseError(
            f"table {relation} does not exist: run any dbt command first (`dbt run-operation "
            "create_ml_contract_tables` creates the ml tables)"
        )
    (spool_dir / INGESTED).mkdir(mode=0o700, exist_ok=True)
    ingested_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    totals = {"files": 0, "lines": 0, "rows": 0, "bad_lines": 0}
    batch: list[tuple[Path, pa.Table]] = []

    def flush() -> None:
        if not batch:
            return
        wh.replace_slices([(relation, {"spool_file": path.name}, table) for path, table in batch])
        for path, table in batch:  # after the commit: a crash before leaves them to redo
            try:
                path.replace(spool_dir / INGESTED / path.name)
            except FileNotFoundError:  # another ingestion moved it (it loaded the same rows)
                continue
            totals["files"] += 1
            totals["rows"] += table.num_rows
        batch.clear()

    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # another ingestion took it
            continue
        rows, lines, bad = _rows(path.name, data, ingested_at)
        totals["lines"] += lines
        totals["bad_lines"] += bad
        batch.append((path, contract.table("online_requests", rows)))
        if sum(t.num_rows for _, t in batch) >= BATCH_ROWS:
            flush()
    flush()
    result = IngestResult(**totals)
    log.info(
        "ingest-requests: %d file(s), %d line(s), %d row(s) into %s, %d bad line(s)",
        result.files,
        result.lines,
        result.rows,
        relation,
        result.bad_lines,
    )
    return result


# ---- which files ----------------------------------------------------------------------


def _finished_files(spool_dir: Path) -> list[Path]:
    """The closed spool files, after closing the open ones whose writer is gone; oldest
    first (by the time in their names)."""
    if not spool_dir.is_dir():
        return []
    here = host_name()
    found: list[tuple[dt.datetime, str, Path]] = []
    for path in spool_dir.iterdir():
        name = SpoolName.parse(path.name)
        if name is None or not path.is_file():
            continue
        if not name.closed:
            if name.host != here or _writer_alive(name.pid, name.opened_at):
                continue
            closed = path.with_name(path.name.removesuffix(OPEN_SUFFIX) + CLOSED_SUFFIX)
            try:
                path.rename(closed)
            except FileNotFoundError:  # its writer closed it, or another ingestion did
                continue
            log.warning(
                "ingest-requests: %s was left open by pid %d, which no longer runs: closed as %s",
                path.name,
                name.pid,
                closed.name,
            )
            path = closed
        found.append((name.opened_at, path.name, path))
    return [path for _, _, path in sorted(found)]


def _writer_alive(pid: int, opened_at: dt.datetime) -> bool:
    """Whether the process that opened a spool file at `opened_at` (UTC) may still be
    writing it: pid `pid` runs and (where /proc tells) started before the file was opened;
    a process started later merely reuses the pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    started = _process_start(pid)
    # /proc's boot time has whole seconds: a later start is a new process only beyond 1 s
    return started is None or started <= opened_at + dt.timedelta(seconds=1)


def _process_start(pid: int) -> dt.datetime | None:
    """When process `pid` started (UTC, naive), from Linux's /proc; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        # fields after the command name (in parentheses, which may hold spaces): field 22
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    seconds = boot + ticks / os.sysconf("SC_CLK_TCK")
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


# ---- lines to rows ----------------------------------------------------------------------


def _rows(
    file_name: str, data: bytes, ingested_at: dt.datetime
) -> tuple[list[dict[str, Any]], int, int]:
    """The rows of a spool file's complete lines: (rows, request lines, bad lines)."""
    complete, newline, torn = data.rpartition(b"\n")
    if not newline:  # no "\n" at all: everything is the torn line
        complete, torn = b"", data
    rows: list[dict[str, Any]] = []
    lines = bad = 0
    for number, line in enumerate(complete.split(b"\n") if newline else [], start=1):
        try:
            rows += _request_rows(line, file_name, ingested_at)
        except _BadLine as exc:
            bad += 1
            log.warning("ingest-requests: %s:%d skipped: %s", file_name, number, exc)
            continue
        lines += 1
    if torn:
        bad += 1
        number = complete.count(b"\n") + (2 if newline else 1)
        log.warning(
            "ingest-requests: %s:%d skipped: torn last line (%d bytes, no newline)",
            file_name,
            number,
            len(torn),
        )
    return rows, lines, bad


def _request_rows(line: bytes, file_name: str, ingested_at: dt.datetime) -> list[dict[str, Any]]:
    """The rows of ml.online_requests one spool line holds; _BadLine when it is not a
    request record."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _BadLine(f"not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise _BadLine("not a JSON object")
    request_id = record.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise _BadLine("no request_id")
    received_at = _timestamp(record.get("received_at"))
    status = record.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise _BadLine(f"status {status!r} is not an HTTP status")
    rows = record.get("rows") or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise _BadLine("rows is not a list of objects")
    request = {
        "request_id": request_id,
        "received_at": received_at,
        "request_month": received_at.date().replace(day=1),
        "endpoint": _text(record.get("endpoint")),
        "model_name": _text(record.get("model_name")),
        "model_version": _text(record.get("model_version")),
        "status": status,
        "latency_ms": _number(record.get("latency_ms")),
        "error": _text(record.get("error")),
        "spool_file": file_name,
        "ingested_at": ingested_at,
    }
    if not rows:
        return [request]
    features = [_json_text(row.get("features")) for row in rows]
    if record.get("features_arrow") is not None:  # POST .../score-arrow: its body
        features = _arrow_features(record["features_arrow"], len(rows))
    return [
        {
            **request,
            "row_index": index,
            "entity_id": _text(row.get("entity_id")),
            "score": _number(row.get("score")),
            "features": text,
        }
        for index, (row, text) in enumerate(zip(rows, features, strict=True))
    ]


def _arrow_features(packed: Any, rows: int) -> list[str]:
    """Each row's features as JSON text, from the base64 Arrow IPC stream a score-arrow
    request sent (a NaN is null, as the service read it)."""
    try:
        table = pa.ipc.open_stream(pa.py_buffer(base64.b64decode(packed, validate=True))).read_all()
        table.validate(full=True)
    except (TypeError, ValueError, binascii.Error, pa.ArrowException) as exc:
        raise _BadLine(f"features_arrow is not a base64 Arrow IPC stream ({exc})") from None
    if table.num_rows != rows:
        raise _BadLine(f"features_arrow has {table.num_rows} rows for {rows} scored")
    return [
        json.dumps(
            {
                k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in row.items()
            },
            separators=(",", ":"),
            default=str,
        )
        for row in table.to_pylist()
    ]


def _timestamp(value: Any) -> dt.datetime:
    """An ISO 8601 time as naive UTC (the contract's timestamps); a time without a zone
    is taken as UTC."""
    if not isinstance(value, str):
        raise _BadLine(f"received_at {value!r} is not a time")
    try:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise _BadLine(f"received_at {value!r} is not a time") from None
    return parsed


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    """A finite number as float; anything else (null, NaN the spool wrote as "nan", text)
    as null."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
