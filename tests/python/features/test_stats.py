"""PSI / IV reference implementations: hand-computed cases, feature_engine agreement, nulls."""

from __future__ import annotations

import warnings
from math import log

import numpy as np
import pandas as pd
import pytest
from feature_engine.discretisation import EqualFrequencyDiscretiser
from feature_engine.encoding.woe import WoE
from feature_engine.selection import DropHighPSIFeatures, SelectByInformationValue

from python_scoring.features import stats
from python_scoring.features.stats import EPSILON

TOL = 1e-9


# --------------------------------------------------------------------------------------
# hand-computed examples
# --------------------------------------------------------------------------------------


def test_cuts_and_bins_small():
    # 4 values, 2 bins: median 2.5 is the only cut
    assert stats.equal_frequency_cuts([1, 2, 3, 4, None], bins=2).tolist() == [2.5]
    # ties at the cut point: median of [1, 2, 2, 3] is 2 and 2 belongs to the lower bin
    cuts = stats.equal_frequency_cuts([1, 2, 2, 3], bins=2)
    assert cuts.tolist() == [2.0]
    assert stats.assign_bins([1, 2, 2, 3, 2.0000001], cuts).tolist() == [0, 0, 0, 1, 1]
    # outside the range -> end bins; nulls -> -1
    assert stats.assign_bins([-100, 1, 1.5, 2, 100, np.nan], [1, 2]).tolist() == [
        0,
        0,
        1,
        1,
        2,
        -1,
    ]
    assert stats.assign_bins([1.0], []).tolist() == [0]
    assert stats.assign_bins([3, None], [1, 2]).dtype == np.int64


def test_cuts_zero_inflated_constant_and_empty():
    # quantiles at 0.25 / 0.5 / 0.75 of [0]*6 + [1,2,3,4] are 0, 0, 1.75: the cut equal to
    # the minimum disappears, like pandas.qcut(duplicates='drop')
    values = [0] * 6 + [1, 2, 3, 4]
    assert stats.equal_frequency_cuts(values, bins=4).tolist() == [1.75]
    _, edges = pd.qcut(np.array(values, dtype=float), 4, retbins=True, duplicates="drop")
    assert edges[1:-1].tolist() == [1.75]
    assert stats.equal_frequency_cuts([5, 5, 5]).size == 0
    assert stats.equal_frequency_cuts([None, np.nan]).size == 0
    assert stats.equal_frequency_cuts([1, 2, 3], bins=1).size == 0
    assert stats.equal_frequency_cuts([None, np.nan]).dtype == np.float64


def test_psi_null_bin_and_values_outside_range():
    # baseline cuts: [2.5] -> bin0 {1,2}, bin1 {3,4}, null bin; shares over 5 rows
    baseline = [1, 2, 3, 4, None]
    # current: 0 (below range) -> bin0, 9 (above range) -> bin1
    current = [0, 1, 2, 9, None, None]
    expected = (
        (3 / 6 - 2 / 5) * log((3 / 6) / (2 / 5))
        + (1 / 6 - 2 / 5) * log((1 / 6) / (2 / 5))
        + (2 / 6 - 1 / 5) * log((2 / 6) / (1 / 5))
    )
    assert stats.psi(baseline, current, bins=2) == pytest.approx(expected, abs=1e-15)
    table = stats.psi_table(baseline, current, bins=2)
    assert table["bin"].tolist() == [0, 1, -1]
    assert table["baseline_share"].tolist() == pytest.approx([0.4, 0.4, 0.2], abs=1e-15)
    assert table["current_share"].tolist() == pytest.approx([3 / 6, 1 / 6, 2 / 6], abs=1e-15)
    assert stats.psi(baseline, current, bins=2) == table["contribution"].sum()


def test_psi_empty_bin_on_one_side_uses_epsilon():
    baseline = [1, 2, 3, 4]
    current = [1, 1, 2, 2]  # nothing above the cut 2.5
    expected = (1 - 0.5) * log(1 / 0.5) + (EPSILON - 0.5) * log(EPSILON / 0.5)
    assert stats.psi(baseline, current, bins=2) == pytest.approx(expected, abs=1e-15)
    table = stats.psi_table(baseline, current, bins=2)
    assert table["current_share"].tolist() == [1.0, EPSILON]
    # nulls only in the current side: the baseline's null share is floored too
    expected_null = (2 / 5 - 1 / 2) * log((2 / 5) / (1 / 2)) * 2 + (1 / 5 - EPSILON) * log(
        (1 / 5) / EPSILON
    )
    assert stats.psi(baseline, [1, 2, 3, 4, None], bins=2) == pytest.approx(
        expected_null, abs=1e-15
    )


def test_psi_bin_empty_on_both_sides_contributes_nothing():
    # given cuts leave the middle bin (1, 2] empty on both sides
    table = stats.psi_table([0, 0, 5], [0, 5, 5], cuts=[1, 2])
    assert table["bin"].tolist() == [0, 2]
    expected = (1 / 3 - 2 / 3) * log(0.5) + (2 / 3 - 1 / 3) * log(2)
    assert stats.psi([0, 0, 5], [0, 5, 5], cuts=[1, 2]) == pytest.approx(expected, abs=1e-15)


def test_psi_constant_column():
    assert stats.psi([5, 5, 5, 5], [5, 5, 5]) == 0.0
    assert stats.psi_table([5, 5, 5, 5], [5, 5, 5])["bin"].tolist() == [0]
    # one bin for all non-null values; 6 is above the (absent) cuts -> same bin
    expected = (2 / 3 - 1) * log(2 / 3) + (1 / 3 - EPSILON) * log((1 / 3) / EPSILON)
    assert stats.psi([5, 5, 5], [5, 6, None]) == pytest.approx(expected, abs=1e-15)


def test_psi_ties_at_cut_are_right_closed():
    # baseline [1, 2, 2, 3]: cut 2 -> bin0 {1, 2, 2} (3/4), bin1 {3} (1/4)
    # current [2, 3, 3, 3]: bin0 1/4, bin1 3/4
    expected = (1 / 4 - 3 / 4) * log(1 / 3) + (3 / 4 - 1 / 4) * log(3)
    assert expected == pytest.approx(log(3), abs=1e-15)
    assert stats.psi([1, 2, 2, 3], [2, 3, 3, 3], bins=2) == pytest.approx(expected, abs=1e-15)


def test_psi_zero_inflated_hand():
    baseline = [0] * 6 + [1, 2, 3, 4]  # cuts [1.75]: bin0 7/10, bin1 3/10
    current = [0, 0, 1, 1, 1] + [5] * 5  # bin0 5/10, bin1 5/10 (5 is above the range)
    expected = (0.5 - 0.7) * log(0.5 / 0.7) + (0.5 - 0.3) * log(0.5 / 0.3)
    assert stats.psi(baseline, current, bins=4) == pytest.approx(expected, abs=1e-15)


def test_psi_is_zero_against_itself_and_symmetric_terms_nonnegative():
    rng = np.random.default_rng(3)
    x = np.where(rng.random(500) < 0.1, np.nan, rng.normal(size=500))
    assert stats.psi(x, x) == 0.0
    table = stats.psi_table(x, rng.normal(0.5, 1, 300))
    assert (table["contribution"] >= 0).all()


def test_iv_numeric_with_null_bin():
    # cuts [3.5]: bin0 {1,2,3} labels 1,0,0; bin1 {4,5,6} labels 0,1,1; nulls 1,0
    values = [1, 2, 3, 4, 5, 6, None, None]
    label = [1, 0, 0, 0, 1, 1, 1, 0]
    # 4 events, 4 non-events
    expected = (1 / 4 - 2 / 4) * log(0.5) + (2 / 4 - 1 / 4) * log(2) + 0.0
    assert expected == pytest.approx(0.5 * log(2), abs=1e-15)
    assert stats.iv(values, label, bins=2) == pytest.approx(expected, abs=1e-15)
    table = stats.woe_table(values, label, bins=2)
    assert table["bin"].tolist() == [0, 1, -1]
    assert table["rows"].tolist() == [3, 3, 2]
    assert table["events"].tolist() == [1, 2, 1]
    assert table["nonevents"].tolist() == [2, 1, 1]
    # positive WOE = higher event rate than average
    assert table["woe"].tolist() == pytest.approx([log(0.5), log(2), 0.0], abs=1e-15)
    assert stats.iv(values, label, bins=2) == table["iv_contribution"].sum()


def test_iv_bin_without_events_uses_epsilon():
    # cut 2.5: bin0 has no event, bin1 no non-event
    expected = (EPSILON - 1) * log(EPSILON) + (1 - EPSILON) * log(1 / EPSILON)
    assert stats.iv([1, 2, 3, 4], [0, 0, 1, 1], bins=2) == pytest.approx(expected, abs=1e-13)


def test_iv_zero_inflated_hand():
    values = [0] * 6 + [1, 2, 3, 4]  # cuts [1.75]
    label = [0, 0, 0, 0, 0, 1, 0, 1, 1, 1]
    # bin0 (7 rows): 1 event of 4, 6 non-events of 6; bin1: 3 events of 4, 0 non-events
    expected = (1 / 4 - 1) * log(1 / 4) + (3 / 4 - EPSILON) * log((3 / 4) / EPSILON)
    assert stats.iv(values, label, bins=4) == pytest.approx(expected, abs=1e-13)


def test_iv_categorical_with_null():
    values = ["a", "a", "b", "b", "b", None]
    label = [1, 0, 1, 1, 0, 0]
    # 3 events, 3 non-events; a: 1/3 vs 1/3; b: 2/3 vs 1/3; null: 0 (-> EPSILON) vs 1/3
    expected = 0.0 + (2 / 3 - 1 / 3) * log(2) + (EPSILON - 1 / 3) * log(EPSILON / (1 / 3))
    assert stats.iv(values, label) == pytest.approx(expected, abs=1e-14)
    table = stats.woe_table(values, label)
    assert table["bin"].iloc[:2].tolist() == ["a", "b"]
    assert pd.isna(table["bin"].iloc[2])
    assert table["rows"].tolist() == [2, 3, 1]
    # the same through pandas categorical / nullable string dtypes
    for dtype in ("category", "string"):
        assert stats.iv(pd.Series(values, dtype=dtype), label) == pytest.approx(expected, abs=1e-14)


def test_iv_constant_column_is_zero():
    assert stats.iv([5, 5, 5, 5], [0, 1, 0, 1]) == 0.0
    assert len(stats.woe_table([5, 5, 5, 5], [0, 1, 0, 1])) == 1


def test_categorical_psi():
    baseline = ["a", "a", "b", "b"]
    current = ["b", "c", "c", None]
    expected = (
        (EPSILON - 0.5) * log(EPSILON / 0.5)
        + (0.25 - 0.5) * log(0.25 / 0.5)
        + (0.5 - EPSILON) * log(0.5 / EPSILON)
        + (0.25 - EPSILON) * log(0.25 / EPSILON)
    )
    assert stats.psi(baseline, current) == pytest.approx(expected, abs=1e-14)


def test_input_types_are_equivalent():
    rng = np.random.default_rng(11)
    x = rng.normal(size=400)
    x[rng.random(400) < 0.05] = np.nan
    y = (rng.random(400) < 0.3).astype(int)
    cur = rng.normal(0.2, 1, 300)
    ref_psi, ref_iv = stats.psi(x, cur), stats.iv(x, y)
    variants = [
        x.tolist(),
        [None if np.isnan(v) else v for v in x],
        [pd.NA if np.isnan(v) else v for v in x],
        pd.Series(x, index=np.arange(400)[::-1]),
        pd.Series(x, dtype="Float64"),
        pd.array(x, dtype="Float64"),
    ]
    for v in variants:
        assert stats.psi(v, cur) == ref_psi
        assert stats.iv(v, pd.Series(y)) == ref_iv
    # integers with pd.NA
    xi = pd.Series(np.round(x * 3), dtype="Float64").astype("Int64")
    assert stats.psi(xi, cur) == stats.psi(np.round(x * 3), cur)
    assert stats.iv(xi, y.astype(bool)) == stats.iv(np.round(x * 3), y)


# --------------------------------------------------------------------------------------
# agreement with feature_engine
# --------------------------------------------------------------------------------------


def _fe_psi(baseline: pd.DataFrame, current: pd.DataFrame) -> dict:
    frame = pd.concat(
        [baseline.assign(period=1), current.assign(period=2)], ignore_index=True
    ).reset_index(drop=True)
    # cut_off must be truthy: feature_engine treats cut_off=0 as "not given" and falls back
    # to split_frac. Basis = rows with period <= cut_off.
    selector = DropHighPSIFeatures(
        split_col="period",
        cut_off=1,
        bins=10,
        strategy="equal_frequency",
        missing_values="ignore",
        threshold=0.25,
        min_pct_empty_bins=EPSILON,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selector.fit(frame)
    assert selector.cut_off_ == 1
    return selector.psi_values_


@pytest.fixture(scope="module")
def psi_frames():
    # 2000 baseline rows: (n - 1) * j / 10 is never an integer, see the qcut test below
    rng = np.random.default_rng(2024)
    nb, nc = 2000, 1500

    def zero_inflated(n, p_zero):
        return np.where(rng.random(n) < p_zero, 0.0, rng.poisson(2.0, n) + 1.0)

    baseline = pd.DataFrame(
        {
            "continuous": rng.normal(0, 1, nb),
            "rounded": np.round(rng.normal(0, 2, nb)),
            "counts": rng.poisson(3.0, nb).astype(float),
            "zero_inflated": zero_inflated(nb, 0.6),
            "constant": np.full(nb, 3.0),
            "empty_bin": rng.uniform(0, 10, nb),
        }
    )
    current = pd.DataFrame(
        {
            "continuous": rng.normal(0.3, 1.2, nc),
            "rounded": np.round(rng.normal(0.5, 2, nc)),
            "counts": rng.poisson(3.5, nc).astype(float),
            "zero_inflated": zero_inflated(nc, 0.4),
            "constant": np.full(nc, 3.0),
            "empty_bin": rng.uniform(0, 5, nc),  # upper bins of the baseline stay empty
        }
    )
    return baseline, current


def test_psi_matches_feature_engine(psi_frames):
    baseline, current = psi_frames
    expected = _fe_psi(baseline, current)
    assert set(expected) == set(baseline.columns)
    for column in baseline.columns:
        ours = stats.psi(baseline[column], current[column], bins=10)
        assert ours == pytest.approx(expected[column], abs=TOL, rel=0), column
    # the cases are what they claim to be
    zero_cuts = stats.equal_frequency_cuts(baseline["zero_inflated"])
    assert zero_cuts.size < 9 and zero_cuts.min() > 0
    assert stats.equal_frequency_cuts(baseline["constant"]).size == 0
    assert stats.psi(baseline["constant"], current["constant"]) == 0.0
    empty = stats.psi_table(baseline["empty_bin"], current["empty_bin"])
    assert (empty["current_share"] == EPSILON).sum() >= 3
    assert stats.equal_frequency_cuts(baseline["rounded"]).size < 9


def test_a_cut_a_hair_from_an_order_statistic_is_that_order_statistic():
    """pandas.qcut bumps j/bins up one ulp; we use j/bins. With 91 baseline values
    (n - 1 = 90), 90 * 0.7 evaluates to 62.99999999999999, so the interpolated quantile is
    a hair below v[63]; within 1e-12 of the order statistic quantile_disc gives (v[63]),
    the cut is v[63] (as the SQL macro takes it), so v[63] stays in bin 6 as with qcut, and
    the PSI equals feature_engine's.
    """
    baseline = np.arange(91) * 1.7 + 0.3
    current = np.arange(50) * 3.1
    ours_cuts = stats.equal_frequency_cuts(baseline)
    _, edges = pd.qcut(baseline, 10, retbins=True, duplicates="drop")
    qcut_cuts = edges[1:-1]
    assert ours_cuts[6] == baseline[63] <= qcut_cuts[6]
    assert stats.assign_bins([baseline[63]], ours_cuts)[0] == 6
    assert stats.assign_bins([baseline[63]], qcut_cuts)[0] == 6
    moved = stats.assign_bins(baseline, ours_cuts) != stats.assign_bins(baseline, qcut_cuts)
    assert np.flatnonzero(moved).tolist() == []
    fe = _fe_psi(pd.DataFrame({"x": baseline}), pd.DataFrame({"x": current}))["x"]
    assert stats.psi(baseline, current) == pytest.approx(fe, abs=TOL, rel=0)


@pytest.fixture(scope="module")
def iv_frame():
    rng = np.random.default_rng(77)
    n = 3000
    x = rng.normal(0, 1, n)
    cat = rng.choice(["a", "b", "c", "d"], n)
    logit = -0.8 + 0.9 * x + np.select([cat == "a", cat == "b"], [0.7, -0.5], 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "continuous": x + rng.normal(0, 0.5, n),
            "rounded": np.round(x * 2),
            "counts": rng.poisson(np.exp(0.5 + 0.3 * y)).astype(float),
            "cat": cat,
        }
    )
    return frame, pd.Series(y)


def test_iv_matches_feature_engine(iv_frame):
    frame, y = iv_frame
    selector = SelectByInformationValue(bins=10, strategy="equal_frequency", threshold=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selector.fit(frame, y)
    expected = selector.information_values_
    assert set(expected) == set(frame.columns)
    for column in frame.columns:
        table = stats.woe_table(frame[column], y)
        assert (table["events"] > 0).all() and (table["nonevents"] > 0).all(), column
        assert stats.iv(frame[column], y) == pytest.approx(expected[column], abs=TOL, rel=0)


def _fe_woe_iv(frame: pd.DataFrame, y: pd.Series, column: str, discretise: bool) -> float:
    if discretise:
        frame = EqualFrequencyDiscretiser(q=10, variables=[column]).fit_transform(frame[[column]])
    pos, neg, woe = WoE()._calculate_woe(frame, y, column, fill_value=EPSILON)
    return float(np.sum((pos - neg) * woe))


def test_iv_bin_without_events_matches_feature_engine_woe():
    rng = np.random.default_rng(5)
    n = 2000
    x = rng.gamma(2.0, 1.0, n)
    y = (rng.random(n) < 0.4).astype(int)
    y[x <= np.quantile(x, 0.1)] = 0  # the lowest decile holds no event
    cat = rng.choice(["a", "b", "c"], n)
    y_cat = np.where(cat == "c", 1, y)  # category c holds no non-event
    frame = pd.DataFrame({"x": x, "cat": cat})
    table = stats.woe_table(x, y)
    assert table["events"].iloc[0] == 0 and table["event_share"].iloc[0] == EPSILON
    expected = _fe_woe_iv(frame, pd.Series(y), "x", discretise=True)
    assert stats.iv(x, y) == pytest.approx(expected, abs=TOL, rel=0)
    expected_cat = _fe_woe_iv(frame, pd.Series(y_cat), "cat", discretise=False)
    assert stats.iv(cat, y_cat) == pytest.approx(expected_cat, abs=TOL, rel=0)


# --------------------------------------------------------------------------------------
# nulls: an independent pandas computation (feature_engine drops or refuses nulls)
# --------------------------------------------------------------------------------------


def _pandas_edges(values: pd.Series, bins: int = 10) -> list[float]:
    nonnull = values.dropna()
    q = nonnull.quantile([j / bins for j in range(1, bins)])
    cuts = sorted(set(q[(q > nonnull.min()) & (q < nonnull.max())]))
    return [-np.inf, *cuts, np.inf]


def _pandas_psi(baseline: pd.Series, current: pd.Series) -> float:
    edges = _pandas_edges(baseline)
    b = pd.cut(baseline, edges, right=True, labels=False).value_counts(dropna=False)
    c = pd.cut(current, edges, right=True, labels=False).value_counts(dropna=False)
    shares = pd.concat([b / len(baseline), c / len(current)], axis=1, keys=["b", "c"])
    shares = shares.fillna(0.0).replace(0.0, EPSILON)
    return float(((shares["c"] - shares["b"]) * np.log(shares["c"] / shares["b"])).sum())


def _pandas_iv(values: pd.Series, y: pd.Series) -> float:
    binned = pd.cut(values, _pandas_edges(values), right=True, labels=False)
    counts = pd.crosstab(binned.fillna(-1), y)
    shares = (counts / counts.sum()).replace(0.0, EPSILON)
    woe = np.log(shares[1] / shares[0])
    return float(((shares[1] - shares[0]) * woe).sum())


def test_nulls_match_independent_pandas_computation():
    rng = np.random.default_rng(99)
    nb, nc = 2000, 1600

    def with_nulls(values):
        values = pd.Series(values, dtype="float64")
        values[rng.random(len(values)) < 0.05] = np.nan
        return values

    baseline = {
        "continuous": with_nulls(rng.normal(0, 1, nb)),
        "zero_inflated": with_nulls(np.where(rng.random(nb) < 0.5, 0, rng.poisson(2, nb))),
    }
    current = {
        "continuous": with_nulls(rng.normal(0.2, 1.1, nc)),
        "zero_inflated": with_nulls(np.where(rng.random(nc) < 0.3, 0, rng.poisson(2, nc))),
    }
    y = pd.Series((rng.random(nb) < 0.3).astype(int))
    for column in baseline:
        b, c = baseline[column], current[column]
        assert b.isna().sum() > 50 and c.isna().sum() > 50
        assert stats.psi(b, c) == pytest.approx(_pandas_psi(b, c), abs=TOL, rel=0), column
        assert stats.iv(b, y) == pytest.approx(_pandas_iv(b, y), abs=TOL, rel=0), column
        # the null bin counts: dropping nulls gives a different number
        assert stats.psi(b.dropna(), c.dropna()) != pytest.approx(stats.psi(b, c), abs=1e-6)


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: stats.psi([], [1, 2]), ValueError, "at least one row"),
        (lambda: stats.psi([1, 2], []), ValueError, "at least one row"),
        (lambda: stats.psi([1, 2], ["a", "b"]), TypeError, "both be numeric"),
        (lambda: stats.psi([1, 2], [1, 2], bins=0), ValueError, "bins"),
        (lambda: stats.psi([1, 2], [1, 2], bins=2.5), ValueError, "bins"),
        (lambda: stats.psi([1, 2], [1, 2], cuts=[2, 1]), ValueError, "strictly increasing"),
        (lambda: stats.psi([1, 2], [1, 2], cuts=[np.nan]), ValueError, "finite"),
        (lambda: stats.psi(["a"], ["b"], cuts=[1]), ValueError, "numeric columns"),
        (lambda: stats.psi([1, np.inf], [1, 2]), ValueError, "infinite"),
        (lambda: stats.psi(np.ones((2, 2)), [1, 2]), ValueError, "1-dimensional"),
        (lambda: stats.psi(pd.DataFrame({"a": [1]}), [1]), ValueError, "1-dimensional"),
        (
            lambda: stats.psi(pd.to_datetime(["2024-01-01"]), [1]),
            TypeError,
            "datetime",
        ),
        (lambda: stats.iv([1, 2, 3], [0, 1, 2]), ValueError, "only 0 and 1"),
        (lambda: stats.iv([1, 2, 3], ["0", "1", "1"]), ValueError, "only 0 and 1"),
        (lambda: stats.iv([1, 2, 3], [1, 1, 1]), ValueError, "both classes"),
        (lambda: stats.iv([1, 2, 3], [0, 1]), ValueError, "rows"),
        (lambda: stats.iv([1, 2, 3], [0, 1, None]), ValueError, "nulls"),
        (lambda: stats.iv([], []), ValueError, "both classes"),
        (lambda: stats.iv(["a", "b"], [0, 1], cuts=[1]), ValueError, "numeric columns"),
        (lambda: stats.assign_bins(["a"], [1]), TypeError, "numeric"),
        (lambda: stats.equal_frequency_cuts([1, 2], bins=True), ValueError, "bins"),
    ],
)
def test_validation(call, error, message):
    with pytest.raises(error, match=message):
        call()
