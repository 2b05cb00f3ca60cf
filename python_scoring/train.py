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


def _evaluate(y: pd.Series, score, threshold: float) -> dict[str, float]:
    """Every metric of one split, flat (metric name -> value), as ml.model_metrics holds it."""
    result = {
        "rows": int(y.size),
        "positive_rate": float(y.mean()),
        "auc": metrics.auc(y, score),
        "ks": metrics.ks(y, score),
        "gini": metrics.gini(y, score),
    }
    result.update({f"{k}_top10": v for k, v in metrics.at_top(y, score, 0.1).items()})
    result.update(
        {f"{k}_at_threshold": v for k, v in metrics.at_threshold(y, score, threshold).items()}
    )
    for row in metrics.decile_table(y, score):
        for name in ("lift", "positive_rate", "cumulative_lift"):
            result[f"{name}_decile_{row['decile']}"] = row[name]
    return result


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
            spec.threshold,
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
    run_id = uuid.uuid4().hex
    row: dict[str, Any] = {
        "run_id": run_id,
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
    metric_rows = [
        {
            "run_id": run_id,
            "model_name": spec.name,
            "model_version": artifact.version,
            "split": split,
            "metric": metric,
            "value": float(value),
        }
        for split, values in results.items()
        for metric, value in values.items()
    ]
    metrics_relation = project.source("ml", "model_metrics")
    wh.require_columns(metrics_relation, metric_rows[0])
    wh.append(metrics_relation, pa.Table.from_pylist(metric_rows))
    # the run row last: scoring only uses versions recorded here, so a run whose metrics
    # failed to write is never scored
    wh.append(relation, pa.Table.from_pylist([row]))


def format_metrics(results: dict[str, dict[str, float]], threshold: float) -> str:
    """The evaluation as a small table for the console."""
    rows = [
        ("rows", "{:,.0f}", "rows"),
        ("positive rate", "{:.4f}", "positive_rate"),
        ("AUC", "{:.4f}", "auc"),
        ("KS", "{:.4f}", "ks"),
        ("Gini", "{:.4f}", "gini"),
        ("precision @ top 10%", "{:.4f}", "precision_top10"),
        ("recall @ top 10%", "{:.4f}", "recall_top10"),
        ("lift @ top 10%", "{:.2f}", "lift_top10"),
        (f"precision @ {threshold:g}", "{:.4f}", "precision_at_threshold"),
        (f"recall @ {threshold:g}", "{:.4f}", "recall_at_threshold"),
        (f"TP / FP @ {threshold:g}", None, None),
    ]
    lines = ["  " + " " * 22 + "".join(f"{split:>12}" for split in SPLITS)]
    for label, fmt, key in rows:
        if key is None:
            cells = [
                f"{results[s]['tp_at_threshold']:,.0f}/{results[s]['fp_at_threshold']:,.0f}"
                for s in SPLITS
            ]
        else:
            cells = [fmt.format(results[s][key]) for s in SPLITS]
        lines.append(f"  {label:<22}" + "".join(f"{c:>12}" for c in cells))
    lifts = " ".join(f"{results['oot'][f'lift_decile_{d}']:.2f}" for d in range(1, 11))
    lines.append(f"  OOT lift by decile    {lifts}")
    return "\n".join(lines)
