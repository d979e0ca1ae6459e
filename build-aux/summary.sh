#!/usr/bin/env bash
# Add up the runs recorded by run-busted.sh (a configuration cut into shards
# has a line per shard): one line per configuration, then the total last.
set -u
awk '{ if (!($1 in p)) order[++n] = $1; p[$1] += $2; f[$1] += $3; s[$1] += $4 }
     END { for (i = 1; i <= n; i++) { t = order[i]
             printf "%s: %d passed, %d failed%s\n", t, p[t], f[t], s[t] ? ", " s[t] " skipped" : "" } }' "$1"
p=0; f=0; s=0
while read -r tag a b c; do p=$((p + a)); f=$((f + b)); s=$((s + c)); done < "$1"
line="$p passed, $f failed"
[ "$s" != 0 ] && line="$line, $s skipped"
echo "$line"
[ "$f" = 0 ]
