"""Shared fixtures: a small but real warehouse built by the same commands `make demo` runs."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from python_scoring.cli import main as scorehouse_main
from python_scoring.jobs.cycle import STAGE_PREFIX
from python_scoring.project import Project

from .command_host import CommandHost

REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"

# The pseudonymisation salt of every test warehouse (docs/privacy.md), also in this process's
# environment for the commands tests run in-process; PostgreSQL gets it from PGOPTIONS.
TEST_SALT = "test-salt-7Hq2mZ9xK4"
os.environ["SCOREHOUSE_PSEUDONYM_SALT"] = TEST_SALT


def pytest_collection_modifyitems(config, items):
    """The longest files first: `make test` runs every engine's tests in one pytest run on
    two workers, a file's tests on one worker (--dist loadfile --no-loadscope-reorder, in
    this order), so the Spark files (a JVM per step, the three-engine parity warehouse)
    start at once and the DuckDB files fill the other worker meanwhile, instead of the
    engines waiting for the DuckDB suite to end."""
    spark, postgres = Counter(), Counter()
    for item in items:
        spark[item.path] += item.get_closest_marker("spark") is not None
        postgres[item.path] += item.get_closest_marker("postgres") is not None

    def rank(item) -> tuple[int, int]:
        path = item.path
        return (0 if spark[path] else 1 if postgres[path] else 2, -spark[path])

    items.sort(key=rank)  # stable: a file's own order kept


# Small enough for CI, big enough that the planted churn signal is measurable.
E2E_SUBSCRIBERS = 12_000
E2E_MONTHS = 10


@dataclass
class Built:
    """A warehouse built in a temp dir: env for dbt/scorehouse and the CLI's global args."""

    root: Path
    env: dict[str, str]
    project_dir: Path = REPO  # a copy of the project, for tests that write dbt files
    host: CommandHost | None = None  # while hosted(): the process running the commands

    @property
    def cli_args(self) -> list[str]:
        return [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.root),
            "--target-path",
            str(self.root / "target"),
        ]

    def project(self) -> Project:
        return Project(self.project_dir, self.root, None, self.root / "target")

    @contextmanager
    def hosted(self) -> Iterator[Built]:
        """Within the block, dbt, scorehouse and run_script run in one long-lived child
        process (command_host.py: on Spark one JVM for all of them, not one each). Nothing
        else may open a Spark warehouse meanwhile (Derby admits one JVM)."""
        self.host = CommandHost(self.env, self.project_dir, self.root / "host")
        try:
            yield self
        finally:
            self.host.close()
            self.host = None

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [*args, "--target-path", str(self.root / "target")]
        if self.host:
            result = self.host.run("dbt", command)
        else:
            result = subprocess.run(
                [str(DBT), *command],
                cwd=self.project_dir,
                env=self.env,
                capture_output=True,
                text=True,
            )
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return result

    def cycle(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`scorehouse run ARGS` (the monthly cycle, dbt in-process) in a child process,
        output captured; its stdout split by stage is kept in `stage_logs`."""
        cli = Path(sys.executable).parent / "scorehouse"
        if "--report" not in args and "--no-report" not in args:  # not into the repository
            args = (*args, "--report", str(self.root / "report.html"))
        result = subprocess.run(
            [str(cli), *self.cli_args, "run", *args],
            env=self.env,
            cwd=self.project_dir,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"scorehouse run {' '.join(args)} failed:\n{result.stderr}")
        # "<prefix> [2/5] train: ..." opens a stage: [.., name, text, name, text, ..]
        parts = re.split(
            rf"^{re.escape(STAGE_PREFIX)} \[\d+/\d+\] (\w+):", result.stdout, flags=re.M
        )
        self.stage_logs = dict(zip(parts[1::2], parts[2::2], strict=True))
        return result

    def monthly_run(self, subscribers: int, months: int) -> Built:
        """What `make demo` runs: generate, then the monthly cycle (`scorehouse run
        --train`); the features and marts stages' dbt output as features_log, marts_log."""
        generate = ["generate", "--subscribers", str(subscribers), "--months", str(months)]
        assert self.scorehouse(*generate) == 0
        self.cycle("--train")
        self.features_log, self.marts_log = self.stage_logs["features"], self.stage_logs["marts"]
        return self

    def bank_run(self, corporate: int, retail: int, months: int) -> Built:
        """The bank's monthly run (`make bank-demo`): generate, then `scorehouse run
        --domain bank --train` (features, the two corporate models, the retail rules,
        marts)."""
        generate = ["generate", "--domain", "bank", "--corporate", str(corporate)]
        generate += ["--retail", str(retail), "--months", str(months)]
        assert self.scorehouse(*generate) == 0
        self.cycle("--domain", "bank", "--train")
        return self

    def scorehouse(self, *args: str) -> int:
        """Run the CLI in-process with this warehouse's environment (Spark: in a child
        process, so that no JVM stays in the test process to hold the Derby metastore)."""
        if self.host:
            done = self.host.run("scorehouse", [*self.cli_args, *args])
            sys.stdout.write(done.stdout)  # as the CLI would print them
            sys.stderr.write(done.stderr)
            return done.returncode
        if self.env.get("SCOREHOUSE_TARGET") == "spark_local":
            cli = Path(sys.executable).parent / "scorehouse"
            done = subprocess.run(
                [str(cli), *self.cli_args, *args], env=self.env, cwd=self.project_dir
            )
            return done.returncode
        old = os.environ.copy()
        os.environ.update(self.env)
        try:
            return scorehouse_main([*self.cli_args, "-q", *args])
        finally:
            os.environ.clear()
            os.environ.update(old)

    def run_script(self, code: str, *argv: str) -> subprocess.CompletedProcess:
        """Run a Python script with this warehouse's environment, in the host when hosted
        (else in a child process: no engine's state stays in the test process); fails
        the test when the script fails; returns its output."""
        if self.host:
            done = self.host.run("python", list(argv), code)
        else:
            done = subprocess.run(
                [sys.executable, "-c", code, *argv],
                env=self.env,
                cwd=self.project_dir,
                capture_output=True,
                text=True,
            )
        assert done.returncode == 0, f"script failed:\n{done.stderr[-3000:]}"
        return done


def _reader(built: Built):
    """A read-only DuckDB connection onto the built warehouse, whatever its engine:
    the DuckDB file itself; PostgreSQL through psycopg2 (wrapped below); Spark's parquet
    tables as views (no JVM in the test process: Derby admits one at a time)."""
    import duckdb

    target = built.env.get("SCOREHOUSE_TARGET", "duckdb")
    if target == "duckdb":
        return duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    if target == "spark_local":
        con = duckdb.connect()
        warehouse_dir = Path(built.env["SCOREHOUSE_SPARK_DIR"]) / "warehouse"
        for schema_dir in sorted(warehouse_dir.glob("*.db")):
            schema = schema_dir.name.removesuffix(".db")
            con.execute(f"create schema if not exists {schema}")
            for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
                files = f"{table_dir}/**/*.parquet"
                if next(table_dir.rglob("*.parquet"), None) is None:
                    continue
                con.execute(
                    f"create view {schema}.{table_dir.name} as select * from "
                    f"read_parquet('{files}', hive_partitioning = true)"
                )
        return con
    raise ValueError(f"no test reader for target {target}")


class _PostgresReader:
    def __init__(self, env: dict[str, str]) -> None:
        import psycopg2

        self.con = psycopg2.connect(**pg_params(env))

    def execute(self, sql: str):
        self.cursor = self.con.cursor()
        self.cursor.execute(sql)
        return self

    def fetchall(self):
        return self.cursor.fetchall()

    def df(self):
        import pandas as pd

        names = [d.name for d in self.cursor.description]
        return pd.DataFrame(self.cursor.fetchall(), columns=names)

    def close(self) -> None:
        self.con.close()


def pg_params(env: dict[str, str], user: str | None = None) -> dict[str, str]:
    user = user or env["SCOREHOUSE_PG_USER"]
    return {
        "host": env["SCOREHOUSE_PG_HOST"],
        "port": env["SCOREHOUSE_PG_PORT"],
        "dbname": env["SCOREHOUSE_PG_DATABASE"],
        "user": user,
        "password": env["SCOREHOUSE_PG_PASSWORD"] if user == env["SCOREHOUSE_PG_USER"] else user,
    }


def _connect(built: Built):
    if built.env.get("SCOREHOUSE_TARGET") == "postgres":
        return _PostgresReader(built.env)
    return _reader(built)


def query(built: Built, sql: str) -> list[tuple]:
    """Rows of a query on a built warehouse (read-only)."""
    con = _connect(built)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def query_frame(built: Built, sql: str):
    """The same as a pandas DataFrame."""
    con = _connect(built)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """The engines' client types made comparable: dates (datetime.date, Timestamp) as
    datetime64, Decimal and bool objects as numbers."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column].dropna()
        if not len(values):
            continue
        first = values.iloc[0]
        if isinstance(first, dt.date | pd.Timestamp):
            frame[column] = pd.to_datetime(frame[column])
        elif isinstance(first, Decimal | bool | np.bool_):
            frame[column] = pd.to_numeric(frame[column].astype(object), errors="raise")
    return frame


def make_warehouse(root: Path, target: str = "duckdb", **env: str) -> Built:
    """A warehouse's directory and environment for a profile target; `env` adds the
    server's settings (SCOREHOUSE_PG_*)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "profiles.yml").write_text((REPO / "profiles_example.yml").read_text())
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(root),
        "SCOREHOUSE_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "SCOREHOUSE_SPARK_DIR": str(root / "spark"),
        "SCOREHOUSE_ARTIFACTS": str(root / "artifacts"),
        "SCOREHOUSE_TARGET": target,
        "SCOREHOUSE_LOG_DIR": str(root / "logs"),
        "SCOREHOUSE_SNAPSHOTS": str(root / "snapshots"),
        "SCOREHOUSE_SPOOL": str(root / "spool"),
        "SCOREHOUSE_PSEUDONYM_SALT": TEST_SALT,
        "PGOPTIONS": f"-c scorehouse.pseudonym_salt={TEST_SALT}",
        "SCOREHOUSE_DUCKDB_KEY": "",  # plain files (the tests read them directly)
        **env,
    }
    return Built(root, env)


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Built:
    """generate -> dbt build (features) -> train -> score -> dbt build (marts)."""
    built = make_warehouse(tmp_path_factory.mktemp("e2e"))
    built.monthly_run(E2E_SUBSCRIBERS, E2E_MONTHS)
    return built


@pytest.fixture(scope="session")
def bank_duckdb(tmp_path_factory) -> Built:
    """The bank run on DuckDB that the PostgreSQL and Spark bank runs are compared with."""
    from .bank_parity import CORPORATE, MONTHS, RETAIL

    built = make_warehouse(tmp_path_factory.mktemp("bank_duckdb"))
    return built.bank_run(CORPORATE, RETAIL, MONTHS)


@pytest.fixture(scope="session")
def drifted(tmp_path_factory):
    """A small warehouse whose last month drifts (generate --drift-month)."""
    built = make_warehouse(tmp_path_factory.mktemp("drift"))
    built.dbt("parse", "--quiet")
    assert (
        built.scorehouse(
            "generate", "--subscribers", "3000", "--months", "5", "--drift-month", "2025-05"
        )
        == 0
    )
    return built


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL 15 started by scripts/local_postgres.sh (the same helper
    users run), stopped at the end. A server that cannot start fails the tests that need
    it: they never skip."""
    import tempfile

    # not under pytest's 0700 temp root: the server runs as the postgres OS user
    state = tempfile.mkdtemp(prefix="scorehouse-pg-")
    env = {**os.environ, "SCOREHOUSE_PG_STATE": state}
    script = str(REPO / "scripts" / "local_postgres.sh")
    started = subprocess.run(["bash", script, "start"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(
            f"PostgreSQL did not start (scripts/local_postgres.sh start):\n{started.stderr}"
        )
    settings = dict(pair.split("=", 1) for pair in started.stdout.split("export", 1)[1].split())
    yield settings
    subprocess.run(["bash", script, "stop"], env=env, check=False)


def postgres_database(server: dict[str, str], name: str) -> dict[str, str]:
    """A fresh database on the test server, owned by the project's role."""
    import psycopg2

    admin = psycopg2.connect(**{**pg_params(server, "postgres"), "dbname": "postgres"})
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"drop database if exists {name}")
        cursor.execute(f"create database {name} owner {server['SCOREHOUSE_PG_USER']}")
    admin.close()
    return {**server, "SCOREHOUSE_PG_DATABASE": name}


def assert_one_error_line(done: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2, no traceback, exactly one `scorehouse: error:` line (the last), naming
    `words`; returns that line."""
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("scorehouse: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], done.stderr[-3000:]
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def id_hits(con, ids: list[str]) -> tuple[set[tuple[str, str]], int, list[str]]:
    """Every column of every table and view of a DuckDB connection's database, compared as
    text (and as a substring of text, for JSON and joined lists) with `ids`: the tables
    and the number of columns scanned, and the hits outside the suppression list."""
    columns = con.execute(
        "select table_schema, table_name, column_name from "
        "information_schema.columns where table_catalog = current_database()"
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        if (schema, table) == ("ml", "erasure_requests"):
            continue
        value = f'cast("{column}" as varchar)'
        match = " or ".join(f"{value} like '%{i}%'" for i in ids)
        (n,) = con.execute(f'select count(*) from "{schema}"."{table}" where {match}').fetchone()
        if n:
            hits.append(f"{schema}.{table}.{column}: {n}")
    return {(s, t) for s, t, _ in columns}, len(columns), hits
