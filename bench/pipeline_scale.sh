#!/usr/bin/env bash
# The monthly pipeline at scale, one step at a time, with wall time and peak memory each:
#   bash bench/pipeline_scale.sh [SUBSCRIBERS] [MONTHS]     (default 1,000,000 x 12)
# Trains and scores the churn model only (the other scenarios cost the same again).
# Builds under bench/results/scale_<N>/ (deleted first).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
months=${2:-12}
source bench/steps.sh
fresh_bench_warehouse bench/results/scale_${n}

echo "pipeline on $n subscribers x $months months (DuckDB, 2 threads, memory_limit 8GB)"
step "dbt parse" $bin/dbt parse --quiet
step "scorehouse generate" $bin/scorehouse generate --subscribers "$n" --months "$months"
step "dbt build telco_features" $bin/dbt build --selector telco_features
step "scorehouse train (churn)" $bin/scorehouse train --model churn_lgbm
step "scorehouse score (churn)" $bin/scorehouse score --model churn_lgbm
step "dbt build telco_marts" $bin/dbt build --selector telco_marts
grep -h "OOT AUC\|scored" "$root"/scorehouse*.log | sed 's/^/  /'
du -sh "$SCOREHOUSE_DUCKDB_PATH" | sed 's/^/  warehouse file /'
