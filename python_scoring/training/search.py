"""`search: auto`: which family of model fits this training set best.

The candidates, in the order they are started (a registry entry's screening, derivation
and imbalance apply to each; its algorithm, encoding and params do not):

    lightgbm                      the early-stopped LightGBM (features/boosting.py)
    logistic_regression           standardised numbers, one-hot text
    logistic_regression_woe       the scorecard: every column as its bin's weight of evidence
    logistic_regression_spline    numbers as spline bases (SplineNumbers), one-hot text
    random_forest                 the registry's random forest defaults

Each is scored by its mean AUC over `search.cv` inner folds of the rows it is given
(stratified by label, grouped by entity id, seeded); then the blend of the best tree model
and the best linear model (the mean of their probabilities, features/pipeline.py
ProbabilityBlend) is scored on the same folds from their out-of-fold predictions. The best
of all is refitted on every row. No candidate is started once the time budget is spent
(the first always is), and the log says which were not.

The selection is a fitting procedure like any other: the training run's cross-validation
runs it anew inside every outer fold (training/fit.py cross_validate), so the reported CV
AUC is that of the procedure, not of the candidate that won on these rows.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from python_scoring.features import metrics
from python_scoring.features.pipeline import build_blend, build_pipeline
from python_scoring.registry import ModelSpec

log = logging.getLogger(__name__)

TREES = ("lightgbm", "random_forest")
BLEND = "blend"


def candidates(spec: ModelSpec) -> dict[str, ModelSpec]:
    """The candidate specs of a registry entry, in the order they are started."""
    base = dataclasses.replace(spec, params={}, search=None, encoding="onehot")
    linear = dataclasses.replace(base, algorithm="logistic_regression")
    return {
        "lightgbm": dataclasses.replace(base, algorithm="lightgbm"),
        "logistic_regression": linear,
        "logistic_regression_woe": dataclasses.replace(linear, encoding="woe"),
        "logistic_regression_spline": dataclasses.replace(linear, encoding="spline"),
        "random_forest": dataclasses.replace(base, algorithm="random_forest"),
    }


def auto_search(
    spec: ModelSpec,
    X: pd.DataFrame,
    y: pd.Series,
    groups: np.ndarray,
    budget_seconds: float,
) -> tuple[Any, dict[str, Any]]:
    """The best candidate by inner cross-validated AUC, refitted on all rows, and what the
    search did (chosen family, every candidate's inner AUC and seconds, the ones not
    started, the time spent)."""
    assert spec.search is not None
    clock = time.perf_counter()
    folds = list(
        StratifiedGroupKFold(n_splits=spec.search.cv, shuffle=True, random_state=spec.seed).split(
            X, y, groups
        )
    )
    specs = candidates(spec)
    predictions: dict[str, list[np.ndarray]] = {}
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    failed: dict[str, str] = {}
    not_started: list[str] = []
    for name, candidate in specs.items():
        if scores and time.perf_counter() - clock > budget_seconds:
            not_started.append(name)
            continue
        started = time.perf_counter()
        try:
            predictions[name] = [
                build_pipeline(candidate)
                .fit(X.iloc[fit_rows], y.iloc[fit_rows])
                .predict_proba(X.iloc[eval_rows])[:, 1]
                for fit_rows, eval_rows in folds
            ]
        except ValueError as exc:  # e.g. no feature reaches iv_limit for this one
            failed[name] = str(exc).splitlines()[0]
            log.warning("%s: search candidate %s failed: %s", spec.name, name, failed[name])
            continue
        finally:
            seconds[name] = round(time.perf_counter() - started, 3)
        scores[name] = _mean_auc(y, folds, predictions[name])
        log.info(
            "%s: search candidate %s: inner %d-fold AUC %.4f (%.1fs)",
            spec.name,
            name,
            len(folds),
            scores[name],
            seconds[name],
        )
    if not scores:
        raise ValueError(f"every search candidate failed ({'; '.join(failed.values())})")
    if not_started:
        log.warning(
            "%s: search budget of %.0fs spent after %.1fs: not started: %s",
            spec.name,
            budget_seconds,
            time.perf_counter() - clock,
            ", ".join(not_started),
        )
    members = _blend_members(spec, scores)
    if members is not None:
        tree, linear = members
        blended = [(a + b) / 2 for a, b in zip(predictions[tree], predictions[linear], strict=True)]
        scores[BLEND] = _mean_auc(y, folds, blended)
        log.info(
            "%s: search candidate blend of %s and %s: inner AUC %.4f",
            spec.name,
            tree,
            linear,
            scores[BLEND],
        )
    chosen = max(scores, key=lambda name: scores[name])  # ties: the first started
    if chosen == BLEND:
        tree, linear = members
        pipeline = build_blend(specs[tree], specs[linear])
        algorithm = f"blend({tree}+{linear})"
    else:
        pipeline = build_pipeline(specs[chosen])
        algorithm = chosen
    pipeline.fit(X, y)
    spent = time.perf_counter() - clock
    log.info(
        "%s: search chose %s (inner AUC %.4f) in %.1fs",
        spec.name,
        algorithm,
        scores[chosen],
        spent,
    )
    return pipeline, {
        "mode": "auto",
        "chosen": algorithm,
        "best_score": scores[chosen],
        "scoring": "roc_auc",
        "inner_folds": len(folds),
        "candidates": {name: round(score, 6) for name, score in scores.items()},
        "blend_members": list(members) if members is not None else None,
        "candidate_seconds": seconds,
        "failed": failed,
        "not_started": not_started,
        "budget_seconds": round(budget_seconds, 3),
        "seconds": round(spent, 3),
    }


def _blend_members(spec: ModelSpec, scores: dict[str, float]) -> tuple[str, str] | None:
    """The best tree model and the best linear model, if both were scored (no blend under
    SMOTE: the blend reads the trees' columns with their nulls)."""
    trees = [name for name in scores if name in TREES]
    linear = [name for name in scores if name not in TREES]
    if not trees or not linear or spec.imbalance == "smote":
        return None
    return max(trees, key=scores.__getitem__), max(linear, key=scores.__getitem__)


def _mean_auc(y: pd.Series, folds: list, predictions: list[np.ndarray]) -> float:
    return float(
        np.mean(
            [
                metrics.auc(y.iloc[eval_rows], score)
                for (_, eval_rows), score in zip(folds, predictions, strict=True)
            ]
        )
    )
