-- on_message / on_state / keylog: every protocol message, both directions,
-- TLS 1.2 and 1.3, in memory mode; callback safety.
local wolfssl = require "wolfssl"
local H = require "helpers"

local decrypted = wolfssl.features.msg_trace_decrypted

-- contexts whose connections record their messages into conn.data.msgs
local function recording(o)
  o = o or {}
  o.on_message = function(conn, msg)
    local d = conn.data
    d.msgs = d.msgs or {}
    d.msgs[#d.msgs + 1] = msg
  end
  o.on_state = function(conn, where, state)
    local d = conn.data
    d.states = d.states or {}
    d.states[#d.states + 1] = where .. ":" .. state
  end
  return o
end

local function seq(conn)
  local out = {}
  for _, m in ipairs(conn.data.msgs or {}) do
    out[#out + 1] = (m.direction == "sent" and ">" or "<") .. m.type
  end
  return table.concat(out, " ")
end

local function find(conn, type, direction)
  for _, m in ipairs(conn.data.msgs or {}) do
    if m.type == type and (direction == nil or m.direction == direction) then return m end
  end
end

describe("on_message", function()
  it("reports a TLS 1.3 handshake from the client's side, hellos decoded", function()
    local c, s, ok, _, err = H.pair(H.client_ctx(recording()), H.server_ctx())
    assert(ok, err)
    assert.equal(">client_hello <server_hello <encrypted_extensions <certificate " ..
                 "<certificate_verify <finished >finished", seq(c))
    local ch = find(c, "client_hello")
    assert.equal("handshake", ch.content_type)
    assert.equal(1, ch.data:byte(1))          -- the raw message, header included
    assert.equal("localhost", ch.fields.server_name)
    assert.truthy(table.concat(ch.fields.versions, ","):find("TLSv1.3", 1, true))
    assert.is_nil(ch.inferred)
    local sh = find(c, "server_hello")
    assert.equal("TLSv1.3", sh.version)
    assert.equal(0x0304, sh.fields.version)
    assert.matches("^TLS_", sh.fields.cipher_suite)
    assert.is_false(sh.fields.hello_retry_request)
    local cert = find(c, "certificate")
    local x = cert.fields.certificates[1]
    assert.equal("userdata", type(x))
    assert.matches("CN=localhost", x:subject().text or tostring(x:subject()))
    if not decrypted then
      assert.is_true(cert.inferred)
      assert.is_true(find(c, "finished", "sent").inferred)
      assert.is_nil(cert.data)
    end
    c:close(); s:close()
  end)

  it("reports a TLS 1.3 handshake from the server's side, and the ticket it sends", function()
    local c, s, ok, _, err = H.pair(H.client_ctx(), H.server_ctx(recording()))
    assert(ok, err)
    assert.equal("<client_hello >server_hello >encrypted_extensions >certificate " ..
                 ">certificate_verify >finished <finished >new_session_ticket", seq(s))
    -- the server's own certificate, from its state
    assert.matches("CN=localhost", tostring(find(s, "certificate").fields.certificates[1]:subject().text))
    c:close(); s:close()
  end)

  it("reports the TLS 1.3 ticket a client receives in a later read", function()
    local c, s, ok = H.pair(H.client_ctx(recording()), H.server_ctx())
    assert(ok)
    assert.is_nil(find(c, "new_session_ticket"))
    assert.equal("hi", H.transfer(s, c, "hi"))
    assert.truthy(find(c, "new_session_ticket", "received"))
    c:close(); s:close()
  end)

  it("decodes a whole TLS 1.2 ECDHE handshake, Finished decrypted from the master secret", function()
    local c, s, ok, _, err = H.pair(H.client_ctx({ max_version = "tls1.2" }),
                                    H.server_ctx(recording({ session_tickets = false })))
    assert(ok, err)
    assert.equal("<client_hello >server_hello >certificate >server_key_exchange >server_hello_done " ..
                 "<client_key_exchange <change_cipher_spec <finished >change_cipher_spec >finished", seq(s))
    local ske = find(s, "server_key_exchange")
    assert.equal("ECDHE", ske.fields.kx)
    assert.equal("x25519", ske.fields.group) -- our default groups: X25519 first
    assert.is_string(ske.fields.signature_scheme)
    assert.equal("TLSv1.2", ske.version)
    assert.equal(32, find(s, "client_key_exchange").fields.public_key_length)
    assert.equal(1, find(s, "change_cipher_spec").fields.value)
    -- issue 16: no longer "encrypted, not decoded" (AES-GCM suite: decrypted on both builds)
    local fin = find(s, "finished", "received")
    assert.is_nil(fin.inferred)
    assert.is_true(fin.decrypted)
    assert.equal(12, fin.fields.verify_data_length)
    c:close(); s:close()
  end)

  it("shows a HelloRetryRequest and the second ClientHello", function()
    local c, s, ok, _, err = H.pair(H.client_ctx(recording({ groups = { "X25519", "P-256" } })),
                                    H.server_ctx({ groups = { "P-256" } }))
    assert(ok, err)
    assert.matches("^>client_hello <hello_retry_request >client_hello <server_hello", seq(c))
    local hrr = find(c, "hello_retry_request")
    assert.is_true(hrr.fields.hello_retry_request)
    assert.equal("secp256r1", hrr.fields.key_share_group)
    local first = c.data.msgs[1].fields.key_share_groups
    assert.same({ "x25519" }, first)
    c:close(); s:close()
  end)

  it("decodes an alert sent in clear (TLS 1.2, unknown CA) on both sides", function()
    local c, s, ok = H.pair(H.client_ctx(recording({ max_version = "tls1.2" })),
                            H.server_ctx(recording({ certificate = H.cert("untrusted.pem"),
                                                    key = H.cert("untrusted.key") })))
    assert.is_nil(ok)
    local sent = find(c, "alert", "sent")
    assert.equal("fatal", sent.fields.level)
    assert.equal("unknown_ca", sent.fields.description)
    assert.is_nil(sent.inferred)
    local got = find(s, "alert", "received")
    assert.equal("unknown_ca", got.fields.description)
    assert.equal("alert", got.content_type)
    c:close(); s:close()
  end)

  it("reports a TLS 1.3 alert it cannot read from the alert history, marked inferred", function()
    local c, s, ok = H.pair(H.client_ctx(recording()),
                            H.server_ctx({ certificate = H.cert("expired.pem"), key = H.cert("expired.key") }))
    assert.is_nil(ok)
    local a = find(c, "alert", "sent")
    assert.equal("certificate_expired", a.fields.description)
    if not decrypted then assert.is_true(a.inferred) end
    c:close(); s:close()
  end)

  it("names a fatal alert sent under the keys, once each way, and invents none (issue 16)", function()
    for _, v in ipairs({ "tls1.2", "tls1.3" }) do
      local c, s, ok = H.pair(H.client_ctx(recording({ max_version = v })), H.server_ctx(recording()))
      assert(ok)
      while s:read() do end -- tickets
      while c:read() do end
      assert(c:write("hello"))
      local b = c:drain()
      s:feed(b:sub(1, -2) .. string.char((b:byte(-1) + 1) % 256)) -- tampered: bad_record_mac
      assert.is_nil((s:read()))
      c:feed(s:drain())
      local _, err = c:read()
      assert.matches("bad_record_mac", err)
      local function alerts(conn)
        local out = {}
        for _, m in ipairs(conn.data.msgs) do
          if m.type == "alert" then out[#out + 1] = m end
        end
        return out
      end
      for _, side in ipairs({ { c, "received" }, { s, "sent" } }) do
        local list = alerts(side[1])
        assert.equal(1, #list, v)
        local a = list[1]
        assert.equal(side[2], a.direction)
        assert.equal("fatal", a.fields.level)
        assert.equal("bad_record_mac", a.fields.description)
        if a.inferred then assert.matches("named from wolfSSL's alert history", a.why) end
        if v == "tls1.2" then -- TLS 1.2 alerts under the keys are not decoded
          assert.is_true(a.inferred)
          assert.equal("encrypted record, named from wolfSSL's alert history", a.why)
        end
      end
      c:close(); s:close()
    end
  end)

  it("shows an encrypted alert it cannot name for certain without a name", function()
    local render = require("wolfssl.trace").render
    local line = render({ direction = "received", content_type = "alert", type = "alert", inferred = true,
                          why = "encrypted record, not decoded", fields = { encrypted = true, length = 26 } })
    assert.equal("  C <- S  Alert               level and description not readable  [encrypted record, not decoded]", line)
  end)

  it("reports close_notify both ways after the handshake (TLS 1.3 and 1.2)", function()
    for _, v in ipairs({ "tls1.3", "tls1.2" }) do
      local c, s, ok = H.pair(H.client_ctx(recording({ max_version = v })), H.server_ctx(recording()))
      assert(ok)
      assert.same({ nil, "wantread" }, { c:shutdown() }) -- sent; the server's is awaited
      s:feed(c:drain())
      assert.same({ nil, "closed" }, { s:read() })
      local sent, got = find(c, "alert", "sent"), find(s, "alert", "received")
      assert.equal("close_notify", sent.fields.description, v)
      assert.equal("warning", sent.fields.level)
      assert.equal("close_notify", got.fields.description, v)
      assert.is_nil(find(c, "alert", "received"))
      c:close(); s:close()
    end
  end)

  it("keeps no trace for a context without the callbacks (attaching later says so)", function()
    local trace = require "wolfssl.trace"
    local c, s, ok = H.pair(H.client_ctx(), H.server_ctx())
    assert(ok)
    local rec = trace.attach(c, {})
    assert.is_false(rec.complete) -- nothing was recorded before
    assert.same({}, rec:messages(c))
    c:close(); s:close()
  end)
end)

describe("on_message with decryption (builds with the TLS 1.3 secret callback)", function()
  it("decodes EncryptedExtensions, Certificate, CertificateVerify and Finished on both sides", function()
    if not decrypted then pending("this wolfSSL build has no secret callback") return end
    local c, s, ok, _, err = H.pair(H.client_ctx(recording({ alpn = { "h2" } })),
                                    H.server_ctx(recording({ alpn = { "h2" } })))
    assert(ok, err)
    for _, conn in ipairs({ c, s }) do
      for _, m in ipairs(conn.data.msgs) do
        assert.is_nil(m.inferred, m.type .. " " .. m.direction .. " is inferred")
      end
    end
    local ee = find(c, "encrypted_extensions", "received")
    assert.is_true(ee.decrypted)
    assert.equal("h2", ee.fields.alpn)
    assert.equal(8, ee.data:byte(1))
    local cert = find(c, "certificate", "received")
    assert.is_true(cert.fields.tls13)
    assert.equal(1, #cert.fields.der)
    assert.matches("CN=localhost", cert.fields.certificates[1]:subject().text)
    assert.equal("ecdsa_secp256r1_sha256", find(c, "certificate_verify").fields.scheme)
    assert.equal(32, find(c, "finished", "received").fields.verify_data_length)
    -- the server reads the client's Finished, and the ticket it sends
    assert.equal(find(c, "finished", "sent").data, find(s, "finished", "received").data)
    local nst = find(s, "new_session_ticket", "sent")
    assert.is_true(nst.fields.lifetime > 0)
    assert.equal("hi", H.transfer(s, c, "hi"))
    assert.equal(nst.data, find(c, "new_session_ticket", "received").data)
    c:close(); s:close()
  end)

  it("follows a KeyUpdate into the next key generation", function()
    if not decrypted then pending("this wolfSSL build has no secret callback") return end
    local c, s, ok = H.pair(H.client_ctx(recording()), H.server_ctx(recording()))
    assert(ok)
    assert.equal("x", H.transfer(s, c, "x"))
    c:key_update()
    assert.equal("after update", H.transfer(c, s, "after update"))
    local ku = find(s, "key_update", "received")
    assert.is_table(ku)
    assert.is_true(ku.fields.request_update)
    -- the server answers with its own KeyUpdate, and both keep talking
    assert.equal("reply", H.transfer(s, c, "reply"))
    assert.equal("more", H.transfer(c, s, "more"))
    assert.is_table(find(c, "key_update", "received"))
    assert.is_table(find(s, "key_update", "sent"))
    c:close(); s:close()
  end)

  it("after 1,000 application records each way, still decodes KeyUpdates and post-handshake auth", function()
    if not decrypted then pending("this wolfSSL build has no secret callback") return end
    local c, s, ok = H.pair(H.client_ctx(recording({ post_handshake_auth = true, certificate = H.cert("client.pem"),
                                                     key = H.cert("client.key") })),
                            H.server_ctx(recording({ verify = "peer", cafile = H.cert("ca.pem"),
                                                     post_handshake_auth = true })))
    assert(ok)
    local function chat(n)
      for _ = 1, n do
        assert.equal("x", H.transfer(s, c, "x"))
        assert.equal("y", H.transfer(c, s, "y"))
      end
    end
    chat(1000)
    assert.truthy(find(c, "new_session_ticket", "received"))
    assert.is_true(c:key_update())
    chat(1000)
    assert.is_true(s:key_update())
    chat(10)
    assert.is_true(s:request_certificate())
    chat(10)
    assert.matches("Test Client", tostring(assert(s:peer_certificate()):subject()))
    chat(10)
    for _, conn in ipairs({ c, s }) do
      local kus = {}
      for _, m in ipairs(conn.data.msgs) do
        assert.is_nil(m.inferred, m.type .. " " .. m.direction .. " is inferred")
        if m.type == "key_update" then kus[#kus + 1] = m.direction end
      end
      assert.equal(4, #kus) -- each side sent and received one and answered one
    end
    assert.truthy(find(c, "certificate_request", "received"))
    assert.matches("Test Client", find(s, "certificate", "received").fields.certificates[1]:subject().text)
    assert.truthy(find(s, "finished", "received"))
    c:shutdown()
    s:feed(c:drain())
    s:read()
    local alert = find(s, "alert", "received")
    assert.equal("close_notify", alert.fields.description)
    assert.is_true(alert.decrypted)
  end)

  it("logs TLS 1.3 traffic secrets in NSS format, the same on both sides", function()
    if not decrypted then pending("this wolfSSL build has no secret callback") return end
    local lines = { client = {}, server = {} }
    local function log(conn, line)
      local t = lines[conn:is_server() and "server" or "client"]
      t[line:match("^(%S+)")] = line
    end
    local c, s, ok, _, err = H.pair(H.client_ctx({ keylog = log }), H.server_ctx({ keylog = log }))
    assert(ok, err)
    for _, label in ipairs({ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                             "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0" }) do
      assert.matches("^" .. label .. " %x+ %x+$", lines.client[label])
      assert.equal(lines.client[label], lines.server[label])
      local cr, secret = lines.client[label]:match(" (%x+) (%x+)$")
      assert.equal(64, #cr)
      assert.equal(64, #secret) -- SHA-256 suite
    end
    c:close(); s:close()
  end)
end)

describe("the cost of tracing", function()
  -- application data is counted, not decrypted nor handed to Lua
  it("100,000 one-byte records cost at most about twice as much traced as untraced", function()
    local function run(o)
      local c, s, ok = H.pair(H.client_ctx(o and recording()), H.server_ctx(o and recording()))
      assert(ok)
      local t0 = os.clock()
      for _ = 1, 100000 do
        c:write("x")
        s:feed(c:drain())
        s:read()
      end
      for _ = 1, 10000 do
        s:write("y")
        c:feed(s:drain())
        c:read()
      end
      local spent = os.clock() - t0
      assert.equal("z", H.transfer(c, s, "z"))
      return spent, c, s
    end
    local plain = run(false)
    local traced, c = run(true)
    assert(traced < 2 * plain + 0.05, ("traced %.2f s, untraced %.2f s"):format(traced, plain))
    assert.truthy(find(c, "finished", "sent"))
  end)
end)

describe("on_state", function()
  it("follows the handshake steps and conn:state() names the current one", function()
    local cctx = H.client_ctx(recording())
    local c = cctx:new({ server_name = "localhost" })
    local s = H.server_ctx():new()
    assert.equal("start", c:state())
    assert.same({ nil, "wantread" }, { c:handshake() })
    assert.equal("client_hello sent", c:state())
    assert.same({ "handshake:client_hello sent" }, c.data.states)
    s:feed(c:drain())
    assert.is_true(H.handshake(c, s))
    assert.equal("established", c:state())
    local st = table.concat(c.data.states, "|")
    assert.truthy(st:find("handshake:server_hello received", 1, true))
    assert.matches("handshake:done$", st)
    c:close(); s:close()
  end)

  it("reports failure and the alert", function()
    local c, s = H.pair(H.client_ctx(recording()),
                        H.server_ctx({ certificate = H.cert("wronghost.pem"), key = H.cert("wronghost.key") }))
    local st = table.concat(c.data.states, "|")
    assert.truthy(st:find("alert:bad_certificate sent", 1, true))
    assert.truthy(st:find("handshake:failed", 1, true))
    assert.equal("failed", c:state())
    c:close(); s:close()
  end)
end)

describe("callback safety", function()
  it("an error in on_message fails the handshake with 'callback: ...' and an alert", function()
    local cctx = H.client_ctx({ on_message = function(conn, msg)
      if msg.type == "client_hello" then error("boom") end
    end })
    local c = cctx:new({ server_name = "localhost" })
    local s = H.server_ctx():new()
    local ok, err = c:handshake()
    assert.is_nil(ok)
    assert.matches("^callback: .*boom", err)
    local le = c:last_error()
    assert.equal("callback", le.kind)
    assert.equal("on_message", le.callback)
    assert.matches("traceback", le.traceback)
    assert.equal("failed", c:state())
    -- the peer sees a fatal alert instead of the ClientHello, not a silent stall
    s:feed(c:drain())
    local sok, serr = s:handshake()
    assert.is_nil(sok)
    assert.matches("internal_error", serr)
    -- and the connection stays failed
    local again, err2 = c:handshake()
    assert.is_nil(again)
    assert.matches("boom", err2)
    c:close(); s:close()
  end)

  it("in TLS 1.2 the peer reads the internal_error alert sent for the failed callback", function()
    local cctx = H.client_ctx({ max_version = "tls1.2", on_message = function(conn, msg)
      if msg.type == "server_hello" then error("no thanks") end
    end })
    local c = cctx:new({ server_name = "localhost" })
    local s = H.server_ctx():new()
    assert.is_nil(c:handshake())
    s:feed(c:drain())
    assert.is_nil(s:handshake())
    c:feed(s:drain())
    local ok, err = c:handshake()
    assert.is_nil(ok)
    assert.matches("^callback: .*no thanks", err)
    s:feed(c:drain())
    local sok, serr = s:handshake()
    assert.is_nil(sok)
    assert.matches("internal_error", serr)
    c:close(); s:close()
  end)

  it("an error in on_state or keylog is reported the same way", function()
    local c, s, ok, side, err = H.pair(H.client_ctx({ on_state = function(_, _, state)
      if state == "server_hello received" then error("state cb failed") end
    end }), H.server_ctx())
    assert.is_nil(ok)
    assert.equal("client", side)
    assert.matches("^callback: .*state cb failed", err)
    assert.equal("on_state", c:last_error().callback)
    c:close(); s:close()
    c, s, ok, side, err = H.pair(H.client_ctx({ max_version = "tls1.2",
      keylog = function() error("no log today") end }), H.server_ctx())
    assert.is_nil(ok)
    assert.matches("^callback: .*no log today", err)
    assert.equal("keylog", c:last_error().callback)
    c:close(); s:close()
  end)

  it("a yield inside on_message is a clear error, not a crash", function()
    local cctx = H.client_ctx({ on_message = function() coroutine.yield("x") end })
    local c = cctx:new({ server_name = "localhost" })
    local co = coroutine.wrap(function() return c:handshake() end)
    local ok, err = co()
    assert.is_nil(ok)
    assert.matches("^callback: .*yield", err)
    c:close()
  end)

  it("collectgarbage() inside the callbacks is safe", function()
    local n = 0
    local c, s, ok, _, err = H.pair(H.client_ctx({
      on_message = function(conn, msg) collectgarbage(); collectgarbage(); n = n + 1 end,
      on_state = function() collectgarbage() end,
    }), H.server_ctx())
    assert(ok, err)
    assert.is_true(n >= 6)
    assert.equal("ping", H.transfer(c, s, "ping"))
    c:close(); s:close()
  end)

  it("runs the callbacks on the coroutine that called the method", function()
    local where
    local cctx = H.client_ctx({ on_message = function() where = coroutine.running() end })
    local c = cctx:new({ server_name = "localhost" })
    local co = coroutine.create(function() return c:handshake() end)
    assert.is_true(coroutine.resume(co))
    assert.equal(co, where)
    c:close()
  end)
end)

describe("keylog", function()
  it("gives the same NSS CLIENT_RANDOM line on both sides of a TLS 1.2 handshake", function()
    local lines = {}
    local function log(conn, line) lines[conn:is_server() and "server" or "client"] = line end
    local c, s, ok, _, err = H.pair(H.client_ctx({ max_version = "tls1.2", keylog = log }),
                                    H.server_ctx({ max_version = "tls1.2", keylog = log }))
    assert(ok, err)
    assert.matches("^CLIENT_RANDOM %x+ %x+$", lines.client)
    local cr, master = lines.client:match("^CLIENT_RANDOM (%x+) (%x+)$")
    assert.equal(64, #cr)
    assert.equal(96, #master)
    assert.equal(lines.client, lines.server)
    c:close(); s:close()
  end)

  it("on a build without the secret callback, keylog with TLS 1.3 is an error at context creation", function()
    if wolfssl.features.keylog_tls13 then
      pending("this build logs TLS 1.3 keys")
      return
    end
    assert.is_false(wolfssl.features.msg_trace_decrypted)
    assert.has_error(function()
      wolfssl.context({ mode = "client", cafile = H.cert("ca.pem"), keylog = function() end })
    end, nil)
    local ok, err = pcall(wolfssl.context, { mode = "client", cafile = H.cert("ca.pem"), keylog = print })
    assert.is_false(ok)
    assert.matches("keylog", err)
    assert.matches("keylog_tls13", err)
  end)
end)
