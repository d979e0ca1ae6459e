-- wolfssl.x509: loading and inspecting certificates (fixtures made by openssl).
local wolfssl = require "wolfssl"
local x509 = require "wolfssl.x509"
local H = require "helpers"

local function load(name) return assert(x509.load(H.read(name))) end

-- what the openssl CLI says about a fixture (so the tests hold after the
-- fixtures are regenerated)
local function openssl_x509(name, args)
  local p = io.popen("openssl x509 -noout -in " .. H.cert(name) .. " " .. args .. " 2>/dev/null")
  local out = p:read("*a")
  p:close()
  return out
end
local function hexid(s) return (s:gsub("[^%x]", ""):lower()) end

describe("x509.load", function()
  it("loads PEM and DER, and both are the same certificate", function()
    local a, b = load("server.pem"), load("server.der")
    assert.is_true(a == b)
    assert.equal(H.read("server.der"), a:der())
    assert.is_true(a ~= load("ca.pem"))
  end)

  it("returns nil and a message for bytes that are not a certificate", function()
    local x, err = x509.load("hello, not a certificate")
    assert.is_nil(x)
    assert.equal("not a valid certificate", err)
  end)

  it("an Ed25519 certificate: loads, or says this wolfSSL build cannot", function()
    local x, err = x509.load(H.read("ed25519-server.pem"))
    if x then
      assert.equal("ed25519", x:pubkey().type)
    else -- wolfSSL 5.5.4 with OPENSSL_ALL: wolfSSL_d2i_PUBKEY knows no Ed25519
      assert.equal("this wolfSSL build cannot load certificates with an Ed25519 key", err)
    end
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() x509.load(42) end, "bad argument #1 to 'load' (string expected, got number)")
  end)

  it("load_chain returns every certificate of a PEM chain, in order", function()
    local chain = assert(x509.load_chain(H.read("server-chain.pem")))
    assert.equal(2, #chain)
    assert.equal("chain.localhost", chain[1]:subject()[2].value)
    assert.equal("O=lua-wolfssl tests, CN=Test Intermediate CA", chain[2]:subject().text)
    local deep = assert(x509.load_chain(H.read("deep-chain.pem")))
    assert.equal(5, #deep)
    local none, err = x509.load_chain("nothing here")
    assert.is_nil(none)
    assert.equal("no certificate found", err)
  end)
end)

describe("x509 inspection", function()
  local server, ca, inter, leaf
  setup(function()
    server, ca, inter = load("server.pem"), load("ca.pem"), load("inter.pem")
    leaf = load("chain-leaf.pem")
  end)

  it("subject and issuer are ordered {name, value, oid} lists with a one-line form", function()
    local s, line = server:subject()
    assert.equal("O=lua-wolfssl tests, CN=localhost", line)
    assert.equal(line, s.text)
    assert.equal(line, tostring(s))
    assert.same({ name = "O", value = "lua-wolfssl tests", oid = "2.5.4.10" }, { name = s[1].name, value = s[1].value, oid = s[1].oid })
    assert.same({ name = "CN", value = "localhost", oid = "2.5.4.3" }, { name = s[2].name, value = s[2].value, oid = s[2].oid })
    assert.equal("O=lua-wolfssl tests, CN=Test Root CA", select(2, server:issuer()))
  end)

  it("serial is upper-case hex", function()
    assert.equal("1003", server:serial())
  end)

  it("validity as epoch seconds and ISO-8601", function()
    local nb, nbiso = server:not_before()
    local na, naiso = server:not_after()
    assert.equal(1704067200, nb)
    assert.equal("2024-01-01T00:00:00Z", nbiso)
    assert.equal("2099-12-31T23:59:59Z", naiso)
    assert.equal(4102444799, na)
    assert.equal("2021-01-01T00:00:00Z", select(2, load("expired.pem"):not_after()))
  end)

  it("altnames in certificate order, IPv6 in RFC 5952 form", function()
    assert.same({ dns = { "localhost", "*.test.localhost" }, ip = { "127.0.0.1", "::1" } }, server:altnames())
    assert.same({}, ca:altnames())
  end)

  it("pubkey describes the key", function()
    local k = server:pubkey()
    assert.equal("ec", k.type)
    assert.equal(256, k.bits)
    assert.equal("P-256", k.curve)
    assert.matches("^%-%-%-%-%-BEGIN PUBLIC KEY%-%-%-%-%-", k.pem)
    local r = load("rsa-server.pem"):pubkey()
    assert.equal("rsa", r.type)
    assert.equal(2048, r.bits)
    assert.is_nil(r.curve)
    -- the same public key as the private key file's
    assert.equal(wolfssl.pkey.load(H.read("server.key")):public():pem(), k.pem)
  end)

  it("digest: sha256 by default, sha1/sha384/sha512, lower-case hex", function()
    assert.equal(hexid(openssl_x509("server.pem", "-fingerprint -sha256"):match("=(.-)\n")), server:digest())
    assert.equal(hexid(openssl_x509("server.pem", "-fingerprint -sha1"):match("=(.-)\n")), server:digest("sha1"))
    assert.equal(server:digest(), server:digest("sha256"))
    assert.equal(40, #server:digest("sha1"))
    assert.equal(96, #server:digest("sha384"))
    assert.equal(128, #server:digest("sha512"))
    assert.has_error(function() server:digest("md4") end)
  end)

  it("pem round-trips", function()
    local pem = server:pem()
    assert.matches("^%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-\n", pem)
    assert.is_true(assert(x509.load(pem)) == server)
  end)

  it("check_host: names, wildcards, IP addresses", function()
    assert.is_true(server:check_host("localhost"))
    assert.is_true(server:check_host("LOCALHOST"))
    assert.is_true(server:check_host("a.test.localhost"))
    assert.is_false(server:check_host("a.b.test.localhost"))
    assert.is_false(server:check_host("example.com"))
    assert.is_true(server:check_host("127.0.0.1"))
    assert.is_true(server:check_host("::1"))
    assert.is_false(server:check_host("127.0.0.2"))
  end)

  it("is_ca", function()
    assert.is_true(ca:is_ca())
    assert.is_true(inter:is_ca())
    assert.is_false(server:is_ca())
  end)

  it("extensions: basic constraints, key usage, EKU, SAN, key ids", function()
    local e = server:extensions()
    assert.same({ ca = false }, e.basic_constraints)
    assert.same({ "digitalSignature" }, e.key_usage)
    assert.same({ "serverAuth" }, e.ext_key_usage)
    assert.same(server:altnames(), e.subject_alt_name)
    local ids = openssl_x509("server.pem", "-ext subjectKeyIdentifier,authorityKeyIdentifier")
    assert.equal(hexid(ids:match("Subject Key Identifier:%s*\n%s*(%S+)")), e.subject_key_id)
    assert.equal(hexid(ids:match("Authority Key Identifier:%s*\n%s*(%S+)")), e.authority_key_id)
    assert.equal(40, #e.subject_key_id)
    local i = inter:extensions()
    assert.same({ ca = true, path_len = 0 }, i.basic_constraints)
    assert.same({ "keyCertSign", "cRLSign" }, i.key_usage)
    assert.is_nil(i.ext_key_usage)
    assert.is_nil(i.subject_alt_name)
    assert.equal(ca:extensions().subject_key_id, i.authority_key_id)
    assert.same({ "clientAuth" }, load("badusage.pem"):extensions().ext_key_usage)
    assert.same({ "digitalSignature", "keyEncipherment" }, load("rsa-server.pem"):extensions().key_usage)
  end)

  it("issued(other): self is the issuer of other (names and signature)", function()
    assert.is_true(ca:issued(server))
    assert.is_true(ca:issued(inter))
    assert.is_true(inter:issued(leaf))
    assert.is_false(ca:issued(leaf))       -- issued by the intermediate
    assert.is_false(server:issued(ca))     -- the other way round
    assert.is_true(ca:issued(ca))          -- a root issues itself
    assert.is_false(load("untrusted-ca.pem"):issued(server))
    assert.is_true(load("untrusted-ca.pem"):issued(load("untrusted.pem")))
  end)

  it("__tostring names the certificate", function()
    assert.matches("^wolfssl%.x509 %(CN=localhost%)", tostring(server))
  end)
end)
