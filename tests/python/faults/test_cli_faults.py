"""Faults a user meets at the command line: each ends in one line on stderr (no traceback)
with the exit status the README gives: 2 for what the user can fix, 130 when interrupted,
1 for a bug (its traceback goes to the run log only)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from python_scoring import cli

from ..conftest import REPO, make_warehouse, query

SCOREHOUSE = Path(sys.executable).parent / "scorehouse"


def one_line_error(stderr: str, status_prefix: str = "scorehouse: error: ") -> str:
    """The failure's line; fails the test on a traceback or a multi-line report."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.strip().splitlines() if line.startswith("scorehouse:")]
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith(status_prefix), lines[0]
    return lines[0]


def run_cli(built, *args: str, env: dict[str, str] | None = None, project: Path = REPO):
    cli_args = ["--project-dir", str(project), "--profiles-dir", str(built.root)]
    cli_args += ["--target-path", str(built.root / "target")]
    return subprocess.run(
        [str(SCOREHOUSE), *cli_args, *args],
        env={**built.env, **(env or {})},
        cwd=built.root,
        capture_output=True,
        text=True,
        # Ctrl-C as at a terminal: a job started in the background by a shell without job
        # control (CI=true bash .ci/run &) inherits SIGINT ignored, and so would the CLI
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def project_copy(root: Path) -> Path:
    """The dbt project's files in a directory of their own (a test may edit them)."""
    copy = root / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "selectors.yml"):
        shutil.copy(REPO / name, copy / name)
    for folder in ("models", "macros", "seeds", "tests/dbt", "analyses"):
        shutil.copytree(REPO / folder, copy / folder)
    return copy


# ---- a stale manifest is never used -------------------------------------------------------
def test_a_registry_edited_without_dbt_parse_is_seen(tmp_path):
    """The registry YAML edited to another algorithm, no `dbt parse`: the next command
    parses the project itself instead of acting on the old manifest."""
    built = make_warehouse(tmp_path)
    project = project_copy(tmp_path)
    first = run_cli(built, "check", project=project)
    assert first.returncode == 0, first.stderr
    assert "churn_lgbm: telco churn, lightgbm," in first.stdout
    registry = project / "models/ml/telco/_telco__exposures.yml"
    text = registry.read_text()
    registry.write_text(text.replace("algorithm: lightgbm", "algorithm: random_forest", 1))
    later = time.time() + 5  # newer than the manifest whatever the clock's resolution
    os.utime(registry, (later, later))
    second = run_cli(built, "check", project=project)
    # the edit was read: the LightGBM params do not fit a random forest (before: exit 0,
    # the old algorithm listed from the stale manifest)
    assert second.returncode == 2, second.stdout
    line = one_line_error(second.stderr)
    assert "'churn_lgbm': params key" in line and "RandomForestClassifier" in line


# ---- var score_month is checked by dbt ----------------------------------------------------
@pytest.mark.parametrize(
    "month, expected",
    [
        ("2025-08-15", "var score_month must be the first day of a month (YYYY-MM-01), got "),
        ("2025-8-1", "var score_month must be the first day of a month"),
        ("next month", "var score_month must be the first day of a month"),
    ],
)
def test_a_score_month_that_is_no_month_fails_the_dbt_build(warehouse, month, expected):
    done = warehouse.dbt(
        "build",
        "--selector",
        "telco_features",
        "--vars",
        f"{{score_month: '{month}'}}",
        check=False,
    )
    assert done.returncode != 0
    assert expected in done.stdout


def test_a_score_month_after_the_data_fails_the_run_in_one_line(warehouse):
    """Before: exit 0 with empty training sets and scoring inputs."""
    done = run_cli(warehouse, "run", "--month", "2031-01", "--no-marts")
    assert done.returncode == 2
    line = one_line_error(done.stderr)
    assert "stage features failed" in line
    assert "score_month_is_a_month_of_the_telco_data" in line
    assert "var score_month is not a month of the telco data" in line


# ---- the one error path -------------------------------------------------------------------
def _bad_profiles(built) -> dict[str, str]:
    (built.root / "profiles.yml").write_text("scorehouse:\n  target: duckdb\n   outputs: [\n")
    return {}


def _missing_duckdb_file(built) -> dict[str, str]:
    return {"SCOREHOUSE_DUCKDB_PATH": str(built.root / "warehuose.duckdb")}  # a typo


def _unwritable_log_dir(built) -> dict[str, str]:
    return {"SCOREHOUSE_LOG_DIR": "/proc/scorehouse-logs"}


@pytest.mark.parametrize(
    "fault, args, expected",
    [
        (_bad_profiles, ["summary"], "profiles.yml line 3, column 11 is not valid YAML"),
        (_missing_duckdb_file, ["summary"], "warehuose.duckdb does not exist"),
        (_unwritable_log_dir, ["check"], "cannot write the run log in /proc/scorehouse-logs"),
    ],
    ids=["profiles-yaml-error", "duckdb-path-typo", "log-dir-not-writable"],
)
def test_environment_faults_are_one_line(warehouse, tmp_path, fault, args, expected):
    built = make_warehouse(tmp_path)
    shutil.copytree(warehouse.root / "target", built.root / "target")  # a parsed project
    env = {"SCOREHOUSE_DUCKDB_PATH": warehouse.env["SCOREHOUSE_DUCKDB_PATH"], **fault(built)}
    done = run_cli(built, *args, env=env)
    assert done.returncode == 2, done.stderr
    assert expected in one_line_error(done.stderr)
    if fault is _missing_duckdb_file:
        assert not (built.root / "warehuose.duckdb").exists()  # not created empty


def test_a_warehouse_file_locked_by_another_process_is_one_line(tmp_path):
    built = make_warehouse(tmp_path)
    path = built.env["SCOREHOUSE_DUCKDB_PATH"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({path!r}); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        done = run_cli(built, "summary")
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2
    line = one_line_error(done.stderr)
    assert f"cannot open DuckDB file {path}" in line and "one writer at a time" in line


@pytest.mark.parametrize(
    "exception, status, expected",
    [
        (
            OSError(28, "No space left on device", "/data/artifacts/m"),
            2,
            "scorehouse: error: No space left on device: /data/artifacts/m",
        ),
        (KeyboardInterrupt(), 130, "scorehouse: interrupted (what was committed stays"),
        (
            ValueError("boom\nsecond line"),
            1,
            "scorehouse: error: internal error (ValueError: "
            "boom); please report it with the traceback in ",
        ),
    ],
    ids=["os-error", "ctrl-c", "bug"],
)
def test_every_failure_is_one_line(monkeypatch, tmp_path, capsys, exception, status, expected):
    monkeypatch.setenv("SCOREHOUSE_LOG_DIR", str(tmp_path))

    def failing(args):
        raise exception

    monkeypatch.setattr(cli, "run", failing)
    assert cli.main(["-q", "check"]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [err.strip().splitlines()[-1]]
    assert err.strip().startswith(expected)
    if status == 1:  # the traceback is in the run log the line names
        log = Path(err.strip().rsplit(" ", 1)[-1])
        assert log.parent == tmp_path and "Traceback" in log.read_text()


@pytest.mark.e2e
def test_ctrl_c_while_scoring_releases_the_lock_and_keeps_the_pieces(warehouse):
    """Ctrl-C after a piece: one line, exit 130, the lock released, the previous slice as
    it was; the rerun resumes the committed piece."""
    slice_sql = "select entity_id, score from ml.model_scores where model_name = 'churn_lgbm'"
    before = dict(query(warehouse, slice_sql))
    score = ["score", "--model", "churn_lgbm", "--pieces", "4"]
    stop = {"SCOREHOUSE_KILL_AFTER_PIECES": "1", "SCOREHOUSE_KILL_SIGNAL": "SIGINT"}
    interrupted = run_cli(warehouse, *score, env=stop)
    assert interrupted.returncode == 130, interrupted.stderr[-2000:]
    line = one_line_error(interrupted.stderr, "scorehouse: interrupted")
    assert "rerun to go on" in line
    assert query(warehouse, "select * from ml.scoring_locks") == []  # released on the way out
    assert dict(query(warehouse, slice_sql)) == before
    rerun = run_cli(warehouse, *score)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming: pieces 0" in rerun.stderr and "taking over the lock" not in rerun.stderr
    after = dict(query(warehouse, slice_sql))
    assert after.keys() == before.keys()
    assert max(abs(after[e] - before[e]) for e in before) < 1e-12
