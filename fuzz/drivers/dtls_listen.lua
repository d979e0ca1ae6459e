-- A DTLS server on one UDP socket (conn:listen, the stateless cookie
-- exchange): a config byte (common.lua C.DTLS_PAIRS) and datagrams, each
-- behind a 2-byte length whose top bit says which of two fake peers sent it.
-- A datagram from a peer that listen() accepted goes to that peer's
-- connection (feed, handshake); any other to the listening connection, which
-- is replaced by a new one when it accepts. Nothing to do where the build
-- lacks features.dtls_listen.
local C = require "drivers.common"
local wolfssl = require "wolfssl"

local PEERS = { [false] = "192.0.2.1:5684", [true] = "198.51.100.7:40000" }

return function(bytes)
  if not wolfssl.features.dtls_listen then return end
  local i, datagrams = C.dtls_split(bytes)
  if not i then return end
  local listener = C.connection("server", i, C.DTLS_PAIRS)
  local peers, done = {}, {}
  for _, d in ipairs(datagrams) do
    local peer = PEERS[d[2]]
    local conn = peers[peer]
    if conn then
      done[peer] = C.dtls_feed(conn, { d[1], false }) or done[peer]
    else
      local ok = C.never_raises("listen", listener.listen, listener, d[1], peer)
      C.drain_all(listener)
      if ok then -- that peer's now; a new one listens
        peers[peer], listener = listener, C.connection("server", i, C.DTLS_PAIRS)
        done[peer] = C.dtls_step(peers[peer])
      elseif ok == nil then -- nil, msg: this one failed, a new one listens
        listener:close()
        listener = C.connection("server", i, C.DTLS_PAIRS)
      end
    end
  end
  for peer, conn in pairs(peers) do C.finish(conn, done[peer]) end
  listener:close()
end
