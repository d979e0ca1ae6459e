-- Server handshake input: the bytes a client sends, fed to a memory-mode
-- server of the chosen configuration (first byte, see common.lua).
local C = require "drivers.common"

return function(bytes)
  local i, data = C.split(bytes)
  local conn = C.connection("server", i)
  conn:feed(data)
  local ok = C.step(conn)
  if not ok then
    conn:feed_eof()
    C.step(conn)
  end
  C.finish(conn, ok)
end
