"""The whole DuckDB path on a small generated warehouse: dbt build, train, score, marts."""

from __future__ import annotations

import json

import duckdb
import pytest

from python_scoring import artifacts

pytestmark = pytest.mark.e2e


def query(built, sql: str) -> list[tuple]:
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_dbt_build_runs_every_model_test_and_unit_test(warehouse):
    log = warehouse.build_log
    assert "churn_label_is_next_month_deactivation" in log
    assert "ERROR=0" in log and "WARN=0" in log
    assert "ERROR=0" in warehouse.marts_log


def test_layers_are_populated_and_consistent(warehouse):
    ((wide,),) = query(warehouse, "select count(*) from features.subscriber_month_wide")
    ((target,),) = query(warehouse, "select count(*) from targets.target_churn")
    ((months,),) = query(
        warehouse, "select count(distinct month) from features.subscriber_month_wide"
    )
    assert months == 10
    # every wide row has a label except the last month's (label not matured yet)
    ((last_month_rows,),) = query(
        warehouse,
        "select count(*) from features.subscriber_month_wide "
        "where month = (select max(month) from features.subscriber_month_wide)",
    )
    assert target == wide - last_month_rows
    ((rate,),) = query(warehouse, "select avg(churned) from targets.target_churn")
    assert 0.01 < rate < 0.06


def test_split_is_stable_by_subscriber(warehouse):
    # no subscriber is in both the in-time train and test sets
    ((overlap,),) = query(
        warehouse,
        "select count(*) from (select subscriber_id from ml.churn_training_set "
        "where split in ('train', 'test') group by subscriber_id "
        "having count(distinct split) > 1)",
    )
    assert overlap == 0
    ((test_share,),) = query(
        warehouse,
        "select avg(case when split = 'test' then 1.0 else 0 end) "
        "from ml.churn_training_set where split <> 'oot'",
    )
    assert 0.27 < test_share < 0.33


def test_training_reaches_the_planted_signal(warehouse):
    rows = query(
        warehouse,
        "select auc_oot, ks_oot, auc_test, rows_oot, artifact_sha256, "
        "model_version from ml.training_runs",
    )
    assert len(rows) == 1
    auc_oot, ks_oot, auc_test, rows_oot, sha, version = rows[0]
    assert auc_oot >= 0.75, f"out-of-time AUC {auc_oot:.4f} below the floor"
    assert auc_oot < 0.99, "AUC near 1.0: the generator leaks the label"
    assert ks_oot > 0.3 and auc_test >= 0.75
    assert rows_oot > 10_000
    meta = json.loads(
        (warehouse.root / "artifacts" / "churn_lgbm" / version / "metadata.json").read_text()
    )
    assert meta["sha256"] == sha
    assert "churned" not in meta["features"] and "subscriber_id" not in meta["features"]


def test_scores_have_one_row_per_subscriber_and_month(warehouse):
    assert warehouse.scorehouse("score") == 0  # second run of the same month replaces it
    ((rows, distinct, months),) = query(
        warehouse,
        "select count(*), count(distinct entity_id), count(distinct score_month) "
        "from ml.model_scores where model_name = 'churn_lgbm'",
    )
    ((population,),) = query(warehouse, "select count(*) from ml.churn_scoring_input")
    assert rows == distinct == population and months == 1
    ((bad,),) = query(
        warehouse,
        "select count(*) from ml.model_scores where score < 0 or score > 1 or score is null",
    )
    assert bad == 0
    # reasons are feature names of the artifact, most positive first, never repeated
    reasons = query(
        warehouse,
        "select reason_1, reason_2, reason_3 from ml.model_scores "
        "where reason_1 is not null limit 500",
    )
    assert len(reasons) == 500
    for r1, r2, r3 in reasons:
        assert r1 != r2 and (r3 is None or r3 not in (r1, r2))


def test_composite_equals_single_model_score_and_deciles_are_balanced(warehouse):
    warehouse.dbt("build", "--selector", "monthly_marts", "--quiet")
    ((max_diff, n),) = query(
        warehouse,
        "select max(abs(c.composite_score - s.score)), count(*) "
        "from marts.composite_scores c join ml.model_scores s "
        "on c.entity_id = s.entity_id and c.score_month = s.score_month",
    )
    ((population,),) = query(warehouse, "select count(*) from ml.churn_scoring_input")
    assert n == population and max_diff < 1e-12
    deciles = query(
        warehouse,
        "select score_decile, count(*), min(composite_score), "
        "max(composite_score) from marts.composite_scores "
        "group by 1 order by 1",
    )
    assert [d[0] for d in deciles] == list(range(1, 11))
    sizes = [d[1] for d in deciles]
    assert max(sizes) - min(sizes) <= 1
    for upper, lower in zip(deciles, deciles[1:], strict=False):
        assert upper[2] >= lower[3]  # decile 1 holds the highest scores


def test_tampered_artifact_is_refused_and_scores_survive(warehouse, capsys):
    before = query(warehouse, "select count(*), sum(score) from ml.model_scores")
    version = artifacts.versions(warehouse.root / "artifacts", "churn_lgbm")[-1]
    model_file = warehouse.root / "artifacts" / "churn_lgbm" / version / "model.joblib"
    original = model_file.read_bytes()
    model_file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        assert warehouse.scorehouse("score") == 2
    finally:
        model_file.write_bytes(original)
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("scorehouse: error:") and "sha256" in err[-1]
    assert query(warehouse, "select count(*), sum(score) from ml.model_scores") == before
