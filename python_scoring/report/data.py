"""What the report shows, read from the warehouse: the ml.* metadata python_scoring writes
(training runs, metrics, curves, baselines, rules) and the marts dbt builds. Every query
is an aggregate or a metadata read; none fetches a customer's row, so what comes back is
bounded by models x months x features, not by customers. A table that does not exist
(a domain not built, a project without the bank) leaves its part of the report out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from python_scoring import dbt_runner
from python_scoring.errors import ScorehouseError
from python_scoring.privacy import inventory_rows
from python_scoring.project import LAYERS, Project, Relation
from python_scoring.registry import ModelSpec, load_registry
from python_scoring.warehouse import Warehouse, sql_literal

# AUC decay of a scored month against the training out-of-time AUC: above WARN a model is
# 'warn', above ERROR 'error' (PSI statuses come from the score_monitoring mart's bands)
AUC_DECAY_WARN, AUC_DECAY_ERROR = 0.05, 0.10
STATUS_ORDER = ["ok", "warn", "error"]
TOP_RULES = 200  # association rules drawn (the strongest by support x confidence)


def worst(statuses: list[str]) -> str:
    return max(statuses, key=STATUS_ORDER.index, default="ok")


@dataclass
class ModelCard:
    spec: ModelSpec
    run: dict[str, Any] | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # split -> metric
    curves: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    monitoring: list[dict[str, Any]] = field(default_factory=list)  # score_monitoring rows
    deciles: list[dict[str, Any]] = field(default_factory=list)  # score_deciles rows
    # score_online_vs_batch rows: the online service's scores against the batch's
    online: list[dict[str, Any]] = field(default_factory=list)
    status: str = "n/a"
    status_why: list[str] = field(default_factory=list)

    def json_field(self, name: str) -> Any:
        value = (self.run or {}).get(name)
        return json.loads(value) if value else None


@dataclass
class ReportData:
    title: str
    target: str
    generated_at: dt.datetime
    month: dt.date | None
    domains: list[str]
    cards: list[ModelCard]
    latest_month: dict[str, dt.date | None]
    layers: list[dict[str, Any]]
    tests: list[dict[str, Any]]
    composite: list[dict[str, Any]]
    feature_psi: list[dict[str, Any]]
    feature_iv: list[dict[str, Any]]
    feature_profiles: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    cross_sell: list[dict[str, Any]]
    bank_lists: list[dict[str, Any]]
    # classified source columns and the models built from them (python_scoring.privacy)
    privacy: list[dict[str, Any]] = field(default_factory=list)


class _Reader:
    """Queries that tolerate absent relations: [] when the table is not there."""

    def __init__(self, project: Project, wh: Warehouse, month: dt.date | None) -> None:
        self.project, self.wh, self.month = project, wh, month

    def model(self, name: str) -> Relation | None:
        try:
            relation = self.project.model(name)
        except ScorehouseError:
            return None
        return relation if self.wh.exists(relation) else None

    def ml(self, name: str) -> Relation | None:
        try:
            relation = self.project.source("ml", name)
        except ScorehouseError:
            return None
        return relation if self.wh.exists(relation) else None

    def rows(self, relation: Relation | None, sql: str) -> list[dict[str, Any]]:
        if relation is None:
            return []
        rows = self.wh.query_arrow(sql.format(t=relation.sql)).to_pylist()
        return [{k: _plain(v) for k, v in row.items()} for row in rows]

    def until(self, column: str) -> str:
        """`and column <= --month` when the report is as of a month."""
        return f" and {column} <= {sql_literal(self.month)}" if self.month else ""


def _plain(value: Any) -> Any:
    """Engines type sums and counts differently (DuckDB: decimal for a sum of ints):
    decimals become int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _latest_runs(read: _Reader, names: list[str]) -> dict[str, dict[str, Any]]:
    """The latest training run of each model (as of --month: the latest whose data ended by
    that month)."""
    runs = read.ml("training_runs")
    listed = ", ".join(sql_literal(n) for n in names) or "''"
    latest: dict[str, dict[str, Any]] = {}
    for row in read.rows(runs, f"select * from {{t}} where model_name in ({listed})"):
        if read.month and _last_labelled_month(row) > read.month:
            continue
        known = latest.get(row["model_name"])
        if known is None or row["finished_at"] > known["finished_at"]:
            latest[row["model_name"]] = row
    return latest


def _last_labelled_month(run: dict[str, Any]) -> dt.date:
    """The last month whose labels a run saw: its out-of-time month, else its last in-time
    month (as scoring reads it)."""
    if run["oot_month"] is not None:
        return run["oot_month"]
    return max(dt.date.fromisoformat(m) for m in run["train_months"].split(","))


def _cards(read: _Reader, specs: list[ModelSpec]) -> list[ModelCard]:
    runs = _latest_runs(read, [s.name for s in specs])
    run_ids = ", ".join(sql_literal(r["run_id"]) for r in runs.values()) or "''"
    metrics: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in read.rows(
        read.ml("model_metrics"),
        f"select run_id, split, metric, value from {{t}} where run_id in ({run_ids})",
    ):
        metrics[row["run_id"]][row["split"]][row["metric"]] = row["value"]
    curves: dict[str, dict[str, dict[str, list]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for row in read.rows(
        read.ml("model_curves"),
        f"select run_id, split, curve, point, x, y from {{t}} where run_id in ({run_ids}) "
        "order by run_id, split, curve, point",
    ):
        curves[row["run_id"]][row["split"]][row["curve"]].append((row["x"], row["y"]))
    monitoring = defaultdict(list)
    for row in read.rows(
        read.model("score_monitoring"),
        f"select * from {{t}} where 1 = 1{read.until('score_month')} order by score_month",
    ):
        monitoring[row["model_name"]].append(row)
    deciles = defaultdict(list)
    for row in read.rows(
        read.model("score_deciles"),
        f"select * from {{t}} where 1 = 1{read.until('score_month')} order by score_month, decile",
    ):
        deciles[row["model_name"]].append(row)
    online = defaultdict(list)
    for row in read.rows(
        read.model("score_online_vs_batch"),
        f"select * from {{t}} where 1 = 1{read.until('request_month')} "
        "order by request_month, model_version",
    ):
        online[row["model_name"]].append(row)
    cards = []
    for spec in specs:
        run = runs.get(spec.name)
        card = ModelCard(
            spec,
            run,
            monitoring=monitoring[spec.name],
            deciles=deciles[spec.name],
            online=online[spec.name],
        )
        if run is not None:
            card.metrics = {k: dict(v) for k, v in metrics[run["run_id"]].items()}
            card.curves = {s: dict(c) for s, c in curves[run["run_id"]].items()}
        _judge(card)
        cards.append(card)
    return cards


def _judge(card: ModelCard) -> None:
    """ok / warn / error from the latest month's PSI statuses and the AUC decay of the
    latest month with matured labels against the training out-of-time AUC."""
    if card.run is None:
        card.status, card.status_why = "n/a", ["not trained"]
        return
    statuses, why = [], []
    if card.monitoring:
        latest = card.monitoring[-1]
        for key, what in (
            ("status_vs_previous", "previous month"),
            ("status_vs_training", "training"),
        ):
            if latest[key] in STATUS_ORDER:  # not n/a: a first month has no previous one
                statuses.append(latest[key])
            if latest[key] in ("warn", "error"):
                psi = latest[key.replace("status", "psi")]
                why.append(f"score PSI vs {what} {psi:.3f} ({latest[key]})")
    reference = card.run.get("auc_oot") or card.run.get("auc_test")
    matured = [m for m in card.monitoring if m.get("auc") is not None]
    if reference is not None and matured:
        decay = reference - matured[-1]["auc"]
        band = "error" if decay > AUC_DECAY_ERROR else "warn" if decay > AUC_DECAY_WARN else "ok"
        statuses.append(band)
        if band != "ok":
            why.append(
                f"AUC {matured[-1]['auc']:.3f} in {matured[-1]['score_month']} vs "
                f"{reference:.3f} at training ({band})"
            )
    card.status, card.status_why = worst(statuses), why


def _layers(read: _Reader) -> list[dict[str, Any]]:
    """Row counts of every materialized table of the dbt project and the ml.* tables, in
    one query (one job on Spark)."""
    tables = []
    for node in read.project.manifest["nodes"].values():
        materialized = node.get("config", {}).get("materialized")
        if node["resource_type"] != "model" or materialized not in ("table", "incremental"):
            continue
        layer = node["fqn"][1] if len(node["fqn"]) > 2 else "other"
        relation = Relation(node.get("database"), node["schema"], node.get("alias") or node["name"])
        tables.append((layer, node["name"], relation))
    for name, relation in sorted(read.project.source_tables("ml").items()):
        tables.append(("ml (python_scoring)", name, relation))
    present = [t for t in tables if read.wh.exists(t[2])]
    if not present:
        return []
    union = " union all ".join(
        f"select {sql_literal(layer)} as layer, {sql_literal(name)} as table_name, "
        f"count(*) as row_count from {relation.sql}"
        for layer, name, relation in present
    )
    rows = read.wh.query_arrow(union).to_pylist()
    order = {layer: i for i, layer in enumerate([*LAYERS, "ml (python_scoring)"])}
    return sorted(rows, key=lambda r: (order.get(r["layer"], 99), r["table_name"]))


def _tests(project: Project) -> list[dict[str, Any]]:
    """The latest result of every test of the project's manifest that a dbt build run by
    scorehouse has run (dbt_runner records them)."""
    known = {
        uid: node
        for uid, node in project.manifest["nodes"].items()
        if node["resource_type"] == "test"
    }
    recorded = dbt_runner.recorded_tests(project)
    severity = {"error": 0, "fail": 1, "warn": 2}
    return sorted(
        (r for uid, r in recorded.items() if uid in known),
        key=lambda r: (severity.get(r["status"], 3), r["name"]),
    )


def _composite(read: _Reader) -> list[dict[str, Any]]:
    """Per entity and month: the composite score in 20 bins of width 0.05 with their rows
    and mean weight coverage (aggregated in the warehouse)."""
    return read.rows(
        read.model("composite_scores"),
        "select entity, score_month, "
        "cast(least(floor(composite_score * 20), 19) as integer) as bin, count(*) as rows_in_bin, "
        "avg(weight_coverage) as mean_coverage, "
        "sum(case when weight_coverage >= 0.999999 then 1 else 0 end) as full_coverage "
        f"from {{t}} where 1 = 1{read.until('score_month')} "
        "group by entity, score_month, cast(least(floor(composite_score * 20), 19) as integer) "
        "order by entity, score_month, bin",
    )


def collect(
    project: Project,
    wh: Warehouse,
    domains: list[str] | None = None,
    month: dt.date | None = None,
) -> ReportData:
    """Everything the report draws, for the registry's domains (or `domains`), as of
    `month` (None: everything the warehouse holds)."""
    read = _Reader(project, wh, month)
    specs = sorted(load_registry(project).values(), key=lambda s: (s.domain, s.name))
    if domains:
        unknown = sorted(set(domains) - {s.domain for s in specs})
        if unknown:
            known = ", ".join(sorted({s.domain for s in specs}))
            raise ScorehouseError(f"no registry model of domain {unknown[0]} (domains: {known})")
        specs = [s for s in specs if s.domain in domains]
    cards = [c for c in _cards(read, specs) if c.run is not None or c.monitoring or c.online]
    shown = sorted({c.spec.domain for c in cards} | set(domains or []))
    latest: dict[str, dt.date | None] = {}
    for domain in shown:
        months = [m["score_month"] for c in cards if c.spec.domain == domain for m in c.monitoring]
        months += [
            c.run["oot_month"]
            for c in cards
            if c.spec.domain == domain and c.run and c.run["oot_month"]
        ]
        latest[domain] = max(months) if months else None
    wants = set(domains or shown)
    telco, bank = "telco" in wants, "bank" in wants
    entities = {c.spec.entity for c in cards}

    def mart(name: str, wanted: bool) -> Relation | None:  # None: nothing is read
        return read.model(name) if wanted else None

    output = project.profile_output
    return ReportData(
        title="scorehouse report",
        target=f"{output.get('type', '?')} ({output['target_name']})",
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None),
        month=month,
        domains=shown,
        cards=cards,
        latest_month=latest,
        layers=_layers(read),
        tests=_tests(project),
        composite=[r for r in _composite(read) if r["entity"] in entities],
        feature_psi=read.rows(
            mart("feature_psi", telco),
            "select column_name, current_month, psi, psi_band from {t} "
            f"where 1 = 1{read.until('current_month')} order by column_name, current_month",
        ),
        feature_iv=read.rows(
            mart("feature_iv", telco),
            "select scenario, column_name, iv, iv_rank from {t} order by scenario, iv_rank",
        ),
        feature_profiles=read.rows(
            mart("feature_profiles", telco),
            f"select * from {{t}} where 1 = 1{read.until('month')} order by month, column_name",
        ),
        clusters=read.rows(
            mart("retail_cluster_profiles", bank), "select * from {t} order by rule_set, cluster"
        ),
        rules=read.rows(
            read.ml("association_rules") if bank else None,
            "select rule_set, cluster, rule_id, antecedents, consequents, support, confidence, "
            f"lift from {{t}} order by support * confidence desc, rule_id limit {TOP_RULES}",
        ),
        cross_sell=read.rows(
            mart("cross_sell_recommendations", bank),
            "select rule_set, item, count(*) as customers, "
            "sum(case when recommendation_rank = 1 then 1 else 0 end) as first_choice "
            "from {t} group by rule_set, item order by rule_set, customers desc",
        ),
        bank_lists=_bank_lists(read) if bank else [],
        privacy=inventory_rows(project.manifest),
    )


def _bank_lists(read: _Reader) -> list[dict[str, Any]]:
    """Rows per month of the bank's campaign lists (churn warnings, potential customers)."""
    out = []
    for mart in ("corporate_churn_warnings", "potential_customers_guangdong"):
        for row in read.rows(
            read.model(mart),
            f"select score_month, count(*) as customers from {{t}} "
            f"where 1 = 1{read.until('score_month')} group by score_month order by score_month",
        ):
            out.append({"list": mart, **row})
    return out
