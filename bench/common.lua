-- Shared by the bench scripts: clock, RSS, the handshake kinds.
local socket = require "socket"
local M = {}

-- Wall clock, for the two-process runs.
M.wall = socket.gettime
-- One-process runs: process CPU time by default (BENCH_CLOCK=wall for wall
-- time), so other load on a shared machine hardly moves them; these loops
-- never wait, so on an idle machine both clocks agree.
M.now = os.getenv("BENCH_CLOCK") == "wall" and socket.gettime or os.clock

-- A loop condition: SECONDS < 0 means exactly -SECONDS iterations (callgrind).
function M.more(n, t0, secs)
  local t = M.now()
  if secs < 0 then return n < -secs, t end
  return t - t0 < secs, t
end

function M.rss_kib()
  local f = io.open("/proc/self/status")
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- certificate, key, CA file and version of each measured handshake
M.KINDS = {
  ["tls13-ecdsa"] = { cert = "server.pem", key = "server.key", ca = "ca.pem" },
  ["tls13-rsa"] = { cert = "rsa-server.pem", key = "rsa-server.key", ca = "rsa-ca.pem" },
  ["tls12-ecdsa"] = { cert = "server.pem", key = "server.key", ca = "ca.pem", tls12 = true },
  -- the same TLS 1.3 ECDSA handshake over other key exchange groups: P-256
  -- alone, and the post-quantum hybrid as the binding's default client sends
  -- it (key shares X25519MLKEM768 and X25519; the server takes the hybrid)
  ["tls13-p256"] = { cert = "server.pem", key = "server.key", ca = "ca.pem", groups = "P-256" },
  ["tls13-mlkem"] = { cert = "server.pem", key = "server.key", ca = "ca.pem", groups = "X25519MLKEM768:X25519" },
  ["tls13"] = { cert = "server.pem", key = "server.key", ca = "ca.pem" },
  ["tls12"] = { cert = "server.pem", key = "server.key", ca = "ca.pem", tls12 = true },
}

--- the key exchange groups of a kind, most preferred first ("A:B")
function M.groups(kind)
  return M.KINDS[kind].groups or "X25519:P-256"
end

--- lua-wolfssl client and server contexts for one kind of handshake (the
-- same settings in every lua-wolfssl column): client, server.
function M.wolfssl_contexts(certdir, kind, suites)
  local wolfssl = require "wolfssl"
  local k = M.KINDS[kind] or error("unknown kind " .. tostring(kind))
  local s = assert(wolfssl.context {
    mode = "server", certificate = certdir .. "/" .. k.cert, key = certdir .. "/" .. k.key,
    groups = M.groups(kind), ciphersuites = suites,
  })
  local c = assert(wolfssl.context {
    mode = "client", cafile = certdir .. "/" .. k.ca, groups = M.groups(kind),
    max_version = k.tls12 and "tls1.2" or nil,
    ciphers = k.tls12 and "ECDHE-ECDSA-AES128-GCM-SHA256" or nil,
    ciphersuites = suites,
  })
  return c, s
end

return M
