-- Server handshake input: the bytes a client sends, fed to a memory-mode
-- server of the chosen configuration (first byte, see common.lua).
local C = require "drivers.common"

return function(bytes) C.drive("server", bytes) end
