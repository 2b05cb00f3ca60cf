#!/usr/bin/env bash
# The report's size and time do not grow with customers (issue: "See it"): the same
# warehouse steps at two sizes, then `scorehouse report` on each, timed.
#   bash bench/report_scale.sh [SMALL] [LARGE]     (default 50,000 and 1,000,000 x 12 months)
# Per size: generate, dbt build telco_features, the churn model trained with 2025-09 as its
# out-of-time month and scored for 2025-10 .. 2025-12 (three months of monitoring, two with
# matured labels), dbt build telco_marts. Then the report: one warm-up and 5 timed runs,
# the median printed with the file's size; last the ratios LARGE / SMALL. Builds under
# bench/results/report_<N>/ (deleted first; REUSE=1 keeps a warehouse built before and only
# times the report). About 15 minutes at 1,000,000 on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-50000}
large=${2:-1000000}
months=12
history=(2025-10-01 2025-11-01 2025-12-01)
source bench/steps.sh

build() {
    if [ "${REUSE:-0}" = 1 ] && [ -f "bench/results/report_$1/warehouse.duckdb" ]; then
        echo "warehouse of $1 subscribers: reused (REUSE=1)"
        return
    fi
    fresh_bench_warehouse "bench/results/report_$1"
    echo "warehouse of $1 subscribers x $months months (DuckDB)"
    step "dbt parse" $bin/dbt parse --quiet
    step "scorehouse generate" $bin/scorehouse generate --subscribers "$1" --months "$months"
    step "dbt build telco_features" $bin/dbt build --selector telco_features
    for month in "${history[@]}"; do
        step "churn sets for $month" $bin/dbt build --select churn_training_set \
            churn_scoring_input --vars "{score_month: $month}"
        if [ "$month" = "${history[0]}" ]; then
            step "scorehouse train (churn)" $bin/scorehouse train --model churn_lgbm
        fi
        step "scorehouse score $month" $bin/scorehouse score --model churn_lgbm --month "$month"
    done
    step "dbt build telco_marts" $bin/dbt build --selector telco_marts
}

measure() {  # prints "<bytes> <median seconds>" of the report on the warehouse of $1
    bench_warehouse "bench/results/report_$1"
    $bin/python - "$root/report.html" <<'PY'
import statistics, sys, time
from pathlib import Path
from python_scoring.project import Project
from python_scoring.report import write_report
from python_scoring.warehouse import Warehouse

project, out = Project(Path.cwd()), Path(sys.argv[1])
times = []
for run in range(6):  # the first is a warm-up
    clock = time.perf_counter()
    with Warehouse.connect(project) as wh:
        written = write_report(project, wh, out)
    if run:
        times.append(time.perf_counter() - clock)
print(written.size, statistics.median(times))
PY
}

build "$small"
build "$large"
read -r small_bytes small_seconds < <(measure "$small")
read -r large_bytes large_seconds < <(measure "$large")
echo
printf "%-12s %12s %14s\n" subscribers "report bytes" "median seconds"
printf "%-12s %12s %14.2f\n" "$small" "$small_bytes" "$small_seconds"
printf "%-12s %12s %14.2f\n" "$large" "$large_bytes" "$large_seconds"
printf "size ratio %s / %s: %.3fx (goal <= 1.2x; reference: %s bytes at %s)\n" "$large" "$small" \
    "$(echo "$large_bytes / $small_bytes" | bc -l)" "$small_bytes" "$small"
printf "time ratio %s / %s: %.2fx (reference: %.2f s at %s, median of 5 after a warm-up)\n" \
    "$large" "$small" "$(echo "$large_seconds / $small_seconds" | bc -l)" "$small_seconds" "$small"
