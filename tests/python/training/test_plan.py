"""Planning a training run on a small in-memory DuckDB training set: the months read and
the refusal of duplicate (id, month) rows among them."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.project import Relation
from python_scoring.registry import ModelSpec
from python_scoring.training import plan
from python_scoring.warehouse._duckdb import DuckDBWarehouse

SPEC = ModelSpec(
    name="m",
    scenario="churn",
    entity_id="customer_id",
    label="churned",
    training_set="t",
    scoring_input="s",
    train_months=2,
)
RELATION = Relation(None, "ml", "t")


@pytest.fixture
def wh():
    """Text ids 'c1'..'c9' over four months, the last out-of-time, one row each."""
    wh = DuckDBWarehouse({"type": "duckdb", "path": ":memory:"})
    wh.con.execute("create schema ml")
    wh.con.execute(
        "create table ml.t as select 'c' || i as customer_id, m::date as month, "
        "(i % 2) as churned, case when m = '2025-04-01' then 'oot' when i = 9 then 'test' "
        "else 'train' end as split from range(1, 10) as ids(i), "
        "unnest(['2025-01-01', '2025-02-01', '2025-03-01', '2025-04-01']) as months(m)"
    )
    yield wh
    wh.close()


def test_plan_reads_the_last_in_time_months_and_the_oot_month(wh):
    months, oot, counts = plan.plan_months(wh, SPEC, RELATION)
    assert months == [dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    assert oot == dt.date(2025, 4, 1)
    assert counts[(dt.date(2025, 4, 1), "oot", 1)] == 5


def test_duplicate_rows_are_refused_with_count_and_example(wh):
    wh.con.execute(
        "insert into ml.t select * from ml.t where (customer_id = 'c7' and month = '2025-03-01')"
        " or (customer_id in ('c2', 'c3') and month = '2025-04-01')"
    )
    wh.con.execute("insert into ml.t values ('c2', '2025-04-01', 0, 'oot')")  # a third c2
    with pytest.raises(ScorehouseError) as refused:
        plan.plan_months(wh, SPEC, RELATION)
    assert str(refused.value) == (
        "ml.t has 3 (customer_id, month) pair(s) on more than one row (7 rows), e.g. "
        "customer_id c7 in 2025-03-01: make the training set one row per customer_id and "
        "month in its dbt model"
    )


def test_duplicates_in_months_not_read_are_left_alone(wh):
    wh.con.execute("insert into ml.t select * from ml.t where month = '2025-01-01'")
    months, _, _ = plan.plan_months(wh, SPEC, RELATION)
    assert dt.date(2025, 1, 1) not in months
    with pytest.raises(ScorehouseError, match="9 .customer_id, month. pair"):
        plan.plan_months(wh, dataclasses.replace(SPEC, train_months=3), RELATION)


def test_a_snapshot_is_told_what_to_set(wh):
    """One month, every row 'train' or 'test': no out-of-time month to find."""
    wh.con.execute("update ml.t set split = 'train' where split = 'oot'")
    with pytest.raises(ScorehouseError) as refused:
        plan.plan_months(wh, SPEC, RELATION)
    assert str(refused.value).endswith(
        "found 0: is the score month's previous month in the data? A snapshot (one month, "
        "each label known in that month) has none: set out_of_time: false, cv_folds: 5 and "
        "label_lag_months: 0 in the registry entry of 'm'"
    )
    months, oot, _ = plan.plan_months(wh, dataclasses.replace(SPEC, out_of_time=False), RELATION)
    assert oot is None and len(months) == 2
