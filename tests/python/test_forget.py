"""The right to erasure (docs/privacy.md): `scorehouse forget` suppresses ids and deletes
their rows everywhere in one transaction; the next run does not bring them back."""

from __future__ import annotations

import re

import duckdb
import pytest

from .conftest import Built, id_hits, make_warehouse, query

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def forgotten(tmp_path_factory) -> tuple[Built, list[str], str]:
    """A small telco warehouse after a full run; four ids forgotten (two as arguments, two
    in a file, one of those never scored), then the monthly run again."""
    built = make_warehouse(tmp_path_factory.mktemp("forget")).monthly_run(3_000, 6)
    scored = [i for (i,) in query(built, "select distinct entity_id from ml.model_scores")]
    raw = [str(i) for (i,) in query(built, "select subscriber_id from raw.subscribers")]
    never_scored = sorted(set(raw) - set(scored))[0]
    ids = sorted(scored)[:3] + [never_scored]
    listed = built.root / "erase.txt"
    listed.write_text(f"{ids[2]}\n\n{ids[3]}\n{ids[0]}\n")  # a repeat, a blank line
    assert (
        built.scorehouse("forget", ids[0], ids[1], "--file", str(listed), "--reason", "T-42") == 0
    )
    built.cycle()  # features, scoring, marts, snapshot: the next month's run
    return built, ids, built.env["SCOREHOUSE_DUCKDB_PATH"]


def test_the_request_is_recorded_once_per_id(forgotten):
    built, ids, _ = forgotten
    rows = query(built, "select entity_id, reason, requested_by from ml.erasure_requests")
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {r[1] for r in rows} == {"T-42"} and all("@" in r[2] for r in rows)


def test_no_table_or_view_holds_a_forgotten_id(forgotten):
    built, ids, path = forgotten
    con = duckdb.connect(path, read_only=True)
    try:
        tables, columns, hits = id_hits(con, ids)
    finally:
        con.close()
    assert len(tables) > 40 and columns > 600  # raw, staging, features, ml, marts, ...
    assert hits == []


def test_files_of_the_run_hold_no_forgotten_id(forgotten):
    """The run logs (forget's own line names no id), dbt's logs, artifacts, the current
    snapshot and the report: no forgotten id."""
    built, ids, _ = forgotten
    logs = "\n".join(p.read_text() for p in (built.root / "logs").glob("scorehouse-forget-*"))
    assert "scorehouse forget started:" in logs and "<id>" in logs
    current = built.root / "snapshots" / "telco"
    snapshot = current / (current / "CURRENT").read_text().strip()
    places = [built.root / "logs", built.root / "artifacts", snapshot, built.root / "report.html"]
    files = [p for place in places for p in ([place] if place.is_file() else place.rglob("*"))]
    files = [p for p in files if p.is_file()]
    assert len(files) >= 15  # run logs, model files and metadata, snapshot files, report
    found = [str(p) for p in files for i in ids if i.encode() in p.read_bytes()]
    assert found == []


def test_forget_refuses_bad_ids_and_writes_nothing(forgotten, tmp_path, capsys):
    built, _, _ = forgotten
    before = query(built, "select count(*) from ml.erasure_requests")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("13800000000\n\xff\xfe".encode("latin-1"))
    for args, said in (
        ([], "forget needs ids"),
        (["--file", str(bad)], "not UTF-8"),
        (["1380000\x070000"], "control characters"),
        (["9" * 300], "300 characters long"),
    ):
        assert built.scorehouse("forget", *args) == 2
        assert said in capsys.readouterr().err
    assert query(built, "select count(*) from ml.erasure_requests") == before
    assert re.fullmatch(r"\d+", str(before[0][0]))


def test_every_command_on_customer_data_is_audited(forgotten):
    """ml.audit_log: the runs, the forget (its ids shown as <id>) and the refused forgets
    of the test above, each with its user, host and outcome (`generate` ran before dbt
    created the table: not recorded)."""
    built, ids, _ = forgotten
    rows = query(
        built,
        "select command, outcome, arguments, os_user, host, message from ml.audit_log "
        "order by started_at",
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("run", "ok"),
        ("forget", "ok"),
        ("run", "ok"),
        *[("forget", "error")] * 4,
    ]
    forget = next(r for r in rows if r[0] == "forget" and r[1] == "ok")
    assert forget[2].count("<id>") == 2 and not any(i in forget[2] for i in ids)
    assert all(r[3] and r[4] for r in rows)
    refused = [r for r in rows if r[1] == "error"]
    assert len(refused) == 4 and all(r[5] for r in refused)


def test_the_next_month_neither_retrained_nor_rebuilt_feature_iv(forgotten):
    built, _, _ = forgotten
    assert "not retrained" in built.stage_logs["train"]
    assert "feature_iv" not in built.stage_logs["train"] + built.stage_logs["features"]
