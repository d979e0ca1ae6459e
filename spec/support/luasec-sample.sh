#!/bin/sh
# Run one of LuaSec's sample pairs (spec/41-luasec-samples_spec.lua).
# usage: luasec-sample.sh WORKDIR SAMPLE SERVER_PATH CLIENT_PATH PORT LUA
#   WORKDIR: a copy of spec/fixtures/luasec-samples with certs/ generated
#   SERVER_PATH, CLIENT_PATH: LUA_PATH for each side (LuaSec's ssl, or a shim
#   folder whose ssl.lua is wolfssl.socket)
# Prints the client's exit code and output, then the server's.
# The samples listen on 8888: the copy run here listens on PORT instead.
cd "$1/$2" || exit 9
sed "s/8888/$5/" server.lua > ".server-$5.lua"
sed "s/8888/$5/" client.lua > ".client-$5.lua"
LUA_PATH="$3" timeout 30 "$6" ".server-$5.lua" > ".server-$5.out" 2>&1 &
server=$!
# wait for the listening socket without connecting (the samples accept once)
i=0
while [ $i -lt 100 ] && ! ss -ltnH "sport = :$5" | grep -q LISTEN; do
  kill -0 $server 2>/dev/null || break
  sleep 0.05; i=$((i + 1))
done
LUA_PATH="$4" timeout 30 "$6" ".client-$5.lua" > ".client-$5.out" 2>&1
echo "client exit $?"
cat ".client-$5.out"
wait $server
echo "server exit $?"
cat ".server-$5.out"
