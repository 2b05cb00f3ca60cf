"""subscriber_month_wide and the window models under it are incremental by month:
rebuilding a month replaces exactly it, and a new month equals a full refresh."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from .conftest import make_warehouse

pytestmark = pytest.mark.e2e
MONTHS = [f"2025-0{m}-01" for m in range(1, 6)]


def wide_by_month(built) -> dict[str, pd.DataFrame]:
    with duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True) as con:
        wide = con.execute("select * from features.subscriber_month_wide").df()
    wide["month"] = wide["month"].astype(str)
    return {
        month: frame.sort_values("subscriber_id").reset_index(drop=True)
        for month, frame in wide.groupby("month")
    }


def test_rebuilding_a_month_replaces_only_that_month(tmp_path):
    built = make_warehouse(tmp_path)
    built.dbt("parse", "--quiet")
    assert built.scorehouse("generate", "--subscribers", "2000", "--months", "5") == 0
    built.dbt("run", "--select", "+subscriber_month_wide", "--quiet")
    before = wide_by_month(built)
    assert sorted(before) == MONTHS

    # the operator re-delivers usage for March and April
    with duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        con.execute(
            "update raw.usage_monthly set voice_minutes = voice_minutes * 2 "
            "where usage_month in (date '2025-03-01', date '2025-04-01')"
        )
    built.dbt(
        "run",
        "--select",
        "+subscriber_month_wide",
        "--quiet",
        "--vars",
        "{score_month: 2025-03-01}",
    )
    after = wide_by_month(built)

    for month in ("2025-01-01", "2025-02-01", "2025-04-01", "2025-05-01"):
        pd.testing.assert_frame_equal(after[month], before[month])  # untouched
    march_before, march_after = before["2025-03-01"], after["2025-03-01"]
    assert len(march_after) == len(march_before)
    assert list(march_after["subscriber_id"]) == list(march_before["subscriber_id"])
    pd.testing.assert_series_equal(march_after["voice_minutes"], march_before["voice_minutes"] * 2)
    pd.testing.assert_series_equal(march_after["data_mb"], march_before["data_mb"])

    # April's re-delivery reaches the wide table through the window models (incremental
    # too: March alone was rebuilt) once the chain is refreshed
    built.dbt("run", "--select", "+subscriber_month_wide", "--full-refresh", "--quiet")
    refreshed = wide_by_month(built)
    pd.testing.assert_series_equal(
        refreshed["2025-04-01"]["voice_minutes"], before["2025-04-01"]["voice_minutes"] * 2
    )


WINDOW_MODELS = [
    "intermediate.int_subscriber_months",
    "intermediate.int_subscriber_usage_windows",
    "intermediate.int_subscriber_billing_windows",
    "intermediate.int_subscriber_tickets_monthly",
    "intermediate.int_subscriber_addons_monthly",
    "features.subscriber_month_wide",
]


def window_tables(built) -> dict[str, pd.DataFrame]:
    with duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True) as con:
        return {
            name: con.execute(f"select * from {name} order by all").df() for name in WINDOW_MODELS
        }


def test_a_new_month_built_incrementally_equals_a_full_refresh(tmp_path):
    """The window models read only the months a new month can change (its lookback of two
    months): the incremental build of the new month equals a full rebuild row for row."""
    built = make_warehouse(tmp_path)
    built.dbt("parse", "--quiet")
    assert built.scorehouse("generate", "--subscribers", "1500", "--months", "5") == 0
    db = built.env["SCOREHOUSE_DUCKDB_PATH"]
    with duckdb.connect(db) as con:  # May's bills not delivered yet: April is the last month
        con.execute(
            "create table raw.may_bills as "
            "from raw.billing_monthly where bill_month = date '2025-05-01'"
        )
        con.execute("delete from raw.billing_monthly where bill_month = date '2025-05-01'")
    built.dbt("run", "--select", "+subscriber_month_wide", "--quiet")
    with duckdb.connect(db, read_only=True) as con:
        assert con.sql("select max(month) from features.subscriber_month_wide").fetchone()[0] == (
            pd.Timestamp("2025-04-01").date()
        )
    with duckdb.connect(db) as con:  # they arrive: the month's build is incremental
        con.execute("insert into raw.billing_monthly from raw.may_bills")
    built.dbt("run", "--select", "+subscriber_month_wide", "--quiet")
    incremental = window_tables(built)
    built.dbt("run", "--select", "+subscriber_month_wide", "--full-refresh", "--quiet")
    full = window_tables(built)
    for name in WINDOW_MODELS:
        assert incremental[name]["month"].nunique() == 5, name
        pd.testing.assert_frame_equal(incremental[name], full[name], obj=name)
    # a window's lookback reached back two months: May's lags are April's and March's
    wide = full["features.subscriber_month_wide"]
    may = wide[wide["month"] == pd.Timestamp("2025-05-01")]
    assert may["voice_minutes_lag2"].notna().mean() > 0.8
