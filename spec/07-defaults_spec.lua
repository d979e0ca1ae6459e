-- Security defaults (DESIGN.md context options): our cipher suites and groups
-- apply on every build, client and server, whether or not the user passes
-- `ciphers`; openssl s_client asking for anything weaker is refused; our
-- client offers nothing weaker and puts X25519 first.
local wolfssl = require "wolfssl"
local hello = require "wolfssl.hello"
local H = require "helpers"
local P = require "peers"

-- what a default client offers, decoded from its ClientHello (memory mode)
local function default_hello(o)
  local t = { mode = "client", verify = "none" }
  for k, v in pairs(o or {}) do t[k] = v end
  local c = assert(wolfssl.context(t)):new {}
  assert.same({ nil, "wantread" }, { c:handshake() })
  return assert(hello.peek(c:drain()))
end

-- Suites that must never be offered or accepted unless listed by the user:
-- IANA name (as wolfssl.hello reports it), OpenSSL name (for s_client),
-- wolfSSL name (for our own client, on builds that have the suite)
local WEAK = {
  { "TLS_ECDHE_ECDSA_WITH_NULL_SHA", "eNULL:@SECLEVEL=0", "ECDHE-ECDSA-NULL-SHA" },
  { "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "3DES:@SECLEVEL=0", "ECDHE-RSA-DES-CBC3-SHA" },
  { "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", "AES128-GCM-SHA256" },
  { "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES128-SHA" },
  { "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384" },
  { "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA" },
  { "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES256-SHA384" },
}

-- can this machine's openssl offer the suites of a cipher string in TLS 1.2?
-- (asked once per string: both servers below ask)
local offers = {}
local function openssl_offers(list)
  if offers[list] == nil then
    local out = P.capture("openssl ciphers -s -tls1_2 '" .. list .. "'")
    offers[list] = out:find("%u") ~= nil and not out:find("rror")
  end
  return offers[list]
end

local AEAD_FS = {
  "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

local SERVERS = {
  ECDSA = { certificate = H.cert("server.pem"), key = H.cert("server.key") },
  RSA = { certificate = H.cert("rsa-server.pem"), key = H.cert("rsa-server.key") },
}

describe("default cipher suites", function()
  after_each(P.stop_all)

  it("a default client offers exactly the AEAD suites with forward secrecy", function()
    local h = default_hello()
    assert.same(AEAD_FS, h.ciphers)
    for _, w in ipairs(WEAK) do assert.is_false(H.contains(h.ciphers, w[1]), w[1]) end
    -- the draft ChaCha20 suites (0xcc13-0xcc15) neither
    for _, c in ipairs(h.ciphers) do assert.no.matches("^0x", c) end
  end)

  it("a TLS 1.2-only client offers the TLS 1.2 half; a TLS 1.3-only client nothing weak", function()
    local h12 = default_hello { max_version = "tls1.2" }
    for _, c in ipairs(h12.ciphers) do
      assert.is_true(H.contains(AEAD_FS, c) and c:find("ECDHE", 1, true) ~= nil, c)
    end
    assert.is_false(H.contains(h12.ciphers, "TLS_AES_128_GCM_SHA256"))
    -- a TLS 1.3-only client lists the TLS 1.2 half too (so that a TLS 1.2-only
    -- wolfSSL server answers protocol_version): nothing weak either way
    local h13 = default_hello { min_version = "tls1.3" }
    assert.same({ "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256" },
                { h13.ciphers[1], h13.ciphers[2], h13.ciphers[3] })
    for _, c in ipairs(h13.ciphers) do assert.is_true(H.contains(AEAD_FS, c), c) end
  end)

  it("a user's `ciphersuites` alone keeps our TLS 1.2 default, and the other way round", function()
    local h = default_hello { ciphersuites = "TLS13-AES256-GCM-SHA384" }
    assert.equal("TLS_AES_256_GCM_SHA384", h.ciphers[1])
    assert.is_false(H.contains(h.ciphers, "TLS_AES_128_GCM_SHA256"))
    assert.is_true(H.contains(h.ciphers, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
    assert.is_false(H.contains(h.ciphers, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"))
    -- a suite the user lists is theirs to have
    h = default_hello { ciphers = "ECDHE-RSA-AES128-SHA" }
    assert.is_true(H.contains(h.ciphers, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"))
    assert.is_true(H.contains(h.ciphers, "TLS_AES_128_GCM_SHA256"))
  end)

  for kind, o in pairs(SERVERS) do
    it("a default server (" .. kind .. " certificate) refuses every weak suite openssl s_client asks for", function()
      local sctx = H.server_ctx(o)
      local tried = 0
      for _, w in ipairs(WEAK) do
        if openssl_offers(w[2]) then -- (this openssl has no 3DES)
          tried = tried + 1
          local ok, err, _, out = P.serve_s_client(sctx, "-tls1_2 -cipher '" .. w[2] .. "'")
          assert.is_nil(ok, w[2] .. " was accepted")
          assert.is_truthy(err == "no shared cipher" or err:find("closed by peer", 1, true),
            w[2] .. ": " .. tostring(err))
          assert.matches("Cipher is %(NONE%)", out)
        end
      end
      assert.is_true(tried >= 6)
      -- and the good suites still work
      local ok, err, conn = P.serve_s_client(sctx, "-tls1_2")
      assert.is_true(ok, err)
      assert.matches("^ECDHE%-" .. kind .. "%-", conn:cipher())
      assert.matches("GCM", conn:cipher())
    end)

    it("a default server (" .. kind .. " certificate) refuses our own client offering only a weak suite", function()
      local sctx = H.server_ctx(o)
      for _, w in ipairs(WEAK) do
        local made, cctx = pcall(wolfssl.context, { mode = "client", verify = "none",
          max_version = "tls1.2", ciphers = w[3] })
        if made then
          local c, s = cctx:new {}, sctx:new {}
          local ok, side, err = H.handshake(c, s)
          assert.is_nil(ok, w[3] .. " was accepted")
          assert.same({ "server", "no shared cipher" }, { side, err })
        else -- this build cannot speak it at all
          assert.matches("bad option 'ciphers'", cctx)
        end
      end
    end)
  end
end)

describe("default groups", function()
  after_each(P.stop_all)

  it("a default client offers (X25519MLKEM768,) X25519, P-256, P-384 in that order, with key shares for the first two, or X25519", function()
    local h = default_hello()
    local want = {}
    if wolfssl.features.mlkem then want[#want + 1] = "X25519MLKEM768" end
    want[#want + 1] = "x25519"
    want[#want + 1] = "secp256r1"
    want[#want + 1] = "secp384r1"
    assert.same(want, h.groups)
    -- post-quantum where the build has ML-KEM, with X25519 beside it (issue 13)
    assert.same(wolfssl.features.mlkem and { "X25519MLKEM768", "x25519" } or { "x25519" }, h.key_share_groups)
  end)

  for _, peer in ipairs {
    { "openssl s_server", "openssl", "openssl s_server -accept %d -cert %s -key %s -www" },
    { "gnutls-serv", "gnutls-serv", "gnutls-serv --port %d --x509certfile %s --x509keyfile %s" },
  } do
    it(("against %s it negotiates X25519 with no HelloRetryRequest"):format(peer[1]), function()
      if not P.have(peer[2]) then pending(peer[2] .. " is not installed") end
      local port = P.start(peer[3], H.cert("server.pem"), H.cert("server.key"))
      local messages = {}
      local cctx = H.client_ctx { on_message = function(_, m)
        if m.direction == "received" then messages[#messages + 1] = m.type end
      end }
      local conn, sock = P.connect(port, cctx)
      assert.is_true(P.handshake(conn, sock))
      assert.equal("TLSv1.3", conn:version())
      assert.equal("X25519", conn:group())
      assert.equal("server_hello", messages[1])
      assert.is_false(H.contains(messages, "hello_retry_request"))
      sock:close()
    end)
  end

  it("the HelloRetryRequest check can fail: a P-384-first client meets gnutls-serv's X25519 choice", function()
    if not P.have("gnutls-serv") then pending("gnutls-serv is not installed") end
    local port = P.start("gnutls-serv --port %d --x509certfile %s --x509keyfile %s --priority NORMAL:-GROUP-ALL:+GROUP-X25519",
      H.cert("server.pem"), H.cert("server.key"))
    local messages = {}
    local cctx = H.client_ctx { groups = "P-384:X25519", on_message = function(_, m)
      if m.direction == "received" then messages[#messages + 1] = m.type end
    end }
    local conn, sock = P.connect(port, cctx)
    assert.is_true(P.handshake(conn, sock))
    assert.equal("X25519", conn:group())
    assert.is_true(H.contains(messages, "hello_retry_request"))
    sock:close()
  end)
end)

describe("a TLS 1.2 ECDSA server and the client's curves", function()
  after_each(P.stop_all)

  it("refuses with handshake_failure an openssl s_client that did not offer the certificate's curve", function()
    local sctx = H.server_ctx() -- ECDSA P-256 certificate
    for _, groups in ipairs { "X25519", "X25519:P-384" } do
      local ok, err, _, out = P.serve_s_client(sctx, "-tls1_2 -groups " .. groups)
      assert.is_nil(ok)
      assert.equal("no shared cipher (the client does not support the certificate's curve P-256)", err)
      assert.matches("alert handshake failure", out)
      assert.no.matches("BEGIN CERTIFICATE", out) -- the certificate was never sent
      assert.no.matches("Certificate chain", out)
    end
    -- offered: fine; and TLS 1.3 has no such rule (signature_algorithms decide)
    local ok, err = P.serve_s_client(sctx, "-tls1_2 -groups X25519:P-256")
    assert.is_true(ok, err)
    ok, err = P.serve_s_client(sctx, "-tls1_3 -groups X25519")
    assert.is_true(ok, err)
  end)

  it("refuses our own TLS 1.2 client the same way, in memory", function()
    local c, _, ok, side, err = H.pair(H.client_ctx { max_version = "tls1.2", groups = "X25519" }, H.server_ctx())
    assert.is_nil(ok)
    assert.same({ "server", "no shared cipher (the client does not support the certificate's curve P-256)" },
                { side, err })
    assert.matches("peer sent alert handshake_failure", c:last_error().message)
    -- an RSA server has no curve to match
    _, _, ok, side, err = H.pair(H.client_ctx { max_version = "tls1.2", groups = "X25519", cafile = H.cert("rsa-ca.pem") },
      H.server_ctx { certificate = H.cert("rsa-server.pem"), key = H.cert("rsa-server.key") })
    assert.is_true(ok, tostring(side) .. ": " .. tostring(err))
  end)
end)

describe("renegotiation", function()
  after_each(P.stop_all)

  it('the option takes "refuse" (the default) and "allow" (only where the build has it)', function()
    assert.is_truthy(wolfssl.context { mode = "server", renegotiation = "refuse" })
    local ok, err = pcall(wolfssl.context, { mode = "server", renegotiation = "sometimes" })
    assert.is_false(ok)
    assert.matches("bad option 'renegotiation': expected one of \"refuse\", \"allow\"", err)
    ok, err = pcall(wolfssl.context, { mode = "client", renegotiation = "allow" })
    if wolfssl.features.renegotiation then
      assert.is_true(ok, err)
    else
      assert.is_false(ok)
      assert.matches("bad option 'renegotiation': \"allow\" is not supported by this wolfSSL build " ..
                     "%(no secure renegotiation%)", err)
    end
  end)

  it("a TLS 1.2 renegotiation request from openssl s_client (R) is refused in words, and openssl is told", function()
    local srv, port = P.listen()
    local fifo, out = os.tmpname(), os.tmpname()
    os.remove(fifo)
    assert.is_truthy(os.execute("mkfifo " .. fifo))
    local pid = P.spawn(("exec timeout 20 sh -c 'exec openssl s_client -connect 127.0.0.1:%d -tls1_2 -msg <%s >%s 2>&1'")
      :format(port, fifo, out))
    local input = assert(io.open(fifo, "w")) -- s_client's stdin: we type into it
    local conn, sock, ok, err = P.serve_one(srv, H.server_ctx())
    assert.is_true(ok, err)
    input:write("before\n"); input:flush()
    assert.equal("before\n", P.await(conn, sock, "read"))
    input:write("R\n"); input:flush() -- s_client sends a ClientHello
    local data, rerr = P.await(conn, sock, "read")
    assert.is_nil(data)
    assert.equal("peer asked to renegotiate (TLS 1.2 renegotiation is refused)", rerr)
    assert.equal("renegotiation", conn:last_error().kind)
    input:close()
    P.wait_exit(pid, 5)
    local f = assert(io.open(out, "rb"))
    local text = f:read("*a")
    f:close()
    os.remove(out); os.remove(fifo)
    assert.matches("RENEGOTIATING", text)
    assert.matches("<<< TLS 1.2, Alert", text) -- openssl was told, not left waiting
    sock:close()
    if wolfssl.features.renegotiation then
      -- DESIGN.md: a no_renegotiation *warning*, our side keeps the
      -- connection; OpenSSL 3 itself then ends it (rec_layer_s3.c: a refused
      -- renegotiation it asked for is fatal to it), which is the alert our
      -- read reports. spec/52 shows the connection kept with a peer that
      -- goes on (our own client).
      assert.matches("<<< TLS 1.2, Alert %[length 0002%], warning no_renegotiation", text)
      assert.matches(">>> TLS 1.2, Alert %[length 0002%], fatal handshake_failure", text)
      assert.equal("handshake_failure", conn:last_error().alert) -- what openssl sent
    else
      -- Debian's 5.5.4 (features.renegotiation false) has no way to refuse a
      -- renegotiating ClientHello but a fatal DUPLICATE_MSG_E (internal.c
      -- SanityCheckMsgReceived): the connection ends, in these words.
      assert.is_nil(text:find("warning no_renegotiation", 1, true))
    end
  end)
end)
