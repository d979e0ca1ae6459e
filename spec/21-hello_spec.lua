-- wolfssl.hello.peek: ClientHello parsing before any connection exists, on
-- real hellos captured from openssl s_client and gnutls-cli
-- (spec/fixtures/hello/capture.sh re-creates them).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path

local hello = require "wolfssl.hello"
local H = require "helpers"

local function load(name) return H.fixture("hello/" .. name) end

local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end

local contains = H.contains

-- re-frame the handshake payload of a one-record hello into records cut at
-- the given payload offsets
local function reframe(buf, cuts)
  local payload, header = buf:sub(6), buf:sub(1, 3)
  local out, prev = {}, 0
  cuts[#cuts + 1] = #payload
  for _, c in ipairs(cuts) do
    local part = payload:sub(prev + 1, c)
    out[#out + 1] = header .. u16(#part) .. part
    prev = c
  end
  return table.concat(out)
end

local function set_byte(s, pos, v)
  return s:sub(1, pos - 1) .. string.char(v) .. s:sub(pos + 1)
end

local hellos = { "openssl-tls13.bin", "openssl-tls12.bin", "openssl-p256.bin",
                 "openssl-p256-x25519.bin", "gnutls.bin", "gnutls-tls12.bin" }

describe("wolfssl.hello.peek", function()

  it("reads an OpenSSL TLS 1.3 ClientHello", function()
    local buf = load("openssl-tls13.bin")
    local h = assert(hello.peek(buf))
    assert.equal("example.com", h.server_name)
    assert.same({ "h2", "http/1.1" }, h.alpn)
    assert.is_true(contains(h.versions, "TLSv1.3"))
    assert.is_true(contains(h.versions, "TLSv1.2"))
    assert.is_true(contains(h.ciphers, "TLS_AES_128_GCM_SHA256"))
    assert.is_true(contains(h.ciphers, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
    assert.is_true(contains(h.groups, "x25519"))
    assert.same({ "x25519" }, h.key_share_groups)
    assert.equal(64, #h.session_id)
    assert.matches("^%x+$", h.session_id)
    assert.equal(0x0303, h.legacy_version)
    assert.is_true(contains(h.signature_algorithms, "ecdsa_secp256r1_sha256"))
    assert.same({ "server_name", "ec_point_formats", "supported_groups", "session_ticket",
      "alpn", "encrypt_then_mac", "extended_master_secret", "signature_algorithms",
      "supported_versions", "psk_key_exchange_modes", "key_share" }, h.extensions)
    assert.equal(#buf, h.consumed)
    assert.is_table(h.fields)
  end)

  it("reads an OpenSSL TLS 1.2-only ClientHello", function()
    local h = assert(hello.peek(load("openssl-tls12.bin")))
    assert.equal("example.com", h.server_name)
    assert.same({ "http/1.1" }, h.alpn)
    assert.same({ "TLSv1.2" }, h.versions)
    assert.equal("", h.session_id)
    assert.is_false(contains(h.ciphers, "TLS_AES_128_GCM_SHA256"))
    assert.is_true(contains(h.ciphers, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"))
    assert.is_nil(h.key_share_groups)
  end)

  it("reads the groups offered with -groups", function()
    local h = assert(hello.peek(load("openssl-p256.bin")))
    assert.same({ "secp256r1" }, h.groups)
    assert.is_nil(h.alpn)
    h = assert(hello.peek(load("openssl-p256-x25519.bin")))
    assert.same({ "secp256r1", "x25519" }, h.groups)
    assert.same({ "secp256r1" }, h.key_share_groups)
  end)

  it("reads GnuTLS ClientHellos", function()
    local h = assert(hello.peek(load("gnutls.bin")))
    assert.equal("example.org", h.server_name)
    assert.same({ "h2" }, h.alpn)
    assert.same({ "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1" }, h.versions)
    assert.is_true(contains(h.ciphers, "TLS_AES_256_GCM_SHA384"))
    assert.is_true(contains(h.extensions, "record_size_limit"))
    h = assert(hello.peek(load("gnutls-tls12.bin")))
    assert.equal("example.org", h.server_name)
    assert.same({ "TLSv1.2" }, h.versions)
    assert.is_nil(h.alpn)
  end)

  it("answers need more for every truncation of every real hello", function()
    for _, name in ipairs(hellos) do
      local buf = load(name)
      for cut = 0, #buf - 1 do
        local h, err = hello.peek(buf:sub(1, cut))
        assert.is_nil(h)
        assert.equal("need more", err, name .. " cut at " .. cut)
      end
      assert.is_table(hello.peek(buf))
    end
  end)

  it("reads a hello split across two records at every offset", function()
    local buf = load("openssl-tls13.bin")
    local whole = assert(hello.peek(buf))
    local payload_len = #buf - 5
    for cut = 1, payload_len - 1 do
      local split = reframe(buf, { cut })
      assert.equal(#buf + 5, #split)
      local h, err = hello.peek(split)
      assert.is_table(h, err)
      assert.equal(#split, h.consumed)
      assert.same(whole.fields, h.fields)
      -- and every prefix of the split form needs more
      if cut % 37 == 0 then
        for p = 0, #split - 1 do
          assert.equal("need more", select(2, hello.peek(split:sub(1, p))))
        end
      end
    end
  end)

  it("reads a hello spread over many small records", function()
    local buf = load("gnutls.bin")
    local cuts = {}
    for c = 3, #buf - 6, 7 do cuts[#cuts + 1] = c end
    local many = reframe(buf, cuts)
    local h = assert(hello.peek(many))
    assert.equal("example.org", h.server_name)
    assert.equal(#many, h.consumed)
  end)

  it("ignores what follows the hello and reports how much it used", function()
    local buf = load("openssl-tls13.bin")
    local h = assert(hello.peek(buf .. "\23\3\3\0\5hello" .. "junk"))
    assert.equal(#buf, h.consumed)
    assert.equal("example.com", h.server_name)
  end)

  it("rejects what is not a ClientHello", function()
    local function no(bytes, pattern)
      local h, err = hello.peek(bytes)
      assert.is_nil(h)
      assert.is_string(err)
      assert.is_not.equal("need more", err)
      if pattern then assert.matches(pattern, err) end
    end
    local buf = load("openssl-tls13.bin")
    no("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "not a TLS handshake record")
    no("G", "not a TLS handshake record")
    no("\128\46\1\3\1", "not a TLS handshake record")           -- SSLv2 hello
    no("\23\3\3\0\5hello", "not a TLS handshake record")         -- application data
    no("\22\2", "not a TLS handshake record")                    -- bad version major
    no("\22\3\9", "not a TLS handshake record")
    no("\22\3\1\0\0", "bad record length 0")
    no("\22\3\1\80\0", "bad record length 20480")
    no(set_byte(buf, 6, 2), "not a ClientHello")                 -- server_hello type
    no(load("server-tls12.bin"), "not a ClientHello")
    no(load("server-tls13.bin"):sub(1, 7), "not a ClientHello")   -- early, from 2 bytes
    no("\22\3\1\0\4\1\0\0\0", "bad ClientHello length 0")
    no("\22\3\1\0\4\1\255\0\0", "too long")
    -- ClientHello length shorter than its contents: the body does not parse
    assert.is_true(buf:byte(9) > 0)
    no(set_byte(buf, 9, buf:byte(9) - 1), "^malformed client_hello: ")
    -- an alert record in the middle of a split hello
    local split = reframe(buf, { 100 })
    local first = 5 + 100
    no(split:sub(1, first) .. "\21\3\3\0\2\2\40" .. split:sub(first + 1),
       "interrupted by a alert record")
  end)

  -- the openssl TLS 1.3 hello with a padding extension: a body of `size` bytes
  -- (and a second copy of an extension when `dup` is given)
  local function grown(size, dup)
    local body = load("openssl-tls13.bin"):sub(10)
    local p = 35
    p = p + 1 + body:byte(p)                              -- session id
    p = p + 2 + body:byte(p) * 256 + body:byte(p + 1)     -- cipher suites
    p = p + 1 + body:byte(p)                              -- compression methods
    local exts = body:sub(p + 2)
    local extra = dup and exts:sub(1, 4 + exts:byte(3) * 256 + exts:byte(4)) or ""
    local pad = size - #body - #extra - 4
    extra = extra .. u16(21) .. u16(pad) .. ("\0"):rep(pad)
    body = body:sub(1, p - 1) .. u16(#exts + #extra) .. exts .. extra
    assert(#body == size)
    return "\1" .. string.char(math.floor(size / 65536)) .. u16(size % 65536) .. body
  end

  -- every read brings one more 1-byte record: retry with all the bytes
  local function peek_as_documented(size)
    local payload = grown(size)
    local records = {}
    for i = 1, #payload do records[i] = "\22\3\1\0\1" .. payload:sub(i, i) end
    local all = table.concat(records)
    local t0, h, err = os.clock()
    for i = 1, #records do
      h, err = hello.peek(all:sub(1, 6 * i))
      if i < #records then assert.equal("need more", err) end
    end
    local spent = os.clock() - t0
    assert(h, err)
    assert.equal("example.com", h.server_name)
    assert.equal(#all, h.consumed)
    return spent, #records
  end

  it("is linear when retried as documented: 4,000 one-byte records in well under a second", function()
    local small = peek_as_documented(1000)
    local spent, n = peek_as_documented(4000)
    -- (valgrind and ASan slow Lua and every byte copied by many times, the
    -- copies of this loop itself included: time is not measured there)
    if os.getenv("WOLFSSL_VALGRIND") ~= "1" and not (os.getenv("LD_PRELOAD") or ""):find("asan") then
      -- four times the records, about four times the time (quadratic: sixteen)
      assert(spent < 8 * small + 0.01, ("%.3f s for 1,000 records, %.3f s for 4,000"):format(small, spent))
      assert(spent < 0.5, ("%.2f s for %d records"):format(spent, n))
    end
    -- another hello with the same first records is still read from its own bytes
    local other = load("openssl-tls13.bin")
    assert.equal("example.com", assert(hello.peek(other)).server_name)
  end)

  it("refuses a hello longer than wolfSSL takes (18,462 bytes)", function()
    local biggest = grown(18462)
    local records = {}
    for i = 1, #biggest, 16384 do records[#records + 1] = "\22\3\1" .. u16(#biggest:sub(i, i + 16383)) .. biggest:sub(i, i + 16383) end
    assert.equal("example.com", assert(hello.peek(table.concat(records))).server_name)
    local h, err = hello.peek("\22\3\1\64\0" .. grown(18463):sub(1, 16384))
    assert.is_nil(h)
    assert.equal("bad ClientHello length 18463 (too long: wolfSSL takes at most 18462)", err)
    -- 131 KiB: refused from its header on
    h, err = hello.peek("\22\3\1\0\4\1\2\0\0")
    assert.is_nil(h)
    assert.equal("bad ClientHello length 131072 (too long: wolfSSL takes at most 18462)", err)
  end)

  it("refuses a hello that repeats an extension", function()
    local dup = grown(1000, true)
    local h, err = hello.peek("\22\3\1" .. u16(#dup) .. dup)
    assert.is_nil(h)
    assert.equal("malformed client_hello: duplicate extension server_name", err)
    local once = grown(1000)
    assert(hello.peek("\22\3\1" .. u16(#once) .. once))
  end)

  it("raises for a non-string argument", function()
    assert.has_error(function() hello.peek(nil) end,
                     "bad argument #1 to 'peek' (string expected, got nil)")
    assert.has_error(function() hello.peek(42) end)
  end)

  it("never raises on 2000 seeded random buffers", function()
    math.randomseed(21)
    local results = { table = 0, need = 0, err = 0 }
    for i = 1, 2000 do
      local n = math.random(0, 400)
      local t = {}
      for j = 1, n do t[j] = string.char(math.random(0, 255)) end
      local bytes = table.concat(t)
      -- half of them start like a handshake record so the parser goes deeper
      if i % 2 == 0 and n >= 9 then
        local len = n - 5
        bytes = "\22\3\1" .. u16(len) .. "\1\0" .. u16(len - 4) .. bytes:sub(10)
      end
      local ok, h, err = pcall(hello.peek, bytes)
      assert(ok, h)
      if h then
        results.table = results.table + 1
      elseif err == "need more" then
        results.need = results.need + 1
      else
        assert(type(err) == "string", "no message")
        results.err = results.err + 1
      end
    end
    assert.is_true(results.err > 0)
    assert.is_true(results.need > 0)
  end)

  it("never raises on any single-byte mutation of a real hello", function()
    local buf = load("openssl-tls13.bin")
    local seen = {}
    for pos = 1, #buf do
      local c = buf:byte(pos)
      for _, v in ipairs({ (c + 1) % 256, (c + 128) % 256, 0, 255 }) do
        local ok, h, err = pcall(hello.peek, set_byte(buf, pos, v))
        assert(ok, h)
        assert(h ~= nil or type(err) == "string")
        seen[h and "table" or (err == "need more" and "need" or "error")] = true
      end
    end
    assert.is_true(seen.table and seen.need and seen.error)
  end)
end)
