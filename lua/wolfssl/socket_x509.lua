--- Certificates as LuaSec's `ssl.x509` objects, for `wolfssl.socket`.
-- `getpeercertificate`, `getpeerchain` and `loadcertificate` of `wolfssl.socket`
-- return these, so code written for LuaSec reads the same values:
--
-- * `subject()`, `issuer()`: arrays of `{oid=, name=, value=}` with OpenSSL's
--   long names (`commonName`, `organizationName`, ...);
-- * `notbefore()`, `notafter()`: `"Jan  1 00:00:00 2024 GMT"`; `validat(t)`:
--   whether the certificate is valid at epoch time `t`;
-- * `getsignaturename()`: OpenSSL's short name (`"ecdsa-with-SHA256"`, `"RSA-SHA256"`);
-- * `pubkey()`: PEM, type (`"RSA"`, `"EC"`, `"Unknown"`), bits;
-- * `extensions()`: the subject alternative names only, as LuaSec reports them
--   (`{["2.5.29.17"] = {name=, dNSName=, iPAddress=, rfc822Name=, uniformResourceIdentifier=}}`);
-- * `digest([alg])`: hex, SHA-1 by default; `issued(cert, ...)`: `true` or `nil, reason`;
-- * `serial()`, `pem()`, `setencode()`.
--
-- Every other method of `wolfssl.x509` (`der`, `check_host`, `not_after`, ...)
-- answers too; `x509()` gives the `wolfssl.x509` object itself.
-- @module wolfssl.socket_x509
local x509 = require "wolfssl.x509"

local M = {}

-- OpenSSL's long names for the attribute types lua-wolfssl names briefly
local LONG = {
  CN = "commonName", O = "organizationName", OU = "organizationalUnitName", C = "countryName",
  L = "localityName", ST = "stateOrProvinceName", SN = "surname", GN = "givenName",
  street = "streetAddress", DC = "domainComponent", UID = "userId",
}

-- Signature algorithms: DER of the OID -> OpenSSL's short name (OBJ_nid2sn)
local SIGNATURES = {}
for dotted, name in pairs({
  ["1.2.840.10045.4.1"] = "ecdsa-with-SHA1", ["1.2.840.10045.4.3.1"] = "ecdsa-with-SHA224",
  ["1.2.840.10045.4.3.2"] = "ecdsa-with-SHA256", ["1.2.840.10045.4.3.3"] = "ecdsa-with-SHA384",
  ["1.2.840.10045.4.3.4"] = "ecdsa-with-SHA512", ["1.2.840.113549.1.1.4"] = "RSA-MD5",
  ["1.2.840.113549.1.1.5"] = "RSA-SHA1", ["1.2.840.113549.1.1.14"] = "RSA-SHA224",
  ["1.2.840.113549.1.1.11"] = "RSA-SHA256", ["1.2.840.113549.1.1.12"] = "RSA-SHA384",
  ["1.2.840.113549.1.1.13"] = "RSA-SHA512", ["1.2.840.113549.1.1.10"] = "RSASSA-PSS",
  ["1.3.101.112"] = "ED25519", ["1.3.101.113"] = "ED448",
  ["1.2.840.10040.4.3"] = "DSA-SHA1", ["2.16.840.1.101.3.4.3.2"] = "dsa_with_SHA256",
}) do SIGNATURES[x509._oid(dotted)] = name end

local KEY_TYPES = { rsa = "RSA", ec = "EC", dsa = "DSA", dh = "DH" }
local ALT_KINDS = { dns = "dNSName", ip = "iPAddress", email = "rfc822Name", uri = "uniformResourceIdentifier" }
local DIGESTS = { sha1 = true, sha256 = true, sha512 = true }

local Cert = {}

local function name_of(list)
  local out = {}
  for i, e in ipairs(list) do
    out[i] = { oid = e.oid, name = LONG[e.name] or e.name, value = e.value }
  end
  -- printing it shows the familiar one-line form (LuaSec's table has none)
  return setmetatable(out, { __tostring = function() return list.text or tostring(list) end })
end

function Cert:subject() return name_of(self._x:subject()) end
function Cert:issuer() return name_of(self._x:issuer()) end
function Cert:serial() return self._x:serial() end
function Cert:pem() return self._x:pem() end

-- ASN1_TIME_print's form, as LuaSec returns it
local function asn1_time(t)
  local d = os.date("!*t", t)
  local months = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }
  return ("%s %2d %02d:%02d:%02d %d GMT"):format(months[d.month], d.day, d.hour, d.min, d.sec, d.year)
end

function Cert:notbefore() return asn1_time(self._x:not_before()) end
function Cert:notafter() return asn1_time(self._x:not_after()) end

--- Whether the certificate is valid at `t` (epoch seconds): notBefore <= t <= notAfter.
function Cert:validat(t)
  if type(t) ~= "number" then
    error(("bad argument #1 to 'validat' (number expected, got %s)"):format(type(t)), 2)
  end
  local nb, na = self._x:not_before(), self._x:not_after()
  return nb <= t and t <= na
end

--- OpenSSL's short name of the signature algorithm, or nil when unknown.
function Cert:getsignaturename()
  -- Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, ... }, ... }
  local der, read = self._x:der(), x509._der_read
  local _, body = read(der, 1)
  local _, _, _, after_tbs = read(der, body)
  local _, alg = read(der, after_tbs)
  local _, _, _, after_oid = read(der, alg)
  return SIGNATURES[der:sub(alg, after_oid - 1)]
end

--- The public key as LuaSec gives it: PEM, type, bits.
function Cert:pubkey()
  local k = self._x:pubkey()
  return k.pem, KEY_TYPES[k.type] or "Unknown", k.bits
end

--- The subject alternative names, keyed as LuaSec keys them.
function Cert:extensions()
  local alt = self._x:altnames()
  local out = {}
  if next(alt) then
    local san = { name = "X509v3 Subject Alternative Name" }
    for kind, list in pairs(alt) do
      if ALT_KINDS[kind] then san[ALT_KINDS[kind]] = list end
    end
    out["2.5.29.17"] = san
  end
  return out
end

--- Fingerprint as lowercase hex: "sha1" (default), "sha256" or "sha512".
function Cert:digest(alg)
  if alg ~= nil and not DIGESTS[alg] then
    return nil, ("digest algorithm not supported (%s)"):format(tostring(alg))
  end
  return self._x:digest(alg or "sha1")
end

--- Whether `cert` verifies up to this certificate as the only trust anchor, through
-- the intermediates given (LuaSec: `ca:issued(cert [, intermediates...])`),
-- with OpenSSL's reasons when not.
-- @return true, or nil and why not
function Cert:issued(cert, ...)
  local function raw(c) return getmetatable(c) == M.Cert and c._x or c end
  local anchor, child = self._x, raw(cert)
  local pool = {}
  for i = 1, select("#", ...) do pool[i] = raw((select(i, ...))) end
  local path = { child }
  while not anchor:issued(child) do
    local found
    for i, c in ipairs(pool) do
      if c:issued(child) then found = table.remove(pool, i); break end
    end
    if not found then
      if child:issued(child) then
        return nil, #path == 1 and "self-signed certificate" or "self-signed certificate in certificate chain"
      end
      return nil, "unable to get local issuer certificate"
    end
    child = found
    path[#path + 1] = child
  end
  if not anchor:issued(anchor) then return nil, "unable to get issuer certificate" end
  -- validity, from the anchor down as OpenSSL checks it
  path[#path + 1] = anchor
  local now = os.time()
  for i = #path, 1, -1 do
    local nb, na = path[i]:not_before(), path[i]:not_after()
    if now < nb then return nil, "certificate is not yet valid" end
    if now > na then return nil, "certificate has expired" end
  end
  return true
end

--- LuaSec's string encoding switch ("utf8" or "ai5"): values are already UTF-8.
function Cert:setencode(enc)
  return enc == "utf8" or enc == "ai5"
end

--- The `wolfssl.x509` object underneath.
function Cert:x509() return self._x end

M.Cert = {
  __index = function(self, k)
    local m = Cert[k]
    if m ~= nil then return m end
    local x = rawget(self, "_x")
    local f = x[k]
    if type(f) ~= "function" then return f end
    return function(s, ...)
      if s == self then s = x end
      return f(s, ...)
    end
  end,
  __tostring = function(self) return "X509 certificate: " .. (tostring(self._x):match("0x%x+$") or "?") end,
  __eq = function(a, b) return a._x == b._x end,
}

--- Wrap a `wolfssl.x509` (nil stays nil).
function M.wrap(x)
  if x == nil then return nil end
  return setmetatable({ _x = x }, M.Cert)
end

return M
