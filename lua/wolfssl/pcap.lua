--- A TLS byte stream written as a pcapng capture Wireshark and tshark read.
--
-- The bytes of one connection become TCP segments between two made-up
-- addresses (the client 192.0.2.1, an ephemeral port; the server 192.0.2.2,
-- port 443), with a TCP handshake in front and consistent sequence and
-- acknowledgement numbers, so the TCP layer reassembles the TLS records.
-- DTLS (`udp = true`): each `data` call is one UDP datagram, to or from the
-- server's port 4433.
-- Key log lines go into Decryption Secrets Blocks: Wireshark decrypts with
-- nothing to configure. Used by `wolfssl.trace.pcap`; the writer itself
-- knows nothing of TLS:
--
--     local w = pcap.new(file [, {time = fn}])  -- writes the headers, SYN/SYN-ACK/ACK
--     w:secrets(text)               -- NSS key log lines (a DSB), before the records they open
--     w:data(from_client, bytes)    -- bytes one side sent
--     w:close()                     -- FIN both ways; closes the file
--
-- Plain Lua (5.1 to 5.4): no bit operators, no string.pack.
-- @module wolfssl.pcap
local M = {}

local char, byte, floor = string.char, string.byte, math.floor

local CLIENT_IP, SERVER_IP = "\192\0\2\1", "\192\0\2\2"
local SERVER_PORT = 443
local DTLS_PORT = 4433
local MSS = 16384          -- bytes of payload per segment
local LINKTYPE_RAW = 101   -- packets start with the IP header
local SYN, FIN, PSH, ACK = 2, 1, 8, 16

local function le16(n) return char(n % 256, floor(n / 256) % 256) end
local function le32(n)
  return char(n % 256, floor(n / 256) % 256, floor(n / 65536) % 256, floor(n / 16777216) % 256)
end
local function be16(n) return char(floor(n / 256) % 256, n % 256) end
local function be32(n)
  return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end

local function pad4(s)
  local r = #s % 4
  return r == 0 and s or s .. ("\0"):rep(4 - r)
end

-- a pcapng block: type, length, body (padded), length again
local function block(btype, body)
  body = pad4(body)
  local len = 12 + #body
  return le32(btype) .. le32(len) .. body .. le32(len)
end

-- Internet checksum: the 16-bit ones' complement of the ones' complement sum
local function sum16(sum, s)
  local n = #s
  local i = 1
  while i + 7 <= n do -- eight bytes a step: fewer calls
    local a, b, c, d, e, f, g, h = byte(s, i, i + 7)
    sum = sum + (a + c + e + g) * 256 + b + d + f + h
    i = i + 8
  end
  while i + 1 <= n do
    local a, b = byte(s, i, i + 1)
    sum = sum + a * 256 + b
    i = i + 2
  end
  if i == n then sum = sum + byte(s, n) * 256 end
  return sum
end
local function fold(sum)
  while sum > 65535 do sum = sum % 65536 + floor(sum / 65536) end
  return 65535 - sum
end

local Writer = {}
Writer.__index = Writer

local function now()
  local ok, socket = pcall(require, "socket")
  if ok and type(socket) == "table" and socket.gettime then return socket.gettime() end
  return os.time()
end

--- Start a capture on an open file (binary mode).
-- @param file where to write (anything with :write, :flush and :close)
-- @param opts `time` = function returning seconds (default: the clock);
-- `udp` = true: datagrams (DTLS), no TCP
function M.new(file, opts)
  opts = opts or {}
  local self = setmetatable({
    f = file, time = opts.time or now, last = 0, packets = 0, udp = opts.udp,
    port = 49152 + floor(now() * 1000) % 16000,
    seq = { [true] = 1000, [false] = 5000 }, -- next sequence number, by from_client
  }, Writer)
  -- section header: byte-order magic, version 1.0, section length unknown
  file:write(block(0x0A0D0D0A, le32(0x1A2B3C4D) .. le16(1) .. le16(0) .. ("\255"):rep(8)))
  -- one interface: raw IP, no snap length (timestamps in microseconds)
  file:write(block(1, le16(LINKTYPE_RAW) .. le16(0) .. le32(0)))
  if self.udp then
    file:flush()
    return self
  end
  self:segment(true, SYN, "")
  self:segment(false, SYN + ACK, "")
  self:segment(true, ACK, "")
  file:flush()
  return self
end

-- the IP header of a packet from one side (protocol 6 TCP, 17 UDP)
function Writer:ip(src, dst, proto, length)
  local ip = char(0x45, 0) .. be16(20 + length) .. be16(self.packets % 65536) .. char(0x40, 0, 64, proto)
  return ip .. be16(fold(sum16(0, ip .. "\0\0" .. src .. dst))) .. src .. dst
end

-- one UDP datagram from one side, as one packet
function Writer:datagram(from_client, payload)
  local src, dst = CLIENT_IP, SERVER_IP
  local sport, dport = self.port, DTLS_PORT
  if not from_client then src, dst, sport, dport = dst, src, dport, sport end
  local udp = be16(sport) .. be16(dport) .. be16(8 + #payload)
  local pseudo = src .. dst .. char(0, 17) .. be16(8 + #payload)
  local csum = fold(sum16(sum16(sum16(0, pseudo), udp .. "\0\0"), payload))
  udp = udp .. be16(csum == 0 and 65535 or csum)
  self:packet(self:ip(src, dst, 17, #udp + #payload) .. udp .. payload)
end

-- one TCP segment from one side, with the flags given, as one packet
function Writer:segment(from_client, flags, payload)
  local src, dst = CLIENT_IP, SERVER_IP
  local sport, dport = self.port, SERVER_PORT
  if not from_client then src, dst, sport, dport = dst, src, dport, sport end
  local seq, ack = self.seq[from_client], self.seq[not from_client]
  local tcp = be16(sport) .. be16(dport) .. be32(seq) .. be32(flags % 4 >= 2 and flags < ACK and 0 or ack)
      .. char(0x50, flags) .. be16(65535)
  local pseudo = src .. dst .. char(0, 6) .. be16(20 + #payload)
  local csum = fold(sum16(sum16(sum16(0, pseudo), tcp .. "\0\0\0\0"), payload))
  tcp = tcp .. be16(csum) .. "\0\0"
  local ip = self:ip(src, dst, 6, #tcp + #payload)
  -- SYN and FIN take one sequence number, data its length
  local used = #payload + ((flags % 4 >= 2 or flags % 2 == 1) and 1 or 0)
  self.seq[from_client] = (seq + used) % 4294967296
  self:packet(ip .. tcp .. payload)
end

function Writer:packet(data)
  local t = self.time()
  if t < self.last then t = self.last end -- never backwards
  self.last = t
  local us = floor(t * 1e6)
  local hi, lo = floor(us / 4294967296), us % 4294967296
  self.packets = self.packets + 1
  self.f:write(block(6, le32(0) .. le32(hi) .. le32(lo) .. le32(#data) .. le32(#data) .. data))
end

--- Key log lines (NSS format, one per line) for the records that follow.
function Writer:secrets(text)
  if text == "" then return end
  self.f:write(block(0x0A, le32(0x544C534B) .. le32(#text) .. text)) -- "TLSK"
  self.f:flush()
end

--- Bytes one side sent: one or more segments (udp: one datagram).
function Writer:data(from_client, bytes)
  if self.udp then
    self:datagram(from_client, bytes)
    self.f:flush()
    return
  end
  for i = 1, #bytes, MSS do
    self:segment(from_client, PSH + ACK, bytes:sub(i, i + MSS - 1))
  end
  self.f:flush()
end

--- The end of the connection: FIN both ways, then the file is closed.
function Writer:close()
  if self.closed then return end
  self.closed = true
  if self.udp then return self.f:close() end
  self:segment(true, FIN + ACK, "")
  self:segment(false, FIN + ACK, "")
  self:segment(true, ACK, "")
  self.f:close()
end

return M
