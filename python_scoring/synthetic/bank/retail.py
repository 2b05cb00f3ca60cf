"""The retail customers (``retail_customers``): planted segments, product dependencies inside
segments, balances and a little dirt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from python_scoring.synthetic.bank.common import _months, _text

if TYPE_CHECKING:
    from python_scoring.synthetic.bank import BankConfig

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
