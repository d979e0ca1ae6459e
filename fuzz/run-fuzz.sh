#!/usr/bin/env bash
# Run fuzz targets one after another (the machine is small: one at a time):
#   FUZZ_SECS=60 bash fuzz/run-fuzz.sh BUILD_DIR TARGET...
# Each target starts from its committed seeds (fuzz/corpus/T, read only) and
# the inputs past runs kept (BUILD_DIR/corpus/T, where new ones are written);
# a crash, leak, timeout or finding is saved in fuzz/regressions/T/ (commit it,
# `make test` replays it). One summary line per target, then "N targets, N
# with findings"; exit 1 when any target found something. FUZZ_FLAGS: more
# libFuzzer flags (e.g. "-fork=1 -ignore_crashes=1" to go on past a crash).
set -uo pipefail
dir=$1; shift
secs=${FUZZ_SECS:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
summary=()
for t in "$@"; do
  work=$dir/corpus/$t regress=$root/fuzz/regressions/$t log=$dir/$t.log
  mkdir -p "$work" "$regress"
  before=$(ls "$regress" | wc -l)
  echo "fuzz: $t for ${secs}s (log: $log)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$root/fuzz/ubsan.supp} \
    "$dir/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 ${FUZZ_FLAGS:-} \
      -artifact_prefix="$regress/" "$work" "$root/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  after=$(ls "$regress" | wc -l)
  # the last status line: "#N DONE cov: X ft: Y corp: Z/SIZE ..." (or the
  # last pulse; with -fork: "#N: cov: X ft: Y corp: Z exec/s ...")
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\(\/[0-9a-zA-Z]*\)\{0,1\}\).*/\1/p' <<<"$last")
  line=$(printf '%-8s execs %-8s corpus %-12s cov %-6s ft %-6s' "$t" "${execs:-?}" "${corp:-?}" "${cov:-?}" "${ft:-?}")
  if [ "$rc" != 0 ] || [ "$after" != "$before" ]; then
    found=$((found + 1))
    line="$line FOUND (exit $rc): $(ls -t "$regress" | head -n 1) - see $log"
  fi
  echo "$line"
  summary+=("$line")
done
echo "---- fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
echo "$# targets, $found with findings"
[ "$found" = 0 ]
