"""`scorehouse summary`: what the warehouse holds per domain of the registry — rows of each
model's training set, scoring input and scores, the latest training run, the rule sets'
clusters and rules, and the top of the composite score mart — for a person to read. Only
what exists is shown: a warehouse with nothing but a user's own table summarises that."""

from __future__ import annotations

from python_scoring.errors import ScorehouseError
from python_scoring.mining.rules import load_rule_sets
from python_scoring.project import Project, Relation
from python_scoring.registry import ModelSpec, load_registry
from python_scoring.warehouse import Warehouse, sql_literal


def _rows(wh: Warehouse, relation: Relation, where: str = "1 = 1") -> int | None:
    return wh.count(relation, where) if wh.exists(relation) else None


def _latest_runs(project: Project, wh: Warehouse) -> dict[str, dict]:
    runs = project.source("ml", "training_runs")
    if not wh.exists(runs):
        return {}
    rows = wh.query_arrow(
        f"select model_name, model_version, algorithm, oot_month, rows_oot, auc_test, auc_oot, "
        f"ks_oot, cv_auc, sample_fraction "
        f"from {runs.sql} as runs where finished_at = (select max(finished_at) "
        f"from {runs.sql} as later where later.model_name = runs.model_name)"
    ).to_pylist()
    return {r["model_name"]: r for r in rows}


def _run_line(r: dict) -> str:
    parts = [f"in-time test AUC {r['auc_test']:.4f}"]
    if r["oot_month"] is not None:
        parts.append(
            f"out-of-time {r['oot_month']} ({r['rows_oot']:,} rows) AUC {r['auc_oot']:.4f}"
            f" KS {r['ks_oot']:.4f}"
        )
    if r["cv_auc"] is not None:
        parts.append(f"cross-validated AUC {r['cv_auc']:.4f}")
    if r["sample_fraction"] is not None and r["sample_fraction"] < 1:
        parts.append(f"trained on a {100 * r['sample_fraction']:.1f}% sample")
    return f"{r['model_version']} ({r['algorithm']}): {'; '.join(parts)}"


def _model_lines(project: Project, wh: Warehouse, spec: ModelSpec, run: dict | None) -> list[str]:
    """Rows of the model's tables (those that exist) and its latest run; [] when the
    warehouse holds nothing of the model."""
    scores = project.source("ml", "model_scores")
    counts = [
        ("training set", _rows(wh, project.model(spec.training_set))),
        ("scoring input", _rows(wh, project.model(spec.scoring_input))),
        ("scores", _rows(wh, scores, f"model_name = {sql_literal(spec.name)}")),
    ]
    present = [f"{label} {n:,}" for label, n in counts if n]
    if not present and run is None:
        return []
    state = "" if spec.enabled else " (disabled: not in the monthly run)"
    lines = [f"  {spec.name}{state}: rows: {', '.join(present) or 'none'}"]
    lines.append(f"    latest run {_run_line(run)}" if run else "    not trained")
    return lines


def _rule_set_lines(project: Project, wh: Warehouse, domain: str) -> list[str]:
    clusters = project.source("ml", "customer_clusters")
    rules = project.source("ml", "association_rules")
    lines = []
    for spec in sorted(load_rule_sets(project).values(), key=lambda s: s.rule_set):
        if spec.domain != domain:
            continue
        where = f"rule_set = {sql_literal(spec.rule_set)}"
        n_rules = _rows(wh, rules, where)
        if n_rules:
            n_entities = _rows(wh, clusters, where) or 0
            lines.append(
                f"  rule set {spec.rule_set}: {n_rules:,} rules, {n_entities:,} clustered entities"
            )
    return lines


def _composite_lines(project: Project, wh: Warehouse, entities: set[str]) -> list[str]:
    """The top of the composite mart, when it holds entities of the domains shown (it is
    built for one domain at a time, dbt var `domain`)."""
    try:
        mart = project.model("composite_scores")
    except ScorehouseError:  # a project without the scoring marts
        return []
    if not entities:
        return []
    listed = ", ".join(sql_literal(e) for e in sorted(entities))
    if not _rows(wh, mart, f"entity in ({listed})"):
        return []
    top = wh.query_arrow(
        f"select entity, entity_masked, score_month, composite_score, score_decile, score_rank "
        f"from {mart.sql} where entity in ({listed}) and score_month = "
        f"(select max(score_month) from {mart.sql} where entity in ({listed})) "
        f"order by score_rank limit 10"
    ).to_pylist()
    lines = [f"\nTop of the composite score mart ({mart})"]
    for r in top:
        lines.append(
            f"  #{r['score_rank']:<3} {r['entity']} {r['entity_masked']:<12} {r['score_month']} "
            f"score {r['composite_score']:.4f} decile {r['score_decile']}"
        )
    return lines


def print_summary(project: Project, wh: Warehouse, domains: list[str] | None = None) -> None:
    """Every domain of the registry the warehouse holds something of (or `domains`)."""
    runs = _latest_runs(project, wh)
    by_domain: dict[str, list[ModelSpec]] = {}
    for spec in sorted(load_registry(project).values(), key=lambda s: s.name):
        by_domain.setdefault(spec.domain, []).append(spec)
    shown, entities = 0, set()
    for domain in sorted(by_domain):
        if domains is not None and domain not in domains:
            continue
        lines = [
            line
            for spec in by_domain[domain]
            for line in _model_lines(project, wh, spec, runs.get(spec.name))
        ]
        lines += _rule_set_lines(project, wh, domain)
        if lines:
            entities |= {spec.entity for spec in by_domain[domain]}
            print(f"Domain {domain}" if not shown else f"\nDomain {domain}")
            print("\n".join(lines))
            shown += 1
    if not shown:
        which = f" --domain {domains[0]}" if domains and len(domains) == 1 else ""
        print(f"The warehouse holds no table of a registry model yet: run `scorehouse run{which}`.")
    for line in _composite_lines(project, wh, entities):
        print(line)
