"""The single writer of a (model, month) slice: a row of ml.scoring_locks held while
scoring."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from typing import Any

import pyarrow as pa

from python_scoring import contract
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.warehouse import Warehouse, predicate

log = logging.getLogger(__name__)


@contextlib.contextmanager
def slice_lock(project: Project, wh: Warehouse, model_name: str, month: dt.date):
    """Hold the (model, month) row of ml.scoring_locks while scoring. A row held by a
    live process (or by another host) refuses this run; a row left by a process that no
    longer exists on this host is taken over."""
    locks = project.source("ml", "scoring_locks")
    host, pid, run_id = socket.gethostname(), os.getpid(), uuid.uuid4().hex
    where = {"model_name": model_name, "score_month": month}
    held = wh.query_arrow(
        f"select run_id, host, pid, started_at from {locks.sql} where {predicate(where)}"
    )
    for row in held.to_pylist():
        if row["host"] == host and not _alive(row["pid"]):
            log.warning(
                "%s %s: taking over the lock of run %s (pid %d, no longer running)",
                model_name,
                month,
                row["run_id"],
                row["pid"],
            )
            continue
        raise ScorehouseError(
            f"{model_name} {month} is being scored by run {row['run_id']} (pid {row['pid']} "
            f"on {row['host']}, since {row['started_at']}): wait for it to finish; if that "
            f"process is gone, delete its row from {locks}"
        )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row = {"run_id": run_id, "host": host, "pid": pid, "started_at": now}
    wh.replace_rows(locks, where, _lock_row({**where, **row}))
    try:
        yield
    finally:
        wh.replace_rows(locks, {"run_id": run_id}, _lock_row({}))


def _lock_row(values: dict[str, Any]) -> pa.Table:
    """A row of ml.scoring_locks (no row for empty values)."""
    return contract.table("scoring_locks", [values] if values else [])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
