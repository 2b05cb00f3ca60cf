"""`scorehouse report` on a warehouse built as `make demo` and `make bank-demo` build it
(telco with two months of history, then the bank), rendered in headless Chromium: no
console error, no network request, every section and chart, and the numbers the
warehouse holds."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from python_scoring.report.charts import number

from ..browser import open_page, screenshot
from ..conftest import Built, make_warehouse, query
from .checks import read_report, row

pytestmark = pytest.mark.e2e

TELCO_MODELS = ["churn_lgbm", "data_addon_scorecard", "package_upsell_rf"]
BANK_MODELS = ["corporate_churn_lgbm", "corporate_potential_lgbm"]
CHARTS_PER_MODEL = ["roc", "ks", "gains", "lift", "calibration", "scores"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Built:
    built = make_warehouse(tmp_path_factory.mktemp("report"))
    assert built.scorehouse("generate", "--subscribers", "6000", "--months", "8") == 0
    built.cycle("--train", "--history", "2")
    built.bank_run(1_000, 3_000, 3)  # writes the report of both domains last
    return built


def _sql(built: Built, name: str) -> str:
    project = built.project()
    return project.source(*name.split(".")).sql if "." in name else project.model(name).sql


def test_run_writes_the_report_as_its_last_stage(demo):
    assert list(demo.stage_logs)[-1] == "report"
    assert f"report: {demo.root / 'report.html'}" in demo.stage_logs["report"]


def test_the_report_opens_with_no_console_error_and_no_network_request(demo):
    with open_page(demo.root / "report.html") as opened:
        screenshot(opened, demo.root / "report.png")
        assert opened.console_errors == []
        assert opened.network_requests() == []
        sections = opened.page.locator("section").evaluate_all("s => s.map(e => e.id)")
        charts = opened.page.locator("svg.chart").count()
        drawn = opened.page.locator("figure[data-figure='feature-psi'] svg").bounding_box()
    models = [f"model-{m}" for m in sorted(BANK_MODELS) + sorted(TELCO_MODELS)]
    assert sections == ["overview", *models, "monitoring", "features", "bank", "privacy"]
    assert charts >= len(models) * len(CHARTS_PER_MODEL)
    assert drawn["width"] > 300 and drawn["height"] > 300  # the heatmap is laid out, not empty
    assert (demo.root / "report.png").stat().st_size > 50_000


def test_every_model_card_has_its_curves_and_the_warehouses_numbers(demo):
    report = read_report(demo.root / "report.html")
    for model in TELCO_MODELS + BANK_MODELS:
        for chart in CHARTS_PER_MODEL:
            assert f"{chart}-{model}" in report.figures, f"{chart} of {model}"
        run_id, auc_test = query(
            demo,
            f"select run_id, auc_test from {_sql(demo, 'ml.training_runs')} "
            f"where model_name = '{model}' order by finished_at desc limit 1",
        )[0]
        metrics = dict(
            query(
                demo,
                f"select split || ':' || metric, value from {_sql(demo, 'ml.model_metrics')} "
                f"where run_id = '{run_id}'",
            )
        )
        shown = row(report, f"metrics-{model}", split="test")
        assert float(shown["auc"]) == pytest.approx(auc_test, abs=1e-12)
        assert float(shown["ks"]) == pytest.approx(metrics["test:ks"], abs=1e-12)
        roc = row(report, f"roc-{model}", split="test")
        assert roc["points"] == "101"
        confusion = row(report, f"confusion-{model}", split="test")
        assert float(confusion["true positives"]) == metrics["test:tp_at_threshold"]
    for model in TELCO_MODELS:  # out-of-time: on the overview too, as printed
        (auc_oot,) = query(
            demo,
            f"select value from {_sql(demo, 'ml.model_metrics')} where model_name = '{model}' "
            f"and split = 'oot' and metric = 'auc' and run_id = (select run_id from "
            f"{_sql(demo, 'ml.training_runs')} where model_name = '{model}' "
            f"order by finished_at desc limit 1)",
        )[0]
        assert float(row(report, "models", model=model)["out-of-time AUC"]) == pytest.approx(
            auc_oot, abs=1e-12
        )
        assert number(auc_oot) in (demo.root / "report.html").read_text()


def test_monitoring_shows_every_scored_month_with_psi_and_matured_auc(demo):
    report = read_report(demo.root / "report.html")
    marts = _sql(demo, "score_monitoring")
    for model in TELCO_MODELS:
        expected = query(
            demo,
            f"select score_month, psi_vs_previous, auc from {marts} "
            f"where model_name = '{model}' order by score_month",
        )
        shown = report.tables[f"monitoring-{model}"]
        assert len(expected) == 3 == len(shown)  # two history months and the scored one
        assert [r["score month"] for r in shown] == [str(m) for m, _, _ in expected]
        assert float(shown[-1]["PSI vs previous"]) == pytest.approx(expected[-1][1], abs=1e-12)
        matured = [auc for _, _, auc in expected if auc is not None]
        assert len(matured) == 2  # the history months' labels are known, the latest's not
        assert f"psi-{model}" in report.figures and f"auc-{model}" in report.figures
        assert f"decile-lift-{model}" in report.figures
    assert "composite-subscriber" in report.figures


def test_the_psi_heatmap_has_a_cell_per_feature_psi_row(demo):
    (rows,) = query(demo, f"select count(*) from {_sql(demo, 'feature_psi')}")[0]
    bands = dict(
        query(demo, f"select psi_band, count(*) from {_sql(demo, 'feature_psi')} group by 1")
    )
    with open_page(demo.root / "report.html") as opened:
        cells = opened.page.locator("svg[data-chart='feature-psi'] rect.cell")
        assert cells.count() == rows > 0
        for band, n in bands.items():
            assert (
                opened.page.locator(f"svg[data-chart='feature-psi'] rect.band-{band}").count() == n
            )
        reading = opened.page.locator("figure[data-figure='feature-psi'] .reading").inner_text()
    assert reading.startswith(f"{rows} column-months: {bands.get('stable', 0)} stable")


def test_features_and_bank_sections_hold_the_marts(demo):
    report = read_report(demo.root / "report.html")
    for scenario in ("churn", "package_upsell", "data_addon"):
        (n,) = query(
            demo, f"select count(*) from {_sql(demo, 'feature_iv')} where scenario = '{scenario}'"
        )[0]
        assert len(report.tables[f"iv-{scenario}"]) == n > 0
    clusters = query(
        demo, f"select cluster, customers from {_sql(demo, 'retail_cluster_profiles')}"
    )
    shown = report.tables["clusters-retail_products"]
    assert {(int(r["cluster"]), int(float(r["customers"]))) for r in shown} == set(clusters)
    (rules,) = query(demo, f"select count(*) from {_sql(demo, 'ml.association_rules')}")[0]
    assert len(report.tables["rules"]) == min(20, rules)
    per_item = dict(
        query(
            demo,
            f"select item, count(*) from {_sql(demo, 'cross_sell_recommendations')} group by item",
        )
    )
    shown = {
        r["product"]: int(float(r["customers"]))
        for r in report.tables["cross-sell-retail_products"]
    }
    assert shown == per_item
    lists = {r["list"] for r in report.tables["bank-lists"]}
    assert lists == {"corporate_churn_warnings", "potential_customers_guangdong"}


def test_the_overview_counts_tests_and_layers(demo):
    html = (demo.root / "report.html").read_text()
    recorded = re.search(r"(\d+) tests recorded: (\d+) pass, (\d+) warn, (\d+) fail", html)
    assert recorded and int(recorded[1]) > 100 and recorded[2] == recorded[1]
    report = read_report(demo.root / "report.html")
    layers = {r["table"]: int(float(r["rows"])) for r in report.tables["layer-rows"]}
    (wide,) = query(demo, f"select count(*) from {_sql(demo, 'subscriber_month_wide')}")[0]
    assert layers["subscriber_month_wide"] == wide
    assert {r["domain"] for r in report.tables["domains"]} == {"bank", "telco"}


def test_report_as_of_a_month_and_for_one_domain(demo):
    months = [
        m
        for (m,) in query(
            demo, f"select distinct score_month from {_sql(demo, 'score_monitoring')} order by 1"
        )
    ]
    out = demo.root / "sub" / "earlier.html"
    assert (
        demo.scorehouse(
            "report", "--domain", "telco", "--month", str(months[1]), "--output", str(out)
        )
        == 0
    )
    report = read_report(out)
    assert "bank" not in report.sections
    assert not any(s.startswith("model-corporate") for s in report.sections)
    assert len(report.tables["monitoring-churn_lgbm"]) == 2
    assert isinstance(months[1], dt.date)


def test_an_unknown_domain_is_refused_in_one_line(demo, capsys):
    assert demo.scorehouse("report", "--domain", "nope", "--output", str(demo.root / "x.html")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no registry model of domain nope" in err[0]
    assert not (demo.root / "x.html").exists()


def test_an_unwritable_output_is_refused_in_one_line(demo, capsys):
    assert demo.scorehouse("report", "--output", "/proc/no/such/report.html") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "scorehouse: error: cannot write the report to /proc/no/such/report.html: "
        "No such file or directory"
    ]


def test_the_personal_data_section_is_the_inventory_of_the_manifest(demo):
    """The report's inventory is docs/privacy_inventory.md's table: every classified source
    table with its columns by class and the models built from it."""
    report = read_report(demo.root / "report.html")
    rows = {r["source table"]: r for r in report.tables["privacy-inventory"]}
    subscribers = rows["telco.subscribers"]
    assert subscribers["identifier"] == "subscriber_id"
    assert subscribers["personal"] == "age_band, gender, region"
    assert (
        "features: package_group_month, subscriber_month_wide"
        in subscribers["models built from it"]
    )
    registrations = rows["bank.corporate_registrations"]
    assert "company_name" in registrations["personal"]
    assert "potential_customers_guangdong" in registrations["models built from it"]
    docs = (demo.project_dir / "docs" / "privacy_inventory.md").read_text()
    assert {f"`{table}`" for table in rows} == set(re.findall(r"^\| (`[^`]+`)", docs, re.M))
