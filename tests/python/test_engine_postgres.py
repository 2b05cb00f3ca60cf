"""The whole pipeline on a real PostgreSQL 15 (started by scripts/local_postgres.sh, as a
user would): generate -> dbt build -> train -> score -> marts, the BI role's grants, and
the PostgreSQL warehouse's bulk reads and writes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import psycopg2
import pyarrow as pa
import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.project import Relation
from python_scoring.warehouse import Warehouse

from .conftest import DBT, REPO, make_warehouse, pg_params, postgres_database, query
from .report.checks import check_run_report
from .test_contract import contract_mismatches

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

SUBSCRIBERS, MONTHS = 6_000, 9


@pytest.fixture(scope="module")
def pg(tmp_path_factory, postgres_server):
    env = postgres_database(postgres_server, "e2e")
    # the server's settings include SCOREHOUSE_BI_ROLE: the marts grant it select
    built = make_warehouse(tmp_path_factory.mktemp("pg"), "postgres", **env)
    built.monthly_run(SUBSCRIBERS, MONTHS)
    return built


def test_dbt_builds_and_tests_every_model_on_postgres(pg):
    for log in (pg.features_log, pg.marts_log):
        assert "Completed successfully" in log
        assert "ERROR=0" in log and "SKIP=0" in log
    ((models,),) = query(
        pg,
        "select count(*) from information_schema.tables where table_schema in "
        "('staging', 'intermediate', 'features', 'targets', 'ml', 'marts')",
    )
    assert models >= 30


def test_the_run_writes_a_report_that_agrees_with_postgres(pg):
    check_run_report(pg)


def test_ml_tables_have_the_contracts_columns_and_types_on_postgres(pg):
    assert contract_mismatches(pg, "postgres") == []


def test_training_on_postgres_learns_the_planted_churn(pg):
    rows = dict(query(pg, "select model_name, auc_oot from ml.training_runs"))
    assert set(rows) == {"churn_lgbm", "package_upsell_rf", "data_addon_scorecard"}
    assert rows["churn_lgbm"] > 0.75


def test_every_subscriber_of_the_month_is_scored_once_per_model(pg):
    ((population,),) = query(
        pg,
        "select count(*) from ml.churn_scoring_input",
    )
    scored = query(
        pg,
        "select model_name, count(*), count(distinct entity_id), min(score), max(score) "
        "from ml.model_scores group by model_name",
    )
    assert len(scored) == 3
    for _, n, ids, low, high in scored:
        assert n == ids == population
        assert 0 <= low < high <= 1
    ((composite,),) = query(pg, "select count(*) from marts.composite_scores")
    assert composite == population


def test_bi_role_reads_marts_and_is_refused_elsewhere(pg):
    bi = psycopg2.connect(**pg_params(pg.env, pg.env["SCOREHOUSE_BI_ROLE"]))
    try:
        with bi.cursor() as cursor:
            cursor.execute("select count(*) from marts.composite_scores")
            assert cursor.fetchone()[0] > 0
            cursor.execute("select count(*) from marts.score_monitoring")
            assert cursor.fetchone()[0] > 0
        bi.rollback()
        for table in (
            "staging.stg_telco__subscribers",
            "ml.model_scores",
            "features.subscriber_month_wide",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), bi.cursor() as cursor:
                cursor.execute(f"select 1 from {table} limit 1")
            bi.rollback()
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), bi.cursor() as cursor:
            cursor.execute("delete from marts.composite_scores")
    finally:
        bi.close()


def test_only_the_operations_role_maps_keys_to_clear_ids(pg):
    """BI is refused the restricted map, the audit log and every table holding a clear id;
    the operations role reads the map and the audit log and reaches the customers of the
    composite mart; the keys are the documented keyed hash (same salt as in Python)."""
    from python_scoring.privacy import pseudonymize

    from .conftest import TEST_SALT

    bi = psycopg2.connect(**pg_params(pg.env, pg.env["SCOREHOUSE_BI_ROLE"]))
    try:
        for table in (
            "restricted.customer_keys",
            "ml.model_scores",
            "ml.audit_log",
            "ml.erasure_requests",
            "raw.subscribers",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), bi.cursor() as cursor:
                cursor.execute(f"select 1 from {table} limit 1")
            bi.rollback()
    finally:
        bi.close()
    ops = psycopg2.connect(**pg_params(pg.env, pg.env["SCOREHOUSE_OPS_ROLE"]))
    try:
        with ops.cursor() as cursor:
            cursor.execute("select entity_key, entity_id from restricted.customer_keys")
            keys = cursor.fetchall()
            cursor.execute("select command, outcome from ml.audit_log")
            audited = cursor.fetchall()
        ops.rollback()
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), ops.cursor() as cursor:
            cursor.execute("select 1 from ml.model_scores limit 1")
    finally:
        ops.close()
    assert ("run", "ok") in audited  # the monthly run, recorded for the operations role
    assert len(keys) >= SUBSCRIBERS // 2
    assert all(key == pseudonymize(entity, TEST_SALT) for key, entity in keys)
    top = query(pg, "select entity_key from marts.composite_scores where score_rank <= 20")
    assert {key for (key,) in top} <= {key for key, _ in keys}


@pytest.fixture
def pg_wh(pg, monkeypatch):
    monkeypatch.setattr(os, "environ", {**os.environ, **pg.env})
    with Warehouse.connect(pg.project()) as wh:
        yield wh


def test_copy_round_trip_keeps_nulls_empty_strings_text_and_types(pg_wh):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["", None, 'a "quoted", comma\nline'], pa.string()),
            # text that pyarrow's CSV reader takes for null by default
            "word": pa.array(["NA", "n/a", "null"], pa.string()),
            "value": pa.array([1.5, None, -0.0], pa.float64()),
            "day": pa.array([dt.date(2025, 1, 1), None, dt.date(1999, 12, 31)], pa.date32()),
            "at": pa.array([dt.datetime(2025, 1, 1, 12, 30, 1, 5), None, None], pa.timestamp("us")),
            "flag": pa.array([True, False, None], pa.bool_()),
        }
    )
    relation = Relation(None, "scratch", "round_trip")
    assert pg_wh.replace_tables([(relation, table.slice(0, 2)), (relation, table.slice(2))]) == {
        "scratch.round_trip": 3
    }
    read = pg_wh.query_arrow("select * from scratch.round_trip order by id")
    assert read.to_pylist() == table.to_pylist()
    streamed = pa.Table.from_batches(
        list(pg_wh.stream("select * from scratch.round_trip order by id", 2))
    )
    assert streamed.to_pylist() == table.to_pylist()
    assert [b.num_rows for b in pg_wh.stream("select id from scratch.round_trip", 2)] == [2, 1]
    # a replacement with the same columns truncates: a view on the table survives
    pg_wh.execute("create view scratch.round_trip_view as select id from scratch.round_trip")
    pg_wh.replace_tables([(relation, table.slice(0, 1))])
    assert pg_wh.query_arrow("select count(*) as n from scratch.round_trip_view").to_pylist() == [
        {"n": 1}
    ]


def test_a_failed_write_leaves_every_table_as_it_was(pg_wh):
    relation = Relation(None, "scratch", "atomic")
    pg_wh.replace_tables([(relation, pa.table({"k": [1, 2], "v": [0.1, 0.2]}))])
    good = pa.table({"k": [3], "v": [0.3]})
    bad = pa.table({"k": ["not a number"], "v": [0.4]})
    with pytest.raises(ScorehouseError, match="nothing was written"):
        pg_wh.append_all([(relation, good), (relation, bad)])
    assert pg_wh.count(relation) == 2
    with pytest.raises(ScorehouseError, match="PostgreSQL"):
        pg_wh.query_arrow("select * from scratch.no_such_table")


def test_pieces_are_the_same_ids_on_postgres_as_on_duckdb(pg_wh):
    from python_scoring.warehouse._duckdb import DuckDBWarehouse

    ids = ["", "0", "7", "ab-3", "12a", "ä", "  5", "٣", "x" * 40, "13800138000"]
    ids += [str(i) for i in range(1000, 1300)]
    relation = Relation(None, "scratch", "ids")
    pg_wh.replace_tables([(relation, pa.table({"id": ids}))])
    duck = DuckDBWarehouse({"type": "duckdb", "path": ":memory:"})
    duck.replace_tables([(relation, pa.table({"id": ids}))])
    for by in ("last_digit", "hash"):
        sql = "select id, {} % 7 as piece from scratch.ids order by id"
        on_pg = pg_wh.query_arrow(sql.format(pg_wh.piece_expression("id", by))).to_pylist()
        on_duck = duck.query_arrow(sql.format(duck.piece_expression("id", by))).to_pylist()
        assert {r["id"]: r["piece"] for r in on_pg} == {r["id"]: r["piece"] for r in on_duck}
    duck.close()


def test_killed_scoring_on_postgres_resumes_with_the_same_scores(pg):
    """A SIGKILL after 2 of 4 pieces leaves the slice as it was; the rerun resumes."""
    before = dict(
        query(pg, "select entity_id, score from ml.model_scores where model_name = 'churn_lgbm'")
    )
    cli = [
        sys.executable,
        "-m",
        "python_scoring.cli",
        *pg.cli_args,
        "score",
        "--model",
        "churn_lgbm",
        "--pieces",
        "4",
    ]
    killed = subprocess.run(
        cli, env={**pg.env, "SCOREHOUSE_KILL_AFTER_PIECES": "2"}, cwd=REPO, capture_output=True
    )
    assert killed.returncode == -9
    staged = query(
        pg,
        "select distinct piece from ml.model_scores__churn_lgbm__" + _month(pg) + " order by piece",
    )
    assert staged == [(0,), (1,)]
    assert (
        dict(
            query(
                pg, "select entity_id, score from ml.model_scores where model_name = 'churn_lgbm'"
            )
        )
        == before
    )
    resumed = subprocess.run(cli, env=pg.env, cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: pieces 0, 1" in resumed.stderr
    after = dict(
        query(pg, "select entity_id, score from ml.model_scores where model_name = 'churn_lgbm'")
    )
    assert after.keys() == before.keys()
    assert max(abs(after[k] - before[k]) for k in before) < 1e-12


def _month(pg) -> str:
    ((month,),) = query(pg, "select max(score_month) from ml.model_scores")
    return f"{month:%Y%m}"


def test_a_failed_connection_never_shows_the_password(pg, tmp_path):
    """A distinctive password and a server that is not there (the test server trusts
    local connections, so a wrong password alone would not fail): the command fails in
    one line naming the server, and neither its output nor its logs nor dbt's hold the
    password."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    secret = "Wr0ng-Pa55word-7f3c91"
    env = {
        **pg.env,
        "SCOREHOUSE_PG_PASSWORD": secret,
        "SCOREHOUSE_PG_PORT": port,
        "SCOREHOUSE_LOG_DIR": str(tmp_path),
    }
    cli = [sys.executable, "-m", "python_scoring.cli", *pg.cli_args]
    for args in (["train", "--model", "churn_lgbm"], ["score", "--model", "churn_lgbm"]):
        done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 2
        printed = done.stdout + done.stderr
        assert port in printed.splitlines()[-1] and secret not in printed
    dbt = subprocess.run(
        [str(DBT), "debug", "--log-path", str(tmp_path), "--target-path", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert dbt.returncode != 0 and secret not in dbt.stdout + dbt.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret.encode() in p.read_bytes()]


def test_forget_on_postgres_erases_everywhere_in_one_transaction(pg):
    """Last in this module (it removes customers): two ids forgotten; no table in any
    schema holds them afterwards, the suppression list does, and staging leaves them out."""
    ids = [i for (i,) in query(pg, "select entity_id from ml.model_scores limit 2")]
    assert pg.scorehouse("forget", *ids, "--reason", "pg test") == 0
    columns = query(
        pg,
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where c.table_schema not in ('pg_catalog', 'information_schema') "
        "and c.data_type in ('text', 'character varying', 'bigint')",
    )
    assert len(columns) > 200
    hits = []
    for schema, table, column in columns:
        if (schema, table) == ("ml", "erasure_requests"):
            continue
        listed = ", ".join(f"'{i}'" for i in ids)
        ((n,),) = query(
            pg,
            f'select count(*) from "{schema}"."{table}" '
            f'where cast("{column}" as text) in ({listed})',
        )
        if n:
            hits.append(f"{schema}.{table}.{column}")
    assert hits == []
    assert sorted(i for (i,) in query(pg, "select entity_id from ml.erasure_requests")) == sorted(
        ids
    )


@pytest.mark.parametrize("sslmode, encrypted", [("require", True), ("disable", False)])
def test_the_profiles_sslmode_reaches_dbt_and_python_scoring(pg, monkeypatch, sslmode, encrypted):
    """The local server has a self-signed certificate (scripts/local_postgres.sh); the
    profile's sslmode (env SCOREHOUSE_PG_SSLMODE) decides, for dbt's connection and for
    python_scoring's, whether the session is TLS (pg_stat_ssl)."""
    asked = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
    env = {**pg.env, "SCOREHOUSE_PG_SSLMODE": sslmode}
    shown = subprocess.run(
        [str(DBT), "show", "--inline", asked, "--output", "json"]
        + ["--target-path", str(pg.root / "show"), "--log-path", str(pg.root / "show")],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert shown.returncode == 0, shown.stdout[-2000:]
    assert f'"ssl": {str(encrypted).lower()}' in shown.stdout
    monkeypatch.setattr(os, "environ", env)
    with Warehouse.connect(pg.project()) as wh:
        assert wh.query_arrow(asked).column(0).to_pylist() == [encrypted]
