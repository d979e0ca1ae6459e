--- Certificates: load, inspect, build.
-- @module wolfssl.x509
local core = require "wolfssl.core"

local M = {}

--- Load one certificate from PEM or DER bytes.
-- @return x509, or nil and a message
function M.load(data)
  if type(data) ~= "string" then
    error(("bad argument #1 to 'load' (string expected, got %s)"):format(type(data)), 2)
  end
  return core.x509_load(data)
end

--- Load every certificate of a PEM chain, in order.
-- @return array of x509, or nil and a message
function M.load_chain(pem)
  if type(pem) ~= "string" then
    error(("bad argument #1 to 'load_chain' (string expected, got %s)"):format(type(pem)), 2)
  end
  local list = {}
  for block in pem:gmatch("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-") do
    local x, err = core.x509_load(block)
    if not x then return nil, ("certificate %d: %s"):format(#list + 1, err) end
    list[#list + 1] = x
  end
  if #list == 0 then return nil, "no certificate found" end
  return list
end

return M
