"""Shared fixtures: a small but real warehouse built by the same commands `make demo` runs."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from python_scoring.cli import main as scorehouse_main
from python_scoring.project import Project

REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"

# Small enough for CI, big enough that the planted churn signal is measurable.
E2E_SUBSCRIBERS = 12_000
E2E_MONTHS = 10


@dataclass
class Built:
    """A warehouse built in a temp dir: env for dbt/scorehouse and the CLI's global args."""

    root: Path
    env: dict[str, str]

    @property
    def cli_args(self) -> list[str]:
        return [
            "--project-dir",
            str(REPO),
            "--profiles-dir",
            str(self.root),
            "--target-path",
            str(self.root / "target"),
        ]

    def project(self) -> Project:
        return Project(REPO, self.root, None, self.root / "target")

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(DBT), *args, "--target-path", str(self.root / "target")],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return result

    def scorehouse(self, *args: str) -> int:
        """Run the CLI in-process with this warehouse's environment."""
        old = os.environ.copy()
        os.environ.update(self.env)
        try:
            return scorehouse_main([*self.cli_args, "-q", *args])
        finally:
            os.environ.clear()
            os.environ.update(old)


def query(built: Built, sql: str) -> list[tuple]:
    """Rows of a query on a built warehouse (read-only connection)."""
    import duckdb

    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def query_frame(built: Built, sql: str):
    """The same as a pandas DataFrame."""
    import duckdb

    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def make_warehouse(root: Path) -> Built:
    root.mkdir(parents=True, exist_ok=True)
    (root / "profiles.yml").write_text((REPO / "profiles_example.yml").read_text())
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(root),
        "SCOREHOUSE_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "SCOREHOUSE_ARTIFACTS": str(root / "artifacts"),
        "SCOREHOUSE_TARGET": "duckdb",
        "SCOREHOUSE_LOG_DIR": str(root / "logs"),
    }
    return Built(root, env)


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Built:
    """generate -> dbt build (features) -> train -> score -> dbt build (marts)."""
    built = make_warehouse(tmp_path_factory.mktemp("e2e"))
    built.dbt("parse", "--quiet")
    assert (
        built.scorehouse(
            "generate", "--subscribers", str(E2E_SUBSCRIBERS), "--months", str(E2E_MONTHS)
        )
        == 0
    )
    built.build_log = built.dbt("build", "--selector", "monthly_features").stdout
    assert built.scorehouse("train") == 0
    assert built.scorehouse("score") == 0
    built.marts_log = built.dbt("build", "--selector", "monthly_marts").stdout
    return built
