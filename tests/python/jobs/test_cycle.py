"""`scorehouse run`, the monthly cycle in one process: the whole telco month and bank cycle
run through it in the session fixtures (conftest `monthly_run`, `bank_run`); here, a stage
that fails stops the cycle before the next one, naming the stage."""

from __future__ import annotations

import contextlib
import io

import pytest

from python_scoring.registry import load_registry

from ..conftest import query

pytestmark = pytest.mark.e2e


def test_a_failing_dbt_test_in_the_features_stage_stops_the_run_before_training(drifted):
    result = drifted.cycle("--train", check=False)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    # one line naming the stage and the failing test
    assert error.startswith("scorehouse: error: stage features failed, later stages not run")
    assert "psi_stable_subscriber_month_wide_data_mb" in error
    assert list(drifted.stage_logs) == ["features"]  # train, score, marts never started
    assert query(drifted, "select count(*) from ml.training_runs") == [(0,)]
    assert not (drifted.root / "artifacts").exists()


def test_the_telco_month_ran_every_stage_in_order(warehouse):
    # telco has no rule set: no rules stage
    assert list(warehouse.stage_logs) == [
        "features",
        "train",
        "score",
        "marts",
        "snapshot",
        "report",
    ]
    scored = query(
        warehouse, "select model_name, count(*) from ml.model_scores group by 1 order by 1"
    )
    enabled = sorted(
        spec.name
        for spec in load_registry(warehouse.project()).values()
        if spec.enabled and spec.domain == "telco"
    )
    assert len(enabled) == 3 and [name for name, _ in scored] == enabled


def test_summary_shows_the_composite_mart_with_its_own_domain_only(warehouse):
    def summary(*args: str) -> str:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert warehouse.scorehouse("summary", *args) == 0
        return printed.getvalue()

    ((churn_rows,),) = query(
        warehouse, "select count(*) from ml.model_scores where model_name = 'churn_lgbm'"
    )
    telco = summary("--domain", "telco")
    assert f"scores {churn_rows:,}" in telco and "Top of the composite score mart" in telco
    # the bank holds nothing here; the composite mart (telco's subscribers) is not the bank's
    bank = summary("--domain", "bank")
    assert "Domain" not in bank and "composite" not in bank


def test_feature_iv_is_built_by_the_train_stage_not_by_the_features_stage(warehouse):
    """feature_iv (selector telco_training) reads every scenario's labelled history: the
    month's features stage leaves it out, the train stage builds it after training."""
    assert "feature_iv" not in warehouse.stage_logs["features"]
    assert "dbt build --selector telco_training" in warehouse.stage_logs["train"]
    assert "OK created sql table model marts.feature_iv" in warehouse.stage_logs["train"]
