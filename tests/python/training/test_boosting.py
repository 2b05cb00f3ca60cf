"""The early-stopped LightGBM (features/boosting.py), the registry's default LightGBM:
it stops early on signal and at once on noise, survives clone/get_params/pickle, keeps its
own parameters away from the booster, and compiles with lleaves like any LGBMClassifier."""

from __future__ import annotations

import logging
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import clone

from python_scoring.artifacts import Artifact
from python_scoring.features import boosting
from python_scoring.features.boosting import EarlyStoppedLGBMClassifier
from python_scoring.features.compiled import predictor_for
from python_scoring.features.reasons import attribution_for


def frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Five numeric columns; a label that follows a and b (signal) and one that does not."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    signal = (X.a + 0.5 * X.b * X.c + rng.normal(size=n) > 0.8).astype(int)
    noise = pd.Series(rng.integers(0, 2, n))
    return X, signal, noise


@pytest.fixture(scope="module")
def data():
    return frame(4000)


@pytest.fixture(scope="module")
def fitted(data):
    X, signal, _ = data
    return EarlyStoppedLGBMClassifier(random_state=7, verbose=-1).fit(X, signal)


def test_stops_late_on_signal_and_at_once_on_noise(data, fitted):
    X, _, noise = data
    on_noise = EarlyStoppedLGBMClassifier(random_state=7, verbose=-1).fit(X, noise)
    assert fitted.n_estimators_ >= 100, fitted.n_estimators_
    # noise: the validation AUC peaks by chance within the first few dozen trees
    assert 4 * on_noise.n_estimators_ < fitted.n_estimators_, on_noise.n_estimators_
    # the refit grows the best iteration by 1 / (1 - validation share), on every row
    best = fitted.best_iteration_search_
    assert fitted.n_estimators_ == round(best / 0.8) == fitted.booster_.num_trees()
    assert fitted.validation_auc_ > 0.75


def test_leaves_and_threads_are_sized_to_the_rows_unless_set(fitted):
    assert fitted.chosen_params() == {
        "n_estimators_chosen": fitted.n_estimators_,
        "num_leaves_chosen": 7,  # < 20,000 rows
        "min_child_samples_chosen": 20,  # max(20, 4000 // 500)
        "threads_chosen": 1,  # < 10,000 rows
        "best_iteration_search": fitted.best_iteration_search_,
    }
    assert fitted.get_params()["num_leaves"] is None  # fitting never changes a parameter
    assert boosting.default_leaves(50_000) == 15 and boosting.default_leaves(500_000) == 31
    assert boosting.default_min_child_samples(1_000_000) == 2000
    dumped = fitted.booster_.dump_model()
    assert max(tree["num_leaves"] for tree in dumped["tree_info"]) <= 7
    X, y, _ = frame(3000, seed=3)
    set_by_user = EarlyStoppedLGBMClassifier(num_leaves=3, min_child_samples=50, verbose=-1)
    set_by_user.fit(X, y)
    assert set_by_user.chosen_params()["num_leaves_chosen"] == 3
    assert set_by_user.chosen_params()["min_child_samples_chosen"] == 50
    assert max(t["num_leaves"] for t in set_by_user.booster_.dump_model()["tree_info"]) <= 3


def test_its_own_parameters_never_reach_the_booster(fitted):
    params = fitted.booster_.params
    assert not {"validation_share", "patience"} & params.keys()
    assert params["num_leaves"] == 7 and params["num_threads"] == 1


def test_clone_and_get_params_round_trip_every_parameter():
    names = EarlyStoppedLGBMClassifier._get_param_names()
    # its own, and every one of LGBMClassifier's (reached through **kwargs)
    assert {"validation_share", "patience"} <= set(names)
    assert set(LGBMClassifier().get_params()) <= set(names)
    changed = {
        "validation_share": 0.3,
        "patience": 17,
        "n_estimators": 123,
        "learning_rate": 0.07,
        "num_leaves": 5,
        "min_child_samples": 33,
        "subsample": 0.6,
        "colsample_bytree": 0.5,
        "reg_lambda": 3.0,
        "class_weight": "balanced",
        "random_state": 11,
        "n_jobs": 1,
        "max_bin": 63,  # a booster parameter of LightGBM's, not of the constructor
    }
    model = EarlyStoppedLGBMClassifier(**changed)
    params = model.get_params()
    assert {k: params[k] for k in changed} == changed
    twin = clone(model)
    assert type(twin) is EarlyStoppedLGBMClassifier and twin.get_params() == params
    other = EarlyStoppedLGBMClassifier().set_params(patience=5, validation_share=0.25)
    assert (other.patience, other.validation_share) == (5, 0.25)
    assert clone(other).get_params()["patience"] == 5


def test_validation_share_and_patience_take_effect(data):
    X, signal, _ = data
    impatient = EarlyStoppedLGBMClassifier(patience=1, random_state=7, verbose=-1).fit(X, signal)
    wide = EarlyStoppedLGBMClassifier(validation_share=0.5, random_state=7, verbose=-1)
    wide.fit(X, signal)
    assert impatient.best_iteration_search_ < 60
    assert wide.n_estimators_ == round(wide.best_iteration_search_ / 0.5)


def test_pickles_and_predicts_the_same(data, fitted):
    X, _, _ = data
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    assert again.n_estimators_ == fitted.n_estimators_


def test_compiles_with_lleaves_and_explains_like_lightgbm(data, fitted, tmp_path):
    X, _, _ = data
    predictor = predictor_for(fitted, Artifact("m", "v1", tmp_path, {"sha256": "abc"}))
    fast = predictor.predict(X)
    assert predictor.method == "lleaves"
    np.testing.assert_allclose(fast, fitted.predict_proba(X)[:, 1], rtol=0, atol=1e-9)
    attribution = attribution_for(fitted)  # path attribution over pred_leaf
    total = attribution.contributions(X).sum(axis=1) + attribution.bias
    np.testing.assert_allclose(total, fitted.predict(X, raw_score=True), atol=1e-9)


def test_too_few_positives_to_stop_on_fits_a_fixed_number_of_trees(caplog):
    X, _, _ = frame(400, seed=5)
    y = pd.Series(np.r_[np.ones(20, dtype=int), np.zeros(380, dtype=int)])
    with caplog.at_level(logging.WARNING, logger="python_scoring.features.boosting"):
        model = EarlyStoppedLGBMClassifier(verbose=-1).fit(X, y)
    assert model.n_estimators_ == boosting.FALLBACK_TREES
    assert "leave too few to stop on" in caplog.text


def test_refuses_an_eval_set_and_warns_about_nothing(data):
    X, signal, _ = data
    with pytest.raises(ValueError, match="holds out its own validation share"):
        EarlyStoppedLGBMClassifier().fit(X, signal, eval_set=[(X, signal)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. LightGBM 4.7's eval_set deprecation
        EarlyStoppedLGBMClassifier(verbose=-1, patience=5).fit(X, signal)
