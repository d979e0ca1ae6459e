#!/usr/bin/env bash
# Add up the runs recorded by run-busted.sh; the last line is the total.
set -u
p=0; f=0; s=0
while read -r tag a b c; do p=$((p + a)); f=$((f + b)); s=$((s + c)); done < "$1"
echo "runs: $(awk '{print $1}' "$1" | tr '\n' ' ')"
line="$p passed, $f failed"
[ "$s" != 0 ] && line="$line, $s skipped"
echo "$line"
[ "$f" = 0 ]
