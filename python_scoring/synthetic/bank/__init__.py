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

from python_scoring.synthetic.bank.corporate import _corporate, _corporate_months
from python_scoring.synthetic.bank.retail import _retail

__all__ = ["BankConfig", "generate_bank", "write_csv_files", "BANK_TABLES"]

BANK_TABLES = ("corporate_monthly", "corporate_registrations", "retail_customers")


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
