#!/usr/bin/env bash
# make test: run the suite's configurations in streams at once (the specs
# use free ports and their own temporary files; the two that write into the
# source tree take a lock). Each argument is one stream: configurations
# "LUA WOLFSSL [SPECS]" separated by ";". A stream of one whole run (no
# SPECS, or many) is cut into SHARDS streams (default 2) that take its spec
# files in turn: the suite mostly waits on peers and timers, so more of it at
# once fills both cores. A stream's output is kept in a log and shown when
# every stream has ended, then the summary: its last line is
# "N passed, N failed[, N skipped]" over every configuration.
set -u
results=$1; shift
make=${MAKE:-make}
shards=${SHARDS:-2}
streams=()
for stream in "$@"; do
  read -r lua wolfssl specs <<< "$stream"
  if [[ $stream != *";"* && $shards -gt 1 && ( -z $specs || $(wc -w <<< "$specs") -gt 3 ) ]]; then
    read -ra all <<< "${specs:-$(ls spec/*_spec.lua | tr '\n' ' ')}"
    for ((k = 0; k < shards; k++)); do
      part=()
      for ((i = k; i < ${#all[@]}; i += shards)); do part+=("${all[i]}"); done
      streams+=("$lua $wolfssl ${part[*]}")
    done
  else
    streams+=("$stream")
  fi
done
logs=()
pids=()
for stream in "${streams[@]}"; do
  log=$(mktemp "${results}.log-XXXXXX")
  logs+=("$log")
  (
    start=$SECONDS
    trap 'echo "== (this stream took $((SECONDS - start)) s)"' EXIT
    IFS=';' read -ra cfgs <<< "$stream"
    for cfg in "${cfgs[@]}"; do
      read -r lua wolfssl specs <<< "$cfg"
      [ -n "$lua" ] || continue
      shown=$specs
      [ "$(wc -w <<< "$specs")" -gt 3 ] && shown="$(wc -w <<< "$specs") spec files"
      echo "== $lua/$wolfssl${specs:+ ($shown)}"
      $make --no-print-directory test-one LUA="$lua" WOLFSSL="$wolfssl" RESULTS="$results" \
        ${specs:+SPECS="$specs"}
    done
  ) > "$log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for log in "${logs[@]}"; do cat "$log"; rm -f "$log"; done
exec bash build-aux/summary.sh "$results"
