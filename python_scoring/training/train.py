"""`scorehouse train`: fit one registry model on its dbt training set and record the run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from python_scoring import artifacts, tracking
from python_scoring.errors import ScorehouseError
from python_scoring.features.pipeline import build_pipeline, pipeline_summary, split_feature_types
from python_scoring.project import Project
from python_scoring.registry import ModelSpec
from python_scoring.training.fit import cross_validate, evaluate, tune
from python_scoring.training.plan import (
    SPLITS,
    data_fingerprint,
    load_sql,
    plan_months,
    sampling_fraction,
)
from python_scoring.training.record import record_run
from python_scoring.warehouse import Warehouse, to_pandas

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    spec: ModelSpec
    artifact: artifacts.Artifact
    metrics: dict[str, dict[str, float]]  # split -> {auc, ks, gini, rows, positive_rate}


def train_model(project: Project, wh: Warehouse, spec: ModelSpec) -> TrainResult:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clock = time.perf_counter()
    stages: dict[str, float] = {}
    relation = project.model(spec.training_set)
    columns = wh.require_columns(relation, [spec.entity_id, spec.month_column, spec.label, "split"])
    train_months, oot_month, counts = plan_months(wh, spec, relation)
    log.info(
        "%s (%s): in-time months %s .. %s, out-of-time %s",
        spec.name,
        spec.algorithm,
        train_months[0],
        train_months[-1],
        oot_month or "none",
    )

    # memory guard: estimate before loading, sample if over the budget
    available = sum(
        n
        for (month, split, _), n in counts.items()
        if (month in train_months and split != "oot") or month == oot_month
    )
    fraction = sampling_fraction(spec, available, len(columns))
    frame = to_pandas(
        wh.query_arrow(load_sql(wh, spec, relation, columns, train_months, oot_month, fraction))
    )
    stages["load"] = time.perf_counter() - clock
    log.info(
        "%s: loaded %d of %d rows x %d columns in %.1fs",
        spec.name,
        len(frame),
        available,
        len(columns),
        stages["load"],
    )
    if frame[spec.label].isna().any():
        raise ScorehouseError(f"{relation}.{spec.label} holds nulls")
    if not frame[spec.label].isin([0, 1]).all():
        raise ScorehouseError(f"{relation}.{spec.label} must hold only 0 and 1")
    fingerprint = data_fingerprint(frame, spec, columns)

    # by name: the warehouse's column order differs by engine (Spark puts partition
    # columns last) and must not change the model
    candidates = sorted(c for c in columns if c not in spec.non_features)
    numeric, categorical = split_feature_types(frame, candidates)
    features = numeric + categorical
    splits = [s for s in SPLITS if s != "oot" or oot_month is not None]
    masks = {split: (frame["split"] == split).to_numpy() for split in splits}
    for split, mask in masks.items():
        if frame.loc[mask, spec.label].nunique() < 2:
            raise ScorehouseError(f"{relation}: split '{split}' has a single label class")

    pipeline = build_pipeline(spec)
    X_train = frame.loc[masks["train"], features]
    y_train = frame.loc[masks["train"], spec.label].astype(int)
    search_result = None
    fit_clock = time.perf_counter()
    try:
        if spec.search is not None:
            groups = frame.loc[masks["train"], spec.entity_id].to_numpy()
            pipeline, search_result = tune(spec, pipeline, X_train, y_train, groups)
        else:
            pipeline.fit(X_train, y_train)
    except ValueError as exc:  # e.g. no feature reaches iv_limit
        raise ScorehouseError(f"training '{spec.name}' on {relation}: {exc}") from exc
    stages["fit"] = time.perf_counter() - fit_clock
    log.info(
        "%s: fitted %s on %d rows in %.1fs",
        spec.name,
        spec.algorithm,
        int(masks["train"].sum()),
        stages["fit"],
    )
    kept = pipeline_summary(pipeline)
    if kept["dropped_features"] or kept["derived_features"]:
        log.info(
            "%s: %d feature(s) below iv_limit %.3g dropped, %d derived kept: %s",
            spec.name,
            len(kept["dropped_features"]),
            spec.iv_limit,
            len(kept["derived_features"]),
            ", ".join(d["name"] for d in kept["derived_features"]) or "none",
        )

    eval_clock = time.perf_counter()
    results, reference_scores = {}, None
    for split, mask in masks.items():
        score = pipeline.predict_proba(frame.loc[mask, features])[:, 1]
        results[split] = evaluate(frame.loc[mask, spec.label].astype(int), score, spec.threshold)
        reference_scores = score  # the last split: out-of-time when there is one, else test
    if spec.cv_folds:
        in_time = masks["train"] | masks["test"]
        results["cv"] = cross_validate(
            spec,
            pipeline,
            frame.loc[in_time, features],
            frame.loc[in_time, spec.label].astype(int),
            frame.loc[in_time, spec.entity_id].to_numpy(),
        )
    stages["evaluate"] = time.perf_counter() - eval_clock
    del frame, X_train, y_train
    used = pipeline.named_steps.get("screen")
    input_features = list(used.features_) if used is not None else features
    artifact = artifacts.save(
        project.artifacts_dir,
        spec.name,
        pipeline,
        {
            "scenario": spec.scenario,
            "entity_id": spec.entity_id,
            "label": spec.label,
            "training_set": str(relation),
            "features": input_features,
            # every typed column of the training set, before screening
            "candidates": {"numeric": numeric, "categorical": categorical},
            **kept,
            "algorithm": spec.algorithm,
            "imbalance": spec.imbalance,
            "params": pipeline.named_steps["model"].get_params(),
            "search": search_result,
            "train_months": [m.isoformat() for m in train_months],
            "oot_month": oot_month.isoformat() if oot_month else None,
            "rows_available": available,
            "sample_fraction": fraction,
            "data_fingerprint": fingerprint,
            "metrics": results,
            "stage_seconds": stages,
        },
    )
    record_run(project, wh, spec, artifact, results, started, reference_scores)
    tracking.log_training_run(spec, artifact, results)
    log.info(
        "%s: artifact %s (digest %s...) in %.1fs",
        spec.name,
        artifact.path,
        artifact.digest[:12],
        time.perf_counter() - clock,
    )
    return TrainResult(spec, artifact, results)
