"""Bad input ends with exit status 2 and one line naming what is wrong."""

from __future__ import annotations

import pytest

from python_scoring.cli import main

from .conftest import REPO, make_warehouse


def last_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "nothing on stderr"
    assert not any(line.startswith("Traceback") for line in lines)
    assert lines[-1].startswith("scorehouse: error: ")
    return lines[-1]


def test_a_fresh_clone_parses_and_names_the_missing_warehouse(tmp_path, capsys):
    """No manifest: `train` parses the project itself; no warehouse file: it is named, not
    created empty."""
    built = make_warehouse(tmp_path)
    assert built.scorehouse("train") == 2
    message = last_error(capsys)
    assert (built.root / "target" / "manifest.json").is_file()
    assert f"DuckDB file {built.root / 'warehouse.duckdb'} does not exist" in message
    assert not (built.root / "warehouse.duckdb").exists()


def test_unknown_model(warehouse, capsys):
    assert warehouse.scorehouse("train", "--model", "no_such_model") == 2
    message = last_error(capsys)
    assert "no_such_model" in message and "churn_lgbm" in message


def test_month_not_in_data(warehouse, capsys):
    assert warehouse.scorehouse("score", "--month", "2019-03") == 2
    message = last_error(capsys)
    assert "2019-03-01" in message and "is not in ml.churn_scoring_input" in message


def test_duplicate_ids_in_scoring_input_are_refused(warehouse, capsys):
    import duckdb

    path = warehouse.env["SCOREHOUSE_DUCKDB_PATH"]
    with duckdb.connect(path) as con:
        con.execute(
            "insert into ml.churn_scoring_input select * from ml.churn_scoring_input limit 3"
        )
    try:
        assert warehouse.scorehouse("score") == 2
        message = last_error(capsys)
        assert "3 duplicate subscriber_id" in message
    finally:
        warehouse.dbt("build", "--select", "churn_scoring_input", "--quiet")


def test_null_ids_in_scoring_input_are_refused(warehouse, capsys):
    import duckdb

    path = warehouse.env["SCOREHOUSE_DUCKDB_PATH"]
    with duckdb.connect(path) as con:
        con.execute(
            "update ml.churn_scoring_input set subscriber_id = null where subscriber_id in "
            "(select subscriber_id from ml.churn_scoring_input order by subscriber_id limit 2)"
        )
    try:
        assert warehouse.scorehouse("score", "--model", "churn_lgbm") == 2
        assert "2 row(s) with a null subscriber_id" in last_error(capsys)
    finally:
        warehouse.dbt("build", "--select", "churn_scoring_input", "--quiet")


def test_bad_month_argument(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--project-dir", str(REPO), "score", "--month", "2025-13"])
    assert exc.value.code == 2
    assert "not a month" in capsys.readouterr().err


def test_generator_config_errors_are_one_line(warehouse, capsys):
    assert warehouse.scorehouse("generate", "--subscribers", "5") == 2
    assert "n_subscribers" in last_error(capsys)
