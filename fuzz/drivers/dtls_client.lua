-- DTLS client handshake input: a config byte (common.lua C.DTLS_PAIRS) and the
-- datagrams a server sends after our ClientHello, each behind a 2-byte length
-- (top bit: then handle_timeout()), fed one by one to a memory-mode DTLS
-- client, traced.
local C = require "drivers.common"

return function(bytes) C.dtls_drive("client", bytes) end
