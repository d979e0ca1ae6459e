-- The certificate builder: wolfssl.x509.issue{} and wolfssl.x509.csr{}.
local wolfssl = require "wolfssl"
local x509 = require "wolfssl.x509"
local pkey = require "wolfssl.pkey"
local H = require "helpers"

local function tmpfile(data)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb")); f:write(data); f:close()
  return path
end

-- openssl verify -CAfile ca [-untrusted inter] leaf -> true/false
local function openssl_verify(ca, leaf, inter)
  local files = { tmpfile(ca:pem()), tmpfile(leaf:pem()) }
  local cmd = ("openssl verify -CAfile %s %s %s >/dev/null 2>&1"):format(files[1],
    inter and ("-untrusted " .. tmpfile(inter:pem())) or "", files[2])
  local ok = os.execute(cmd)
  for _, f in ipairs(files) do os.remove(f) end
  return ok == true or ok == 0
end

describe("x509.issue", function()
  if not wolfssl.features.certgen then
    it("errors clearly without certificate generation", function()
      assert.has_error(function() x509.issue { subject = "CN=x", key = pkey.generate("ec") } end)
    end)
    pending("x509.issue: this wolfSSL build has no certificate generation (features.certgen)")
    return
  end

  local cakey, ca, ikey, inter
  setup(function()
    cakey = assert(pkey.generate("ec"))
    ca = assert(x509.issue { subject = "O=lua-wolfssl tests, CN=Built Root CA", key = cakey, ca = true,
      serial = 0x2001, not_before = "2024-01-01T00:00:00Z", not_after = "2099-12-31T23:59:59Z" })
    ikey = assert(pkey.generate("ec", { curve = "P-384" }))
    inter = assert(x509.issue { subject = { O = "lua-wolfssl tests", CN = "Built Intermediate" }, key = ikey:public(),
      issuer = ca, issuer_key = cakey, ca = true, path_len = 0, serial = "2002" })
  end)

  it("makes a self-signed CA with the given fields", function()
    assert.equal("O=lua-wolfssl tests, CN=Built Root CA", select(2, ca:subject()))
    assert.equal(select(2, ca:subject()), select(2, ca:issuer()))
    assert.equal("2001", ca:serial())
    assert.equal("2024-01-01T00:00:00Z", select(2, ca:not_before()))
    assert.equal("2099-12-31T23:59:59Z", select(2, ca:not_after()))
    assert.is_true(ca:is_ca())
    local e = ca:extensions()
    assert.same({ ca = true }, e.basic_constraints)
    assert.same({ "keyCertSign", "cRLSign" }, e.key_usage)   -- a CA's default
    assert.equal(e.subject_key_id, e.authority_key_id)
    assert.is_true(ca:issued(ca))
  end)

  it("makes an intermediate signed by the root, with a path length", function()
    assert.equal("O=lua-wolfssl tests, CN=Built Root CA", select(2, inter:issuer()))
    assert.same({ ca = true, path_len = 0 }, inter:extensions().basic_constraints)
    assert.equal(ca:extensions().subject_key_id, inter:extensions().authority_key_id)
    assert.equal("P-384", inter:pubkey().curve)
    assert.is_true(ca:issued(inter))
    assert.is_true(openssl_verify(ca, inter))
  end)

  it("makes leaves with SANs, validity, key usage and EKU that openssl verifies", function()
    local k = assert(pkey.generate("rsa"))
    local leaf = assert(x509.issue { subject = "O=lua-wolfssl tests, CN=built.localhost", key = k,
      issuer = inter, issuer_key = ikey, altnames = { dns = { "built.localhost", "*.built.localhost" },
      ip = { "127.0.0.1", "::1" }, email = { "ops@example.com" }, uri = { "https://built.localhost/" } },
      key_usage = { "digitalSignature", "keyEncipherment" }, ext_key_usage = { "serverAuth", "clientAuth" },
      not_before = 1704067200, not_after = 4102444799 })
    assert.same({ dns = { "built.localhost", "*.built.localhost" }, ip = { "127.0.0.1", "::1" },
      email = { "ops@example.com" }, uri = { "https://built.localhost/" } }, leaf:altnames())
    local e = leaf:extensions()
    assert.same({ "digitalSignature", "keyEncipherment" }, e.key_usage)
    assert.same({ "serverAuth", "clientAuth" }, e.ext_key_usage)
    assert.same({ ca = false }, e.basic_constraints)
    assert.is_false(leaf:is_ca())
    assert.equal(4102444799, (leaf:not_after()))
    assert.equal(1704067200, (leaf:not_before()))
    assert.is_true(leaf:check_host("a.built.localhost"))
    assert.is_true(leaf:check_host("::1"))
    assert.is_true(inter:issued(leaf))
    assert.is_false(ca:issued(leaf))
    assert.is_true(openssl_verify(ca, leaf, inter))
  end)

  it("a random serial when none is given; dates after 2049 as GeneralizedTime", function()
    local k = assert(pkey.generate("ec"))
    local a = assert(x509.issue { subject = "CN=a", key = k, not_after = "2100-06-01" })
    local b = assert(x509.issue { subject = "CN=a", key = k, not_after = "2100-06-01" })
    assert.is_true(#a:serial() >= 2)
    assert.are_not.equal(a:serial(), b:serial())
    assert.equal("2100-06-01T00:00:00Z", select(2, a:not_after()))
  end)

  it("a CRL distribution point that openssl reads", function()
    local key = pkey.generate("ec")
    local x = assert(x509.issue { subject = "CN=crl.test", key = key, crl_url = "http://crl.example.test/ca.crl" })
    local path = tmpfile(x:pem())
    local p = io.popen("openssl x509 -noout -text -in " .. path .. " 2>&1")
    local text = p:read("*a")
    p:close()
    os.remove(path)
    assert.matches("X509v3 CRL Distribution Points:%s+Full Name:%s+URI:http://crl.example.test/ca.crl", text)
    for _, bad in ipairs { "ftp://x.test/c.crl", "http://", "http://a.test/\0x", 42 } do
      local ok, err = pcall(x509.issue, { subject = "CN=a", key = key, crl_url = bad })
      assert.is_false(ok)
      assert.matches("crl_url", err)
    end
  end)

  it("a certificate from the builder carries a real handshake", function()
    local k = assert(pkey.generate("ec"))
    local leaf = assert(x509.issue { subject = "CN=localhost", key = k, issuer = ca, issuer_key = cakey,
      altnames = { "localhost", "127.0.0.1" }, ext_key_usage = { "serverAuth" } })
    local sctx = assert(wolfssl.context { mode = "server", certificate = leaf, key = k })
    local cctx = assert(wolfssl.context { mode = "client", cadata = ca })
    local c, s, ok, side, err = H.pair(cctx, sctx)
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.is_true(c:peer_certificate() == leaf)
    c:close(); s:close()
    -- the intermediate-issued leaf needs the chain
    local k2 = assert(pkey.generate("ec"))
    local leaf2 = assert(x509.issue { subject = "CN=localhost", key = k2, issuer = inter, issuer_key = ikey,
      altnames = { "localhost" } })
    sctx = assert(wolfssl.context { mode = "server", certificate = { leaf2, inter }, key = k2 })
    c, s, ok, side, err = H.pair(cctx, sctx)
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.equal(2, #c:peer_chain())
  end)

  it("same names but another key: issued() and the handshake both say no", function()
    local other = assert(pkey.generate("ec"))
    local fake = assert(x509.issue { subject = "O=lua-wolfssl tests, CN=Built Root CA", key = other, ca = true })
    local k = assert(pkey.generate("ec"))
    local leaf = assert(x509.issue { subject = "CN=localhost", key = k, issuer = fake, issuer_key = other,
      altnames = { "localhost" } })
    assert.is_false(ca:issued(leaf))
    assert.is_true(fake:issued(leaf))
    local c, s, ok, side, err = H.pair(assert(wolfssl.context { mode = "client", cadata = ca }),
      assert(wolfssl.context { mode = "server", certificate = leaf, key = k }))
    assert.is_nil(ok)
    assert.equal("client", side)
    assert.matches("^certificate verify failed: ", err)
  end)

  it("Ed25519 keys: this wolfSSL build cannot load such certificates, and says so", function()
    local k = assert(pkey.generate("ed25519"))
    local x, err, der = x509.issue { subject = "CN=ed", key = k }
    if x then
      assert.equal("ed25519", x:pubkey().type)
    else
      assert.equal("the certificate was made, but this wolfSSL build cannot load certificates" ..
        " with an Ed25519 key", err)
      assert.equal(0x30, der:byte(1))
    end
  end)

  it("raises on bad options, naming them", function()
    local k = assert(pkey.generate("ec"))
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, colour = "red" } end,
      "bad argument #1 to 'issue' (unknown option 'colour')")
    assert.has_error(function() x509.issue { key = k } end, "bad option 'subject' to 'issue': required")
    assert.has_error(function() x509.issue { subject = "CN=x", key = "nope" } end,
      "bad option 'key' to 'issue': expected a wolfssl.pkey object")
    assert.has_error(function() x509.issue { subject = "CN=x", key = k:public() } end,
      "bad option 'key' to 'issue': a self-signed certificate needs a private key")
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, issuer = ca } end,
      "bad option 'issuer_key' to 'issue': required with issuer")
    assert.has_error(function() x509.issue { subject = "XX=x", key = k } end,
      "bad option 'subject' to 'issue': unknown attribute 'XX'")
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, altnames = { ip = { "1.2.3" } } } end,
      "bad option 'altnames' to 'issue': not an IP address: \"1.2.3\"")
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, key_usage = { "flying" } } end)
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, path_len = 1 } end,
      "bad option 'path_len' to 'issue': only for a CA (ca = true)")
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, not_before = "2030-01-01", not_after = "2029-01-01" } end,
      "bad option 'not_after' to 'issue': must be after not_before")
    assert.has_error(function() x509.issue { subject = "CN=x", key = k, serial = -5 } end,
      "bad option 'serial' to 'issue': expected a positive integer")
  end)
end)

describe("x509.csr", function()
  if not wolfssl.features.certgen then
    it("errors clearly without certificate generation", function()
      assert.has_error(function() x509.csr { subject = "CN=x", key = pkey.generate("ec") } end)
    end)
    pending("x509.csr: this wolfSSL build has no certificate generation (features.certgen)")
    return
  end

  it("makes a CSR that openssl verifies, and a CA issues from it", function()
    local k = assert(pkey.generate("ec"))
    local req = assert(x509.csr { subject = "O=lua-wolfssl tests, CN=csr.localhost", key = k,
      altnames = { "csr.localhost", "IP:10.1.2.3" } })
    assert.matches("^%-%-%-%-%-BEGIN CERTIFICATE REQUEST%-%-%-%-%-\n", req:pem())
    assert.equal(0x30, req:der():byte(1))
    local path = tmpfile(req:pem())
    local p = io.popen("openssl req -in " .. path .. " -noout -verify -subject 2>&1")
    local out = p:read("*a"); p:close(); os.remove(path)
    assert.matches("verify OK", out)
    assert.matches("CN = csr.localhost", out)

    local cakey = assert(pkey.generate("ec"))
    local ca = assert(x509.issue { subject = "CN=CSR CA", key = cakey, ca = true })
    -- the CSR as an object, as PEM and as DER
    for _, form in ipairs({ req, req:pem(), req:der() }) do
      local cert = assert(x509.issue { csr = form, issuer = ca, issuer_key = cakey, ext_key_usage = { "serverAuth" } })
      assert.equal("O=lua-wolfssl tests, CN=csr.localhost", select(2, cert:subject()))
      assert.same({ dns = { "csr.localhost" }, ip = { "10.1.2.3" } }, cert:altnames())
      assert.equal(k:public():pem(), cert:pubkey().pem)
      assert.is_true(ca:issued(cert))
    end
    -- the issuer may override the subject and names
    local cert = assert(x509.issue { csr = req, subject = "CN=renamed", altnames = { "renamed" }, issuer = ca, issuer_key = cakey })
    assert.equal("CN=renamed", select(2, cert:subject()))
    assert.same({ dns = { "renamed" } }, cert:altnames())
  end)

  it("load_csr rejects a CSR whose signature does not verify", function()
    local k = assert(pkey.generate("ec"))
    local der = assert(x509.csr { subject = "CN=tamper", key = k }):der()
    local i = der:find("tamper", 1, true)
    local bad = der:sub(1, i - 1) .. "tampex" .. der:sub(i + 6)
    local c, err = x509.load_csr(bad)
    assert.is_nil(c)
    assert.equal("csr: not a valid CSR (or its signature does not verify)", err)
    assert.is_nil((x509.load_csr("garbage")))
  end)

  it("raises on bad options", function()
    local k = assert(pkey.generate("ec"))
    assert.has_error(function() x509.csr { subject = "CN=x", key = k:public() } end,
      "bad option 'key' to 'csr': must be a private key (the CSR is signed with it)")
    assert.has_error(function() x509.csr { subject = "CN=x", key = k, ca = true } end,
      "bad argument #1 to 'csr' (unknown option 'ca')")
  end)
end)

-- wolfSSL 5.5.4's host matcher reads past the host name for wildcard
-- patterns it cannot place, and lets malformed ones match anything.
describe("malformed wildcard alt-names never match", function()
  local cakey, ca
  setup(function()
    cakey = assert(pkey.generate("ec"))
    ca = assert(x509.issue { subject = "CN=Wildcard Test CA", key = cakey, ca = true })
  end)
  local function leaf(names)
    local k = assert(pkey.generate("ec"))
    return assert(x509.issue { subject = "CN=nothing.invalid", key = k, issuer = ca, issuer_key = cakey,
      altnames = { dns = names } }), k
  end
  local BAD = {
    { "*", { "localhost", "a", "example" } },
    { "*.", { "localhost", "a", "a." } },
    { "a*b*.example", { "ab.example", "axbx.example", "ab" } },
    { "*.*.example", { "a.b.example", "a.b", "ab" } },
    { "**.example", { "a.example" } },
    { "*a", { "a", "ba" } },
  }

  it("x509:check_host", function()
    for _, case in ipairs(BAD) do
      local x = leaf { case[1] }
      for _, host in ipairs(case[2]) do
        assert.is_false(x:check_host(host), case[1] .. " matched " .. host)
      end
    end
    -- well-formed wildcards still match, and only one label
    local x = leaf { "*.example.com", "w*.test.example" }
    assert.is_true(x:check_host("a.example.com"))
    assert.is_true(x:check_host("A.EXAMPLE.COM"))
    assert.is_false(x:check_host("a.b.example.com"))
    assert.is_false(x:check_host("example.com"))
    assert.is_false(x:check_host("localhost"))
    assert.is_true(x:check_host("www.test.example"))
    assert.is_false(x:check_host("xww.test.example"))
    assert.is_false(leaf { "*" }:check_host("a.b"))
  end)

  it("a TLS 1.2 and a TLS 1.3 server's certificate fails the client's hostname check", function()
    for _, version in ipairs { "tls1.2", "tls1.3" } do
      for _, case in ipairs(BAD) do
        local cert, k = leaf { case[1] }
        local sctx = assert(wolfssl.context { mode = "server", certificate = cert, key = k })
        local cctx = assert(wolfssl.context { mode = "client", cadata = ca, max_version = version,
                                              min_version = version })
        for _, host in ipairs(case[2]) do
          local c, s, ok, _, err = H.pair(cctx, sctx, { server_name = host })
          assert.is_falsy(ok, version .. ": " .. case[1] .. " matched " .. host)
          assert.matches("hostname mismatch", tostring(err), 1, true)
          assert.same({ false, "hostname mismatch", 62 }, { c:verify_result() })
          c:close(); s:close()
        end
      end
      -- and a good wildcard still connects
      local cert, k = leaf { "*.example.com" }
      local sctx = assert(wolfssl.context { mode = "server", certificate = cert, key = k })
      local cctx = assert(wolfssl.context { mode = "client", cadata = ca, max_version = version })
      local c, s, ok, side, err = H.pair(cctx, sctx, { server_name = "www.example.com" })
      assert(ok, tostring(side) .. ": " .. tostring(err))
      c:close(); s:close()
    end
  end)
end)
