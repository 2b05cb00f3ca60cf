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


def _by_curve(points) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """curve -> (point, x, y) arrays, in point order."""
    out = {}
    for name in dict.fromkeys(p[0] for p in points):
        rows = sorted((p[1], p[2], p[3]) for p in points if p[0] == name)
        out[name] = tuple(np.array(column) for column in zip(*rows, strict=True))
    return out


@pytest.fixture
def probabilities():
    """5,000 rows, scores in [0, 1] (a logistic of a noisy signal), about 30 % positive."""
    rng = np.random.default_rng(11)
    y = (rng.random(5_000) < 0.3).astype(int)
    s = 1 / (1 + np.exp(-rng.normal(y * 1.2 - 1.0, 1.0)))
    return y, s


# points per curve of a split with at least 10 rows
CURVE_SIZES = {
    "roc": 101,
    "gains": 101,
    "ks": 101,
    "calibration": 10,
    "score_positive": 20,
    "score_negative": 20,
}


def test_curves_have_their_points(probabilities):
    curves = _by_curve(metrics.curves(*probabilities))
    sizes = {name: len(point) for name, (point, _, _) in curves.items()}
    assert sizes == CURVE_SIZES
    assert list(curves["calibration"][0]) == list(range(1, 11))
    assert list(curves["roc"][0]) == list(range(101))
    assert list(curves["score_negative"][0]) == list(range(20))
    # roc, gains and ks run from nothing targeted to everything
    for name in ("roc", "gains"):
        _, x, y = curves[name]
        assert (x[0], y[0], x[-1], y[-1]) == (0.0, 0.0, 1.0, 1.0)
        assert (np.diff(x) >= 0).all() and (np.diff(y) >= 0).all()
    assert curves["ks"][2][0] == 0.0 and curves["ks"][2][-1] == 0.0


def test_roc_area_and_ks_gap_agree_with_auc_and_ks(probabilities):
    y, s = probabilities
    curves = _by_curve(metrics.curves(y, s))
    _, fpr, tpr = curves["roc"]
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(metrics.auc(y, s), abs=0.01)
    assert area != pytest.approx(0.5, abs=0.1)  # the scores separate: not a diagonal
    _, share, gap = curves["ks"]
    assert gap.max() == pytest.approx(metrics.ks(y, s), abs=0.02)
    # ks y is the roc's tpr - fpr at the same k; gains shares the roc's y
    np.testing.assert_allclose(gap, tpr - fpr)
    np.testing.assert_allclose(curves["gains"][2], tpr)
    np.testing.assert_allclose(share, np.arange(101) / 100, atol=1 / len(y))


def test_gains_of_perfectly_separated_scores():
    # 20 positives above 80 negatives: the top 20 % of rows hold every positive
    y = np.r_[np.ones(20), np.zeros(80)].astype(int)
    s = np.r_[np.linspace(0.99, 0.8, 20), np.linspace(0.7, 0.0, 80)]
    curves = _by_curve(metrics.curves(y, s))
    _, share, captured = curves["gains"]
    assert captured[20] == 1.0 and share[20] == pytest.approx(0.2)
    np.testing.assert_allclose(captured[:21], np.arange(21) / 20)
    assert curves["ks"][2].max() == 1.0
    _, fpr, tpr = curves["roc"]
    assert tpr[fpr == 0].max() == 1.0  # every positive before the first negative


def test_calibration_is_the_decile_table(probabilities):
    y, s = probabilities
    _, x, rate = _by_curve(metrics.curves(y, s))["calibration"]
    table = metrics.decile_table(y, s)
    order = np.argsort(-s, kind="mergesort")
    means = [part.mean() for part in np.array_split(s[order], 10)]
    np.testing.assert_allclose(x, means)
    np.testing.assert_allclose(rate, [row["positive_rate"] for row in table])
    for row, mean in zip(table, x, strict=True):
        assert row["min_score"] <= mean <= row["max_score"]


def test_score_distributions_sum_to_one_per_class(probabilities):
    y, s = probabilities
    curves = _by_curve(metrics.curves(y, s))
    for name, members in (("score_positive", y == 1), ("score_negative", y == 0)):
        _, edge, share = curves[name]
        np.testing.assert_allclose(edge, np.arange(1, 21) / 20)
        assert share.sum() == pytest.approx(1.0)
        expected, _ = np.histogram(s[members], bins=np.linspace(0, 1, 21))
        np.testing.assert_allclose(share, expected / members.sum())
    # positives score higher: more of their mass in the upper half
    assert curves["score_positive"][2][10:].sum() > curves["score_negative"][2][10:].sum()


def test_curves_put_a_score_of_one_in_the_last_bin_and_refuse_one_class():
    curves = _by_curve(metrics.curves([1, 0, 0], [1.0, 0.0, 0.05]))
    assert curves["score_positive"][2][-1] == 1.0
    assert list(curves["score_negative"][2][:2]) == [0.5, 0.5]  # 0.05: bin [0.05, 0.1)
    # fewer rows than deciles: the empty deciles have no point
    assert list(curves["calibration"][0]) == [1, 2, 3]
    with pytest.raises(ValueError, match="both classes"):
        metrics.curves([1, 1], [0.2, 0.3])
