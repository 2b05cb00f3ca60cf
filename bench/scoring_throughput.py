"""Scoring speed and memory, one run, figures and ratios printed:

1. prediction on 1,000,000 rows x 60 features already in memory, 300 trees of 31 leaves,
   2 threads: `lightgbm.Booster.predict` (the reference), lleaves-compiled trees;
2. reason codes: path attribution (python_scoring.features.reasons) vs exact TreeSHAP
   (`pred_contrib`), rows/s, and their top-3 agreement on a sample; the random forest's
   (the registry's package_upsell_rf settings: 200 trees, min_samples_leaf 100,
   max_samples 0.3) predict_proba and leaf-credit reasons on 1,000,000 rows (goal: 3
   reasons at 1M in <= 30 s);
3. end to end from DuckDB: read in 1 piece (the registry's default), in 10 pieces by the
   id's last digit (each piece one scan of the input) and in 10 by row position (each piece
   reads its own row range: `piece_by: position`), transform,
   predict (lleaves), reasons off / on, write each piece to a staging table and swap the
   slice -- the functions `scorehouse score` runs (`scored_table`, `write_piece`,
   `swap_slice`) -- in a child process whose peak RSS is measured, at 1,000,000 and
   10,000,000 rows (a narrow synthetic scoring-input table generated in DuckDB).

Every ratio divides by a reference measured the same way in the same run and printed
beside it: the median of --runs runs (3) after a warm-up, on the same rows. The loops'
reference is `Booster.predict` over that size's own scoring-input rows, held in memory
(in 1,000,000-row blocks: 10M x 60 doubles would be 4.8 GB), only the predict calls timed.

    .venv/bin/python bench/scoring_throughput.py              # 1M and 10M
    .venv/bin/python bench/scoring_throughput.py --sizes 1000000
    .venv/bin/python bench/scoring_throughput.py --loop-only    # part 3 only

Work files under bench/results/scoring/ (deleted first).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from measure import median_seconds, peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "bench" / "results" / "scoring"
N_FEATURES = 60
# the registry's default (one piece), and 10 pieces by the id's last digit (each one scan of
# the input) and by row position (each reads its own rows)
PIECES = [(1, "last_digit"), (10, "last_digit"), (10, "position")]
BLOCK = 1_000_000
RUNS = 3  # timed runs after a warm-up; their median is the figure (--runs)


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        rng.normal(size=(n, N_FEATURES)), columns=[f"f{i:02d}" for i in range(N_FEATURES)]
    )
    logit = X.iloc[:, :8].to_numpy() @ np.linspace(1.0, 0.2, 8) + 0.5 * X["f08"] * X["f09"]
    y = (logit + rng.logistic(size=n) > 2.5).astype(int)
    return X, y


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>12,.0f} rows/s"


def train(path: Path):
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    X, y = synthetic(300_000, 1)
    prep = ColumnTransformer(
        [("numeric", "passthrough", list(X.columns))], verbose_feature_names_out=False
    )
    prep.set_output(transform="pandas")
    model = LGBMClassifier(
        n_estimators=300, num_leaves=31, learning_rate=0.05, n_jobs=2, verbose=-1
    )
    pipeline = Pipeline([("prep", prep), ("model", model)]).fit(X, y)
    joblib.dump(pipeline, path)
    return pipeline


def in_memory(pipeline, runs: int) -> None:
    from python_scoring.artifacts import Artifact
    from python_scoring.features.compiled import predictor_for
    from python_scoring.features.reasons import PathAttribution, top_reasons

    model = pipeline.named_steps["model"]
    X, _ = synthetic(1_000_000, 2)
    values = X.to_numpy()
    print(f"  in memory, 1,000,000 rows, median of {runs} runs after a warm-up:")
    base = median_seconds(lambda: model.booster_.predict(values, num_threads=2), runs)
    reference = model.booster_.predict(values, num_threads=2)
    print(f"  LightGBM Booster.predict       {rate(len(X), base)}   1.00x (the reference)")

    work = ROOT / "artifact"
    clock = time.perf_counter()
    predictor = predictor_for(model, Artifact("bench", "v1", work, {"sha256": "bench" * 8}))
    compile_seconds = time.perf_counter() - clock
    predictor.predict(X.head(1000))  # the first-batch check against LightGBM
    seconds = median_seconds(lambda: predictor.predict(X), runs)
    fast = predictor.predict(X)
    print(
        f"  lleaves compiled ({predictor.method:<8})   {rate(len(X), seconds)}   "
        f"{base / seconds:.2f}x   (compile once: {compile_seconds:.1f}s; max |diff| "
        f"{np.max(np.abs(fast - reference)):.1e})"
    )

    sample = values[:200_000]  # attribution is slower: its reference is predict on these rows
    sample_base = median_seconds(lambda: model.booster_.predict(sample, num_threads=2), runs)
    attribution = PathAttribution(model.booster_)

    def attribute():
        return top_reasons(attribution.contributions(sample), list(X.columns), 3)

    path_seconds = median_seconds(attribute, runs)
    contributions = attribution.contributions(sample)
    print(
        f"  reasons, path attribution      {rate(len(sample), path_seconds)}   "
        f"{sample_base / path_seconds:.2f}x of predict on the same 200,000 rows "
        f"({rate(len(sample), sample_base).strip()})"
    )
    shap_rows = values[:5_000]
    shap_seconds = median_seconds(
        lambda: model.booster_.predict(shap_rows, pred_contrib=True, num_threads=2), runs
    )
    shap = model.booster_.predict(shap_rows, pred_contrib=True, num_threads=2)[:, :-1]
    path_small = median_seconds(lambda: attribution.contributions(shap_rows), runs)
    print(
        f"  reasons, exact TreeSHAP        {rate(len(shap_rows), shap_seconds)}   "
        f"({path_small / shap_seconds:.3f}x of path attribution on the same 5,000 rows)"
    )
    names = list(X.columns)
    ours = np.column_stack(top_reasons(contributions[: len(shap_rows)], names, 3))
    exact = np.column_stack(top_reasons(shap, names, 3))
    top1 = np.mean(ours[:, 0] == exact[:, 0])
    same_set = np.mean([set(a) == set(b) for a, b in zip(ours, exact, strict=True)])
    overlap = np.mean([len(set(a) & set(b)) / 3 for a, b in zip(ours, exact, strict=True)])
    print(
        f"  top-3 agreement with TreeSHAP on {len(shap_rows):,} rows: top-1 equal {top1:.1%}, "
        f"same top-3 set {same_set:.1%}, mean top-3 overlap {overlap:.1%}"
    )


def forest_in_memory(runs: int) -> None:
    from sklearn.ensemble import RandomForestClassifier

    from python_scoring.features.reasons import ForestAttribution, top_reasons

    X, y = synthetic(300_000, 4)
    clock = time.perf_counter()
    forest = RandomForestClassifier(
        n_estimators=200, min_samples_leaf=100, max_samples=0.3, n_jobs=2, random_state=0
    ).fit(X.to_numpy(), y)
    leaves = sum(e.get_n_leaves() for e in forest.estimators_)
    print(
        f"  random forest, 200 trees, {leaves:,} leaves (trained on 300,000 rows in "
        f"{time.perf_counter() - clock:.0f}s); 1,000,000 rows, median of {runs} after a warm-up:"
    )
    values = synthetic(1_000_000, 5)[0].to_numpy()
    base = median_seconds(lambda: forest.predict_proba(values), runs)
    print(f"  RandomForest.predict_proba     {rate(len(values), base)}   1.00x (the reference)")
    attribution = ForestAttribution(forest)
    names = list(X.columns)

    def reasons():
        scores, contributions = attribution.explain(values)
        return scores, top_reasons(contributions, names, 3)

    seconds = median_seconds(reasons, runs)
    print(
        f"  scores + leaf-credit reasons + top 3 (one walk) {rate(len(values), seconds)}   "
        f"{base / seconds:.2f}x; {seconds:.1f}s (goal <= 30 s)"
    )


def make_input(db: Path, rows: int) -> None:
    import duckdb

    from python_scoring import contract

    columns = ", ".join(f"random() * 2 - 1 as f{i:02d}" for i in range(N_FEATURES))
    con = duckdb.connect(str(db))
    con.execute("set threads = 2")
    con.execute(
        "create or replace table scoring_input as select cast(range as varchar) as id, "
        f"{columns} from range({rows})"
    )
    # ml.model_scores as the contract has it (reason values included)
    con.register("contract_model_scores", contract.model_scores_schema(3).empty_table())
    con.execute("create or replace table model_scores as from contract_model_scores")
    con.close()


def child(db: Path, model_path: Path, reasons: int, pieces: int, by: str) -> None:
    """One scoring run, as `scorehouse score` does it (pieces, staging, swap)."""
    import datetime as dt

    from python_scoring.artifacts import Artifact
    from python_scoring.features.compiled import predictor_for
    from python_scoring.features.pipeline import feature_names
    from python_scoring.features.reasons import attribution_for
    from python_scoring.project import Relation
    from python_scoring.scoring.task import ScoringModel, scored_table
    from python_scoring.warehouse._duckdb import DuckDBWarehouse

    pipeline = joblib.load(model_path)
    model = pipeline.named_steps["model"]
    features = [f"f{i:02d}" for i in range(N_FEATURES)]
    scoring = ScoringModel(
        features,
        "id",
        pipeline,
        predictor_for(model, Artifact("bench", "v1", ROOT / "artifact", {"sha256": "bench" * 8})),
        attribution_for(model) if reasons else None,
        feature_names(pipeline),
        reasons,
    )
    wh = DuckDBWarehouse(
        {"type": "duckdb", "path": str(db), "threads": 2, "settings": {"memory_limit": "4GB"}}
    )
    target = Relation(None, "main", "model_scores")
    staging = Relation(None, "main", "model_scores__staging")
    wh.create_piece_table(staging, like=target)
    filters = wh.piece_filters(Relation(None, "main", "scoring_input"), "1 = 1", "id", by, pieces)
    now = dt.datetime.now()
    clock = time.perf_counter()
    for piece in range(pieces):
        sql = f"select id, {', '.join(features)} from scoring_input where {filters[piece]}"
        constants = {
            "model_name": "bench",
            "model_version": "v1",
            "score_month": dt.date(2025, 1, 1),
            "scored_at": now,
            "piece": piece,
            "pieces": pieces,
        }
        wh.write_piece(
            staging,
            piece,
            sql,
            lambda frame, constants=constants: scored_table(frame, scoring, constants),
            lambda rows: None,
        )
    wh.swap_slice(target, {"model_name": "bench"}, staging)
    print(f"loop_seconds {time.perf_counter() - clock:.3f}")  # after imports, model load
    wh.close()
    print(f"peak_rss_mb {peak_rss_mb():.0f}")


def booster_reference(db: Path, model_path: Path, runs: int) -> float:
    """Median seconds of `Booster.predict` over every row of the scoring input, read into
    memory in blocks first (only the predict calls are timed), after a warm-up."""
    import duckdb

    booster = joblib.load(model_path).named_steps["model"].booster_
    features = ", ".join(f"f{i:02d}" for i in range(N_FEATURES))
    con = duckdb.connect(str(db), read_only=True)
    reader = con.sql(f"select {features} from scoring_input").fetch_record_batch(BLOCK)
    seconds = []
    for batch in reader:
        block = np.column_stack([c.to_numpy() for c in batch.columns])
        seconds.append(
            median_seconds(lambda block=block: booster.predict(block, num_threads=2), runs)
        )
    con.close()
    return sum(seconds)


def scoring_run(
    db: Path, model_path: Path, reasons: int, pieces: int, by: str
) -> tuple[float, float, float]:
    """One child process's scoring: (process seconds, loop seconds, peak RSS in GiB)."""
    clock = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            str(db),
            str(model_path),
            str(reasons),
            str(pieces),
            by,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    out = proc.communicate()[0]
    seconds = time.perf_counter() - clock
    if proc.returncode != 0:
        raise SystemExit(f"child run failed with status {proc.returncode}")
    figures = dict(line.split() for line in out.splitlines() if line.count(" ") == 1)
    return seconds, float(figures["loop_seconds"]), float(figures["peak_rss_mb"]) / 1024


def end_to_end(model_path: Path, sizes: list[int], runs: int) -> None:
    for rows in sizes:
        db = ROOT / f"input_{rows}.duckdb"
        clock = time.perf_counter()
        make_input(db, rows)
        print(f"  {rows:,} rows: synthetic scoring input in {time.perf_counter() - clock:.1f}s")
        reference = booster_reference(db, model_path, runs)
        print(
            f"    reference: Booster.predict in memory on these {rows:,} rows "
            f"{reference:6.1f}s {rate(rows, reference)} (median of {runs} after a warm-up)"
        )
        # with reasons: one piece at 1M (reasons cost the same whatever the pieces)
        runs_of = [(p, by, 0) for p, by in PIECES] + (
            [(1, "last_digit", 3)] if rows <= BLOCK else []
        )
        for pieces, by, reasons in runs_of:
            scoring_run(db, model_path, reasons, pieces, by)  # warm-up
            measured = [scoring_run(db, model_path, reasons, pieces, by) for _ in range(runs)]
            process = statistics.median(m[0] for m in measured)
            loop = statistics.median(m[1] for m in measured)
            peak = max(m[2] for m in measured)
            print(
                f"    reasons {reasons}, {pieces} piece(s) by {by}: "
                f"process {process:6.1f}s ({reference / process:.2f}x); scoring loop "
                f"{loop:6.1f}s {rate(rows, loop)} ({reference / loop:.2f}x of the reference); "
                f"peak RSS {peak:.2f} GiB (max of {runs})"
            )
        db.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs after a warm-up")
    parser.add_argument("--loop-only", action="store_true", help="part 3 only")
    parser.add_argument("--child", nargs=5)
    args = parser.parse_args()
    if args.child:
        db, model, reasons, pieces, by = args.child
        child(Path(db), Path(model), int(reasons), int(pieces), by)
        return
    shutil.rmtree(ROOT, ignore_errors=True)
    (ROOT / "artifact").mkdir(parents=True)  # the compiled trees' cache, shared by the children
    print(f"scoring benchmark: {N_FEATURES} features, 300 trees x 31 leaves, 2 threads")
    clock = time.perf_counter()
    pipeline = train(ROOT / "model.joblib")
    print(f"  (model trained on 300,000 rows in {time.perf_counter() - clock:.0f}s)")
    if not args.loop_only:
        in_memory(pipeline, args.runs)
        forest_in_memory(args.runs)
    end_to_end(ROOT / "model.joblib", [int(s) for s in args.sizes.split(",")], args.runs)


if __name__ == "__main__":
    main()
