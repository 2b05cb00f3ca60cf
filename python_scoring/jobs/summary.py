"""`scorehouse summary`: what the last monthly run produced, for a person to read."""

from __future__ import annotations

from python_scoring.project import Project
from python_scoring.warehouse import Warehouse

LAYERS = [  # (layer, kind, name)
    ("staging", "model", "stg_telco__usage_monthly"),
    ("features", "model", "subscriber_month_wide"),
    ("targets", "model", "target_churn"),
    ("ml sets", "model", "churn_training_set"),
    ("ml sets", "model", "churn_scoring_input"),
    ("scores", "source", "model_scores"),
    ("marts", "model", "composite_scores"),
]


def print_summary(project: Project, wh: Warehouse) -> None:
    print("Rows per layer")
    for layer, kind, name in LAYERS:
        relation = project.model(name) if kind == "model" else project.source("ml", name)
        print(f"  {layer:<9} {str(relation):<34} {wh.count(relation):>12,}")

    runs_table = project.source("ml", "training_runs").sql
    runs = wh.query_arrow(
        f"select model_name, model_version, algorithm, oot_month, rows_oot, auc_test, auc_oot, "
        f"ks_oot, cv_auc, sample_fraction "
        f"from {runs_table} as runs where finished_at = (select max(finished_at) "
        f"from {runs_table} as later where later.model_name = runs.model_name) "
        f"order by model_name"
    ).to_pylist()
    print("\nLatest training run per model")
    for r in runs:
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
        print(f"  {r['model_name']} {r['model_version']} ({r['algorithm']}): {'; '.join(parts)}")

    top = wh.query_arrow(
        f"select entity, entity_id, score_month, composite_score, score_decile, score_rank "
        f"from {project.model('composite_scores').sql} "
        f"where score_month = (select max(score_month) from "
        f"{project.model('composite_scores').sql}) order by score_rank limit 10"
    ).to_pylist()
    print("\nTop of the composite score mart")
    for r in top:
        print(
            f"  #{r['score_rank']:<3} {r['entity']} {r['entity_id']:<12} {r['score_month']} "
            f"score {r['composite_score']:.4f} decile {r['score_decile']}"
        )
