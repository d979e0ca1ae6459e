-- TLS 1.2 renegotiation (issue 14): refused by default with a
-- no_renegotiation warning and the connection kept; renegotiation = "allow"
-- and conn:renegotiate() do RFC 5746 secure renegotiation where the build has
-- it (wolfssl.features.renegotiation), in memory mode and against openssl.
local wolfssl = require "wolfssl"
local H = require "helpers"

local has = wolfssl.features.renegotiation
local TLS12 = { max_version = "tls1.2" }

local function with(base, o)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(o or {}) do t[k] = v end
  return t
end

-- drive `a`'s renegotiate() while `b` reads: true, or nil, err from either side
local function renegotiate(a, b)
  for _ = 1, 20 do
    local ok, err = a:renegotiate()
    if ok then
      -- b may still hold a's last flight
      b:feed(a:drain())
      local data, berr = b:read()
      if data then return nil, "unexpected data " .. data end
      if berr ~= "wantread" then return nil, berr end
      return true
    end
    if err ~= "wantread" and err ~= "wantwrite" then return nil, err end
    b:feed(a:drain())
    local data, berr = b:read()
    if data then return nil, "unexpected data " .. data end
    if berr ~= "wantread" and berr ~= "wantwrite" then return nil, "peer: " .. tostring(berr) end
    a:feed(b:drain())
  end
  return nil, "renegotiation did not finish"
end

local function recording(o)
  return with(o, { on_message = function(conn, msg)
    local d = conn.data
    d.msgs = d.msgs or {}
    d.msgs[#d.msgs + 1] = (msg.direction == "sent" and ">" or "<") .. msg.type
  end })
end

local function count(conn, what)
  local n = 0
  for _, m in ipairs(conn.data.msgs or {}) do if m == what then n = n + 1 end end
  return n
end

describe("renegotiation in memory", function()
  it("a TLS 1.3 connection has key_update instead", function()
    local c, s, ok = H.pair(H.client_ctx(), H.server_ctx())
    assert.is_true(ok)
    local r, err = c:renegotiate()
    assert.is_nil(r)
    if has then
      assert.equal("renegotiate needs TLS 1.2 (TLS 1.3 has key_update instead)", err)
    else
      assert.equal("renegotiate is not supported by this wolfSSL build (wolfssl.features.renegotiation is false)", err)
    end
    assert.equal("still", H.transfer(c, s, "still"))
  end)

  it("allow on both sides: the client renegotiates, the trace shows the second handshake, data flows", function()
    if not has then
      local c, s, ok = H.pair(H.client_ctx(TLS12), H.server_ctx())
      assert.is_true(ok)
      assert.same({ nil, "renegotiate is not supported by this wolfSSL build (wolfssl.features.renegotiation is false)" },
                  { c:renegotiate() })
      assert.equal("kept", H.transfer(c, s, "kept"))
      pending("this wolfSSL build has no secure renegotiation (the clear error is checked)")
      return
    end
    local c, s, ok, side, err = H.pair(H.client_ctx(recording(with(TLS12, { renegotiation = "allow" }))),
                                       H.server_ctx(recording { renegotiation = "allow" }))
    assert.is_true(ok, tostring(side) .. ": " .. tostring(err))
    assert.equal("before\0\255", H.transfer(c, s, "before\0\255"))
    assert.equal("reply", H.transfer(s, c, "reply"))
    assert.equal(1, count(c, ">client_hello"))
    assert.is_true(renegotiate(c, s))
    -- the second handshake, under the first one's keys (named, inferred)
    local second = ">client_hello <server_hello <certificate <server_key_exchange <server_hello_done " ..
                   ">client_key_exchange >change_cipher_spec >finished <new_session_ticket " ..
                   "<change_cipher_spec <finished"
    local all = table.concat(c.data.msgs, " ")
    assert.equal(second, all:sub(-#second))
    assert.equal(2, count(c, ">client_hello"))
    assert.equal(2, count(s, "<client_hello"))
    assert.equal(2, count(s, ">server_hello"))
    assert.equal("after\1\2", H.transfer(c, s, "after\1\2"))
    assert.equal("answer", H.transfer(s, c, "answer"))
    assert.equal("TLSv1.2", c:version())
    -- and once more, started by the server (HelloRequest)
    assert.is_true(renegotiate(s, c))
    assert.equal(3, count(c, ">client_hello"))
    assert.equal(1, count(c, "<hello_request"))
    assert.equal("third", H.transfer(s, c, "third"))
    assert.equal("fourth", H.transfer(c, s, "fourth"))
  end)

  it("refuse (the default): the server answers no_renegotiation and the connection goes on", function()
    if not has then
      pending("this wolfSSL build has no secure renegotiation: no client here can ask (spec/07 checks the server's answer)")
      return
    end
    local c, s, ok = H.pair(H.client_ctx(recording(with(TLS12, { renegotiation = "allow" }))),
                            H.server_ctx(recording {}))
    assert.is_true(ok)
    assert.equal("before", H.transfer(c, s, "before"))
    assert.same({ nil, "the peer refused to renegotiate (no_renegotiation alert)" }, { renegotiate(c, s) })
    assert.equal(2, count(c, ">client_hello"))
    assert.equal(1, count(s, ">alert"))
    -- data still flows, both ways, byte for byte
    local blob = ("\0\1\2\255"):rep(3000)
    assert.equal(blob, H.transfer(c, s, blob))
    assert.equal("from server", H.transfer(s, c, "from server"))
    assert.is_nil(s:last_error())
  end)

  it("a server cannot ask a client that did not allow it (no RFC 5746 from that client); the connection goes on", function()
    if not has then
      pending("this wolfSSL build has no secure renegotiation (the clear error is checked above)")
      return
    end
    local c, s, ok = H.pair(H.client_ctx(TLS12), H.server_ctx { renegotiation = "allow" })
    assert.is_true(ok)
    assert.same({ nil, 'renegotiate: needs renegotiation = "allow" on this side and a peer that supports ' ..
                       "secure renegotiation (RFC 5746)" }, { s:renegotiate() })
    assert.equal("after", H.transfer(c, s, "after"))
    assert.equal("back", H.transfer(s, c, "back"))
  end)
end)
