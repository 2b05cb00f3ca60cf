"""`scorehouse train`: fit one registry model on its dbt training set and record the run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from python_scoring import artifacts, tracking
from python_scoring.errors import ScorehouseError
from python_scoring.features.blend import ProbabilityBlend
from python_scoring.features.boosting import EarlyStoppedLGBMClassifier
from python_scoring.features.pipeline import pipeline_summary, split_feature_types
from python_scoring.privacy import identifier_names
from python_scoring.project import Project
from python_scoring.registry import ModelSpec
from python_scoring.training.fit import cross_validate, evaluate, fit_function
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
    # a clear identifier is never a feature (docs/privacy.md): a model would learn people
    leaking = sorted((set(columns) - spec.non_features) & identifier_names(project.manifest))
    if leaking:
        raise ScorehouseError(
            f"training '{spec.name}': {relation} has {', '.join(leaking)}, classified "
            "pii: identifier in its source, among the model's inputs: leave it out of the "
            "training set (docs/privacy.md)"
        )
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
    masks = _split_masks(frame, spec, relation, oot_month is not None)

    fit = fit_function(spec)
    X_train = frame.loc[masks["train"], features]
    y_train = frame.loc[masks["train"], spec.label].astype(int)
    fit_clock = time.perf_counter()
    try:
        groups = frame.loc[masks["train"], spec.entity_id].to_numpy()
        pipeline, search_result = fit(X_train, y_train, groups)
    except ValueError as exc:  # e.g. no feature reaches iv_limit
        raise ScorehouseError(f"training '{spec.name}' on {relation}: {exc}") from exc
    stages["fit"] = time.perf_counter() - fit_clock
    algorithm = search_result["chosen"] if search_result and "chosen" in search_result else None
    algorithm = algorithm or spec.algorithm
    model = pipeline.named_steps["model"]
    log.info(
        "%s: fitted %s on %d rows in %.1fs%s",
        spec.name,
        algorithm,
        int(masks["train"].sum()),
        stages["fit"],
        _chosen_trees(model),
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
    results, reference_scores, scored = {}, None, {}
    for split, mask in masks.items():
        score = pipeline.predict_proba(frame.loc[mask, features])[:, 1]
        labels = frame.loc[mask, spec.label].astype(int)
        results[split] = evaluate(labels, score, spec.threshold)
        scored[split] = (labels.to_numpy(), score)  # for ml.model_curves
        reference_scores = score  # the last split: out-of-time, else test, else train
    if spec.cv_folds:
        in_time = masks["train"] | masks.get("test", False)
        try:
            results["cv"], outer = cross_validate(
                spec,
                fit,
                frame.loc[in_time, features],
                frame.loc[in_time, spec.label].astype(int),
                frame.loc[in_time, spec.entity_id].to_numpy(),
            )
        except ValueError as exc:
            raise ScorehouseError(f"cross-validating '{spec.name}' on {relation}: {exc}") from exc
        if search_result is not None:
            search_result["outer_folds"] = outer  # the selection, rerun in every fold
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
            "algorithm": algorithm,
            "imbalance": spec.imbalance,
            "params": model_params(model),
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
    record_run(project, wh, spec, artifact, results, started, reference_scores, scored)
    tracking.log_training_run(spec, artifact, results)
    log.info(
        "%s: artifact %s (digest %s...) in %.1fs",
        spec.name,
        artifact.path,
        artifact.digest[:12],
        time.perf_counter() - clock,
    )
    return TrainResult(spec, artifact, results)


def _split_masks(frame, spec: ModelSpec, relation, with_oot: bool) -> dict:
    """Rows of each split evaluated. An empty test split is left out: the model is fitted
    on all in-time rows and judged by cross-validation and/or the out-of-time month
    (refused when there is neither). A split with rows of one class only is refused."""
    masks = {
        split: (frame["split"] == split).to_numpy()
        for split in SPLITS
        if split != "oot" or with_oot
    }
    if not masks["test"].any():
        if not spec.cv_folds and not with_oot:
            raise ScorehouseError(
                f"{relation}: split 'test' is empty and '{spec.name}' has neither cv_folds "
                "nor an out-of-time month to be evaluated by: set cv_folds: 5 (or "
                "out_of_time: true with a later month) in its registry entry, or put some "
                "rows in split 'test'"
            )
        del masks["test"]
        log.info(
            "%s: split 'test' is empty: fitting on all %d in-time rows, evaluated by %s",
            spec.name,
            int(masks["train"].sum()),
            " and ".join(
                what
                for what, on in (
                    (f"{spec.cv_folds}-fold CV", spec.cv_folds),
                    ("the out-of-time month", with_oot),
                )
                if on
            ),
        )
    for split, mask in masks.items():
        if frame.loc[mask, spec.label].nunique() < 2:
            raise ScorehouseError(f"{relation}: split '{split}' has a single label class")
    return masks


def model_params(model) -> dict:
    """The estimator's parameters for the artifact metadata and ml.training_runs, with
    what fitting chose (the early-stopped LightGBM's trees and leaves); a blend's as
    {tree: ..., linear: ..., tree_weight}."""
    if isinstance(model, ProbabilityBlend):
        return {
            "tree": model_params(model.tree_),
            "linear": model_params(model.linear_),
            "tree_weight": model.tree_weight,
        }
    params = model.get_params()
    if isinstance(model, EarlyStoppedLGBMClassifier):
        params.update(model.chosen_params())
    return params


def _chosen_trees(model) -> str:
    """', early stopping chose N trees ...' for the log (the blend's tree member's too)."""
    member = model.tree_ if isinstance(model, ProbabilityBlend) else model
    if not isinstance(member, EarlyStoppedLGBMClassifier):
        return ""
    chosen = member.chosen_params()
    return (
        f"; early stopping chose {chosen['n_estimators_chosen']} trees of "
        f"{chosen['num_leaves_chosen']} leaves (best iteration "
        f"{chosen['best_iteration_search']} on the validation share)"
    )
