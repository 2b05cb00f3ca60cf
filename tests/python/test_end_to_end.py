"""The whole DuckDB path on a small generated warehouse: dbt build, train, score, marts."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil

import duckdb
import pytest

from python_scoring import artifacts
from python_scoring.registry import load_registry

from .conftest import REPO, Built, make_warehouse, query

pytestmark = pytest.mark.e2e


def test_dbt_build_runs_every_model_test_and_unit_test(warehouse):
    log = warehouse.features_log
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


MODELS = ("churn_lgbm", "data_addon_scorecard", "package_upsell_rf")


@pytest.mark.parametrize(
    ("model", "floor"),
    [
        ("churn_lgbm", 0.75),
        ("data_addon_scorecard", 0.75),
        ("package_upsell_rf", 0.68),
    ],
)
def test_training_reaches_the_planted_signal(warehouse, model, floor):
    rows = query(
        warehouse,
        "select auc_oot, ks_oot, auc_test, rows_oot, artifact_sha256, "
        f"model_version from ml.training_runs where model_name = '{model}'",
    )
    assert len(rows) == 1
    auc_oot, ks_oot, auc_test, rows_oot, sha, version = rows[0]
    assert auc_oot >= floor, f"{model}: out-of-time AUC {auc_oot:.4f} below {floor}"
    assert auc_oot < 0.97, f"{model}: AUC near 1.0, the generator leaks the label"
    assert ks_oot > 0.25 and auc_test >= floor
    assert rows_oot > 10_000
    folder = warehouse.root / "artifacts" / model / version
    meta = json.loads((folder / "metadata.json").read_text())
    # the record covers both files; the metadata names the model file's own hash
    assert artifacts.digest(folder) == sha
    assert meta["sha256"] == artifacts.sha256_of(folder / "model.joblib")
    # counts summed in SQL stay numbers (DuckDB types sums as HUGEINT/decimal)
    assert set(meta["candidates"]["categorical"]) == {
        "age_band",
        "gender",
        "region",
        "sales_channel",
        "contract_type",
        "package_group",
    }
    assert {"tickets_3m", "network_tickets", "addon_purchases_3m"} <= set(
        meta["candidates"]["numeric"]
    )
    assert not {"churned", "upsold", "bought_addon", "subscriber_id", "split"} & set(
        meta["features"]
    )
    # screening: the inputs kept are the candidates whose IV reached the registry's limit
    spec = load_registry(warehouse.project())[model]
    candidates = meta["candidates"]["numeric"] + meta["candidates"]["categorical"]
    assert set(meta["features"]) == {
        c for c in candidates if meta["feature_iv"][c] >= spec.iv_limit
    }
    assert {d["name"] for d in meta["dropped_features"]} == set(candidates) - set(meta["features"])
    assert meta["dropped_features"], "nothing screened out: the IV screen did not run"
    for derived in meta["derived_features"]:
        assert derived["iv"] >= spec.iv_limit and derived["name"] in meta["model_features"]


def test_scores_have_one_row_per_model_subscriber_and_month(warehouse):
    assert warehouse.scorehouse("score") == 0  # second run of the same month replaces it
    ((population,),) = query(warehouse, "select count(*) from ml.churn_scoring_input")
    counts = query(
        warehouse,
        "select model_name, count(*), count(distinct entity_id), count(distinct score_month) "
        "from ml.model_scores group by model_name order by model_name",
    )
    assert counts == [(model, population, population, 1) for model in MODELS]
    ((bad,),) = query(
        warehouse,
        "select count(*) from ml.model_scores where score < 0 or score > 1 or score is null",
    )
    assert bad == 0
    # reasons are features of the artifact, most positive first, never repeated
    reasons = query(
        warehouse,
        "select reason_1, reason_2, reason_3 from ml.model_scores "
        "where model_name = 'churn_lgbm' and reason_1 is not null",
    )
    assert len(reasons) > 0.9 * population
    ((version,),) = query(
        warehouse, "select model_version from ml.training_runs where model_name = 'churn_lgbm'"
    )
    meta = json.loads(
        (warehouse.root / "artifacts" / "churn_lgbm" / version / "metadata.json").read_text()
    )
    # the columns the estimator sees: kept inputs and kept derived features
    features = set(meta["model_features"])
    for r1, r2, r3 in reasons:
        assert r1 in features and r1 != r2 and (r3 is None or r3 not in (r1, r2))


def test_composite_is_the_registry_weighted_mean(warehouse):
    warehouse.dbt("build", "--selector", "telco_marts", "--quiet")
    weights = {"churn_lgbm": 0.5, "package_upsell_rf": 0.25, "data_addon_scorecard": 0.25}
    scores = {}
    for model, entity, score in query(
        warehouse, "select model_name, entity_id, score from ml.model_scores"
    ):
        scores.setdefault(entity, {})[model] = score
    composite = {
        entity: (value, n, coverage)
        for entity, value, n, coverage in query(
            warehouse,
            "select k.entity_id, composite_score, models_scored, weight_coverage "
            "from marts.composite_scores as c "
            "inner join restricted.customer_keys as k on c.entity_key = k.entity_key",
        )
    }
    assert composite.keys() == scores.keys()
    for entity, by_model in list(scores.items())[:2000]:
        expected = sum(weights[m] * s for m, s in by_model.items()) / sum(
            weights[m] for m in by_model
        )
        value, n, coverage = composite[entity]
        assert value == pytest.approx(expected, abs=1e-12)
        assert n == 3 and coverage == pytest.approx(1.0)
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


def test_composite_renormalises_over_models_that_scored(warehouse):
    """An entity a model did not score keeps the weighted mean of the others."""

    path = warehouse.env["SCOREHOUSE_DUCKDB_PATH"]
    with duckdb.connect(path) as con:
        entity, churn, addon = con.execute(
            "select c.entity_id, c.score, a.score from ml.model_scores c join ml.model_scores a "
            "on c.entity_id = a.entity_id and a.model_name = 'data_addon_scorecard' "
            "where c.model_name = 'churn_lgbm' order by c.entity_id limit 1"
        ).fetchone()
        saved = con.execute(
            "select * from ml.model_scores where entity_id = ? and "
            "model_name = 'package_upsell_rf'",
            [entity],
        ).fetchall()
        con.execute(
            "delete from ml.model_scores where entity_id = ? and model_name = 'package_upsell_rf'",
            [entity],
        )
    try:
        warehouse.dbt("build", "--select", "composite_scores", "--quiet")
        ((value, n, coverage),) = query(
            warehouse,
            "select composite_score, models_scored, weight_coverage from "
            "marts.composite_scores where entity_key = (select entity_key from "
            f"restricted.customer_keys where entity_id = '{entity}')",
        )
        assert value == pytest.approx((0.5 * churn + 0.25 * addon) / 0.75, abs=1e-12)
        assert n == 2 and coverage == pytest.approx(0.75)
    finally:
        with duckdb.connect(path) as con:
            con.executemany(
                "insert into ml.model_scores values (" + ", ".join(["?"] * len(saved[0])) + ")",
                saved,
            )
        warehouse.dbt("build", "--select", "composite_scores", "--quiet")


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


def test_artifact_changed_with_its_metadata_is_refused(warehouse, capsys):
    """Rewriting model.joblib *and* its metadata.json still fails: the sha256 recorded in
    ml.training_runs at training time no longer matches."""
    from sklearn.dummy import DummyClassifier

    root = warehouse.root / "artifacts"
    version = artifacts.versions(root, "churn_lgbm")[-1]
    folder = root / "churn_lgbm" / version
    saved = {name: (folder / name).read_bytes() for name in ("model.joblib", "metadata.json")}
    before = query(warehouse, "select count(*), sum(score) from ml.model_scores")
    try:
        artifacts.joblib.dump(DummyClassifier(), folder / "model.joblib")
        meta = json.loads(saved["metadata.json"])
        meta["sha256"] = artifacts.sha256_of(folder / "model.joblib")
        (folder / "metadata.json").write_text(json.dumps(meta))
        assert warehouse.scorehouse("score", "--model", "churn_lgbm") == 2
    finally:
        for name, content in saved.items():
            (folder / name).write_bytes(content)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "does not match the sha256 recorded in ml.training_runs" in err
    assert query(warehouse, "select count(*), sum(score) from ml.model_scores") == before


def test_failure_mid_write_keeps_the_previous_slice(warehouse, monkeypatch):

    from python_scoring.errors import ScorehouseError
    from python_scoring.warehouse import Warehouse

    before = query(
        warehouse,
        "select count(*), sum(score) from ml.model_scores where model_name = 'churn_lgbm'",
    )
    project = warehouse.project()
    ((month,),) = query(warehouse, "select max(score_month) from ml.model_scores")

    monkeypatch.setattr(os, "environ", {**os.environ, **warehouse.env})
    with Warehouse.connect(project) as wh, pytest.raises(ScorehouseError, match="nothing was"):
        wh.execute(  # the statements of a slice swap, the insert failing part-way
            f"delete from ml.model_scores where model_name = 'churn_lgbm' "
            f"and score_month = date '{month}'",
            "insert into ml.model_scores (model_name, score) "
            "select 'churn_lgbm', cast('not a number' as double)",
        )
    after = query(
        warehouse,
        "select count(*), sum(score) from ml.model_scores where model_name = 'churn_lgbm'",
    )
    assert after == before


def test_scoring_in_small_batches_gives_the_same_scores(warehouse, monkeypatch):
    from python_scoring import warehouse as warehouse_module

    before = dict(
        query(
            warehouse,
            "select entity_id, score from ml.model_scores where model_name = 'churn_lgbm'",
        )
    )
    monkeypatch.setattr(warehouse_module, "BATCH_ROWS", 1_000)
    assert warehouse.scorehouse("score", "--model", "churn_lgbm") == 0
    after = dict(
        query(
            warehouse,
            "select entity_id, score from ml.model_scores where model_name = 'churn_lgbm'",
        )
    )
    assert after.keys() == before.keys()
    assert max(abs(after[e] - before[e]) for e in before) < 1e-12


def test_model_metrics_hold_every_split_and_agree_with_training_runs(warehouse):
    rows = query(
        warehouse,
        "select m.split, m.metric, m.value, r.auc_oot, r.ks_test "
        "from ml.model_metrics m join ml.training_runs r "
        "on m.run_id = r.run_id where m.model_name = 'churn_lgbm'",
    )
    values = {(split, metric): value for split, metric, value, _, _ in rows}
    auc_oot, ks_test = rows[0][3], rows[0][4]
    assert {split for split, _ in values} == {"train", "test", "oot"}
    assert len(values) == 3 * 44
    assert values[("oot", "auc")] == pytest.approx(auc_oot, abs=1e-12)
    assert values[("test", "ks")] == pytest.approx(ks_test, abs=1e-12)
    assert values[("oot", "lift_decile_1")] > 3 > values[("oot", "lift_decile_10")]
    assert values[("oot", "cumulative_lift_decile_10")] == pytest.approx(1.0)
    confusion = sum(values[("oot", f"{k}_at_threshold")] for k in ("tp", "fp", "fn", "tn"))
    assert confusion == values[("oot", "rows")]


def test_each_run_writes_a_structured_log(warehouse):
    # the fixture trained inside `scorehouse run` (conftest Built.monthly_run)
    logs = sorted((warehouse.root / "logs").glob("scorehouse-run-*.jsonl"))
    assert logs, "no run log for scorehouse run"
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    messages = [r["message"] for r in records]
    assert messages[0].startswith("scorehouse run started")
    assert any("fitted lightgbm" in m for m in messages)  # per-stage timings
    assert messages[-1].startswith("finished in")
    assert all(r["level"] == "INFO" for r in records)  # INFO in the file even with -q


# The BI marts (models/marts/): each under an enforced dbt model contract.
MARTS = {
    "corporate_churn_warnings",
    "cross_sell_recommendations",
    "potential_customers_guangdong",
    "product_mining",
    "retail_cluster_profiles",
    "composite_scores",
    "dim_ml_models",
    "score_deciles",
    "score_monitoring",
    "score_online_vs_batch",
    "score_outcomes",
    "feature_iv",
    "feature_profiles",
    "feature_psi",
}
# the text and double types of the contracts per profile target (vars contract_text,
# contract_double); the others are the same everywhere
CONTRACT_TYPES = {
    "duckdb": ("varchar", "double"),
    "postgres": ("text", "double precision"),
    "spark_local": ("string", "double"),
}


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Built:
    """A copy of the dbt project over an empty DuckDB warehouse (dbt's on-run-start
    creates the ml tables the scoring marts read)."""
    root = tmp_path_factory.mktemp("contracts")
    project = root / "project"
    for name in ("dbt_project.yml", "selectors.yml", "models", "macros", "seeds", "tests/dbt"):
        source = REPO / name
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / name)
    built = make_warehouse(root / "warehouse")
    built.project_dir = project
    return built


@pytest.mark.parametrize("target", CONTRACT_TYPES)
def test_every_mart_column_is_named_typed_and_described(project_copy, target):
    """`dbt parse` for each engine's target: every model under models/marts has an
    enforced contract, every column a data_type (the engine's text and double from the
    vars) and a description; retail_cluster_profiles lists a rate per seed product."""
    env = {**project_copy.env, "SCOREHOUSE_TARGET": target}
    Built(project_copy.root, env, project_copy.project_dir).dbt("parse", "--quiet")
    manifest = json.loads((project_copy.root / "target" / "manifest.json").read_text())
    marts = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
    }
    assert marts.keys() >= MARTS
    text, double = CONTRACT_TYPES[target]
    types = {text, double, "bigint", "integer", "date", "timestamp", "boolean"}
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"] is True, name
        assert node["columns"], name
        for column in node["columns"].values():
            assert column.get("data_type") in types, (name, column["name"], column.get("data_type"))
            assert column["description"].strip(), (name, column["name"])
    scores = marts["composite_scores"]["columns"]
    assert (scores["entity_key"]["data_type"], scores["composite_score"]["data_type"]) == (
        text,
        double,
    )
    with (REPO / "seeds" / "bank" / "bank_products.csv").open(encoding="utf-8") as seed:
        products = [row["product_key"] for row in csv.DictReader(seed)]
    assert len(products) == 8
    rates = [c for c in marts["retail_cluster_profiles"]["columns"] if c.endswith("_rate")]
    assert rates == [f"{product}_rate" for product in products]


def test_a_mart_that_breaks_its_contract_fails_the_build(project_copy):
    """dbt compares a mart's columns with its YAML before building it: composite_scores
    with a column renamed and one typed integer (ntile's type on PostgreSQL and Spark)
    fails naming both, and the table keeps its last build."""
    project_copy.dbt("build", "--select", "dim_ml_models", "composite_scores", "--quiet")
    path = project_copy.project_dir / "models" / "marts" / "scoring" / "composite_scores.sql"
    original = path.read_text()
    broken = original.replace(
        "as {{ dbt.type_bigint() }}) as score_decile", "as integer) as score_decile"
    ).replace("as entity_masked", "as entity_display")
    assert broken.count("entity_display") == 1 and "as integer) as score_decile" in broken
    path.write_text(broken)
    try:
        failed = project_copy.dbt("run", "--select", "composite_scores", check=False)
    finally:
        path.write_text(original)
    assert failed.returncode != 0
    assert "This model has an enforced contract that failed." in failed.stdout
    rows = {
        tuple(cell.strip() for cell in line.strip().strip("|").split("|"))
        for line in failed.stdout.splitlines()
        if re.match(r"\s*\| (entity|score)", line)
    }
    assert rows == {
        ("entity_display", "VARCHAR", "", "missing in contract"),
        ("entity_masked", "", "VARCHAR", "missing in definition"),
        ("score_decile", "INTEGER", "BIGINT", "data type mismatch"),
    }
    columns = query(
        project_copy,
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'composite_scores'",
    )
    assert ("entity_masked",) in columns and ("entity_display",) not in columns
