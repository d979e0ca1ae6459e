-- The failure matrix: every way certificate checking fails has its own test
-- and its own message, asserted exactly, against our own peers (memory) and
-- against openssl s_server / s_client over TCP.
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"

local M = {
  expired = "certificate verify failed: certificate has expired (depth 0, CN=localhost)",
  notyet = "certificate verify failed: certificate is not yet valid (depth 0, CN=localhost)",
  unknown_ca = "certificate verify failed: unknown CA (unable to get local issuer certificate) (depth 0, CN=localhost)",
  selfsigned = "certificate verify failed: self-signed certificate (depth 0, CN=localhost)",
  hostname = "hostname mismatch: certificate is for wrong.example, other.example, not localhost",
  crl = "certificate verify failed: certificate revoked (depth 0, CN=localhost)",
  ocsp = "certificate verify failed: certificate revoked (OCSP response)",
  deep = "certificate verify failed: certificate chain too long (depth 4, CN=Deep Intermediate 1)",
  usage = "certificate verify failed: unsupported certificate purpose (wrong key usage) (depth 0, CN=localhost)",
  no_client_cert = "peer did not send a certificate (one is required)",
  untrusted_client = "certificate verify failed: unknown CA (unable to get local issuer certificate)" ..
    " (depth 0, CN=Untrusted Client)",
}

-- Server-side certificate problems the client detects:
-- name -> server cert, client options, server options, staple file
local SERVER_CASES = {
  { "expired", "expired" },
  { "notyet", "notyet" },
  { "unknown_ca", "untrusted" },
  { "selfsigned", "selfsigned" },
  { "hostname", "wronghost" },
  { "crl", "revoked", { crl = H.cert("crl.pem") } },
  { "ocsp", "revoked", { ocsp_stapling = "request" }, "ocsp-revoked.der" },
  { "deep", "deep-chain", { cafile = H.cert("deep-ca.pem"), verify_depth = 2 } },
  { "usage", "badusage" },
}

local function server_for(cert, staple)
  local key = cert == "deep-chain" and "deep-leaf" or cert
  local o = { certificate = H.cert(cert .. ".pem"), key = H.cert(key .. ".key") }
  if staple then
    o.staple, o.cafile = H.cert(staple), H.cert("ca.pem")
    -- (where stapling over TLS 1.3 leaks, the server staples over TLS 1.2)
    if not wolfssl.features.ocsp_staple_tls13 then o.max_version = "tls1.2" end
  end
  return H.server_ctx(o)
end

local function client_for(copts, v)
  local o = { max_version = v }
  for k, x in pairs(copts or {}) do o[k] = x end
  return H.client_ctx(o)
end

describe("failure matrix", function()
  it("has eleven distinct messages", function()
    local seen, n = {}, 0
    for _, msg in pairs(M) do
      assert.is_nil(seen[msg], msg)
      seen[msg] = true
      n = n + 1
    end
    assert.equal(11, n)
  end)

  for _, v in ipairs({ "tls1.3", "tls1.2" }) do
    describe(v .. " in memory", function()
      for _, case in ipairs(SERVER_CASES) do
        local name, cert, copts, staple = case[1], case[2], case[3], case[4]
        it(name, function()
          local c, s, ok, side, err = H.pair(client_for(copts, v), server_for(cert, staple))
          assert.is_nil(ok)
          assert.equal("client", side)
          if name == "ocsp" and v == "tls1.2" and not wolfssl.features.ocsp_revoked_tls12 then
            -- wolfSSL between 5.5.4 and 5.9.2 keeps the verdict to itself
            assert.equal("certificate verify failed: OCSP response says unknown or does not verify", err)
          else
            assert.equal(M[name], err)
          end
          assert.equal("verify", c:last_error().kind)
          assert.equal(err, c:last_error().message)
          -- (wolfSSL 5.5.4 sends no alert for a revoked TLS 1.3 staple)
          if s:last_error() then assert.matches("^peer sent alert ", s:last_error().message) end
          c:close(); s:close()
        end)
      end

      it("no_client_cert", function()
        local c, s, ok, side, err = H.pair(client_for(nil, v),
          H.server_ctx { verify = "require", cafile = H.cert("ca.pem"), max_version = v })
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.equal(M.no_client_cert, err)
      end)

      it("untrusted_client", function()
        local c, s, ok, side, err = H.pair(client_for({ certificate = H.cert("untrusted-client.pem"),
          key = H.cert("untrusted-client.key") }, v), H.server_ctx { verify = "require", cafile = H.cert("ca.pem") })
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.equal(M.untrusted_client, err)
      end)
    end)
  end
end)

describe("failure matrix against openssl", function()
  after_each(P.stop_all)
  if not P.have("openssl") then pending("openssl not installed") return end

  for _, case in ipairs(SERVER_CASES) do
    local name, cert, copts, staple = case[1], case[2], case[3], case[4]
    it("our client vs openssl s_server: " .. name, function()
      local key = cert == "deep-chain" and "deep-leaf" or cert
      local extra = staple and ("-status_file " .. H.cert(staple)) or ""
      if cert == "deep-chain" then
        -- s_server sends -cert's first certificate, and the rest through -cert_chain
        local path = os.tmpname()
        local f = assert(io.open(path, "wb"))
        for _, n in ipairs({ "deep-i4", "deep-i3", "deep-i2", "deep-i1" }) do f:write(H.read(n .. ".pem")) end
        f:close()
        finally(function() os.remove(path) end)
        extra = "-cert_chain " .. path
      end
      local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -quiet %s",
        H.cert(cert == "deep-chain" and "deep-leaf.pem" or cert .. ".pem"), H.cert(key .. ".key"), extra)
      local conn, sock = P.connect(port, client_for(copts))
      local ok, err = P.await(conn, sock, "handshake")
      assert.is_nil(ok)
      assert.equal(M[name], err)
      conn:close(); sock:close()
    end)
  end

  it("openssl s_client vs our server: no_client_cert and untrusted_client", function()
    for _, case in ipairs({ { "no_client_cert", "" },
      { "untrusted_client", ("-cert %s -key %s"):format(H.cert("untrusted-client.pem"), H.cert("untrusted-client.key")) } }) do
      local srv, port = P.listen()
      local done = P.run_client(("openssl s_client -connect 127.0.0.1:%d -tls1_2 -CAfile %s %s < /dev/null")
        :format(port, H.cert("ca.pem"), case[2]))
      local conn, sock, ok, err = P.serve_one(srv, H.server_ctx { verify = "require", cafile = H.cert("ca.pem") })
      srv:close()
      assert.is_nil(ok)
      assert.equal(M[case[1]], err)
      conn:close(); sock:close()
      done()
    end
  end)
end)
