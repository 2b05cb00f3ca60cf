"""`scorehouse train`: fit one registry model on its dbt training set and record the run."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from python_scoring import artifacts, metrics
from python_scoring.errors import ScorehouseError
from python_scoring.pipeline import build_pipeline, split_feature_types
from python_scoring.project import Project
from python_scoring.registry import ModelSpec
from python_scoring.warehouse import Warehouse, sql_literal, to_pandas

log = logging.getLogger(__name__)
SPLITS = ("train", "test", "oot")


@dataclass(frozen=True)
class TrainResult:
    spec: ModelSpec
    artifact: artifacts.Artifact
    metrics: dict[str, dict[str, float]]  # split -> {auc, ks, gini, rows, positive_rate}


def _plan_months(wh: Warehouse, spec: ModelSpec, relation) -> tuple[list[dt.date], dt.date]:
    """The in-time months (the last `train_months` before the out-of-time month) and the
    out-of-time month, read from the training set's `split` column."""
    m = spec.month_column
    counts = wh.query_arrow(
        f"select {m} as month, split, count(*) as n from {relation.sql} group by {m}, split"
    ).to_pylist()
    oot = sorted({r["month"] for r in counts if r["split"] == "oot"})
    if len(oot) != 1:
        raise ScorehouseError(
            f"{relation} must hold exactly one out-of-time month (split = 'oot'), found "
            f"{len(oot)}: is the score month's previous month in the data?"
        )
    in_time = sorted({r["month"] for r in counts if r["split"] != "oot" and r["month"] < oot[0]})
    if not in_time:
        raise ScorehouseError(f"{relation} has no in-time month before the out-of-time month")
    chosen = in_time[-spec.train_months :]
    if len(chosen) < spec.train_months:
        log.warning(
            "%s: registry asks for %d train months, the data has %d",
            spec.name,
            spec.train_months,
            len(chosen),
        )
    return chosen, oot[0]


def _evaluate(y: pd.Series, score) -> dict[str, float]:
    return {
        "rows": int(y.size),
        "positive_rate": float(y.mean()),
        "auc": metrics.auc(y, score),
        "ks": metrics.ks(y, score),
        "gini": metrics.gini(y, score),
    }


def train_model(project: Project, wh: Warehouse, spec: ModelSpec) -> TrainResult:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clock = time.perf_counter()
    relation = project.model(spec.training_set)
    columns = wh.require_columns(relation, [spec.entity_id, spec.month_column, spec.label, "split"])
    train_months, oot_month = _plan_months(wh, spec, relation)
    log.info(
        "%s: in-time months %s .. %s, out-of-time %s",
        spec.name,
        train_months[0],
        train_months[-1],
        oot_month,
    )

    # only the chosen months, converted without keeping a second copy in Arrow
    months = ", ".join(sql_literal(m) for m in [*train_months, oot_month])
    frame = to_pandas(
        wh.query_arrow(f"select * from {relation.sql} where {spec.month_column} in ({months})")
    )
    log.info(
        "%s: loaded %d rows x %d columns in %.1fs",
        spec.name,
        len(frame),
        len(columns),
        time.perf_counter() - clock,
    )
    if frame[spec.label].isna().any():
        raise ScorehouseError(f"{relation}.{spec.label} holds nulls")

    candidates = [c for c in columns if c not in spec.non_features]
    numeric, categorical = split_feature_types(frame, candidates)
    features = numeric + categorical
    masks = {split: (frame["split"] == split).to_numpy() for split in SPLITS}
    for split, mask in masks.items():
        if frame.loc[mask, spec.label].nunique() < 2:
            raise ScorehouseError(f"{relation}: split '{split}' has a single label class")

    pipeline = build_pipeline(spec, numeric, categorical)
    fit_clock = time.perf_counter()
    pipeline.fit(frame.loc[masks["train"], features], frame.loc[masks["train"], spec.label])
    log.info(
        "%s: fitted %s on %d rows in %.1fs",
        spec.name,
        spec.algorithm,
        int(masks["train"].sum()),
        time.perf_counter() - fit_clock,
    )

    results = {
        split: _evaluate(
            frame.loc[mask, spec.label].astype(int),
            pipeline.predict_proba(frame.loc[mask, features])[:, 1],
        )
        for split, mask in masks.items()
    }
    del frame
    artifact = artifacts.save(
        project.artifacts_dir,
        spec.name,
        pipeline,
        {
            "scenario": spec.scenario,
            "entity_id": spec.entity_id,
            "label": spec.label,
            "training_set": str(relation),
            "features": features,
            "numeric_features": numeric,
            "categorical_features": categorical,
            "algorithm": spec.algorithm,
            "params": pipeline.named_steps["model"].get_params(),
            "train_months": [m.isoformat() for m in train_months],
            "oot_month": oot_month.isoformat(),
            "metrics": results,
        },
    )
    _record_run(project, wh, spec, artifact, results, started)
    log.info(
        "%s: artifact %s (sha256 %s...) in %.1fs",
        spec.name,
        artifact.path,
        artifact.sha256[:12],
        time.perf_counter() - clock,
    )
    return TrainResult(spec, artifact, results)


def _record_run(
    project: Project,
    wh: Warehouse,
    spec: ModelSpec,
    artifact: artifacts.Artifact,
    results: dict[str, dict[str, float]],
    started: dt.datetime,
) -> None:
    meta = artifact.metadata
    row: dict[str, Any] = {
        "run_id": uuid.uuid4().hex,
        "model_name": spec.name,
        "model_version": artifact.version,
        "algorithm": spec.algorithm,
        "train_months": ",".join(meta["train_months"]),
        "oot_month": dt.date.fromisoformat(meta["oot_month"]),
        "rows_train": results["train"]["rows"],
        "rows_test": results["test"]["rows"],
        "rows_oot": results["oot"]["rows"],
        "positive_rate_train": results["train"]["positive_rate"],
        "features": json.dumps(meta["features"]),
        "params": json.dumps(meta["params"], default=str, sort_keys=True),
        "artifact_sha256": artifact.sha256,
        "library_versions": json.dumps(meta["library_versions"], sort_keys=True),
        "started_at": started,
        "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    for split in SPLITS:
        row[f"auc_{split}"] = results[split]["auc"]
        row[f"ks_{split}"] = results[split]["ks"]
    relation = project.source("ml", "training_runs")
    wh.require_columns(relation, row)
    wh.append(relation, pa.Table.from_pylist([row]))
