-- wolfssl.pkey.load (plain and with a password), then every export, and the
-- key used where a context checks it against its certificate.
local C = require "drivers.common"
local wolfssl = require "wolfssl"
local pkey = require "wolfssl.pkey"

-- a certificate per key type, for the context's key check
local CERT = { ec = "server.pem", rsa = "rsa-server.pem", ed25519 = "ed25519-server.pem" }

local function inspect(k)
  tostring(k)
  for _, m in ipairs({ "type", "bits", "curve", "is_private", "der", "pem" }) do C.try(k, m) end
  local pub = C.try(k, "public")
  if pub then C.try(pub, "der") C.try(pub, "pem") end
  local der = C.try(k, "der")
  if der then
    local again = pkey.load(der)
    if again then local _ = again == k end
  end
  if C.try(k, "is_private") then
    local cert = CERT[C.try(k, "type")]
    if cert then pcall(wolfssl.context, { mode = "server", certificate = C.cert(cert), key = k }) end
  end
end

return function(bytes)
  local k = pkey.load(bytes)
  if k then inspect(k) end
  k = pkey.load(bytes, "secret")
  if k then inspect(k) end
end
