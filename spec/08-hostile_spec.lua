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
    raises("bad option 'server_name': the name contains a NUL byte", cctx.new, cctx,
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
      raises("bad option '" .. case[1] .. "': the [%w ]+ contains a NUL byte", wolfssl.context, case[2])
    end
    if wolfssl.features.ocsp then
      raises("bad option 'staple': the file path contains a NUL byte", wolfssl.context,
        { mode = "server", certificate = cert, key = key, cafile = H.cert("ca.pem"),
          staple = H.cert("ocsp-good.der") .. "\0.evil" })
    end
  end)

  it("ALPN names and PSK identities refuse a NUL byte, naming the option", function()
    raises("bad option 'alpn'", wolfssl.context, { mode = "client", alpn = { "h2\0x" } })
    raises("bad option 'alpn'", cctx.new, cctx, { server_name = "localhost", alpn = { "http/1.1", "h2\0" } })
    if not wolfssl.features.psk then pending("PSK is not in this wolfSSL build") end
    raises("bad option 'psk': the identity contains a NUL byte", wolfssl.context,
      { mode = "client", psk = { identity = "client1\0admin", key = ("k"):rep(32) } })
    raises("bad option 'psk': an identity contains a NUL byte", wolfssl.context,
      { mode = "server", psk = { keys = { ["client1\0admin"] = ("k"):rep(32) } } })
    raises("bad option 'psk': the hint contains a NUL byte", wolfssl.context,
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
  it("ctx:new returns nil and the true reason, and works again once one is free", function()
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
    assert.equal("nil|cannot make a connection: too many open files " ..
                 "(wolfSSL needs a descriptor for its random generator)", first, out)
    assert.matches("^wolfssl.Connection %(server, memory%).*|nil$", second)
  end)
end)
