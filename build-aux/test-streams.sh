#!/usr/bin/env bash
# make test: run the suite's configurations in streams at once (the specs
# use free ports and their own temporary files; the two that write into the
# source tree take a lock). Each argument is one stream: configurations
# "LUA WOLFSSL [SPECS]" separated by ";". A stream of one whole run (no
# SPECS, or many) is cut into SHARDS streams (default 2): the suite mostly
# waits on peers and timers, so more of it at once fills both cores. The
# spec files go longest first to the shard with the least so far (the ones
# below by their seconds on a quiet machine, every other one as 1), so that
# the shards end together. A stream's output is kept in a log and shown when
# every stream has ended, then the summary: its last line is
# "N passed, N failed[, N skipped]" over every configuration.
set -u
results=$1; shift
make=${MAKE:-make}
shards=${SHARDS:-2}
LONG="41-luasec-samples 18 46-luarocks 16 52-examples-misbehaving 8 53-dtls 7 09-interop-close 6
      25-trace-cli 6 23-pcap 6 19-callback-safety 5 54-early-data 4"
# shard SPEC...: one line per shard, its spec files
shard() {
  printf '%s\n' "$@" | awk -v n="$shards" -v long="$LONG" '
    BEGIN { k = split(long, w, /[ \n]+/); for (i = 1; i < k; i += 2) secs[w[i]] = w[i + 1] }
    { f = $0; b = f; sub(/^.*\//, "", b); sub(/_spec\.lua$/, "", b)
      files[NR] = f; weight[NR] = (b in secs) ? secs[b] : 1 }
    END {
      for (i = 1; i <= NR; i++) order[i] = i
      for (i = 2; i <= NR; i++)   # insertion sort, heaviest first (stable)
        for (j = i; j > 1 && weight[order[j]] > weight[order[j - 1]]; j--) {
          t = order[j]; order[j] = order[j - 1]; order[j - 1] = t }
      for (i = 1; i <= NR; i++) {
        best = 1
        for (s = 2; s <= n; s++) if (load[s] < load[best]) best = s
        load[best] += weight[order[i]]; list[best] = list[best] " " files[order[i]] }
      for (s = 1; s <= n; s++) print substr(list[s], 2) }'
}
streams=()
for stream in "$@"; do
  read -r lua wolfssl specs <<< "$stream"
  if [[ $stream != *";"* && $shards -gt 1 && ( -z $specs || $(wc -w <<< "$specs") -gt 3 ) ]]; then
    read -ra all <<< "${specs:-$(ls spec/*_spec.lua | tr '\n' ' ')}"
    while read -r part; do
      streams+=("$lua $wolfssl $part")
    done < <(shard "${all[@]}")
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
