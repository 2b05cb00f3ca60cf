"""Fitting a pipeline and judging it: metrics of a split, randomized hyper-parameter
search, how a registry entry fits (`fit_function`: its pipeline or its search) and
cross-validation of that fitting, folds grouped by entity."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from sklearn.model_selection import GroupKFold, RandomizedSearchCV, StratifiedGroupKFold

from python_scoring.errors import ScorehouseError
from python_scoring.features import metrics
from python_scoring.features.pipeline import build_pipeline
from python_scoring.registry import ModelSpec

log = logging.getLogger(__name__)


def evaluate(y: pd.Series, score, threshold: float) -> dict[str, float]:
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


def _distributions(space: dict[str, Any]) -> dict[str, Any]:
    """Registry search space -> RandomizedSearchCV distributions. A list is a choice;
    {low, high[, log][, integer]} a uniform (log-uniform) range. Plain names are
    estimator parameters; names with '__' address a pipeline step (e.g. derive__top_k)."""
    out = {}
    for name, values in space.items():
        key = name if "__" in name else f"model__{name}"
        if isinstance(values, list):
            out[key] = values
        elif values.get("integer"):
            out[key] = scipy_stats.randint(int(values["low"]), int(values["high"]) + 1)
        elif values.get("log"):
            out[key] = scipy_stats.loguniform(values["low"], values["high"])
        else:
            out[key] = scipy_stats.uniform(values["low"], values["high"] - values["low"])
    return out


def tune(spec: ModelSpec, pipeline, X: pd.DataFrame, y: pd.Series, groups) -> Any:
    """Randomized search with folds grouped by entity (a customer's months stay in one
    fold), refitted on all training rows with the best parameters."""
    assert spec.search is not None
    search = RandomizedSearchCV(
        pipeline,
        _distributions(spec.search.space),
        n_iter=spec.search.n_iter,
        scoring=spec.search.scoring,
        cv=GroupKFold(n_splits=spec.search.cv, shuffle=True, random_state=spec.seed),
        random_state=spec.seed,
        refit=True,
        n_jobs=1,
        error_score="raise",
    )
    try:
        search.fit(X, y, groups=groups)
    except (ValueError, TypeError) as exc:
        raise ScorehouseError(f"'{spec.name}': hyper-parameter search failed: {exc}") from exc
    log.info(
        "%s: search best %s %.4f with %s",
        spec.name,
        spec.search.scoring,
        search.best_score_,
        search.best_params_,
    )
    return search.best_estimator_, {
        "mode": "space",
        "best_params": {k: _plain(v) for k, v in search.best_params_.items()},
        "best_score": float(search.best_score_),
        "scoring": spec.search.scoring,
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# fits a model on some rows: (X, y, entity ids) -> (fitted pipeline, what a search did or None)
FitFunction = Callable[[pd.DataFrame, pd.Series, np.ndarray], tuple[Any, dict[str, Any] | None]]


def fit_function(spec: ModelSpec) -> FitFunction:
    """How `spec` fits on a set of rows: its pipeline, or its search (a randomized search
    over `search.space`, or `search: auto`) refitted on them. Training fits it on the
    training rows and cross-validation on each fold's, so a search runs anew in every
    fold. `search: auto` gets an even share of search_budget_seconds per run: the final
    fit's and one per cross-validation fold."""
    if spec.search is None:
        return lambda X, y, groups: (build_pipeline(spec).fit(X, y), None)
    if spec.search.auto:
        from python_scoring.training.search import auto_search

        budget = spec.search_budget_seconds / (1 + spec.cv_folds)
        return lambda X, y, groups: auto_search(spec, X, y, groups, budget)
    return lambda X, y, groups: tune(spec, build_pipeline(spec), X, y, groups)


def cross_validate(
    spec: ModelSpec, fit: FitFunction, X: pd.DataFrame, y: pd.Series, groups
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """k-fold cross-validation on the in-time rows: stratified by label, grouped by
    entity; each fold's model fitted by `fit` on the fold's other rows (a search is run
    anew there: nested). AUC and KS per fold, reported as mean and standard deviation;
    and per fold what its search did (empty without a search)."""
    folds = StratifiedGroupKFold(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)
    aucs, kss, searches = [], [], []
    for i, (fit_rows, eval_rows) in enumerate(folds.split(X, y, groups), start=1):
        model, search = fit(X.iloc[fit_rows], y.iloc[fit_rows], np.asarray(groups)[fit_rows])
        score = model.predict_proba(X.iloc[eval_rows])[:, 1]
        aucs.append(metrics.auc(y.iloc[eval_rows], score))
        kss.append(metrics.ks(y.iloc[eval_rows], score))
        if search is not None:
            searches.append({"fold": i, "auc": aucs[-1], **search})
        chose = f" ({search.get('chosen') or search.get('best_params')})" if search else ""
        log.info("%s: cv fold %d/%d AUC %.4f%s", spec.name, i, spec.cv_folds, aucs[-1], chose)
    return {
        "rows": int(y.size),
        "folds": spec.cv_folds,
        "auc": float(np.mean(aucs)),
        "auc_std": float(np.std(aucs)),
        "ks": float(np.mean(kss)),
        "ks_std": float(np.std(kss)),
    }, searches
