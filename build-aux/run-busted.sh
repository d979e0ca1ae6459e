#!/usr/bin/env bash
# Run the busted suite under one interpreter ($1) and print
# "<lua>/<build>: N passed, N failed[, N skipped]"; with RESULTS set, append the
# counts there for build-aux/summary.sh. WOLFSSL_VALGRIND=1 runs it under valgrind.
set -uo pipefail
lua=$1
specs=${SPECS:-$(ls spec/*_spec.lua)}
runner=("$lua" /usr/bin/busted)
# Lua 5.4 reports a finalizer that failed (its object is freed without it: a
# leak of wolfSSL state) only as a warning: turn warnings on and count them.
[ "$(basename "$lua")" = lua5.4 ] && runner=("$lua" -W /usr/bin/busted)
if [ "${WOLFSSL_VALGRIND:-}" = 1 ]; then
  runner=(valgrind -q --keep-debuginfo=yes --num-callers=40 --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
          --show-leak-kinds=definite --suppressions=build-aux/valgrind.supp "${runner[@]}")
fi
mkdir -p build && out=$(mktemp build/.busted-XXXXXX) # not /tmp: specs clean up there
"${runner[@]}" -o TAP $specs 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
skipped=$(grep -c '^ok .*# SKIP' "$out")
passed=$(( $(grep -c '^ok ' "$out") - skipped ))
failed=$(grep -c '^not ok ' "$out")
gcfail=$(grep -c 'Lua warning: error in __gc' "$out")
if [ "$gcfail" != 0 ]; then
  echo "# $gcfail finalizers (__gc) failed: their objects were freed without them (see 'Lua warning' above)"
  failed=$((failed + 1))
fi
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
  echo "# the run itself failed (exit $rc): counted as one failure"
  failed=1
fi
rm -f "$out"
tag="$lua/${WOLFSSL_TEST_BUILD:-?}"
line="$passed passed, $failed failed"
[ "$skipped" != 0 ] && line="$line, $skipped skipped"
echo "$tag: $line"
[ -n "${RESULTS:-}" ] && echo "$tag $passed $failed $skipped" >> "$RESULTS"
[ "$failed" = 0 ]
