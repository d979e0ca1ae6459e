#!/usr/bin/env bash
# Make `apt-get source wolfssl` work: add a deb-src entry mirroring the machine's deb entries,
# then refresh the package lists. Idempotent. Run by `make deps` (needs root).
#
# Debian 12 ships /etc/apt/sources.list.d/debian.sources (deb822, "Types: deb"); we write
# /etc/apt/sources.list.d/debian-src.sources with the same stanzas as "Types: deb-src".
# Older one-line /etc/apt/sources.list entries are mirrored the same way.
set -euo pipefail

DIR=/etc/apt/sources.list.d
OUT=$DIR/debian-src.sources
SRC=$DIR/debian.sources

# Already have source entries (ours or the admin's)? Nothing to add.
if grep -rqsE '^[[:space:]]*(Types:.*\bdeb-src\b|deb-src[[:space:]])' /etc/apt/sources.list "$DIR"; then
    echo "add-deb-src: deb-src entry already present"
else
    [[ $(id -u) -eq 0 ]] || { echo "add-deb-src: must run as root to write $OUT" >&2; exit 1; }
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    if [[ -f $SRC ]]; then
        # Same stanzas, deb -> deb-src; drop comment lines (snapshot hints etc.).
        sed -E -e '/^[[:space:]]*#/d' -e 's/^Types:.*/Types: deb-src/' "$SRC" >"$tmp"
    elif [[ -f /etc/apt/sources.list ]] && grep -qE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
        # One-line format: convert every "deb URI SUITE COMPONENTS" to deb822 deb-src stanzas.
        grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list | while read -r _ rest; do
            opts=""
            if [[ $rest == \[* ]]; then opts=${rest%%]*}; rest=${rest#*] }; fi
            read -r uri suite comps <<<"$rest"
            printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n' "$uri" "$suite" "$comps"
            if [[ $opts == *signed-by=* ]]; then
                sb=${opts#*signed-by=}; printf 'Signed-By: %s\n' "${sb%% *}"
            fi
            echo
        done >"$tmp"
    else
        echo "add-deb-src: no $SRC or deb lines in /etc/apt/sources.list to mirror" >&2
        exit 1
    fi
    install -m 0644 "$tmp" "$OUT"
    echo "add-deb-src: wrote $OUT"
fi

echo "add-deb-src: apt-get update"
apt-get update -qq
