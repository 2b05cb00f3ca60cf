"""Faults on the real engines: what an operator meets while `scorehouse score` runs
against PostgreSQL or Spark.

PostgreSQL (one small warehouse, churn_lgbm only):
- a swap refused by the server (the insert privilege revoked, a trigger raising): the
  previous slice stays, one line says why, the rerun resumes every staged piece;
- the server restarted between two pieces, and the writer's session terminated
  (pg_terminate_backend) in the middle of a piece's COPY: exit 2 with one line naming the
  lost connection, no traceback, the previous slice intact, the rerun completes with the
  scores of the uninterrupted run; a statement the server cancels is not taken for a lost
  connection;
- the scoring input's values changed (same ids) after a killed run: the rerun's scores are
  those of a fresh scoring of the changed input, not stale pieces.

Spark: killed after some pieces, the previous partition intact, the rerun resumes and
gives the uninterrupted run's scores -- on the parity warehouse, test_engine_spark.py
(test_killed_rescoring_on_spark_resumes_and_overwrites_its_partition).

The SIGKILL after n pieces is score.py's crash-test hook (SCOREHOUSE_KILL_AFTER_PIECES).
A pause at a chosen point (after a piece, or after a COPY into the staging table inside
its transaction) is injected into the child process by `_PAUSING_CLI` below, so the fault
lands at the same point on every run. The kill/resume test on PostgreSQL is in
test_engine_postgres.py (test_killed_scoring_on_postgres_resumes_with_the_same_scores).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from ..conftest import (
    REPO,
    Built,
    assert_one_error_line,
    make_warehouse,
    pg_params,
    postgres_database,
    query,
)

SUBSCRIBERS, MONTHS = 3_000, 7
MODEL = "churn_lgbm"
PIECES = 3
SCORES = (
    "select entity_id, score, model_version, scored_at from ml.model_scores "
    f"where model_name = '{MODEL}'"
)

# `python -c` this, then the CLI's arguments: the CLI with a pause injected where
# FAULT_PAUSE says ("piece:n": after the n-th piece is committed; "copy:n": after the n-th
# COPY into a staging table, inside its uncommitted transaction). Paused, it creates
# FAULT_DIR/paused and waits for FAULT_DIR/go.
_PAUSING_CLI = """
import os, sys, time
from pathlib import Path
from python_scoring import cli
from python_scoring.scoring import score
from python_scoring.warehouse import _postgres

where, n = os.environ["FAULT_PAUSE"].split(":")
flags = Path(os.environ["FAULT_DIR"])

def pause():
    (flags / "paused").touch()
    deadline = time.monotonic() + 300
    while not (flags / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("paused for 300 s and never told to go on")
        time.sleep(0.05)

if where == "piece":
    def hook(written):
        if written == int(n):
            pause()
    score._crash_test_hook = hook
else:
    insert, copies = _postgres.PostgresWarehouse._insert, []
    def counted(self, writer, relation, table):
        insert(self, writer, relation, table)
        if relation.identifier.startswith("model_scores__"):
            copies.append(relation)
            if len(copies) == int(n):
                pause()
    _postgres.PostgresWarehouse._insert = counted
sys.exit(cli.main(sys.argv[1:]))
"""


def _cli(built: Built, *args: str) -> list[str]:
    return [sys.executable, "-m", "python_scoring.cli", *built.cli_args, *args]


def _score_args() -> list[str]:
    return ["score", "--model", MODEL, "--pieces", str(PIECES)]


def _run(built: Built, args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env={**built.env, **env}, cwd=REPO, capture_output=True, text=True, timeout=900
    )


def _scores(built: Built) -> dict[str, tuple]:
    return {entity: rest for entity, *rest in query(built, SCORES)}


def assert_same_scores(after: dict[str, tuple], before: dict[str, tuple]) -> None:
    """The same ids and version, scores equal to 1e-12 (a new scored_at is expected)."""
    assert after.keys() == before.keys()
    assert {v for _, v, _ in after.values()} == {v for _, v, _ in before.values()}
    assert max(abs(after[k][0] - before[k][0]) for k in before) < 1e-12


# ---- PostgreSQL ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg(tmp_path_factory, postgres_server) -> Built:
    """The churn model's sets built, trained and one month scored on the test server."""
    env = postgres_database(postgres_server, "faults")
    built = make_warehouse(tmp_path_factory.mktemp("pg_faults"), "postgres", **env)
    built.dbt("parse", "--quiet")
    generate = ["generate", "--subscribers", str(SUBSCRIBERS), "--months", str(MONTHS)]
    assert built.scorehouse(*generate) == 0
    built.dbt("run", "--select", "+churn_training_set", "+churn_scoring_input", "--quiet")
    assert built.scorehouse("train", "--model", MODEL) == 0
    done = _run(built, _cli(built, *_score_args()))
    assert done.returncode == 0, done.stderr
    return built


def _admin(built: Built):
    """A superuser connection to the scoring database (trust authentication)."""
    con = psycopg2.connect(**{**pg_params(built.env, "postgres")})
    con.autocommit = True
    return con


def _population(pg: Built) -> int:
    ((population,),) = query(pg, "select count(*) from ml.churn_scoring_input")
    return population


def _staging(pg: Built) -> str:
    ((month,),) = query(pg, "select max(score_month) from ml.model_scores")
    return f"ml.model_scores__{MODEL}__{month:%Y%m}"


def _trigger(admin) -> None:
    with admin.cursor() as cursor:
        cursor.execute(
            "create function ml.refuse_scores() returns trigger language plpgsql as "
            "$$ begin raise exception 'ml.model_scores is frozen for the audit'; end $$"
        )
        cursor.execute(
            "create trigger refuse_scores before insert on ml.model_scores "
            "for each statement execute function ml.refuse_scores()"
        )


def _untrigger(admin) -> None:
    with admin.cursor() as cursor:
        cursor.execute("drop trigger refuse_scores on ml.model_scores")
        cursor.execute("drop function ml.refuse_scores()")


def _revoke(admin) -> None:
    with admin.cursor() as cursor:
        cursor.execute("revoke insert on ml.model_scores from scorehouse")


def _grant(admin) -> None:
    with admin.cursor() as cursor:
        cursor.execute("grant insert on ml.model_scores to scorehouse")


@pytest.mark.postgres
@pytest.mark.e2e
def test_a_swap_refused_by_postgres_keeps_the_previous_slice(pg):
    """The insert privilege revoked, then a trigger raising: the delete of the old slice
    has run when the insert fails, and both roll back. The second run resumes the pieces
    the first one staged (and fails again); once repaired, the rerun only swaps."""
    before = _scores(pg)
    assert len(before) == _population(pg) > 1000
    for fault, repair, message, resumed in (
        (_revoke, _grant, "permission denied for table model_scores", False),
        (_trigger, _untrigger, "ml.model_scores is frozen for the audit", True),
    ):
        admin = _admin(pg)
        try:
            fault(admin)
            failed = _run(pg, _cli(pg, *_score_args()))
        finally:
            repair(admin)
            admin.close()
        assert_one_error_line(failed, f"PostgreSQL: {message} (nothing was written)")
        assert ("resuming: pieces 0, 1, 2" in failed.stderr) is resumed
        assert _scores(pg) == before  # same rows, same scores, same scored_at
        # every piece was staged before the swap failed
        staged = query(pg, f"select piece, count(*) from {_staging(pg)} group by 1 order by 1")
        assert [p for p, _ in staged] == list(range(PIECES))
        assert sum(n for _, n in staged) == len(before)
    rerun = _run(pg, _cli(pg, *_score_args()))
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming: pieces 0, 1, 2" in rerun.stderr
    after = _scores(pg)
    assert_same_scores(after, before)
    assert {s for _, _, s in after.values()} != {s for _, _, s in before.values()}  # swapped
    assert query(
        pg,
        f"select count(*) from information_schema.tables where table_schema = "
        f"'ml' and table_name = '{_staging(pg).split('.')[1]}'",
    ) == [(0,)]


def _restart_server(pg: Built) -> None:
    """pg_ctl restart (fast shutdown: every session is ended) of the test server."""
    admin = _admin(pg)
    with admin.cursor() as cursor:
        cursor.execute("show data_directory")
        (data,) = cursor.fetchone()
    admin.close()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # the server's output to its log (as local_postgres.sh starts it), not to our pipes
    log = Path(data).parent / "server.log"
    restarted = subprocess.run(
        [*as_postgres, "pg_ctl", "-D", data, "-l", str(log), "-m", "fast", "-w", "restart"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr


def _terminate_writer(pg: Built) -> None:
    """pg_terminate_backend of the scorehouse session in the middle of its COPY."""
    admin = _admin(pg)
    with admin.cursor() as cursor:
        cursor.execute(
            "select pid, state from pg_stat_activity where application_name = 'scorehouse' "
            "and datname = current_database() and query ilike 'copy % from stdin%'"
        )
        writers = cursor.fetchall()
        assert [state for _, state in writers] == ["idle in transaction"], writers
        cursor.execute("select pg_terminate_backend(%s)", (writers[0][0],))
        assert cursor.fetchone() == (True,)
    admin.close()


@pytest.mark.postgres
@pytest.mark.e2e
@pytest.mark.parametrize(
    ("pause", "fault"),
    [("piece:1", _restart_server), ("copy:2", _terminate_writer)],
    ids=["server-restarted-between-pieces", "session-terminated-mid-copy"],
)
def test_a_lost_postgres_connection_is_one_line_and_the_rerun_completes(pg, tmp_path, pause, fault):
    """Paused after piece 0 is committed (the restart) or inside piece 1's transaction,
    after its COPY (the terminated session); the fault; then the run goes on."""
    before = _scores(pg)
    assert len(before) == _population(pg) > 1000
    flags = tmp_path / "flags"
    flags.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", _PAUSING_CLI, *pg.cli_args, *_score_args()],
        env={**pg.env, "FAULT_PAUSE": pause, "FAULT_DIR": str(flags)},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(flags / "paused", child)
        fault(pg)
        (flags / "go").touch()
        stdout, stderr = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    failed = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    port = pg.env["SCOREHOUSE_PG_PORT"]
    line = assert_one_error_line(failed, f"127.0.0.1:{port}", "rerun")
    assert "connection" in line and "lost" in line
    # the reason is what ended the connection, not what a later call found ("connection
    # already closed"); over TLS (the profile's sslmode prefer) libpq reports the close
    # without the server's FATAL message
    assert re.search(
        r"terminating connection|(server|SSL) connection has been closed unexpectedly"
        r"|server closed the connection",
        line,
    ), line
    assert _scores(pg) == before  # same rows, same scores, same scored_at
    # the first piece was committed before the fault, the second never was
    staged = query(pg, f"select piece, count(*) from {_staging(pg)} group by piece order by 1")
    assert [p for p, _ in staged] == [0]
    rerun = _run(pg, _cli(pg, *_score_args()))
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming: pieces 0 " in rerun.stderr
    assert_same_scores(_scores(pg), before)
    assert query(pg, f"select count(*) from ml.scoring_locks where model_name = '{MODEL}'") == [
        (0,)
    ]


@pytest.mark.postgres
@pytest.mark.e2e
def test_a_statement_the_server_cancels_is_not_a_lost_connection(pg, monkeypatch):
    """An OperationalError with the connection intact (statement_timeout) stays the
    server's own message, and the warehouse keeps working."""
    from python_scoring.errors import ScorehouseError
    from python_scoring.warehouse import Warehouse

    monkeypatch.setattr(os, "environ", {**os.environ, **pg.env})
    with Warehouse.connect(pg.project()) as wh:
        with pytest.raises(ScorehouseError) as refused:
            wh.execute("set local statement_timeout = 10", "select pg_sleep(5)")
        assert str(refused.value) == (
            "PostgreSQL: canceling statement due to statement timeout (nothing was written)"
        )
        assert wh.count(pg.project().model("churn_scoring_input")) == _population(pg)


def _wait_for(flag: Path, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while not flag.exists():
        if child.poll() is not None:
            _, err = child.communicate()
            raise AssertionError(f"ended (exit {child.returncode}) before the pause:\n{err}")
        assert time.monotonic() < deadline, "never reached the pause"
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.e2e
def test_a_rerun_after_the_input_changed_scores_the_changed_input(pg):
    """Killed after 2 of 4 pieces; the scoring input rebuilt with the same ids and other
    values; the rerun must not swap in the stale pieces: its scores are those of a fresh
    scoring of the changed input. (On d868162, before the input fingerprint of the
    staged pieces: 1849 of 3136 scores of the rerun were stale.)"""
    old = _scores(pg)
    killed = _run(
        pg,
        _cli(pg, "score", "--model", MODEL, "--pieces", "4"),
        SCOREHOUSE_KILL_AFTER_PIECES="2",
    )
    assert killed.returncode == -9
    stale = {e for (e,) in query(pg, f"select entity_id from {_staging(pg)}")}
    assert 0 < len(stale) < len(old)
    # corrected values, the same ids: every numeric feature doubled
    numeric = [
        c
        for (c,) in query(
            pg,
            "select column_name from information_schema.columns where table_schema = 'ml' "
            "and table_name = 'churn_scoring_input' and data_type in "
            "('integer', 'bigint', 'double precision', 'numeric', 'smallint', 'real') "
            "and column_name not in ('subscriber_id')",
        )
    ]
    assert len(numeric) > 5
    admin = _admin(pg)
    with admin.cursor() as cursor:
        cursor.execute(
            "update ml.churn_scoring_input set " + ", ".join(f"{c} = {c} * 2 + 1" for c in numeric)
        )
        assert cursor.rowcount == len(old)
    admin.close()
    rerun = _run(pg, _cli(pg, "score", "--model", MODEL, "--pieces", "4"))
    assert rerun.returncode == 0, rerun.stderr
    resumed = _scores(pg)
    fresh_run = _run(pg, _cli(pg, "score", "--model", MODEL, "--pieces", "4"))
    assert fresh_run.returncode == 0, fresh_run.stderr
    assert "resuming" not in fresh_run.stderr
    fresh = _scores(pg)
    assert fresh.keys() == resumed.keys() == old.keys()
    changed = {e for e in stale if abs(fresh[e][0] - old[e][0]) > 1e-9}
    assert len(changed) > len(stale) / 2  # the change matters for the staged ids
    stale_kept = sorted(e for e in changed if abs(resumed[e][0] - fresh[e][0]) > 1e-12)
    assert not stale_kept, (
        f"{len(stale_kept)} of {len(resumed)} scores of the rerun come from the input as it "
        f"was before the change, e.g. {stale_kept[0]}: {resumed[stale_kept[0]][0]} "
        f"(fresh {fresh[stale_kept[0]][0]})"
    )
    assert_same_scores(resumed, fresh)
