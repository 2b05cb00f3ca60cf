"""The request spool into ml.online_requests (serving/ingest.py) on a real DuckDB warehouse
whose ml tables the dbt hook created: every row once with its values, a rerun adds none,
torn and bad lines skipped and counted, live writers' and other hosts' files left alone;
then score_online_vs_batch: the PSI of the online scores against the batch month's equals
numpy's on the same rows (1e-9), with its ok/warn/error band, on DuckDB, PostgreSQL and
Spark, and the report's online figure."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from python_scoring.serving.ingest import IngestResult, ingest_requests
from python_scoring.serving.spool import INGESTED, Spool, encode, host_name
from python_scoring.warehouse import Warehouse

from ..conftest import REPO, Built, make_warehouse, normalised, query, query_frame
from ..report.checks import read_report

TOL = 1e-9
EPSILON = 1e-4  # binning.sql's floor of an empty bin's share
NOVEMBER = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """A new DuckDB warehouse: the hook's ml tables and the mart, built empty."""
    built = make_warehouse(tmp_path_factory.mktemp("ingest"))
    built.dbt("build", "--select", "score_online_vs_batch", "--quiet")
    return built


@pytest.fixture
def connect(built, monkeypatch):
    """Open the warehouse in this process (as the CLI would); ml.online_requests emptied."""
    for key, value in built.env.items():
        monkeypatch.setenv(key, value)

    @contextlib.contextmanager
    def opened():
        project = built.project()
        with Warehouse.connect(project) as wh:
            yield project, wh

    with opened() as (_, wh):
        wh.execute("delete from ml.online_requests")
    return opened


def _request(i: int, rows: list[dict] | None = None, **fields) -> dict:
    return {
        "request_id": f"{i:032x}",
        "received_at": "2026-11-26T08:01:02.123456Z",
        "endpoint": "score",
        "model_name": "churn_lgbm",
        "model_version": "v1",
        "status": 200,
        "latency_ms": 1.5,
        "error": None,
        "rows": [{"entity_id": str(i), "score": 0.25, "features": {"tenure": i}}]
        if rows is None
        else rows,
        **fields,
    }


def _stored(wh: Warehouse) -> list[dict]:
    return wh.query_arrow(
        "select * from ml.online_requests order by request_id, row_index"
    ).to_pylist()


def test_every_row_is_loaded_once_with_its_values(tmp_path, connect):
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    features = {"tenure": 3, "plan": "Fibre 中文", "nested": {"a": [1, None]}, "x": "</script>"}
    records = [
        _request(
            1,
            [
                {"entity_id": "101", "score": 0.125, "features": features},
                {"entity_id": None, "score": 0.5, "features": {"tenure": 4}},
                {"entity_id": "103", "score": 1, "features": {}},
            ],
        ),
        _request(
            2,
            [{"entity_id": "7", "score": 0.75, "features": None}, {"entity_id": 8, "score": 0.0}],
            endpoint="score-by-id",
            received_at="2026-12-01T01:30:00+02:00",  # 23:30 UTC on 30 November
        ),
        _request(
            3,
            [{"entity_id": "42"}],
            endpoint="customer",
            model_name=None,
            model_version=None,
            received_at="2026-10-31T23:59:59Z",
        ),
        _request(4, [], status=422, error="rows.0.tenure: not a number", model_version=None),
        _request(5, [], status=404, model_name="nope", model_version=None, latency_ms=None),
        _request(6, [{"entity_id": "9", "score": float("nan"), "features": {"f": 1}}]),
    ]
    for record in records:
        spool.write(record)
    spool.close()
    (written,) = spool_dir.iterdir()
    with connect() as (project, wh):
        result = ingest_requests(project, wh, spool_dir)
        rows = _stored(wh)
    assert result == IngestResult(files=1, lines=6, rows=9, bad_lines=0)
    assert len(rows) == 9
    assert sorted(p.name for p in spool_dir.iterdir()) == [INGESTED]
    assert [p.name for p in (spool_dir / INGESTED).iterdir()] == [written.name]
    assert {r["spool_file"] for r in rows} == {written.name}
    assert len({r["ingested_at"] for r in rows}) == 1
    first = rows[0]
    assert first["received_at"] == dt.datetime(2026, 11, 26, 8, 1, 2, 123456)
    assert first["request_month"] == NOVEMBER
    assert (first["endpoint"], first["status"], first["latency_ms"]) == ("score", 200, 1.5)
    assert [r["row_index"] for r in rows[:3]] == [0, 1, 2]
    assert [r["entity_id"] for r in rows[:3]] == ["101", None, "103"]
    assert [r["score"] for r in rows[:3]] == [0.125, 0.5, 1.0]
    assert json.loads(first["features"]) == features
    assert rows[2]["features"] == "{}"
    by_id = rows[3:5]
    assert by_id[0]["received_at"] == dt.datetime(2026, 11, 30, 23, 30)
    assert by_id[0]["request_month"] == NOVEMBER
    assert [r["entity_id"] for r in by_id] == ["7", "8"]
    assert [r["features"] for r in by_id] == [None, None]
    customer = rows[5]
    assert customer["request_month"] == dt.date(2026, 10, 1)
    assert (customer["entity_id"], customer["score"], customer["model_name"]) == ("42", None, None)
    for row, status in zip(rows[6:8], (422, 404), strict=True):  # no rows: one row each
        assert row["status"] == status and row["row_index"] is None and row["score"] is None
    assert rows[6]["error"] == "rows.0.tenure: not a number"
    assert rows[7]["latency_ms"] is None
    assert rows[8]["request_id"] == f"{6:032x}" and rows[8]["score"] is None  # NaN -> null

    # a crash after the commit, before the move: the file is ingested again, same rows
    shutil.copy(spool_dir / INGESTED / written.name, spool_dir / written.name)
    with connect() as (project, wh):
        assert ingest_requests(project, wh, spool_dir) == result
        again = _stored(wh)
        assert ingest_requests(project, wh, spool_dir) == IngestResult(0, 0, 0, 0)
    assert len(again) == 9
    drop = ("ingested_at",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in again] == [
        {k: v for k, v in r.items() if k not in drop} for r in rows
    ]


_KILLED = """
import os, sys
from pathlib import Path
from python_scoring.serving.spool import Spool

spool = Spool(Path(sys.argv[1]))
for i in range(3):
    spool.write({"request_id": f"dead{i}", "received_at": "2026-11-02T00:00:00Z",
                 "status": 200, "rows": [{"entity_id": str(i), "score": 0.5}]})
os.kill(os.getpid(), 9)
"""


def test_torn_and_bad_lines_are_skipped_and_live_or_foreign_files_left(tmp_path, connect, caplog):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    here, me = host_name(), os.getpid()
    # a closed file: 2 good lines, 3 bad ones, and a torn last line (no newline)
    closed = spool_dir / f"{here}-{me}-20261126T080000000001Z.jsonl"
    closed.write_bytes(
        encode(_request(1))
        + b"not json\n"
        + encode(_request(2))
        + b'{"request_id": "x", "status": 200}\n'  # no received_at
        + b"[1, 2]\n"
        + encode(_request(3))[:40]
    )
    # a writer killed with SIGKILL: its file stays .open, its pid is gone
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, str(spool_dir)], cwd=REPO, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (dead,) = spool_dir.glob("*.jsonl.open")
    # this process's pid on a file opened long before it started: a reused pid
    reused = spool_dir / f"{here}-{me}-20200101T000000000000Z.jsonl.open"
    reused.write_bytes(encode(_request(4)))
    # a live writer (this process), another host's open file, a file that is no spool's
    live = Spool(spool_dir)
    live.write(_request(5))
    live.write(_request(6))
    foreign = spool_dir / f"elsewhere-{me}-20261126T080000000002Z.jsonl.open"
    foreign.write_bytes(encode(_request(7)))
    (spool_dir / "notes.txt").write_text("not a spool file\n")

    with caplog.at_level(logging.WARNING), connect() as (project, wh):
        result = ingest_requests(project, wh, spool_dir)
        ids = {r["request_id"] for r in _stored(wh)}
    assert result == IngestResult(files=3, lines=6, rows=6, bad_lines=4)
    assert ids == {f"{i:032x}" for i in (1, 2, 4)} | {"dead0", "dead1", "dead2"}
    for line in (2, 4, 5):
        assert f"{closed.name}:{line} skipped" in caplog.text
    assert f"{closed.name}:6 skipped: torn last line" in caplog.text
    assert "left open by pid" in caplog.text
    moved = sorted(p.name for p in (spool_dir / INGESTED).iterdir())
    dead_closed = dead.name.removesuffix(".open")
    assert moved == sorted([closed.name, dead_closed, reused.name.removesuffix(".open")])
    # the torn bytes are kept in the moved file, not lost
    assert (spool_dir / INGESTED / closed.name).read_bytes().endswith(encode(_request(3))[:40])
    left = sorted(p.name for p in spool_dir.iterdir() if p.is_file())
    assert left == sorted([live.path.name, foreign.name, "notes.txt"])

    live.close()  # the writer closes its file: the next ingestion takes it
    with connect() as (project, wh):
        assert ingest_requests(project, wh, spool_dir) == IngestResult(1, 2, 2, 0)


def test_a_missing_or_empty_spool_directory_loads_nothing(tmp_path, connect, caplog):
    with caplog.at_level(logging.INFO), connect() as (project, wh):
        assert ingest_requests(project, wh, tmp_path / "missing") == IngestResult(0, 0, 0, 0)
        (tmp_path / "empty").mkdir()
        assert ingest_requests(project, wh, tmp_path / "empty") == IngestResult(0, 0, 0, 0)
    assert "no finished spool file in" in caplog.text
    assert not (tmp_path / "missing").exists()


# ---- score_online_vs_batch --------------------------------------------------------------


def numpy_psi(batch: np.ndarray, online: np.ndarray, bins: int = 10) -> float:
    """PSI as binning.sql defines it, in numpy: cuts at the batch's linear quantiles
    1/bins .. (bins-1)/bins strictly inside its range, right-closed bins, empty shares
    floored at EPSILON (no nulls here: the null bin adds 0)."""
    cuts = np.quantile(batch, np.arange(1, bins) / bins)
    cuts = np.unique(cuts[(cuts > batch.min()) & (cuts < batch.max())])

    def shares(values: np.ndarray) -> np.ndarray:
        counts = np.bincount(np.searchsorted(cuts, values, side="left"), minlength=cuts.size + 1)
        return np.where(counts == 0, EPSILON, counts / values.size)

    b, o = shares(batch), shares(online)
    return float(np.sum((o - b) * np.log(o / b)))


def _band(psi: float) -> str:
    return "error" if psi > 0.25 else "warn" if psi > 0.1 else "ok"


# (model, version, score month) -> batch scores; (model, version, request month) -> online
rng = np.random.default_rng(20261126)
BATCH = {
    ("churn_lgbm", "v1", dt.date(2026, 9, 1)): rng.beta(5, 2, 2000),  # an older month
    ("churn_lgbm", "v1", dt.date(2026, 10, 1)): rng.beta(2, 5, 3000),  # the one compared
    ("churn_lgbm", "v1", dt.date(2026, 12, 1)): rng.beta(5, 5, 1000),  # after November
    ("churn_lgbm", "v0", dt.date(2026, 10, 1)): rng.beta(9, 1, 1000),  # another version
    ("package_upsell_rf", "v1", dt.date(2026, 10, 1)): rng.beta(2, 5, 3000),
    ("data_addon_scorecard", "v1", dt.date(2026, 10, 1)): rng.beta(2, 5, 3000),
}
ONLINE = {
    ("churn_lgbm", "v1", dt.date(2026, 8, 1)): rng.beta(2, 5, 50),  # before any batch: n/a
    ("churn_lgbm", "v1", dt.date(2026, 10, 1)): rng.beta(2, 5, 300),  # batch month itself
    ("churn_lgbm", "v1", NOVEMBER): rng.beta(2, 5, 600),  # ok
    ("churn_lgbm", "v9", NOVEMBER): rng.beta(2, 5, 40),  # a version never batch-scored: n/a
    ("package_upsell_rf", "v1", NOVEMBER): rng.beta(2.8, 5, 600),  # warn
    ("data_addon_scorecard", "v1", NOVEMBER): rng.beta(4, 5, 600),  # error
}


def _expected() -> dict[tuple, dict]:
    out = {}
    for (model, version, month), online in ONLINE.items():
        earlier = [m for (n, v, m) in BATCH if (n, v) == (model, version) and m <= month]
        batch_month = max(earlier) if earlier else None
        batch = BATCH.get((model, version, batch_month))
        psi = None if batch is None else numpy_psi(batch, online)
        out[(model, version, month)] = {
            "online_rows": online.size,
            "batch_month": batch_month,
            "batch_rows": None if batch is None else batch.size,
            "psi_vs_batch": psi,
            "status_vs_batch": "n/a" if psi is None else _band(psi),
        }
    return out


def _write_requests(spool_dir: Path) -> int:
    """ONLINE as the service logs it (up to 25 rows a request, small files), plus requests
    that must not count: errors, a customer lookup, a row without a score. Returns the
    number of requests."""
    spool = Spool(spool_dir, max_bytes=100_000)
    n = 0
    for (model, version, month), scores in ONLINE.items():
        for start in range(0, scores.size, 25):
            chunk = scores[start : start + 25]
            rows = [
                {"entity_id": f"{start + j}", "score": float(s), "features": {"x": j}}
                for j, s in enumerate(chunk)
            ]
            at = dt.datetime.combine(month, dt.time(12)) + dt.timedelta(seconds=n)
            stamp = at.isoformat() + ".000001Z"
            spool.write(
                _request(n, rows, model_name=model, model_version=version, received_at=stamp)
            )
            n += 1
    noise = [
        _request(n, [], status=422, error="bad rows"),
        _request(n + 1, [{"entity_id": "1", "score": 0.99}], status=500, error="boom"),
        _request(n + 2, [{"entity_id": "1"}], endpoint="customer", model_version=None),
        _request(n + 3, [{"entity_id": "2", "score": None, "features": {"x": 1}}]),
    ]
    for record in noise:
        spool.write({**record, "received_at": "2026-11-03T00:00:00Z"})
    spool.close()
    return n + len(noise)


_LOAD = """
import json, sys
from pathlib import Path
import pyarrow.parquet as pq
from python_scoring import contract
from python_scoring.project import Project
from python_scoring.serving.ingest import ingest_requests
from python_scoring.warehouse import Warehouse

root, spool, scores = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
project = Project(Path.cwd(), root, None, root / "target")
with Warehouse.connect(project) as wh:
    rows = pq.read_table(scores).to_pylist()
    wh.append(project.source("ml", "model_scores"), contract.table("model_scores", rows))
    result = ingest_requests(project, wh, spool)
print(json.dumps(result.__dict__))
"""


def check_online_vs_batch(built: Built, tmp_path: Path) -> pd.DataFrame:
    """The batch scores into ml.model_scores and the logged requests ingested (in a child
    process: Spark's JVM stays out of the test process), then `dbt build` of the mart:
    every (model, version, month) with numpy's PSI and its band; the psi_bands test warns
    on November's error. Returns the mart."""
    if built.env["SCOREHOUSE_TARGET"] != "spark_local":  # (no parquet file to read there)
        assert query(built, f"select count(*) from {_mart(built)}")[0][0] == 0  # built empty
    spool_dir = tmp_path / "spool"
    requests = _write_requests(spool_dir)
    scores = pa.table(
        {
            "model_name": [k[0] for k, v in BATCH.items() for _ in v],
            "model_version": [k[1] for k, v in BATCH.items() for _ in v],
            "score_month": [k[2] for k, v in BATCH.items() for _ in v],
            "entity_id": [str(i) for v in BATCH.values() for i in range(v.size)],
            "score": np.concatenate(list(BATCH.values())),
        }
    )
    pq.write_table(scores, tmp_path / "scores.parquet")
    arguments = [str(built.root), str(spool_dir), str(tmp_path / "scores.parquet")]
    loaded = built.run_script(_LOAD, *arguments)
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    online_rows = sum(v.size for v in ONLINE.values())
    assert result["lines"] == requests and result["bad_lines"] == 0
    assert result["rows"] == online_rows + 4 and result["files"] > 1
    assert not list(spool_dir.glob("*.jsonl*"))

    build = built.dbt("build", "--select", "score_online_vs_batch", check=False)
    # November's worst PSI is in the error band: the psi_bands test warns (severity warn:
    # online callers are a chosen few, their skew never stops the monthly run)
    assert build.returncode == 0, build.stdout[-3000:]
    assert re.search(r"WARN \d+ psi_bands_score_online_vs_batch_psi_vs_batch", build.stdout)
    mart = normalised(query_frame(built, f"select * from {_mart(built)}"))
    expected = _expected()
    assert len(mart) == len(expected)
    for row in mart.to_dict("records"):
        key = (row["model_name"], row["model_version"], row["request_month"].date())
        want = expected[key]
        assert row["online_rows"] == want["online_rows"], key
        assert row["status_vs_batch"] == want["status_vs_batch"], key
        assert row["online_mean_score"] == pytest.approx(ONLINE[key].mean(), abs=TOL)
        if want["psi_vs_batch"] is None:
            assert pd.isna(row["psi_vs_batch"]) and pd.isna(row["batch_month"]), key
            assert pd.isna(row["batch_rows"]), key
            continue
        assert row["batch_month"].date() == want["batch_month"], key
        assert row["batch_rows"] == want["batch_rows"], key
        assert row["psi_vs_batch"] == pytest.approx(want["psi_vs_batch"], abs=TOL), key
    november = {k[:2]: v["status_vs_batch"] for k, v in expected.items() if k[2] == NOVEMBER}
    assert november == {  # the data cover every band
        ("churn_lgbm", "v1"): "ok",
        ("churn_lgbm", "v9"): "n/a",
        ("package_upsell_rf", "v1"): "warn",
        ("data_addon_scorecard", "v1"): "error",
    }
    return mart


def _mart(built: Built) -> str:
    return built.project().model("score_online_vs_batch").sql


def test_online_vs_batch_psi_equals_numpy_and_the_report_shows_it(built, tmp_path):
    _empty_tables(built)
    mart = check_online_vs_batch(built, tmp_path)
    # the report's monitoring section: one online figure per model, its numbers the mart's
    output = tmp_path / "report.html"
    assert built.scorehouse("report", "--output", str(output)) == 0
    report = read_report(output)
    assert "monitoring" in report.sections
    for model in ("churn_lgbm", "package_upsell_rf", "data_addon_scorecard"):
        assert f"online-{model}" in report.figures
        shown = report.tables[f"online-{model}"]
        rows = mart[mart["model_name"] == model]
        assert len(shown) == len(rows)
        for cell in shown:
            match = rows[
                (rows["request_month"].dt.strftime("%Y-%m-%d") == cell["request month"])
                & (rows["model_version"] == cell["version"])
            ]
            (psi,) = match["psi_vs_batch"]
            assert cell["status"] == match["status_vs_batch"].iloc[0]
            if pd.isna(psi):
                assert cell["PSI vs batch"] == ""  # null: an empty cell
            else:
                assert float(cell["PSI vs batch"]) == pytest.approx(psi, abs=1e-12)
    assert report.charts.count("psi-online") == 3


def _empty_tables(built: Built) -> None:
    """ml.online_requests and ml.model_scores emptied (the module's warehouse is shared)."""
    import duckdb

    with duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        con.execute("delete from ml.online_requests")
        con.execute("delete from ml.model_scores")


@pytest.mark.postgres
def test_online_vs_batch_on_postgres(tmp_path, postgres_server):
    from ..conftest import postgres_database

    env = postgres_database(postgres_server, "serving")
    built = make_warehouse(tmp_path / "pg", "postgres", **env)
    built.dbt("build", "--select", "score_online_vs_batch", "--quiet")
    check_online_vs_batch(built, tmp_path)


@pytest.mark.spark
def test_online_vs_batch_on_spark(tmp_path):
    """ml.online_requests partitioned by spool_file: each file's rows a partition
    overwrite (not run by the author: the Spark suite runs it)."""
    built = make_warehouse(tmp_path / "spark", "spark_local")
    with built.hosted():  # the three steps in one JVM
        built.dbt("build", "--select", "score_online_vs_batch", "--quiet")
        check_online_vs_batch(built, tmp_path)
