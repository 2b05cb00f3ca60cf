"""A user's own table, the documented path (docs/own_data.md): `scorehouse load` a CSV
into a dbt source, `dbt build --selector ibm_telco`, `scorehouse train --model ...`.
Runs on the real IBM Telco Customer Churn file (and on it saved as an .xlsx workbook)."""

from __future__ import annotations

import contextlib
import io
import json

import pandas as pd
import pytest

from .conftest import REPO, make_warehouse, query

TELCO_CSV = REPO.parent / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def trained(warehouse):
    assert TELCO_CSV.is_file(), f"{TELCO_CSV} is missing (CI has ../shared beside the clone)"
    assert warehouse.scorehouse("load", "ibm_telco.customers", str(TELCO_CSV)) == 0
    warehouse.dbt("build", "--selector", "ibm_telco")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert warehouse.scorehouse("train", "--model", "ibm_telco_churn_lr") == 0
    return printed.getvalue()


def test_loaded_with_snake_case_columns_and_every_row(warehouse, trained):
    rows = query(
        warehouse,
        "select count(*), count(distinct customer_id), sum(churned), "
        "sum(case when total_charges = 0 then 1 else 0 end) from staging.stg_ibm_telco__customers",
    )
    assert rows == [(7043, 7043, 1869, 11)]  # 26.5 % churn; 11 blank TotalCharges


def test_five_fold_cross_validated_auc_is_reported_and_recorded(warehouse, trained):
    assert "5-fold CV AUC" in trained
    ((cv_auc, oot_month, rows_train, rows_test),) = query(
        warehouse,
        "select cv_auc, oot_month, rows_train, rows_test from ml.training_runs "
        "where model_name = 'ibm_telco_churn_lr'",
    )
    # published logistic regression on this file: ~0.845; the features model adds log tenure
    assert 0.845 <= cv_auc < 0.90, cv_auc
    assert oot_month is None and rows_train + rows_test == 7043
    folds = dict(
        query(
            warehouse,
            "select metric, value from ml.model_metrics where split = 'cv' "
            "and model_name = 'ibm_telco_churn_lr'",
        )
    )
    assert folds["folds"] == 5 and folds["auc"] == pytest.approx(cv_auc)
    assert 0 < folds["auc_std"] < 0.03
    assert f"{cv_auc:.4f}" in trained


def test_disabled_entry_stays_out_of_the_monthly_run(warehouse, trained):
    models = {r[0] for r in query(warehouse, "select model_name from marts.dim_ml_models")}
    assert "ibm_telco_churn_lr" not in models and "churn_lgbm" in models
    params = json.loads(
        query(
            warehouse,
            "select params from ml.training_runs where model_name = 'ibm_telco_churn_lr'",
        )[0][0]
    )
    assert params["estimator"]["class_weight"] is None and params["imbalance"] == "none"


@pytest.fixture(scope="module")
def own_only(tmp_path_factory):
    """A warehouse that holds nothing but the user's own table, trained; loaded from the
    file saved as an Excel workbook (what users often have instead of the CSV)."""
    built = make_warehouse(tmp_path_factory.mktemp("own_only"))
    workbook = built.root / "Telco-Customer-Churn.xlsx"
    telco = pd.read_csv(TELCO_CSV, keep_default_na=False)  # blank TotalCharges stay text
    telco.to_excel(workbook, sheet_name="Telco", index=False, engine="xlsxwriter")
    assert built.scorehouse("load", "ibm_telco.customers", str(workbook)) == 0
    built.dbt("build", "--selector", "ibm_telco", "--quiet")
    assert built.scorehouse("train", "--model", "ibm_telco_churn_lr") == 0
    return built


def test_summary_of_a_warehouse_with_only_an_own_table(own_only):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert own_only.scorehouse("summary") == 0
    text = printed.getvalue()
    ((cv_auc,),) = query(own_only, "select cv_auc from ml.training_runs")
    assert "Domain telco" in text
    assert "ibm_telco_churn_lr (disabled: not in the monthly run): rows: training set 7,043" in text
    assert f"cross-validated AUC {cv_auc:.4f}" in text
    assert "churn_lgbm" not in text and "composite" not in text  # nothing of the demo


def test_the_workbook_trains_the_model_the_csv_trains(trained, warehouse, own_only):
    """The same rows and types from the .xlsx as from the CSV: the same cross-validated AUC."""
    sql = "select cv_auc, rows_train, rows_test from ml.training_runs where model_name = "
    sql += "'ibm_telco_churn_lr'"
    assert query(own_only, sql) == query(warehouse, sql)
