"""`scorehouse forget`: the right to erasure (docs/privacy.md).

The ids go on the suppression list ml.erasure_requests (staging leaves them out of every
later build) and, in the same transaction, every row holding one of them in a column
named like a classified identifier is deleted from every table of the warehouse: raw
copies, features, training sets, ml.model_scores, scoring staging tables, the online
request log. Views recompute. The ids travel as data (an Arrow table inserted, then a
subquery), never as SQL text.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import socket
import unicodedata
from pathlib import Path

from python_scoring import contract
from python_scoring.dbt_runner import ensure_manifest
from python_scoring.errors import ScorehouseError
from python_scoring.privacy import identifier_names
from python_scoring.project import Project
from python_scoring.warehouse import Warehouse

log = logging.getLogger(__name__)

MAX_ID_LENGTH = 256


def read_ids(ids: list[str], file: Path | None) -> list[str]:
    """The ids given and those of `file` (one per line, UTF-8, blank lines skipped),
    checked and deduplicated in order."""
    given = list(ids)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ScorehouseError(f"--file {file}: not UTF-8 text ({exc.reason})") from exc
        given += [line.strip() for line in text.splitlines() if line.strip()]
    if not given:
        raise ScorehouseError("forget needs ids: forget ID [ID ...] or --file FILE")
    for number, value in enumerate(given, 1):
        if len(value) > MAX_ID_LENGTH:
            raise ScorehouseError(f"id {number} is {len(value)} characters long: not an id")
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value) or not value.strip():
            raise ScorehouseError(f"id {number} holds control characters or only blanks")
    return list(dict.fromkeys(value.strip() for value in given))


def forget(project: Project, ids: list[str], reason: str | None = None) -> dict[str, int]:
    """Erase `ids` (read_ids) in one transaction; returns the rows deleted per table."""
    ensure_manifest(project)
    columns = identifier_names(project.manifest)
    requested = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    requests = contract.table(
        "erasure_requests",
        {
            "entity_id": ids,
            "requested_at": [requested] * len(ids),
            "requested_by": [who] * len(ids),
            "reason": [reason] * len(ids),
        },
    )
    with Warehouse.connect(project) as wh:
        erasure = project.source("ml", "erasure_requests")
        if not wh.exists(erasure):
            raise ScorehouseError(
                f"{erasure} does not exist: run `dbt build` (or `scorehouse run`) once first"
            )
        deleted = wh.erase(requests, erasure, columns)
    log.info(
        "forget: %d id(s) on the suppression list; %d row(s) deleted from %d table(s)%s",
        len(ids),
        sum(deleted.values()),
        len(deleted),
        "".join(f"\n  {table}: {rows}" for table, rows in sorted(deleted.items())),
    )
    return deleted
