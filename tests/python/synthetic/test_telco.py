"""Tests of the synthetic telco generator (small configs; the whole module runs in seconds)."""

from __future__ import annotations

import datetime
import io
from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

from python_scoring.synthetic.telco import TABLE_SCHEMAS, GeneratorConfig, generate_telco

START = datetime.date(2025, 1, 1)
SMALL = GeneratorConfig(n_subscribers=3_000, n_months=6, start_month=START, seed=7)
MONTHLY = {"usage_monthly": "usage_month", "billing_monthly": "bill_month"}


def _collect(config: GeneratorConfig) -> dict[str, pa.Table]:
    chunks: dict[str, list[pa.Table]] = defaultdict(list)
    for name, chunk in generate_telco(config):
        chunks[name].append(chunk)
    return {name: pa.concat_tables(parts) for name, parts in chunks.items()}


def _month_index(values: pd.Series) -> pd.Series:
    """Months since START (0 = start month) of a date/timestamp column."""
    stamps = pd.to_datetime(values)
    return (stamps.dt.year - START.year) * 12 + stamps.dt.month - START.month


def _psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index over equal-frequency bins of ``expected``."""
    expected, actual = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected), minlength=edges.size + 1) / expected.size
    a = np.bincount(np.searchsorted(edges, actual), minlength=edges.size + 1) / actual.size
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    frames = {name: table.to_pandas() for name, table in _collect(SMALL).items()}
    for name, column in MONTHLY.items():
        frames[name]["m"] = _month_index(frames[name][column])
    events = frames["status_events"]
    events["m"] = _month_index(events["event_date"])
    frames["tickets"]["m"] = _month_index(frames["tickets"]["opened_at"])
    frames["addon_purchases"]["m"] = _month_index(frames["addon_purchases"]["purchased_at"])
    return frames


@pytest.fixture(scope="module")
def deactivation_month(tables) -> pd.Series:
    events = tables["status_events"]
    return events[events["event_type"] == "deactivated"].set_index("subscriber_id")["m"]


# ---- interface ------------------------------------------------------------------------------


def test_chunks_match_schemas():
    names = []
    for name, chunk in generate_telco(SMALL):
        assert chunk.schema == TABLE_SCHEMAS[name], name
        names.append(name)
    assert set(names) == set(TABLE_SCHEMAS)
    assert list(dict.fromkeys(names)) == list(TABLE_SCHEMAS)
    # monthly tables come one chunk per month
    assert names.count("usage_monthly") == SMALL.n_months
    assert names.count("billing_monthly") == SMALL.n_months


def _serialized(config: GeneratorConfig) -> list[tuple[str, bytes]]:
    out = []
    for name, chunk in generate_telco(config):
        sink = io.BytesIO()
        with pyarrow.ipc.new_stream(sink, chunk.schema) as writer:
            writer.write_table(chunk)
        out.append((name, sink.getvalue()))
    return out


def test_deterministic_given_seed():
    config = GeneratorConfig(n_subscribers=500, n_months=4, seed=3)
    first = _serialized(config)
    assert first == _serialized(config)
    other = _serialized(GeneratorConfig(n_subscribers=500, n_months=4, seed=4))
    assert [name for name, _ in other] == [name for name, _ in first]
    differing = {name for (name, a), (_, b) in zip(first, other, strict=True) if a != b}
    assert {"subscribers", "usage_monthly", "billing_monthly", "tickets"} <= differing


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_subscribers": 99}, "n_subscribers"),
        ({"n_subscribers": 1000.0}, "n_subscribers"),
        ({"n_months": 3}, "n_months"),
        ({"seed": -1}, "seed"),
        ({"start_month": datetime.date(2025, 1, 15)}, "start_month"),
        ({"start_month": datetime.datetime(2025, 1, 1)}, "start_month"),
        ({"drift_month": datetime.date(2025, 3, 2)}, "drift_month"),
        ({"drift_month": datetime.date(2024, 12, 1)}, "outside"),
        ({"n_months": 4, "drift_month": datetime.date(2025, 5, 1)}, "outside"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_telco(GeneratorConfig(**kwargs))


def test_validation_is_eager_and_accepts_edges():
    config = GeneratorConfig(n_subscribers=3, n_months=4)  # construction does not validate
    with pytest.raises(ValueError, match="n_subscribers"):
        generate_telco(config)  # raises on the call, before any iteration
    edge = GeneratorConfig(n_subscribers=100, n_months=4, drift_month=datetime.date(2025, 4, 1))
    assert sum(1 for name, _ in generate_telco(edge) if name == "usage_monthly") == 4


# ---- integrity ------------------------------------------------------------------------------


def test_keys_unique(tables):
    assert tables["subscribers"]["subscriber_id"].is_unique
    assert tables["packages"]["package_id"].is_unique
    assert tables["tickets"]["ticket_id"].is_unique
    assert tables["addon_purchases"]["purchase_id"].is_unique
    for name in MONTHLY:
        assert not tables[name].duplicated(["subscriber_id", "m"]).any(), name


def test_subscribers(tables):
    subs = tables["subscribers"]
    ids = subs["subscriber_id"]
    assert ids.between(10_000_000_000, 99_999_999_999).all()  # 11 digits
    assert not ids.is_monotonic_increasing  # not in activation order
    assert (
        subs["contract_end_date"]
        .isna()
        .eq(~subs["contract_type"].str.startswith("contract_"))
        .all()
    )
    assert len(subs) > SMALL.n_subscribers * 1.05  # people join during the window
    activation = pd.to_datetime(subs["activation_date"])
    assert activation.min() < pd.Timestamp(START) - pd.DateOffset(years=6)
    assert set(subs["initial_package_id"]) <= set(tables["packages"]["package_id"])


def test_status_history_consistent(tables, deactivation_month):
    events, subs = tables["status_events"], tables["subscribers"]
    activated = events[events["event_type"] == "activated"].set_index("subscriber_id")
    assert activated.index.is_unique
    assert (
        activated["event_date"].reindex(subs["subscriber_id"]).values
        == subs["activation_date"].values
    ).all()
    assert deactivation_month.index.is_unique  # at most one deactivation each
    reasons = events.groupby("event_type")["reason"].agg(lambda r: set(r.dropna()))
    assert reasons["deactivated"] == {"voluntary", "port_out", "non_payment"}
    assert reasons["suspended"] == reasons["resumed"] == reasons["activated"] == set()


def test_no_activity_after_deactivation(tables, deactivation_month):
    for name in [*MONTHLY, "tickets", "addon_purchases"]:
        frame = tables[name]
        gone = frame["subscriber_id"].map(deactivation_month)
        assert not (frame["m"] > gone).any(), name


def test_usage_and_billing_rows_match(tables):
    keys = [
        set(zip(tables[name]["subscriber_id"], tables[name]["m"], strict=True)) for name in MONTHLY
    ]
    assert keys[0] == keys[1]


def test_dates_inside_their_month(tables):
    for name, column in MONTHLY.items():
        assert (pd.to_datetime(tables[name][column]).dt.day == 1).all()
    usage = tables["usage_monthly"]
    days_in_month = pd.to_datetime(usage["usage_month"]).dt.days_in_month
    assert usage["days_active"].between(1, days_in_month).all()
    assert (usage["days_active"] < days_in_month).any()
    for name in ("tickets", "addon_purchases"):
        assert tables[name]["m"].between(0, SMALL.n_months - 1).all(), name
    tickets = tables["tickets"].dropna(subset=["resolved_at"])
    assert (tickets["resolved_at"] > tickets["opened_at"]).all()


def test_values_plausible(tables):
    usage, billing = tables["usage_monthly"], tables["billing_monthly"]
    null_share = usage["data_mb"].isna().mean()
    assert 0.0005 < null_share < 0.01  # mediation gaps
    assert (usage[["voice_minutes", "offnet_voice_minutes", "roaming_minutes"]] >= 0).all().all()
    assert (usage["offnet_voice_minutes"] <= usage["voice_minutes"]).all()
    assert (billing["arrears_amount"] >= 0).all()
    assert (billing["billed_amount"] > 0).all()
    assert (billing["arrears_amount"] > 0).mean() > 0.005
    assert set(tables["tickets"]["category"]) == {
        "billing",
        "network_coverage",
        "data_speed",
        "customer_service",
        "other",
    }


# ---- planted behaviour ----------------------------------------------------------------------


def test_monthly_churn_rate(tables, deactivation_month):
    billing = tables["billing_monthly"]
    for m in range(SMALL.n_months - 1):
        base = billing.loc[billing["m"] == m, "subscriber_id"]
        gone = base.map(deactivation_month)
        base = base[~(gone == m)]  # active at the end of month m
        rate = (base.map(deactivation_month) == m + 1).mean()
        assert 0.012 < rate < 0.05, (m, rate)


def test_churners_decline_before_leaving(tables, deactivation_month):
    usage = tables["usage_monthly"]
    full = usage[usage["days_active"] == pd.to_datetime(usage["usage_month"]).dt.days_in_month]
    voice = full.pivot(index="subscriber_id", columns="m", values="voice_minutes")
    churn_at = deactivation_month.reindex(voice.index)
    churner_change, stayer_change = [], []
    for k in range(3, SMALL.n_months):
        change = np.log(voice[k - 1] / voice[k - 3])
        churner_change.append(change[churn_at == k].dropna())
        stayer_change.append(change[~(churn_at <= k)].dropna())
    churners, stayers = pd.concat(churner_change), pd.concat(stayer_change)
    assert len(churners) > 100
    # usage falls in the months before leaving, while stayers' usage is flat
    assert churners.mean() < stayers.mean() - 0.1
    assert abs(stayers.mean()) < 0.08


def test_churners_complain_more(tables, deactivation_month):
    tickets = tables["tickets"]
    network = tickets[tickets["category"].isin(["network_coverage", "data_speed"])]
    billing = tables["billing_monthly"]
    rows = billing[billing["m"].between(1, SMALL.n_months - 2)]
    churns_next = rows["subscriber_id"].map(deactivation_month) == rows["m"] + 1
    counts = network.groupby(["subscriber_id", "m"]).size()
    has_ticket = pd.Series(
        pd.MultiIndex.from_frame(rows[["subscriber_id", "m"]]).isin(counts.index),
        index=rows.index,
    )
    assert has_ticket[churns_next].mean() > 2 * has_ticket[~churns_next].mean()


def test_addon_buyers_use_more_of_their_allowance(tables):
    usage = tables["usage_monthly"].merge(
        tables["billing_monthly"][["subscriber_id", "m", "package_id"]], on=["subscriber_id", "m"]
    )
    allowance = tables["packages"].set_index("package_id")["data_allowance_mb"]
    usage["util"] = usage["data_mb"] / (
        usage["package_id"].map(allowance) * usage["days_active"] / 30.4
    )
    purchases = tables["addon_purchases"]
    buyers = pd.MultiIndex.from_frame(purchases[["subscriber_id", "m"]].drop_duplicates())
    bought = pd.MultiIndex.from_frame(usage[["subscriber_id", "m"]]).isin(buyers)
    share = bought.mean()
    assert 0.03 < share < 0.12
    assert usage.loc[bought, "util"].median() > 2 * usage.loc[~bought, "util"].median()
    assert usage.loc[bought, "util"].median() > 0.8


def test_package_migration(tables):
    billing = tables["billing_monthly"].sort_values(["subscriber_id", "m"])
    previous = billing.groupby("subscriber_id")["package_id"].shift()
    changed = (billing["package_id"] != previous)[previous.notna()]
    assert 0.01 < changed.mean() < 0.05


def test_drift_shows_in_psi():
    drift = datetime.date(2025, 5, 1)
    plain = _collect(GeneratorConfig(n_subscribers=3_000, n_months=6, seed=11))
    drifted = _collect(GeneratorConfig(n_subscribers=3_000, n_months=6, seed=11, drift_month=drift))

    def column(tables, table, column, month):
        frame = tables[table].to_pandas()
        month_col = MONTHLY[table]
        return frame.loc[pd.to_datetime(frame[month_col]) == pd.Timestamp(month), column].to_numpy(
            dtype=float
        )

    before = datetime.date(2025, 4, 1)
    for table, col in [
        ("usage_monthly", "data_mb"),
        ("usage_monthly", "voice_minutes"),
        ("billing_monthly", "billed_amount"),
    ]:
        stable = _psi(column(plain, table, col, before), column(plain, table, col, drift))
        shifted = _psi(column(drifted, table, col, before), column(drifted, table, col, drift))
        assert stable < 0.1, (col, stable)
        assert shifted > 0.25, (col, shifted)
    # months before the drift month are untouched
    assert (
        column(plain, "usage_monthly", "voice_minutes", before).tolist()
        == column(drifted, "usage_monthly", "voice_minutes", before).tolist()
    )
