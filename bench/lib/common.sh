# Shared by the bench scripts (bash). BENCH_NAME names the caller.

# Run a command line under /usr/bin/time -v; print "seconds rss_kib cpu"
# (cpu = user + system seconds, a check on a loaded machine).
measure() {
  local cmd=$1 log start end rss cpu
  log=$(mktemp)
  start=$(date +%s%N)
  if ! /usr/bin/time -v -o "$log" bash -c "$cmd"; then
    echo "$BENCH_NAME: failed: $cmd" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  end=$(date +%s%N)
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
  cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 }
                    END { print s }' "$log")
  rm -f "$log"
  awk -v ns=$((end - start)) -v rss="$rss" -v cpu="$cpu" \
    'BEGIN { printf "%.3f %d %.2f\n", ns / 1e9, rss, cpu }'
}

# Median of the numbers on stdin, one per line.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
