"""Deterministic synthetic bank data (the raw ``bank`` source tables).

The simulated bank
------------------
* **Corporate customers by month** (``corporate_monthly``): static traits (industry, size,
  account age, payroll and FX services) and a latent *activity* level that sets transactions,
  counterparties and assets. Each month a customer may start leaving (a logistic hazard on its
  overdue loans, falling logins and low activity); in that month its financial assets drop to
  5-45 % of their level, payments flow out (high ``outflow_ratio``), logins and transactions
  fall and the last transaction date moves back, and the assets stay low afterwards (the
  outflows and low activity last as long as the three-month average remembers the assets). Ordinary
  months move assets by a lognormal +-15 %; a few customers have an unexplained drop (noise).
  ``financial_assets_avg_daily_3m`` is the mean of the three previous months' values (three
  warm-up months precede the first month written; accounts younger than that have none).
  ``avg_monthly_txn_count`` is a mean of three monthly counts (multiples of 1/3) and
  ``avg_monthly_txn_amount`` that count times a size-dependent ticket.
* **Registration details** (``corporate_registrations``): company names and registered /
  operating addresses across Chinese provinces (about a fifth in 广东), 10 % of addresses written
  without their province (``深圳市南山区...``: a literal "contains 广东" filter misses them, as the
  business rule says), registered capital, legal form, founding date, shareholders, high-tech
  flag. Capital, high-tech and shareholders raise the transaction level: the potential-customer
  label is learnable from them.
* **Retail customers** (``retail_customers``): five planted segments (students, young payroll
  customers, mortgage families, affluent investors, villagers) with their own ages, flags,
  education, risk ratings, preferences and product propensities, and product dependencies inside
  segments (wealth management and bonds -> agency asset management among the affluent; a loan ->
  insurance among mortgage families; bonds -> precious-metal savings among villagers), so that
  clusters and per-cluster rules are meaningful. Balances are zero for products not held;
  ``*_last_year`` balances are history that must not count as holding.

Boundary rows are planted on purpose: every month about 0.3 % of corporate customers sit at an
asset drop of exactly 50 % (not churned) and 0.3 % just past it; 0.5 % at exactly 3 transactions
and 0.5 % at exactly 3,000,000 yuan (not potential). A little dirt: nulls in a few features, an
unseen education value.

:func:`generate_bank` yields ``(table_name, pyarrow.Table)`` chunks; same config, same bytes.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

__all__ = ["BankConfig", "generate_bank", "write_csv_files", "BANK_TABLES"]

BANK_TABLES = ("corporate_monthly", "corporate_registrations", "retail_customers")
_WARMUP = 3  # months before the first written month, for the three-month asset average


@dataclass(frozen=True)
class BankConfig:
    n_corporate: int = 5_000
    n_months: int = 6
    n_retail: int = 20_000
    start_month: datetime.date = datetime.date(2025, 1, 1)
    seed: int = 42

    def validate(self) -> None:
        if self.n_corporate < 100 or self.n_retail < 100:
            raise ValueError("n_corporate and n_retail must be at least 100")
        if not 1 <= self.n_months <= 120:
            raise ValueError("n_months must be between 1 and 120")
        if self.start_month.day != 1:
            raise ValueError(f"start_month must be the first day of a month: {self.start_month}")


_INDUSTRIES = (
    "manufacturing",
    "wholesale_retail",
    "construction",
    "information_technology",
    "real_estate",
    "logistics",
    "agriculture",
    "services",
)
_INDUSTRY_P = (0.22, 0.2, 0.1, 0.12, 0.06, 0.1, 0.06, 0.14)
_SIZES = ("micro", "small", "medium", "large")
_SIZE_P = (0.45, 0.33, 0.16, 0.06)
_PROVINCES = (
    ("广东省", ("广州市", "深圳市", "佛山市", "东莞市", "珠海市")),
    ("广西壮族自治区", ("南宁市", "桂林市")),
    ("福建省", ("福州市", "厦门市")),
    ("浙江省", ("杭州市", "宁波市")),
    ("江苏省", ("南京市", "苏州市")),
    ("北京市", ("朝阳区", "海淀区")),
    ("上海市", ("浦东新区", "徐汇区")),
    ("四川省", ("成都市", "绵阳市")),
    ("湖南省", ("长沙市", "株洲市")),
)
_PROVINCE_P = (0.22, 0.08, 0.1, 0.12, 0.12, 0.1, 0.1, 0.08, 0.08)
_ROADS = ("科技园路", "人民路", "解放路", "中山路", "建设路", "工业大道", "滨海大道", "新华路")
_NAME_WORDS = ("华盛", "恒通", "远航", "金桥", "新源", "宏达", "瑞丰", "天成", "海润", "东方")
_NAME_SUFFIX = ("科技", "贸易", "实业", "物流", "建设", "电子", "农业", "服务")
_LEGAL_FORMS = ("有限责任公司", "股份有限公司", "个人独资企业", "合伙企业")

_GENDERS = ("男", "女")
_EDUCATION = ("初中及以下", "高中/中专", "大专", "本科", "研究生及以上")
_MARITAL = ("未婚", "已婚", "离异", "丧偶")
_RISK = ("低风险", "中低风险", "中风险", "中高风险", "高风险")
_PREFERENCE = ("无", "低", "中", "高")
_CHANNELS = ("柜面", "自助设备", "网上银行", "手机银行")
# products in the order of their holding columns below
_PRODUCTS = (
    "deposit",
    "insurance",
    "fund",
    "gold_savings",
    "wealth_management",
    "government_bonds",
    "agency_asset_management",
    "loan_and_credit_card",
)
# segment: share, age range, independent holding probabilities (in _PRODUCTS order)
_SEGMENTS = (
    ("student", 0.15, (18, 24), (0.90, 0.05, 0.15, 0.02, 0.05, 0.01, 0.0, 0.30)),
    ("young_payroll", 0.27, (24, 36), (0.95, 0.20, 0.55, 0.08, 0.35, 0.05, 0.02, 0.50)),
    ("mortgage_family", 0.23, (30, 52), (0.95, 0.15, 0.20, 0.05, 0.30, 0.08, 0.03, 0.95)),
    ("affluent", 0.12, (45, 72), (1.00, 0.40, 0.50, 0.20, 0.80, 0.50, 0.05, 0.15)),
    ("villager", 0.23, (35, 75), (0.98, 0.20, 0.05, 0.10, 0.05, 0.40, 0.0, 0.30)),
)


def _months(start: datetime.date, n: int, offset: int = 0) -> list[datetime.date]:
    """n first-of-month dates from `offset` months after start."""
    index = start.year * 12 + start.month - 1 + offset
    return [datetime.date((index + k) // 12, (index + k) % 12 + 1, 1) for k in range(n)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _text(values: tuple[str, ...], codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object)[codes], type=pa.string(), mask=null)


def _days(dates: np.ndarray) -> pa.Array:
    return pa.array(dates.astype("datetime64[D]"), type=pa.date32())


def _corporate(config: BankConfig, rng: np.random.Generator):
    n = config.n_corporate
    ids = np.array([f"C{i:06d}" for i in range(1, n + 1)], dtype=object)
    industry = rng.choice(len(_INDUSTRIES), n, p=_INDUSTRY_P)
    size = rng.choice(len(_SIZES), n, p=_SIZE_P)
    start = np.datetime64(config.start_month, "D")
    # accounts opened up to 20 years before; 2 % within the warm-up months (no 3m average yet)
    age_days = rng.integers(150, 20 * 365, n)
    recent = rng.random(n) < 0.02
    age_days[recent] = rng.integers(0, 80, recent.sum())
    open_date = start - age_days
    employees = np.round(np.exp(rng.normal(np.log([5, 30, 150, 900])[size], 0.6))).astype(int)
    payroll = (rng.random(n) < np.array([0.1, 0.35, 0.6, 0.8])[size]).astype(int)
    fx = (rng.random(n) < np.where(np.isin(industry, [0, 1, 3]), 0.3, 0.05)).astype(int)
    high_tech = (rng.random(n) < np.where(industry == 3, 0.6, 0.08)).astype(int)
    shareholders = rng.integers(1, 4, n) + (size >= 2) * rng.integers(0, 20, n)
    capital = np.round(np.exp(rng.normal(np.log([50, 300, 2000, 15000])[size], 0.8)), 2)
    # transaction level: size, capital, high-tech, shareholders, services (the potential signal)
    activity = (
        -0.9
        + 0.55 * size
        + 0.25 * (np.log(capital) - 5.5)
        + 0.7 * high_tech
        + 0.04 * np.minimum(shareholders, 15)
        + 0.5 * payroll
        + 0.4 * fx
        + rng.normal(0, 0.45, n)
    )
    base_assets = np.exp(rng.normal(np.log([3e5, 2e6, 1.5e7, 1.2e8])[size], 0.7))
    frailty = rng.normal(0, 1, n)  # unobserved: part of churn stays unpredictable
    registrations = _registrations(ids, size, capital, high_tech, shareholders, open_date, rng)
    return {
        "ids": ids,
        "industry": industry,
        "size": size,
        "open_date": open_date,
        "employees": employees,
        "payroll": payroll,
        "fx": fx,
        "activity": activity,
        "base_assets": base_assets,
        "frailty": frailty,
    }, registrations


def _address(province: np.ndarray, rng: np.random.Generator, omit_province: np.ndarray) -> list:
    out = []
    for p, omit in zip(province, omit_province, strict=True):
        name, cities = _PROVINCES[p]
        city = cities[rng.integers(len(cities))]
        road = _ROADS[rng.integers(len(_ROADS))]
        number = rng.integers(1, 400)
        prefix = "" if omit or name.endswith("市") and name == city else name
        out.append(f"{prefix}{city}{road}{number}号")
    return out


def _registrations(ids, size, capital, high_tech, shareholders, open_date, rng) -> pa.Table:
    n = len(ids)
    registered = rng.choice(len(_PROVINCES), n, p=_PROVINCE_P)
    moved = rng.random(n) < 0.2  # operating elsewhere than registered
    operating = np.where(moved, rng.choice(len(_PROVINCES), n, p=_PROVINCE_P), registered)
    reg_address = _address(registered, rng, rng.random(n) < 0.1)
    op_address = _address(operating, rng, rng.random(n) < 0.1)
    same = ~moved & (rng.random(n) < 0.7)
    op_address = [r if s else o for r, o, s in zip(reg_address, op_address, same, strict=True)]
    names = [
        f"{_PROVINCES[p][1][0][:2]}{_NAME_WORDS[rng.integers(10)]}{_NAME_SUFFIX[rng.integers(8)]}"
        f"{'有限公司' if f != 1 else '股份有限公司'}"
        for p, f in zip(registered, rng.integers(0, 4, n), strict=True)
    ]
    legal = np.where(size >= 2, rng.choice(2, n), rng.choice(4, n, p=(0.6, 0.05, 0.25, 0.1)))
    established = open_date - rng.integers(0, 3650, n)
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "company_name": pa.array(names, pa.string()),
            "registered_address": pa.array(reg_address, pa.string()),
            "operating_address": pa.array(op_address, pa.string(), mask=rng.random(n) < 0.02),
            "registered_capital": pa.array(capital, pa.float64()),
            "legal_form": _text(_LEGAL_FORMS, legal),
            "established_date": _days(established),
            "shareholder_count": pa.array(shareholders, pa.int64()),
            "is_high_tech": pa.array(high_tech, pa.int64()),
        }
    )


def _corporate_months(config: BankConfig, c: dict, rng: np.random.Generator) -> Iterator[pa.Table]:
    n = len(c["ids"])
    months = _months(config.start_month, config.n_months + _WARMUP, offset=-_WARMUP)
    history: list[np.ndarray] = []
    level = c["base_assets"].copy()
    left = np.zeros(n, dtype=bool)
    left_at = np.full(n, -99)  # month index the customer started leaving
    overdue_state = np.zeros(n)
    for k, month in enumerate(months):
        month_start = np.datetime64(month, "D")
        opened = c["open_date"] < month_start + 28
        overdue_state = 0.6 * overdue_state + rng.exponential(1.0, n) * (rng.random(n) < 0.15)
        logins_base = np.exp(1.5 + 0.4 * c["size"] + 0.3 * c["activity"] + rng.normal(0, 0.3, n))
        risk = (
            -4.1
            + 0.55 * overdue_state
            - 0.5 * c["activity"]
            + 0.25 * (c["size"] == 0)
            + 0.9 * c["frailty"]
        )
        leaving = ~left & opened & (rng.random(n) < _sigmoid(risk))
        level = np.where(leaving, level * rng.uniform(0.05, 0.45, n), level)
        level = level * np.exp(rng.normal(0, 0.05, n))
        noise_drop = ~leaving & (rng.random(n) < 0.004)  # unexplained drops
        assets = level * np.exp(rng.normal(0, 0.15, n))
        assets = np.where(noise_drop, assets * rng.uniform(0.2, 0.45, n), assets)
        assets = np.round(np.where(opened, assets, np.nan), 2)
        history.append(assets)
        left |= leaving
        left_at = np.where(leaving, k, left_at)
        if k < _WARMUP:
            continue
        three = np.vstack(history[-4:-1])
        avg3 = np.round(three.mean(axis=0), 2)  # nan when any of the three months is missing
        # planted boundaries: exactly a 50 % drop (not churned), and just beyond it
        u = rng.random(n)
        exact = ~np.isnan(avg3) & (u < 0.003)
        beyond = ~np.isnan(avg3) & (u >= 0.003) & (u < 0.006)
        assets = np.where(exact, avg3 * 0.5, assets)
        assets = np.where(beyond, np.round(avg3 * 0.5 - 0.01, 2), assets)
        history[-1] = assets
        # money keeps flowing out while the three-month average still remembers the
        # assets: the months the label can be 1 for a leaving customer
        signal = (k - left_at <= 2) | beyond
        lam = np.exp(1.0 + 0.9 * c["activity"]) * np.where(signal, 0.55, 1.0)
        counts = rng.poisson(lam[:, None], (n, 3)).mean(axis=1)
        ticket = np.exp(rng.normal(np.log([2e4, 8e4, 3e5, 1.2e6])[c["size"]], 0.5))
        amount = np.round(counts * ticket, 2)
        u = rng.random(n)
        exact_count = u < 0.005
        exact_amount = (u >= 0.005) & (u < 0.01)
        counts = np.where(exact_count, 3.0, counts)
        amount = np.where(exact_count, np.minimum(amount, 2_500_000.0), amount)
        amount = np.where(exact_amount, 3_000_000.0, amount)
        counts = np.where(exact_amount, np.minimum(counts, 3.0), counts)
        outflow = np.clip(
            rng.beta(4, 5, n) + np.where(signal, rng.uniform(0.25, 0.45, n), 0.0), 0, 0.99
        )
        logins = np.round(logins_base * np.where(signal, rng.uniform(0.2, 0.6, n), 1.0))
        idle_days = rng.integers(0, 6, n) + np.where(signal, rng.integers(5, 25, n), 0)
        month_end = np.datetime64(_months(month, 2)[1], "D") - 1
        last_txn = month_end - idle_days
        counterparties = rng.poisson(np.exp(1.2 + 0.8 * c["activity"]))
        loan = np.round(
            np.where(rng.random(n) < 0.4, c["base_assets"] * rng.uniform(0.2, 1.5, n), 0.0), 2
        )
        products = 1 + c["payroll"] + c["fx"] + (loan > 0) + rng.integers(0, 3, n)
        settlement = 1 + rng.poisson(0.3 + 0.6 * c["size"])
        null = rng.random((4, n)) < 0.005
        keep = opened
        table = pa.table(
            {
                "customer_id": pa.array(c["ids"][keep], pa.string()),
                "month": pa.array([month] * int(keep.sum()), pa.date32()),
                "industry": _text(_INDUSTRIES, c["industry"][keep]),
                "company_size": _text(_SIZES, c["size"][keep]),
                "account_open_date": _days(c["open_date"][keep]),
                "last_transaction_date": _days(last_txn[keep]),
                "employee_count": pa.array(c["employees"][keep], pa.int64(), mask=null[0][keep]),
                "settlement_account_count": pa.array(settlement[keep], pa.int64()),
                "counterparty_count": pa.array(counterparties[keep], pa.int64()),
                "online_banking_logins": pa.array(
                    logins[keep].astype(int), pa.int64(), mask=null[1][keep]
                ),
                "loan_overdue_days": pa.array(
                    np.round(overdue_state[keep] * 12).astype(int), pa.int64()
                ),
                "product_count": pa.array(products[keep], pa.int64()),
                "payroll_service": pa.array(c["payroll"][keep], pa.int64()),
                "fx_business": pa.array(c["fx"][keep], pa.int64()),
                "loan_balance": pa.array(loan[keep], pa.float64(), mask=null[2][keep]),
                "outflow_ratio": pa.array(np.round(outflow[keep], 4), pa.float64()),
                "avg_monthly_txn_count": pa.array(counts[keep], pa.float64()),
                "avg_monthly_txn_amount": pa.array(amount[keep], pa.float64(), mask=null[3][keep]),
                "financial_assets_avg_daily": pa.array(assets[keep], pa.float64()),
                "financial_assets_avg_daily_3m": pa.array(
                    avg3[keep], pa.float64(), mask=np.isnan(avg3[keep])
                ),
            }
        )
        yield table


def _retail(config: BankConfig, rng: np.random.Generator) -> pa.Table:
    n = config.n_retail
    segment = rng.choice(len(_SEGMENTS), n, p=[s[1] for s in _SEGMENTS])
    lo = np.array([s[2][0] for s in _SEGMENTS])[segment]
    hi = np.array([s[2][1] for s in _SEGMENTS])[segment]
    age = rng.integers(lo, hi + 1)
    probs = np.array([s[3] for s in _SEGMENTS])[segment]
    held = rng.random((n, len(_PRODUCTS))) < probs
    col = {p: i for i, p in enumerate(_PRODUCTS)}
    # planted dependencies inside segments: the rules the miner should find
    affluent, family, village = segment == 3, segment == 2, segment == 4
    both = held[:, col["wealth_management"]] & held[:, col["government_bonds"]]
    held[:, col["agency_asset_management"]] |= affluent & both & (rng.random(n) < 0.8)
    held[:, col["insurance"]] |= (
        family & held[:, col["loan_and_credit_card"]] & (rng.random(n) < 0.6)
    )
    held[:, col["gold_savings"]] |= (
        village & held[:, col["government_bonds"]] & (rng.random(n) < 0.55)
    )
    held[:, col["fund"]] |= (
        (segment == 1) & held[:, col["wealth_management"]] & (rng.random(n) < 0.7)
    )

    def amount(product: str, scale: float) -> np.ndarray:
        wealth = np.array([0.3, 1.0, 1.5, 6.0, 0.8])[segment]
        return np.where(
            held[:, col[product]], np.round(np.exp(rng.normal(np.log(scale * wealth), 0.8)), 2), 0.0
        )

    fund_total, loan_total = amount("fund", 5e4), amount("loan_and_credit_card", 2e5)
    fund_split = rng.choice(3, n)  # fund only, 积利宝 only, both
    loan_split = np.where(segment == 2, 0, rng.choice(3, n))  # loan, instalment, both
    student, payroll_seg = segment == 0, segment == 1

    def flag(p: np.ndarray) -> pa.Array:
        return pa.array((rng.random(n) < p).astype(int), pa.int64())

    def pick(options: tuple[str, ...], weights_by_segment, null_share=0.0) -> pa.Array:
        weights = np.asarray(weights_by_segment, dtype=float)[segment]
        weights /= weights.sum(axis=1, keepdims=True)
        codes = (weights.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
        return _text(options, codes, rng.random(n) < null_share if null_share else None)

    education = pick(
        _EDUCATION,
        [
            (0.0, 0.1, 0.3, 0.55, 0.05),
            (0.02, 0.1, 0.35, 0.45, 0.08),
            (0.05, 0.2, 0.3, 0.35, 0.1),
            (0.1, 0.2, 0.2, 0.3, 0.2),
            (0.6, 0.3, 0.07, 0.03, 0.0),
        ],
        null_share=0.01,
    ).to_numpy(zero_copy_only=False)
    education = np.where(rng.random(n) < 0.003, "其他", education)  # unseen in the value list
    counts = {
        "financial_product_count": held.sum(axis=1) + rng.integers(0, 2, n),
        "channel_product_count": rng.integers(1, 5, n) + payroll_seg,
        "consumption_channel_count": rng.integers(0, 4, n) + 2 * (student | payroll_seg),
        "time_deposit_count": held[:, col["deposit"]] * rng.integers(0, 4, n) + 2 * (segment == 4),
        "loan_product_count": held[:, col["loan_and_credit_card"]] * rng.integers(1, 3, n),
        "wealth_product_count": held[:, col["wealth_management"]] * rng.integers(1, 5, n),
        "insurance_product_count": held[:, col["insurance"]] * rng.integers(1, 3, n),
        "fund_product_count": held[:, col["fund"]] * rng.integers(1, 6, n),
        "bond_product_count": held[:, col["government_bonds"]] * rng.integers(1, 3, n),
        "high_net_worth_product_count": held[:, col["agency_asset_management"]]
        * rng.integers(1, 3, n),
    }
    pref_low, pref_high = (0.4, 0.4, 0.15, 0.05), (0.05, 0.15, 0.4, 0.4)
    columns = {
        "customer_id": pa.array([f"R{i:07d}" for i in range(1, n + 1)], pa.string()),
        "data_date": pa.array([_months(config.start_month, config.n_months)[-1]] * n, pa.date32()),
        "age": pa.array(age, pa.int64()),
        "gender": pick(_GENDERS, [(0.5, 0.5)] * 5),
        "account_tenure_years": pa.array(
            np.minimum(rng.integers(0, 30, n), np.maximum(age - 17, 0)) // np.where(student, 5, 1),
            pa.int64(),
        ),
        "education": pa.array(education, pa.string()),
        "marital_status": pick(
            _MARITAL,
            [
                (0.97, 0.03, 0, 0),
                (0.6, 0.38, 0.02, 0),
                (0.05, 0.9, 0.05, 0),
                (0.05, 0.8, 0.1, 0.05),
                (0.1, 0.75, 0.05, 0.1),
            ],
        ),
        "is_villager": flag(np.where(segment == 4, 0.9, 0.03)),
        "is_new_citizen": flag(np.where(payroll_seg, 0.4, 0.05)),
        "is_payroll": flag(np.where(payroll_seg, 0.95, np.where(family, 0.5, 0.1))),
        "is_mortgage": flag(np.where(family, 0.9, 0.03)),
        "is_student": flag(np.where(student, 0.95, 0.0)),
        "is_shareholder": flag(np.where(affluent, 0.3, 0.02)),
        "is_business_owner": flag(np.where(affluent, 0.3, np.where(village, 0.08, 0.03))),
        **{name: pa.array(values, pa.int64()) for name, values in counts.items()},
        "risk_rating": pick(
            _RISK,
            [
                (0.5, 0.3, 0.2, 0, 0),
                (0.1, 0.3, 0.4, 0.15, 0.05),
                (0.2, 0.4, 0.3, 0.1, 0),
                (0.05, 0.1, 0.25, 0.35, 0.25),
                (0.7, 0.25, 0.05, 0, 0),
            ],
        ),
        "savings_preference": pick(
            _PREFERENCE, [pref_high, pref_low, pref_high, pref_low, pref_high]
        ),
        "wealth_preference": pick(
            _PREFERENCE, [pref_low, pref_high, pref_low, pref_high, pref_low]
        ),
        "insurance_preference": pick(
            _PREFERENCE, [pref_low, pref_low, pref_high, pref_high, pref_low]
        ),
        "fund_preference": pick(_PREFERENCE, [pref_low, pref_high, pref_low, pref_high, pref_low]),
        "channel_preference": pick(
            _CHANNELS,
            [
                (0, 0.05, 0.15, 0.8),
                (0.02, 0.08, 0.3, 0.6),
                (0.1, 0.1, 0.4, 0.4),
                (0.4, 0.1, 0.35, 0.15),
                (0.6, 0.3, 0.05, 0.05),
            ],
        ),
        "deposit_balance": amount("deposit", 3e4),
        "insurance_balance": amount("insurance", 2e4),
        "wealth_balance": amount("wealth_management", 1e5),
        "fund_balance": np.where(fund_split != 1, fund_total, 0.0),
        "jilibao_balance": np.where(fund_split != 0, np.round(fund_total * 0.3, 2), 0.0),
        "gold_savings_balance": amount("gold_savings", 1e4),
        "bond_balance": amount("government_bonds", 5e4),
        "high_net_worth_balance": amount("agency_asset_management", 1e6),
        "loan_balance": np.where(loan_split != 1, loan_total, 0.0),
        "credit_card_instalment_balance": np.where(
            loan_split != 0, np.round(loan_total * 0.05 + 0.01, 2), 0.0
        ),
        # history, not holdings: non-zero also for customers who no longer hold the product
        "deposit_balance_last_year": np.round(rng.exponential(2e4, n), 2),
        "wealth_balance_last_year": np.where(
            rng.random(n) < 0.3, np.round(rng.exponential(5e4, n), 2), 0.0
        ),
    }
    table = pa.table(
        {k: v if isinstance(v, pa.Array) else pa.array(v, pa.float64()) for k, v in columns.items()}
    )
    # 0.5 % of current balances unknown (null = not held)
    mask = rng.random(n) < 0.005
    index = table.column_names.index("insurance_balance")
    values = table.column("insurance_balance").combine_chunks()
    return table.set_column(
        index,
        "insurance_balance",
        pa.array(values.to_numpy(zero_copy_only=False), pa.float64(), mask=mask),
    )


def generate_bank(config: BankConfig) -> Iterator[tuple[str, pa.Table]]:
    """Yield (table, chunk) pairs: registrations and retail customers once, the corporate
    months one chunk per month."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    corporate, registrations = _corporate(config, rng)
    yield "corporate_registrations", registrations
    yield "retail_customers", _retail(config, np.random.default_rng(config.seed + 1))
    month_rng = np.random.default_rng(config.seed + 2)
    for chunk in _corporate_months(config, corporate, month_rng):
        yield "corporate_monthly", chunk


def write_csv_files(config: BankConfig, directory: Path) -> dict[Path, int]:
    """The generated tables as the CSV files a bank team hands over (`<table>.csv`, UTF-8,
    header row): the input of `scorehouse bank`. Each file appears complete or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pa_csv.CSVWriter] = {}
    rows: dict[str, int] = {}
    try:
        for name, chunk in generate_bank(config):
            if name not in writers:
                writers[name] = pa_csv.CSVWriter(directory / f".{name}.csv.partial", chunk.schema)
                rows[name] = 0
            writers[name].write_table(chunk)
            rows[name] += chunk.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    done = {}
    for name, n in rows.items():
        os.replace(directory / f".{name}.csv.partial", directory / f"{name}.csv")
        done[directory / f"{name}.csv"] = n
    return done
