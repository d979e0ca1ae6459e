-- Client handshake input: the bytes a server sends, fed to a memory-mode
-- client of the chosen configuration (first byte) after its ClientHello.
local C = require "drivers.common"

return function(bytes)
  local i, data = C.split(bytes)
  local conn = C.connection("client", i)
  C.step(conn) -- ClientHello, dropped
  conn:feed(data)
  local ok = C.step(conn)
  if not ok then
    conn:feed_eof()
    C.step(conn)
  end
  C.finish(conn, ok)
end
