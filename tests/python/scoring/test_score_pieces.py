"""Piece scoring: pieces partition the population, a killed run leaves the previous slice
and resumes, and a slice held by a live run is refused."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from python_scoring.warehouse._duckdb import DuckDBWarehouse

from ..conftest import query, query_frame

SCOREHOUSE = Path(sys.executable).parent / "scorehouse"
IDS = ["1000", "1001", "20009", "7", "ab-3", "X", "", "12a", "ä", "  5", "0000", "99 "]


@pytest.mark.parametrize("by", ["last_digit", "hash"])
@pytest.mark.parametrize("pieces", [1, 3, 7, 10])
def test_pieces_cover_every_id_exactly_once(by, pieces):
    wh = DuckDBWarehouse({"type": "duckdb", "path": ":memory:"})
    wh.con.execute("create table ids (id varchar)")
    wh.con.executemany("insert into ids values (?)", [[i] for i in IDS])
    expr = wh.piece_expression("id", by)
    seen = []
    for piece in range(pieces):
        seen += [
            r[0]
            for r in wh.con.execute(
                f"select id from ids where {expr} % {pieces} = {piece}"
            ).fetchall()
        ]
    assert sorted(seen) == sorted(IDS)
    if by == "last_digit" and pieces == 10:
        pieces_of = dict(wh.con.execute(f"select id, {expr} % 10 from ids").fetchall())
        assert [pieces_of[i] for i in ("1000", "1001", "20009", "7", "ab-3", "  5")] == [
            0,
            1,
            9,
            7,
            3,
            5,
        ]
    # integer ids work too (cast to text first)
    wh.con.execute("create table int_ids as select range as id from range(1000)")
    counts = wh.con.execute(
        f"select {expr} % {pieces} as p, count(*) from int_ids group by p"
    ).fetchall()
    assert sum(n for _, n in counts) == 1000 and len(counts) == pieces


def run_cli(warehouse, *args, env_extra=None):
    return subprocess.run(
        [str(SCOREHOUSE), *warehouse.cli_args, *args],
        env={**warehouse.env, **(env_extra or {})},
        capture_output=True,
        text=True,
    )


SLICE = "select entity_id, score, reason_1 from ml.model_scores where model_name = 'churn_lgbm'"


@pytest.mark.e2e
def test_killed_run_keeps_previous_slice_and_rerun_completes(warehouse):
    before = {r[0]: r[1:] for r in query(warehouse, SLICE)}
    ((month,),) = query(warehouse, "select max(score_month) from ml.model_scores")
    staging = f"model_scores__churn_lgbm__{month:%Y%m}"
    killed = run_cli(
        warehouse,
        "score",
        "--model",
        "churn_lgbm",
        "--pieces",
        "4",
        env_extra={"SCOREHOUSE_KILL_AFTER_PIECES": "2"},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert {r[0]: r[1:] for r in query(warehouse, SLICE)} == before  # previous slice intact
    staged = query(
        warehouse, "select distinct piece from ml.model_scores__churn_lgbm__202510 order by 1"
    )
    assert staged == [(0,), (1,)]
    assert len(query(warehouse, "select * from ml.scoring_locks")) == 1  # left by the dead run

    rerun = run_cli(warehouse, "score", "--model", "churn_lgbm", "--pieces", "4")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "taking over the lock" in rerun.stderr and "resuming: pieces 0, 1" in rerun.stderr
    after = {r[0]: r[1:] for r in query(warehouse, SLICE)}
    assert after.keys() == before.keys()  # one row per id, nobody lost or doubled
    assert max(abs(after[e][0] - before[e][0]) for e in before) < 1e-12
    assert all(after[e][1] == before[e][1] for e in before)
    ((dupes,),) = query(
        warehouse,
        "select count(*) - count(distinct entity_id) from ml.model_scores "
        "where model_name = 'churn_lgbm'",
    )
    assert dupes == 0
    tables = {r[0] for r in query(warehouse, "select table_name from information_schema.tables")}
    assert staging not in tables
    assert query(warehouse, "select * from ml.scoring_locks") == []


@pytest.mark.e2e
def test_pieces_staged_before_the_input_changed_are_dropped(warehouse):
    killed = run_cli(
        warehouse,
        "score",
        "--model",
        "data_addon_scorecard",
        "--pieces",
        "3",
        env_extra={"SCOREHOUSE_KILL_AFTER_PIECES": "1"},
    )
    assert killed.returncode == -9
    with duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        # rebuilt before the rerun: 7 ids of the staged piece 0 replaced by new ones (same
        # row count, same piece)
        con.execute(
            "update ml.data_addon_scoring_input set subscriber_id = subscriber_id + 1000000000 "
            "where subscriber_id in (select subscriber_id from ml.data_addon_scoring_input "
            "where subscriber_id % 10 = 0 limit 7)"
        )
    try:
        # the input's fingerprint differs from the one recorded with the staged piece:
        # the rerun starts over instead of resuming
        rerun = run_cli(warehouse, "score", "--model", "data_addon_scorecard", "--pieces", "3")
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert "resuming" not in rerun.stderr
        assert "the scoring input changed since they were written" in rerun.stderr
        assert "starting over (pieces 0 dropped)" in rerun.stderr
        ((scored, inputs, matched),) = query(
            warehouse,
            "select (select count(*) from ml.model_scores where model_name = "
            "'data_addon_scorecard'), (select count(*) from ml.data_addon_scoring_input), "
            "(select count(*) from ml.model_scores as s join ml.data_addon_scoring_input as i "
            "on s.entity_id = cast(i.subscriber_id as varchar) "
            "where s.model_name = 'data_addon_scorecard')",
        )
        assert scored == inputs == matched  # the 7 new ids scored, none of the old ones
        tables = {
            r[0] for r in query(warehouse, "select table_name from information_schema.tables")
        }
        assert not any("data_addon_scorecard" in t for t in tables), tables
    finally:
        warehouse.dbt("build", "--select", "data_addon_scoring_input", "--quiet")
        assert run_cli(warehouse, "-q", "score", "--model", "data_addon_scorecard").returncode == 0


@pytest.mark.e2e
def test_slice_held_by_a_live_run_is_refused(warehouse):
    holder = subprocess.Popen(["sleep", "60"])
    try:
        ((month,),) = query(warehouse, "select max(score_month) from ml.model_scores")
        con = duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"])
        con.execute(
            "insert into ml.scoring_locks values ('churn_lgbm', ?, 'other-run', ?, ?, now())",
            [month, socket.gethostname(), holder.pid],
        )
        con.close()
        before = query(warehouse, "select count(*), sum(score) from ml.model_scores")
        result = run_cli(warehouse, "-q", "score", "--model", "churn_lgbm")
        assert result.returncode == 2
        assert f"is being scored by run other-run (pid {holder.pid}" in result.stderr
        assert query(warehouse, "select count(*), sum(score) from ml.model_scores") == before
    finally:
        holder.kill()
        con = duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"])
        con.execute("delete from ml.scoring_locks where run_id = 'other-run'")
        con.close()


@pytest.mark.e2e
def test_progress_lines_per_piece(warehouse):
    result = run_cli(warehouse, "score", "--model", "data_addon_scorecard", "--pieces", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if "piece" in line and "rows/s" in line]
    assert len(lines) == 3 and "piece 3/3" in lines[-1] and "ETA" in lines[0]
    logs = sorted((warehouse.root / "logs").glob("scorehouse-score-*.jsonl"))
    assert any(
        "piece 3/3" in json.loads(line)["message"] for line in logs[-1].read_text().splitlines()
    )


@pytest.mark.e2e
def test_top_reason_changes_when_that_feature_is_perturbed(warehouse):
    """Give each customer the value of its top-reason feature that the lowest-scored
    customers have: that feature should stop being the top reason."""
    from python_scoring import artifacts
    from python_scoring.features.compiled import Predictor
    from python_scoring.features.pipeline import feature_names
    from python_scoring.features.reasons import attribution_for
    from python_scoring.scoring.task import ScoringModel, scored_table

    ((version, digest),) = query(
        warehouse,
        "select model_version, artifact_sha256 from ml.training_runs "
        "where model_name = 'churn_lgbm'",
    )
    artifact, pipeline = artifacts.load(warehouse.root / "artifacts", "churn_lgbm", version, digest)
    features = artifact.metadata["features"]
    con = duckdb.connect(warehouse.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    population = con.execute("select * from ml.churn_scoring_input").df()
    con.close()
    model = pipeline.named_steps["model"]
    scoring = ScoringModel(
        features,
        "subscriber_id",
        pipeline,
        Predictor(model),
        attribution_for(model),
        feature_names(pipeline),
        3,
    )
    constants = {"model_name": "churn_lgbm"}
    scored = scored_table(population, scoring, constants).to_pandas()
    assert set(scored["reason_1"].dropna()) <= set(artifact.metadata["model_features"])
    low = population.loc[scored["score"].nsmallest(500).index]
    risky = scored[scored["reason_1"].isin(features)].nlargest(300, "score")
    changed = 0
    for row, reason in zip(risky.index, risky["reason_1"], strict=True):
        perturbed = population.loc[[row]].copy()
        typical = low[reason]
        numeric = pd.api.types.is_numeric_dtype(typical) and not pd.api.types.is_bool_dtype(typical)
        perturbed[reason] = typical.median() if numeric else typical.mode().iloc[0]
        after = scored_table(perturbed, scoring, constants).to_pandas()
        changed += after["reason_1"].iloc[0] != reason
    assert len(risky) >= 100
    assert changed / len(risky) > 0.8, f"top reason unchanged for {len(risky) - changed} rows"


def test_append_all_is_one_transaction():
    """Training records its metrics, baseline and run row with append_all: a failure on
    the last table leaves the first ones unchanged."""
    import pyarrow as pa

    from python_scoring.errors import ScorehouseError
    from python_scoring.project import Relation

    wh = DuckDBWarehouse({"type": "duckdb", "path": ":memory:"})
    wh.con.execute("create table metrics (run_id varchar, value double)")
    wh.con.execute("create table runs (run_id varchar, finished_at timestamp)")
    metrics = Relation(None, "main", "metrics")
    runs = Relation(None, "main", "runs")
    with pytest.raises(ScorehouseError, match="nothing was written"):
        wh.append_all(
            [
                (metrics, pa.table({"run_id": ["r1"], "value": [0.8]})),
                (runs, pa.table({"run_id": ["r1"], "finished_at": ["not a time"]})),
            ]
        )
    assert wh.con.execute("select count(*) from metrics").fetchall() == [(0,)]
    wh.append_all([(metrics, pa.table({"run_id": ["r2"], "value": [0.7]}))])
    assert wh.con.execute("select run_id from metrics").fetchall() == [("r2",)]


_DERIVED = re.compile(r"^(.+)__(plus|minus|times|per)__(.+)$")
_OPERATIONS = {
    "plus": lambda a, b: a + b,
    "minus": lambda a, b: a - b,
    "times": lambda a, b: a * b,
    "per": lambda a, b: a / b if b else None,
}


def _expected_value(row: pd.Series, feature: str):
    """The value a reason on `feature` shows for this input row: the input column's, or a
    derived feature's a+b, a-b, a*b, a/b."""
    derived = _DERIVED.match(feature)
    if derived is None:
        value = row[feature]
        return None if pd.isna(value) else value
    a, op, b = row[derived[1]], derived[2], row[derived[3]]
    if pd.isna(a) or pd.isna(b):
        return None
    return _OPERATIONS[op](float(a), float(b))


@pytest.mark.e2e
@pytest.mark.parametrize("model", ["churn_lgbm", "package_upsell_rf", "data_addon_scorecard"])
def test_reason_values_are_the_scoring_inputs_values(warehouse, model):
    """ml.model_scores' reason values are the scoring input's values of those features for
    those ids (a derived feature's computed value); contributions positive, largest
    first, null exactly where the reason is."""
    from python_scoring.registry import load_registry

    project = warehouse.project()
    spec = load_registry(project)[model]
    scoring_input = project.model(spec.scoring_input)
    scores = query_frame(
        warehouse, f"select * from ml.model_scores where model_name = '{model}'"
    ).set_index("entity_id")
    population = query_frame(warehouse, f"select * from {scoring_input.sql}")
    population = population.set_index(population[spec.entity_id].astype(str))
    k_range = range(1, spec.n_reasons + 1)
    pushes = scores[[f"reason_{k}_contribution" for k in k_range]].to_numpy(dtype="float64")
    names = scores[[f"reason_{k}" for k in k_range]]
    assert (np.isnan(pushes) == names.isna().to_numpy()).all()  # null together
    assert (pushes[~np.isnan(pushes)] > 0).all()
    filled = np.where(np.isnan(pushes), -1.0, pushes)  # no reason: below every push
    assert (np.diff(filled, axis=1) <= 0).all()  # largest first
    assert scores["reason_1"].notna().mean() > 0.5

    checked = 0
    for k in k_range:
        with_reason = scores[scores[f"reason_{k}"].notna()]
        sample = with_reason.sample(min(40, len(with_reason)), random_state=k)
        for entity, line in sample.iterrows():
            feature, value = line[f"reason_{k}"], line[f"reason_{k}_value"]
            expected = _expected_value(population.loc[entity], feature)
            if expected is None:
                assert pd.isna(value), (entity, feature, value)
            elif isinstance(expected, bool | np.bool_):
                assert value in (("true", "1") if expected else ("false", "0")), (entity, value)
            elif isinstance(expected, str):
                assert value == expected, (entity, feature, value)
            else:
                assert float(value) == pytest.approx(float(expected), rel=1e-9), (entity, feature)
            checked += 1
    assert checked >= 40
