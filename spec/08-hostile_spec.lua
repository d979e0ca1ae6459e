-- Hostile input: names and paths with NUL bytes, descriptors out of range,
-- descriptors running out, and bytes from the network that are not what TLS
-- expects. Each is refused with a message in words, never a crash and never
-- a raw wolfSSL string.
local wolfssl = require "wolfssl"
local H = require "helpers"

local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "did not raise: " .. pattern)
  assert.matches(pattern, tostring(err))
end

describe("names and paths with a NUL byte", function()
  local cctx = H.client_ctx()

  it("server_name 'localhost\\0.attacker.example' is refused, naming the option", function()
    raises("bad option 'server_name': must not contain a NUL byte", cctx.new, cctx,
      { server_name = "localhost\0.attacker.example" })
    -- the same name without the NUL is an ordinary (mismatching) name
    local c, _, ok, side, err = H.pair(cctx, H.server_ctx(), { server_name = "localhost.attacker.example" })
    assert.is_nil(ok)
    assert.same({ "client", "hostname mismatch: certificate is for localhost, *.test.localhost, 127.0.0.1, " ..
      "0000:0000:0000:0000:0000:0000:0000:0001, not localhost.attacker.example" },
                { side, err })
    assert.equal("failed", c:state())
  end)

  it("every path option refuses a NUL byte, naming the option", function()
    local cert, key = H.cert("server.pem"), H.cert("server.key")
    local cases = {
      { "certificate", { mode = "server", certificate = cert .. "\0.evil", key = key } },
      { "key", { mode = "server", certificate = cert, key = key .. "\0.evil" } },
      { "cafile", { mode = "client", cafile = H.cert("ca.pem") .. "\0.evil" } },
      { "capath", { mode = "client", capath = H.cert("capath") .. "\0/evil" } },
      { "crl", { mode = "client", cafile = H.cert("ca.pem"), crl = H.cert("crl.pem") .. "\0.evil" } },
      { "password", { mode = "server", certificate = cert, key = H.cert("server-enc.key"), password = "pw\0x" } },
    }
    for _, case in ipairs(cases) do
      raises("bad option '" .. case[1] .. "': must not contain a NUL byte", wolfssl.context, case[2])
    end
    if wolfssl.features.ocsp then
      raises("bad option 'staple': must not contain a NUL byte", wolfssl.context,
        { mode = "server", certificate = cert, key = key, cafile = H.cert("ca.pem"),
          staple = H.cert("ocsp-good.der") .. "\0.evil" })
    end
  end)

  it("ALPN names and PSK identities refuse a NUL byte, naming the option", function()
    raises("bad option 'alpn'", wolfssl.context, { mode = "client", alpn = { "h2\0x" } })
    raises("bad option 'alpn'", cctx.new, cctx, { server_name = "localhost", alpn = { "http/1.1", "h2\0" } })
    if not wolfssl.features.psk then pending("PSK is not in this wolfSSL build") end
    raises("bad option 'psk': identity must not contain a NUL byte", wolfssl.context,
      { mode = "client", psk = { identity = "client1\0admin", key = ("k"):rep(32) } })
    raises("bad option 'psk': every identity in keys must not contain a NUL byte", wolfssl.context,
      { mode = "server", psk = { keys = { ["client1\0admin"] = ("k"):rep(32) } } })
    raises("bad option 'psk': hint must not contain a NUL byte", wolfssl.context,
      { mode = "server", psk = { hint = "h\0", keys = { client1 = ("k"):rep(32) } } })
  end)
end)

describe("fd out of range", function()
  local cctx = H.client_ctx()

  it("2^32+1, 2^31, negative and non-integer descriptors raise naming fd", function()
    for _, fd in ipairs { 2 ^ 32 + 1, 2 ^ 31, -1, -2 ^ 31, 1.5, 0 / 0, math.huge } do
      raises("bad option 'fd': expected a descriptor: an integer from 0 to 2%^31%-1", cctx.new, cctx,
        { fd = fd, server_name = "localhost" })
    end
    -- the largest valid one is accepted (a descriptor nobody has open: the
    -- first call fails in words)
    local c = cctx:new { fd = 2 ^ 31 - 1, server_name = "localhost" }
    local ok, err = c:handshake()
    assert.is_nil(ok)
    assert.is_string(err)
    c:close()
  end)
end)

describe("descriptors running out", function()
  it("ctx:new returns nil and the true reason (or needs no descriptor), and works again once one is free", function()
    -- in a child process whose RLIMIT_NOFILE is lowered: open files until
    -- none is left, then ask for a connection
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local wolfssl = require "wolfssl"
      local ctx = wolfssl.context { mode = "server", certificate = "spec/fixtures/certs/server.pem",
                                    key = "spec/fixtures/certs/server.key" }
      local files = {}
      while true do
        local f = io.open("/dev/null")
        if not f then break end
        files[#files + 1] = f
      end
      local conn, err = ctx:new()
      print(tostring(conn) .. "|" .. tostring(err))
      files[#files]:close()
      conn, err = ctx:new()
      print(tostring(conn) .. "|" .. tostring(err))
    ]])
    f:close()
    local p = io.popen(("ulimit -n 32 && %s %s 2>&1"):format(H.lua(), script))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    local first, second = out:match("^([^\n]*)\n([^\n]*)\n$")
    if wolfssl.features.rng_needs_fd then -- wolfSSL opens /dev/urandom for every connection
      assert.equal("nil|cannot make a connection: too many open files " ..
                   "(wolfSSL needs a descriptor for its random generator)", first, out)
    else -- seeded by getrandom(2): no descriptor needed at all
      assert.matches("^wolfssl.Connection %(server, memory%).*|nil$", first)
    end
    assert.matches("^wolfssl.Connection %(server, memory%).*|nil$", second)
  end)
end)

-- bytes a hostile peer sends, in memory mode: a record, a handshake message
local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function u24(n) return string.char(math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) end
local function record(ct, body) return string.char(ct) .. "\3\3" .. u16(#body) .. body end
local function handshake(t, body) return string.char(t) .. u24(#body) .. body end
local function our_hello(o)
  local c = H.client_ctx(o):new { server_name = "localhost" }
  c:handshake()
  return c:drain(), c
end

-- feed bytes to a fresh server (or client, after its ClientHello): the
-- handshake's message, and the alert it sent back (description), if any
local function server_gets(bytes, eof)
  local s = H.server_ctx():new {}
  s:feed(bytes)
  if eof then s:feed_eof() end
  local ok, err, code = s:handshake()
  assert.is_nil(ok)
  assert.is_number(code)
  local out = s:drain()
  return err, out:byte(1) == 21 and out:byte(7) or nil
end

local function client_gets(bytes, eof)
  local _, c = our_hello()
  c:feed(bytes)
  if eof then c:feed_eof() end
  local ok, err, code = c:handshake()
  assert.is_nil(ok)
  assert.is_number(code)
  local out = c:drain()
  return err, out:byte(1) == 21 and out:byte(7) or nil
end

describe("hostile bytes from the network are worded, and the peer is told", function()
  local UNEXPECTED, DECODE, RECORD_OVERFLOW, HANDSHAKE_FAILURE = 10, 50, 22, 40

  it("garbage instead of TLS", function()
    assert.same({ "peer sent data that is not TLS (garbage bytes 47 45 54)" },
                { (server_gets("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) })
    assert.same({ "peer sent data that is not TLS (garbage bytes 48 54 54)" },
                { (client_gets("HTTP/1.1 400 Bad Request\r\n\r\n")) })
  end)

  it("a handshake message out of order, or from the wrong side", function()
    local finished = record(22, handshake(20, ("x"):rep(12)))
    assert.same({ "peer sent a handshake message out of order", UNEXPECTED }, { server_gets(finished) })
    assert.same({ "peer sent a handshake message out of order", UNEXPECTED }, { client_gets(finished) })
    assert.same({ "peer sent a handshake message out of order", UNEXPECTED },
                { client_gets(record(22, handshake(11, "\0\0\0"))) }) -- Certificate before ServerHello
    assert.same({ "peer sent a handshake message out of order", UNEXPECTED },
                { server_gets(record(23, "hello")) }) -- application data before the handshake
    local hello = our_hello()
    assert.same({ "peer sent a message only a client sends", UNEXPECTED }, { client_gets(hello) })
    assert.same({ "peer sent a message only a server sends", UNEXPECTED },
                { server_gets(record(22, handshake(2, "\3\3" .. ("r"):rep(32) .. "\0\19\1\0"))) })
  end)

  it("a malformed ClientHello", function()
    for _, body in ipairs {
      ("\255"):rep(100),                                          -- nonsense
      "\3\3" .. ("r"):rep(32) .. "\255" .. ("\0"):rep(60),         -- session id longer than the message
      "\3\3" .. ("r"):rep(32) .. "\0" .. "\0\0" .. "\1\0",         -- no cipher suites
      "\3\3" .. ("r"):rep(32) .. "\0" .. "\0\3\192\47\0" .. "\1\0", -- odd cipher suite length
    } do
      assert.same({ "peer sent a malformed handshake message", DECODE },
                  { server_gets(record(22, handshake(1, body))) })
    end
  end)

  it("records with bad lengths, and records cut short", function()
    local err, alert = server_gets(record(22, ("\0"):rep(18000)))
    assert.equal("peer sent a record with an invalid length", err)
    assert.is_true(alert == RECORD_OVERFLOW or alert == HANDSHAKE_FAILURE, tostring(alert))
    assert.equal("peer sent a record with an invalid length", (server_gets(record(22, ""))))
    local hello = our_hello()
    for _, cut in ipairs { 3, 40, #hello - 1 } do
      assert.equal("connection closed by peer during the handshake", (server_gets(hello:sub(1, cut), true)))
    end
    assert.equal("connection closed by peer during the handshake",
                 (client_gets(record(22, handshake(2, ("\0"):rep(50))):sub(1, 20), true)))
  end)

  it("a TLS 1.2 ClientHello sent twice, and Finished before ChangeCipherSpec", function()
    local hello = our_hello { max_version = "tls1.2" }
    assert.equal("peer sent the same handshake message twice", (server_gets(hello .. hello)))
    assert.equal("peer sent Finished before ChangeCipherSpec",
                 (server_gets(hello .. record(22, handshake(20, ("x"):rep(12))))))
  end)

  it("after the handshake: tampered, forged and malformed records (TLS 1.2 and 1.3)", function()
    local MAC = "bad record MAC: a record from the peer failed its integrity check (corrupted or tampered with)"
    for _, v in ipairs { "tls1.2", "tls1.3" } do
      local c, s, ok = H.pair(H.client_ctx { max_version = v }, H.server_ctx())
      assert.is_true(ok)
      assert(c:write("hello"))
      local r = c:drain()
      s:feed(r:sub(1, -2) .. string.char((r:byte(-1) + 1) % 256)) -- one bit flipped
      assert.equal(MAC, select(2, s:read()))
      assert.equal(MAC, s:last_error().message)

      c, s = H.pair(H.client_ctx { max_version = v }, H.server_ctx())
      s:feed(record(23, ("q"):rep(64))) -- forged application data
      assert.equal(MAC, select(2, s:read()))

      c, s = H.pair(H.client_ctx { max_version = v }, H.server_ctx())
      s:feed("\22\3\3\255\255" .. ("x"):rep(100)) -- a record longer than TLS allows
      assert.equal("peer sent a record with an invalid length", select(2, s:read()))

      c = H.pair(H.client_ctx { max_version = v }, H.server_ctx())
      c:feed(record(22, handshake(11, "\0\0\0"))) -- a plaintext handshake message
      local _, err = c:read()
      assert.is_true(err == "peer sent a malformed encrypted record" or err == "peer sent a malformed record" or
                     err == MAC, err)
    end
  end)

  it("an alert with an unknown description is named by its number", function()
    assert.equal("peer sent alert 222 (unknown)", (client_gets(record(21, "\2\222"))))
  end)

  it("no message from any of these is one of wolfSSL's raw strings", function()
    local hello12 = our_hello { max_version = "tls1.2" }
    for _, bytes in ipairs {
      record(22, handshake(20, ("x"):rep(12))), record(23, "x"), record(22, ("\0"):rep(18000)),
      record(22, handshake(1, ("\255"):rep(100))), hello12 .. hello12,
      hello12 .. record(20, "\1") .. record(22, ("x"):rep(40)), hello12 .. record(22, ("z"):rep(40)),
    } do
      local err = server_gets(bytes)
      assert.no.matches("wolfSSL error", err)
      assert.no.matches("^%u", err) -- wolfSSL's strings start with a capital letter, ours do not
    end
  end)
end)
