"""The Spark half of the parity chain, one step at a time: a JVM per command against one
JVM for all of them (the tests' Built.hosted; `scorehouse run` does the same).

    .venv/bin/python bench/spark_chain.py [--subscribers 2000] [--months 8] [--only hosted]

Builds a fresh spark_local warehouse per mode in a temp dir (generate, dbt build of the
features, train, dbt build of feature_iv, score the three models, dbt build of the
marts) and prints each step's wall time, the slowest dbt nodes of each build
(run_results.json) and the chain's total; with both modes, the ratio separate / hosted,
both measured in this run on the same data. Needs Java 17 (README: Engines).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# the tests' warehouse helper: a profile and environment in a directory of its own
from tests.python.conftest import make_warehouse

MODELS = ("churn_lgbm", "data_addon_scorecard", "package_upsell_rf")


def chain(root: Path, hosted: bool, subscribers: int, months: int) -> float:
    built = make_warehouse(root, "spark_local")
    steps = [
        ("dbt parse", lambda: built.dbt("parse", "--quiet")),
        ("generate", lambda: built.scorehouse(*_generate(subscribers, months))),
        ("dbt build telco_features", lambda: built.dbt("build", "--selector", "telco_features")),
        ("train", lambda: built.scorehouse("train")),
        ("dbt build telco_training", lambda: built.dbt("build", "--selector", "telco_training")),
        *((f"score {m}", lambda m=m: built.scorehouse("score", "--model", m)) for m in MODELS),
        ("dbt build telco_marts", lambda: built.dbt("build", "--selector", "telco_marts")),
    ]
    print(f"{'one JVM for the chain' if hosted else 'one JVM per command'}:", flush=True)
    total = 0.0
    context = built.hosted() if hosted else contextlib.nullcontext()
    with context:
        for name, step in steps:
            clock = time.perf_counter()
            status = step()
            seconds = time.perf_counter() - clock
            total += seconds
            failed = getattr(status, "returncode", status)
            if failed:
                raise SystemExit(f"{name} failed ({failed}); logs under {root}")
            print(f"  {name:<36} {seconds:7.1f} s", flush=True)
            if name.startswith("dbt build"):
                _slowest(root / "target" / "run_results.json")
    print(f"  {'total':<36} {total:7.1f} s", flush=True)
    return total


def _generate(subscribers: int, months: int) -> list[str]:
    return ["generate", "--subscribers", str(subscribers), "--months", str(months)]


def _slowest(run_results: Path, n: int = 3) -> None:
    results = json.loads(run_results.read_text())["results"]
    for result in sorted(results, key=lambda r: -r["execution_time"])[:n]:
        print(f"      {result['unique_id'].split('.')[-1]:<32} {result['execution_time']:7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=8)
    parser.add_argument("--only", choices=["separate", "hosted"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spark_chain_") as tmp:
        totals = {}
        for mode in ("separate", "hosted"):
            if args.only in (None, mode):
                totals[mode] = chain(
                    Path(tmp) / mode, mode == "hosted", args.subscribers, args.months
                )
    if len(totals) == 2:
        print(
            f"one JVM per command {totals['separate']:.1f} s (the reference) / one JVM "
            f"{totals['hosted']:.1f} s = {totals['separate'] / totals['hosted']:.2f}x"
        )


if __name__ == "__main__":
    main()
