#!/usr/bin/env bash
# The bank jobs at scale, one step at a time, with wall time and peak memory each:
#   bash bench/bank_scale.sh [RETAIL] [CORPORATE] [MONTHS]   (default 500,000 / 50,000 x 6)
# Builds under bench/results/bank_<RETAIL>/ (deleted first). The clustering step's cost
# is KMeans for k = 2..8 (10 initialisations each) on every customer plus the silhouette
# of each k on a 20,000-customer sample; the rules are apriori per cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
retail=${1:-500000}
corporate=${2:-50000}
months=${3:-6}
source bench/steps.sh
fresh_bench_warehouse bench/results/bank_${retail}

echo "bank jobs on $retail retail, $corporate corporate x $months months (DuckDB, 2 threads)"
step "dbt parse" $bin/dbt parse --quiet
step "scorehouse generate bank" $bin/scorehouse generate --domain bank \
    --retail "$retail" --corporate "$corporate" --months "$months"
step "dbt build bank_features" $bin/dbt build --selector bank_features --vars '{domain: bank}'
step "scorehouse train bank" $bin/scorehouse train --domain bank
step "scorehouse score bank" $bin/scorehouse score --domain bank
step "scorehouse rules retail_products" $bin/scorehouse rules retail_products
step "dbt build bank_marts" $bin/dbt build --selector bank_marts --vars '{domain: bank}'
grep -h "CV AUC\|clusters\|silhouette\|rules in" "$root"/scorehouse*.log | sed 's/^/  /' | tail -20
