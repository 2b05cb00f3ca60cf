import numpy as np
import pandas as pd
import pytest

from python_scoring.features import stats
from python_scoring.features.transformers import WoeEncoder


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    n = 5_000
    x = rng.gamma(2.0, size=n)
    plan = rng.choice(["basic", "plus", "max"], size=n, p=[0.6, 0.3, 0.1])
    y = ((x + (plan == "max") * 2 + rng.normal(size=n)) > 3).astype(int)
    frame = pd.DataFrame({"usage": x, "plan": plan})
    return frame, y, WoeEncoder(bins=5).fit(frame, y)


def test_values_are_the_woe_of_their_bin(fitted):
    frame, y, encoder = fitted
    out = encoder.transform(frame)
    table = stats.woe_table(frame["usage"], y, bins=5)
    bins = stats.assign_bins(frame["usage"], stats.equal_frequency_cuts(frame["usage"], 5))
    expected = table.set_index("bin")["woe"].reindex(bins).to_numpy()
    np.testing.assert_allclose(out["usage"].to_numpy(), expected, rtol=0, atol=1e-12)
    plan_woe = stats.woe_table(frame["plan"], y).set_index("bin")["woe"]
    np.testing.assert_allclose(out["plan"], plan_woe.reindex(frame["plan"]).to_numpy())
    assert (
        out["plan"][frame["plan"] == "max"].iloc[0]
        > 0
        > out["plan"][frame["plan"] == "basic"].iloc[0]
    )


def test_unseen_category_and_unseen_null_get_no_evidence(fitted):
    _, _, encoder = fitted
    new = pd.DataFrame({"usage": [np.nan, 1e9, -5.0], "plan": ["ultra", None, "max"]})
    out = encoder.transform(new)
    assert out["usage"][0] == 0.0  # training had no null usage
    assert out["usage"][1] == encoder.woe_["usage"][len(encoder.cuts_["usage"])]  # last bin
    assert out["usage"][2] == encoder.woe_["usage"][0]  # first bin
    assert out["plan"][0] == 0.0 and out["plan"][1] == 0.0
    assert out["plan"][2] == encoder.woe_["plan"]["max"]
