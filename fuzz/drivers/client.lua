-- Client handshake input: the bytes a server sends, fed to a memory-mode
-- client of the chosen configuration (first byte) after its ClientHello.
local C = require "drivers.common"

return function(bytes) C.drive("client", bytes) end
