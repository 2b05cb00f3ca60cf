"""Score marts over three scored months of one artifact version: the SQL statistics
against python_scoring's (PSI, AUC, KS to 1e-9), deciles, the training baseline, and the
psi_bands test failing on drifted scores."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from python_scoring import artifacts
from python_scoring.features import metrics, stats
from python_scoring.registry import load_registry

from .conftest import make_warehouse, query_frame

pytestmark = pytest.mark.e2e
TOL = 1e-9
MONTHS = [dt.date(2025, 6, 1), dt.date(2025, 7, 1), dt.date(2025, 8, 1)]
MODEL = "churn_lgbm"


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """Features built for June, train (out-of-time May), score June; rebuild for July and
    August and score them with the same version; then the marts. June and July labels
    have matured by then, August's have not."""
    built = make_warehouse(tmp_path_factory.mktemp("monitoring"))
    built.dbt("parse", "--quiet")
    assert built.scorehouse("generate", "--subscribers", "4000", "--months", "8") == 0
    for i, month in enumerate(MONTHS):
        built.dbt("build", "--selector", "telco_features", "--vars", f"{{score_month: {month}}}")
        if i == 0:
            assert built.scorehouse("train", "--model", MODEL) == 0
        assert built.scorehouse("score", "--model", MODEL, "--month", str(month)) == 0
    built.marts = built.dbt("build", "--selector", "telco_marts").stdout
    return built


def scores_of(built, month) -> np.ndarray:
    return query_frame(
        built,
        f"select score from ml.model_scores where model_name = '{MODEL}' "
        f"and score_month = date '{month}'",
    )["score"].to_numpy()


def test_auc_and_ks_once_labels_mature(monitored):
    mart = query_frame(monitored, "select * from marts.score_monitoring order by score_month")
    assert list(mart["score_month"].dt.date) == MONTHS
    joined = query_frame(
        monitored,
        "select s.score_month, s.score, t.churned from ml.model_scores s join "
        "ml.churn_training_set t on s.entity_id = cast(t.subscriber_id as varchar) "
        "and s.score_month = t.month",
    )
    for month in MONTHS[:2]:
        part = joined[joined["score_month"].dt.date == month]
        row = mart[mart["score_month"].dt.date == month].iloc[0]
        assert row["labelled_rows"] == len(part) > 1000
        assert row["auc"] == pytest.approx(metrics.auc(part["churned"], part["score"]), abs=TOL)
        assert row["ks"] == pytest.approx(metrics.ks(part["churned"], part["score"]), abs=TOL)
        assert 0.7 < row["auc"] < 0.97
    august = mart[mart["score_month"].dt.date == MONTHS[2]].iloc[0]
    assert pd.isna(august["auc"]) and pd.isna(august["labelled_rows"])


def test_psi_against_previous_month_and_training_baseline(monitored):
    mart = query_frame(monitored, "select * from marts.score_monitoring order by score_month")
    assert pd.isna(mart["psi_vs_previous"].iloc[0])
    for i in (1, 2):
        expected = stats.psi(scores_of(monitored, MONTHS[i - 1]), scores_of(monitored, MONTHS[i]))
        assert mart["psi_vs_previous"].iloc[i] == pytest.approx(expected, abs=TOL)
    # the baseline: the version's scores on its out-of-time month (May), recomputed
    project = monitored.project()
    ((version,),) = query_frame(
        monitored, "select distinct model_version from ml.model_scores"
    ).values
    ((recorded,),) = query_frame(
        monitored, f"select artifact_sha256 from ml.training_runs where model_version = '{version}'"
    ).values
    meta, pipeline = artifacts.load(monitored.root / "artifacts", MODEL, version, recorded)
    assert meta.metadata["oot_month"] == "2025-05-01"
    may = query_frame(
        monitored, "select * from ml.churn_training_set where month = date '2025-05-01'"
    )
    reference = pipeline.predict_proba(may[meta.metadata["features"]])[:, 1]
    for i, month in enumerate(MONTHS):
        expected = stats.psi(reference, scores_of(monitored, month))
        assert mart["psi_vs_training"].iloc[i] == pytest.approx(expected, abs=TOL)
    assert (mart["status_vs_training"] == "ok").all(), mart["psi_vs_training"]
    assert load_registry(project)[MODEL].training_set == "churn_training_set"


def test_deciles(monitored):
    deciles = query_frame(
        monitored, "select * from marts.score_deciles order by score_month, decile"
    )
    for month in MONTHS:
        part = deciles[deciles["score_month"].dt.date == month]
        assert list(part["decile"]) == list(range(1, 11))
        assert part["rows_scored"].sum() == len(scores_of(monitored, month))
        assert (np.diff(part["mean_score"]) < 0).all()  # decile 1 holds the highest scores
    june = deciles[deciles["score_month"].dt.date == MONTHS[0]]
    assert june["lift"].iloc[0] > 3 and june["cumulative_lift"].iloc[-1] == pytest.approx(1.0)
    assert deciles[deciles["score_month"].dt.date == MONTHS[2]]["positive_rate"].isna().all()


def test_psi_bands_fail_on_drifted_scores(monitored):
    assert "psi_bands" in monitored.marts and "ERROR=0" in monitored.marts
    with duckdb.connect(monitored.env["SCOREHOUSE_DUCKDB_PATH"]) as con:
        con.execute(
            f"update ml.model_scores set score = score * 0.2 where score_month = date '{MONTHS[2]}'"
        )
    result = monitored.dbt(
        "build",
        "--select",
        "score_monitoring+",
        "--vars",
        f"{{score_month: {MONTHS[2]}}}",
        check=False,
    )
    assert result.returncode != 0
    assert "psi_bands_score_monitoring_psi_vs_previous" in result.stdout
    assert "configured to fail if >2500" in result.stdout


def test_outcomes_declare_every_registry_training_set(monitored):
    import json

    manifest = json.loads((monitored.root / "target" / "manifest.json").read_text())
    node = manifest["nodes"]["model.scorehouse.score_outcomes"]
    declared = {n.split(".")[-1] for n in node["depends_on"]["nodes"]}
    enabled = [s for s in load_registry(monitored.project()).values() if s.enabled]
    missing = [s.training_set for s in enabled if s.training_set not in declared]
    assert not missing, (
        f"add -- depends_on: {{{{ ref(...) }}}} lines for {missing} to score_outcomes.sql"
    )
