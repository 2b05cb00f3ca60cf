import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from python_scoring.features import metrics


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


def test_decile_table_on_a_hand_example():
    # 20 rows, scores 20..1; positives at score ranks 1, 2, 3 and 11
    score = np.arange(20, 0, -1, dtype=float)
    y = np.zeros(20, dtype=int)
    y[[0, 1, 2, 10]] = 1
    table = metrics.decile_table(y, score)
    assert [row["rows"] for row in table] == [2] * 10
    assert [row["positives"] for row in table] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    assert table[0]["lift"] == pytest.approx(1.0 / 0.2)
    assert table[1]["cumulative_capture"] == pytest.approx(0.75)
    assert table[1]["cumulative_lift"] == pytest.approx((3 / 4) / 0.2)
    assert table[9]["cumulative_capture"] == pytest.approx(1.0)
    assert table[9]["cumulative_lift"] == pytest.approx(1.0)
    assert table[0]["min_score"] == 19 and table[0]["max_score"] == 20


def test_decile_sizes_follow_ntile():
    table = metrics.decile_table(np.r_[np.ones(5), np.zeros(18)].astype(int), np.arange(23.0))
    assert [row["rows"] for row in table] == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]


def test_top_share_and_threshold_match_sklearn(scored):
    from sklearn.metrics import confusion_matrix, precision_score, recall_score

    y, s = scored
    top = metrics.at_top(y, s, 0.1)
    k = int(np.ceil(0.1 * len(y)))
    predicted = np.zeros(len(y), dtype=int)
    predicted[np.argsort(-s, kind="mergesort")[:k]] = 1
    assert top["precision"] == pytest.approx(precision_score(y, predicted))
    assert top["recall"] == pytest.approx(recall_score(y, predicted))
    at = metrics.at_threshold(y, s, 0.5)
    tn, fp, fn, tp = confusion_matrix(y, (s >= 0.5).astype(int)).ravel()
    assert (at["tn"], at["fp"], at["fn"], at["tp"]) == (tn, fp, fn, tp)
    assert at["precision"] == pytest.approx(precision_score(y, s >= 0.5))
    assert at["recall"] == pytest.approx(recall_score(y, s >= 0.5))
