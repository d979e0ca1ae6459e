-- wolfssl.trace: the readable step list and its summary.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local H = require "helpers"

local function joined(lines) return table.concat(lines, "\n") end

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
    -- one line per message
    assert.equal(#rec:messages(c) + 3, #lines)
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
    assert.equal(mine, #lines)
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
    assert.equal(#rec:messages(c), #lines)
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
