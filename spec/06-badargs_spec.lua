-- Every public function of the foundation called with wrong argument types:
-- the error names the argument (or the option key), and nothing crashes.
local wolfssl = require "wolfssl"
local x509 = require "wolfssl.x509"
local H = require "helpers"

local unpack = table.unpack or unpack

-- a function that calls m by its name, as t.name(args) or t:name(args)
local function named(name, m, args, method)
  local code = ("local t = { %s = ... }; return function() t%s%s(%s) end"):format(
    name, method and ":" or ".", name, args)
  return assert((loadstring or load)(code))(m)
end

-- the same, called with the value a: t.name(a)
local function named_arg(name, m, a)
  local code = ("local m, a = ...; local t = { %s = m }; return function() t.%s(a) end"):format(name, name)
  return assert((loadstring or load)(code))(m, a)
end

-- how a type error names a userdata: Lua 5.1 and LuaJIT say "userdata"
local function ud(tname)
  return _VERSION == "Lua 5.1" and "[%w.]+" or (tname:gsub("%.", "%%."))
end

local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error, expected " .. pattern)
  assert.matches(pattern, tostring(err))
end

describe("bad arguments", function()
  describe("wolfssl.context", function()
    it("checks its argument and every option type", function()
      raises("bad argument #1 to 'context' %(table expected, got nil%)", wolfssl.context)
      raises("bad argument #1 to 'context' %(table expected, got number%)", wolfssl.context, 1)
      raises("option keys must be strings", wolfssl.context, { "client" })
      local bad = {
        min_version = 1, max_version = {}, ciphers = true, ciphersuites = 5, groups = 7,
        certificate = true, key = 1, password = 1, cafile = 1, capath = true, cadata = true,
        system_ca = 1, verify = "sometimes", verify_depth = "deep", check_hostname = 1,
        alpn = true, session_tickets = 1, session_cache = 1, session_cache_size = 0,
        session_timeout = -5, post_handshake_auth = "yes", on_verify = "f",
        session_store = 1,
      }
      for key, value in pairs(bad) do
        raises("bad option '" .. key .. "'", wolfssl.context, { mode = "client", [key] = value })
      end
    end)
  end)

  describe("every option with every kind of wrong value", function()
    it("gives a context, nil + message, or an error naming the key; never a stray Lua error", function()
      local opts = require "wolfssl.options"
      local values = { true, false, 0, -1, 1.5, "", "x", "tls1.2", {}, { 1 }, { "x" },
                       function() return "s" end, io.stdout, { io.stdout },
                       setmetatable({}, { __call = function() return 1 end }) }
      local cctx = H.client_ctx { check_hostname = false }
      for _, key in ipairs(opts.CONTEXT_KEYS) do
        for _, v in ipairs(values) do
          for _, mode in ipairs { "client", "server" } do
            local ok, a, b = pcall(wolfssl.context, { mode = mode, [key] = v })
            local what = ("%s %s = %s"):format(mode, key, tostring(v))
            if ok then
              assert(a ~= nil or type(b) == "string", what .. ": nil without a message")
            else
              assert(type(a) == "string" and a:find(key, 1, true), what .. ": " .. tostring(a))
            end
          end
        end
      end
      for _, key in ipairs(opts.CONN_KEYS) do
        for _, v in ipairs(values) do
          local ok, a = pcall(cctx.new, cctx, { [key] = v })
          if not ok then
            assert(type(a) == "string" and a:find(key, 1, true), key .. " = " .. tostring(v) .. ": " .. tostring(a))
          end
        end
      end
    end)
  end)

  describe("ctx:new", function()
    local cctx = H.client_ctx()
    it("checks its options", function()
      raises("bad argument #1 to 'new' %(table expected, got string%)", cctx.new, cctx, "x")
      raises("unknown option 'servername' %(did you mean 'server_name'%?%)", cctx.new, cctx, { servername = "x" })
      raises("bad option 'fd'", cctx.new, cctx, { fd = -1, server_name = "x" })
      raises("bad option 'fd'", cctx.new, cctx, { fd = "3", server_name = "x" })
      raises("bad option 'fd'", cctx.new, cctx, { fd = 1.5, server_name = "x" })
      raises("bad option 'fd'", cctx.new, cctx, { fd = {}, server_name = "x" })
      raises("bad option 'server_name'", cctx.new, cctx, { server_name = 1 })
      raises("bad option 'server_name'", cctx.new, cctx, { server_name = "" })
      raises("bad option 'alpn'", cctx.new, cctx, { server_name = "x", alpn = 1 })
    end)

    -- ctx:new takes a shorter path for plain tables of server_name, session,
    -- fd and data: each bad value still raises naming the key, at the caller
    it("checks server_name, session, fd and data alike on every path", function()
      local function at_caller(pattern, o)
        local ok, err = pcall(function() local c = cctx:new(o) return c end)
        assert.is_false(ok)
        assert.matches("06%-badargs_spec%.lua:%d+: " .. pattern, err)
      end
      at_caller("bad option 'server_name'", { server_name = "" })
      at_caller("bad option 'server_name': must not contain a NUL byte", { server_name = "local\0host" })
      at_caller("bad option 'server_name'", { server_name = {} })
      at_caller("bad option 'session': expected a session object", { server_name = "x", session = "s" })
      at_caller("bad option 'session': expected a session object", { server_name = "x", session = {} })
      at_caller("bad option 'session': expected a session object", { server_name = "x", session = cctx })
      at_caller("bad option 'fd'", { server_name = "x", fd = 2 ^ 31 })
      at_caller("bad option 'fd'", { server_name = "x", fd = -0.5 })
      at_caller("bad option 'server_name' to 'new': required", { data = 1 })
      at_caller("bad option 'server_name' to 'new': required", nil)
      at_caller("bad argument #1 to 'new' %(unknown option 'sesion' %(did you mean 'session'%?%)%)",
                { server_name = "x", sesion = 1 })
      at_caller("bad argument #1 to 'new' %(option keys must be strings, got number%)", { server_name = "x", "y" })
      at_caller("bad argument #1 to 'new' %(unknown option", { server_name = "x", ["fd\0x"] = 3 })
      -- what is well-formed works, whatever the path
      local c = cctx:new { server_name = "x", data = "d" }
      assert.equal("d", c.data)
      assert.equal("x", c:server_name())
      c:close()
      -- an options table read through its metatable is read like a plain one
      c = cctx:new(setmetatable({}, { __index = { server_name = "y" } }))
      assert.equal("y", c:server_name())
      c:close()
    end)

    it("a freed context refuses new connections; its live connections still work", function()
      local sctx = H.server_ctx()
      local cctx2 = H.client_ctx()
      local c, s = cctx2:new { server_name = "localhost" }, sctx:new()
      sctx:free()
      sctx:free() -- idempotent
      raises("attempt to use a freed context", function() sctx:new() end)
      raises("attempt to use a freed context", function() sctx:mode() end)
      assert(H.handshake(c, s))
      assert.equal("ok", H.transfer(c, s, "ok"))
    end)

    it("must be called on a context", function()
      raises("Context", cctx.new, "not a context", {})
      raises("Context", cctx.new, nil, {})
    end)
  end)

  describe("Connection methods", function()
    local c
    before_each(function()
      c = H.client_ctx():new { server_name = "localhost" }
    end)

    it("read(n)", function()
      raises("bad argument #1 to 'read' %(number expected, got string%)", function() c:read("x") end)
      raises("bad argument #1 to 'read' %(must not be negative%)", function() c:read(-1) end)
    end)

    it("write(s, i, j)", function()
      raises("bad argument #1 to 'write' %(string expected, got no value%)", function() c:write() end)
      raises("bad argument #1 to 'write' %(string expected, got table%)", function() c:write({}) end)
      raises("bad argument #2 to 'write' %(number expected, got string%)", function() c:write("x", "a") end)
      raises("bad argument #3 to 'write' %(number expected, got table%)", function() c:write("x", 1, {}) end)
    end)

    it("feed, drain", function()
      raises("bad argument #1 to 'feed' %(string expected, got no value%)", function() c:feed() end)
      raises("bad argument #1 to 'feed' %(string expected, got boolean%)", function() c:feed(true) end)
      raises("bad argument #1 to 'drain' %(number expected, got string%)", function() c:drain("all") end)
    end)

    it("export_keying_material", function()
      raises("bad argument #1 to 'export_keying_material' %(string expected", function() c:export_keying_material(nil, 16) end)
      raises("bad argument #2 to 'export_keying_material' %(number expected", function() c:export_keying_material("l", "x") end)
      raises("bad argument #2 to 'export_keying_material' %(must be between", function() c:export_keying_material("l", 0) end)
      raises("bad argument #3 to 'export_keying_material' %(string expected", function() c:export_keying_material("l", 16, {}) end)
    end)

    it("every method called on something that is not a connection", function()
      local methods = { "handshake", "read", "write", "shutdown", "close", "feed", "feed_eof", "drain",
                        "version", "cipher", "group", "alpn", "server_name", "peer_certificate",
                        "peer_chain", "verify_result", "state", "last_error", "pending" }
      for _, name in ipairs(methods) do
        local m = c[name]
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got string%)",
               named(name, m, '"nope"'))
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got no value%)",
               named(name, m, ""))
        -- a method called on the wrong self, the way Lua words it
        raises("calling '" .. name .. "' on bad self %(wolfssl.Connection expected, got table%)",
               named(name, m, "", true))
      end
      raises("wolfssl.Connection expected", c.info, 42)
      -- other userdata of the module are no connections either
      for _, name in ipairs { "handshake", "close", "drain" } do
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got " .. ud("wolfssl.Context") .. "%)",
               named_arg(name, c[name], H.client_ctx()))
      end
    end)

    it("feed in fd mode and feed after feed_eof", function()
      c:feed_eof()
      raises("feed_eof%(%) was already called", c.feed, c, "x")
    end)

    it("fields other than data cannot be set", function()
      raises("cannot set field 'handshake'", function() c.handshake = 1 end)
      raises("cannot set field", function() c[1] = 1 end)
    end)
  end)

  describe("x509", function()
    local x = assert(x509.load(H.read("server.pem")))

    it("load and load_chain", function()
      raises("bad argument #1 to 'load' %(string expected, got nil%)", x509.load)
      raises("bad argument #1 to 'load' %(string expected, got number%)", x509.load, 5)
      raises("bad argument #1 to 'load_chain' %(string expected, got table%)", x509.load_chain, {})
      assert.same({ nil, "not a valid certificate" }, { x509.load("garbage") })
      assert.same({ nil, "no certificate found" }, { x509.load_chain("garbage") })
      assert.equal(2, #assert(x509.load_chain(H.read("server-chain.pem"))))
    end)

    it("methods check self and their arguments", function()
      for _, name in ipairs { "subject", "issuer", "serial", "not_before", "not_after", "altnames",
                              "digest", "der", "pem", "check_host", "is_ca" } do
        local m = x[name]
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.x509 expected, got string%)",
               named(name, m, '"nope"'))
      end
      raises("bad argument #1 to 'digest' %(invalid option 'md4'%)", function() x:digest("md4") end)
      raises("bad argument #1 to 'check_host' %(string expected, got no value%)", function() x:check_host() end)
    end)
  end)

  describe("pkey", function()
    local pkey = require "wolfssl.pkey"
    local k = assert(pkey.generate("ec"))
    local x = assert(x509.load(H.read("server.pem")))

    it("generate and load", function()
      raises("bad argument #1 to 'generate' %(expected \"ec\", \"rsa\" or \"ed25519\", got nil%)", pkey.generate)
      raises("bad argument #2 to 'generate' %(table expected, got number%)", pkey.generate, "ec", 5)
      raises("bad argument #1 to 'load' %(string expected, got nil%)", pkey.load)
      raises("bad argument #2 to 'load' %(string expected, got number%)", pkey.load, k:pem(), 5)
      assert.same({ nil, "not a valid key (RSA, EC or Ed25519 expected)" }, { pkey.load("\0\1\2") })
    end)

    it("methods check self and their arguments", function()
      for _, name in ipairs { "pem", "der", "public", "type", "bits", "curve", "is_private" } do
        local m = k[name]
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.pkey expected, got string%)", named(name, m, '"nope"'))
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.pkey expected, got " .. ud("wolfssl.x509") .. "%)",
               named_arg(name, m, x))
        raises("calling '" .. name .. "' on bad self %(wolfssl.pkey expected, got table%)", named(name, m, "", true))
      end
      raises("bad argument #1 to 'pem' %(empty password%)", function() k:pem("") end)
      raises("bad argument #1 to 'pem' %(a public key is not encrypted%)", function() k:public():pem("pw") end)
    end)
  end)

  describe("hello", function()
    local hello = require "wolfssl.hello"
    it("peek takes a string and never raises on its bytes", function()
      raises("bad argument #1 to 'peek' %(string expected, got nil%)", hello.peek)
      raises("bad argument #1 to 'peek' %(string expected, got table%)", hello.peek, {})
      assert.same({ nil, "not a TLS handshake record" }, { hello.peek("\0\0\0\0\0\0") })
    end)
  end)

  describe("trace", function()
    local trace = require "wolfssl.trace"
    local c = H.client_ctx():new { server_name = "localhost" }
    local x = assert(x509.load(H.read("server.pem")))

    it("attach, render, summary", function()
      raises("bad argument #1 to 'attach' %(options table or connection expected, got nil%)", trace.attach)
      raises("bad argument #1 to 'attach' %(options table or connection expected, got number%)", trace.attach, 5)
      raises("bad argument #2 to 'attach' %(function, file or table expected, got number%)", trace.attach, {}, 5)
      raises("bad argument #1 to 'render' %(message table expected, got nil%)", trace.render)
      raises("bad argument #1 to 'render' %(message table expected, got string%)", trace.render, "x")
      raises("bad argument #2 to 'render' %(expected \"client\" or \"server\", got sideways%)",
             trace.render, { direction = "sent", type = "finished" }, "sideways")
      raises("bad argument #1 to 'summary' %(wolfssl.Connection expected, got no value%)", trace.summary)
      raises("bad argument #1 to 'summary' %(wolfssl.Connection expected, got wolfssl.x509%)", trace.summary, x, {})
      raises("bad argument #2 to 'summary' %(table of messages expected, got number%)", trace.summary, c, 5)
      raises("bad argument #4 to 'summary' %(number expected, got string%)", trace.summary, c, {}, nil, "1s")
    end)

    it("a recorder's methods", function()
      local rec = trace.attach(c, {})
      raises("bad argument #1 to 'summary' %(wolfssl.Connection expected, got number%)", function() rec:summary(5) end)
      raises("bad argument #1 to 'messages' %(wolfssl.Connection expected, got no value%)", function() rec:messages() end)
      raises("calling 'summary' on bad self %(trace recorder expected, got userdata%)", function() rec.summary(c) end)
      assert.same({}, rec:messages(c))
    end)
  end)

  describe("decode", function()
    local decode = require "wolfssl.decode"
    it("wrong types of the caller's own arguments raise; bytes never do", function()
      raises("bad argument #1 to 'fields' %(handshake type name or number expected, got nil%)", decode.fields)
      raises("bad argument #1 to 'fields' %(handshake type name or number expected, got table%)", decode.fields, {}, "")
      raises("bad argument #3 to 'fields' %(table expected, got number%)", decode.fields, "client_hello", "", 5)
      assert.same({ nil, "malformed client_hello: body is not a string" }, { decode.fields("client_hello", 5) })
      assert.same({ nil, "malformed alert: expected 2 bytes, got number" }, { decode.alert(5) })
      assert.same({ nil, "malformed change_cipher_spec: expected the single byte 1" },
                  { decode.change_cipher_spec({}) })
      assert.same({ {}, 0 }, { decode.records(5) })
      assert.same({ {}, "" }, { decode.handshake_messages(false) })
      assert.is_nil(decode.alert_name("x"))
    end)
  end)

  describe("the self of every other Connection method", function()
    local cctx = H.client_ctx()
    local x = assert(x509.load(H.read("server.pem")))
    it("names the method and what it got", function()
      for _, name in ipairs { "set_context", "key_update", "request_certificate", "ocsp_response", "info" } do
        local m = cctx:new { server_name = "localhost" }[name]
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got string%)",
               named(name, m, '"nope"'))
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got no value%)",
               named(name, m, ""))
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got " .. ud("wolfssl.x509") .. "%)",
               named_arg(name, m, x))
        raises("bad argument #1 to '" .. name .. "' %(wolfssl.Connection expected, got " .. ud("wolfssl.Context") .. "%)",
               named_arg(name, m, cctx))
        raises("'" .. name .. "'.*wolfssl.Connection expected, got table", named(name, m, "", true))
      end
    end)

    it("set_context names its argument, and on_servername what it returned", function()
      local sctx = H.server_ctx()
      local s = sctx:new()
      raises("bad argument #1 to 'set_context' %(a server context expected %(got a client context%)%)",
             function() s:set_context(cctx) end)
      raises("bad argument #1 to 'set_context' %(wolfssl.Context expected, got number%)",
             function() s:set_context(5) end)
      local c, s2, ok, side, err = H.pair(H.client_ctx(), H.server_ctx { on_servername = function() return cctx end })
      assert.is_nil(ok)
      assert.equal("server", side)
      assert.equal("callback: on_servername returned a client context (a server context expected)", err)
      c:close(); s2:close()
    end)
  end)

  describe("NUL bytes in strings that become C strings", function()
    it("are refused with the option's or the argument's name", function()
      local pkey = require "wolfssl.pkey"
      local function bad_ctx(key, value, mode)
        raises("bad option '" .. key .. "': must not contain a NUL byte",
               wolfssl.context, { mode = mode or "client", [key] = value })
      end
      bad_ctx("cafile", H.cert("ca.pem") .. "\0.txt")
      bad_ctx("capath", "spec\0")
      bad_ctx("alpn", { "h2", "http/1.1\0" })
      bad_ctx("alpn", "h2\0")
      bad_ctx("ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256\0RC4")
      bad_ctx("ciphersuites", { "TLS13-AES128-GCM-SHA256\0" })
      bad_ctx("groups", "P-256\0")
      bad_ctx("min_version", "tls1.2\0")
      bad_ctx("password", "s3cret\0", "server")
      raises("bad option 'crl': must not contain a NUL byte", wolfssl.context,
             { mode = "client", cafile = H.cert("ca.pem"), crl = H.cert("crl.pem") .. "\0" })
      raises("bad option 'psk': identity must not contain a NUL byte", wolfssl.context,
             { mode = "client", psk = { identity = "me\0you", key = ("k"):rep(32) } })
      raises("bad option 'psk': hint must not contain a NUL byte", wolfssl.context,
             { mode = "server", psk = { hint = "h\0", keys = { me = ("k"):rep(32) } } })
      local cctx = H.client_ctx()
      raises("bad option 'server_name': must not contain a NUL byte", cctx.new, cctx,
             { server_name = "localhost\0.evil.example" })
      raises("bad option 'alpn': entry 1 is not a valid protocol name", cctx.new, cctx,
             { server_name = "localhost", alpn = { "h2\0" } })
      local ctx, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"),
                                         key = H.cert("server.key"), password = function() return "a\0b" end }
      assert.is_nil(ctx)
      assert.equal("password: the password function returned a string with a NUL byte", err)
      local k = assert(pkey.generate("ec"))
      raises("bad argument #2 to 'load' %(the password must not contain a NUL byte%)", pkey.load, k:pem("pw"), "pw\0x")
      raises("bad argument #1 to 'pem' %(the password must not contain a NUL byte%)", function() k:pem("pw\0x") end)
      -- a host name with a NUL is no name the certificate holds
      assert.is_false(assert(x509.load(H.read("server.pem"))):check_host("localhost\0.evil.example"))
    end)
  end)
end)
