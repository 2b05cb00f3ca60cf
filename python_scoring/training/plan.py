"""What a training run reads: the in-time and out-of-time months, the memory guard's sample
fraction, the SQL that loads the rows, and the fingerprint of what was loaded."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import pandas as pd

from python_scoring.errors import ScorehouseError
from python_scoring.registry import ModelSpec
from python_scoring.warehouse import Warehouse, sql_literal

log = logging.getLogger(__name__)

SPLITS = ("train", "test", "oot")

# Peak training memory per loaded cell (rows x columns), measured with the churn model
# (LightGBM, IV screen, pairwise derivation) at 1M subscribers x 12 months: 10.8 GB peak
# RSS for 3,252,045 rows x 82 columns, i.e. ~41 bytes: the frame, the copies screening
# and derivation make, LightGBM's own float matrix and the per-split predictions.
PEAK_BYTES_PER_CELL = 41


def plan_months(
    wh: Warehouse, spec: ModelSpec, relation
) -> tuple[list[dt.date], dt.date | None, dict[tuple, int]]:
    """The in-time months (the last `train_months` before the out-of-time month), the
    out-of-time month (registry `oot_month`, else the month whose rows have split 'oot';
    None for `out_of_time: false`) and the row count per (month, split, label). A training
    set with duplicate (id, month) rows in these months is refused."""
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
                    f"{len(marked)}: is the score month's previous month in the data? A "
                    "snapshot (one month, each label known in that month) has none: set "
                    "out_of_time: false, cv_folds: 5 and label_lag_months: 0 in the registry "
                    f"entry of '{spec.name}'"
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
    check_unique_rows(wh, spec, relation, [*chosen, *([oot] if oot else [])])
    return chosen, oot, counts


def check_unique_rows(wh: Warehouse, spec: ModelSpec, relation, months: list[dt.date]) -> None:
    """Refuse a training set with more than one row per (id, month) among the months a
    run reads: a copied row weighs twice, and two rows with different labels teach both."""
    i, m = spec.entity_id, spec.month_column
    listed = ", ".join(sql_literal(x) for x in months)
    rows = wh.query_arrow(
        f"select id, month, count(*) over () as pairs, sum(n) over () as n_rows from "
        f"(select {i} as id, {m} as month, count(*) as n from {relation.sql} "
        f"where {m} in ({listed}) group by {i}, {m} having count(*) > 1) as repeated "
        "order by month, id limit 1"
    ).to_pylist()
    if rows:
        row = rows[0]
        raise ScorehouseError(
            f"{relation} has {row['pairs']:,} ({i}, {m}) pair(s) on more than one row "
            f"({int(row['n_rows']):,} rows), e.g. {i} {row['id']} in {row['month']}: make the "
            f"training set one row per {i} and month in its dbt model"
        )


def sampling_fraction(spec: ModelSpec, rows: int, n_columns: int) -> float:
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


def load_sql(
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


def data_fingerprint(frame: pd.DataFrame, spec: ModelSpec, columns: list[str]) -> str:
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
