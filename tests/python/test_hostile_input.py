"""Hostile input (docs/privacy.md): every name, month, table and file a user gives the
CLI is validated or quoted. Injection strings end in one clear line (exit status 2) and
leave every table as it was."""

from __future__ import annotations

import re

import pytest

from .conftest import query

pytestmark = pytest.mark.e2e

HOSTILE = [
    "x'; drop table ml.model_scores; --",
    'x"; delete from raw.subscribers; --',
    "ml.model_scores; drop schema ml cascade",
    "客户'); drop table marts.composite_scores;--",
    "../../etc/passwd",
]


def _counts(warehouse) -> tuple:
    return query(
        warehouse,
        "select (select count(*) from ml.model_scores), (select count(*) from raw.subscribers),"
        " (select count(*) from marts.composite_scores), (select count(*) from ml.training_runs)",
    )[0]


def _commands(text: str, tmp_path) -> list[list[str]]:
    csv = tmp_path / "rows.csv"
    csv.write_text("subscriber_id,x\n1,2\n")
    return [
        ["train", "--model", text],
        ["score", "--model", text],
        ["score", "--month", text],
        ["export", "--model", text, "--output", str(tmp_path / "out.csv")],
        ["export", "--model", "churn_lgbm", "--month", text, "--output", str(tmp_path / "o.csv")],
        ["clean", "--model", text],
        ["rules", text],
        ["load", text, str(csv)],
        ["load", f"telco.{text}", str(csv)],
        ["load", "telco.subscribers", str(tmp_path / text.replace("/", "_"))],
        ["evaluate", "--model", "churn_lgbm", "--on", text],
        ["run", "--domain", text],
        ["report", "--domain", text, "--output", str(tmp_path / "r.html")],
        ["snapshot", "--domain", text],
        ["scaffold", text, "--from", str(csv), "--id", "subscriber_id", "--label", "x=2"],
        ["forget", text, "--file", str(tmp_path / "no-such-file.txt")],
    ]


@pytest.mark.parametrize("text", HOSTILE)
def test_injection_strings_are_refused_and_change_nothing(warehouse, capsys, tmp_path, text):
    before = _counts(warehouse)
    wrong = []
    for args in _commands(text, tmp_path):
        try:
            status = warehouse.scorehouse(*args)
        except SystemExit as exc:  # argparse refused it
            status = exc.code
        printed = capsys.readouterr().err.strip().splitlines()
        message = printed[-1] if printed else ""
        # one line from scorehouse, or from argparse for a malformed argument
        if (
            status != 2
            or not re.match(r"scorehouse( [\w-]+)?: error: ", message)
            or "Traceback" in "\n".join(printed)
            or len(message) > 400
        ):
            wrong.append((args[0], status, message))
    assert wrong == []
    assert _counts(warehouse) == before
