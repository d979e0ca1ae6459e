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
  -- DTLS (memory mode only): the cookie exchange included, the library's groups
  ["dtls12-ecdsa"] = { cert = "server.pem", key = "server.key", ca = "ca.pem", dtls = "dtls1.2" },
  ["dtls13-ecdsa"] = { cert = "server.pem", key = "server.key", ca = "ca.pem", dtls = "dtls1.3" },
}

--- the key exchange groups of a kind, most preferred first ("A:B")
-- (BENCH_GROUPS, "X25519MLKEM768:X25519" say, overrides it: the heap row of
-- issue 17 with the hybrid group)
function M.groups(kind)
  local override = os.getenv("BENCH_GROUPS")
  if override and override ~= "" then return override end
  return M.KINDS[kind].groups or "X25519:P-256"
end

--- lua-wolfssl client and server contexts for one kind of handshake (the
-- same settings in every lua-wolfssl column): client, server.
function M.wolfssl_contexts(certdir, kind, suites)
  local wolfssl = require "wolfssl"
  local k = M.KINDS[kind] or error("unknown kind " .. tostring(kind))
  local groups = not k.dtls and M.groups(kind) or nil -- (5.5.4 sets no groups on DTLS 1.2)
  local s = assert(wolfssl.context {
    mode = "server", certificate = certdir .. "/" .. k.cert, key = certdir .. "/" .. k.key,
    groups = groups, ciphersuites = suites,
    dtls = k.dtls and true, min_version = k.dtls, max_version = k.dtls,
  })
  local c = assert(wolfssl.context {
    mode = "client", cafile = certdir .. "/" .. k.ca, groups = groups,
    max_version = k.dtls or (k.tls12 and "tls1.2" or nil), min_version = k.dtls,
    ciphers = k.tls12 and "ECDHE-ECDSA-AES128-GCM-SHA256" or nil,
    ciphersuites = suites, dtls = k.dtls and true,
  })
  return c, s
end

return M
