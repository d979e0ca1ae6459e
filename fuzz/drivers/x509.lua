-- wolfssl.x509.load / load_chain, then every inspection method.
local C = require "drivers.common"
local x509 = require "wolfssl.x509"

local CA = assert(x509.load(C.read("spec/fixtures/certs/ca.pem")))
local HOSTS = { "localhost", "a.test.localhost", "test.localhost", "127.0.0.1", "::1",
                "example.com", "*", "", ".", "a..b", "*.localhost" }

-- host names made from the certificate's own names: matching them walks the
-- matcher over every byte of the alt-name (and one past it, if it is wrong)
local function derived(alt)
  local out = {}
  for _, kind in ipairs({ "dns", "email", "uri", "ip" }) do
    for _, v in ipairs(alt and alt[kind] or {}) do
      if type(v) == "string" then
        out[#out + 1] = v
        out[#out + 1] = (v:gsub("%*", "a"))
        out[#out + 1] = v .. "."
        out[#out + 1] = "x" .. v
      end
    end
  end
  return out
end

local function inspect(x)
  tostring(x)
  local _ = x == CA
  for _, m in ipairs({ "subject", "issuer", "serial", "not_before", "not_after", "der", "pem",
                       "is_ca", "pubkey", "extensions" }) do
    C.try(x, m)
  end
  for _, alg in ipairs({ "sha256", "sha1", "sha384", "sha512" }) do C.try(x, "digest", alg) end
  local subject = C.try(x, "subject")
  if type(subject) == "table" then tostring(subject) end
  local key = C.try(x, "public_key")
  if key then C.try(key, "der") C.try(key, "pem") C.try(key, "type") C.try(key, "bits") end
  C.try(x, "issued", CA)
  C.try(CA, "issued", x)
  C.try(x, "issued", x)
  for _, h in ipairs(HOSTS) do C.try(x, "check_host", h) end
  for _, h in ipairs(derived(C.try(x, "altnames"))) do
    C.try(x, "check_host", h)
  end
  local der = C.try(x, "der")
  if der then
    local again = x509.load(der)
    if again then C.try(again, "subject") end
  end
end

return function(bytes)
  local x = x509.load(bytes)
  if x then inspect(x) end
  local list = x509.load_chain(bytes)
  for _, y in ipairs(list or {}) do inspect(y) end
end
