"""The in-warehouse statistics (dbt macros) against python_scoring.features.stats, on
DuckDB, and the feature-monitoring marts and psi_stable test on generated data."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from python_scoring.features import metrics, stats

from .conftest import query

pytestmark = pytest.mark.e2e
TOL = 1e-9


def run_macro(built, jinja: str) -> pd.DataFrame:
    """Compile a macro call with dbt and run the SQL on the warehouse."""
    sql = built.dbt("compile", "--quiet", "--inline", jinja).stdout
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def cases(warehouse) -> pd.DataFrame:
    """Two months of hard cases: ties at cut points, nulls, a constant column, zero
    inflation, a bin the current month leaves empty, values beyond the baseline range."""
    rng = np.random.default_rng(11)
    n = 1003
    frames = []
    for month, shift in ((dt.date(2024, 1, 1), 0.0), (dt.date(2024, 2, 1), 1.0)):
        with_nulls = rng.normal(shift * 0.3, 1, n)
        with_nulls[rng.random(n) < (0.03 + 0.04 * shift)] = np.nan
        uniform = rng.random(n)
        frames.append(
            pd.DataFrame(
                {
                    "month": month,
                    "continuous": rng.normal(shift * 0.2, 1, n),
                    "ties": rng.integers(0, 6, n).astype(float),
                    "with_nulls": with_nulls,
                    "constant": 7.0,
                    "zero_inflated": np.where(
                        rng.random(n) < 0.7, 0.0, rng.exponential(3, n).round(1)
                    ),
                    "empty_bin": uniform * 0.3 if shift else uniform,
                    "beyond_range": rng.normal(0, 1, n) + 4 * shift,
                    "all_null_baseline": rng.normal(0, 1, n) if shift else np.full(n, np.nan),
                    "label": (rng.random(n) < 0.2 + 0.3 * uniform).astype(int),
                    "segment": rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05]),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    with duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        con.execute("create schema if not exists scratch")
        con.register("frame", frame)
        con.execute("create or replace table scratch.stats_cases as select * from frame")
    return frame


NUMERIC_CASES = [
    "continuous",
    "ties",
    "with_nulls",
    "constant",
    "zero_inflated",
    "empty_bin",
    "beyond_range",
    "all_null_baseline",
]


def test_psi_macro_equals_python_on_hard_cases(warehouse, cases):
    result = run_macro(
        warehouse, "{{ psi_query('scratch.stats_cases', " + json.dumps(NUMERIC_CASES) + ") }}"
    ).set_index("column_name")
    base = cases[cases["month"] == dt.date(2024, 1, 1)]
    current = cases[cases["month"] == dt.date(2024, 2, 1)]
    for column in NUMERIC_CASES:
        expected = stats.psi(base[column], current[column])
        assert result.loc[column, "psi"] == pytest.approx(expected, abs=TOL), column
    assert result.loc["constant", "psi"] == 0.0
    assert result.loc["beyond_range", "psi"] > 0.25 and result.loc["continuous", "psi"] < 0.1


def test_iv_macro_equals_python_on_hard_cases(warehouse, cases):
    result = run_macro(
        warehouse,
        "{{ iv_query('scratch.stats_cases', 'label', "
        + json.dumps(NUMERIC_CASES)
        + ", ['segment'], where=\"month = date '2024-01-01'\") }}",
    ).set_index("column_name")
    base = cases[cases["month"] == dt.date(2024, 1, 1)]
    for column in [*NUMERIC_CASES, "segment"]:
        expected = stats.iv(base[column], base["label"])
        assert result.loc[column, "iv"] == pytest.approx(expected, abs=TOL), column
    assert result.loc["empty_bin", "iv"] > 0.1  # the label depends on it
    assert result.loc["constant", "iv"] == 0.0


def test_exact_psi_runs_under_a_memory_limit_a_quarter_of_the_data(warehouse, tmp_path):
    """Exact cut points from one sort that spills (duckdb__quantile_ctes): under a
    memory_limit of a quarter of the data (366 MB of doubles; DuckDB's own working memory
    needs about 60 MB, hence so many rows) the PSI equals the unlimited run's."""
    rng = np.random.default_rng(5)
    rows, width = 600_000, 40
    continuous, ties = rng.normal(0, 1, (width, 2 * rows)), rng.integers(0, 30, (width, 2 * rows))
    frame = pd.DataFrame({f"x{i}": continuous[i] if i % 2 else ties[i] * 1.0 for i in range(width)})
    frame.loc[rng.random(2 * rows) < 0.05, "x1"] = np.nan
    frame.insert(0, "month", np.repeat([dt.date(2024, 1, 1), dt.date(2024, 2, 1)], rows))
    path = str(tmp_path / "wide.duckdb")
    with duckdb.connect(path) as con:
        con.register("frame", frame)
        con.execute("create table wide as select * from frame")
    columns = [f"x{i}" for i in range(width)]
    sql = warehouse.dbt(
        "compile", "--quiet", "--inline", "{{ psi_query('wide', " + json.dumps(columns) + ") }}"
    ).stdout
    limit_mb = 2 * rows * width * 8 // 4 // 2**20  # a quarter of the data: 91 MB

    def run(query: str, limited: bool) -> list[tuple]:
        config = {"threads": 2}
        if limited:
            config |= {"memory_limit": f"{limit_mb}MB", "temp_directory": str(tmp_path)}
        with duckdb.connect(path, read_only=True, config=config) as con:
            return sorted(con.execute(query).fetchall(), key=lambda row: row[2])

    unlimited, limited = run(sql, False), run(sql, True)
    assert sorted(row[2] for row in limited) == sorted(columns) and limited == unlimited
    psi = {row[2]: row[5] for row in limited}
    for column in ("x0", "x1"):  # ties; nulls
        expected = stats.psi(frame[column].iloc[:rows], frame[column].iloc[rows:])
        assert psi[column] == pytest.approx(expected, abs=1e-12), column
    assert max(psi.values()) < 0.01  # the two months are drawn alike


def test_psi_mart_equals_python_for_every_column_and_month(warehouse):
    wide = pd.DataFrame(
        query(warehouse, "select * from features.subscriber_month_wide"),
        columns=[
            c
            for (c,) in query(
                warehouse,
                "select column_name from information_schema.columns "
                "where table_name = 'subscriber_month_wide' order by ordinal_position",
            )
        ],
    )
    mart = query(
        warehouse, "select baseline_month, current_month, column_name, psi from marts.feature_psi"
    )
    numeric = [
        c
        for c in wide.columns
        if c not in ("subscriber_id", "month") and pd.api.types.is_numeric_dtype(wide[c])
    ]
    assert {row[2] for row in mart} == set(numeric)
    # a first build computes the latest monitoring_backfill_months (3) months
    assert {row[1] for row in mart} == set(sorted(wide["month"].unique())[-3:])
    assert len(mart) == len(numeric) * 3
    by_month = dict(tuple(wide.groupby("month")))
    for baseline_month, current_month, column, value in mart:
        expected = stats.psi(by_month[baseline_month][column], by_month[current_month][column])
        assert value == pytest.approx(expected, abs=TOL), (column, current_month)


@pytest.mark.parametrize(
    ("scenario", "training_set", "label"),
    [
        ("churn", "churn_training_set", "churned"),
        ("data_addon", "data_addon_training_set", "bought_addon"),
    ],
)
def test_iv_mart_equals_python(warehouse, scenario, training_set, label):
    con = duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        # the latest iv_months (3) months of in-time training rows
        train = con.execute(
            f"select * from ml.{training_set} where split = 'train' and month > "
            f"(select max(month) from ml.{training_set} where split = 'train') "
            "- interval 3 month"
        ).df()
        assert train["month"].nunique() == 3
        mart = con.execute(
            f"select column_name, iv from marts.feature_iv where scenario = '{scenario}'"
        ).fetchall()
    finally:
        con.close()
    assert len(mart) == len(train.columns) - 4  # all but id, month, label, split
    for column, value in mart:
        values = (
            train[column].astype(object).where(train[column].notna(), None)
            if train[column].dtype == object
            else train[column]
        )
        assert value == pytest.approx(stats.iv(values, train[label]), abs=TOL), column


@pytest.mark.parametrize(
    ("scenario", "drivers", "top"),
    [
        (
            "churn",
            {
                "offnet_share",
                "voice_minutes_mom",
                "network_tickets_3m",
                "data_mb_mom",
                "months_to_contract_end",
                "tenure_months",
            },
            15,
        ),
        ("data_addon", {"data_allowance_ratio"}, 1),
        ("package_upsell", {"data_allowance_ratio"}, 2),
    ],
)
def test_iv_mart_ranks_planted_drivers_near_the_top(warehouse, scenario, drivers, top):
    ranked = [
        c
        for (c,) in query(
            warehouse,
            "select column_name from marts.feature_iv where "
            f"scenario = '{scenario}' order by iv_rank",
        )
    ]
    found = drivers & set(ranked[:top])
    assert found, f"{scenario}: none of {drivers} in the top {top}: {ranked[:top]}"
    if scenario == "churn":
        assert len(found) >= 3, ranked[:top]


def test_profiles_match_pandas(warehouse):
    con = duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        month = con.execute("select max(month) from features.subscriber_month_wide").fetchone()[0]
        wide = con.execute(
            "select * from features.subscriber_month_wide where month = ?", [month]
        ).df()
        profiles = (
            con.execute("select * from marts.feature_profiles where month = ?", [month])
            .df()
            .set_index("column_name")
        )
    finally:
        con.close()
    assert set(profiles.index) == set(wide.columns) - {"subscriber_id", "month"}
    data = wide["data_mb"]
    row = profiles.loc["data_mb"]
    assert row["column_kind"] == "numeric" and row["n_rows"] == len(wide)
    assert row["n_null"] == data.isna().sum() > 0
    assert row["null_share"] == pytest.approx(data.isna().mean(), abs=TOL)
    assert row["n_distinct"] == data.nunique()
    assert row["mean_value"] == pytest.approx(data.mean(), rel=1e-12)
    for q, name in ((0.25, "p25"), (0.5, "p50"), (0.75, "p75")):
        assert row[name] == pytest.approx(data.quantile(q), rel=1e-12)
    region = profiles.loc["region"]
    counts = wide["region"].value_counts()
    top = ", ".join(f"{value}:{n}" for value, n in counts.head(5).items())
    assert region["column_kind"] == "text" and region["top_values"] == top
    assert region["n_distinct"] == wide["region"].nunique()


def test_psi_stable_errors_on_drifted_data(drifted):
    result = drifted.dbt("build", "--selector", "telco_features", check=False)
    assert result.returncode != 0
    failing = {
        line.split("psi_stable_subscriber_month_wide_")[1].split()[0]
        for line in result.stdout.splitlines()
        if "FAIL" in line and "psi_stable_subscriber_month_wide_" in line
    }
    assert {"data_mb", "voice_minutes", "billed_amount"} <= failing
    # the failing tests stop the build before the marts; run the PSI mart on its own
    drifted.dbt("run", "--select", "feature_psi", "--quiet")
    bands = dict(
        query(
            drifted,
            "select column_name, psi_band from marts.feature_psi "
            "where current_month = date '2025-05-01'",
        )
    )
    assert bands["data_mb"] == bands["voice_minutes"] == bands["billed_amount"] == "error"
    stable = dict(
        query(
            drifted,
            "select column_name, psi_band from marts.feature_psi "
            "where current_month = date '2025-04-01'",
        )
    )
    assert stable["data_mb"] == stable["voice_minutes"] == "stable"


def test_psi_stable_passes_on_default_data(warehouse):
    assert "psi_stable_subscriber_month_wide_data_mb" in warehouse.features_log
    psi_lines = [
        line
        for line in warehouse.features_log.splitlines()
        if "psi_stable" in line and ("PASS" in line or "WARN" in line or "FAIL" in line)
    ]
    assert len(psi_lines) == 4 and all("PASS" in line for line in psi_lines)


def test_auc_ks_macro_equals_python_with_ties_and_groups(warehouse):
    rng = np.random.default_rng(4)
    n = 3001
    frame = pd.DataFrame(
        {
            "grp": rng.choice(["a", "b", "one_class"], n),
            "score": np.round(rng.random(n), 2),  # heavy ties
            "label": pd.array((rng.random(n) < 0.3).astype(int), dtype="Int64"),
        }
    )
    frame.loc[frame["grp"] == "one_class", "label"] = 0
    frame.loc[frame.index[:50], "label"] = pd.NA  # not matured: left out
    with duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        con.execute("create schema if not exists scratch")
        con.register("frame", frame)
        con.execute("create or replace table scratch.auc_cases as select * from frame")
    result = run_macro(warehouse, "{{ auc_ks_query('scratch.auc_cases', ['grp']) }}").set_index(
        "grp"
    )
    for group in ("a", "b"):
        part = frame[(frame["grp"] == group) & frame["label"].notna()]
        assert result.loc[group, "labelled_rows"] == len(part)
        assert result.loc[group, "auc"] == pytest.approx(
            metrics.auc(part["label"], part["score"]), abs=TOL
        )
        assert result.loc[group, "ks"] == pytest.approx(
            metrics.ks(part["label"], part["score"]), abs=TOL
        )
    assert pd.isna(result.loc["one_class", "auc"]) and pd.isna(result.loc["one_class", "ks"])
