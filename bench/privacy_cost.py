"""What pseudonymisation costs: the BI marts' keys and masks (macros/privacy) against the
clear id they replace, over every row of ml.model_scores of a built warehouse (the demo's
by default: `make demo` first).

    .venv/bin/python bench/privacy_cost.py [--warehouse scorehouse.duckdb] [--runs 5]

Both queries read the same rows and reduce them to distinct counts (so that every
expression is computed); the reference is the clear id itself. Each is run once to warm
up, then --runs times; the medians and their ratio are printed. The SQL of the keys and
masks is compiled by dbt from the project's macros (`dbt compile --inline`), so the bench
times exactly what the marts run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
DEMO_SALT = "demo-only-salt-not-a-secret"  # the Makefile's, for the demo warehouse


def compiled(select: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "compile", "--quiet", "--inline", select],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def timed(con: duckdb.DuckDBPyConnection, sql: str, runs: int) -> tuple[float, tuple]:
    con.execute(sql).fetchall()  # warm-up
    seconds, result = [], ()
    for _ in range(runs):
        clock = time.perf_counter()
        result = con.execute(sql).fetchone()
        seconds.append(time.perf_counter() - clock)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=REPO / "scorehouse.duckdb")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    salt = os.environ.get("SCOREHOUSE_PSEUDONYM_SALT") or DEMO_SALT
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(REPO),
        "SCOREHOUSE_DUCKDB_PATH": str(args.warehouse),
        "SCOREHOUSE_PSEUDONYM_SALT": salt,
    }
    source = "{{ source('ml', 'model_scores') }}"
    keyed = compiled(
        "select count(distinct {{ pseudonymize('entity_id') }}), "
        "count(distinct {{ mask_identifier('entity_id') }}), count(*) from " + source,
        env,
    )
    clear = compiled(
        "select count(distinct entity_id), count(distinct entity_id), count(*) from " + source,
        env,
    )
    con = duckdb.connect(str(args.warehouse), read_only=True)
    con.execute("set variable scorehouse_pseudonym_salt = $1", [salt])
    reference, (ids, _, rows) = timed(con, clear, args.runs)
    cost, (keys, masks, _) = timed(con, keyed, args.runs)
    con.close()
    assert keys == ids, "every id gets its own key"
    print(f"ml.model_scores: {rows:,} rows, {ids:,} distinct ids ({masks:,} distinct masks)")
    print(f"reference (clear id):        {reference * 1000:8.1f} ms (median of {args.runs})")
    print(f"pseudonymize + mask_identifier: {cost * 1000:8.1f} ms (median of {args.runs})")
    print(f"ratio: {cost / reference:.2f}x the reference; {cost - reference:.3f} s more")


if __name__ == "__main__":
    main()
