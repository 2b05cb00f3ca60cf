"""How good the one-command path is on a user's table: `scorehouse scaffold` into a copy of
the project, then the registry's default recipe, `search: auto` and two references
(LightGBM as it comes; the registry's former defaults) cross-validated on the same
training set with the same folds (5, stratified, grouped by id, seed 42). Prints each
recipe's CV AUC and fit time, and its AUC minus the reference's (LGBMClassifier()).

    .venv/bin/python bench/own_table_recipes.py path/to/Telco-Customer-Churn.csv \\
        --id customerID --label Churn=Yes [--budget 120]

Quality figures, not timings: the seconds are one run each, on whatever else the machine
is doing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("dbt_project.yml", "selectors.yml", "models", "macros", "seeds", "analyses")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--id", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--budget", type=float, default=120.0, help="search: auto's seconds")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="scorehouse-recipes-"))
    copy = root / "project"
    copy.mkdir()
    for name in PROJECT_FILES:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, copy / name)
    shutil.copytree(REPO / "tests" / "dbt", copy / "tests" / "dbt")
    shutil.copy(REPO / "profiles_example.yml", copy / "profiles.yml")
    os.environ.update(
        SCOREHOUSE_TARGET="duckdb",
        SCOREHOUSE_DUCKDB_PATH=str(root / "warehouse.duckdb"),
        SCOREHOUSE_ARTIFACTS=str(root / "artifacts"),
        SCOREHOUSE_LOG_DIR=str(root / "logs"),
    )

    from python_scoring.cli import main as scorehouse

    clock = time.perf_counter()
    status = scorehouse(
        ["--project-dir", str(copy), "-q", "scaffold", "bench_table", "--from", args.file,
         "--id", args.id, "--label", args.label]
    )  # fmt: skip
    if status:
        sys.exit(status)
    print(f"scaffold: {time.perf_counter() - clock:.1f}s")
    _compare(copy, args.budget)


def _compare(copy: Path, budget: float) -> None:
    from python_scoring.features.pipeline import split_feature_types
    from python_scoring.project import Project
    from python_scoring.registry import Search, load_registry
    from python_scoring.training.fit import cross_validate, fit_function
    from python_scoring.warehouse import Warehouse, to_pandas

    project = Project(copy)
    spec = load_registry(project)["bench_table"]
    with Warehouse.connect(project) as wh:
        frame = to_pandas(wh.query_arrow(f"select * from {project.model(spec.training_set).sql}"))
    numeric, text = split_feature_types(
        frame, sorted(c for c in frame.columns if c not in spec.non_features)
    )
    X, y = frame[numeric + text], frame[spec.label].astype(int)
    groups = frame[spec.entity_id].to_numpy()
    old = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31}
    recipes = {
        "LGBMClassifier() as it comes (reference)": dataclasses.replace(
            spec, params={"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31}
        ),
        "former registry defaults (300 x 31, class weights)": dataclasses.replace(
            spec, params=old, imbalance="class_weight"
        ),
        "default recipe (early-stopped LightGBM)": spec,
        f"search: auto (budget {budget:.0f}s)": dataclasses.replace(
            spec, search=Search(space={}, auto=True), search_budget_seconds=budget
        ),
    }
    print(f"{len(frame)} rows, {len(numeric)} numeric + {len(text)} text features")
    reference = None
    for name, recipe in recipes.items():
        clock = time.perf_counter()
        cv, _ = cross_validate(recipe, fit_function(recipe), X, y, groups)
        seconds = time.perf_counter() - clock
        reference = cv["auc"] if reference is None else reference
        print(
            f"{name:52s} CV AUC {cv['auc']:.4f} ± {cv['auc_std']:.4f}  "
            f"{cv['auc'] - reference:+.4f} vs reference  {seconds:6.1f}s"
        )


if __name__ == "__main__":
    main()
