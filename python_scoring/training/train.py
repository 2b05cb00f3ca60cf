"""`scorehouse train`: fit one registry model on its dbt training set and record the run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats as scipy_stats
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, RandomizedSearchCV, StratifiedGroupKFold

from python_scoring import artifacts, tracking
from python_scoring.errors import ScorehouseError
from python_scoring.features import metrics, stats
from python_scoring.features.pipeline import build_pipeline, pipeline_summary, split_feature_types
from python_scoring.project import Project
from python_scoring.registry import ModelSpec
from python_scoring.warehouse import Warehouse, sql_literal, to_pandas

log = logging.getLogger(__name__)
SPLITS = ("train", "test", "oot")
# Peak training memory per loaded cell (rows x columns), measured with the churn model
# (LightGBM, IV screen, pairwise derivation) at 1M subscribers x 12 months: 10.8 GB peak
# RSS for 3,252,045 rows x 82 columns, i.e. ~41 bytes: the frame, the copies screening
# and derivation make, LightGBM's own float matrix and the per-split predictions.
PEAK_BYTES_PER_CELL = 41


@dataclass(frozen=True)
class TrainResult:
    spec: ModelSpec
    artifact: artifacts.Artifact
    metrics: dict[str, dict[str, float]]  # split -> {auc, ks, gini, rows, positive_rate}


def _plan_months(
    wh: Warehouse, spec: ModelSpec, relation
) -> tuple[list[dt.date], dt.date | None, dict[tuple, int]]:
    """The in-time months (the last `train_months` before the out-of-time month), the
    out-of-time month (registry `oot_month`, else the month whose rows have split 'oot';
    None for `out_of_time: false`) and the row count per (month, split, label)."""
    m = spec.month_column
    rows = wh.query_arrow(
        f"select {m} as month, split, {spec.label} as label, count(*) as n "
        f"from {relation.sql} group by {m}, split, {spec.label}"
    ).to_pylist()
    if not rows:
        raise ScorehouseError(f"{relation} is empty: nothing to train on")
    counts = {(r["month"], r["split"], r["label"]): r["n"] for r in rows}
    months = sorted({r["month"] for r in rows})
    oot: dt.date | None = None
    if spec.out_of_time:
        if spec.oot_month is not None:
            if spec.oot_month not in months:
                raise ScorehouseError(
                    f"registry oot_month {spec.oot_month} of '{spec.name}' is not in {relation} "
                    f"(it holds {months[0]} .. {months[-1]})"
                )
            oot = spec.oot_month
        else:
            marked = sorted({r["month"] for r in rows if r["split"] == "oot"})
            if len(marked) != 1:
                raise ScorehouseError(
                    f"{relation} must hold exactly one out-of-time month (split = 'oot'), found "
                    f"{len(marked)}: is the score month's previous month in the data?"
                )
            oot = marked[0]
    in_time = sorted(
        {r["month"] for r in rows if r["split"] != "oot" and (oot is None or r["month"] < oot)}
    )
    if not in_time:
        raise ScorehouseError(f"{relation} has no in-time month before the out-of-time month")
    chosen = in_time[-spec.train_months :]
    if len(chosen) < spec.train_months:
        log.warning(
            "%s: registry asks for %d train months, the data has %d",
            spec.name,
            spec.train_months,
            len(chosen),
        )
    return chosen, oot, counts


def _sampling_fraction(spec: ModelSpec, rows: int, n_columns: int) -> float:
    """1.0, or the fraction that brings the estimated peak memory under the budget."""
    estimate = rows * n_columns * PEAK_BYTES_PER_CELL
    budget = spec.memory_budget_gb * 1e9
    if estimate <= budget:
        log.info(
            "%s: %d rows x %d columns, estimated peak %.1f GB within the %.1f GB budget",
            spec.name,
            rows,
            n_columns,
            estimate / 1e9,
            spec.memory_budget_gb,
        )
        return 1.0
    if not spec.sample_over_budget:
        raise ScorehouseError(
            f"training '{spec.name}' on {rows:,} rows x {n_columns} columns needs about "
            f"{estimate / 1e9:.1f} GB, over its memory_budget_gb {spec.memory_budget_gb}: raise "
            "the budget, set fewer train_months, or allow sample_over_budget"
        )
    fraction = budget / estimate
    log.warning(
        "%s: %d rows x %d columns would need about %.1f GB, over the %.1f GB budget: training "
        "on a stratified sample of %.1f%% of the rows (per month, split and label)",
        spec.name,
        rows,
        n_columns,
        estimate / 1e9,
        spec.memory_budget_gb,
        100 * fraction,
    )
    return fraction


def _load_sql(
    wh: Warehouse,
    spec: ModelSpec,
    relation,
    columns: list[str],
    train_months: list[dt.date],
    oot: dt.date | None,
    fraction: float,
) -> str:
    """The training rows: in-time rows (split train/test) of the chosen months and every
    row of the out-of-time month, relabelled 'oot'. Below fraction 1, the first
    ceil(n * fraction) rows of every (month, split, label) stratum in a fixed pseudo-random
    order (md5 of the id), so the same data always gives the same sample. Rows come
    ordered by month and id."""
    m = spec.month_column
    in_time = ", ".join(sql_literal(x) for x in train_months)
    condition = f"({m} in ({in_time}) and split <> 'oot')"
    split = "split"
    if oot is not None:
        condition += f" or {m} = {sql_literal(oot)}"
        split = f"case when {m} = {sql_literal(oot)} then 'oot' else split end"
    select = ", ".join([*(c for c in columns if c != "split"), f"{split} as split"])
    # rows in one order on every engine: the same data gives the same model
    order = f"order by {m}, {spec.entity_id}"
    if fraction >= 1:
        return f"select {select} from {relation.sql} where {condition} {order}"
    strata = f"partition by {m}, {split}, {spec.label}"
    text_id = wh.as_text(spec.entity_id)
    return (
        f"select {select} from (select t.*, row_number() over ({strata} order by "
        f"md5({text_id})) as sample_rank, count(*) over ({strata}) "
        f"as stratum_rows from {relation.sql} as t where {condition}) as strata "
        f"where sample_rank <= ceil(stratum_rows * {fraction!r}) {order}"
    )


def _fingerprint(frame: pd.DataFrame, spec: ModelSpec, columns: list[str]) -> str:
    """Fingerprint of the training data, independent of row order, column order and the
    engine's client types: the column names, then (id, month, label, split) of every row
    (as text, days, integer, text), hashed and summed (uint64)."""
    keys = pd.DataFrame(
        {
            "id": frame[spec.entity_id].astype(str),
            "month": pd.to_datetime(frame[spec.month_column]).to_numpy().astype("datetime64[D]"),
            "label": frame[spec.label].astype("int64"),
            "split": frame["split"].astype(str),
        }
    )
    keys["month"] = keys["month"].astype("int64")
    rows_hash = int(pd.util.hash_pandas_object(keys, index=False).to_numpy().sum(dtype="uint64"))
    text = json.dumps([sorted(columns), len(frame), rows_hash])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _evaluate(y: pd.Series, score, threshold: float) -> dict[str, float]:
    """Every metric of one split, flat (metric name -> value), as ml.model_metrics holds it."""
    result = {
        "rows": int(y.size),
        "positive_rate": float(y.mean()),
        "auc": metrics.auc(y, score),
        "ks": metrics.ks(y, score),
        "gini": metrics.gini(y, score),
    }
    result.update({f"{k}_top10": v for k, v in metrics.at_top(y, score, 0.1).items()})
    result.update(
        {f"{k}_at_threshold": v for k, v in metrics.at_threshold(y, score, threshold).items()}
    )
    for row in metrics.decile_table(y, score):
        for name in ("lift", "positive_rate", "cumulative_lift"):
            result[f"{name}_decile_{row['decile']}"] = row[name]
    return result


def _distributions(space: dict[str, Any]) -> dict[str, Any]:
    """Registry search space -> RandomizedSearchCV distributions. A list is a choice;
    {low, high[, log][, integer]} a uniform (log-uniform) range. Plain names are
    estimator parameters; names with '__' address a pipeline step (e.g. derive__top_k)."""
    out = {}
    for name, values in space.items():
        key = name if "__" in name else f"model__{name}"
        if isinstance(values, list):
            out[key] = values
        elif values.get("integer"):
            out[key] = scipy_stats.randint(int(values["low"]), int(values["high"]) + 1)
        elif values.get("log"):
            out[key] = scipy_stats.loguniform(values["low"], values["high"])
        else:
            out[key] = scipy_stats.uniform(values["low"], values["high"] - values["low"])
    return out


def _search(spec: ModelSpec, pipeline, X: pd.DataFrame, y: pd.Series, groups) -> Any:
    """Randomized search with folds grouped by entity (a customer's months stay in one
    fold), refitted on all training rows with the best parameters."""
    assert spec.search is not None
    search = RandomizedSearchCV(
        pipeline,
        _distributions(spec.search.space),
        n_iter=spec.search.n_iter,
        scoring=spec.search.scoring,
        cv=GroupKFold(n_splits=spec.search.cv, shuffle=True, random_state=spec.seed),
        random_state=spec.seed,
        refit=True,
        n_jobs=1,
        error_score="raise",
    )
    try:
        search.fit(X, y, groups=groups)
    except (ValueError, TypeError) as exc:
        raise ScorehouseError(f"'{spec.name}': hyper-parameter search failed: {exc}") from exc
    log.info(
        "%s: search best %s %.4f with %s",
        spec.name,
        spec.search.scoring,
        search.best_score_,
        search.best_params_,
    )
    return search.best_estimator_, {
        "best_params": {k: _plain(v) for k, v in search.best_params_.items()},
        "best_score": float(search.best_score_),
        "scoring": spec.search.scoring,
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _cross_validate(spec: ModelSpec, pipeline, X: pd.DataFrame, y: pd.Series, groups):
    """k-fold cross-validation on the in-time rows: stratified by label, grouped by
    entity; AUC and KS per fold, reported as mean and standard deviation."""
    folds = StratifiedGroupKFold(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)
    aucs, kss = [], []
    for i, (fit_rows, eval_rows) in enumerate(folds.split(X, y, groups), start=1):
        model = clone(pipeline).fit(X.iloc[fit_rows], y.iloc[fit_rows])
        score = model.predict_proba(X.iloc[eval_rows])[:, 1]
        aucs.append(metrics.auc(y.iloc[eval_rows], score))
        kss.append(metrics.ks(y.iloc[eval_rows], score))
        log.info("%s: cv fold %d/%d AUC %.4f", spec.name, i, spec.cv_folds, aucs[-1])
    return {
        "rows": int(y.size),
        "folds": spec.cv_folds,
        "auc": float(np.mean(aucs)),
        "auc_std": float(np.std(aucs)),
        "ks": float(np.mean(kss)),
        "ks_std": float(np.std(kss)),
    }


def train_model(project: Project, wh: Warehouse, spec: ModelSpec) -> TrainResult:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clock = time.perf_counter()
    stages: dict[str, float] = {}
    relation = project.model(spec.training_set)
    columns = wh.require_columns(relation, [spec.entity_id, spec.month_column, spec.label, "split"])
    train_months, oot_month, counts = _plan_months(wh, spec, relation)
    log.info(
        "%s (%s): in-time months %s .. %s, out-of-time %s",
        spec.name,
        spec.algorithm,
        train_months[0],
        train_months[-1],
        oot_month or "none",
    )

    # memory guard: estimate before loading, sample if over the budget
    available = sum(
        n
        for (month, split, _), n in counts.items()
        if (month in train_months and split != "oot") or month == oot_month
    )
    fraction = _sampling_fraction(spec, available, len(columns))
    frame = to_pandas(
        wh.query_arrow(_load_sql(wh, spec, relation, columns, train_months, oot_month, fraction))
    )
    stages["load"] = time.perf_counter() - clock
    log.info(
        "%s: loaded %d of %d rows x %d columns in %.1fs",
        spec.name,
        len(frame),
        available,
        len(columns),
        stages["load"],
    )
    if frame[spec.label].isna().any():
        raise ScorehouseError(f"{relation}.{spec.label} holds nulls")
    if not frame[spec.label].isin([0, 1]).all():
        raise ScorehouseError(f"{relation}.{spec.label} must hold only 0 and 1")
    fingerprint = _fingerprint(frame, spec, columns)

    # by name: the warehouse's column order differs by engine (Spark puts partition
    # columns last) and must not change the model
    candidates = sorted(c for c in columns if c not in spec.non_features)
    numeric, categorical = split_feature_types(frame, candidates)
    features = numeric + categorical
    splits = [s for s in SPLITS if s != "oot" or oot_month is not None]
    masks = {split: (frame["split"] == split).to_numpy() for split in splits}
    for split, mask in masks.items():
        if frame.loc[mask, spec.label].nunique() < 2:
            raise ScorehouseError(f"{relation}: split '{split}' has a single label class")

    pipeline = build_pipeline(spec)
    X_train = frame.loc[masks["train"], features]
    y_train = frame.loc[masks["train"], spec.label].astype(int)
    search_result = None
    fit_clock = time.perf_counter()
    try:
        if spec.search is not None:
            groups = frame.loc[masks["train"], spec.entity_id].to_numpy()
            pipeline, search_result = _search(spec, pipeline, X_train, y_train, groups)
        else:
            pipeline.fit(X_train, y_train)
    except ValueError as exc:  # e.g. no feature reaches iv_limit
        raise ScorehouseError(f"training '{spec.name}' on {relation}: {exc}") from exc
    stages["fit"] = time.perf_counter() - fit_clock
    log.info(
        "%s: fitted %s on %d rows in %.1fs",
        spec.name,
        spec.algorithm,
        int(masks["train"].sum()),
        stages["fit"],
    )
    kept = pipeline_summary(pipeline)
    if kept["dropped_features"] or kept["derived_features"]:
        log.info(
            "%s: %d feature(s) below iv_limit %.3g dropped, %d derived kept: %s",
            spec.name,
            len(kept["dropped_features"]),
            spec.iv_limit,
            len(kept["derived_features"]),
            ", ".join(d["name"] for d in kept["derived_features"]) or "none",
        )

    eval_clock = time.perf_counter()
    results, reference_scores = {}, None
    for split, mask in masks.items():
        score = pipeline.predict_proba(frame.loc[mask, features])[:, 1]
        results[split] = _evaluate(frame.loc[mask, spec.label].astype(int), score, spec.threshold)
        reference_scores = score  # the last split: out-of-time when there is one, else test
    if spec.cv_folds:
        in_time = masks["train"] | masks["test"]
        results["cv"] = _cross_validate(
            spec,
            pipeline,
            frame.loc[in_time, features],
            frame.loc[in_time, spec.label].astype(int),
            frame.loc[in_time, spec.entity_id].to_numpy(),
        )
    stages["evaluate"] = time.perf_counter() - eval_clock
    del frame, X_train, y_train
    used = pipeline.named_steps.get("screen")
    input_features = list(used.features_) if used is not None else features
    artifact = artifacts.save(
        project.artifacts_dir,
        spec.name,
        pipeline,
        {
            "scenario": spec.scenario,
            "entity_id": spec.entity_id,
            "label": spec.label,
            "training_set": str(relation),
            "features": input_features,
            # every typed column of the training set, before screening
            "candidates": {"numeric": numeric, "categorical": categorical},
            **kept,
            "algorithm": spec.algorithm,
            "imbalance": spec.imbalance,
            "params": pipeline.named_steps["model"].get_params(),
            "search": search_result,
            "train_months": [m.isoformat() for m in train_months],
            "oot_month": oot_month.isoformat() if oot_month else None,
            "rows_available": available,
            "sample_fraction": fraction,
            "data_fingerprint": fingerprint,
            "metrics": results,
            "stage_seconds": stages,
        },
    )
    _record_run(project, wh, spec, artifact, results, started, reference_scores)
    tracking.log_training_run(spec, artifact, results)
    log.info(
        "%s: artifact %s (sha256 %s...) in %.1fs",
        spec.name,
        artifact.path,
        artifact.sha256[:12],
        time.perf_counter() - clock,
    )
    return TrainResult(spec, artifact, results)


def _record_run(
    project: Project,
    wh: Warehouse,
    spec: ModelSpec,
    artifact: artifacts.Artifact,
    results: dict[str, dict[str, float]],
    started: dt.datetime,
    reference_scores: np.ndarray,
) -> None:
    meta = artifact.metadata
    run_id = uuid.uuid4().hex
    row: dict[str, Any] = {
        "run_id": run_id,
        "model_name": spec.name,
        "model_version": artifact.version,
        "algorithm": spec.algorithm,
        "train_months": ",".join(meta["train_months"]),
        "oot_month": dt.date.fromisoformat(meta["oot_month"]) if meta["oot_month"] else None,
        "positive_rate_train": results["train"]["positive_rate"],
        "features": json.dumps(meta["features"]),
        "dropped_features": json.dumps(meta["dropped_features"]),
        "derived_features": json.dumps(meta["derived_features"]),
        "params": json.dumps(
            {"estimator": meta["params"], "search": meta["search"], "imbalance": spec.imbalance},
            default=str,
            sort_keys=True,
        ),
        "rows_available": meta["rows_available"],
        "sample_fraction": meta["sample_fraction"],
        "data_fingerprint": meta["data_fingerprint"],
        "cv_auc": results["cv"]["auc"] if "cv" in results else None,
        "artifact_sha256": artifact.sha256,
        "library_versions": json.dumps(meta["library_versions"], sort_keys=True),
        "started_at": started,
        "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    for split in SPLITS:
        split_result = results.get(split, {})
        row[f"rows_{split}"] = split_result.get("rows")
        row[f"auc_{split}"] = split_result.get("auc")
        row[f"ks_{split}"] = split_result.get("ks")
    relation = project.source("ml", "training_runs")
    wh.require_columns(relation, row)
    metric_rows = [
        {
            "run_id": run_id,
            "model_name": spec.name,
            "model_version": artifact.version,
            "split": split,
            "metric": metric,
            "value": float(value),
        }
        for split, values in results.items()
        for metric, value in values.items()
    ]
    metrics_relation = project.source("ml", "model_metrics")
    wh.require_columns(metrics_relation, metric_rows[0])
    baselines = project.source("ml", "score_baselines")
    wh.require_columns(baselines, ["run_id", "bin", "upper_edge", "baseline_share"])
    schema = pa.schema([(k, _arrow_type(k, v)) for k, v in row.items()])
    # one transaction: a run is recorded with its metrics and baseline or not at all
    # (scoring only uses versions recorded in training_runs)
    wh.append_all(
        [
            (metrics_relation, pa.Table.from_pylist(metric_rows)),
            (baselines, _score_baseline(run_id, spec.name, artifact.version, reference_scores)),
            (relation, pa.Table.from_pylist([row], schema=schema)),
        ]
    )


def _score_baseline(run_id: str, model: str, version: str, scores: np.ndarray) -> pa.Table:
    """Decile cut points of the reference scores and each bin's share (stats binning:
    right-closed bins, the last one open), the baseline of score_monitoring's PSI."""
    cuts = stats.equal_frequency_cuts(scores, 10)
    shares = np.bincount(stats.assign_bins(scores, cuts), minlength=cuts.size + 1) / scores.size
    return pa.table(
        {
            "run_id": [run_id] * shares.size,
            "model_name": [model] * shares.size,
            "model_version": [version] * shares.size,
            "bin": pa.array(np.arange(shares.size), pa.int32()),
            "upper_edge": pa.array([*cuts.tolist(), None], pa.float64()),
            "baseline_share": pa.array(shares, pa.float64()),
        }
    )


def _arrow_type(name: str, value: Any) -> pa.DataType:
    """Types of the training_runs row (nulls need one: a model without out-of-time month)."""
    if name == "oot_month":
        return pa.date32()
    if name.startswith("rows_"):
        return pa.int64()
    if name.startswith(("auc_", "ks_", "cv_")) or name in ("sample_fraction",):
        return pa.float64()
    return pa.array([value]).type


def headline(results: dict[str, dict[str, float]]) -> str:
    """One line: out-of-time AUC/KS, and the cross-validated AUC when there is one."""
    parts = []
    if "oot" in results:
        oot = results["oot"]
        parts.append(f"OOT AUC {oot['auc']:.4f} KS {oot['ks']:.4f} ({oot['rows']:,.0f} rows)")
    if "cv" in results:
        cv = results["cv"]
        parts.append(f"{cv['folds']:.0f}-fold CV AUC {cv['auc']:.4f} ± {cv['auc_std']:.4f}")
    return "; ".join(parts)


def format_metrics(results: dict[str, dict[str, float]], threshold: float) -> str:
    """The evaluation as a small table for the console."""
    splits = [s for s in SPLITS if s in results]
    rows = [
        ("rows", "{:,.0f}", "rows"),
        ("positive rate", "{:.4f}", "positive_rate"),
        ("AUC", "{:.4f}", "auc"),
        ("KS", "{:.4f}", "ks"),
        ("Gini", "{:.4f}", "gini"),
        ("precision @ top 10%", "{:.4f}", "precision_top10"),
        ("recall @ top 10%", "{:.4f}", "recall_top10"),
        ("lift @ top 10%", "{:.2f}", "lift_top10"),
        (f"precision @ {threshold:g}", "{:.4f}", "precision_at_threshold"),
        (f"recall @ {threshold:g}", "{:.4f}", "recall_at_threshold"),
        (f"TP / FP @ {threshold:g}", None, None),
    ]
    lines = ["  " + " " * 22 + "".join(f"{split:>16}" for split in splits)]
    for label, fmt, key in rows:
        if key is None:
            cells = [
                f"{results[s]['tp_at_threshold']:,.0f}/{results[s]['fp_at_threshold']:,.0f}"
                for s in splits
            ]
        else:
            cells = [fmt.format(results[s][key]) for s in splits]
        lines.append(f"  {label:<22}" + "".join(f"{c:>16}" for c in cells))
    last = splits[-1]
    lifts = " ".join(f"{results[last][f'lift_decile_{d}']:.2f}" for d in range(1, 11))
    lines.append(f"  {last.upper() + ' lift by decile':<22}{lifts}")
    if "cv" in results:
        cv = results["cv"]
        lines.append(
            f"  {cv['folds']:.0f}-fold CV (in-time)   AUC {cv['auc']:.4f} ± {cv['auc_std']:.4f}"
            f"   KS {cv['ks']:.4f} ± {cv['ks_std']:.4f}   ({cv['rows']:,.0f} rows)"
        )
    return "\n".join(lines)
