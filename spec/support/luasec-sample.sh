#!/usr/bin/env bash
# Run one of LuaSec's sample pairs (spec/41-luasec-samples_spec.lua).
# usage: luasec-sample.sh WORKDIR SAMPLE SERVER_PATH CLIENT_PATH PORT LUA
#   WORKDIR: a copy of spec/fixtures/luasec-samples with certs/ generated
#   SERVER_PATH, CLIENT_PATH: LUA_PATH for each side (LuaSec's ssl, or a shim
#   folder whose ssl.lua is wolfssl.socket)
# Prints the client's exit code and output, then the server's.
# The samples listen on 8888: the copy run here listens on PORT instead.
cd "$1/$2" || exit 9
# (builtins where a command would do: a process costs ~6 ms of CPU here, and
# the spec runs this ~35 times per configuration)
slurp() { text=; IFS= read -r -d '' text < "$1"; }
slurp server.lua; printf '%s' "${text//8888/$5}" > ".server-$5.lua"
slurp client.lua; printf '%s' "${text//8888/$5}" > ".client-$5.lua"
LUA_PATH="$3" timeout 30 "$6" ".server-$5.lua" > ".server-$5.out" 2>&1 &
server=$!
# wait for the listening socket without connecting (the samples accept once):
# a LISTEN (0A) entry for 127.0.0.1:PORT in /proc/net/tcp
printf -v want '0100007F:%04X' "$5"
listening() {
  local _sl local _rem st _rest
  while read -r _sl local _rem st _rest; do
    [[ $local == "$want" && $st == 0A ]] && return 0
  done < /proc/net/tcp
  return 1
}
i=0
while [ $i -lt 100 ] && ! listening; do
  kill -0 $server 2>/dev/null || break
  sleep 0.05; i=$((i + 1))
done
LUA_PATH="$4" timeout 30 "$6" ".client-$5.lua" > ".client-$5.out" 2>&1
echo "client exit $?"
slurp ".client-$5.out"; printf '%s' "$text"
wait $server
echo "server exit $?"
slurp ".server-$5.out"; printf '%s' "$text"
