--- Certificates: load, inspect, build.
--
-- Building (`issue`, `csr`) uses wolfCrypt's wc_MakeCert / wc_MakeCertReq /
-- wc_SignCert (`wolfssl.features.certgen`). Names and subject alternative
-- names are DER-encoded here, so their order and content are exactly what the
-- caller gave.
-- @module wolfssl.x509
local core = require "wolfssl.core"

local M = {}

local function argerror(fname, n, why, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, why), (level or 2) + 1)
end

local function bad(fname, key, why, level)
  error(("bad option '%s' to '%s': %s"):format(key, fname, why), (level or 2) + 1)
end

--- Load one certificate from PEM or DER bytes.
-- @return x509, or nil and a message
function M.load(data)
  if type(data) ~= "string" then argerror("load", 1, "string expected, got " .. type(data)) end
  return core.x509_load(data)
end

--- Load every certificate of a PEM chain, in order.
-- @return array of x509, or nil and a message
function M.load_chain(pem)
  if type(pem) ~= "string" then argerror("load_chain", 1, "string expected, got " .. type(pem)) end
  local list = {}
  for block in pem:gmatch("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-") do
    local x, err = core.x509_load(block)
    if not x then return nil, ("certificate %d: %s"):format(#list + 1, err) end
    list[#list + 1] = x
  end
  if #list == 0 then return nil, "no certificate found" end
  return list
end

-- ---------------------------------------------------------------------------
-- DER encoding and decoding (just what names, SANs and CSRs need)

local function der_len(n)
  if n < 0x80 then return string.char(n) end
  local bytes = {}
  while n > 0 do
    table.insert(bytes, 1, string.char(n % 256))
    n = math.floor(n / 256)
  end
  return string.char(0x80 + #bytes) .. table.concat(bytes)
end

local function tlv(tag, content) return string.char(tag) .. der_len(#content) .. content end

local function oid(dotted)
  local arcs = {}
  for a in dotted:gmatch("%d+") do arcs[#arcs + 1] = tonumber(a) end
  local out = { string.char(arcs[1] * 40 + arcs[2]) }
  for i = 3, #arcs do
    local v, chunk = arcs[i], {}
    chunk[1] = string.char(v % 128)
    v = math.floor(v / 128)
    while v > 0 do
      table.insert(chunk, 1, string.char(0x80 + v % 128))
      v = math.floor(v / 128)
    end
    out[#out + 1] = table.concat(chunk)
  end
  return tlv(0x06, table.concat(out))
end

-- Read one TLV at pos: tag, content start, content end (inclusive), next pos.
local function der_read(s, pos)
  local tag, l = s:byte(pos, pos + 1)
  if not l then return nil end
  local start = pos + 2
  if l >= 0x80 then
    local nb = l - 0x80
    if nb < 1 or nb > 3 then return nil end
    l = 0
    for i = 1, nb do l = l * 256 + (s:byte(pos + 1 + i) or 0) end
    start = pos + 2 + nb
  end
  if start + l - 1 > #s then return nil end
  return tag, start, start + l - 1, start + l
end

-- Attribute types of names: short name -> {OID, string tag}
local UTF8, PRINTABLE, IA5 = 0x0c, 0x13, 0x16
local NAME_TYPES = {
  C = { "2.5.4.6", PRINTABLE }, ST = { "2.5.4.8", UTF8 }, L = { "2.5.4.7", UTF8 },
  O = { "2.5.4.10", UTF8 }, OU = { "2.5.4.11", UTF8 }, CN = { "2.5.4.3", UTF8 },
  SN = { "2.5.4.4", UTF8 }, GN = { "2.5.4.42", UTF8 }, serialNumber = { "2.5.4.5", PRINTABLE },
  street = { "2.5.4.9", UTF8 }, postalCode = { "2.5.4.17", UTF8 }, title = { "2.5.4.12", UTF8 },
  UID = { "0.9.2342.19200300.100.1.1", UTF8 }, DC = { "0.9.2342.19200300.100.1.25", IA5 },
  emailAddress = { "1.2.840.113549.1.9.1", IA5 },
}
local NAME_ALIASES = {
  commonName = "CN", organizationName = "O", organizationalUnitName = "OU", countryName = "C",
  stateOrProvinceName = "ST", localityName = "L", email = "emailAddress", domainComponent = "DC",
}
local NAME_ORDER = { "DC", "C", "ST", "L", "street", "postalCode", "O", "OU", "title", "SN", "GN",
  "serialNumber", "CN", "UID", "emailAddress" }

-- A subject as an ordered list of {name, value}, from any accepted form.
local function name_list(fname, key, v)
  local list = {}
  if type(v) == "string" then
    local sep = v:sub(1, 1) == "/" and "/" or ","
    for part in v:gmatch("[^" .. sep .. "]+") do
      local k, val = part:match("^%s*([%w%.]+)%s*=%s*(.-)%s*$")
      if not k then bad(fname, key, ("cannot parse %q (expected \"O=Org, CN=name\")"):format(part), 4) end
      list[#list + 1] = { k, val }
    end
  elseif type(v) == "table" then
    if #v > 0 then
      for i, e in ipairs(v) do
        if type(e) ~= "table" then bad(fname, key, ("entry %d is not a {name, value} pair"):format(i), 4) end
        list[#list + 1] = { e.name or e[1], e.value or e[2] }
      end
    else
      local seen = {}
      for _, k in ipairs(NAME_ORDER) do
        for given, val in pairs(v) do
          if (NAME_ALIASES[given] or given) == k then list[#list + 1] = { given, val }; seen[given] = true end
        end
      end
      for given, val in pairs(v) do
        if not seen[given] then list[#list + 1] = { given, val } end
      end
    end
  else
    bad(fname, key, "expected a string like \"O=Org, CN=name\" or a table", 4)
  end
  if #list == 0 then bad(fname, key, "empty name", 4) end
  return list
end

local function encode_name(fname, key, v)
  local rdns = {}
  for _, e in ipairs(name_list(fname, key, v)) do
    local k, val = e[1], e[2]
    if type(k) ~= "string" then bad(fname, key, "attribute names must be strings", 4) end
    local t = NAME_TYPES[NAME_ALIASES[k] or k]
    local o, tag = t and t[1], t and t[2]
    if not t then
      if k:match("^%d+%.%d+[%.%d]*$") then o, tag = k, UTF8
      else bad(fname, key, ("unknown attribute '%s'"):format(k), 4) end
    end
    if type(val) ~= "string" or val == "" then
      bad(fname, key, ("attribute '%s' needs a non-empty string value"):format(k), 4)
    end
    if #val > 64 then bad(fname, key, ("attribute '%s' is longer than 64 bytes"):format(k), 4) end
    rdns[#rdns + 1] = tlv(0x31, tlv(0x30, oid(o) .. tlv(tag, val)))
  end
  return tlv(0x30, table.concat(rdns))
end

local function ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local out = {}
  for _, x in ipairs({ a, b, c, d }) do
    x = tonumber(x)
    if x > 255 then return nil end
    out[#out + 1] = string.char(x)
  end
  return table.concat(out)
end

local function ipv6(s)
  if not s:find(":", 1, true) then return nil end
  local head, tail = s:match("^(.-)::(.*)$")
  local function groups(part)
    local g = {}
    if part == "" then return g end
    for h in (part .. ":"):gmatch("([^:]*):") do
      if not h:match("^%x%x?%x?%x?$") then return nil end
      g[#g + 1] = tonumber(h, 16)
    end
    return g
  end
  local all
  if head then
    local h, t = groups(head), groups(tail)
    if not h or not t or #h + #t > 7 then return nil end
    all = h
    for _ = 1, 8 - #h - #t do all[#all + 1] = 0 end
    for _, x in ipairs(t) do all[#all + 1] = x end
  else
    all = groups(s)
    if not all or #all ~= 8 then return nil end
  end
  local out = {}
  for _, x in ipairs(all) do out[#out + 1] = string.char(math.floor(x / 256), x % 256) end
  return table.concat(out)
end

-- altnames: {dns={..}, ip={..}, email={..}, uri={..}} or {"DNS:a", "IP:1.2.3.4", "b"}
local function encode_altnames(fname, v)
  if type(v) ~= "table" then bad(fname, "altnames", "expected a table", 4) end
  local items = {}
  for i, s in ipairs(v) do
    if type(s) ~= "string" then bad(fname, "altnames", ("entry %d is not a string"):format(i), 4) end
    local kind, val = s:match("^(%a+):(.+)$")
    kind = kind and kind:lower()
    if kind == "dns" or kind == "ip" or kind == "email" or kind == "uri" then
      items[#items + 1] = { kind, val }
    elseif ipv4(s) or ipv6(s) then
      items[#items + 1] = { "ip", s }
    else
      items[#items + 1] = { "dns", s }
    end
  end
  for _, kind in ipairs({ "dns", "ip", "email", "uri" }) do
    local list = v[kind]
    if type(list) == "string" then list = { list } end
    if list ~= nil then
      if type(list) ~= "table" then bad(fname, "altnames", kind .. " must be an array of strings", 4) end
      for _, s in ipairs(list) do items[#items + 1] = { kind, s } end
    end
  end
  for k in pairs(v) do
    if type(k) == "string" and k ~= "dns" and k ~= "ip" and k ~= "email" and k ~= "uri" then
      bad(fname, "altnames", ("unknown kind '%s' (expected dns, ip, email, uri)"):format(k), 4)
    end
  end
  if #items == 0 then return nil end
  local out = {}
  for _, it in ipairs(items) do
    local kind, s = it[1], it[2]
    if type(s) ~= "string" or s == "" then bad(fname, "altnames", kind .. " names must be non-empty strings", 4) end
    if kind == "dns" then out[#out + 1] = tlv(0x82, s)
    elseif kind == "email" then out[#out + 1] = tlv(0x81, s)
    elseif kind == "uri" then out[#out + 1] = tlv(0x86, s)
    else
      local bytes = ipv4(s) or ipv6(s)
      if not bytes then bad(fname, "altnames", ("not an IP address: %q"):format(s), 4) end
      out[#out + 1] = tlv(0x87, bytes)
    end
  end
  return tlv(0x30, table.concat(out))
end

-- Epoch seconds of a UTC calendar date (no dependence on the local zone).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function epoch(fname, key, v)
  if type(v) == "number" then return math.floor(v) end
  if type(v) == "string" then
    local y, mo, d = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
    if y then
      local h, mi, s = v:match("T(%d%d):(%d%d):(%d%d)")
      return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 +
        (tonumber(h) or 0) * 3600 + (tonumber(mi) or 0) * 60 + (tonumber(s) or 0)
    end
  end
  bad(fname, key, "expected epoch seconds or an ISO-8601 date (\"2024-01-01T00:00:00Z\")", 4)
end

local function serial_bytes(fname, v)
  local hex
  if type(v) == "number" then
    if v < 1 or v % 1 ~= 0 then bad(fname, "serial", "expected a positive integer", 4) end
    hex = ("%x"):format(v)
  elseif type(v) == "string" and v:match("^%x+$") then
    hex = v:gsub("^0+", "")
  else
    bad(fname, "serial", "expected a positive integer or a hex string", 4)
  end
  if hex == "" then bad(fname, "serial", "must not be zero", 4) end
  if #hex % 2 == 1 then hex = "0" .. hex end
  local bytes = hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
  if bytes:byte(1) >= 0x80 then bytes = "\0" .. bytes end
  if #bytes > 20 then bad(fname, "serial", "longer than 20 bytes", 4) end
  return bytes
end

local KEY_USAGES = {
  digitalSignature = true, nonRepudiation = true, contentCommitment = true, keyEncipherment = true,
  dataEncipherment = true, keyAgreement = true, keyCertSign = true, cRLSign = true,
  encipherOnly = true, decipherOnly = true,
}
local EXT_KEY_USAGES = {
  serverAuth = "serverAuth", clientAuth = "clientAuth", codeSigning = "codeSigning",
  emailProtection = "emailProtection", timeStamping = "timeStamping", OCSPSigning = "OCSPSigning",
  any = "any", anyExtendedKeyUsage = "any",
}

local function usage_list(fname, key, v, valid)
  local list = {}
  if type(v) == "string" then
    for s in v:gmatch("[^,%s]+") do list[#list + 1] = s end
  elseif type(v) == "table" then
    list = v
  else
    bad(fname, key, "expected an array of names or a comma-separated string", 4)
  end
  local out = {}
  for _, s in ipairs(list) do
    local name = valid[s]
    if not name then
      local names = {}
      for k in pairs(valid) do names[#names + 1] = k end
      table.sort(names)
      bad(fname, key, ("unknown usage '%s' (expected %s)"):format(tostring(s), table.concat(names, ", ")), 4)
    end
    out[#out + 1] = name == true and s or name
  end
  if #out == 0 then return nil end
  return table.concat(out, ",")
end

local function is_pkey(v) return type(v) == "userdata" and type(v.is_private) == "function" end
local function is_x509(v) return type(v) == "userdata" and type(v.check_host) == "function" end

local function need_certgen(fname)
  if not core.features.certgen or not core.x509_make then
    error(fname .. ": certificate generation is not supported by this wolfSSL build" ..
      " (needs WOLFSSL_CERT_GEN and WOLFSSL_CERT_EXT)", 3)
  end
end

-- ---------------------------------------------------------------------------
-- base64 / PEM (5.1-compatible arithmetic)

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local c3, c4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1) ..
      (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local function unbase64(s)
  s = s:gsub("[^%w%+/=]", "")
  local out = {}
  for i = 1, #s, 4 do
    local n, pad = 0, 0
    for j = i, i + 3 do
      local ch = s:sub(j, j)
      local v = B64:find(ch, 1, true)
      if ch == "=" or ch == "" then pad = pad + 1; v = 1 end
      if not v then return nil end
      n = n * 64 + (v - 1)
    end
    local bytes = string.char(math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
    out[#out + 1] = bytes:sub(1, 3 - pad)
  end
  return table.concat(out)
end

local function to_pem(der, label)
  local b = base64(der)
  local lines = { "-----BEGIN " .. label .. "-----" }
  for i = 1, #b, 64 do lines[#lines + 1] = b:sub(i, i + 63) end
  lines[#lines + 1] = "-----END " .. label .. "-----"
  return table.concat(lines, "\n") .. "\n"
end

-- ---------------------------------------------------------------------------
-- CSR objects

local CSR = {}
CSR.__index = CSR
CSR.__name = "wolfssl.x509.csr"

--- The CSR in DER.
function CSR:der() return self._der end
--- The CSR in PEM ("CERTIFICATE REQUEST").
function CSR:pem() return to_pem(self._der, "CERTIFICATE REQUEST") end
--- The subject's public key (a pkey).
function CSR:public_key() return self._key end
function CSR:__tostring() return "wolfssl.x509.csr" end

-- Pull subject, SPKI and SAN out of a CSR's DER.
local function parse_csr(der)
  local tag, s, e = der_read(der, 1)                -- CertificationRequest
  if tag ~= 0x30 then return nil end
  local t2, s2, e2 = der_read(der, s)               -- CertificationRequestInfo
  if t2 ~= 0x30 then return nil end
  local t3, _, _, p = der_read(der, s2)             -- version
  if t3 ~= 0x02 then return nil end
  local t4, _, _, p2 = der_read(der, p)             -- subject
  if t4 ~= 0x30 then return nil end
  local subject = der:sub(p, p2 - 1)
  local t5, _, _, p3 = der_read(der, p2)            -- subjectPKInfo
  if t5 ~= 0x30 then return nil end
  local spki = der:sub(p2, p3 - 1)
  local san
  local t6, s6, e6 = der_read(der, p3)              -- [0] attributes
  if t6 == 0xa0 then
    local pos = s6
    while pos <= e6 do
      local ta, sa, ea, na = der_read(der, pos)     -- Attribute
      if not ta then break end
      local _, so, eo, no = der_read(der, sa)       -- type
      if der:sub(so, eo) == oid("1.2.840.113549.1.9.14"):sub(3) then
        local _, ss = der_read(der, no)             -- SET
        local _, se, ee = der_read(der, ss)         -- Extensions SEQUENCE
        local q = se
        while q and q <= ee do
          local tx, sx, _, nx = der_read(der, q)    -- Extension
          if not tx then break end
          local _, ox1, ox2, after = der_read(der, sx)
          if der:sub(ox1, ox2) == oid("2.5.29.17"):sub(3) then
            local tb, _, _, after2 = der_read(der, after)
            if tb == 0x01 then after = after2 end    -- critical flag
            local _, vs, ve = der_read(der, after)  -- OCTET STRING
            san = der:sub(vs, ve)
          end
          q = nx
        end
      end
      pos = na
    end
  end
  return { subject = subject, spki = spki, san = san }, e, e2
end

local function load_csr(fname, v)
  if getmetatable(v) == CSR then return v end
  if type(v) ~= "string" then bad(fname, "csr", "expected a CSR object, PEM or DER string", 4) end
  local der = v
  if v:find("-----BEGIN", 1, true) then
    local body = v:match("%-%-%-%-%-BEGIN [%w ]*REQUEST%-%-%-%-%-(.-)%-%-%-%-%-END")
    der = body and unbase64(body)
    if not der then return nil, "csr: not a PEM certificate request" end
  end
  local info = parse_csr(der)
  if not info then return nil, "csr: not a valid certificate request" end
  local ok, err = core.csr_check(der)
  if not ok then return nil, "csr: " .. err end
  local key, kerr = core.pkey_load(info.spki)
  if not key then return nil, "csr: unsupported public key: " .. tostring(kerr) end
  return setmetatable({ _der = der, _key = key, _info = info }, CSR)
end

--- Load a CSR from PEM or DER (its signature is checked).
-- @return csr object, or nil and a message
function M.load_csr(data)
  if type(data) ~= "string" then argerror("load_csr", 1, "string expected, got " .. type(data)) end
  return load_csr("load_csr", data)
end

local ISSUE_KEYS = {
  subject = true, key = true, issuer = true, issuer_key = true, serial = true, not_before = true,
  not_after = true, altnames = true, ca = true, path_len = true, key_usage = true,
  ext_key_usage = true, csr = true, crl_url = true,
}

--- Issue a certificate.
-- `subject` ("O=Org, CN=name", {CN=, O=, ...} or a list of {name, value});
-- `key` (the subject's pkey, public or private); `issuer` and `issuer_key`
-- (the CA's x509 and private pkey; without them the certificate is
-- self-signed with `key`); `serial` (integer or hex; random when absent);
-- `not_before`/`not_after` (epoch seconds or ISO-8601; default now .. +365
-- days); `altnames` ({dns=, ip=, email=, uri=} or {"DNS:a", "IP:1.2.3.4"});
-- `ca` (boolean) and `path_len`; `key_usage` and `ext_key_usage` (arrays of
-- names; a CA gets keyCertSign+cRLSign by default); `csr` (a CSR object or
-- PEM/DER: its subject, key and SAN are used unless given); `crl_url` (an
-- http(s) URL: the CRL distribution point, where clients fetch the CRL).
-- @return x509, or nil and a message
function M.issue(o)
  if type(o) ~= "table" then argerror("issue", 1, "table expected, got " .. type(o)) end
  for k in pairs(o) do
    if not ISSUE_KEYS[k] then argerror("issue", 1, ("unknown option '%s'"):format(tostring(k))) end
  end
  need_certgen("issue")
  local spec = { csr = false }
  local csr
  if o.csr ~= nil then
    local err
    csr, err = load_csr("issue", o.csr)
    if not csr then return nil, err end
  end
  if o.subject ~= nil then spec.subject_der = encode_name("issue", "subject", o.subject)
  elseif csr then spec.subject_der = csr._info.subject
  else bad("issue", "subject", "required") end
  local key = o.key
  if key == nil and csr then key = csr._key end
  if not is_pkey(key) then bad("issue", "key", "expected a wolfssl.pkey object") end
  spec.key = key
  if o.issuer ~= nil then
    if not is_x509(o.issuer) then bad("issue", "issuer", "expected a wolfssl.x509 certificate") end
    if o.issuer_key == nil then bad("issue", "issuer_key", "required with issuer") end
    spec.issuer = o.issuer
  end
  if o.issuer_key ~= nil then
    if not is_pkey(o.issuer_key) then bad("issue", "issuer_key", "expected a wolfssl.pkey object") end
    if not o.issuer_key:is_private() then bad("issue", "issuer_key", "must be a private key") end
    if o.issuer == nil then bad("issue", "issuer", "required with issuer_key") end
    spec.issuer_key = o.issuer_key
  elseif not key:is_private() then
    bad("issue", "key", "a self-signed certificate needs a private key")
  end
  if o.serial ~= nil then spec.serial = serial_bytes("issue", o.serial) end
  local now = os.time()
  spec.not_before = o.not_before ~= nil and epoch("issue", "not_before", o.not_before) or now - 60
  spec.not_after = o.not_after ~= nil and epoch("issue", "not_after", o.not_after) or now + 365 * 86400
  if spec.not_after <= spec.not_before then bad("issue", "not_after", "must be after not_before") end
  if o.altnames ~= nil then spec.altnames_der = encode_altnames("issue", o.altnames)
  elseif csr and csr._info.san then spec.altnames_der = csr._info.san end
  if o.crl_url ~= nil then
    if type(o.crl_url) ~= "string" or not o.crl_url:find("^https?://[%w%-%.:%[%]]+") or o.crl_url:find("[%z%s]") then
      bad("issue", "crl_url", "expected an http:// or https:// URL")
    end
    -- CRLDistributionPoints: one DistributionPoint whose fullName is the URI
    spec.crl_der = tlv(0x30, tlv(0x30, tlv(0xa0, tlv(0xa0, tlv(0x86, o.crl_url)))))
  end
  if o.ca ~= nil and type(o.ca) ~= "boolean" then bad("issue", "ca", "expected a boolean") end
  spec.ca = o.ca == true
  if o.path_len ~= nil then
    if not spec.ca then bad("issue", "path_len", "only for a CA (ca = true)") end
    if type(o.path_len) ~= "number" or o.path_len < 0 or o.path_len > 255 or o.path_len % 1 ~= 0 then
      bad("issue", "path_len", "expected an integer from 0 to 255")
    end
    spec.path_len = o.path_len
  end
  if o.key_usage ~= nil then spec.key_usage = usage_list("issue", "key_usage", o.key_usage, KEY_USAGES)
  elseif spec.ca then spec.key_usage = "keyCertSign,cRLSign" end
  if o.ext_key_usage ~= nil then
    spec.ext_key_usage = usage_list("issue", "ext_key_usage", o.ext_key_usage, EXT_KEY_USAGES)
  end
  local der, err = core.x509_make(spec)
  if not der then return nil, err end
  local x, lerr = core.x509_load(der)
  if not x then return nil, "the certificate was made, but " .. lerr, der end
  return x
end

--- Make a certificate signing request, signed with `key` (a private pkey).
-- @tparam table o `subject`, `key`, `altnames` (as for `issue`)
-- @return csr object (`:pem()`, `:der()`, `:public_key()`), or nil and a message
function M.csr(o)
  if type(o) ~= "table" then argerror("csr", 1, "table expected, got " .. type(o)) end
  for k in pairs(o) do
    if k ~= "subject" and k ~= "key" and k ~= "altnames" then
      argerror("csr", 1, ("unknown option '%s'"):format(tostring(k)))
    end
  end
  need_certgen("csr")
  if o.subject == nil then bad("csr", "subject", "required") end
  if not is_pkey(o.key) then bad("csr", "key", "expected a wolfssl.pkey object") end
  if not o.key:is_private() then bad("csr", "key", "must be a private key (the CSR is signed with it)") end
  local spec = { csr = true, key = o.key, subject_der = encode_name("csr", "subject", o.subject) }
  if o.altnames ~= nil then spec.altnames_der = encode_altnames("csr", o.altnames) end
  local der, err = core.x509_make(spec)
  if not der then return nil, err end
  return load_csr("csr", der)
end

M._base64, M._unbase64 = base64, unbase64
M._der_read, M._oid = der_read, oid -- for wolfssl.socket_x509

--- Methods of an x509 certificate (written in C).
-- @section methods

--- Subject as an ordered list of `{name=, value=, oid=}`, with `.text` (and
-- `tostring`) the one-line form "O=Org, CN=name"; the line is the 2nd result.
-- @function x509:subject

--- Issuer, as `subject`.
-- @function x509:issuer

--- Serial number in upper-case hex.
-- @function x509:serial

--- notBefore: epoch seconds and ISO-8601 ("2024-01-01T00:00:00Z").
-- @function x509:not_before

--- notAfter: epoch seconds and ISO-8601.
-- @function x509:not_after

--- Subject alternative names `{dns=, ip=, email=, uri=}` (arrays in
-- certificate order; IPv6 in RFC 5952 form).
-- @function x509:altnames

--- The public key: `{type=, bits=, curve=, pem=}`.
-- @function x509:pubkey

--- The public key as a (public) pkey object.
-- @function x509:public_key

--- Hex digest of the DER: "sha256" (default), "sha1", "sha384", "sha512".
-- @function x509:digest

--- The certificate as PEM text.
-- @function x509:pem

--- The certificate as DER bytes.
-- @function x509:der

--- Does the certificate match this host name (wildcards as RFC 6125) or IP
-- address (v4 or v6, any text form, against the iPAddress names)?
-- @function x509:check_host

--- Basic constraints say CA:TRUE.
-- @function x509:is_ca

--- Extensions: `{basic_constraints={ca=, path_len=}, key_usage={...},
-- ext_key_usage={...}, subject_alt_name={...}, subject_key_id=hex,
-- authority_key_id=hex}`; absent extensions are nil. Usage names are
-- OpenSSL's (digitalSignature, keyCertSign, serverAuth, clientAuth, ...).
-- @function x509:extensions

--- `a:issued(b)` is true when a is the issuer of b: b's issuer name is a's
-- subject and the key identifiers agree (OpenSSL's X509_check_issued(a, b)),
-- and, unlike OpenSSL's check, b's signature verifies with a's key. A root
-- issued itself.
-- @function x509:issued

return M
