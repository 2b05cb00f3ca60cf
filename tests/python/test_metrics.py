import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from python_scoring import metrics


@pytest.fixture
def scored():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 5_000)
    # rounded scores create many ties, which both statistics must handle
    s = np.round(rng.normal(y * 0.8, 1.0), 1)
    return y, s


def test_auc_matches_sklearn_with_ties(scored):
    y, s = scored
    assert metrics.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_ks_matches_two_sample_ks_statistic(scored):
    y, s = scored
    expected = ks_2samp(s[y == 1], s[y == 0]).statistic
    assert metrics.ks(y, s) == pytest.approx(expected, abs=1e-12)


def test_perfect_and_inverted_and_gini():
    y = np.array([0, 0, 1, 1])
    assert metrics.auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert metrics.ks(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.gini(y, [0.5, 0.5, 0.5, 0.5]) == 0.0
    assert metrics.ks(y, [0.5, 0.5, 0.5, 0.5]) == 0.0


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([0, 0], [0.1, 0.2], "both classes"),
        ([0, 2], [0.1, 0.2], "only 0 and 1"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([0, 1, 1], [0.1, 0.2], "same length"),
    ],
)
def test_invalid_input(y, s, message):
    with pytest.raises(ValueError, match=message):
        metrics.auc(y, s)
