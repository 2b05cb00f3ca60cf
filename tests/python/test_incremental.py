"""subscriber_month_wide is incremental by month: rebuilding a month replaces exactly it."""

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

    built.dbt("run", "--select", "subscriber_month_wide", "--full-refresh", "--quiet")
    refreshed = wide_by_month(built)
    pd.testing.assert_series_equal(
        refreshed["2025-04-01"]["voice_minutes"], before["2025-04-01"]["voice_minutes"] * 2
    )
