-- DTLS server handshake input: a config byte (common.lua C.DTLS_PAIRS) and the
-- datagrams a client sends, each behind a 2-byte length (top bit: then
-- handle_timeout()), fed one by one to a memory-mode DTLS server, traced.
local C = require "drivers.common"

return function(bytes) C.dtls_drive("server", bytes) end
