#!/bin/bash
# The call graph between the files of csrc/: for each file, the files whose
# functions it calls (a function counts as called where its name appears,
# comments included: the graph can only be larger than the real one). Exits
# 1 when the files call each other in a circle (tsort finds the loop).
#   bash build-aux/csrc-graph.sh [repo dir]
set -e
cd "${1:-.}"
edges=$(for f in csrc/*.c; do
  for g in $(grep -oE '^[a-zA-Z_][a-zA-Z0-9_ *]*\b(lwl_[a-zA-Z0-9_]+)\(' "$f" | grep -v '^static' |
             grep -oE 'lwl_[a-zA-Z0-9_]+\($' | tr -d '('); do
    for u in csrc/*.c; do
      [ "$u" = "$f" ] && continue
      grep -qw "$g" "$u" && echo "$(basename "$u" .c) $(basename "$f" .c)"
    done
  done
done | sort -u)
for f in csrc/*.c; do
  n=$(basename "$f" .c)
  callees=$(echo "$edges" | awk -v n="$n" '$1 == n { printf "%s%s.c", sep, $2; sep = ", " }')
  printf '%-14s -> %s\n' "$n.c" "${callees:-(none)}"
done
if ! echo "$edges" | tsort >/dev/null 2>/tmp/csrc-graph.$$; then
  cat /tmp/csrc-graph.$$ >&2; rm -f /tmp/csrc-graph.$$; echo "csrc/: the files call each other in a circle" >&2; exit 1
fi
rm -f /tmp/csrc-graph.$$
echo "no circle: every file calls only files below it"
