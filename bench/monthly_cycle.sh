#!/usr/bin/env bash
# One monthly cycle at scale, on the warehouse bench/pipeline_scale.sh built:
#   bash bench/monthly_cycle.sh [SUBSCRIBERS]        (default 1,000,000)
# Setup (timed apart): train every registry model. The cycle is `scorehouse run --month M`:
# dbt build of the month's features, targets and sets (incremental), score every model,
# dbt build of the marts, in one process; its log gives each stage's time (and the
# process's peak RSS so far, not per stage).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
root=bench/results/scale_${n}
[ -f "$root/warehouse.duckdb" ] || { echo "run bash bench/pipeline_scale.sh $n first" >&2; exit 2; }
source bench/steps.sh
bench_warehouse "$root"
export SCOREHOUSE_LOG_DIR=$root/logs

month=$($bin/python -c "import duckdb; print(duckdb.connect('$SCOREHOUSE_DUCKDB_PATH', read_only=True).sql('select max(month) from features.subscriber_month_wide').fetchall()[0][0])")
echo "setup on $n subscribers: dbt parse, ml contract tables, train every registry model"
step "dbt parse" $bin/dbt parse --quiet
# any dbt run creates (or migrates) the ml contract tables training writes into
step "dbt run dim_ml_models" $bin/dbt run --select dim_ml_models --quiet
step "scorehouse train (all models)" $bin/scorehouse train
echo "monthly cycle for $month"
step "scorehouse run month" $bin/scorehouse run --month "$month"
grep -ho "stage .* done in .*" "$root/scorehouse_run_month.log" | sed 's/^/    /'
grep -h "OOT AUC\|scored" "$root"/scorehouse*.log | sed 's/^/  /'
