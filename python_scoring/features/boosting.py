"""LightGBM that chooses its own number of trees: the registry's default LightGBM.

`EarlyStoppedLGBMClassifier` holds out a stratified share of the rows it is given
(`validation_share`, default 20 %), boosts on the rest until the validation AUC has not
improved for `patience` trees (at most `n_estimators`), then refits on every row with the
best number of trees scaled to the larger data (best / (1 - validation_share)). Leaves are
sized to the data unless set: `num_leaves` 7 below 20,000 rows, 15 below 200,000, else 31;
`min_child_samples` max(20, rows // 500); `n_jobs` unset, one thread below 10,000 rows
and two above. Slow, regularised trees (learning rate 0.03, 80 % row and column
subsampling, L2 1) make the stopping point flat, so the refit's tree count is not
critical. docs/registry.md has the measurements behind these choices. The validation
share is drawn by rows (a customer with several months may fall on both sides): it only
decides when to stop.

It is an `LGBMClassifier`: the fitted `booster_` is an ordinary booster of the refit's
trees (lleaves compilation, `pred_leaf` path attribution and predict_proba are LightGBM's
own). `n_estimators_` (LightGBM's) is the number of trees it chose,
`best_iteration_search_` the best iteration on the validation share.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier, early_stopping
from sklearn.model_selection import train_test_split

from python_scoring.registry import EARLY_STOPPING_PARAMS

log = logging.getLogger(__name__)

# the constructor parameters LGBMClassifier does not have (never passed to the booster)
OWN_PARAMS = EARLY_STOPPING_PARAMS
# fewest rows of the smaller class the validation share must hold to stop on its AUC;
# below it the model is fitted with FALLBACK_TREES trees
MIN_VALIDATION_MINORITY = 10
FALLBACK_TREES = 100
# n_jobs None: one thread below this many rows (LightGBM's threads cost more than they
# save on small data: 4,700 rows x 19 columns fit 4x faster on one), else two
SMALL_ROWS = 10_000


def default_leaves(rows: int) -> int:
    """Leaves per tree for a training set of `rows` rows."""
    if rows < 20_000:
        return 7
    if rows < 200_000:
        return 15
    return 31


def default_min_child_samples(rows: int) -> int:
    return max(20, rows // 500)


class EarlyStoppedLGBMClassifier(LGBMClassifier):
    """An LGBMClassifier whose number of trees is chosen by early stopping on a held-out
    stratified share, then refitted on all rows (see the module's docstring)."""

    def __init__(
        self,
        *,
        validation_share: float = 0.2,
        patience: int = 100,
        n_estimators: int = 5000,
        learning_rate: float = 0.03,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.validation_share = validation_share
        self.patience = patience
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            subsample=subsample,
            subsample_freq=subsample_freq,
            colsample_bytree=colsample_bytree,
            reg_lambda=reg_lambda,
            **kwargs,
        )

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """This class's parameters and LGBMClassifier's (whose __init__ this one reaches
        through **kwargs): what get_params, set_params and clone see."""
        return sorted({*super()._get_param_names(), *LGBMClassifier._get_param_names()})

    def _sized(self, rows: int) -> tuple[int, int, int | None]:
        """Leaves, minimum rows per leaf and threads for `rows` rows, as set or sized."""
        leaves = self.num_leaves if self.num_leaves is not None else default_leaves(rows)
        child = self.min_child_samples
        child = child if child is not None else default_min_child_samples(rows)
        threads = None if self.n_jobs is not None else 1 if rows < SMALL_ROWS else 2
        return leaves, child, threads

    def _process_params(self, stage: str) -> dict[str, Any]:
        params = super()._process_params(stage)
        for name in OWN_PARAMS:
            params.pop(name, None)
        sizes = getattr(self, "_sizes", None)
        if sizes is not None:
            params["num_leaves"], params["min_child_samples"], threads = sizes
            if threads is not None:
                for alias in _thread_names():
                    params.pop(alias, None)
                params["num_threads"] = threads
        else:  # unfitted, predict refuses anyway; never hand None to the booster
            params = {k: v for k, v in params.items() if v is not None or k == "objective"}
        rounds = getattr(self, "_rounds", None)
        if stage == "fit" and rounds is not None:
            params["num_iterations"] = rounds  # over n_estimators (lightgbm.train's rule)
        return params

    def fit(self, X, y, sample_weight=None, **kwargs: Any) -> EarlyStoppedLGBMClassifier:
        if kwargs.get("eval_set") or kwargs.get("eval_X") is not None:
            raise ValueError(
                "EarlyStoppedLGBMClassifier holds out its own validation share: no eval_set"
            )
        if not 0 < self.validation_share < 1 or self.patience < 1:
            raise ValueError("validation_share must be in (0, 1) and patience >= 1")
        y_values = np.asarray(y)
        rows = len(y_values)
        self._sizes = self._sized(rows)
        _, counts = np.unique(y_values, return_counts=True)
        share = self.validation_share
        minority = int(counts.min()) if counts.size > 1 else 0
        if minority * share < MIN_VALIDATION_MINORITY:
            trees = min(FALLBACK_TREES, self.n_estimators)
            log.warning(
                "early-stopped LightGBM: %d rows of the smaller class leave too few to stop "
                "on (validation share %.2f): fitting %d trees",
                minority,
                share,
                trees,
            )
            self.best_iteration_search_ = None
        else:
            positions = np.arange(rows)
            fit_rows, stop_rows = train_test_split(
                positions, test_size=share, stratify=y_values, random_state=_seed(self)
            )
            weight = None if sample_weight is None else np.asarray(sample_weight)
            self._rounds = self.n_estimators
            try:
                super().fit(
                    _rows(X, fit_rows),
                    _rows(y, fit_rows),
                    sample_weight=None if weight is None else weight[fit_rows],
                    eval_X=(_rows(X, stop_rows),),
                    eval_y=(_rows(y, stop_rows),),
                    eval_sample_weight=None if weight is None else [weight[stop_rows]],
                    eval_metric="auc",
                    callbacks=[
                        early_stopping(self.patience, first_metric_only=True, verbose=False)
                    ],
                    **kwargs,
                )
            finally:
                self._rounds = None
            best = self.best_iteration_ or self.n_estimators
            self.best_iteration_search_ = int(best)
            self.validation_auc_ = float(self.best_score_["valid_0"]["auc"])
            trees = max(1, min(self.n_estimators, round(best / (1 - share))))
        self._rounds = trees
        try:
            super().fit(X, y, sample_weight=sample_weight, **kwargs)
        finally:
            self._rounds = None
        log.debug(
            "early-stopped LightGBM: %d trees of %d leaves (min %d rows) on %d rows "
            "(best iteration %s on a %.0f%% validation share, patience %d)",
            trees,
            self._sizes[0],
            self._sizes[1],
            rows,
            self.best_iteration_search_,
            100 * share,
            self.patience,
        )
        return self

    def chosen_params(self) -> dict[str, int]:
        """What fitting chose: trees, leaves, minimum rows per leaf (artifact metadata)."""
        return {
            "n_estimators_chosen": int(self.n_estimators_),
            "num_leaves_chosen": int(self._sizes[0]),
            "min_child_samples_chosen": int(self._sizes[1]),
            "threads_chosen": self._sizes[2],
            "best_iteration_search": self.best_iteration_search_,
        }


def _thread_names() -> frozenset[str]:
    try:
        from lightgbm.basic import _ConfigAliases

        return frozenset(_ConfigAliases.get("num_threads")) | {"n_jobs"}
    except (ImportError, AttributeError):
        return frozenset({"n_jobs", "num_threads", "num_thread", "nthread", "nthreads"})


def _seed(model: LGBMClassifier) -> int | None:
    state = model.random_state
    return state if isinstance(state, int | None) else None


def _rows(data, positions: np.ndarray):
    return data.iloc[positions] if hasattr(data, "iloc") else np.asarray(data)[positions]
