import numpy as np
import pandas as pd
import pytest

from python_scoring.features import stats
from python_scoring.features.transformers import InformationValueScreen


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 20_000
    signal = rng.normal(size=n)
    y = (signal + rng.normal(size=n) > 1.5).astype(int)
    frame = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "signal": np.where(rng.random(n) < 0.1, np.nan, signal),
            "segment": np.where(signal > 0.5, "high", rng.choice(["a", "b", "c"], n)),
            "constant": np.ones(n),
        }
    )
    return frame, y


def test_iv_is_the_stats_definition_and_limit_keeps_the_rest(data):
    frame, y = data
    screen = InformationValueScreen(iv_limit=0.02, max_rows=None).fit(frame, y)
    for col in frame:
        assert screen.iv_[col] == pytest.approx(stats.iv(frame[col], y), abs=1e-12)
    assert screen.features_ == ["signal", "segment"]  # input order, not IV order
    assert set(screen.dropped_) == {"noise", "constant"}
    assert screen.iv_["noise"] < 0.02 <= screen.iv_["segment"]
    out = screen.transform(frame)
    assert list(out.columns) == ["signal", "segment"]
    assert list(screen.get_feature_names_out()) == ["signal", "segment"]


def test_sample_is_stratified_and_close_to_full_data(data):
    frame, y = data
    full = InformationValueScreen(iv_limit=0.0, max_rows=None).fit(frame, y)
    sampled = InformationValueScreen(iv_limit=0.0, max_rows=5_000, random_state=1).fit(frame, y)
    assert sampled.iv_["signal"] != full.iv_["signal"]  # really a sample
    assert sampled.iv_["signal"] == pytest.approx(full.iv_["signal"], rel=0.15)


def test_no_feature_reaching_the_limit_is_a_clear_error(data):
    frame, y = data
    with pytest.raises(ValueError, match=r"no feature reaches iv_limit 50 \(best: signal"):
        InformationValueScreen(iv_limit=50).fit(frame, y)


def test_missing_column_at_transform_is_named(data):
    frame, y = data
    screen = InformationValueScreen(iv_limit=0.02).fit(frame, y)
    with pytest.raises(ValueError, match="lacks column\\(s\\) segment"):
        screen.transform(frame.drop(columns="segment"))


def test_label_must_be_binary(data):
    frame, _ = data
    with pytest.raises(ValueError, match="0/1 label"):
        InformationValueScreen().fit(frame, np.arange(len(frame)) % 3)
