import numpy as np
import pytest
from lightgbm import LGBMClassifier

from python_scoring.features.reasons import PathAttribution, top_reasons


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


def test_top_reason_mostly_agrees_with_exact_treeshap(model):
    clf, x = model
    path = PathAttribution(clf.booster_).contributions(x[:500])
    shap = clf.booster_.predict(x[:500], pred_contrib=True)[:, :-1]
    agreement = np.mean(path.argmax(axis=1) == shap.argmax(axis=1))
    assert agreement > 0.8


def test_top_reasons_order_and_only_positive():
    contributions = np.array([[0.5, -0.2, 2.0, 0.1], [-1.0, -0.5, -0.1, 0.3]])
    first, second, third = top_reasons(contributions, ["a", "b", "c", "d"], 3)
    assert list(first) == ["c", "d"]
    assert list(second) == ["a", None]
    assert list(third) == ["d", None]
