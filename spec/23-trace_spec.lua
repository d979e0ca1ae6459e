-- wolfssl.trace: the readable step list and its summary.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local H = require "helpers"

local function joined(lines) return table.concat(lines, "\n") end

-- the message lines of a trace (arrows), without the key schedule steps
local function message_lines(lines)
  local n = 0
  for _, l in ipairs(lines) do
    if l:match("^  [CS] [<-][->] [CS]  ") then n = n + 1 end
  end
  return n
end

describe("wolfssl.trace", function()
  it("renders a TLS 1.3 handshake, one line per message with arrows, then a summary", function()
    local lines = {}
    local o = { mode = "client", cafile = H.cert("ca.pem"), alpn = { "h2", "http/1.1" } }
    local rec = trace.attach(o, lines)
    local c, s, ok, _, err = H.pair(assert(wolfssl.context(o)), H.server_ctx({ alpn = { "h2" } }))
    assert(ok, err)
    rec:summary(c)
    local text = joined(lines)
    assert.matches("C %-> S  ClientHello +versions TLSv1.3,TLSv1.2; %d+ suites; SNI localhost; ALPN h2,http/1.1; key share X25519", text)
    assert.matches("C <%- S  ServerHello +TLSv1.3; TLS_AES_%d+_GCM_SHA%d+; key share X25519", text)
    assert.matches("C <%- S  EncryptedExtensions ALPN h2", text)
    assert.matches("C <%- S  Certificate +CN=localhost, issued by CN=Test Root CA, valid 2024%-01%-01 .. 2099%-12%-31", text)
    assert.matches("C %-> S  Finished", text)
    if not wolfssl.features.msg_trace_decrypted then
      assert.matches("Certificate .*%[inferred: encrypted on this build%]", text)
    end
    assert.matches("== TLSv1.3, TLS_AES_%d+_GCM_SHA%d+, group X25519", text)
    assert.matches("full handshake, 1 round trip, [%d.]+ ms", text)
    assert.matches("peer certificate verified; ALPN h2", text)
    -- one line per message (issue 16: and the key schedule steps between them)
    assert.equal(#rec:messages(c), message_lines(lines))
    c:close(); s:close()
  end)

  it("shows TLS 1.2 key exchange and counts two round trips", function()
    local lines = {}
    local o = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2" }
    local rec = trace.attach(o, lines)
    local c, s, ok = H.pair(assert(wolfssl.context(o)), H.server_ctx())
    assert(ok)
    local text = joined(rec:summary(c))
    local all = joined(lines)
    assert.matches("C <%- S  ServerKeyExchange +ECDHE; group X25519; public key 32 bytes; signed with ecdsa_sha256", all)
    assert.matches("C %-> S  ClientKeyExchange +ECDHE; public key 32 bytes", all)
    assert.matches("C %-> S  ChangeCipherSpec", all)
    assert.matches("C <%- S  ServerHelloDone", all)
    assert.matches("TLSv1.2, [%w_]*ECDHE.ECDSA.[%w_-]+, group X25519", text)
    assert.matches("full handshake, 2 round trips", text)
    c:close(); s:close()
  end)

  describe("TLS 1.2 Finished, decrypted from the connection's own master secret (issue 16)", function()
    local function finished(rec, conn, direction)
      for _, m in ipairs(rec:messages(conn)) do
        if m.type == "finished" and m.direction == direction then return m end
      end
    end

    for _, suite in ipairs({ "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                             "ECDHE-ECDSA-CHACHA20-POLY1305" }) do
      it(suite .. ": both Finished messages, both sides, the same verify_data", function()
        local clines, slines = {}, {}
        local co = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2", ciphers = suite }
        local so = { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key"),
                     max_version = "tls1.2", ciphers = suite }
        local crec, srec = trace.attach(co, clines), trace.attach(so, slines)
        local c, s, ok, _, err = H.pair(assert(wolfssl.context(co)), assert(wolfssl.context(so)))
        assert(ok, err)
        for _, dir in ipairs({ { "sent", "received" }, { "received", "sent" } }) do
          local mine, theirs = finished(crec, c, dir[1]), finished(srec, s, dir[2])
          assert.is_nil(mine.inferred)
          assert.is_true(mine.decrypted)
          assert.equal(12, mine.fields.verify_data_length)
          assert.equal(mine.fields.verify_data, theirs.fields.verify_data)
          assert.equal("\20\0\0\12", mine.data:sub(1, 4))
        end
        assert.not_equal(finished(crec, c, "sent").fields.verify_data,
                         finished(crec, c, "received").fields.verify_data)
        local text = joined(clines)
        assert.matches("C %-> S  Finished +verify_data " .. ("%x"):rep(24) .. " %(12 bytes%)\n", text)
        assert.matches("C <%- S  Finished +verify_data " .. ("%x"):rep(24) .. " %(12 bytes%)", text)
        assert.is_nil(text:find("not decoded", 1, true), text)
        assert.matches("S <%- C  Finished +verify_data " .. ("%x"):rep(24), joined(slines))
        c:close(); s:close()
      end)
    end

    it("a resumed session: the Finished messages come from the resumed master secret", function()
      local lines = {}
      local co = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2" }
      local rec = trace.attach(co, lines)
      local cctx, sctx = assert(wolfssl.context(co)), H.server_ctx()
      local c, s, ok = H.pair(cctx, sctx)
      assert(ok)
      local sess = assert(c:session())
      c:close(); s:close()
      local c2, s2, ok2 = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
      assert(ok2)
      assert.is_true(c2:session_reused())
      local fin = {}
      for _, m in ipairs(rec:messages(c2)) do
        if m.type == "finished" then fin[#fin + 1] = m.direction .. " " .. tostring(m.fields.verify_data_length) end
      end
      assert.same({ "received 12", "sent 12" }, fin) -- the server finishes first when resuming
      c2:close(); s2:close()
    end)

    it("a suite the decoder does not handle: shown undecoded, with the reason", function()
      local lines = {}
      local suite = "ECDHE-ECDSA-AES128-SHA256"
      local co = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2", ciphers = suite }
      trace.attach(co, lines)
      local c, s, ok, _, err = H.pair(assert(wolfssl.context(co)),
                                      H.server_ctx({ max_version = "tls1.2", ciphers = suite }))
      assert(ok, err) -- both builds have this CBC suite
      assert.matches("C %-> S  Finished +%[encrypted record, not decoded: cipher suite not supported", joined(lines))
      c:close(); s:close()
    end)
  end)

  describe("the key schedule, a step of its own (issue 16, step 6)", function()
    local HEX64 = ("%x"):rep(64)
    -- the default TLS 1.3 key share (options.default_groups): the ML-KEM
    -- hybrid where the build has it, else X25519 (P-256 for a PSK client)
    local MLKEM = wolfssl.features.mlkem
    local KX = MLKEM and "X25519MLKEM768 shared secret %(ECDHE %+ ML%-KEM%)" or "X25519 shared secret %(ECDHE%)"
    local KX_PSK = MLKEM and KX or "P%-256 shared secret %(ECDHE%)"
    local KX_NAME = MLKEM and "X25519MLKEM768" or "X25519"

    -- a traced client (secrets as asked) against our server; lines, recorder, conn, key log lines
    local function traced(co, so, secrets, copts)
      local lines, keylog = {}, {}
      co.mode, co.cafile = "client", H.cert("ca.pem")
      if co.max_version == "tls1.2" or wolfssl.features.keylog_tls13 then
        co.keylog = function(_, line) keylog[#keylog + 1] = line end
      end
      local rec = trace.attach(co, lines, secrets and { secrets = true } or nil)
      local c, s, ok, _, err = H.pair(assert(wolfssl.context(co)), H.server_ctx(so), copts)
      assert(ok, err)
      return joined(lines), rec, c, s, keylog
    end

    -- the secret of a key log line with this label
    local function logged(keylog, label)
      for _, l in ipairs(keylog) do
        local v = l:match("^" .. label .. " %x+ (%x+)$")
        if v then return v end
      end
    end

    it("TLS 1.3: handshake keys after ServerHello, application keys after the server's Finished; no bytes", function()
      local text, rec, c, s = traced({}, {})
      local stages = {}
      for i, k in ipairs(rec:keys(c)) do stages[i] = k.stage end
      assert.same({ "handshake", "application" }, stages)
      assert.matches("C <%- S  ServerHello[^\n]*\n  %*%*  Keys +handshake keys, HKDF%-SHA256; inputs: " .. KX .. ", " ..
                     "transcript hash ClientHello..ServerHello\n", text)
      assert.matches("\n        early_secret +32 bytes  HKDF%-Extract%(0, 0%): no PSK\n", text)
      assert.matches("\n        handshake_secret +32 bytes  HKDF%-Extract%(Derive%-Secret%(early_secret, \"derived\"%), " .. KX_NAME .. " shared secret%)", text)
      assert.matches("\n        client_handshake_traffic_secret +32 bytes  Derive%-Secret%(handshake_secret, \"c hs traffic\"", text)
      assert.matches("\n        server_handshake_traffic_secret +32 bytes", text)
      assert.matches("client and server write key 16 bytes %+ IV 12 bytes each.-AEAD %(AES%-128%-GCM%): no MAC key", text)
      assert.matches("C <%- S  Finished[^\n]*\n  %*%*  Keys +application keys, HKDF%-SHA256", text)
      assert.matches("\n        master_secret +32 bytes", text)
      assert.matches("\n        client_application_traffic_secret_0 +32 bytes[^\n]*\n        server_application_traffic_secret_0 +32 bytes", text)
      assert.is_true(text:find("**  Keys", 1, true) < text:find("EncryptedExtensions", 1, true))
      assert.is_true(text:find("application keys", 1, true) < text:find("C -> S  Finished", 1, true))
      assert.is_nil(text:find("%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x"), text) -- no secret bytes
      c:close(); s:close()
    end)

    it("TLS 1.3 with TLS_AES_256_GCM_SHA384: HKDF-SHA384, 48-byte secrets, 32-byte keys", function()
      local text, _, c, s = traced({ ciphersuites = { "TLS13-AES256-GCM-SHA384" } }, {})
      assert.matches("handshake keys, HKDF%-SHA384", text)
      assert.matches("client_handshake_traffic_secret +48 bytes", text)
      assert.matches("write key 32 bytes %+ IV 12 bytes each.-AES%-256%-GCM", text)
      c:close(); s:close()
    end)

    it("TLS 1.3 resumption: the early secret comes from the PSK", function()
      local co = { mode = "client", cafile = H.cert("ca.pem") }
      local lines = {}
      local rec = trace.attach(co, lines)
      local cctx, sctx = assert(wolfssl.context(co)), H.server_ctx()
      local c, s, ok = H.pair(cctx, sctx)
      assert(ok)
      assert.equal("hi", H.transfer(s, c, "hi")) -- the ticket
      local sess = assert(c:session())
      c:close(); s:close()
      local c2, s2, ok2 = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
      assert(ok2)
      assert.is_true(c2:session_reused())
      local text = joined(lines)
      assert.matches("inputs: the PSK %(resumption secret of the earlier session%), " .. KX, text)
      assert.matches("early_secret +32 bytes  HKDF%-Extract%(0, PSK%)", text)
      assert.equal("handshake", rec:keys(c2)[1].stage)
      c2:close(); s2:close()
    end)

    it("secrets = true: TLS 1.3 traffic secrets printed, marked, the very ones of the key log", function()
      local text, _, c, s, keylog = traced({}, {}, true)
      if wolfssl.features.keylog_tls13 then
        for _, label in ipairs({ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0" }) do
          local v = assert(logged(keylog, label), label)
          assert.matches("\n          = " .. v .. "  %[SECRET, shown because secrets = true%]", text)
        end
        assert.matches("early_secret[^\n]*\n          %(kept inside wolfSSL: not handed out%)", text)
      else -- no secret callback: said so, no bytes
        assert.matches("client_handshake_traffic_secret[^\n]*\n          %(not available: this wolfSSL build has no secret callback%)", text)
        assert.is_nil(text:find(HEX64), text)
      end
      c:close(); s:close()
    end)

    it("wolfssl.trace{secrets = true} (the issue's spelling): a tracer whose recorders print the secret bytes", function()
      local tracer = trace { secrets = true }
      assert.is_function(tracer.attach)
      assert.equal(trace.render, tracer.render) -- the rest of the module, as is
      local lines = {}
      local co = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2" }
      tracer.attach(co, lines)
      local c, s, ok, _, err = H.pair(assert(wolfssl.context(co)), H.server_ctx({}))
      assert(ok, err)
      assert.matches("master_secret[^\n]*\n          = %x+  %[SECRET, shown because secrets = true%]", joined(lines))
      -- without it, no bytes; and a wrong option names itself
      local plain = {}
      local co2 = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2" }
      trace.attach(co2, plain)
      local c2, s2, ok2 = H.pair(assert(wolfssl.context(co2)), H.server_ctx({}))
      assert(ok2)
      assert.is_nil(joined(plain):find("SECRET", 1, true))
      assert.error_matches(function() trace { secrets = "yes" } end, "secrets: boolean expected, got string")
      assert.error_matches(function() trace { secret = true } end, "unknown option 'secret'")
      c:close(); s:close(); c2:close(); s2:close()
    end)

    it("TLS 1.2 ECDHE: master secret (extended) and key block after ClientKeyExchange; secrets = true prints the key log's", function()
      local text, rec, c, s, keylog = traced({ max_version = "tls1.2" }, {}, true)
      assert.equal("master_secret", rec:keys(c)[1].stage)
      assert.matches("C %-> S  ClientKeyExchange[^\n]*\n  %*%*  Keys +master secret and key block, TLS 1.2 PRF %(SHA%-256%); " ..
                     "inputs: X25519 shared secret %(ECDHE%) as premaster secret, session hash ClientHello..ClientKeyExchange " ..
                     "%(extended master secret%)\n", text)
      assert.matches("\n        master_secret +48 bytes  PRF%(premaster_secret, \"extended master secret\", session_hash%)", text)
      assert.matches("\n        key_block +40 bytes  PRF%(master_secret, \"key expansion\", server_random %+ client_random%)", text)
      assert.matches("from key_block: client and server write key 16 bytes %+ IV 4 bytes each; AEAD %(AES%-128%-GCM%): no MAC key", text)
      local ms = assert(logged(keylog, "CLIENT_RANDOM"))
      assert.equal(96, #ms)
      assert.matches("master_secret[^\n]*\n          = " .. ms .. "  %[SECRET", text)
      c:close(); s:close()
    end)

    it("TLS 1.2 CBC suite: MAC keys in the key block, no IV", function()
      local suite = "ECDHE-ECDSA-AES128-SHA256"
      local text, _, c, s = traced({ max_version = "tls1.2", ciphers = suite }, { max_version = "tls1.2", ciphers = suite })
      assert.matches("key_block +96 bytes", text)
      assert.matches("MAC key 32 bytes %+ write key 16 bytes each %(AES%-128%-CBC%); the IV travels in each record", text)
      c:close(); s:close()
    end)

    it("TLS 1.2 resumed by session id: the keys come from the session's master secret", function()
      local co = { mode = "client", cafile = H.cert("ca.pem"), max_version = "tls1.2", session_tickets = false }
      local lines = {}
      local rec = trace.attach(co, lines)
      local cctx, sctx = assert(wolfssl.context(co)), H.server_ctx({ session_tickets = false })
      local c, s, ok = H.pair(cctx, sctx)
      assert(ok)
      local sess = assert(c:session())
      c:close(); s:close()
      local before = #lines
      local c2, s2, ok2 = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
      assert(ok2)
      assert.is_true(c2:session_reused())
      local text = table.concat(lines, "\n", before + 1)
      assert.matches("C <%- S  ServerHello[^\n]*\n  %*%*  Keys +master secret and key block, TLS 1.2 PRF %(SHA%-256%); " ..
                     "inputs: the master secret of the resumed session, both new randoms", text)
      assert.matches("master_secret +48 bytes  kept from the resumed session", text)
      assert.equal(1, #rec:keys(c2))
      c2:close(); s2:close()
    end)

    it("from the server's side too; on_message never sees the step (it is no protocol message)", function()
      local lines, types = {}, {}
      local so = { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key"),
                   on_message = function(_, m) types[#types + 1] = m.type end }
      trace.attach(so, lines)
      local c, s, ok = H.pair(H.client_ctx(), assert(wolfssl.context(so)))
      assert(ok)
      local text = joined(lines)
      assert.matches("S %-> C  ServerHello[^\n]*\n  %*%*  Keys +handshake keys", text)
      assert.matches("S %-> C  Finished[^\n]*\n  %*%*  Keys +application keys", text)
      for _, t in ipairs(types) do assert.not_equal("key_schedule", t) end
      c:close(); s:close()
    end)

    it("a KeyUpdate: the next traffic secret of its sender, where the build decrypts it", function()
      local lines = {}
      local co = { mode = "client", cafile = H.cert("ca.pem") }
      local rec = trace.attach(co, lines)
      local c, s, ok = H.pair(assert(wolfssl.context(co)), H.server_ctx())
      assert(ok)
      assert.equal("x", H.transfer(s, c, "x"))
      assert.is_true(c:key_update())
      assert.equal("after", H.transfer(c, s, "after"))
      assert.equal("reply", H.transfer(s, c, "reply")) -- the server's own KeyUpdate comes first
      local stages = {}
      for _, k in ipairs(rec:keys(c)) do stages[#stages + 1] = k.stage end
      if wolfssl.features.msg_trace_decrypted then
        assert.same({ "handshake", "application", "key_update", "key_update" }, stages)
        local text = joined(lines)
        assert.matches("C %-> S  KeyUpdate[^\n]*\n  %*%*  Keys +key update, HKDF%-SHA256; inputs: the client's previous traffic secret\n" ..
                       "        client_application_traffic_secret_1 +32 bytes", text)
        assert.matches("C <%- S  KeyUpdate[^\n]*\n  %*%*  Keys +key update[^\n]*\n        server_application_traffic_secret_1", text)
      else -- the KeyUpdate is inside an encrypted record this build cannot read: no step is made up
        assert.same({ "handshake", "application" }, stages)
      end
      c:close(); s:close()
    end)

    it("pre-shared keys: in the TLS 1.2 premaster secret, in the TLS 1.3 early secret", function()
      local KEY = ("k"):rep(32)
      for _, v in ipairs({ "tls1.2", "tls1.3" }) do
        local lines = {}
        local o = { mode = "client", verify = "none", max_version = v, psk = { identity = "client1", key = KEY } }
        trace.attach(o, lines)
        local c, s, ok, _, err = H.pair(assert(wolfssl.context(o)), assert(wolfssl.context({
          mode = "server", max_version = v, psk = { hint = "hinty", keys = { client1 = KEY } } })), {})
        assert(ok, err)
        local text = joined(lines)
        if v == "tls1.2" then
          assert.matches("inputs: P%-256 shared secret %(ECDHE_PSK%) as premaster secret and the pre%-shared key", text)
        else
          assert.matches("inputs: the PSK %(a pre%-shared key, or a resumption ticket's secret%), " .. KX_PSK, text)
          assert.matches("early_secret +32 bytes  HKDF%-Extract%(0, PSK%)", text)
        end
        c:close(); s:close()
      end
    end)

    it("names what each suite derives, static RSA and DHE in words (wolfssl.keyschedule)", function()
      local ks = require "wolfssl.keyschedule"
      local p = ks.suite("TLS_RSA_WITH_AES_256_CBC_SHA")
      assert.same({ 32, 0, 20, "AES-256-CBC", "SHA-256" }, { p.key, p.iv, p.mac, p.cipher, p.hash })
      p = ks.suite("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
      assert.same({ 32, 12, 0, true }, { p.key, p.iv, p.mac, p.aead })
      p = ks.suite("TLS_AES_256_GCM_SHA384", true)
      assert.same({ 32, 12, 0, "SHA-384", 48 }, { p.key, p.iv, p.mac, p.hash, p.hash_len })
      local rsa = table.concat(ks.render(ks.tls12({ suite = "TLS_RSA_WITH_AES_128_GCM_SHA256", kx = "RSA" })), "\n")
      assert.matches("inputs: premaster secret %(48 bytes%) chosen by the client and sent encrypted to the server's RSA key: " ..
                     "no forward secrecy", rsa)
      assert.matches("client_random %+ server_random %(no extended master secret%)", rsa)
      local dhe = table.concat(ks.render(ks.tls12({ suite = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", kx = "DHE",
                                                     dh_bits = 2048, ems = true })), "\n")
      assert.matches("DH shared secret %(2048%-bit group%) as premaster secret", dhe)
      local upd = table.concat(ks.render(ks.tls13_key_update({ suite = "TLS_AES_128_GCM_SHA256", side = "client", generation = 1 })), "\n")
      assert.matches("client_application_traffic_secret_1 +32 bytes  HKDF%-Expand%-Label%(client_application_traffic_secret_0, \"traffic upd\"", upd)
    end)

    it("rejects bad options", function()
      assert.has_error(function() trace.attach({}, {}, 42) end,
        "bad argument #3 to 'attach' (options table expected, got number)")
      assert.has_error(function() trace.attach({}, {}, { secrets = "yes" }) end,
        "bad argument #3 to 'attach' (secrets: boolean expected, got string)")
    end)
  end)

  it("renders from the server's side with the arrows reversed", function()
    local lines = {}
    local o = { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key") }
    local rec = trace.attach(o, function(l) lines[#lines + 1] = l end)
    local c, s, ok = H.pair(H.client_ctx(), assert(wolfssl.context(o)))
    assert(ok)
    local text = joined(lines)
    assert.matches("S <%- C  ClientHello", text)
    assert.matches("S %-> C  ServerHello", text)
    assert.matches("client not authenticated", joined(rec:summary(s)))
    c:close(); s:close()
  end)

  it("counts two round trips for a HelloRetryRequest", function()
    local lines = {}
    local o = { mode = "client", cafile = H.cert("ca.pem"), groups = { "X25519", "P-256" } }
    local rec = trace.attach(o, lines)
    local c, s, ok = H.pair(assert(wolfssl.context(o)), H.server_ctx({ groups = { "P-256" } }))
    assert(ok)
    assert.matches("HelloRetryRequest +server asks for another ClientHello; key share P%-256 wanted", joined(lines))
    assert.matches("2 round trips", joined(rec:summary(c)))
    c:close(); s:close()
  end)

  it("ends a failed handshake with the reason in plain words", function()
    local lines = {}
    local o = { mode = "client", cafile = H.cert("ca.pem") }
    local rec = trace.attach(o, lines)
    local c, s, ok, _, err = H.pair(assert(wolfssl.context(o)),
      H.server_ctx({ certificate = H.cert("expired.pem"), key = H.cert("expired.key") }))
    assert.is_nil(ok)
    local sum = joined(rec:summary(c, err))
    assert.matches("handshake FAILED after [%d.]+ ms: certificate verify failed: certificate has expired", sum)
    assert.matches("C %-> S  Alert +fatal certificate_expired", joined(lines))
    c:close(); s:close()
  end)

  it("chains to the on_message / on_state already in the options", function()
    local mine, states = 0, 0
    local o = { mode = "client", cafile = H.cert("ca.pem"),
                on_message = function() mine = mine + 1 end,
                on_state = function() states = states + 1 end }
    local lines = {}
    trace.attach(o, lines)
    local c, s, ok = H.pair(assert(wolfssl.context(o)), H.server_ctx())
    assert(ok)
    assert.is_true(mine > 0)
    assert.equal(mine, message_lines(lines))
    assert.is_true(states > mine)
    c:close(); s:close()
  end)

  it("attaches to one connection of a context that has no trace", function()
    local ctx = H.client_ctx()
    local c = ctx:new({ server_name = "localhost" })
    local lines = {}
    local rec = trace.attach(c, lines)
    assert.is_true(rec.complete)
    local s = H.server_ctx():new()
    assert.is_true(H.handshake(c, s))
    assert.matches("^  C %-> S  ClientHello", lines[1])
    assert.is_true(#rec:messages(c) >= 6)
    -- other connections of the context stay untraced
    local c2, s2, ok = H.pair(ctx, H.server_ctx())
    assert(ok)
    assert.equal(#rec:messages(c), message_lines(lines))
    assert.equal(#rec:keys(c), select(2, joined(lines):gsub("%*%*  Keys", "")))
    c:close(); s:close(); c2:close(); s2:close()
  end)

  it("renders single messages, and rejects bad arguments", function()
    local line = trace.render({ direction = "received", type = "alert",
                                fields = { level = "fatal", description = "handshake_failure" } })
    assert.equal("  C <- S  Alert               fatal handshake_failure", line)
    assert.matches("^  S %-> C", trace.render({ direction = "sent", type = "finished", fields = {} }, "server"))
    assert.has_error(function() trace.attach(42) end,
      "bad argument #1 to 'attach' (options table or connection expected, got number)")
    assert.has_error(function() trace.attach({}, 42) end)
  end)

  it("writes to a file by default-like sinks", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local o = { mode = "client", cafile = H.cert("ca.pem") }
    trace.attach(o, f)
    local c, s, ok = H.pair(assert(wolfssl.context(o)), H.server_ctx())
    assert(ok)
    f:close()
    local text = assert(io.open(path)):read("*a")
    os.remove(path)
    assert.matches("ClientHello", text)
    c:close(); s:close()
  end)
end)
