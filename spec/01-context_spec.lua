-- wolfssl.context{...}: every option the foundation covers takes effect in a
-- handshake, and bad values / unknown keys raise naming the key.
local wolfssl = require "wolfssl"
local hello = require "wolfssl.hello"
local H = require "helpers"

local function ctx(t)
  local c, err = wolfssl.context(t)
  assert(c, err)
  return c
end

local function server(o)
  local t = { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key") }
  for k, v in pairs(o or {}) do t[k] = v end
  return ctx(t)
end

local function client(o)
  local t = { mode = "client", cafile = H.cert("ca.pem") }
  for k, v in pairs(o or {}) do t[k] = v end
  return ctx(t)
end

-- handshake; returns c, s, ok, side, err
local function pair(cctx, sctx, name)
  return H.pair(cctx, sctx, { server_name = name or "localhost" })
end

local function ok_pair(cctx, sctx, name)
  local c, s, ok, side, err = pair(cctx, sctx, name)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  return c, s
end

-- the ClientHello a client context sends, decoded
local function client_hello(cctx)
  local c = cctx:new { server_name = "localhost" }
  assert.same({ nil, "wantread" }, { c:handshake() })
  local h = assert(hello.peek(c:drain()))
  c:close()
  return h
end

local function has(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

local function raises(pattern, t)
  local ok, err = pcall(wolfssl.context, t)
  assert.is_false(ok, "no error for " .. pattern)
  assert.matches(pattern, tostring(err))
end

describe("context options", function()
  describe("keys", function()
    it("rejects unknown keys with a suggestion", function()
      raises("unknown option 'verfy' %(did you mean 'verify'%?%)", { mode = "client", verfy = "none" })
      raises("unknown option 'cert_file'", { mode = "client", cert_file = "x" })
    end)

    it("requires mode and checks its value", function()
      raises("bad option 'mode'", {})
      raises("bad option 'mode'.*\"both\"", { mode = "both" })
      assert.equal("client", client():mode())
      assert.equal("server", server():mode())
    end)

    it("rejects a non-table", function()
      local ok, err = pcall(wolfssl.context, "client")
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'context' %(table expected, got string%)", err)
    end)
  end)

  describe("versions", function()
    it("defaults to TLS 1.2 .. 1.3 and negotiates 1.3", function()
      local c = ok_pair(client(), server())
      assert.equal("TLSv1.3", c:version())
    end)

    it("max_version = tls1.2 gives TLS 1.2", function()
      local c, s = ok_pair(client { max_version = "tls1.2" }, server())
      assert.equal("TLSv1.2", c:version())
      assert.equal("TLSv1.2", s:version())
    end)

    it("min_version = tls1.3 refuses a TLS 1.2-only peer", function()
      local _, _, ok = pair(client { min_version = "tls1.3" }, server { max_version = "tls1.2" })
      assert.is_nil(ok)
    end)

    it("ssl3 and ssl2 raise: obsolete and insecure", function()
      raises("bad option 'min_version': ssl3 is obsolete and insecure", { mode = "client", min_version = "ssl3" })
      raises("bad option 'max_version': ssl2 is obsolete and insecure", { mode = "client", max_version = "ssl2" })
    end)

    it("unknown version strings and wrong types raise naming the key", function()
      raises("bad option 'min_version'.*\"tls9\"", { mode = "client", min_version = "tls9" })
      raises("bad option 'max_version'", { mode = "client", max_version = 13 })
      raises("bad option 'min_version': is above max_version",
             { mode = "client", min_version = "tls1.3", max_version = "tls1.2" })
    end)

    it("tls1.0 is refused by this wolfSSL build; tls1.1 follows the build", function()
      raises("bad option 'min_version': tls1.0 is not supported by this wolfSSL build",
             { mode = "client", min_version = "tls1.0" })
      -- Debian's wolfSSL 5.5.4 still has TLS 1.1: it must work only when asked for
      local ok, c11 = pcall(wolfssl.context, { mode = "client", cafile = H.cert("ca.pem"),
        min_version = "tls1.1", max_version = "tls1.1", ciphers = "ECDHE-ECDSA-AES128-SHA" })
      if ok then
        local s11 = server { min_version = "tls1.1", max_version = "tls1.1", ciphers = "ECDHE-ECDSA-AES128-SHA" }
        local c = ok_pair(c11, s11)
        assert.equal("TLSv1.1", c:version())
        -- and a default (tls1.2+) client refuses that server
        local _, _, done = pair(client(), s11)
        assert.is_nil(done)
      else
        assert.matches("tls1.1 is not supported", c11)
      end
    end)
  end)

  describe("ciphers", function()
    it("ciphers picks the TLS 1.2 suite", function()
      local c = ok_pair(client { max_version = "tls1.2", ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384" }, server())
      assert.equal("ECDHE-ECDSA-AES256-GCM-SHA384", c:cipher())
      c = ok_pair(client { max_version = "tls1.2", ciphers = { "ECDHE-ECDSA-CHACHA20-POLY1305" } }, server())
      assert.equal("ECDHE-ECDSA-CHACHA20-POLY1305", c:cipher())
    end)

    it("ciphersuites picks the TLS 1.3 suite", function()
      local c = ok_pair(client { ciphersuites = "TLS13-CHACHA20-POLY1305-SHA256" }, server())
      assert.equal("TLS_CHACHA20_POLY1305_SHA256", c:cipher())
      c = ok_pair(client { ciphersuites = { "TLS13-AES256-GCM-SHA384" } }, server())
      assert.equal("TLS_AES_256_GCM_SHA384", c:cipher())
    end)

    it("an unusable list raises naming the key", function()
      raises("bad option 'ciphers'", { mode = "client", ciphers = "NOT-A-CIPHER" })
      raises("bad option 'ciphersuites'", { mode = "client", ciphersuites = "NOPE" })
      raises("bad option 'ciphers'", { mode = "client", ciphers = 42 })
      raises("bad option 'ciphers': entry 1 is not a string", { mode = "client", ciphers = { 1 } })
    end)
  end)

  describe("groups", function()
    it("restricts the key exchange group", function()
      local c = ok_pair(client { groups = { "P-384" } }, server())
      assert.equal("P-384", c:group())
      c = ok_pair(client { groups = "secp521r1" }, server())
      assert.equal("P-521", c:group())
      local h = client_hello(client { groups = "P-256:P-384" })
      assert.is_true(has(h.groups, "secp256r1") or has(h.groups, "P-256"))
    end)

    it("unknown groups raise naming the key", function()
      raises("bad option 'groups': .*%(got \"P%-256:P%-999\"%)", { mode = "client", groups = { "P-256", "P-999" } })
      raises("bad option 'groups'", { mode = "client", groups = true })
    end)
  end)

  describe("certificate and key", function()
    local function subject_cn(c)
      return tostring(c:peer_certificate():subject())
    end

    it("from paths", function()
      local c = ok_pair(client(), server())
      assert.matches("CN=localhost", subject_cn(c))
    end)

    it("from PEM strings", function()
      local c = ok_pair(client(), server { certificate = H.read("server.pem"), key = H.read("server.key") })
      assert.matches("CN=localhost", subject_cn(c))
    end)

    it("from DER strings", function()
      local c = ok_pair(client(), server { certificate = H.read("server.der"), key = H.read("server.key.der") })
      assert.matches("CN=localhost", subject_cn(c))
    end)

    it("from an x509 object", function()
      local x = assert(wolfssl.x509.load(H.read("rsa-server.pem")))
      local c = ok_pair(client { cafile = H.cert("rsa-ca.pem") },
                        server { certificate = x, key = H.cert("rsa-server.key") })
      assert.matches("RSA Root CA", tostring(c:peer_certificate():issuer()))
    end)

    it("a chain as PEM and as an array is sent whole", function()
      local c = ok_pair(client(), server { certificate = H.cert("server-chain.pem"), key = H.cert("server-chain.key") },
                        "chain.localhost")
      assert.equal(2, #c:peer_chain())
      assert.is_true((c:verify_result()))
      local chain = { H.cert("chain-leaf.pem"), wolfssl.x509.load(H.read("inter.pem")) }
      c = ok_pair(client(), server { certificate = chain, key = H.cert("server-chain.key") }, "chain.localhost")
      assert.equal(2, #c:peer_chain())
      assert.matches("Intermediate", tostring(c:peer_chain()[2]:subject()))
      -- the leaf alone cannot be verified by a client that trusts only the root
      local _, _, ok, side, err = pair(client(), server { certificate = H.cert("chain-leaf.pem"), key = H.cert("server-chain.key") },
                                       "chain.localhost")
      assert.is_nil(ok)
      assert.equal("client", side)
      assert.matches("certificate verify failed", err)
    end)

    it("an encrypted key with a password string or function", function()
      ok_pair(client(), server { key = H.cert("server-enc.key"), password = "secret" })
      ok_pair(client(), server { key = H.cert("server-enc-trad.key"), password = function() return "secret" end })
      local calls = 0
      ok_pair(client(), server { key = H.cert("server-enc.key"),
                                 password = setmetatable({}, { __call = function() calls = calls + 1; return "secret" end }) })
      assert.equal(1, calls)
    end)

    it("a wrong or missing password returns nil, message naming the file", function()
      local ctx1, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"),
                                          key = H.cert("server-enc.key"), password = "wrong" }
      assert.is_nil(ctx1)
      assert.matches("^key: .*wrong password.*server%-enc%.key", err)
      ctx1, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server-enc.key") }
      assert.is_nil(ctx1)
      assert.matches("encrypted and no password", err)
      ctx1, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"),
                                    key = H.cert("server-enc.key"), password = function() error("no tty") end }
      assert.is_nil(ctx1)
      assert.matches("password.*no tty", err)
    end)

    it("unreadable files return nil, message naming the file and the reason", function()
      local c, err = wolfssl.context { mode = "server", certificate = "/nonexistent/cert.pem", key = H.cert("server.key") }
      assert.is_nil(c)
      assert.matches("certificate: cannot read file '/nonexistent/cert.pem': No such file", err)
      c, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"), key = "/nonexistent/k.pem" }
      assert.is_nil(c)
      assert.matches("key: cannot read file '/nonexistent/k.pem'", err)
      c, err = wolfssl.context { mode = "client", cafile = "/" }
      assert.is_nil(c)
      assert.equal("cafile: cannot read file '/': Is a directory", err)
      c, err = wolfssl.context { mode = "client", cafile = "/dev/null" }
      assert.is_nil(c)
      assert.equal("cafile: file '/dev/null' is empty", err)
      c, err = wolfssl.context { mode = "client", cafile = "/nonexistent/ca.pem" }
      assert.is_nil(c)
      assert.matches("cafile: cannot read file '/nonexistent/ca.pem'", err)
      c, err = wolfssl.context { mode = "server", certificate = H.cert("README.md"), key = H.cert("server.key") }
      assert.is_nil(c)
      assert.matches("certificate", err)
      -- a file that is not a certificate
      c, err = wolfssl.context { mode = "server", certificate = H.cert("server.key"), key = H.cert("server.key") }
      assert.is_nil(c)
      assert.matches("certificate: not a valid certificate in '.*server%.key'", err)
    end)

    it("a key that does not match the certificate returns nil, message", function()
      local c, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"), key = H.cert("rsa-server.key") }
      assert.is_nil(c)
      assert.equal("key: the private key '" .. H.cert("rsa-server.key") .. "' does not match the certificate '" ..
                   H.cert("server.pem") .. "'", err)
      c, err = wolfssl.context { mode = "server", certificate = H.read("server.pem"), key = H.read("rsa-server.key") }
      assert.is_nil(c)
      assert.equal("key: the private key does not match the certificate", err)
    end)

    it("a key of the same curve that is not the certificate's is refused too", function()
      -- client.key and server.pem are both P-256: only the public halves differ
      local c, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"), key = H.cert("client.key") }
      assert.is_nil(c)
      assert.equal("key: the private key '" .. H.cert("client.key") .. "' does not match the certificate '" ..
                   H.cert("server.pem") .. "'", err)
      -- and the right one, encrypted, or with its chain, still loads
      assert(wolfssl.context { mode = "server", certificate = H.cert("server.pem"),
                               key = H.cert("server-enc.key"), password = "secret" })
      assert(wolfssl.context { mode = "server", certificate = H.cert("server-chain.pem"),
                               key = H.cert("server-chain.key") })
    end)

    it("a server certificate without its key is an error", function()
      local c, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem") }
      assert.is_nil(c)
      assert.matches("key", err)
    end)

    it("wrong types raise naming the key", function()
      raises("bad option 'certificate'", { mode = "server", certificate = 12 })
      raises("bad option 'key'", { mode = "server", certificate = H.cert("server.pem"), key = true })
      raises("bad option 'password'", { mode = "server", password = 1234 })
    end)
  end)

  describe("trust", function()
    it("cafile (one CA and a bundle)", function()
      ok_pair(client { cafile = H.cert("ca.pem") }, server())
      ok_pair(client { cafile = H.cert("both-ca.pem") }, server { certificate = H.cert("rsa-server.pem"), key = H.cert("rsa-server.key") })
      local _, _, ok = pair(client { cafile = H.cert("rsa-ca.pem") }, server())
      assert.is_nil(ok)
    end)

    it("capath", function()
      ok_pair(client { cafile = nil, capath = H.cert("capath") }, server())
      local c, err = wolfssl.context { mode = "client", capath = "/nonexistent-dir" }
      assert.is_nil(c)
      assert.matches("capath: .*'/nonexistent%-dir'", err)
    end)

    it("cadata as PEM, DER, and an array of x509", function()
      ok_pair(client { cafile = nil, cadata = H.read("ca.pem") }, server())
      ok_pair(client { cafile = nil, cadata = H.read("ca.der") }, server())
      ok_pair(client { cafile = nil, cadata = { wolfssl.x509.load(H.read("rsa-ca.pem")), wolfssl.x509.load(H.read("ca.pem")) } },
              server())
      local c, err = wolfssl.context { mode = "client", cadata = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n" }
      assert.is_nil(c)
      assert.matches("cadata", err)
      raises("bad option 'cadata'", { mode = "client", cadata = 5 })
    end)

    it("system_ca is the default for clients with no CA, and does not trust the test CA", function()
      local c = ctx { mode = "client" }
      local _, _, ok, side, err = pair(c, server())
      assert.is_nil(ok)
      assert.equal("client", side)
      assert.matches("unknown CA", err)
      c = ctx { mode = "client", system_ca = true, cafile = H.cert("ca.pem") }
      ok_pair(c, server())
      raises("bad option 'system_ca'", { mode = "client", system_ca = "yes" })
    end)

    it("verify = none accepts an untrusted server", function()
      local cc = client { verify = "none" }
      local c = ok_pair(cc, server { certificate = H.cert("untrusted.pem"), key = H.cert("untrusted.key") })
      local ok, why = c:verify_result()
      assert.is_false(ok)
      assert.matches("not verified", why)
    end)

    it("verify = peer (client default) rejects an untrusted server", function()
      local _, _, ok, side = pair(client(), server { certificate = H.cert("untrusted.pem"), key = H.cert("untrusted.key") })
      assert.is_nil(ok)
      assert.equal("client", side)
    end)

    it("server verify = peer asks for a certificate but lets a client without one in", function()
      local sctx = server { verify = "peer", cafile = H.cert("ca.pem") }
      local _, s = ok_pair(client(), sctx)
      assert.is_nil(s:peer_certificate())
      local cc = client { certificate = H.cert("client.pem"), key = H.cert("client.key") }
      _, s = ok_pair(cc, sctx)
      assert.matches("Test Client", tostring(s:peer_certificate():subject()))
      assert.is_true((s:verify_result()))
      -- an untrusted client certificate is refused
      local _, _, ok, side = pair(client { certificate = H.cert("untrusted-client.pem"), key = H.cert("untrusted-client.key") }, sctx)
      assert.is_nil(ok)
      assert.equal("server", side)
    end)

    it("server verify = require refuses a client without a certificate", function()
      local sctx = server { verify = "require", cafile = H.cert("ca.pem") }
      local _, _, ok, side, err = pair(client(), sctx)
      assert.is_nil(ok)
      assert.equal("server", side)
      assert.matches("certificate", err)
      ok_pair(client { certificate = H.cert("client.pem"), key = H.cert("client.key") }, sctx)
      raises("bad option 'verify'.*\"always\"", { mode = "client", verify = "always" })
    end)

    it("server default is verify = none: no CertificateRequest", function()
      local cc = client { certificate = H.cert("client.pem"), key = H.cert("client.key") }
      local _, s = ok_pair(cc, server())
      assert.is_nil(s:peer_certificate())
    end)

    it("verify_depth limits the chain length", function()
      local sctx = server { certificate = H.cert("deep-chain.pem"), key = H.cert("deep-leaf.key") }
      ok_pair(client { cafile = H.cert("deep-ca.pem") }, sctx)
      local _, _, ok, side, err = pair(client { cafile = H.cert("deep-ca.pem"), verify_depth = 2 }, sctx)
      assert.is_nil(ok)
      assert.equal("client", side)
      assert.matches("certificate verify failed", err)
      raises("bad option 'verify_depth'", { mode = "client", verify_depth = -1 })
      raises("bad option 'verify_depth'", { mode = "client", verify_depth = 1.5 })
    end)

    it("check_hostname (default on) and check_hostname = false", function()
      local sctx = server { certificate = H.cert("wronghost.pem"), key = H.cert("wronghost.key") }
      local _, _, ok, _, err = pair(client(), sctx)
      assert.is_nil(ok)
      assert.matches("hostname mismatch", err)
      local c = ok_pair(client { check_hostname = false }, sctx)
      assert.is_true((c:verify_result()))
      raises("bad option 'check_hostname'", { mode = "client", check_hostname = "no" })
      raises("bad option 'check_hostname': needs verify", { mode = "client", verify = "none", check_hostname = true })
    end)

    it("a client that checks the hostname needs server_name", function()
      local ok, err = pcall(client().new, client(), {})
      assert.is_false(ok)
      assert.matches("bad option 'server_name'", err)
      assert.is_truthy(client { check_hostname = false }:new {})
    end)
  end)

  describe("alpn", function()
    it("the server picks from its list", function()
      local c, s = ok_pair(client { alpn = { "h2", "http/1.1" } }, server { alpn = { "http/1.1" } })
      assert.equal("http/1.1", c:alpn())
      assert.equal("http/1.1", s:alpn())
      c = ok_pair(client { alpn = "foo,bar" }, server { alpn = { "bar", "foo" } })
      assert.is_string(c:alpn())
    end)

    it("bad lists raise naming the key", function()
      raises("bad option 'alpn'", { mode = "client", alpn = {} })
      raises("bad option 'alpn'", { mode = "client", alpn = { "" } })
      raises("bad option 'alpn'", { mode = "client", alpn = 3 })
    end)
  end)

  describe("sessions", function()
    it("session_tickets = false: the client asks for none, the server sends none", function()
      local h = client_hello(client { max_version = "tls1.2" })
      assert.is_true(has(h.extensions, "session_ticket"))
      h = client_hello(client { max_version = "tls1.2", session_tickets = false })
      assert.is_false(has(h.extensions, "session_ticket"))
      -- a TLS 1.3 server sends a NewSessionTicket after the handshake, unless told not to
      local function server_bytes(sctx)
        local c = client():new { server_name = "localhost" }
        local s = sctx:new {}
        local total, sdone = 0, false
        for _ = 1, 20 do
          c:handshake()
          s:feed(c:drain())
          if not sdone then sdone = s:handshake() end
          local out = s:drain()
          total = total + #out
          c:feed(out)
          if sdone and c:handshake() then break end
        end
        assert.is_true(sdone)
        return total
      end
      local with, without = server_bytes(server()), server_bytes(server { session_tickets = false })
      assert.is_true(with - without > 100, ("with tickets %d bytes, without %d"):format(with, without))
      raises("bad option 'session_tickets'", { mode = "client", session_tickets = "yes" })
    end)

    it('session_tickets and session_cache take both true/false and "on"/"off"', function()
      -- tickets: the client's hello carries the extension exactly when they are on
      for _, v in ipairs { true, "on", false, "off" } do
        local h = client_hello(client { max_version = "tls1.2", session_tickets = v })
        assert.equal(v == true or v == "on", has(h.extensions, "session_ticket"), tostring(v))
      end
      -- the server's id cache: a TLS 1.2 session id resumes exactly when it is on
      for _, v in ipairs { true, "on", false, "off" } do
        local cc = client { max_version = "tls1.2", session_tickets = "off" }
        local sc = server { session_cache = v, session_tickets = false }
        local sess = ok_pair(cc, sc):session()
        local c2, _, ok = H.pair(cc, sc, { server_name = "localhost", session = sess })
        assert.is_true(ok)
        assert.equal(v == true or v == "on", c2:session_reused(), "session_cache = " .. tostring(v))
      end
      raises('bad option \'session_tickets\': expected true, false, "on" or "off"',
        { mode = "client", session_tickets = "yes" })
      raises('bad option \'session_cache\': expected true, false, "on" or "off"',
        { mode = "server", session_cache = 1 })
    end)

    it("session_cache = off: the server keeps no session, so none resumes", function()
      for _, case in ipairs { { "on", true }, { "off", false } } do
        local cc = client { max_version = "tls1.2" }
        local sc = server { session_cache = case[1], session_tickets = false }
        local c = ok_pair(cc, sc)
        local sess = c:session()
        if case[2] then assert.is_truthy(sess) end
        local c2, s2, ok = H.pair(cc, sc, { server_name = "localhost", session = sess })
        assert.is_true(ok)
        assert.equal(case[2], c2:session_reused(), "session_cache = " .. case[1])
        assert.equal(case[2], s2:session_reused())
      end
    end)

    it("session_timeout sets the lifetime of the server's tickets", function()
      local c = ok_pair(client(), server { session_timeout = 44 })
      c:read() -- the TLS 1.3 ticket arrives after the handshake
      assert.equal(44, c:session():timeout())
    end)

    it("session_cache, session_timeout accept their values and reject others", function()
      assert.is_truthy(server { session_cache = "off", session_timeout = 60 })
      assert.is_truthy(server { session_cache = "on", session_cache_size = 100 })
      raises("bad option 'session_cache'.*\"maybe\"", { mode = "server", session_cache = "maybe" })
      raises("bad option 'session_timeout'", { mode = "server", session_timeout = 0 })
      raises("bad option 'session_timeout'", { mode = "server", session_timeout = "1h" })
    end)
  end)

  describe("post_handshake_auth", function()
    it("a client offers post-handshake authentication only when asked", function()
      if not wolfssl.features.post_handshake_auth then
        raises("post_handshake_auth", { mode = "client", post_handshake_auth = true })
        return
      end
      local h = client_hello(client())
      assert.is_false(has(h.extensions, "post_handshake_auth"))
      h = client_hello(client { post_handshake_auth = true })
      assert.is_true(has(h.extensions, "post_handshake_auth"))
      raises("bad option 'post_handshake_auth'", { mode = "client", post_handshake_auth = 1 })
    end)
  end)

  describe("callbacks", function()
    -- (they used to raise "not supported yet" until written; every one is now)
    it("are accepted, or refused naming the key where the build lacks them", function()
      for _, name in ipairs { "on_psk", "on_message", "on_state", "keylog" } do
        local ok, ctx = pcall(wolfssl.context, { mode = "client", cafile = H.cert("ca.pem"),
          max_version = "tls1.2", [name] = function() end })
        if ok then
          assert.equal("client", ctx:mode())
        else
          assert.matches("bad option '" .. name .. "': .*not supported by this wolfSSL build", ctx)
        end
      end
    end)
  end)
end)
