-- DTLS 1.2 and 1.3 (issue 14): contexts, datagrams in memory mode through a
-- lossy link driven by conn:timeout()/handle_timeout(), the cookie exchange,
-- fd mode over UDP against OpenSSL and GnuTLS, PSK and certificates.
local wolfssl = require "wolfssl"
local core = require "wolfssl.core"
local H = require "helpers"

local features = wolfssl.features
local VERSIONS = features.dtls13 and { "dtls1.2", "dtls1.3" } or { "dtls1.2" }
local WIRE = { ["dtls1.2"] = "DTLSv1.2", ["dtls1.3"] = "DTLSv1.3" }

local function dtls_pair(v, sopts, copts)
  local so = { dtls = true, min_version = v, max_version = v }
  for k, x in pairs(sopts or {}) do so[k] = x end
  local co = { dtls = true, min_version = v, max_version = v }
  for k, x in pairs(copts or {}) do co[k] = x end
  local c = H.client_ctx(co):new { server_name = "localhost" }
  local s = H.server_ctx(so):new {}
  return c, s
end

-- One step of a connection: its handshake until done, then reads (what a
-- DTLS 1.3 peer must do after its handshake: ACKs, tickets, retransmitted
-- flights). Returns done, plaintext read.
local function step(conn, st)
  if not st.done then
    local ok, err = conn:handshake()
    if ok then st.done = true
    else assert(err == "wantread" or err == "wantwrite", err) end
  end
  if st.done then
    local got = {}
    while true do
      local d, err = conn:read()
      if not d then assert(err == "wantread", err) break end
      got[#got + 1] = d
    end
    return table.concat(got)
  end
  return ""
end

--- A link between two memory-mode DTLS connections that loses every
-- `drop`-th datagram, swaps each pair of datagrams in flight, and sends every
-- `dup`-th twice. When nothing is in flight and a side still waits, the
-- clock runs on to that side's retransmission (conn:timeout()) and
-- handle_timeout() resends. Returns stats.
local function lossy(c, s, o)
  o = o or {}
  local n, stats = 0, { sent = 0, dropped = 0, dups = 0, timeouts = 0, advanced = 0 }
  local sides = { { conn = c, st = {}, peer = 2, got = {} }, { conn = s, st = {}, peer = 1, got = {} } }
  local flight = {} -- {to, datagram}
  local function collect(i)
    while true do
      local d = sides[i].conn:drain()
      if d == "" then break end
      n = n + 1
      stats.sent = stats.sent + 1
      if o.drop and n % o.drop == 0 then
        stats.dropped = stats.dropped + 1
      else
        flight[#flight + 1] = { sides[i].peer, d }
        if o.dup and n % o.dup == 0 then
          stats.dups = stats.dups + 1
          flight[#flight + 1] = { sides[i].peer, d }
        end
      end
    end
  end
  for _ = 1, o.rounds or 200 do
    for i = 1, 2 do
      local got = step(sides[i].conn, sides[i].st)
      if got ~= "" then sides[i].got[#sides[i].got + 1] = got end
      collect(i)
    end
    if o.until_ and o.until_(sides) then break end
    if #flight > 0 then
      if o.reorder then -- each pair swapped
        for k = 1, #flight - 1, 2 do flight[k], flight[k + 1] = flight[k + 1], flight[k] end
      end
      local now = flight
      flight = {}
      for _, f in ipairs(now) do sides[f[1]].conn:feed(f[2]) end
    elseif sides[1].st.done and sides[2].st.done and not c:timeout() and not s:timeout() then
      break
    else -- nothing in flight: whoever waits longest... the first timer due fires
      local due
      for i = 1, 2 do
        local t = sides[i].conn:timeout()
        if t and (not due or t < due) then due = t end
      end
      assert(due, "both sides wait and neither has a retransmission timer")
      local secs = math.ceil(due)
      if secs > 0 then core._test.advance_clock(secs) stats.advanced = stats.advanced + secs end
      -- DTLS 1.3: wolfSSL resends at most once per 100 ms (a second before
      -- 5.9) of real time, whatever our clock says; timeout() counts that
      -- too: wait it out
      local left
      for i = 1, 2 do
        local t = sides[i].conn:timeout()
        if t and (not left or t < left) then left = t end
      end
      if left and left > 0 then
        assert(left <= 1.01, "timeout() after the clock moved: " .. left)
        require("socket").sleep(left)
        stats.slept = (stats.slept or 0) + left
      end
      for i = 1, 2 do
        local t = sides[i].conn:timeout()
        if t and t == 0 then
          assert(sides[i].conn:handle_timeout())
          stats.timeouts = stats.timeouts + 1
          collect(i)
        end
      end
    end
  end
  stats.cdone, stats.sdone = sides[1].st.done, sides[2].st.done
  stats.cgot, stats.sgot = sides[1].got, sides[2].got
  return stats
end

describe("DTLS", function()
  if not features.dtls then
    it("is refused clearly where the build has none", function()
      assert.has_error(function() wolfssl.context { mode = "client", dtls = true } end)
    end)
    return
  end
  after_each(function() core._test.advance_clock(0) end)

  describe("contexts", function()
    it("features.dtls13 says whether DTLS 1.3 is there", function()
      assert.is_boolean(features.dtls13)
      if H.build == "system" or os.getenv("WOLFSSL_TEST_BUILD") == "system" then
        assert.is_false(features.dtls13)
      end
    end)

    it("default versions: dtls1.2 .. dtls1.3 where the build has it", function()
      local c, s = H.client_ctx { dtls = true }:new { server_name = "localhost" }, H.server_ctx { dtls = true }:new {}
      assert.is_true(H.handshake(c, s))
      assert.equal(features.dtls13 and "DTLSv1.3" or "DTLSv1.2", c:version())
    end)

    it("tls versions with dtls, or dtls versions without, are errors naming the key", function()
      assert.has_error(function() wolfssl.context { mode = "client", dtls = true, min_version = "tls1.2" } end,
        'bad option \'min_version\': with dtls = true: expected "dtls1.2" or "dtls1.3" (got "tls1.2")')
      assert.has_error(function() wolfssl.context { mode = "client", dtls = true, max_version = "tls1.3" } end,
        'bad option \'max_version\': with dtls = true: expected "dtls1.2" or "dtls1.3" (got "tls1.3")')
      assert.has_error(function() wolfssl.context { mode = "client", max_version = "dtls1.2" } end,
        "bad option 'max_version': \"dtls1.2\" is a DTLS version: it needs dtls = true")
      assert.has_error(function()
        wolfssl.context { mode = "client", dtls = true, min_version = "dtls1.3", max_version = "dtls1.2" }
      end, features.dtls13 and "bad option 'min_version': is above max_version" or nil)
      assert.has_error(function() wolfssl.context { mode = "client", dtls = "yes" } end)
    end)

    it("dtls1.3 is a clear error where the build lacks it", function()
      if features.dtls13 then
        assert.truthy(wolfssl.context { mode = "client", verify = "none", dtls = true, min_version = "dtls1.3" })
      else
        assert.has_error(function()
          wolfssl.context { mode = "client", verify = "none", dtls = true, max_version = "dtls1.3" }
        end, "bad option 'max_version': dtls1.3 is not supported by this wolfSSL build (features.dtls13 is false)")
      end
    end)

    it("mtu: for DTLS only; the datagrams sent stay within it", function()
      assert.has_error(function() wolfssl.context { mode = "client", verify = "none", mtu = 1400 } end,
        "bad option 'mtu': is for DTLS contexts (dtls = true)")
      assert.has_error(function() wolfssl.context { mode = "client", verify = "none", dtls = true, mtu = 10 } end)
      local ok = pcall(wolfssl.context, { mode = "client", verify = "none", dtls = true, mtu = 600 })
      local mtu = ok and 600 or 1400 -- (builds without WOLFSSL_DTLS_MTU: 1400 only, the default)
      if not ok then
        assert.has_error(function() wolfssl.context { mode = "client", verify = "none", dtls = true, mtu = 600 } end,
          "bad option 'mtu': this wolfSSL build has a fixed MTU of 1400 (built without --enable-dtls-mtu) (got 600)")
      end
      for _, v in ipairs(VERSIONS) do
        local c, s = dtls_pair(v, { mtu = mtu }, { mtu = mtu })
        local biggest = 0
        local cdone, sdone
        for _ = 1, 20 do
          if not cdone then cdone = c:handshake() end
          for d in function() local x = c:drain() if x ~= "" then return x end end do
            biggest = math.max(biggest, #d) s:feed(d)
          end
          if not sdone then sdone = s:handshake() end
          for d in function() local x = s:drain() if x ~= "" then return x end end do
            biggest = math.max(biggest, #d) c:feed(d)
          end
        end
        assert.is_true(cdone and sdone)
        assert.is_true(biggest <= mtu, v .. ": a datagram of " .. biggest)
        assert.is_true(biggest > mtu / 2) -- (the certificate flight fills them)
      end
    end)

    it("timeout and handle_timeout raise on a TLS connection", function()
      local c = wolfssl.context { mode = "client", verify = "none" }:new {}
      assert.has_error(function() c:timeout() end, "timeout: not a DTLS connection (make the context with dtls = true)")
      assert.has_error(function() c:handle_timeout() end,
        "handle_timeout: not a DTLS connection (make the context with dtls = true)")
    end)
  end)

  describe("memory mode, one datagram per feed and drain", function()
    for _, v in ipairs(VERSIONS) do
      it(v .. ": feed takes one datagram and drain gives one, never merged", function()
        local c, s = dtls_pair(v)
        assert.equal("wantread", select(2, c:handshake()))
        local hello = c:drain()
        assert.equal(22, hello:byte(1)) -- one handshake record ...
        assert.equal("", c:drain()) -- ... and nothing after it
        -- two datagrams fed: the server reads the first, then the second
        -- (a duplicate ClientHello, which it answers again)
        s:feed(hello)
        s:feed(hello)
        assert.equal("wantread", select(2, s:handshake()))
        local a, b = s:drain(), s:drain()
        assert.equal(22, a:byte(1))
        assert.equal(22, b:byte(1))
        assert.equal("", s:drain())
      end)

      it(v .. ": handshake and data through a link that drops every 3rd datagram, reorders and duplicates", function()
        local c, s = dtls_pair(v)
        local st = lossy(c, s, { drop = 3, reorder = true, dup = 5 })
        assert.is_true(st.cdone and st.sdone, "handshake did not finish")
        assert.is_true(st.dropped > 0 and st.timeouts > 0 and st.dups > 0)
        assert.equal(WIRE[v], c:version())
        assert.equal(WIRE[v], s:version())
        -- data: each datagram sent twice and the pairs swapped; the replay
        -- window delivers each message once
        local sent = {}
        for i = 1, 6 do
          local msg = ("message %d %s"):format(i, ("x"):rep(i * 100))
          sent[msg] = true
          assert.equal(#msg, c:write(msg))
        end
        local st2 = lossy(c, s, { reorder = true, dup = 1, rounds = 10 })
        local got = {}
        for _, chunk in ipairs(st2.sgot) do got[#got + 1] = chunk end
        local all = table.concat(got)
        for msg in pairs(sent) do
          local _, count = all:gsub(msg:gsub("%p", "%%%0"), "")
          assert.equal(1, count, "received " .. count .. " times: " .. msg:sub(1, 10))
        end
        assert.equal(#all, (function() local n = 0 for m in pairs(sent) do n = n + #m end return n end)())
        -- and back
        assert.equal(5, s:write("reply"))
        local st3 = lossy(c, s, { rounds = 5 })
        assert.equal("reply", table.concat(st3.cgot))
      end)

      it(v .. ": timeout() counts down on the clock; a retransmission is due at 0", function()
        local c, s = dtls_pair(v)
        assert.is_nil(c:timeout()) -- nothing sent yet
        c:handshake()
        local d = c:drain()
        assert.truthy(#d > 0)
        local t = c:timeout()
        assert.is_true(t > 0 and t <= 1.5, tostring(t))
        assert.is_nil(s:timeout()) -- nothing sent
        core._test.advance_clock(math.ceil(t))
        if v == "dtls1.3" then -- wolfSSL resends DTLS 1.3 records at most once per 100 ms (1 s before 5.9) of real time
          local left = c:timeout()
          assert.is_true(left <= 1.01)
          require("socket").sleep(left)
        end
        assert.equal(0, c:timeout())
        assert.is_true(c:handle_timeout())
        local again = c:drain()
        assert.truthy(#again > 0, "no retransmission")
        assert.equal(22, again:byte(1))
        -- the timer doubled
        local t2 = c:timeout()
        assert.is_true(t2 > t and t2 <= 2 * math.ceil(t) + 0.5, tostring(t2))
      end)

      it(v .. ": a peer that never answers: handle_timeout gives up with a message", function()
        local c = H.client_ctx { dtls = true, min_version = v, max_version = v }:new { server_name = "localhost" }
        c:handshake()
        local ok, err
        for _ = 1, 20 do
          c:drain()
          core._test.advance_clock(math.ceil(assert(c:timeout())))
          ok, err = c:handle_timeout()
          if not ok then break end
        end
        assert.is_nil(ok)
        assert.equal("DTLS retransmission timed out: the peer did not answer", err)
        assert.equal("timeout", c:last_error().kind)
        assert.is_nil(c:timeout())
      end)
    end
  end)

  describe("the cookie exchange", function()
    for _, v in ipairs(VERSIONS) do
      it(v .. ": a server answers a ClientHello with a cookie first, and keeps no state for it", function()
        local c, s = dtls_pair(v)
        c:handshake()
        local hello = c:drain()
        s:feed(hello)
        assert.equal("wantread", select(2, s:handshake()))
        local reply = s:drain()
        assert.equal(22, reply:byte(1))
        if v == "dtls1.2" then
          assert.equal(3, reply:byte(14)) -- hello_verify_request
        else
          assert.equal(2, reply:byte(14)) -- a ServerHello ...
          assert.equal(("\xCF\x21\xAD\x74\xE5\x9A\x61\x11"), reply:sub(28, 35)) -- ... that is a HelloRetryRequest
          assert.truthy(reply:find("\0\44", 1, true)) -- with a cookie extension (44)
        end
        assert.is_nil(s:timeout()) -- nothing to resend: no state
        assert.is_true(#reply < #hello) -- no amplification
      end)

      if features.dtls_listen then
        it(v .. ": listen() on one connection: a spoofed ClientHello flood makes no state, a real client gets through", function()
          local sctx = H.server_ctx { dtls = true, min_version = v, max_version = v }
          local cctx = H.client_ctx { dtls = true, min_version = v, max_version = v }
          local listener = sctx:new {}
          local hellos = {}
          for i = 1, 5 do
            local c = cctx:new { server_name = "localhost" }
            c:handshake()
            hellos[i] = c:drain()
          end
          local addrs = {}
          for i = 1, 1000 do addrs[i] = ("10.0.%d.%d:4433"):format(math.floor(i / 256), i % 256) end
          local function flood(n)
            for i = 1, n do
              local hello = hellos[i % 5 + 1]
              assert.is_false(listener:listen(hello, addrs[i]))
              local reply = listener:drain()
              assert.is_true(#reply > 0 and #reply <= #hello)
              assert.equal("", listener:drain())
            end
          end
          flood(50)
          collectgarbage() collectgarbage()
          local before = core.heap_bytes()
          flood(1000)
          collectgarbage() collectgarbage()
          if before then -- (a DTLS connection takes tens of KiB: 1000 would be megabytes)
            assert.is_true(core.heap_bytes() - before < 100 * 1024, "heap grew by " .. (core.heap_bytes() - before))
          end
          -- a real client: its cookie is bound to its address
          local c = cctx:new { server_name = "localhost" }
          c:handshake()
          local peer = "192.0.2.1:5000"
          assert.is_false(listener:listen(c:drain(), peer))
          c:feed(listener:drain())
          c:handshake()
          local again = { c:drain(), c:drain() } -- (DTLS 1.3: a hybrid key share spans two)
          assert.is_false(listener:listen(again[1], "198.51.100.7:1")) -- elsewhere: not accepted
          listener:drain()
          assert.is_true(listener:listen(again[1], peer))
          if again[2] ~= "" then listener:feed(again[2]) end
          assert.has_error(function() listener:listen(hellos[1], peer) end,
            "listen: the connection already belongs to a peer (make a new one)")
          assert.is_true(H.handshake(c, listener))
          assert.equal(WIRE[v], listener:version())
          assert.equal("ping", H.transfer(c, listener, "ping"))
        end)
      end
    end

    it("listen() is a clear error where the build lacks it, and for clients or TLS", function()
      local c = H.client_ctx { dtls = true }:new { server_name = "localhost" }
      if features.dtls_listen then
        assert.has_error(function() c:listen("x", "a") end, "listen: for DTLS servers in memory mode")
      else
        local s = H.server_ctx { dtls = true }:new {}
        assert.has_error(function() s:listen("x", "a") end,
          "listen: this wolfSSL build has no stateless DTLS accept (features.dtls_listen is false)")
      end
      local t = H.server_ctx {}:new {}
      assert.has_error(function() t:listen("x", "a") end,
        "listen: not a DTLS connection (make the context with dtls = true)")
    end)
  end)

  describe("PSK and certificates", function()
    for _, v in ipairs(VERSIONS) do
      it(v .. ": PSK only (no certificates), through the lossy link", function()
        local key = ("k"):rep(32)
        local s = wolfssl.context { mode = "server", dtls = true, min_version = v, max_version = v,
          psk = { hint = "hint", keys = { device1 = key } } }:new {}
        local c = wolfssl.context { mode = "client", dtls = true, min_version = v, max_version = v,
          verify = "none", psk = { identity = "device1", key = key } }:new {}
        local st = lossy(c, s, { drop = 3, reorder = true })
        assert.is_true(st.cdone and st.sdone)
        assert.equal(WIRE[v], c:version())
        assert.is_nil(c:peer_certificate())
        assert.equal("sensor 21.5C", H.transfer(c, s, "sensor 21.5C"))
      end)

      it(v .. ": a client certificate (verify = require), ALPN and SNI", function()
        local seen
        local c, s = dtls_pair(v, { verify = "require", cafile = H.cert("ca.pem"), alpn = { "coap" },
          on_servername = function(_, name) seen = name return true end },
          { certificate = H.cert("client.pem"), key = H.cert("client.key"), alpn = { "coap" } })
        assert.is_true(H.handshake(c, s))
        assert.equal("coap", c:alpn())
        assert.equal("localhost", seen)
        assert.truthy(s:peer_certificate())
        assert.is_true((c:verify_result()))
      end)

      it(v .. ": sessions resume (an abbreviated handshake); a TLS session is refused", function()
        local sctx = H.server_ctx { dtls = true, min_version = v, max_version = v }
        local cctx = H.client_ctx { dtls = true, min_version = v, max_version = v }
        local c, s = cctx:new { server_name = "localhost" }, sctx:new {}
        assert.is_true(H.handshake(c, s))
        lossy(c, s, { rounds = 5 }) -- the ticket and its ACK
        local sess = assert(c:session())
        local c2, s2 = cctx:new { server_name = "localhost", session = sess }, sctx:new {}
        assert.is_true(H.handshake(c2, s2))
        assert.is_true(c2:session_reused())
        assert.is_true(s2:session_reused())
        assert.equal(WIRE[v], c2:version())
        -- a TLS session on a DTLS connection: a full handshake, and why
        local tc, ts = H.pair(H.client_ctx(), H.server_ctx())
        tc:read()
        local c3 = cctx:new { server_name = "localhost" }
        local ok, why = c3:set_session(assert(tc:session()))
        assert.is_nil(ok)
        assert.matches("protocol version is not enabled", why)
        tc:close() ts:close()
      end)

      it(v .. ": a wrong certificate fails with an alert to the peer", function()
        local c, s = dtls_pair(v, nil, { cafile = H.cert("both-ca.pem"), check_hostname = true })
        local c2 = H.client_ctx { dtls = true, min_version = v, max_version = v, cafile = H.cert("client.pem") }
          :new { server_name = "localhost" }
        local ok, side, err = H.handshake(c2, s)
        assert.is_nil(ok)
        assert.equal("client", side)
        assert.matches("certificate verify failed", err)
        c:close()
      end)
    end
  end)

  describe("the trace", function()
    local trace = require "wolfssl.trace"
    for _, v in ipairs(VERSIONS) do
      it(v .. ": shows the cookie exchange, epochs, sequence numbers and retransmissions", function()
        local lines, msgs = {}, {}
        local so = { mode = "server", dtls = true, min_version = v, max_version = v,
                     certificate = H.cert("server.pem"), key = H.cert("server.key"),
                     on_message = function(_, m) msgs[#msgs + 1] = m end }
        local rec = trace.attach(so, lines)
        local s = wolfssl.context(so):new {}
        local c = H.client_ctx { dtls = true, min_version = v, max_version = v }:new { server_name = "localhost" }
        local st = lossy(c, s, { drop = 3, dup = 4 })
        assert.is_true(st.cdone and st.sdone)
        local text = table.concat(lines, "\n")
        if v == "dtls1.2" then
          assert.matches("S %-> C  HelloVerifyRequest  cookie 32 bytes  %[epoch 0 seq 0 msg 0%]", text)
          assert.matches("S <%- C  ClientHello [^\n]*%[epoch 0 seq %d+ msg 1, cookie 32 bytes%]", text)
          assert.matches("Finished [^\n]*%[epoch 1 seq %d+%]", text)
        else -- (the protected records: opened, see below)
          assert.matches("S %-> C  HelloRetryRequest [^\n]*%[epoch 0 seq 0 msg 0, cookie extension%]", text)
          assert.matches("EncryptedExtensions [^\n]*%[epoch 2 seq %d+ msg 2%]", text)
        end
        assert.matches("retransmission%]", text)
        local tagged = 0
        for _, m in ipairs(msgs) do
          if m.epoch then tagged = tagged + 1 end
          if m.type == "client_hello" and not m.retransmission then
            assert.equal(0, m.epoch)
            assert.is_number(m.sequence)
            assert.is_number(m.message_seq)
          end
        end
        assert.equal(#msgs, tagged) -- every message says where its record was
        local summary = table.concat(rec:summary(s), "\n")
        assert.matches(WIRE[v], summary)
      end)
    end

    -- DTLS 1.3 protected records opened with the secrets wolfSSL hands the
    -- secret callback (RFC 9147 4.2.3: the record numbers unmasked): the
    -- handshake messages of epoch 2 by name, ACKs with the record numbers
    -- they acknowledge, application data in epoch 3
    local function dtls13_trace(text, msgs, role)
      local me, peer = role == "server" and "S" or "C", role == "server" and "C" or "S"
      local from_server = role == "server" and (me .. " %-> " .. peer) or (me .. " <%- " .. peer)
      local from_client = role == "server" and (me .. " <%- " .. peer) or (me .. " %-> " .. peer)
      assert.matches(from_server .. "  EncryptedExtensions [^\n]*%[epoch 2 seq %d+ msg 2%]", text)
      assert.matches(from_server .. "  Certificate         CN=localhost[^\n]*%[epoch 2 seq %d+ msg 3%]", text)
      assert.matches(from_server .. "  CertificateVerify   signed with [^\n]*%[epoch 2 seq %d+ msg 4%]", text)
      assert.matches(from_server .. "  Finished            verify_data 32 bytes  %[epoch 2 seq %d+ msg 5%]", text)
      assert.matches(from_client .. "  Finished            verify_data 32 bytes  %[epoch 2 seq %d+ msg %d+%]", text)
      -- the server acknowledges the client's Finished (epoch 2) in epoch 3
      assert.matches(from_server .. "  ACK                 records %(epoch/seq%) [^\n]*2/%d+[^\n]*%[epoch 3 seq %d+%]", text)
      assert.matches(from_client .. "  ApplicationData     300 bytes  %[epoch 3 seq %d+%]", text)
      assert.matches("Keys +handshake keys, HKDF%-SHA256; [^\n]*\"dtls13\" prefix", text)
      assert.matches("record number key %(sn%) 16 bytes", text)
      local acks, hs = 0, 0
      for _, m in ipairs(msgs) do
        assert.is_nil(m.error)
        if m.type == "ack" and m.epoch >= 2 then
          acks = acks + 1
          assert.is_true(m.decrypted)
          assert.is_number(m.sequence)
          for _, r in ipairs(m.fields.records) do
            assert.is_number(r.epoch)
            assert.is_number(r.sequence)
          end
        elseif m.type == "encrypted_extensions" and not m.retransmission then
          hs = hs + 1
          assert.same({ 2, 2, true }, { m.epoch, m.message_seq, m.decrypted })
        end
        assert.not_equal("encrypted_record", m.type) -- every record opened
      end
      assert.is_true(acks >= 1 and hs == 1, ("%d ACKs, %d EncryptedExtensions"):format(acks, hs))
    end

    local function traced(v, lines, msgs)
      local so = { mode = "server", dtls = true, min_version = v, max_version = v,
                   certificate = H.cert("server.pem"), key = H.cert("server.key"),
                   on_message = function(_, m) msgs[#msgs + 1] = m end }
      trace.attach(so, lines)
      return wolfssl.context(so)
    end

    -- a traced DTLS 1.3 server and our client (copts: more client options):
    -- s, c, the trace's lines, its messages
    local function traced13(copts)
      local lines, msgs = {}, {}
      local co = { dtls = true, min_version = "dtls1.3", max_version = "dtls1.3" }
      for k, v in pairs(copts or {}) do co[k] = v end
      local s = traced("dtls1.3", lines, msgs):new {}
      return s, H.client_ctx(co):new { server_name = "localhost" }, lines, msgs
    end

    it("dtls1.3 through the lossy link: epoch 2 messages, ACKs, retransmissions, data in epoch 3", function()
      if not features.dtls13 then pending("this wolfSSL build has no DTLS 1.3 (the clear error: 'contexts')") return end
      local s, c, lines, msgs = traced13()
      local st = lossy(c, s, { drop = 3, dup = 4 })
      assert.is_true(st.cdone and st.sdone)
      assert.equal(300, c:write(("d"):rep(300)))
      local st2 = lossy(c, s, { rounds = 5 })
      assert.equal(("d"):rep(300), table.concat(st2.sgot))
      local text = table.concat(lines, "\n")
      dtls13_trace(text, msgs, "server")
      assert.matches("S %-> C  Finished +%[epoch 2 seq %d+ msg 5, retransmission%]", text)
      assert.matches(", duplicate%]", text) -- a datagram the link delivered twice
    end)

    it("dtls1.3: a KeyUpdate each way; the trace follows the epochs (4, 5) and shows the key schedule", function()
      if not features.dtls13 then pending("this wolfSSL build has no DTLS 1.3 (the clear error: 'contexts')") return end
      local s, c, lines = traced13()
      assert.is_true(lossy(c, s, { drop = 3 }).sdone)
      assert.is_true(c:key_update())
      lossy(c, s, { rounds = 10 })
      assert.equal(5, c:write("after"))
      assert.equal("after", table.concat(lossy(c, s, { rounds = 10 }).sgot))
      assert.is_true(s:key_update())
      lossy(c, s, { rounds = 10 })
      assert.equal(5, s:write("again"))
      assert.equal("again", table.concat(lossy(c, s, { rounds = 10 }).cgot))
      local text = table.concat(lines, "\n")
      assert.matches("S <%- C  KeyUpdate           update requested  %[epoch 3 seq %d+ msg %d+%]", text)
      assert.matches("client_application_traffic_secret_1 +32 bytes  HKDF%-Expand%-Label", text)
      assert.matches("S <%- C  ApplicationData     5 bytes  %[epoch 4 seq 0%]", text)
      assert.matches("S %-> C  KeyUpdate           update requested  %[epoch 4 seq %d+ msg %d+%]", text)
      assert.matches("S %-> C  ApplicationData     5 bytes  %[epoch 5 seq 0%]", text)
      assert.not_matches("%(encrypted%)", text)
    end)

    it("dtls1.3 with AES-256-GCM and ChaCha20-Poly1305: record numbers unmasked with AES and ChaCha20", function()
      if not features.dtls13 then pending("this wolfSSL build has no DTLS 1.3 (the clear error: 'contexts')") return end
      for _, suite in ipairs { "TLS13-AES256-GCM-SHA384", "TLS13-CHACHA20-POLY1305-SHA256" } do
        local s, c, lines = traced13 { ciphersuites = suite }
        assert.is_true(lossy(c, s, { drop = 4 }).sdone, suite)
        local text = table.concat(lines, "\n")
        assert.matches("S %-> C  Finished            verify_data %d+ bytes  %[epoch 2 seq 3 msg 5%]", text, nil, suite)
        assert.matches("S <%- C  Finished            verify_data %d+ bytes  %[epoch 2 seq %d+ msg %d+%]", text, nil, suite)
        assert.not_matches("%(encrypted%)", text, nil, suite)
      end
    end)

    it("dtls1.3: a forged record the trace cannot open says so (and the connection drops it)", function()
      if not features.dtls13 then pending("this wolfSSL build has no DTLS 1.3 (the clear error: 'contexts')") return end
      local s, c, lines = traced13()
      assert.is_true(lossy(c, s, {}).sdone)
      -- unified header 001 0 1 1 11: 16-bit sequence number, length, epoch 3
      local body = ("\90"):rep(40)
      s:feed(string.char(0x2f, 0, 7, 0, #body) .. body)
      assert.same({ nil, "wantread" }, { s:read() })
      local last = lines[#lines]
      assert.matches("S <%- C  %(encrypted%) +%[encrypted record, not decoded: DTLS 1.3 record not opened: " ..
                     "record does not decrypt %(wrong key or sequence%)%]  %[epoch 3 seq encrypted%]", last)
      -- one claiming the next epoch (4: after a KeyUpdate) moves neither the
      -- connection nor the trace on: the data after it opens in epoch 3
      s:feed(string.char(0x2c, 0, 7, 0, #body) .. body)
      assert.same({ nil, "wantread" }, { s:read() })
      assert.matches("not opened: record does not decrypt[^\n]*%[epoch 0 seq encrypted%]", lines[#lines])
      assert.equal(2, c:write("ok"))
      assert.equal("ok", table.concat(lossy(c, s, { rounds = 5 }).sgot))
      assert.matches("S <%- C  ApplicationData     2 bytes  %[epoch 3 seq %d+%]", lines[#lines])
    end)

    it("keylog: DTLS 1.2 gives its CLIENT_RANDOM line, DTLS 1.3 its traffic secrets", function()
      for _, v in ipairs(VERSIONS) do
        local log = {}
        local c, s = dtls_pair(v, {}, { keylog = function(_, line) log[#log + 1] = line:match("^%S+") end })
        assert.is_true(lossy(c, s, {}).cdone, v)
        table.sort(log)
        if v == "dtls1.2" then
          assert.same({ "CLIENT_RANDOM" }, log)
        else
          for _, label in ipairs { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                   "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0" } do
            assert.truthy(table.concat(log, " "):find(label, 1, true), label)
          end
          assert.is_nil(table.concat(log, " "):find("CLIENT_RANDOM", 1, true))
        end
      end
    end)

    it("dtls1.3 in fd mode over UDP: the same, seen from the client", function()
      if not features.dtls13 then pending("this wolfSSL build has no DTLS 1.3 (the clear error: 'contexts')") return end
      local socket = require "socket"
      local a, b = socket.udp(), socket.udp()
      assert(a:setsockname("127.0.0.1", 0))
      assert(b:setsockname("127.0.0.1", 0))
      assert(a:setpeername(b:getsockname()))
      assert(b:setpeername(a:getsockname()))
      local lines, msgs = {}, {}
      local co = { dtls = true, min_version = "dtls1.3", max_version = "dtls1.3",
                   on_message = function(_, m) msgs[#msgs + 1] = m end }
      trace.attach(co, lines)
      local c = H.client_ctx(co):new { fd = a, server_name = "localhost" }
      local s = H.server_ctx { dtls = true, min_version = "dtls1.3", max_version = "dtls1.3" }:new { fd = b }
      local cs, ss, got = {}, {}, {}
      local deadline = socket.gettime() + 10
      repeat -- both ends in turn, non-blocking; then data, read by the server
        step(c, cs)
        got[#got + 1] = step(s, ss)
        if cs.done and not cs.wrote then cs.wrote = assert(c:write(("d"):rep(300))) end
        socket.select({ a, b }, nil, 0.05)
      until table.concat(got) == ("d"):rep(300) or socket.gettime() > deadline
      assert.equal(("d"):rep(300), table.concat(got))
      for _ = 1, 5 do step(c, cs) socket.select({ a }, nil, 0.02) end -- the server's ACK and ticket
      dtls13_trace(table.concat(lines, "\n"), msgs, "client")
      c:close()
      s:close()
      a:close()
      b:close()
    end)
  end)

  -- a peer command with `lines` on its stdin (then it waits, killed by
  -- stop_all); returns a function(pattern) that waits (10 s at most) until
  -- its output holds the pattern, and returns that output
  local function peer(cmd, lines)
    local socket, P = require "socket", require "peers"
    local out = os.tmpname()
    P.spawn(("sh -c '(printf \"%s\"; sleep 20) | exec timeout 20 %s >%s 2>&1'"):format(lines or "", cmd, out))
    return function(pattern)
      local text = ""
      local deadline = socket.gettime() + 10
      repeat
        local f = io.open(out, "rb")
        text = f and f:read("*a") or ""
        if f then f:close() end
        if text:find(pattern, 1, true) then break end
        socket.sleep(0.02)
      until socket.gettime() > deadline
      return text
    end
  end

  -- fd mode over connected UDP sockets, against OpenSSL and GnuTLS (DTLS 1.2:
  -- OpenSSL 3.0 and 3.5 and GnuTLS speak no DTLS 1.3; DTLS 1.3 is tested
  -- between our own client and server above)
  describe("over UDP against real peers", function()
    local socket = require "socket"
    local P = require "peers"
    after_each(function() P.stop_all() end)

    local function free_udp_port()
      local u = socket.udp()
      assert(u:setsockname("127.0.0.1", 0))
      local _, port = u:getsockname()
      u:close()
      return tonumber(port)
    end

    -- our client on a connected UDP socket (fd mode, blocking up to 5 s:
    -- wolfSSL resends on its own timer while it waits)
    local function client(port, o)
      local u = socket.udp()
      assert(u:setpeername("127.0.0.1", port))
      local co = { dtls = true, max_version = "dtls1.2" }
      for k, v in pairs(o or {}) do co[k] = v end
      local ctx = co.psk and wolfssl.context(co) or H.client_ctx(co)
      return ctx:new { fd = u, server_name = "localhost", timeout = 5 }, u
    end

    -- our server on a UDP socket: the first ClientHello is answered with a
    -- cookie by a memory-mode connection (no state), then the socket is
    -- connected to that client and the connection runs in fd mode
    local function serve(u, sctx)
      u:settimeout(10)
      local hello, ip, cport = u:receivefrom()
      assert(hello, "no ClientHello: " .. tostring(ip))
      local first = sctx:new {}
      first:feed(hello)
      first:handshake()
      u:sendto(first:drain(), ip, cport)
      first:close()
      assert(u:setpeername(ip, cport))
      local conn = sctx:new { fd = u, timeout = 5 }
      return conn, conn:handshake()
    end

    it("fd mode: wolfSSL resends on its timer while a call waits (settimeout)", function()
      local a, b = socket.udp(), socket.udp()
      assert(a:setsockname("127.0.0.1", 0))
      assert(b:setsockname("127.0.0.1", 0))
      assert(a:setpeername(b:getsockname()))
      local c = H.client_ctx { dtls = true, max_version = "dtls1.2" }:new { fd = a, server_name = "localhost", timeout = 1.5 }
      local t0 = socket.gettime()
      assert.same({ nil, "timeout" }, { c:handshake() }) -- nobody answers
      assert.is_true(socket.gettime() - t0 >= 1.4)
      b:settimeout(0)
      local hellos = {}
      while true do
        local d = b:receive()
        if not d then break end
        hellos[#hellos + 1] = d
      end
      assert.equal(2, #hellos) -- the ClientHello, and again after wolfSSL's 1 s timer
      assert.equal(hellos[1]:sub(14), hellos[2]:sub(14)) -- the same message, a new record sequence number
      assert.are_not.equal(hellos[1]:sub(1, 13), hellos[2]:sub(1, 13))
      a:close() b:close()
    end)

    it("our client against openssl s_server -dtls1_2: certificates, data both ways", function()
      local port = free_udp_port()
      local output = peer(("openssl s_server -dtls1_2 -naccept 1 -accept 127.0.0.1:%d -cert %s -key %s")
        :format(port, H.cert("server.pem"), H.cert("server.key")), "reply from openssl\\n")
      output("ACCEPT")
      local conn = client(port)
      assert.is_true(conn:handshake())
      assert.equal("DTLSv1.2", conn:version())
      assert.is_true((conn:verify_result()))
      local msg = "hello from wolfssl " .. ("\1\2\3\255"):rep(100) .. "\n"
      assert.equal(#msg, conn:write(msg))
      assert.equal("reply from openssl\n", conn:read())
      assert.truthy(output(msg):find(msg, 1, true))
    end)

    it("OpenSSL 3.5: no DTLS 1.3; our default client (dtls1.2..dtls1.3) settles on DTLS 1.2 with s_server -dtls", function()
      local o35, why = P.openssl35()
      if not o35 then pending(why) return end
      assert.is_nil(P.capture(o35 .. " s_server -help"):find("dtls1_3", 1, true)) -- (so DTLS 1.3 is tested between us only)
      local port = free_udp_port()
      local output = peer(("%s s_server -dtls -naccept 1 -accept 127.0.0.1:%d -cert %s -key %s")
        :format(o35, port, H.cert("server.pem"), H.cert("server.key")), "hello from 3.5\\n")
      output("ACCEPT")
      local conn = client(port, { max_version = features.dtls13 and "dtls1.3" or "dtls1.2" })
      assert.is_true(conn:handshake())
      assert.equal("DTLSv1.2", conn:version())
      assert.equal("hello from 3.5\n", conn:read())
      assert.equal(6, conn:write("to 35\n"))
      assert.truthy(output("to 35\n"):find("to 35\n", 1, true))
    end)

    it("our client against openssl s_server -dtls1_2 with PSK only", function()
      local port = free_udp_port()
      local key = ("\x42"):rep(32)
      local output = peer(("openssl s_server -dtls1_2 -naccept 1 -accept 127.0.0.1:%d -nocert -psk %s -psk_identity device7")
        :format(port, ("42"):rep(32)), "psk reply\\n")
      output("ACCEPT")
      local conn = client(port, { mode = "client", verify = "none", psk = { identity = "device7", key = key } })
      assert.is_true(conn:handshake())
      assert.matches("PSK", conn:cipher())
      assert.equal("psk reply\n", conn:read())
      assert.equal(9, conn:write("psk data\n"))
      assert.truthy(output("psk data\n"):find("psk data\n", 1, true))
    end)

    it("openssl s_client -dtls1_2 against our server in fd mode: data both ways", function()
      local u = socket.udp()
      assert(u:setsockname("127.0.0.1", 0))
      local _, port = u:getsockname()
      local output = peer(("openssl s_client -dtls1_2 -connect 127.0.0.1:%d -CAfile %s -servername localhost")
        :format(port, H.cert("ca.pem")), "line from s_client\\n")
      local conn, ok, err = serve(u, H.server_ctx { dtls = true })
      assert.is_true(ok, err)
      assert.equal("DTLSv1.2", conn:version())
      assert.equal("line from s_client\n", conn:read())
      assert.equal(17, conn:write("reply from lua \1\n"))
      local text = output("reply from lua \1\n")
      assert.truthy(text:find("reply from lua \1\n", 1, true), text)
      assert.truthy(text:find("Verify return code: 0 (ok)", 1, true), text)
    end)

    it("our client against gnutls-serv --udp (echo): data back byte for byte", function()
      if not P.have("gnutls-serv") then pending("gnutls-serv is not installed") return end
      local port = free_udp_port()
      local output = peer(("gnutls-serv --udp --echo -p %d --x509certfile %s --x509keyfile %s")
        :format(port, H.cert("server.pem"), H.cert("server.key")))
      output("listening")
      local conn
      local ok, err
      for _ = 1, 50 do -- (gnutls-serv says nothing reliable when it is ready)
        conn = client(port)
        conn:settimeout(0.5)
        ok, err = conn:handshake()
        if ok then break end
        conn:close()
      end
      assert.is_true(ok, err)
      conn:settimeout(5)
      assert.equal("DTLSv1.2", conn:version())
      local msg = "echo me \0\1\2 " .. ("z"):rep(1000)
      assert.equal(#msg, conn:write(msg))
      local got = {}
      repeat -- (gnutls-serv echoes in pieces of its own size, one record each)
        local d, e = conn:read()
        assert.truthy(d, e)
        got[#got + 1] = d
      until #table.concat(got) >= #msg
      assert.equal(msg, table.concat(got))
    end)

    it("gnutls-cli --udp against our server in fd mode: data both ways", function()
      if not P.have("gnutls-cli") then pending("gnutls-cli is not installed") return end
      local u = socket.udp()
      assert(u:setsockname("127.0.0.1", 0))
      local _, port = u:getsockname()
      local output = peer(("gnutls-cli --udp -p %d --x509cafile %s localhost")
        :format(port, H.cert("ca.pem")), "line from gnutls\\n")
      local conn, ok, err = serve(u, H.server_ctx { dtls = true })
      assert.is_true(ok, err)
      assert.equal("DTLSv1.2", conn:version())
      assert.equal("line from gnutls\n", conn:read())
      assert.equal(16, conn:write("reply from lua\n\n"))
      local text = output("reply from lua")
      assert.truthy(text:find("reply from lua", 1, true), text)
    end)
  end)

  describe("examples/dtls-psk-server.lua and dtls-psk-client.lua", function()
    local socket = require "socket"
    local P = require "peers"
    after_each(function() P.stop_all() end)

    local function lua_env() return H.lua() end -- (LUA_PATH and LUA_CPATH are inherited)

    local function start_server(peers, hide_luv)
      local u = socket.udp()
      assert(u:setsockname("127.0.0.1", 0))
      local _, port = u:getsockname()
      u:close()
      local out = os.tmpname()
      local pid = P.spawn(("sh -c 'exec timeout 30 %s %s examples/dtls-psk-server.lua %d %d >%s 2>&1'")
        :format(lua_env(), hide_luv and "-e \"package.preload.luv = function() error(0) end\"" or "",
                port, peers, out))
      local deadline, text = socket.gettime() + 10, ""
      repeat
        local f = io.open(out, "rb")
        text = f and f:read("*a") or ""
        if f then f:close() end
        if text:find("DTLS PSK server on", 1, true) then break end
        socket.sleep(0.02)
      until socket.gettime() > deadline
      assert.matches("DTLS PSK server on udp 127.0.0.1:" .. port, text)
      return port, pid, out
    end

    local function client(port, ...)
      return P.capture(("timeout 10 %s examples/dtls-psk-client.lua %d %s"):format(lua_env(), port, table.concat({ ... }, " ")))
    end

    for _, loop in ipairs({ "luv", "LuaSocket" }) do
      it("two devices in turn, echoed back (" .. loop .. ")", function()
        -- (the server runs luv, not this process: loading it here would let busted's
        -- per-file unloading collect luv, which closes libuv's default loop under
        -- the next spec that requires it: spec/44 crashed in uv_tcp_init_ex)
        if loop == "luv" and not package.searchpath("luv", package.cpath) then pending("luv is not installed") return end
        local port, pid, out = start_server(2, loop == "LuaSocket")
        local want = features.dtls13 and "DTLSv1.3" or "DTLSv1.2"
        local a = client(port, "hello", "world")
        assert.equal(want, a:match("^(%S+)"))
        assert.matches("pong hello\npong world\n$", a)
        assert.matches("pong again\n$", client(port, "again"))
        assert.is_true(P.wait_exit(pid, 10)) -- it stops after two devices said bye
        local f = io.open(out, "rb")
        local text = f:read("*a")
        f:close()
        os.remove(out)
        assert.matches("%(" .. loop .. "%)", text)
        local _, n = text:gsub("127%.0%.0%.1:%d+: " .. want, "")
        assert.equal(2, n)
      end)
    end

    it("openssl s_client -dtls1_2 with the example's key", function()
      local port = start_server(1)
      local output = peer(("openssl s_client -dtls1_2 -connect 127.0.0.1:%d " ..
        "-psk 73656372657420666f7220646576696365 -psk_identity device1 -ign_eof"):format(port),
        "from openssl\\n")
      local text = output("pong from openssl")
      assert.truthy(text:find("pong from openssl", 1, true), text)
    end)
  end)
end)
