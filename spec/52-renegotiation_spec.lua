-- TLS 1.2 renegotiation (issue 14): refused by default with a
-- no_renegotiation warning and the connection kept; renegotiation = "allow"
-- and conn:renegotiate() do RFC 5746 secure renegotiation where the build has
-- it (wolfssl.features.renegotiation), in memory mode and against openssl.
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"

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

describe("renegotiation against openssl", function()
  after_each(P.stop_all)

  -- openssl s_client -tls1_2 -msg with its stdin a fifo we type into;
  -- returns the fifo handle, a function giving its output once it ended
  local function s_client(port)
    local fifo, out = os.tmpname(), os.tmpname()
    os.remove(fifo)
    assert.is_truthy(os.execute("mkfifo " .. fifo))
    local pid = P.spawn(("exec timeout 20 sh -c 'exec openssl s_client -connect 127.0.0.1:%d -tls1_2 -msg <%s >%s 2>&1'")
      :format(port, fifo, out))
    local input = assert(io.open(fifo, "w"))
    return input, function()
      input:close()
      P.wait_exit(pid, 5)
      local f = assert(io.open(out, "rb"))
      local text = f:read("*a")
      f:close()
      os.remove(out); os.remove(fifo)
      return text
    end
  end

  local function occurrences(text, s)
    local n, i = 0, 1
    while true do
      local j = text:find(s, i, true)
      if not j then return n end
      n, i = n + 1, j + #s
    end
  end

  it('our server with renegotiation = "allow" follows openssl s_client R; data flows before and after', function()
    if not has then pending("this wolfSSL build has no secure renegotiation (spec/07 checks its refusal)") return end
    local srv, port = P.listen()
    local input, output = s_client(port)
    local conn, sock, ok, err = P.serve_one(srv, H.server_ctx(recording { renegotiation = "allow" }))
    assert.is_true(ok, err)
    input:write("before\n"); input:flush()
    assert.equal("before\n", P.await(conn, sock, "read"))
    input:write("R\n"); input:flush() -- s_client sends a ClientHello
    -- our read runs the second handshake (wantread meanwhile) until our
    -- second Finished is out; only then is s_client's next line data
    local socket = require "socket"
    local deadline = socket.gettime() + 10
    while count(conn, ">finished") < 2 and socket.gettime() < deadline do
      local data, rerr = conn:read()
      assert.is_nil(data)
      assert.equal("wantread", rerr)
      socket.select({ sock }, nil, 0.5)
    end
    assert.equal(2, count(conn, ">finished"))
    input:write("after \1\255\n"); input:flush()
    local got = P.await(conn, sock, "read")
    assert.equal("after \1\255\n", got)
    assert.equal(2, count(conn, "<client_hello"))
    assert.equal(2, count(conn, ">server_hello"))
    assert.equal(2, count(conn, ">finished"))
    assert.is_true(P.await(conn, sock, "write", "reply from lua\n") == 15)
    assert.is_true(P.await(conn, sock, "shutdown"))
    sock:close()
    local text = output()
    assert.matches("RENEGOTIATING", text)
    assert.equal(2, occurrences(text, "ClientHello"))
    assert.equal(2, occurrences(text, "<<< TLS 1.2, Handshake [length 0010], Finished"))
    assert.is_nil(text:find("no_renegotiation", 1, true))
    assert.matches("reply from lua", text)
  end)

  it("our server asks openssl s_client to renegotiate (HelloRequest) by conn:renegotiate(); data flows after", function()
    local srv, port = P.listen()
    local input, output = s_client(port)
    local conn, sock, ok, err = P.serve_one(srv, H.server_ctx(recording(has and { renegotiation = "allow" } or {})))
    assert.is_true(ok, err)
    input:write("before\n"); input:flush()
    assert.equal("before\n", P.await(conn, sock, "read"))
    if not has then
      assert.same({ nil, "renegotiate is not supported by this wolfSSL build (wolfssl.features.renegotiation is false)" },
                  { conn:renegotiate() })
      sock:close()
      output()
      pending("this wolfSSL build has no secure renegotiation (the clear error is checked)")
      return
    end
    assert.is_true(P.await(conn, sock, "renegotiate"))
    assert.equal(1, count(conn, ">hello_request"))
    assert.equal(2, count(conn, "<client_hello"))
    input:write("after\0\n"); input:flush()
    assert.equal("after\0\n", P.await(conn, sock, "read"))
    assert.is_true(P.await(conn, sock, "write", "reply from lua\n") == 15)
    assert.is_true(P.await(conn, sock, "shutdown"))
    sock:close()
    local text = output()
    assert.matches("HelloRequest", text)
    assert.equal(2, occurrences(text, "ClientHello"))
    assert.matches("reply from lua", text)
  end)

  it("our client renegotiates with openssl s_server (TLS 1.2) by conn:renegotiate(); data flows before and after", function()
    local cctx = H.client_ctx(with(TLS12, recording(has and { renegotiation = "allow" } or {})))
    local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -tls1_2 -client_renegotiation -rev -quiet",
                         H.cert("server.pem"), H.cert("server.key"))
    local conn, sock = P.connect(port, cctx)
    assert.is_true(P.handshake(conn, sock))
    assert.is_true(P.await(conn, sock, "write", "before\0\n") == 8)
    assert.equal("\0erofeb\n", P.await(conn, sock, "read"))
    if not has then
      assert.same({ nil, "renegotiate is not supported by this wolfSSL build (wolfssl.features.renegotiation is false)" },
                  { conn:renegotiate() })
      assert.is_true(P.await(conn, sock, "write", "kept\n") == 5)
      assert.equal("tpek\n", P.await(conn, sock, "read"))
      pending("this wolfSSL build has no secure renegotiation (the clear error is checked)")
      return
    end
    assert.is_true(P.await(conn, sock, "renegotiate"))
    assert.equal(2, count(conn, ">client_hello"))
    assert.equal(2, count(conn, "<server_hello"))
    assert.is_true(P.await(conn, sock, "write", "after\255\n") == 7)
    assert.equal("\255retfa\n", P.await(conn, sock, "read"))
    sock:close()
  end)
end)
