import numpy as np
import pandas as pd
import pytest

from python_scoring.features import stats
from python_scoring.features.transformers import PairwiseFeatures


@pytest.fixture(scope="module")
def data():
    """The label follows the ratio spend / usage, which neither column shows alone;
    `usage_copy` is usage plus a little noise (r ~ 0.99)."""
    rng = np.random.default_rng(11)
    n = 30_000
    usage = rng.gamma(3.0, 100.0, size=n)
    spend = rng.gamma(3.0, 10.0, size=n)
    ratio = spend / usage
    y = (np.log(ratio) + rng.normal(scale=0.4, size=n) > -2.0).astype(int)
    frame = pd.DataFrame(
        {
            "usage": usage,
            "spend": spend,
            "usage_copy": usage + rng.normal(scale=5.0, size=n),
            "tenure": rng.integers(0, 120, size=n).astype("float64"),
            "zeros": np.where(rng.random(n) < 0.2, 0.0, rng.normal(size=n)),
            "flag": rng.random(n) < 0.5,
            "plan": rng.choice(["a", "b"], size=n),
        }
    )
    return frame, y


def _pearson(a, b):
    both = ~(np.isnan(a) | np.isnan(b))
    return abs(np.corrcoef(a[both], b[both])[0, 1])


@pytest.mark.parametrize(("iv_limit", "r_limit"), [(0.02, 0.8), (0.1, 0.5), (0.3, 0.95)])
def test_kept_features_respect_iv_and_r_limits(data, iv_limit, r_limit):
    frame, y = data
    derive = PairwiseFeatures(top_k=5, iv_limit=iv_limit, r_limit=r_limit).fit(frame, y)
    out = derive.transform(frame)
    numeric = ["usage", "spend", "usage_copy", "tenure", "zeros"]
    kept = [d["name"] for d in derive.derived_]
    assert list(out.columns) == [*frame.columns, *kept]
    # every candidate, checked independently: kept iff IV >= limit and |r| < limit against
    # the numeric inputs and the derived features kept before it (by descending IV)
    earlier: list[str] = []
    for cand in derive.candidates_.itertuples():
        a, b = frame[cand.left].to_numpy(), frame[cand.right].to_numpy()
        with np.errstate(all="ignore"):
            values = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[cand.op]
        values = np.where(np.isfinite(values), values, np.nan)
        if cand.kept:
            np.testing.assert_allclose(out[cand.name], values, equal_nan=True)
        iv = stats.iv(values, y)
        assert iv == pytest.approx(cand.iv, abs=1e-12)
        max_r = max(_pearson(values, out[c].to_numpy(dtype="float64")) for c in numeric + earlier)
        should_keep = iv >= iv_limit and max_r < r_limit
        assert cand.kept == should_keep, (cand.name, iv, max_r)
        if cand.kept:
            earlier.append(cand.name)


def test_the_ratio_is_found_and_beats_its_parts(data):
    frame, y = data
    derive = PairwiseFeatures(top_k=4, iv_limit=0.02, r_limit=0.8).fit(frame, y)
    best = derive.derived_[0]
    assert {best["left"], best["right"]} == {"spend", "usage"} and best["op"] in ("div", "sub")
    assert best["iv"] > 2 * derive.base_iv_.max()
    # booleans and text are never operands
    assert not set(derive.candidates_[["left", "right"]].to_numpy().ravel()) & {"flag", "plan"}


def test_division_by_zero_is_null_and_transform_recomputes(data):
    frame, y = data
    derive = PairwiseFeatures(top_k=5, operations=("div",), iv_limit=0.0, r_limit=1.0)
    derive.fit(frame, y)
    names = [d["name"] for d in derive.derived_]
    per_zeros = [n for n in names if n.endswith("__per__zeros")]
    assert per_zeros, names
    out = derive.transform(frame.head(500))
    left = per_zeros[0].split("__per__")[0]
    expected = np.where(
        frame["zeros"].head(500) == 0, np.nan, frame[left].head(500) / frame["zeros"].head(500)
    )
    np.testing.assert_allclose(out[per_zeros[0]].to_numpy(), expected, equal_nan=True)


def test_unknown_operation_is_refused(data):
    frame, y = data
    with pytest.raises(ValueError, match="unknown operation"):
        PairwiseFeatures(operations=("pow",)).fit(frame, y)
