# Sourced by the scripts that fetch a source from Debian's archive (fetch-wolfssl.sh,
# build-openssl-peer.sh): apt-get runs with a private sources folder, package lists and cache
# under a folder of ours, so nothing on the system changes (no deb-src line in /etc/apt, no
# root needed). The caller defines say() and fail() (messages on stderr) first.
#
#   apt_private DIR LOG      write DIR/sources, run `apt-get update` into DIR/lists; sets APT_O
#   apt_orig PKG DEBVER FILE SHA256
#                            download FILE (an original tarball) of source package PKG=DEBVER
#                            into the current folder, checked against SHA256 (empty: the signed
#                            index's checksum only); returns 1 when the archive does not have it
#
# APT_MIRROR (default http://deb.debian.org) names another mirror.

apt_private() {
    local dir=$1 mirror=${APT_MIRROR:-${WOLFSSL_APT_MIRROR:-http://deb.debian.org}}
    APT_LOG=$2
    command -v apt-get >/dev/null || return 1
    mkdir -p "$dir/sources" "$dir/lists/partial" "$dir/cache/archives/partial"
    cat >"$dir/sources/private-src.sources" <<EOF
Types: deb-src
URIs: $mirror/debian
Suites: bookworm trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $mirror/debian-security
Suites: bookworm-security trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    APT_O=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$dir/sources"
           -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null
           -o APT::Sandbox::User=root -o Debug::NoLocking=1)
    # one update a day is enough: the lists are a snapshot of the archive anyway
    if [[ -z $(find "$dir/lists" -maxdepth 1 -name '*Sources*' -mmin -1440 2>/dev/null | head -n 1) ]]; then
        say "apt-get update (private lists in $dir)"
        apt-get "${APT_O[@]}" update >>"$APT_LOG" 2>&1 || fail "apt-get update with private lists failed (see $APT_LOG): no access to Debian's archive? Download the source yourself and pass WOLFSSL_SRC=/path/to/tarball (wolfSSL) or read build-aux/build-openssl-peer.sh (OpenSSL peer)"
    fi
}

apt_orig() {
    local pkg=$1 debver=$2 file=$3 sha=$4
    say "fetching $file (Debian $pkg $debver)"
    # The .dsc and Debian tarball may be missing from the archive; only the orig tarball matters.
    apt-get "${APT_O[@]}" source --download-only "$pkg=$debver" >>"$APT_LOG" 2>&1 || true
    [[ -f $file ]] || return 1
    if [[ -n $sha ]] && ! echo "$sha  $file" | sha256sum -c --quiet - >>"$APT_LOG" 2>&1; then
        rm -f "$file"
        fail "$file does not match its pinned SHA-256: refusing it"
    fi
}
