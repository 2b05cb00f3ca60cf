"""The corporate customers: static traits, registration details (``corporate_registrations``)
and the monthly rows (``corporate_monthly``) with their planted churn and boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from python_scoring.synthetic.bank.common import _days, _months, _sigmoid, _text

if TYPE_CHECKING:
    from python_scoring.synthetic.bank import BankConfig

_WARMUP = 3  # months before the first written month, for the three-month asset average

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
