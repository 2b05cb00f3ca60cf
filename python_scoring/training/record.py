"""A training run into the warehouse: ml.training_runs, ml.model_metrics,
ml.model_curves and ml.score_baselines in one transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import numpy as np
import pyarrow as pa

from python_scoring import artifacts, contract
from python_scoring.features import metrics, stats
from python_scoring.project import Project
from python_scoring.registry import ModelSpec
from python_scoring.training.plan import SPLITS
from python_scoring.warehouse import Warehouse


def record_run(
    project: Project,
    wh: Warehouse,
    spec: ModelSpec,
    artifact: artifacts.Artifact,
    results: dict[str, dict[str, float]],
    started: dt.datetime,
    reference_scores: np.ndarray,
    scored: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Record the run. `scored`: per evaluated split (train, test, oot), its labels and
    scores, whose curves go to ml.model_curves."""
    meta = artifact.metadata
    run_id = uuid.uuid4().hex
    row: dict[str, Any] = {
        "run_id": run_id,
        "model_name": spec.name,
        "model_version": artifact.version,
        "algorithm": meta.get("algorithm", spec.algorithm),  # search: auto's choice
        "train_months": ",".join(meta["train_months"]),
        "oot_month": dt.date.fromisoformat(meta["oot_month"]) if meta["oot_month"] else None,
        "positive_rate_train": results["train"]["positive_rate"],
        "features": json.dumps(meta["features"]),
        "dropped_features": json.dumps(meta["dropped_features"]),
        "derived_features": json.dumps(meta["derived_features"]),
        "params": json.dumps(
            {"estimator": meta["params"], "search": meta["search"], "imbalance": spec.imbalance},
            default=str,
            sort_keys=True,
        ),
        "rows_available": meta["rows_available"],
        "sample_fraction": meta["sample_fraction"],
        "data_fingerprint": meta["data_fingerprint"],
        "cv_auc": results["cv"]["auc"] if "cv" in results else None,
        # the digest of model.joblib and metadata.json: scoring's trust anchor
        "artifact_sha256": artifact.digest,
        "library_versions": json.dumps(meta["library_versions"], sort_keys=True),
        "started_at": started,
        "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    for split in SPLITS:
        split_result = results.get(split, {})
        row[f"rows_{split}"] = split_result.get("rows")
        row[f"auc_{split}"] = split_result.get("auc")
        row[f"ks_{split}"] = split_result.get("ks")
    relation = project.source("ml", "training_runs")
    wh.require_columns(relation, row)
    metric_rows = metrics_rows(run_id, spec.name, artifact.version, results)
    metrics_relation = project.source("ml", "model_metrics")
    wh.require_columns(metrics_relation, metric_rows[0])
    curve_records = [
        record
        for split, (labels, scores) in scored.items()
        for record in curve_rows(run_id, spec.name, artifact.version, split, labels, scores)
    ]
    curves_relation = project.source("ml", "model_curves")
    wh.require_columns(curves_relation, contract.SCHEMAS["model_curves"].names)
    baselines = project.source("ml", "score_baselines")
    wh.require_columns(baselines, ["run_id", "bin", "upper_edge", "baseline_share"])
    # one transaction: a run is recorded with its metrics, curves and baseline or not at
    # all (scoring only uses versions recorded in training_runs: last, for Spark, which
    # inserts table by table)
    wh.append_all(
        [
            (metrics_relation, contract.table("model_metrics", metric_rows)),
            (curves_relation, contract.table("model_curves", curve_records)),
            (baselines, _score_baseline(run_id, spec.name, artifact.version, reference_scores)),
            (relation, contract.table("training_runs", [row])),
        ]
    )


def _score_baseline(run_id: str, model: str, version: str, scores: np.ndarray) -> pa.Table:
    """Decile cut points of the reference scores and each bin's share (stats binning:
    right-closed bins, the last one open), the baseline of score_monitoring's PSI."""
    cuts = stats.equal_frequency_cuts(scores, 10)
    shares = np.bincount(stats.assign_bins(scores, cuts), minlength=cuts.size + 1) / scores.size
    return contract.table(
        "score_baselines",
        {
            "run_id": [run_id] * shares.size,
            "model_name": [model] * shares.size,
            "model_version": [version] * shares.size,
            "bin": np.arange(shares.size),
            "upper_edge": [*cuts.tolist(), None],
            "baseline_share": shares,
        },
    )


def _key(run_id: str, model: str, version: str, split: str) -> dict[str, str]:
    """The columns ml.model_metrics and ml.model_curves rows start with."""
    return {"run_id": run_id, "model_name": model, "model_version": version, "split": split}


def metrics_rows(
    run_id: str, model: str, version: str, results: dict[str, dict[str, float]]
) -> list[dict]:
    """ml.model_metrics rows (long format): one per split and metric."""
    return [
        {**_key(run_id, model, version, split), "metric": metric, "value": float(value)}
        for split, values in results.items()
        for metric, value in values.items()
    ]


def curve_rows(
    run_id: str, model: str, version: str, split: str, y: np.ndarray, score: np.ndarray
) -> list[dict]:
    """ml.model_curves rows of one split: the points of its curves (metrics.curves)."""
    key = _key(run_id, model, version, split)
    return [
        {**key, "curve": curve, "point": point, "x": x, "y": y_value}
        for curve, point, x, y_value in metrics.curves(y, score)
    ]
