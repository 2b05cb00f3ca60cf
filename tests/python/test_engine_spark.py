"""The whole pipeline on Spark (dbt-spark session method, Hive metastore in a temp dir) and
parity across the three engines.

The same generated data goes into DuckDB, PostgreSQL and Spark; each engine runs
`dbt build`, and Spark also trains. Scores come from one artifact (trained on DuckDB and
registered in the other two warehouses' ml.training_runs), scored on each engine (on
Spark by the executors, through mapInPandas). The wide table, targets, training sets,
distribution marts, scores and composite mart must agree:

- counts, keys, labels, splits, text and integers: exactly;
- floats: within 1e-9 relative (FLOAT_RTOL). Engines sum in different orders, so
  averages differ in the last bits; quantile cut points are exact linear interpolation
  on all three (Spark's `percentile` is exact, not `percentile_approx`);
- PSI and IV: within 0.001 absolute (BIN_ATOL). A value that sits exactly on a cut point
  (3-month averages do) can land in the neighbouring bin when an engine's last bit
  differs; each such row moves a PSI by about 1/rows (seen: 0.00359 vs 0.00350 for one
  column of one month, DuckDB vs Spark).

Tables are read without a JVM in the test process (Spark's parquet through DuckDB,
conftest._reader): the Derby metastore admits one JVM at a time.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from python_scoring import contract

from .bank_parity import CORPORATE, RETAIL, assert_bank_parity
from .bank_parity import MONTHS as BANK_MONTHS
from .conftest import (
    REPO,
    _reader,
    id_hits,
    make_warehouse,
    normalised,
    postgres_database,
    query,
    query_frame,
)
from .faults.test_engine_faults import assert_same_scores
from .report.checks import check_run_report
from .test_contract import contract_mismatches, warehouse_columns

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.e2e]

SUBSCRIBERS, MONTHS = 2_000, 8
FLOAT_RTOL = 1e-9
BIN_ATOL = 1e-3
MODELS = ("churn_lgbm", "data_addon_scorecard", "package_upsell_rf")


@pytest.fixture(scope="module")
def engines(tmp_path_factory, postgres_server):
    root = tmp_path_factory.mktemp("parity")
    shared = {"SCOREHOUSE_ARTIFACTS": str(root / "artifacts")}
    built = {
        "duckdb": make_warehouse(root / "duckdb", "duckdb", **shared),
        "postgres": make_warehouse(
            root / "postgres", "postgres", **postgres_database(postgres_server, "parity"), **shared
        ),
        "spark": make_warehouse(root / "spark", "spark_local", **shared),
    }
    duck, spark = built["duckdb"], built["spark"]
    # Spark's commands run in one child process (one JVM, Built.hosted): its half of the
    # work runs in a thread beside DuckDB's and PostgreSQL's, which run in this process
    with spark.hosted(), ThreadPoolExecutor(1) as beside:
        spark_built = beside.submit(_build_features, spark, train=True)  # its own versions
        for engine in (duck, built["postgres"]):
            _build_features(engine, train=engine is duck)
        spark_built.result()
        versions = dict(query(duck, "select model_name, model_version from ml.training_runs"))
        spark_scored = beside.submit(_score_and_report, spark, duck, versions)
        _score_and_report(built["postgres"], duck, versions)
        _score_and_report(duck, None, versions)
        spark_scored.result()
    return built


def _build_features(engine, train: bool) -> None:
    engine.dbt("parse", "--quiet")
    generate = ["generate", "--subscribers", str(SUBSCRIBERS), "--months", str(MONTHS)]
    assert engine.scorehouse(*generate) == 0, engine.root
    first_build = engine.dbt("build", "--selector", "telco_features")
    engine.features_log, engine.features_err = first_build.stdout, first_build.stderr
    if train:
        assert engine.scorehouse("train") == 0, engine.root
    engine.dbt("build", "--selector", "telco_training")  # feature_iv, after training


def _score_and_report(engine, trained_on, versions) -> None:
    """Score every model with the versions trained on DuckDB (registered first when the
    engine is another one), build the marts, write the report."""
    if trained_on is not None:
        _register(engine, trained_on, versions)
    for model in MODELS:
        score = ["score", "--model", model, "--version", versions[model]]
        assert engine.scorehouse(*score) == 0, (engine.root, model)
    engine.marts_log = engine.dbt("build", "--selector", "telco_marts").stdout
    report = engine.root / "report.html"
    assert engine.scorehouse("report", "--output", str(report)) == 0, engine.root


def _register(engine, source, versions) -> None:
    """Record DuckDB's training runs (and their score baselines) in another warehouse, as
    promoting an artifact trained elsewhere would; not in this process (Spark's JVM)."""
    listed = ", ".join(f"'{v}'" for v in versions.values())
    for table in ("training_runs", "score_baselines"):
        frame = query_frame(source, f"select * from ml.{table} where model_version in ({listed})")
        frame.to_parquet(engine.root / f"{table}.parquet")
    script = (
        "import os, sys, pyarrow.parquet as pq\n"
        "from python_scoring.project import Project\n"
        "from python_scoring.warehouse import Warehouse\n"
        "root = sys.argv[1]\n"
        "project = Project(sys.argv[2], root, None, os.path.join(root, 'target'))\n"
        "with Warehouse.connect(project) as wh:\n"
        "    wh.append_all([(project.source('ml', t), pq.read_table(f'{root}/{t}.parquet'))\n"
        "                   for t in ('score_baselines', 'training_runs')])\n"
    )
    engine.run_script(script, str(engine.root), str(REPO))


def _frame(engine, sql: str) -> pd.DataFrame:
    return query_frame(engine, sql).reset_index(drop=True)


def assert_same(
    frames: dict[str, pd.DataFrame], keys: list[str], what: str, atol: float = 1e-12
) -> None:
    """Every engine's frame equals DuckDB's: same rows by key, numbers within FLOAT_RTOL
    (or atol), everything else exactly (dates as dates, nulls as nulls)."""
    base = normalised(frames["duckdb"]).sort_values(keys, ignore_index=True)
    assert len(base), f"{what}: no rows on duckdb"
    for name, frame in frames.items():
        # Spark lists partition columns last: compare by name
        assert sorted(frame.columns) == sorted(base.columns), f"{what} on {name}: columns differ"
        frame = normalised(frame[list(base.columns)]).sort_values(keys, ignore_index=True)
        assert len(frame) == len(base), f"{what} on {name}: {len(frame)} rows, duckdb {len(base)}"
        for column in base.columns:
            left, right = base[column], frame[column]
            if pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right):
                a, b = left.astype(float).to_numpy(), right.astype(float).to_numpy()
                same = np.isclose(a, b, rtol=FLOAT_RTOL, atol=atol, equal_nan=True)
            else:
                same = (_text(left) == _text(right)).to_numpy()
            assert same.all(), (
                f"{what} on {name}: column {column} differs in {int((~same).sum())} rows, e.g. "
                f"duckdb {left[~same].iloc[0]!r} vs {right[~same].iloc[0]!r}"
            )


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "<null>").astype(str)


def _each(engines, sql: str) -> dict[str, pd.DataFrame]:
    return {name: _frame(engine, sql) for name, engine in engines.items()}


def test_the_first_build_on_a_new_spark_warehouse_logs_no_error(engines):
    """The contract hook lists the ml tables before describing them: a table that does not
    exist yet is expected, not an ERROR with a Java stack trace (8 of them, ~100 KB)."""
    spark = engines["spark"]
    output = spark.features_log + spark.features_err
    assert "Completed successfully" in spark.features_log
    assert "TABLE_OR_VIEW_NOT_FOUND" not in output
    assert '"level": "ERROR"' not in output and "Py4JJavaError" not in output


def test_each_engines_run_writes_a_report_that_agrees_with_it(engines):
    for engine in engines.values():
        check_run_report(engine)


def test_dbt_builds_and_tests_every_model_on_every_engine(engines):
    for name, engine in engines.items():
        for log in (engine.features_log, engine.marts_log):
            assert "Completed successfully" in log, name
            assert "ERROR=0" in log and "SKIP=0" in log, name


def test_ml_tables_have_the_contracts_columns_and_types_on_every_engine(engines):
    for name, engine in engines.items():
        tables = set(contract.SCHEMAS)
        if name == "spark":  # read from its parquet files: a table nothing wrote has none
            tables &= warehouse_columns(engine).keys()
            assert {"training_runs", "model_metrics", "score_baselines", "model_scores"} <= tables
        assert contract_mismatches(engine, name, sorted(tables)) == [], name


def test_wide_table_is_the_same_on_every_engine(engines):
    frames = _each(engines, "select * from features.subscriber_month_wide")
    assert_same(frames, ["subscriber_id", "month"], "subscriber_month_wide")


@pytest.mark.parametrize("target", ["target_churn", "target_package_upsell", "target_data_addon"])
def test_targets_are_the_same_on_every_engine(engines, target):
    frames = _each(engines, f"select * from targets.{target}")
    assert_same(frames, ["subscriber_id", "month"], target)


def test_training_sets_split_the_same_ids_on_every_engine(engines):
    sql = "select subscriber_id, month, split, churned from ml.churn_training_set"
    assert_same(_each(engines, sql), ["subscriber_id", "month"], "churn_training_set")


@pytest.mark.parametrize(
    ("mart", "keys"),
    [
        ("feature_profiles", ["month", "column_name"]),
        ("feature_psi", ["current_month", "column_name"]),
        ("feature_iv", ["scenario", "column_name"]),
    ],
)
def test_distribution_marts_are_the_same_on_every_engine(engines, mart, keys):
    assert_same(_each(engines, f"select * from marts.{mart}"), keys, mart, atol=BIN_ATOL)


def test_training_on_spark_saw_the_same_rows_as_on_duckdb(engines):
    sql = (
        "select model_name, model_version, rows_train, rows_test, rows_oot, "
        "data_fingerprint, auc_oot from ml.training_runs"
    )
    duck = {r[0]: r for r in query(engines["duckdb"], sql)}
    registered = {r[1] for r in duck.values()}
    own = {r[0]: r for r in query(engines["spark"], sql) if r[1] not in registered}
    assert set(own) == set(MODELS)  # trained on Spark, besides DuckDB's registered runs
    for model in MODELS:
        # the same counts and fingerprint of (id, month, label, split) of the training rows
        assert own[model][2:6] == duck[model][2:6], model
        # features summed in another order differ in the last bits: a close AUC
        assert abs(own[model][6] - duck[model][6]) < 0.02, model


def test_scores_of_one_artifact_are_the_same_on_every_engine(engines):
    sql = (
        "select model_name, model_version, score_month, entity_id, score, "
        "reason_1, reason_2, reason_3 from ml.model_scores"
    )
    frames = _each(engines, sql)
    assert set(frames["spark"]["model_name"]) == set(MODELS)
    assert_same(frames, ["model_name", "entity_id"], "model_scores")


def test_composite_and_monitoring_marts_are_the_same_on_every_engine(engines):
    composite = _each(
        engines,
        "select entity, entity_key, entity_masked, score_month, composite_score, models_scored, "
        "score_decile from marts.composite_scores",
    )
    # the pseudonymous keys and masks too: pseudonymize() and the masks agree everywhere
    assert_same(composite, ["entity", "entity_key"], "composite_scores")
    deciles = _each(engines, "select * from marts.score_deciles")
    assert_same(deciles, ["model_name", "score_month", "decile"], "score_deciles")


def test_a_months_incremental_rebuild_equals_the_full_build_on_every_engine(engines):
    """The first build built every month in full; rebuilding the latest month (the window
    models incrementally, reading the two months before it, then the wide table, which
    holds all their columns) gives the same rows on every engine."""
    wide = "select * from features.subscriber_month_wide"
    for name, engine in engines.items():
        full = _frame(engine, wide)
        engine.dbt("run", "--select", "+subscriber_month_wide", "--quiet")
        assert_same(
            {"duckdb": full, "rebuilt": _frame(engine, wide)},
            ["subscriber_id", "month"],
            f"subscriber_month_wide rebuilt incrementally on {name}",
            atol=0,
        )


def test_killed_rescoring_on_spark_resumes_and_overwrites_its_partition(engines):
    """Rescoring churn_lgbm (the parity run's version) SIGKILLed after 2 of 4 pieces (each
    a partition of the staging table): ml.model_scores as it was; the rerun resumes the two
    staged pieces, overwrites the model's partition with the same scores (a new
    scored_at) and leaves the other models' rows alone."""
    spark = engines["spark"]
    scores = (
        "select entity_id, score, model_version, scored_at from ml.model_scores "
        "where model_name = 'churn_lgbm'"
    )

    def current():
        return {entity: rest for entity, *rest in query(spark, scores)}

    before = current()
    other_rows = "select count(*) from ml.model_scores where model_name <> 'churn_lgbm'"
    ((others,),) = query(spark, other_rows)
    ((population,),) = query(spark, "select count(*) from ml.churn_scoring_input")
    assert len(before) == population > 1000 and others == 2 * population
    (version,) = {v for _, v, _ in before.values()}
    cli = Path(sys.executable).parent / "scorehouse"
    args = [str(cli), *spark.cli_args, "score", "--model", "churn_lgbm", "--version", version]
    args += ["--pieces", "4"]

    def run(**env):
        return subprocess.run(
            args, env={**spark.env, **env}, cwd=REPO, capture_output=True, text=True, timeout=900
        )

    killed = run(SCOREHOUSE_KILL_AFTER_PIECES="2")
    assert killed.returncode == -9, killed.stderr[-3000:]
    ((month,),) = query(spark, "select max(score_month) from ml.model_scores")
    staging = f"ml.model_scores__churn_lgbm__{str(month)[:7].replace('-', '')}"
    staged = query(spark, f"select piece, count(*) from {staging} group by 1 order by 1")
    assert [p for p, _ in staged] == [0, 1]
    assert 0 < sum(n for _, n in staged) < population
    assert current() == before  # same rows, same scores, same scored_at

    resumed = run()
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming: pieces 0, 1" in resumed.stderr
    after = current()
    assert_same_scores(after, before)
    assert {s for _, _, s in after.values()} != {s for _, _, s in before.values()}  # swapped
    assert query(spark, other_rows) == [(others,)]
    assert not (
        Path(spark.env["SCOREHOUSE_SPARK_DIR"]) / "warehouse" / "ml.db" / staging.split(".")[1]
    ).exists()


def test_bank_jobs_on_spark_match_duckdb(engines, bank_duckdb):
    """The bank cycle in the same Spark warehouse as the telco one (as `make bank-demo`
    runs it beside the demo) gives what it gives on DuckDB (bank_parity)."""
    spark = engines["spark"].bank_run(CORPORATE, RETAIL, BANK_MONTHS)
    assert_bank_parity(bank_duckdb, spark)


def test_forget_on_spark_rewrites_every_table_without_the_ids(engines):
    """Last: it changes the Spark warehouse. Two scored ids forgotten: every parquet table
    scanned, no hit outside ml.erasure_requests; every other row kept."""
    spark = engines["spark"]
    # Subscribers only: the bank test may have scored corporate ids into the same table.
    scored_subscribers = (
        "select distinct m.entity_id from ml.model_scores m join raw.subscribers s"
        " on m.entity_id = cast(s.subscriber_id as varchar) order by 1 limit 2"
    )
    ids = [i for (i,) in query(spark, scored_subscribers)]
    counted = "select count(*) from {} where cast({} as varchar) in ({})"
    listed = ", ".join(f"'{i}'" for i in ids)
    scores = query(spark, "select count(*) from ml.model_scores")[0][0]
    theirs = query(spark, counted.format("ml.model_scores", "entity_id", listed))[0][0]
    subscribers = query(spark, "select count(*) from raw.subscribers")[0][0]
    assert theirs > 0 and len(ids) == 2
    assert spark.scorehouse("forget", *ids, "--reason", "T-7") == 0
    con = _reader(spark)
    try:
        tables, columns, hits = id_hits(con, ids)
    finally:
        con.close()
    assert len(tables) > 20 and columns > 300 and hits == []
    assert query(spark, "select count(*) from ml.model_scores")[0][0] == scores - theirs
    assert query(spark, "select count(*) from raw.subscribers")[0][0] == subscribers - 2
    requests = query(spark, "select entity_id, reason from ml.erasure_requests")
    assert sorted(requests) == sorted((i, "T-7") for i in ids)
    assert not any(name.endswith("__erasing") for _, name in tables)
