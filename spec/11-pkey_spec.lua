-- wolfssl.pkey: generating, loading and exporting keys.
local wolfssl = require "wolfssl"
local pkey = require "wolfssl.pkey"
local H = require "helpers"

local function openssl_reads(pem, pass)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb")); f:write(pem); f:close()
  local cmd = ("openssl pkey -in %s -noout %s >/dev/null 2>&1"):format(path, pass and ("-passin pass:" .. pass) or "")
  local ok = os.execute(cmd)
  os.remove(path)
  return ok == true or ok == 0
end

describe("pkey.generate", function()
  it("EC P-256 (default) and P-384", function()
    local k = assert(pkey.generate("ec"))
    assert.equal("ec", k:type())
    assert.equal(256, k:bits())
    assert.equal("P-256", k:curve())
    assert.is_true(k:is_private())
    local k2 = assert(pkey.generate("ec", { curve = "P-384" }))
    assert.equal(384, k2:bits())
    assert.equal("P-384", k2:curve())
    assert.is_false(k == k2)
  end)

  it("RSA 2048 (default) and 3072", function()
    local k = assert(pkey.generate("rsa"))
    assert.equal("rsa", k:type())
    assert.equal(2048, k:bits())
    assert.equal(3072, assert(pkey.generate("rsa", { bits = 3072 })):bits())
  end)

  it("Ed25519", function()
    local k = assert(pkey.generate("ed25519"))
    assert.equal("ed25519", k:type())
    assert.equal(256, k:bits())
    assert.is_nil(k:curve())
  end)

  it("raises on bad arguments, naming them", function()
    assert.has_error(function() pkey.generate("dsa") end,
      "bad argument #1 to 'generate' (expected \"ec\", \"rsa\" or \"ed25519\", got \"dsa\")")
    assert.has_error(function() pkey.generate("rsa", { bits = 1024 }) end,
      "bad argument #2 to 'generate' (bad option 'bits': expected a multiple of 8 from 2048 to 4096)")
    assert.has_error(function() pkey.generate("ec", { curve = "P-999" }) end,
      "bad argument #2 to 'generate' (bad option 'curve': expected \"P-256\", \"P-384\" or \"P-521\")")
    assert.has_error(function() pkey.generate("ec", { bits = 2048 }) end,
      "bad argument #2 to 'generate' (unknown option 'bits' for ec keys)")
    assert.has_error(function() pkey.generate("ec", "P-256") end,
      "bad argument #2 to 'generate' (table expected, got string)")
  end)
end)

describe("pkey export and load", function()
  local keys
  setup(function()
    keys = { assert(pkey.generate("ec")), assert(pkey.generate("ec", { curve = "P-384" })),
      assert(pkey.generate("rsa")), assert(pkey.generate("ed25519")) }
  end)

  it("pem() is PKCS#8 and round-trips; openssl reads it", function()
    for _, k in ipairs(keys) do
      local pem = k:pem()
      assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", pem)
      assert.is_true(assert(pkey.load(pem)) == k, k:type())
      assert.is_true(openssl_reads(pem), k:type())
    end
  end)

  it("der() round-trips", function()
    for _, k in ipairs(keys) do
      assert.is_true(assert(pkey.load(k:der())) == k, k:type())
    end
  end)

  it("pem(password) is encrypted PKCS#8 that openssl and we decrypt", function()
    for _, k in ipairs(keys) do
      local pem = k:pem("s3cret")
      assert.matches("^%-%-%-%-%-BEGIN ENCRYPTED PRIVATE KEY%-%-%-%-%-\n", pem)
      assert.is_true(openssl_reads(pem, "s3cret"), k:type())
      assert.is_true(assert(pkey.load(pem, "s3cret")) == k, k:type())
      local none, err = pkey.load(pem, "wrong")
      assert.is_nil(none)
      assert.equal("cannot decrypt the private key (wrong password?)", err)
      none, err = pkey.load(pem)
      assert.equal("the private key is encrypted and no password was given", err)
    end
  end)

  it("public() gives the public half, as SubjectPublicKeyInfo", function()
    for _, k in ipairs(keys) do
      local p = k:public()
      assert.is_false(p:is_private())
      assert.equal(k:type(), p:type())
      assert.equal(k:bits(), p:bits())
      assert.matches("^%-%-%-%-%-BEGIN PUBLIC KEY%-%-%-%-%-\n", p:pem())
      assert.is_true(assert(pkey.load(p:pem())) == p)
      assert.is_true(assert(pkey.load(p:der())) == p)
      assert.is_false(p == k)
      assert.has_error(function() p:pem("pw") end)
    end
  end)

  it("loads the openssl-made fixtures: PKCS#8, SEC1 DER, encrypted PKCS#8 and traditional", function()
    local k = assert(pkey.load(H.read("server.key")))
    assert.equal("ec", k:type())
    assert.is_true(assert(pkey.load(H.read("server.key.der"))) == k)
    assert.is_true(assert(pkey.load(H.read("server-enc.key"), "secret")) == k)
    assert.is_true(assert(pkey.load(H.read("server-enc-trad.key"), "secret")) == k)
    assert.equal(2048, assert(pkey.load(H.read("rsa-server.key"))):bits())
    assert.equal("ed25519", assert(pkey.load(H.read("ed25519-server.key"))):type())
  end)

  it("the public key of a certificate is the public half of its key", function()
    local k = assert(pkey.load(H.read("rsa-server.key")))
    assert.equal(k:public():pem(), wolfssl.x509.load(H.read("rsa-server.pem")):pubkey().pem)
  end)

  it("returns nil and a message for garbage", function()
    local k, err = pkey.load("not a key at all")
    assert.is_nil(k)
    assert.equal("not a valid key (RSA, EC or Ed25519 expected)", err)
    assert.has_error(function() pkey.load(nil) end, "bad argument #1 to 'load' (string expected, got nil)")
  end)

  it("a pkey object works as a context key, and a generated one too", function()
    local k = assert(pkey.load(H.read("server.key")))
    local c, s, ok, side, err = H.pair(H.client_ctx(), H.server_ctx { key = k })
    assert(ok, tostring(side) .. ": " .. tostring(err))
    c:close(); s:close()
    -- (wolfSSL 5.5.4's check_private_key only notices a key of another type)
    local bad = assert(pkey.generate("rsa"))
    local ctx, msg = wolfssl.context { mode = "server", certificate = H.cert("server.pem"), key = bad }
    assert.is_nil(ctx)
    assert.matches("^key: the private key does not match the certificate", msg)
  end)

  it("__tostring", function()
    assert.matches("^wolfssl%.pkey %(ec 256, private%)", tostring(keys[1]))
    assert.matches("^wolfssl%.pkey %(rsa 2048, public%)", tostring(keys[3]:public()))
  end)
end)

describe("hostile keys", function()
  local function tlv(tag, body)
    local n = #body
    local len = n < 128 and string.char(n) or n < 256 and string.char(0x81, n)
                or string.char(0x82, math.floor(n / 256), n % 256)
    return string.char(tag) .. len .. body
  end
  local function base64(s)
    local abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    local out = {}
    for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local v = a * 65536 + (b or 0) * 256 + (c or 0)
      for k = 3, 0, -1 do
        local d = math.floor(v / 64 ^ k) % 64 + 1
        out[#out + 1] = abc:sub(d, d)
      end
      if not c then out[#out] = "=" end
      if not b then out[#out - 1] = "=" end
    end
    return table.concat(out)
  end
  local p256 = tlv(0x06, "\x2a\x86\x48\xce\x3d\x03\x01\x07")

  -- SEC1 ECPrivateKey on P-256 with a 44-byte scalar and a valid public point:
  -- wolfSSL 5.5.4 decodes it, then writes the scalar past a 32-byte buffer on export
  local function long_scalar_key()
    local point = assert(pkey.generate("ec")):public():der():sub(-65)
    return tlv(0x30, tlv(0x02, "\1") .. tlv(0x04, ("\x41"):rep(44)) .. tlv(0xa0, p256)
               .. tlv(0xa1, tlv(0x03, "\0" .. point)))
  end
  local MSG = "not a valid key (the EC private scalar is longer than the curve)"

  it("an EC private scalar longer than the curve is refused at load (SEC1, PKCS#8, PEM)", function()
    local sec1 = long_scalar_key()
    local pkcs8 = tlv(0x30, tlv(0x02, "\0") .. tlv(0x30, tlv(0x06, "\x2a\x86\x48\xce\x3d\x02\x01") .. p256)
                            .. tlv(0x04, sec1))
    local pem = "-----BEGIN EC PRIVATE KEY-----\n" .. base64(sec1) .. "\n-----END EC PRIVATE KEY-----\n"
    for _, bytes in ipairs { sec1, pkcs8, pem } do
      assert.same({ nil, MSG }, { pkey.load(bytes) })
    end
    -- a good key still loads
    local good = assert(pkey.generate("ec"))
    assert(pkey.load(good:der()) == good)
  end)

  it("... and as a context key", function()
    local sec1 = long_scalar_key()
    local pem = "-----BEGIN EC PRIVATE KEY-----\n" .. base64(sec1) .. "\n-----END EC PRIVATE KEY-----\n"
    for _, key in ipairs { sec1, pem } do
      local ctx, err = wolfssl.context { mode = "server", certificate = H.cert("server.pem"), key = key }
      assert.is_nil(ctx)
      assert.matches(MSG, err, 1, true)
    end
  end)
end)
