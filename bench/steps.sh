# Shared by the bench scripts.
# `bench_warehouse ROOT` points dbt and scorehouse at the DuckDB warehouse, artifacts and
# dbt target under ROOT; `fresh_bench_warehouse ROOT` empties ROOT first (with a profile).
bench_warehouse() {
    root=$1
    bin=.venv/bin
    export DBT_PROFILES_DIR=$root SCOREHOUSE_DUCKDB_PATH=$root/warehouse.duckdb \
           SCOREHOUSE_ARTIFACTS=$root/artifacts DBT_TARGET_PATH=$root/target
    # the marts pseudonymise ids (docs/privacy.md): the demo's salt unless one is set
    export SCOREHOUSE_PSEUDONYM_SALT=${SCOREHOUSE_PSEUDONYM_SALT:-demo-only-salt-not-a-secret}
}
fresh_bench_warehouse() {
    rm -rf "$1" && mkdir -p "$1"
    cp profiles_example.yml "$1/profiles.yml"
    bench_warehouse "$1"
}

# `step NAME COMMAND...` runs a command with its output in $root/<NAME>.log and prints its
# wall time and peak RSS (GNU time); $total sums the times.
step() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$root/time" "$@" > "$root/${name// /_}.log" 2>&1
    read -r seconds kb < "$root/time"
    total=$(echo "${total:-0} + $seconds" | bc -l)
    printf "  %-34s %8.1f s   peak RSS %6.2f GB\n" "$name" "$seconds" "$(echo "$kb / 1048576" | bc -l)"
}
