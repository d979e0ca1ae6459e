--- Revocation: the `crl`, `ocsp_stapling` and `staple` context options and
-- `conn:ocsp_response()`: applied by the rows of wolfssl/options.lua, the
-- method put on connections by wolfssl/init.lua.
--
-- * `crl = path | PEM | DER | {...}`: CRL checking for every certificate of
--   the peer's chain (wolfSSL_CTX_EnableCRL with CHECKALL); a CRL must be
--   signed by a CA of the context (cafile/capath/cadata). A certificate whose
--   issuer has no CRL then fails ("unable to get certificate CRL").
-- * client `ocsp_stapling = "request" | "require"`: ask the server to staple
--   an OCSP response. wolfSSL checks it during the handshake: "revoked" fails
--   the handshake (and, in wolfSSL 5.5.4, so does "unknown" or a response that
--   does not verify), "require" also fails when the server staples nothing.
-- * server `staple = path | DER | function(conn) -> DER or nil`: the OCSP
--   response to staple. wolfSSL verifies it before stapling it, so the server
--   context must trust the CA that issued its certificate (cafile/cadata), and
--   it caches the response per certificate until the response's nextUpdate:
--   a function is called when wolfSSL has no valid cached response. Where
--   `features.ocsp_staple_tls13` is false (wolfSSL 5.5.4 leaks about 8 KiB per
--   TLS 1.3 ClientHello asking for a staple), a stapling server must set
--   `max_version = "tls1.2"`.
-- @module wolfssl.trust
local core = require "wolfssl.core"
local check = require "wolfssl.check"
local features = core.features

local M = {}

local function crl_items(v)
  if type(v) == "table" and not check.is_object(v) then
    if #v == 0 then check.bad("crl", "empty array", 5) end
    return v
  end
  return { v }
end

function M.apply_crl(ctx, v)
  if not features.crl then check.bad("crl", "CRLs are not supported by this wolfSSL build", 4) end
  for i, item in ipairs(crl_items(v)) do
    if type(item) ~= "string" then check.bad("crl", "expected a path, PEM or DER string (or an array of them)", 4, item) end
    local data, fmt = check.load_bytes("crl", item)
    if not data then return nil, fmt end
    local ok, err = core.ctx_crl(ctx, data, fmt)
    if not ok then
      local where = #crl_items(v) > 1 and ("crl[%d]"):format(i) or "crl"
      return nil, check.where(where, item, ("%s: %s"):format(where, err))
    end
  end
  return true
end

function M.apply_ocsp_stapling(ctx, v)
  if v ~= "request" and v ~= "require" then check.bad("ocsp_stapling", 'expected "request" or "require"', 4, v) end
  if not features.ocsp then check.bad("ocsp_stapling", "OCSP stapling is not supported by this wolfSSL build", 4) end
  local ok, err = core.ctx_ocsp_client(ctx, v == "require")
  if not ok then return nil, "ocsp_stapling: " .. err end
  return true
end

function M.apply_staple(ctx, v, o, st)
  if not features.ocsp_staple_server then
    check.bad("staple", "OCSP stapling (server side) is not supported by this wolfSSL build", 4)
  end
  if not (o.cafile or o.capath or o.cadata or o.system_ca) then
    return nil, "staple: the server must trust the CA that issued its certificate (set cafile" ..
      " or cadata): wolfSSL verifies an OCSP response before stapling it"
  end
  local staple
  if check.is_callable(v) then
    staple = v
  elseif type(v) == "string" then
    local data, fmt = check.load_bytes("staple", v)
    if not data then return nil, fmt end
    if fmt ~= "der" then return nil, check.where("staple", v, "staple: expected a DER OCSP response") end
    staple = function() return data end
  else
    check.bad("staple", "expected a path, a DER string or a function(conn) returning DER", 4, v)
  end
  if not features.ocsp_staple_tls13 and features.tls13 and o.max_version ~= "tls1.2"
     and o.max_version ~= "tls1.1" then
    check.bad("staple", "this wolfSSL build leaks memory (8 KiB) on every TLS 1.3 ClientHello" ..
      ' that asks for a staple: set max_version = "tls1.2" to staple (features.ocsp_staple_tls13)', 4)
  end
  st.uv.staple = staple -- (installs it: csrc/context.c's registry)
  return true
end

--- What the stapled OCSP response said, on a client that asked for one:
-- `{status = "good", produced_at = ISO-8601}` after a handshake that checked
-- a good response; `{status = "revoked"}` / `{status = "unknown"}` after a
-- handshake that failed on one; nil when no response was checked. wolfSSL
-- 5.5.4 does not give a client the response's bytes, so there is no `der`
-- (`wolfssl.features.ocsp_response_der` is false).
function M.ocsp_response(self)
  check.check_conn("ocsp_response", self)
  local status, produced = self:_ocsp_status()
  if not status then return nil end
  return { status = status, produced_at = produced }
end

return M
