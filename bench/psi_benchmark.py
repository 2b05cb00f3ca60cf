"""PSI of every numeric wide-table column, month over month, three ways, one run:

1. the warehouse: the `psi_query` macro (what marts.feature_psi runs), executed in DuckDB;
2. feature_engine's DropHighPSIFeatures on the two months loaded into pandas;
3. a hand-written numpy version (quantile cut points, searchsorted, bincount) on the same
   load.

Times include loading the data out of the warehouse for 2 and 3 (the SQL needs no load);
each figure is the median of --runs runs (3) after a warm-up, and every ratio divides by
figures measured that way in the same run. The SQL is run again under a DuckDB
memory_limit of a quarter of the data, exact and approximate cut points, each in a child
process whose peak RSS is printed (what DuckDB holds outside its buffer pool shows there).

    .venv/bin/python bench/psi_benchmark.py                 # 1,000,000 subscribers
    .venv/bin/python bench/psi_benchmark.py --subscribers 200000

The warehouse is built once under bench/results/ (generate + dbt run of the wide table)
and reused; --rebuild forces a new one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
from measure import peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def build(root: Path, subscribers: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(root),
        "SCOREHOUSE_DUCKDB_PATH": str(root / "warehouse.duckdb"),
    }
    if not (root / "warehouse.duckdb").exists():
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "profiles_example.yml", root / "profiles.yml")
        target = ["--target-path", str(root / "target")]
        steps = [
            [BIN / "dbt", "parse", "--quiet", *target],
            [
                BIN / "scorehouse",
                "--target-path",
                str(root / "target"),
                "--profiles-dir",
                str(root),
                "-q",
                "generate",
                "--subscribers",
                str(subscribers),
                "--months",
                "4",
            ],
            [BIN / "dbt", "run", "--select", "+subscriber_month_wide", "--quiet", *target],
        ]
        for step in steps:
            print("building:", " ".join(str(s) for s in step[:3]), flush=True)
            subprocess.run([str(s) for s in step], cwd=REPO, env=env, check=True)
        with duckdb.connect(env["SCOREHOUSE_DUCKDB_PATH"]) as con:
            con.execute("create schema if not exists bench")
            con.execute(
                "create or replace table bench.wide_2m as select * from "
                "features.subscriber_month_wide where month >= (select max(month) "
                "from features.subscriber_month_wide) - interval 1 month"
            )
    return env


def numeric_columns(con) -> list[str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'bench' and table_name = 'wide_2m' "
        "order by ordinal_position"
    ).fetchall()
    numeric = ("DOUBLE", "BIGINT", "INTEGER", "HUGEINT", "FLOAT", "DECIMAL", "SMALLINT")
    return [name for name, kind in rows if name != "subscriber_id" and kind.startswith(numeric)]


def compile_psi_sql(env: dict[str, str], root: Path, columns: list[str], exact=True) -> str:
    call = "{{ psi_query('bench.wide_2m', " + repr(columns) + ") }}"
    variables = "{exact_quantiles: " + ("true" if exact else "false") + "}"
    command = [
        str(BIN / "dbt"),
        "compile",
        "--quiet",
        "--inline",
        call,
        "--vars",
        variables,
        "--target-path",
        str(root / "target"),
    ]
    return subprocess.run(
        command, cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout


RUNS = 3


def timed(label: str, fn, results: dict, runs: int = RUNS):
    """The median of `runs` timed calls after a warm-up; returns the last call's value."""
    value = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    results[label] = statistics.median(times)
    print(f"  {label:<52} {results[label]:7.2f} s  (median of {runs})", flush=True)
    return value


def limited_child(path: str, sql_file: str, limit_mb: int, spill: str) -> None:
    """Run the SQL under the memory limit, print its seconds and (column, psi) rows."""
    import duckdb

    config = {"threads": 2, "memory_limit": f"{limit_mb}MB", "temp_directory": spill}
    con = duckdb.connect(path, read_only=True, config=config)
    sql = Path(sql_file).read_text()
    start = time.perf_counter()
    try:
        rows = con.execute(sql).fetchall()
    except duckdb.OutOfMemoryException as exc:
        error = str(exc).splitlines()[0][:80]
        print(json.dumps({"error": error, "peak_rss_mb": peak_rss_mb()}))
        return
    seconds = time.perf_counter() - start
    psi = {row[2]: row[5] for row in rows}
    print(json.dumps({"seconds": seconds, "psi": psi, "peak_rss_mb": peak_rss_mb()}))


def limited(path: str, sql: str, limit_mb: int, root: Path) -> tuple[dict, float]:
    """limited_child in a child process: its answer and peak RSS in MB."""
    sql_file = root / "limited.sql"
    sql_file.write_text(sql)
    args = [sys.executable, __file__, "--limited-child", path, str(sql_file), str(limit_mb)]
    proc = subprocess.run([*args, str(root / "spill")], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(
            f"the limited run failed with status {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    answer = json.loads(proc.stdout.splitlines()[-1])
    return answer, answer.pop("peak_rss_mb")


def numpy_psi(base: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    def shares(values, cuts):
        nulls = np.isnan(values)
        counts = np.bincount(
            np.searchsorted(cuts, values[~nulls], side="left"), minlength=len(cuts) + 1
        )
        out = np.append(counts, nulls.sum()) / values.size
        return np.where(out == 0, 1e-4, out)

    valid = base[~np.isnan(base)]
    if valid.size == 0:
        return 0.0
    q = np.quantile(valid, np.arange(1, bins) / bins)
    cuts = np.unique(q[(q > valid.min()) & (q < valid.max())])
    b, c = shares(base, cuts), shares(cur, cuts)
    return float(np.sum((c - b) * np.log(c / b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--limited-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.limited_child:
        path, sql_file, limit_mb, spill = args.limited_child
        limited_child(path, sql_file, int(limit_mb), spill)
        return
    root = REPO / "bench" / "results" / f"psi_{args.subscribers}"
    if args.rebuild:
        shutil.rmtree(root, ignore_errors=True)
    env = build(root, args.subscribers)
    path = env["SCOREHOUSE_DUCKDB_PATH"]

    con = duckdb.connect(path, read_only=True)
    columns = numeric_columns(con)
    months = [
        m
        for (m,) in con.execute(
            "select distinct month from bench.wide_2m order by month"
        ).fetchall()
    ]
    rows = con.execute("select count(*) from bench.wide_2m").fetchone()[0]
    con.close()
    sql = compile_psi_sql(env, root, columns)
    print(
        f"PSI of {len(columns)} numeric columns, {rows:,} rows, months "
        f"{months[0]} -> {months[1]}, 10 bins, DuckDB threads=2"
    )
    results: dict[str, float] = {}

    con = duckdb.connect(path, read_only=True, config={"threads": 2})
    sql_rows = timed("SQL psi_query in DuckDB", lambda: con.execute(sql).fetchall(), results)
    sql_psi = {row[2]: row[5] for row in sql_rows}  # column_name -> psi
    con.close()
    # Under a memory limit of a quarter of the data: the counting pass streams; the exact
    # cut points come from a sort that spills (duckdb__quantile_ctes); approx_quantile
    # (var exact_quantiles: false) streams.
    data_bytes = rows * len(columns) * 8
    limit_mb = max(100, int(data_bytes * 0.25 / 1e6))
    approx_sql = compile_psi_sql(env, root, columns, exact=False)
    print(f"  under memory_limit {limit_mb} MB (data {data_bytes / 1e6:,.0f} MB), child processes:")
    for label, query in (("exact", sql), ("approx_quantile", approx_sql)):
        answers, peaks = [], []
        for _ in range(RUNS + 1):  # a warm-up, then RUNS
            answer, peak = limited(path, query, limit_mb, root)
            answers.append(answer)
            peaks.append(peak)
        if "error" in answers[-1]:
            print(f"    {label} cuts: out of memory ({answers[-1]['error']}...)")
            continue
        seconds = statistics.median(a["seconds"] for a in answers[1:])
        psi = answers[-1]["psi"]
        diffs = sorted(abs(psi[c] - sql_psi[c]) for c in psi)

        def band(value):
            return "error" if value > 0.25 else "warn" if value > 0.1 else "stable"

        moved = sum(band(psi[c]) != band(sql_psi[c]) for c in psi)
        print(
            f"    {label} cuts: {seconds:6.2f} s (median of {RUNS}), peak RSS "
            f"{max(peaks[1:]):,.0f} MB; |PSI - unlimited exact PSI| max {diffs[-1]:.1e}; "
            f"{moved} of {len(diffs)} columns change band"
        )

    con = duckdb.connect(path, read_only=True, config={"threads": 2})
    select = "select month, " + ", ".join(columns) + " from bench.wide_2m"
    frame = timed(
        "load 2 months into pandas (for 2 and 3)", lambda: con.execute(select).df(), results
    )
    con.close()
    data_mb = frame.memory_usage(deep=True).sum() / 1e6

    from feature_engine.selection import DropHighPSIFeatures

    frame["period"] = (frame["month"] == frame["month"].max()).astype(int)
    selector = DropHighPSIFeatures(
        split_col="period",
        cut_off=0.5,
        bins=10,
        strategy="equal_frequency",
        missing_values="ignore",
        threshold=0.25,
    )
    timed(
        "feature_engine DropHighPSIFeatures.fit",
        lambda: selector.fit(frame[[*columns, "period"]]),
        results,
    )

    base = frame[frame["period"] == 0]
    cur = frame[frame["period"] == 1]

    def run_numpy():
        return {c: numpy_psi(base[c].to_numpy(float), cur[c].to_numpy(float)) for c in columns}

    np_psi = timed("numpy", run_numpy, results)

    load = results["load 2 months into pandas (for 2 and 3)"]
    sql_time = results["SQL psi_query in DuckDB"]
    fe_total = load + results["feature_engine DropHighPSIFeatures.fit"]
    np_total = load + results["numpy"]
    print(f"\nloaded data: {data_mb:,.0f} MB in pandas; SQL (the reference) {sql_time:.2f} s")
    print(
        f"feature_engine incl. load {fe_total:6.2f} s   SQL / feature_engine = "
        f"{sql_time / fe_total:.2f}"
    )
    print(
        f"numpy incl. load          {np_total:6.2f} s   SQL / numpy          = "
        f"{sql_time / np_total:.2f}"
    )
    diffs = [abs(sql_psi[c] - np_psi[c]) for c in columns]
    print(
        f"max |SQL - numpy| PSI over columns: {max(diffs):.2e} (numpy's own quantile "
        "rounding; nulls are a bin in both)"
    )


if __name__ == "__main__":
    main()
