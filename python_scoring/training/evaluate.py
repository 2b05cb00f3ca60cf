"""`scorehouse evaluate`: a trained model judged on other labelled rows than its own.

The rows are a warehouse relation (a dbt model's name, `source.table` as a dbt source
declares it, or `schema.table`: `from_relation`) or a file (`from_file`, on the table
`python_scoring.load.read_table` reads). They must hold the model's input feature columns
and its label (0/1, or booleans: true/false, yes/no). A verified artifact (the latest
usable version: scoring's `verified_artifact`) scores them (`evaluate_model`); the
metrics of a training split (AUC, KS, Gini, lift, ...) are recorded in ml.model_metrics,
and its curves in ml.model_curves, under the split `evaluate:<name>` for that version.
jobs/steps.py `evaluate` puts the pieces together (this room reads neither files nor
artifacts by itself).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from python_scoring import contract
from python_scoring.artifacts import Artifact
from python_scoring.errors import ScorehouseError
from python_scoring.features.pipeline import check_input_types, trained_kinds
from python_scoring.project import Project, Relation
from python_scoring.registry import ModelSpec
from python_scoring.training.fit import evaluate
from python_scoring.training.record import curve_rows, metrics_rows
from python_scoring.warehouse import Warehouse, to_pandas

log = logging.getLogger(__name__)

SPLIT_PREFIX = "evaluate:"
# text a boolean column may hold, lower-cased: true side, false side
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}
# names that are files, not relations, even when the file does not exist
_FILE_SUFFIXES = {".csv", ".tsv", ".txt", ".del", ".xlsx", ".xls", ".ods", ".parquet"}


@dataclass(frozen=True)
class EvaluateResult:
    spec: ModelSpec
    version: str
    split: str  # evaluate:<name>
    metrics: dict[str, float]


def is_file(on: str) -> bool:
    """`--on` names a file (an existing one, or a path or a file name by its look)."""
    path = Path(on)
    return path.is_file() or path.suffix.lower() in _FILE_SUFFIXES or "/" in on or "\\" in on


def _relation(project: Project, wh: Warehouse, on: str) -> Relation:
    """A dbt model's relation, a dbt source table, or schema.table in the warehouse."""
    if "." not in on:
        return project.model(on)
    first, _, second = on.partition(".")
    if any(
        node["source_name"] == first and node["name"] == second
        for node in project.manifest["sources"].values()
    ):
        return project.source(first, second)
    relation = Relation(None, first, second)
    if not wh.exists(relation):
        raise ScorehouseError(
            f"'{on}' is neither a dbt source table (source.table) nor a table of the warehouse "
            "(schema.table); give a dbt model's name, source.table, schema.table or a file"
        )
    return relation


def _missing(
    spec: ModelSpec, where: str, present: list[str], features: list[str]
) -> ScorehouseError | None:
    missing = [c for c in features if c not in present]
    label = [] if spec.label in present else [spec.label]
    if not missing and not label:
        return None
    parts = []
    if missing:
        parts.append(f"feature column(s) {', '.join(missing)}")
    if label:
        parts.append(f"label column {spec.label}")
    return ScorehouseError(
        f"{where} lacks the {' and the '.join(parts)} of model '{spec.name}' (its input "
        f"features: {', '.join(features)})"
    )


def _label(values: pd.Series, spec: ModelSpec, where: str) -> pd.Series:
    """0/1 from numbers 0/1, booleans, or their text (true/false, yes/no, t/f, y/n, 1/0)."""
    if values.isna().any():
        raise ScorehouseError(
            f"{where}: label column {spec.label} is null on {int(values.isna().sum())} row(s)"
        )
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(int)
    if pd.api.types.is_numeric_dtype(values.dtype):
        if values.isin([0, 1]).all():
            return values.astype(int)
    else:
        text = values.astype(str).str.strip().str.lower()
        if text.isin(_TRUE | _FALSE).all():
            return text.isin(_TRUE).astype(int)
    seen = ", ".join(repr(v) for v in pd.unique(values)[:5])
    raise ScorehouseError(
        f"{where}: label column {spec.label} must hold 0/1 or booleans (true/false, yes/no), "
        f"found {seen}"
    )


def _as_trained(frame: pd.DataFrame, kinds: dict[str, str], where: str) -> pd.DataFrame:
    """A file's text columns where the model learned numbers, made numbers: numbers
    written as text (blank: null) and booleans written as text (yes/no, true/false: 1/0).
    Anything else stays as it is, for check_input_types to refuse with its name."""
    for col, kind in kinds.items():
        if col not in frame.columns or kind != "numeric":
            continue
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        text = series.astype("string").str.strip()
        text = text.mask(text == "")
        lowered = text.str.lower()
        present = lowered.dropna()
        if len(present) and present.isin(_TRUE | _FALSE).all():
            frame[col] = lowered.map(lambda v: np.nan if pd.isna(v) else float(v in _TRUE))
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numbers.isna()
        if bad.any():
            raise ScorehouseError(
                f"{where}: feature column {col} holds {text[bad].iloc[0]!r} where the model "
                "was trained on numbers"
            )
        frame[col] = numbers.astype("float64")
    return frame


@dataclass(frozen=True)
class Rows:
    """The labelled rows to evaluate on: the model's feature columns and its label."""

    frame: pd.DataFrame
    where: str  # the file or relation, as messages name it
    name: str  # the default NAME of the split evaluate:NAME


def from_file(table: pa.Table, path: Path, spec: ModelSpec, features: list[str]) -> Rows:
    """A file's rows (`python_scoring.load.read_table`'s table), checked for the columns."""
    error = _missing(spec, str(path), table.column_names, features)
    if error:
        raise error
    columns = list(dict.fromkeys([*features, spec.label]))
    return Rows(to_pandas(table.select(columns)), str(path), path.stem)


def from_relation(
    project: Project, wh: Warehouse, spec: ModelSpec, features: list[str], on: str
) -> Rows:
    """The rows of a dbt model, a dbt source table or schema.table, checked for the
    columns before they are read."""
    relation = _relation(project, wh, on)
    error = _missing(spec, str(relation), wh.columns(relation), features)
    if error:
        raise error
    columns = ", ".join(dict.fromkeys([*features, spec.label]))
    frame = to_pandas(wh.query_arrow(f"select {columns} from {relation.sql}"))
    return Rows(frame, str(relation), on)


def evaluate_model(
    project: Project,
    wh: Warehouse,
    spec: ModelSpec,
    artifact: Artifact,
    pipeline: Any,
    rows: Rows,
    name: str | None = None,
) -> EvaluateResult:
    """Score `rows` with a verified artifact of the model (scoring's verified_artifact),
    record the metrics in ml.model_metrics and the curves in ml.model_curves (split
    evaluate:<name>) and return the metrics."""
    features = list(artifact.metadata["features"])
    frame, where = rows.frame, rows.where
    if frame.empty:
        raise ScorehouseError(f"{where} has no rows to evaluate '{spec.name}' on")
    y = _label(frame[spec.label], spec, where)
    if y.nunique() < 2:
        raise ScorehouseError(
            f"{where}: label column {spec.label} holds one class only ({int(y.iloc[0])}): "
            "AUC needs both"
        )
    X = _as_trained(frame[features].copy(), trained_kinds(pipeline), where)
    X = check_input_types(pipeline, X, where)
    score = pipeline.predict_proba(X)[:, 1]
    metrics = evaluate(y, score, spec.threshold)
    split = f"{SPLIT_PREFIX}{name or rows.name}"
    run_id = uuid.uuid4().hex
    records = metrics_rows(run_id, spec.name, artifact.version, {split: metrics})
    target = project.source("ml", "model_metrics")
    wh.require_columns(target, records[0])
    points = curve_rows(run_id, spec.name, artifact.version, split, y.to_numpy(), score)
    curves = project.source("ml", "model_curves")
    wh.require_columns(curves, contract.SCHEMAS["model_curves"].names)
    # one transaction: the metrics and curves of an evaluation are recorded together
    wh.append_all(
        [
            (target, contract.table("model_metrics", records)),
            (curves, contract.table("model_curves", points)),
        ]
    )
    log.info(
        "%s %s on %s (%d rows): AUC %.4f, recorded in %s as split %s",
        spec.name,
        artifact.version,
        where,
        metrics["rows"],
        metrics["auc"],
        target,
        split,
    )
    return EvaluateResult(spec, artifact.version, split, metrics)
