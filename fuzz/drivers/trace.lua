-- The record decoder and the trace renderer: records as the C core hands them
-- to the trace dispatcher, run through wolfssl.trace on a fresh connection
-- (decode.records / handshake_messages / fields, x509 of certificates, every
-- message rendered, then the summary).
--
-- Input: one flags byte (bit 0: the connection is a server; bit 1: the last
-- batch says the handshake is done, bit 2: that it failed), then records, each
-- preceded by a direction byte (even: sent, odd: received). A change of
-- direction closes a batch, as a method call of the connection would.
local C = require "drivers.common"
local decode = require "wolfssl.decode"
local trace = require "wolfssl.trace"

local function bit(n, b) return math.floor(n / 2 ^ b) % 2 == 1 end

-- the records of the input, with directions; the unframed tail is dropped
local function records_of(bytes)
  local out, pos = {}, 2
  while pos <= #bytes do
    local dir = bytes:byte(pos) % 2 == 0 and "sent" or "received"
    local l1, l2 = bytes:byte(pos + 4, pos + 5)
    if not l2 then break end
    local recs = decode.records(bytes:sub(pos + 1, pos + 5 + l1 * 256 + l2))
    if #recs ~= 1 then break end
    recs[1].direction = dir
    out[#out + 1] = recs[1]
    pos = pos + 6 + recs[1].length
  end
  return out
end

return function(bytes)
  local flags = bytes:byte(1) or 0
  local side = bit(flags, 0) and "server" or "client"
  local conn, rec = C.connection(side, 1)
  local recs = records_of(bytes)
  local batch = {}
  local function flush(last)
    local info = { is_server = side == "server", version = 0x0304,
                   done = last and bit(flags, 1) or false,
                   error = last and bit(flags, 2) and -308 or nil }
    C.never_raises("trace dispatch", trace._dispatch, conn, batch, info)
    batch = {}
  end
  for i, r in ipairs(recs) do
    if i > 1 and r.direction ~= recs[i - 1].direction then flush(false) end
    batch[#batch + 1] = r
  end
  flush(true)
  local msgs = rec:messages(conn)
  for _, m in ipairs(msgs) do C.never_raises("trace.render", trace.render, m, side) end
  pcall(trace.summary, conn, msgs, bit(flags, 2) and "failed" or nil, 0.001)
  C.never_raises("trace.round_trips", trace.round_trips, msgs, side)
  conn:close()
end
