"""`scorehouse export`: one model's scores of a month, from ml.model_scores to a CSV or
parquet file, ranked (1 = the highest score), in deciles (1 = the top 10 %) and with the
reasons (each feature's name, the customer's value of it and its contribution)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from python_scoring import contract
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.registry import ModelSpec
from python_scoring.warehouse import Warehouse, sql_literal

FORMATS = (".csv", ".parquet")


@dataclass(frozen=True)
class Export:
    rows: int
    month: dt.date
    version: str  # the version that scored the month (versions joined by ", " if several)
    path: Path


def _check_output(output: Path) -> str:
    """The output's format (its suffix), before any work: .csv or .parquet, a file name in
    an existing directory."""
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise ScorehouseError(
            f"--output {output}: export writes .csv or .parquet files, not "
            f"{repr(output.suffix) if output.suffix else 'a name without a suffix'}"
        )
    if output.is_dir():
        raise ScorehouseError(f"--output {output} is a directory; give a file name")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise ScorehouseError(
            f"--output {output}: its directory {parent} does not exist; create it first"
        )
    return suffix


def _ranked(table: pa.Table, entity: str) -> pa.Table:
    """The slice, highest score first (ties by id), with rank 1..N and decile 1..10."""
    table = table.sort_by([("score", "descending"), ("entity_id", "ascending")])
    n = table.num_rows
    position = np.arange(n, dtype=np.int64)
    columns = {
        entity: table["entity_id"],
        "score": table["score"],
        "rank": pa.array(position + 1, pa.int64()),
        "decile": pa.array(position * 10 // max(n, 1) + 1, pa.int32()),
    }
    for name in table.column_names:
        if name.startswith("reason_") or name in ("model_version", "score_month"):
            columns[name] = table[name]
    return pa.table(columns)


def export_scores(
    project: Project, wh: Warehouse, spec: ModelSpec, output: Path, month: dt.date | None = None
) -> Export:
    """Write the model's scores of `month` (default: its latest scored month) in
    ml.model_scores to `output` (.csv, UTF-8, or .parquet): the entity id (named as the
    registry's entity_id), score, rank, decile, the reason columns of the registry's
    n_reasons, model_version and score_month. Written beside it under a temporary name
    and renamed, so a crash never leaves a half-written file."""
    suffix = _check_output(output)
    target = project.source("ml", "model_scores")
    model = sql_literal(spec.name)
    months = sorted(
        row["score_month"]
        for row in wh.query_arrow(
            f"select distinct score_month from {target.sql} where model_name = {model}"
        ).to_pylist()
    )
    scored = ", ".join(map(str, months)) or "none"
    if month is None and not months:
        raise ScorehouseError(
            f"model '{spec.name}' has no scores in {target} (scored months: none): run "
            f"`scorehouse score --model {spec.name}` first"
        )
    month = months[-1] if month is None else month
    if month not in months:
        raise ScorehouseError(
            f"model '{spec.name}' has no scores of {month} in {target} (scored months: {scored})"
        )
    reasons = contract.reason_columns(min(spec.n_reasons, contract.max_reasons(project)))
    columns = ["entity_id", "score", *reasons, "model_version", "score_month"]
    wh.require_columns(target, columns)
    rows = wh.query_arrow(
        f"select {', '.join(columns)} from {target.sql} where model_name = {model} and "
        f"score_month = {sql_literal(month)}"
    )
    types = contract.model_scores_schema(len(reasons))
    rows = rows.select(columns).cast(pa.schema([types.field(c) for c in columns]))
    entity = spec.entity_id if spec.entity_id not in columns + ["rank", "decile"] else "entity_id"
    ranked = _ranked(rows, entity)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        if suffix == ".csv":
            pa_csv.write_csv(ranked, partial)
        else:
            pq.write_table(ranked, partial)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    versions = sorted(set(rows["model_version"].to_pylist()))
    return Export(ranked.num_rows, month, ", ".join(versions), output)
