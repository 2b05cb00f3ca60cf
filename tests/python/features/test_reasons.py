import dataclasses

import numpy as np
import pytest
from lightgbm import LGBMClassifier

from python_scoring.features.pipeline import build_pipeline, feature_names
from python_scoring.features.reasons import (
    CHUNK_ROWS,
    SMALL_ROWS,
    ForestAttribution,
    PathAttribution,
    encoded_sources,
    top_contributions,
    top_reasons,
)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4_000, 6))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the default branch
    filled = np.nan_to_num(x)
    logit = 1.5 * filled[:, 0] - 1.0 * filled[:, 1] + 0.5 * filled[:, 2]
    y = (rng.random(4_000) < 1 / (1 + np.exp(-logit))).astype(int)
    clf = LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1, n_jobs=1).fit(x, y)
    return clf, x


def test_contributions_add_up_to_the_raw_score(model):
    clf, x = model
    attribution = PathAttribution(clf.booster_)
    contributions = attribution.contributions(x)
    raw = clf.booster_.predict(x, raw_score=True)
    np.testing.assert_allclose(contributions.sum(axis=1) + attribution.bias, raw, atol=1e-9)


def test_small_batches_add_credits_in_the_large_batches_order(model):
    clf, x = model
    attribution = PathAttribution(clf.booster_)
    # credits whose sum depends on the order of the additions (1e16 + 1 - 1e16 ...)
    rng = np.random.default_rng(4)
    credit = attribution.leaf_credit
    credit[...] = rng.choice([1e16, -1e16, 1.0, -0.0, 1e-3, 3.3], size=credit.shape)
    small = np.vstack([attribution.contributions(x[i : i + 7]) for i in range(0, 63, 7)])
    large = attribution.contributions(x[: SMALL_ROWS + 1])[:63]
    assert small.tobytes() == large.tobytes()  # bit for bit, -0.0 included
    # a batch of several chunks (summed on two threads): the same sums in the third one
    many = np.vstack([np.repeat(x[:1], 2 * CHUNK_ROWS, axis=0), x[:63]])
    assert attribution.contributions(many)[-63:].tobytes() == small.tobytes()


def test_top_reason_mostly_agrees_with_exact_treeshap(model):
    clf, x = model
    path = PathAttribution(clf.booster_).contributions(x[:500])
    shap = clf.booster_.predict(x[:500], pred_contrib=True)[:, :-1]
    agreement = np.mean(path.argmax(axis=1) == shap.argmax(axis=1))
    assert agreement > 0.8


def _walked_forest_contributions(forest, x: np.ndarray) -> np.ndarray:
    """The path attribution of a random forest walked row by row, node by node: the
    definition the precomputed leaf credits must reproduce."""
    positive = list(forest.classes_).index(1)
    out = np.zeros((len(x), forest.n_features_in_))
    x = x.astype(np.float32)  # what scikit-learn's trees compare with their thresholds
    for estimator in forest.estimators_:
        tree = estimator.tree_
        value = tree.value[:, 0, positive] / tree.value[:, 0, :].sum(axis=1)
        for i, row in enumerate(x):
            node = 0
            while tree.children_left[node] >= 0:
                feature = tree.feature[node]
                go_left = row[feature] <= tree.threshold[node]
                child = tree.children_left[node] if go_left else tree.children_right[node]
                out[i, feature] += (value[child] - value[node]) / len(forest.estimators_)
                node = child
    return out


@pytest.mark.parametrize("n_features", [5, 12])
def test_forest_leaf_credits_equal_the_walked_paths_and_add_up_to_predict_proba(n_features):
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(3_000, n_features)), 1)  # ties on thresholds
    y = (rng.random(3_000) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1] * x[:, 2])))).astype(int)
    # 12 features: a shallow tree splits on fewer than half of them (its credits are
    # held over those columns only); 5: on most
    depth = 3 if n_features == 12 else None
    forest = RandomForestClassifier(
        n_estimators=15, min_samples_leaf=5, max_depth=depth, random_state=0
    ).fit(x, y)
    attribution = ForestAttribution(forest)
    held = {columns is None for *_, columns, _ in attribution.trees}
    assert held == ({True, False} if n_features == 12 else {True})
    rows = x[:300]
    scores, contributions = attribution.explain(rows)
    np.testing.assert_allclose(
        contributions, _walked_forest_contributions(forest, rows), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(scores, forest.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)
    alone, none = attribution.explain(rows, credits=False)  # a request for no reasons
    assert alone.tobytes() == scores.tobytes() and none.shape == (300, 0)
    total = contributions.sum(axis=1) + attribution.bias
    np.testing.assert_allclose(total, forest.predict_proba(rows)[:, 1], rtol=0, atol=1e-9)
    # more rows than one chunk: the chunks (walked on two threads) join in order
    many = np.repeat(rows[:3], CHUNK_ROWS * 2 // 3 + 1, axis=0)
    many_scores, chunked = attribution.explain(many)
    assert chunked.shape == (len(many), n_features)
    np.testing.assert_array_equal(chunked[:: CHUNK_ROWS * 2 // 3 + 1], contributions[:3])
    np.testing.assert_array_equal(many_scores[:: CHUNK_ROWS * 2 // 3 + 1], scores[:3])


def test_top_reasons_order_and_only_positive():
    contributions = np.array([[0.5, -0.2, 2.0, 0.1], [-1.0, -0.5, -0.1, 0.3]])
    first, second, third = top_reasons(contributions, ["a", "b", "c", "d"], 3)
    assert list(first) == ["c", "d"]
    assert list(second) == ["a", None]
    assert list(third) == ["d", None]


def test_top_contributions_largest_first():
    contributions = np.random.default_rng(5).normal(size=(300, 12))
    top, values = top_contributions(contributions, 5)
    assert top.shape == values.shape == (300, 5)
    assert (np.diff(values, axis=1) <= 0).all()  # sorted descending
    np.testing.assert_array_equal(values, np.take_along_axis(contributions, top, axis=1))
    np.testing.assert_array_equal(values, -np.sort(-contributions, axis=1)[:, :5])
    few, _ = top_contributions(contributions[:, :2], 5)  # fewer features than reasons
    assert few.shape == (300, 2)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("lightgbm", {"usage": "usage", "plan": "plan"}),
        (
            "logistic_onehot",
            {"plan_basic": "plan", "plan_max": "plan", "missingindicator_usage": "usage"},
        ),
        ("logistic_woe", {"plan": "plan", "spend": "spend"}),
    ],
)
def test_encoded_sources_name_the_column_before_encoding(variant, expected):
    from .test_pipeline import BASE, VARIANTS, frame

    X, y = frame(3000, 4)
    pipeline = build_pipeline(dataclasses.replace(BASE, **VARIANTS[variant])).fit(X, y)
    names = feature_names(pipeline)
    sources = dict(zip(names, encoded_sources(pipeline.named_steps["prep"], names), strict=True))
    assert {name: sources[name] for name in expected} == expected
    derived = [d["name"] for d in pipeline.named_steps["derive"].derived_]
    assert derived and all(sources[d] == d for d in derived if d in sources)
    # every estimator column comes from a column the preprocessing step receives
    assert set(sources.values()) <= set(pipeline.named_steps["prep"].feature_names_in_)
