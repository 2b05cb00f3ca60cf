"""The synthetic bank data: deterministic, with the planted boundaries and structure the
bank tests rely on."""

from __future__ import annotations

import pyarrow as pa
import pytest

from python_scoring.synthetic.bank import BANK_TABLES, BankConfig, generate_bank

SMALL = BankConfig(n_corporate=800, n_months=4, n_retail=3_000, seed=7)


def tables(config: BankConfig) -> dict[str, pa.Table]:
    chunks: dict[str, list[pa.Table]] = {}
    for name, chunk in generate_bank(config):
        chunks.setdefault(name, []).append(chunk)
    return {name: pa.concat_tables(parts) for name, parts in chunks.items()}


@pytest.fixture(scope="module")
def bank() -> dict[str, pa.Table]:
    return tables(SMALL)


def test_same_config_same_bytes(bank):
    again = tables(SMALL)
    assert set(bank) == set(again) == set(BANK_TABLES)
    for name in BANK_TABLES:
        assert bank[name].equals(again[name]), name
    other = tables(BankConfig(n_corporate=800, n_months=4, n_retail=3_000, seed=8))
    assert not other["retail_customers"].equals(bank["retail_customers"])


def test_corporate_months_and_three_month_average(bank):
    frame = bank["corporate_monthly"].to_pandas()
    assert sorted(frame["month"].astype(str).unique()) == [
        "2025-01-01",
        "2025-02-01",
        "2025-03-01",
        "2025-04-01",
    ]
    assert not frame.duplicated(["customer_id", "month"]).any()
    # the 3m average is the mean of the previous three months (checked where all are written)
    wide = frame.pivot(index="customer_id", columns="month", values="financial_assets_avg_daily")
    april = frame[frame["month"].astype(str) == "2025-04-01"].set_index("customer_id")
    expected = wide.iloc[:, 0:3].mean(axis=1).round(2)
    usable = expected.notna() & april["financial_assets_avg_daily_3m"].notna()
    exact_boundary = (
        april["financial_assets_avg_daily"] == 0.5 * april["financial_assets_avg_daily_3m"]
    )
    assert usable.sum() > 700
    difference = (april["financial_assets_avg_daily_3m"] - expected)[usable & ~exact_boundary]
    # planted boundary rows rewrite a month's assets after the fact; all others match
    assert (difference.abs() < 0.02).mean() > 0.98


def test_planted_label_boundaries(bank):
    frame = bank["corporate_monthly"].to_pandas()
    ratio_half = frame["financial_assets_avg_daily"] == 0.5 * frame["financial_assets_avg_daily_3m"]
    assert ratio_half.sum() >= 3
    assert (frame["avg_monthly_txn_count"] == 3).sum() >= 3
    amount = frame["avg_monthly_txn_amount"] == 3_000_000
    assert amount.sum() >= 3
    assert (frame.loc[amount, "avg_monthly_txn_count"] <= 3).all()
    churned = frame["financial_assets_avg_daily"] < 0.5 * frame["financial_assets_avg_daily_3m"]
    assert 0.03 < churned.mean() < 0.15


def test_addresses_span_provinces_with_and_without_guangdong(bank):
    reg = bank["corporate_registrations"].to_pandas()
    assert reg["customer_id"].is_unique
    addresses = reg["registered_address"]
    assert addresses.str.contains("广东").mean() == pytest.approx(0.2, abs=0.06)
    # Guangdong cities written without the province: the literal rule does not match them
    assert (addresses.str.startswith("深圳市") | addresses.str.startswith("广州市")).any()
    assert addresses.str.contains("广西").any()
    assert reg["operating_address"].isna().any()


def test_retail_history_is_not_holding(bank):
    retail = bank["retail_customers"].to_pandas()
    assert retail["customer_id"].is_unique
    history_only = (retail["wealth_balance"] == 0) & (retail["wealth_balance_last_year"] > 0)
    assert history_only.sum() > 100
    assert (retail["education"] == "其他").any()  # unseen in the value list
    assert retail["education"].isna().any()
