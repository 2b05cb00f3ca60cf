"""Rule sets: cluster entities, then mine association rules per cluster (mlxtend apriori).

A rule set is an ml exposure with a `meta.scorehouse_rules` block (models/ml/bank/
_bank__exposures.yml). Its `items_input` model holds one row per (rule_set, entity_id,
item) held; an optional `cluster_input` model holds one row per entity with numeric
clustering fields. `scorehouse rules` then

1. clusters the entities of `cluster_input`: standardised fields, KMeans for every k in
   [k_min, k_max]; the k with the highest silhouette score (computed on a seeded sample of
   at most `sample_rows` entities) wins: well-separated, compact clusters, no elbow to
   eyeball. Entities without a cluster row (incomplete fields) are not mined. Without a
   `cluster_input`, every entity of the items input is in cluster 0;
2. mines each cluster's transactions (an entity = a transaction, support counted over the
   cluster's entities, holding nothing included): apriori(min_support, max_len), then
   association_rules(confidence >= min_confidence);
3. replaces the rule set's rows of ml.customer_clusters, ml.association_rules and
   ml.association_rule_items in one transaction (on Spark: partition / small-table
   overwrites), so readers see the previous run or this one, never a mix.

The cross-selling and product-mining marts read those tables (models/marts/bank).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from python_scoring import artifacts, contract
from python_scoring.errors import ScorehouseError
from python_scoring.project import Project
from python_scoring.registry import DEFAULT_DOMAIN, DOMAINS, check_keys
from python_scoring.warehouse import Warehouse, sql_literal, to_pandas

log = logging.getLogger(__name__)

ITEM_SEPARATOR = " + "  # antecedents / consequents as people read them: 存款 + 理财


@dataclass(frozen=True)
class Clusters:
    k_min: int = 2
    k_max: int = 8
    sample_rows: int = 20_000


@dataclass(frozen=True)
class RuleSet:
    name: str
    rule_set: str
    items_input: str
    min_support: float
    min_confidence: float
    max_len: int | None = None
    cluster_input: str | None = None
    entity_id: str = "entity_id"  # the id column of cluster_input
    clusters: Clusters = field(default_factory=Clusters)
    seed: int = 42
    domain: str = DEFAULT_DOMAIN  # the business whose monthly cycle mines it
    enabled: bool = True  # False: mined only when named (scorehouse rules, a file job)


_TYPES: dict[str, tuple[type, ...]] = {
    "rule_set": (str,),
    "items_input": (str,),
    "min_support": (float, int),
    "min_confidence": (float, int),
    "max_len": (int,),
    "cluster_input": (str,),
    "entity_id": (str,),
    "clusters": (dict,),
    "seed": (int,),
    "domain": (str,),
    "enabled": (bool,),
}
_REQUIRED = {"rule_set", "items_input", "min_support", "min_confidence"}


def _rule_set(exposure: dict[str, Any]) -> RuleSet:
    where = f"rule set exposure '{exposure['name']}'"
    block = exposure["meta"]["scorehouse_rules"]
    if not isinstance(block, dict):
        raise ScorehouseError(f"{where}: meta.scorehouse_rules must be a mapping")
    check_keys(where, block, _TYPES, _REQUIRED)
    values = dict(block)
    try:
        values["clusters"] = Clusters(**block.get("clusters", {}))
    except TypeError as exc:
        raise ScorehouseError(f"{where}, clusters: {exc}") from exc
    spec = RuleSet(name=exposure["name"], **values)
    if spec.domain not in DOMAINS:
        raise ScorehouseError(f"{where}: domain must be one of {', '.join(DOMAINS)}")
    if not (0 < spec.min_support <= 1 and 0 < spec.min_confidence <= 1):
        raise ScorehouseError(f"{where}: min_support and min_confidence must be in (0, 1]")
    if not 2 <= spec.clusters.k_min <= spec.clusters.k_max:
        raise ScorehouseError(f"{where}: clusters need 2 <= k_min <= k_max")
    if spec.max_len is not None and spec.max_len < 2:
        raise ScorehouseError(f"{where}: max_len must be >= 2 (a rule has two items at least)")
    return spec


def load_rule_sets(project: Project) -> dict[str, RuleSet]:
    """Rule sets by their rule_set name."""
    specs = [
        _rule_set(e) for e in project.ml_exposures() if "scorehouse_rules" in (e.get("meta") or {})
    ]
    return {spec.rule_set: spec for spec in specs}


def monthly_rule_sets(project: Project, domain: str) -> list[RuleSet]:
    """The enabled rule sets of a domain, which its monthly cycle mines."""
    specs = load_rule_sets(project).values()
    return sorted((s for s in specs if s.enabled and s.domain == domain), key=lambda s: s.rule_set)


def select_rule_set(project: Project, name: str) -> RuleSet:
    specs = load_rule_sets(project)
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise ScorehouseError(f"rule set '{name}' is not in the registry (known: {known})")
    return specs[name]


# ---- clustering ------------------------------------------------------------------------
def choose_clusters(
    features: pd.DataFrame, clusters: Clusters, seed: int
) -> tuple[Any, dict[int, float]]:
    """The fitted scaler+KMeans pipeline with the best silhouette, and every k's score."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = features.to_numpy(dtype=float)
    if len(x) <= clusters.k_max:
        raise ScorehouseError(
            f"{len(x)} entities cannot be split into up to {clusters.k_max} clusters"
        )
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x), min(len(x), clusters.sample_rows), replace=False)
    scores: dict[int, float] = {}
    best = None
    for k in range(clusters.k_min, clusters.k_max + 1):
        pipeline = make_pipeline(StandardScaler(), KMeans(k, n_init=10, random_state=seed))
        labels = pipeline.fit_predict(x)
        scaled = pipeline[0].transform(x[sample])
        scores[k] = float(silhouette_score(scaled, labels[sample]))
        log.info("k = %d: silhouette %.4f", k, scores[k])
        if best is None or scores[k] > scores[best[0]]:
            best = (k, pipeline)
    assert best is not None
    return best[1], scores


# ---- rules -----------------------------------------------------------------------------
def mine_rules(
    baskets: pd.DataFrame,
    min_support: float,
    min_confidence: float,
    max_len: int | None = None,
) -> pd.DataFrame:
    """Association rules of a one-hot basket frame (rows = transactions, bool columns =
    items): antecedents, consequents (frozensets), support, confidence, lift, leverage,
    conviction, sorted by lift, confidence, then the items' names."""
    from mlxtend.frequent_patterns import apriori, association_rules

    columns = ["antecedents", "consequents", "support", "confidence", "lift"]
    columns += ["leverage", "conviction"]
    if baskets.empty or baskets.shape[1] < 2:
        return pd.DataFrame(columns=columns)
    frequent = apriori(baskets, min_support=min_support, use_colnames=True, max_len=max_len)
    if len(frequent[frequent["itemsets"].map(len) >= 2]) == 0:
        return pd.DataFrame(columns=columns)
    rules = association_rules(
        frequent,
        num_itemsets=len(baskets),
        metric="confidence",
        min_threshold=min_confidence,
        return_metrics=columns[2:],
    )[columns]
    # conviction is infinite for confidence 1; mlxtend writes inf, the table holds null
    rules["conviction"] = rules["conviction"].replace([np.inf, -np.inf], np.nan)
    order = rules.assign(
        a=rules["antecedents"].map(_readable), c=rules["consequents"].map(_readable)
    ).sort_values(["lift", "confidence", "a", "c"], ascending=[False, False, True, True])
    return rules.loc[order.index].reset_index(drop=True)


def _readable(items: frozenset) -> str:
    return ITEM_SEPARATOR.join(sorted(items))


def one_hot(items: pd.DataFrame, entities: pd.Index) -> pd.DataFrame:
    """entities x items booleans from long (entity_id, item) rows; entities holding
    nothing are all-False rows (they count in support)."""
    matrix = pd.crosstab(items["entity_id"], items["item"]).astype(bool)
    return matrix.reindex(entities, fill_value=False)


@dataclass
class RulesResult:
    rule_set: str
    run_id: str
    clusters: int
    entities: int
    rules: int
    silhouette: dict[int, float]
    seconds: float


def run_rule_set(project: Project, wh: Warehouse, spec: RuleSet) -> RulesResult:
    clock = time.perf_counter()
    run_id = uuid.uuid4().hex
    items_rel = project.model(spec.items_input)
    wh.require_columns(items_rel, ["rule_set", "entity_id", "item"])
    items = to_pandas(
        wh.query_arrow(
            f"select entity_id, item from {items_rel.sql} "
            f"where rule_set = {sql_literal(spec.rule_set)} and item is not null"
        )
    )
    items["entity_id"] = items["entity_id"].astype(str)
    silhouette: dict[int, float] = {}
    if spec.cluster_input:
        relation = project.model(spec.cluster_input)
        columns = wh.require_columns(relation, [spec.entity_id])
        frame = to_pandas(wh.query_arrow(f"select * from {relation.sql}"))
        if frame.empty:
            raise ScorehouseError(f"{relation} is empty: no entity to cluster")
        frame = frame.sort_values(spec.entity_id, kind="stable").reset_index(drop=True)
        fields = [c for c in columns if c != spec.entity_id]
        incomplete = frame[fields].isna().any(axis=1)
        if incomplete.any():
            raise ScorehouseError(
                f"{relation}: {int(incomplete.sum())} row(s) with nulls in clustering fields "
                "(the model must drop them)"
            )
        pipeline, silhouette = choose_clusters(frame[fields], spec.clusters, spec.seed)
        labels = pipeline.predict(frame[fields].to_numpy(dtype=float))
        entities = pd.Series(labels, index=frame[spec.entity_id].astype(str))
        artifact = artifacts.save(
            project.artifacts_dir,
            spec.name,
            pipeline,
            {"fields": fields, "silhouette": silhouette, "entities": len(frame)},
        )
        log.info(
            "%s: %d clusters (silhouette %.4f, best of k = %d..%d) over %d entities; "
            "clustering saved as %s",
            spec.rule_set,
            pipeline[-1].n_clusters,
            silhouette[pipeline[-1].n_clusters],
            spec.clusters.k_min,
            spec.clusters.k_max,
            len(frame),
            artifact.version,
        )
    else:
        ids = sorted(items["entity_id"].unique())
        entities = pd.Series(0, index=pd.Index(ids, name="entity_id"))
    if entities.empty:
        raise ScorehouseError(f"{items_rel} holds no entity for rule set '{spec.rule_set}'")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rule_rows: list[dict[str, Any]] = []
    for cluster in sorted(entities.unique()):
        members = entities.index[entities == cluster]
        baskets = one_hot(items[items["entity_id"].isin(members)], members)
        rules = mine_rules(baskets, spec.min_support, spec.min_confidence, spec.max_len)
        log.info(
            "%s cluster %d: %d entities, %d items, %d rules",
            spec.rule_set,
            cluster,
            len(members),
            baskets.shape[1],
            len(rules),
        )
        for rule in rules.itertuples(index=False):
            rule_rows.append({"cluster": int(cluster), **rule._asdict()})
    written = write_rules(wh, project, spec.rule_set, run_id, entities, rule_rows, now)
    return RulesResult(
        spec.rule_set,
        run_id,
        int(entities.nunique()),
        len(entities),
        written,
        silhouette,
        time.perf_counter() - clock,
    )


def write_rules(
    wh: Warehouse,
    project: Project,
    rule_set: str,
    run_id: str,
    entities: pd.Series,
    rules: list[dict[str, Any]],
    now: dt.datetime,
) -> int:
    """Replace the rule set's rows of the three ml tables at once; returns the rule count."""
    clusters = contract.table(
        "customer_clusters",
        {
            "rule_set": [rule_set] * len(entities),
            "run_id": [run_id] * len(entities),
            "entity_id": entities.index.astype(str),
            "cluster": entities.to_numpy(dtype="int64"),
            "clustered_at": [now] * len(entities),
        },
    )
    rows, item_rows = [], []
    for rule_id, rule in enumerate(rules, start=1):
        rows.append(
            {
                "rule_set": rule_set,
                "run_id": run_id,
                "cluster": rule["cluster"],
                "rule_id": rule_id,
                "antecedents": _readable(rule["antecedents"]),
                "consequents": _readable(rule["consequents"]),
                "antecedent_count": len(rule["antecedents"]),
                "consequent_count": len(rule["consequents"]),
                "support": float(rule["support"]),
                "confidence": float(rule["confidence"]),
                "lift": float(rule["lift"]),
                "leverage": float(rule["leverage"]),
                "conviction": None if pd.isna(rule["conviction"]) else float(rule["conviction"]),
                "created_at": now,
            }
        )
        for side in ("antecedents", "consequents"):
            for item in sorted(rule[side]):
                item_rows.append(
                    {
                        "rule_set": rule_set,
                        "run_id": run_id,
                        "cluster": rule["cluster"],
                        "rule_id": rule_id,
                        "side": side[:-1],
                        "item": item,
                    }
                )
    where = {"rule_set": rule_set}
    wh.replace_slices(
        [
            (project.source("ml", "customer_clusters"), where, clusters),
            (
                project.source("ml", "association_rules"),
                where,
                contract.table("association_rules", rows),
            ),
            (
                project.source("ml", "association_rule_items"),
                where,
                contract.table("association_rule_items", item_rows),
            ),
        ]
    )
    return len(rows)
