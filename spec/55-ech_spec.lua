-- Encrypted Client Hello (RFC 9849): server keys and their ECHConfigList,
-- clients given one, the outer ClientHello with only the public name, the
-- outcome on both sides, the trace, and a stale list answered with
-- retry_configs. Between our client and our server: no other ECH peer exists
-- on this machine (OpenSSL 3.0 and 3.5 have no ECH).
local wolfssl = require "wolfssl"
local hello = require "wolfssl.hello"
local trace = require "wolfssl.trace"
local H = require "helpers"

local ECH = wolfssl.features.ech
local UNSUPPORTED = "Encrypted Client Hello is not supported by this wolfSSL build %(features.ech is false%)"
local SECRET, PUBLIC = "secret.example", "public.example"

-- a certificate for the real name and the public name (a server that rejects
-- ECH answers the outer hello, whose name is the public one)
local cert, key
local function server_cert()
  if not cert then
    key = wolfssl.pkey.generate("ec")
    cert = wolfssl.x509.issue { subject = "CN=" .. SECRET, key = key,
      issuer = wolfssl.x509.load(H.read("ca.pem")), issuer_key = wolfssl.pkey.load(H.read("ca.key")),
      altnames = { SECRET, PUBLIC } }
  end
  return cert, key
end

local function ech_server(o)
  local c, k = server_cert()
  local t = { mode = "server", certificate = c, key = k, ech = { public_name = PUBLIC } }
  for n, v in pairs(o or {}) do t[n] = v end
  return assert(wolfssl.context(t))
end

local function client(o)
  local t = { mode = "client", cafile = H.cert("ca.pem") }
  for n, v in pairs(o or {}) do t[n] = v end
  return assert(wolfssl.context(t))
end

-- a test of ECH itself: pending where the build has none (the clear errors
-- of such a build are tested in their own block)
local function ech_it(name, fn)
  it(name, function()
    if not ECH then pending("features.ech is false (the clear error is tested above)") return end
    fn()
  end)
end

describe("ECH (features.ech)", function()
  it("is a boolean: true on the tuned build of 5.9.2 or later, false on Debian's 5.5.4", function()
    assert.is_boolean(ECH)
    -- (the binding's ECH needs 5.9.2's API: make test-matrix's 5.7.2 has HAVE_ECH without it)
    local a, b, c = wolfssl.WOLFSSL_VERSION:match("^(%d+)%.(%d+)%.(%d+)")
    local release = tonumber(a) * 10000 + tonumber(b) * 100 + tonumber(c)
    if os.getenv("WOLFSSL_TEST_BUILD") == "system" then assert.is_false(ECH) end
    if os.getenv("WOLFSSL_TEST_BUILD") == "tuned" and release >= 50902 then assert.is_true(ECH) end
  end)

  it("conn:ech() and conn:ech_retry_configs() on a closed connection raise, as every method", function()
    local c = client():new { server_name = "localhost" }
    assert.equal("none", c:ech()) -- nothing sent yet
    c:close()
    for _, name in ipairs({ "ech", "ech_retry_configs" }) do
      local ok, err = pcall(c[name], c)
      assert.is_false(ok)
      assert.matches("attempt to use a closed connection", err, 1, true)
    end
  end)

  describe("on a build without ECH", function()
    it("refuses every ECH option with an error naming features.ech", function()
      if ECH then pending("this build has ECH (the options are tested below)") return end
      local s = H.server_ctx()
      for _, o in ipairs({
        { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key"), ech = { public_name = PUBLIC } },
        { mode = "client", verify = "none", ech_configs = "AEH+DQ==" },
        { mode = "client", verify = "none", ech_grease = false },
      }) do
        local k = o.ech and "ech" or o.ech_configs and "ech_configs" or "ech_grease"
        local ok, err = pcall(wolfssl.context, o)
        assert.is_false(ok)
        assert.matches("bad option '" .. k .. "': " .. UNSUPPORTED, err)
      end
      local cctx = client()
      local ok, err = pcall(cctx.new, cctx, { server_name = "localhost", ech_configs = "AEH+DQ==" })
      assert.is_false(ok)
      assert.matches("bad option 'ech_configs': " .. UNSUPPORTED, err)
      -- the outcome methods still answer: no ECH happened
      local c, sc, hs_ok = H.pair(cctx, s)
      assert.is_true(hs_ok)
      assert.equal("none", c:ech())
      assert.equal("none", sc:ech())
      assert.equal("none", c:info().ech)
      assert.is_nil(c:ech_retry_configs())
      assert.is_nil(s:ech_configs())
      c:close(); sc:close()
    end)
  end)

  describe("options", function()
    ech_it("a server makes its keys and publishes the ECHConfigList as bytes and base64", function()
      local s = ech_server()
      local raw, b64 = s:ech_configs()
      assert.is_string(raw)
      assert.equal(#raw - 2, raw:byte(1) * 256 + raw:byte(2)) -- an ECHConfigList
      assert.equal(wolfssl.ech.base64(raw), b64)
      assert.matches("^[%w+/]+=*$", b64)
      local list = assert(wolfssl.ech.decode(b64))
      assert.equal(1, #list)
      assert.equal(0xfe0d, list[1].version)
      assert.equal(PUBLIC, list[1].public_name)
      assert.equal(wolfssl.ech.KEM.x25519, list[1].kem)
      assert.same({ { kdf = 1, aead = 1 } }, list[1].cipher_suites)
      -- each context its own keys
      assert.not_equal(raw, ech_server():ech_configs())
      -- a context without ech has no list
      assert.is_nil(H.server_ctx():ech_configs())
    end)

    ech_it("takes several configs (KEM, KDF, AEAD), in the order given", function()
      local s = ech_server({ ech = {
        { public_name = PUBLIC, kem = "P-256", aead = "AES-256-GCM" },
        { public_name = "other.example", kem = "X25519", kdf = "HKDF-SHA256" },
      } })
      local list = assert(wolfssl.ech.decode((s:ech_configs())))
      assert.equal(2, #list)
      assert.equal(PUBLIC, list[1].public_name)
      assert.equal(0x0010, list[1].kem)
      assert.same({ { kdf = 1, aead = 2 } }, list[1].cipher_suites)
      assert.equal("other.example", list[2].public_name)
    end)

    ech_it("rejects bad values with an error naming the key", function()
      local c, k = server_cert()
      local function err_of(o)
        local t = { certificate = c, key = k }
        for n, v in pairs(o) do t[n] = v end
        local ok, err = pcall(wolfssl.context, t)
        assert.is_false(ok)
        return err
      end
      assert.matches("bad option 'ech': expected a table", err_of { mode = "server", ech = "public.example" })
      assert.matches("bad option 'ech.public_name': expected a host name", err_of { mode = "server", ech = {} })
      assert.matches("bad option 'ech.kem': expected one of", err_of { mode = "server", ech = { public_name = PUBLIC, kem = "rsa" } })
      assert.matches("bad option 'ech.aead': expected one of", err_of { mode = "server", ech = { public_name = PUBLIC, aead = "rc4" } })
      assert.matches("bad option 'ech': unknown field 'publicname'", err_of { mode = "server", ech = { publicname = PUBLIC } })
      assert.matches("bad option 'ech': is for servers", err_of { mode = "client", verify = "none", ech = { public_name = PUBLIC } })
      assert.matches("bad option 'ech_configs': is for clients",
        err_of { mode = "server", ech_configs = (ech_server():ech_configs()) })
      assert.matches("bad option 'ech_configs': not an ECHConfigList",
        err_of { mode = "client", verify = "none", ech_configs = "not base64!" })
      assert.matches("bad option 'ech_configs': not an ECHConfigList",
        err_of { mode = "client", verify = "none", ech_configs = "\0\9short" })
      assert.matches("bad option 'ech_configs': no ECHConfig in the list that this wolfSSL build can use",
        err_of { mode = "client", verify = "none", ech_configs = "\0\4\0\1\0\0" }) -- an unknown version only
      assert.matches("bad option 'ech_configs': expected an ECHConfigList",
        err_of { mode = "client", verify = "none", ech_configs = 42 })
      assert.matches("bad option 'ech_grease': expected a boolean", err_of { mode = "client", verify = "none", ech_grease = "no" })
      -- per connection: checked the same way, and only for clients
      local cctx = client()
      local ok, err = pcall(cctx.new, cctx, { server_name = SECRET, ech_configs = "garbage!" })
      assert.is_false(ok)
      assert.matches("bad option 'ech_configs': not an ECHConfigList", err)
      local s = ech_server()
      ok, err = pcall(s.new, s, { ech_configs = (s:ech_configs()) })
      assert.is_false(ok)
      assert.matches("bad option 'ech_configs': is for clients", err)
    end)
  end)

  describe("handshake", function()
    ech_it("accepted: the outer ClientHello names only the public name; the server sees the inner name", function()
      local seen = {}
      local s = ech_server({ alpn = { "h2" }, on_servername = function(_, name) seen[#seen + 1] = name return true end })
      local _, b64 = s:ech_configs()
      local c = client({ ech_configs = b64, alpn = { "h2" } }):new { server_name = SECRET }
      local sc = s:new {}
      assert.same({ nil, "wantread" }, { c:handshake() })
      local first = c:drain()
      local h = assert(hello.peek(first))
      assert.equal(PUBLIC, h.server_name)
      assert.is_true(H.contains(h.extensions, "encrypted_client_hello"))
      assert.is_nil(first:find(SECRET, 1, true)) -- the real name is nowhere in the bytes
      sc:feed(first)
      local ok, side, err = H.handshake(c, sc)
      assert(ok, tostring(side) .. ": " .. tostring(err))
      assert.equal("accepted", c:ech())
      assert.equal("accepted", sc:ech())
      assert.equal("accepted", c:info().ech)
      assert.equal("accepted", sc:info().ech)
      assert.equal(SECRET, sc:server_name())
      assert.same({ SECRET }, seen) -- on_servername: the inner name, once
      assert.equal("h2", sc:alpn())
      assert.is_true((c:verify_result()))
      assert.equal("secret", H.transfer(c, sc, "secret"))
      c:close(); sc:close()
    end)

    ech_it("takes the list as bytes too, per context or per connection", function()
      local s = ech_server()
      local raw = s:ech_configs()
      for _, c in ipairs({ client({ ech_configs = raw }):new { server_name = SECRET },
                           client():new { server_name = SECRET, ech_configs = raw } }) do
        local sc = s:new {}
        assert(H.handshake(c, sc))
        assert.equal("accepted", c:ech())
        assert.equal(SECRET, sc:server_name())
        c:close(); sc:close()
      end
    end)

    ech_it("a client without a list sends GREASE ECH by default (as browsers do); ech_grease = false sends none", function()
      for _, grease in ipairs({ true, false }) do
        local c = client(grease and {} or { ech_grease = false }):new { server_name = "localhost" }
        local sc = H.server_ctx():new {}
        c:handshake()
        local first = c:drain()
        assert.equal(grease, H.contains(assert(hello.peek(first)).extensions, "encrypted_client_hello"))
        sc:feed(first)
        assert(H.handshake(c, sc))
        assert.equal(grease and "grease" or "none", c:ech())
        assert.equal("none", sc:ech())
        c:close(); sc:close()
      end
      -- ech_grease = false with a list: ECH is still used
      local s = ech_server()
      local c = client({ ech_grease = false, ech_configs = (s:ech_configs()) }):new { server_name = SECRET }
      local sc = s:new {}
      assert(H.handshake(c, sc))
      assert.equal("accepted", c:ech())
      c:close(); sc:close()
    end)

    ech_it("a stale list: the server's retry_configs end the handshake with a clear error and are exposed", function()
      local old = ech_server()
      local s = ech_server() -- new keys: the old list cannot be decrypted
      local c = client({ ech_configs = (old:ech_configs()) }):new { server_name = SECRET }
      local sc = s:new {}
      local ok, side, err, code = H.handshake(c, sc)
      assert.is_nil(ok)
      assert.equal("client", side)
      assert.equal("ECH rejected by the server (stale or wrong ech_configs): it sent retry configs " ..
                   "(conn:ech_retry_configs()), connect again with them", err)
      assert.equal(-519, code)
      assert.equal("ech", c:last_error().kind)
      assert.equal("rejected", c:ech())
      assert.equal("rejected", sc:ech())
      assert.equal(PUBLIC, sc:server_name()) -- the server answered the outer hello
      local retry = c:ech_retry_configs()
      assert.equal(s:ech_configs(), retry)
      c:close(); sc:close()
      -- connecting again with them works
      c = client():new { server_name = SECRET, ech_configs = retry }
      sc = s:new {}
      assert(H.handshake(c, sc))
      assert.equal("accepted", c:ech())
      assert.equal(SECRET, sc:server_name())
      c:close(); sc:close()
    end)

    ech_it("a rejecting server is checked for the public name, not the real one (RFC 9849 6.1.7)", function()
      local ca, cakey = wolfssl.x509.load(H.read("ca.pem")), wolfssl.pkey.load(H.read("ca.key"))
      local function server_for(name)
        local k = wolfssl.pkey.generate("ec")
        local x = wolfssl.x509.issue { subject = "CN=" .. name, key = k, issuer = ca, issuer_key = cakey, altnames = { name } }
        return assert(wolfssl.context { mode = "server", certificate = x, key = k, ech = { public_name = PUBLIC } })
      end
      local stale = (ech_server():ech_configs())
      -- a client-facing server whose certificate names only the public name:
      -- the retry configs are trusted
      local s = server_for(PUBLIC)
      local c = client({ ech_configs = stale }):new { server_name = SECRET }
      local ok, _, err = H.handshake(c, s:new {})
      assert.is_nil(ok)
      assert.matches("^ECH rejected by the server %(stale or wrong ech_configs%): it sent retry configs", err)
      assert.equal(s:ech_configs(), c:ech_retry_configs())
      c:close()
      -- a certificate for the real name only does not do: no retry configs
      c = client({ ech_configs = stale }):new { server_name = SECRET }
      ok, _, err = H.handshake(c, server_for(SECRET):new {})
      assert.is_nil(ok)
      assert.equal("hostname mismatch: certificate is for secret.example, not public.example " ..
                   "(the ECH public name: the server rejected ECH)", err)
      assert.is_nil(c:ech_retry_configs())
      c:close()
    end)

    ech_it("resumption: where wolfSSL cannot resume with ECH (5.9.2), the session is not offered and ECH still works", function()
      local s = ech_server()
      local cctx = client({ ech_configs = (s:ech_configs()) })
      local c, sc = cctx:new { server_name = SECRET }, s:new {}
      assert(H.handshake(c, sc))
      c:feed(sc:drain()); assert.same({ nil, "wantread" }, { c:read() }) -- the ticket
      local session = c:session()
      assert.is_true(session:has_ticket())
      c:close(); sc:close()
      c, sc = cctx:new { server_name = SECRET, session = session }, s:new {}
      local ok, side, err = H.handshake(c, sc)
      assert(ok, tostring(side) .. ": " .. tostring(err))
      assert.equal("accepted", c:ech())
      assert.equal("accepted", sc:ech())
      assert.equal(SECRET, sc:server_name())
      assert.equal(wolfssl.features.ech_resumption, c:session_reused())
      if not wolfssl.features.ech_resumption then
        local again = cctx:new { server_name = SECRET }
        assert.same({ nil, "session not offered: this wolfSSL cannot resume with ECH (features.ech_resumption is false)" },
                    { again:set_session(session) })
        again:close()
        -- and a PSK client cannot take ECH at all
        local psk = { identity = "client", key = ("k"):rep(32) }
        local ok2, perr = pcall(wolfssl.context, { mode = "client", verify = "none", psk = psk,
                                                   ech_configs = (s:ech_configs()) })
        assert.is_false(ok2)
        assert.matches("bad option 'ech_configs': cannot be combined with psk/on_psk on this wolfSSL", perr)
        local pctx = client({ psk = psk, check_hostname = false, verify = "none", cafile = nil })
        ok2, perr = pcall(pctx.new, pctx, { ech_configs = (s:ech_configs()) })
        assert.is_false(ok2)
        assert.matches("bad option 'ech_configs': cannot be combined with psk/on_psk", perr)
      end
      c:close(); sc:close()
    end)

    ech_it("a server without ECH: the client fails (ECH required) and has no retry configs", function()
      local c = client({ ech_configs = (ech_server():ech_configs()) }):new { server_name = SECRET }
      local cc, kk = server_cert()
      local sc = assert(wolfssl.context { mode = "server", certificate = cc, key = kk }):new {}
      local ok, side, err = H.handshake(c, sc)
      assert.is_nil(ok)
      assert.equal("client", side)
      assert.equal("ECH rejected by the server (stale or wrong ech_configs)", err)
      assert.equal("rejected", c:ech())
      assert.is_nil(c:ech_retry_configs())
      c:close(); sc:close()
    end)
  end)

  describe("trace", function()
    ech_it("shows the outer ClientHello with its encrypted_client_hello and the server's inner one", function()
      local clines, slines = {}, {}
      local c0, k0 = server_cert()
      local so = { mode = "server", certificate = c0, key = k0, ech = { public_name = PUBLIC } }
      trace.attach(so, slines)
      local s = assert(wolfssl.context(so))
      local co = { mode = "client", cafile = H.cert("ca.pem"), ech_configs = (s:ech_configs()) }
      trace.attach(co, clines)
      local c, sc = assert(wolfssl.context(co)):new { server_name = SECRET }, s:new {}
      assert(H.handshake(c, sc))
      local ctext, stext = table.concat(clines, "\n"), table.concat(slines, "\n")
      local outer = "ClientHello +versions [^\n]*SNI public%.example;[^\n]*encrypted_client_hello %(outer: config id %d+, %d+ bytes encrypted%)"
      assert.matches("C %-> S  " .. outer, ctext)
      assert.matches("S <%- C  " .. outer, stext)
      -- the inner hello, decrypted from a copy with the HPKE secret of wolfSSL's
      -- secret callback: on the client that encrypted it, on the server that accepted it
      local function inner(who) return "ClientHelloInner +" .. who .. "; versions TLSv1%.3; %d+ suites; SNI secret%.example;[^\n]*from the outer: [^\n]*key_share" end
      if wolfssl.features.secret_callback then
        assert.matches("C %-> S  " .. inner("encrypted in the ClientHello"), ctext)
        assert.matches("S <%- C  " .. inner("decrypted %(ECH accepted%)"), stext)
      else -- no HPKE secret: the server names what wolfSSL took from it
        assert.matches("S <%- C  ClientHelloInner +decrypted by wolfSSL %(ECH accepted%); SNI secret%.example", stext)
      end
      -- in order: the outer hello, the inner one, then the ServerHello
      assert.truthy(stext:find("S <%- C  ClientHello .-S <%- C  ClientHelloInner.-S %-> C  ServerHello"))
      c:close(); sc:close()
    end)

    ech_it("shows the retry_configs of a rejecting server and the client's ech_required alert", function()
      local lines = {}
      local co = { mode = "client", cafile = H.cert("ca.pem"), ech_configs = (ech_server():ech_configs()) }
      trace.attach(co, lines)
      local c, sc = assert(wolfssl.context(co)):new { server_name = SECRET }, ech_server():new {}
      assert.is_nil(H.handshake(c, sc))
      local text = table.concat(lines, "\n")
      assert.matches("C <%- S  EncryptedExtensions +no ALPN; ECH rejected: retry_configs %(1 ECHConfig%)", text)
      assert.matches("C %-> S  Alert +fatal ech_required", text)
      c:close(); sc:close()
    end)
  end)
end)
