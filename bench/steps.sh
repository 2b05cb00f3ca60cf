# Shared by the bench scripts: `step NAME COMMAND...` runs a command with its output in
# $root/<NAME>.log and prints its wall time and peak RSS (GNU time); $total sums the times.
step() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$root/time" "$@" > "$root/${name// /_}.log" 2>&1
    read -r seconds kb < "$root/time"
    total=$(echo "${total:-0} + $seconds" | bc -l)
    printf "  %-34s %8.1f s   peak RSS %6.2f GB\n" "$name" "$seconds" "$(echo "$kb / 1048576" | bc -l)"
}
