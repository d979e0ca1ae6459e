--- Private and public keys: generate, load, export.
-- Keys are RSA (2048..4096 bits), EC (P-256, P-384, P-521) or Ed25519.
-- A private key exports as PKCS#8 (`:pem()`, encrypted with PBES2/AES-256-CBC
-- when a password is given; `:der()`), a public key as SubjectPublicKeyInfo.
-- @module wolfssl.pkey
local core = require "wolfssl.core"

local M = {}

local function argerror(fname, n, why)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, why), 3)
end

--- Generate a key.
-- @tparam string kind "ec", "rsa" or "ed25519"
-- @tparam[opt] table opts `{curve = "P-256"|"P-384"}` for ec (default P-256),
--   `{bits = 2048..4096}` for rsa (default 2048)
-- @return pkey
function M.generate(kind, opts)
  if kind ~= "ec" and kind ~= "rsa" and kind ~= "ed25519" then
    argerror("generate", 1, ('expected "ec", "rsa" or "ed25519", got %s'):format(
      type(kind) == "string" and ("%q"):format(kind) or type(kind)))
  end
  if opts ~= nil and type(opts) ~= "table" then argerror("generate", 2, "table expected, got " .. type(opts)) end
  if opts ~= nil then
    for k in pairs(opts) do
      if not ((kind == "ec" and k == "curve") or (kind == "rsa" and k == "bits")) then
        argerror("generate", 2, ("unknown option '%s' for %s keys"):format(tostring(k), kind))
      end
    end
    local b, c = opts.bits, opts.curve
    if b ~= nil and (type(b) ~= "number" or b % 8 ~= 0 or b < 2048 or b > 4096) then
      argerror("generate", 2, "bad option 'bits': expected a multiple of 8 from 2048 to 4096")
    end
    if c ~= nil and c ~= "P-256" and c ~= "P-384" and c ~= "P-521" then
      argerror("generate", 2, "bad option 'curve': expected \"P-256\", \"P-384\" or \"P-521\"")
    end
  end
  if kind == "ed25519" and not core.features.ed25519 then
    error("ed25519 keys are not supported by this wolfSSL build", 2)
  end
  return core.pkey_generate(kind, opts)
end

--- Load a private or public key from PEM or DER bytes.
-- @tparam string data PEM (PKCS#8, traditional, encrypted, or PUBLIC KEY) or DER
-- @tparam[opt] string password for an encrypted key
-- @return pkey, or nil and a message
function M.load(data, password)
  if type(data) ~= "string" then argerror("load", 1, "string expected, got " .. type(data)) end
  if password ~= nil and type(password) ~= "string" then
    argerror("load", 2, "string expected, got " .. type(password))
  end
  if password and password:find("%z") then argerror("load", 2, "the password must not contain a NUL byte") end
  return core.pkey_load(data, password)
end

--- Methods of a pkey (written in C).
-- @section methods

--- The key as PEM: PKCS#8 "PRIVATE KEY" (encrypted "ENCRYPTED PRIVATE KEY",
-- PBES2 with AES-256-CBC, when a password is given) or "PUBLIC KEY".
-- @function pkey:pem
-- @tparam[opt] string password

--- The key as DER: PKCS#8 PrivateKeyInfo or SubjectPublicKeyInfo.
-- @function pkey:der

--- The public half, as a new pkey.
-- @function pkey:public

--- "rsa", "ec" or "ed25519".
-- @function pkey:type

--- Size in bits (RSA modulus, EC field; 256 for Ed25519).
-- @function pkey:bits

--- "P-256", "P-384" or "P-521" for EC keys, else nil.
-- @function pkey:curve

--- true for a private key.
-- @function pkey:is_private

return M
