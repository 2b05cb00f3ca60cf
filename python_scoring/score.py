"""`scorehouse score`: score a month's population with the latest verified artifact and
replace that (model, month) slice of ml.model_scores atomically."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from python_scoring import artifacts
from python_scoring.errors import ScorehouseError
from python_scoring.pipeline import feature_names, model_input
from python_scoring.project import Project
from python_scoring.reasons import attribution_for, top_reasons
from python_scoring.registry import ModelSpec
from python_scoring.warehouse import Warehouse, sql_literal, to_pandas

log = logging.getLogger(__name__)
SCORE_COLUMNS = ("model_name", "model_version", "score_month", "entity_id", "score", "scored_at")
BATCH_ROWS = 200_000  # rows held in memory at once while scoring (read, score, write)


@dataclass(frozen=True)
class ScoreResult:
    spec: ModelSpec
    version: str
    month: dt.date
    rows: int
    seconds: float


def _check_month(wh: Warehouse, spec: ModelSpec, relation, month: dt.date | None) -> dt.date:
    m = spec.month_column
    present = wh.query_arrow(
        f"select {m} as month, count(*) as n, count(distinct {spec.entity_id}) as ids "
        f"from {relation.sql} group by {m}"
    ).to_pylist()
    if not present:
        raise ScorehouseError(f"{relation} is empty: no population to score")
    months = sorted(r["month"] for r in present)
    if month is None:
        if len(months) != 1:
            raise ScorehouseError(
                f"{relation} holds several months ({months[0]} .. {months[-1]}): pass --month"
            )
        month = months[0]
    row = next((r for r in present if r["month"] == month), None)
    if row is None:
        raise ScorehouseError(
            f"month {month} is not in {relation} (it holds {', '.join(map(str, months))}); "
            f"rebuild it with dbt build --vars '{{score_month: {month}}}'"
        )
    if row["ids"] != row["n"]:
        raise ScorehouseError(
            f"{relation} has {row['n'] - row['ids']} duplicate {spec.entity_id} value(s) in "
            f"month {month}: refusing to score"
        )
    return month


def latest_scoring_versions(project: Project, wh: Warehouse) -> dict[str, set[str]]:
    """Per model, the artifact version(s) that wrote its latest score month."""
    scores = project.source("ml", "model_scores").sql
    rows = wh.query_arrow(
        f"select distinct s.model_name, s.model_version from {scores} as s "
        f"where s.score_month = (select max(score_month) from {scores} as latest "
        f"where latest.model_name = s.model_name)"
    ).to_pylist()
    versions: dict[str, set[str]] = {}
    for row in rows:
        versions.setdefault(row["model_name"], set()).add(row["model_version"])
    return versions


def _verified_artifact(project: Project, wh: Warehouse, spec: ModelSpec, version: str | None):
    """The artifact to score with: the given version, else the newest one that training
    recorded in ml.training_runs; its sha256 must match that record too (a model file
    changed together with its metadata.json is still refused)."""
    runs = project.source("ml", "training_runs")
    recorded = {
        row["model_version"]: row
        for row in wh.query_arrow(
            f"select model_version, artifact_sha256, oot_month, train_months from {runs.sql} "
            f"where model_name = {sql_literal(spec.name)}"
        ).to_pylist()
    }
    on_disk = artifacts.versions(project.artifacts_dir, spec.name)
    if version is None:
        usable = [v for v in on_disk if v in recorded]
        if not usable:
            raise ScorehouseError(
                f"no artifact of model '{spec.name}' under {project.artifacts_dir} is "
                f"recorded in {runs}: run `scorehouse train --model {spec.name}`"
            )
        version = usable[-1]
    elif version not in recorded:
        raise ScorehouseError(f"version '{version}' of '{spec.name}' is not recorded in {runs}")
    artifact, pipeline = artifacts.load(project.artifacts_dir, spec.name, version)
    if recorded[version]["artifact_sha256"] != artifact.sha256:
        raise ScorehouseError(
            f"artifact {artifact.path} does not match the sha256 recorded in {runs} "
            f"({recorded[version]['artifact_sha256'][:12]}...): refusing a modified artifact"
        )
    run = recorded[version]
    # the last month whose labels training saw (a model without out-of-time month: the
    # last in-time month)
    last_month = run["oot_month"] or max(
        dt.date.fromisoformat(m) for m in run["train_months"].split(",")
    )
    return artifact, pipeline, last_month


def score_model(
    project: Project,
    wh: Warehouse,
    spec: ModelSpec,
    month: dt.date | None = None,
    version: str | None = None,
    n_reasons: int | None = None,
) -> ScoreResult:
    clock = time.perf_counter()
    k = spec.n_reasons if n_reasons is None else n_reasons
    max_reasons = int(project.var("max_reasons", 5))
    if not 0 <= k <= max_reasons:
        raise ScorehouseError(f"--n-reasons must be between 0 and {max_reasons}, got {k}")
    artifact, pipeline, oot_month = _verified_artifact(project, wh, spec, version)
    features = artifact.metadata["features"]
    relation = project.model(spec.scoring_input)
    wh.require_columns(relation, [spec.entity_id, spec.month_column, *features])
    month = _check_month(wh, spec, relation, month)
    if month <= oot_month:
        raise ScorehouseError(
            f"version {artifact.version} of '{spec.name}' learned from labels up to "
            f"{oot_month} + 1 month; scoring {month} with it would use the future: "
            "score with a version trained before that month (--version)"
        )
    target = project.source("ml", "model_scores")
    reason_columns = [f"reason_{i}" for i in range(1, k + 1)]
    wh.require_columns(target, [*SCORE_COLUMNS, *reason_columns])
    model = pipeline.named_steps["model"]
    attribution = attribution_for(model) if k else None
    names = feature_names(pipeline)
    scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    columns = ", ".join([spec.entity_id, *features])
    sql = f"select {columns} from {relation.sql} where {spec.month_column} = {sql_literal(month)}"
    rows = 0

    def scored_batches():
        nonlocal rows
        for batch in wh.stream(sql, BATCH_ROWS):
            frame = to_pandas(batch)
            transformed = model_input(pipeline, frame[features])
            score = model.predict_proba(transformed)[:, 1]
            result = {
                "model_name": pa.array(np.full(len(frame), spec.name)),
                "model_version": pa.array(np.full(len(frame), artifact.version)),
                "score_month": pa.array(np.full(len(frame), month), pa.date32()),
                "entity_id": pa.array(frame[spec.entity_id].astype(str).to_numpy()),
                "score": pa.array(score, pa.float64()),
                "scored_at": pa.array(np.full(len(frame), scored_at), pa.timestamp("us")),
            }
            if attribution is not None:
                contributions = attribution.contributions(transformed)
                for i, reason in enumerate(top_reasons(contributions, names, k), start=1):
                    result[f"reason_{i}"] = pa.array(reason, pa.string())
            table = pa.table(result)
            rows += len(frame)
            log.info("%s: scored %d rows", spec.name, rows)
            yield table
        if rows == 0:  # raised inside the write: the previous slice is kept
            raise ScorehouseError(f"no rows to score in {relation} for month {month}")

    # batches are written as they are scored, inside one transaction: memory holds one
    # batch, and a failure part-way leaves the previous slice as it was
    wh.replace_slice(target, {"model_name": spec.name, "score_month": month}, scored_batches())
    seconds = time.perf_counter() - clock
    log.info(
        "%s: wrote %d scores for %s (version %s) to %s in %.1fs",
        spec.name,
        rows,
        month,
        artifact.version,
        target,
        seconds,
    )
    return ScoreResult(spec, artifact.version, month, rows, seconds)
