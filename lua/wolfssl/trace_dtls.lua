--- DTLS records for the trace dispatcher (internal; wolfssl.trace calls it).
-- The C core cuts each datagram into records with their epoch and sequence
-- number (RFC 6347 4.1; DTLS 1.3's unified header, RFC 9147 4). Handshake
-- fragments (12-byte headers: message_seq, fragment offset and length) are
-- put together here and handed to the TLS dispatcher as whole messages
-- (a ClientHello without its cookie field, which DTLS adds), each message
-- tagged with the record's epoch and sequence number; a fragment seen
-- before is a retransmission and is shown as such. ACKs (DTLS 1.3) in clear
-- are decoded; encrypted records (the DTLS 1.2 Finished, DTLS 1.3 flights)
-- are listed with their epoch, not decrypted.
local decode = require "wolfssl.decode"

local M = {}

local HS, ALERT, APP, ACK = 22, 21, 23, 26

local function u16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end
local function u24(s, i) return s:byte(i) * 65536 + s:byte(i + 1) * 256 + s:byte(i + 2) end
local function u48(s, i) return u16(s, i) * 4294967296 + u16(s, i + 2) * 65536 + u16(s, i + 4) end

-- a DTLS ClientHello body as TLS writes it (no cookie), and the cookie
local function without_cookie(body)
  local sid = body:byte(35)
  local at = sid and 36 + sid
  local n = at and body:byte(at)
  if not n or #body < at + n then return body end
  return body:sub(1, at - 1) .. body:sub(at + 1 + n), body:sub(at + 1, at + n)
end

local function state(st)
  if not st.dtls then
    st.dtls = { seen = { sent = {}, received = {} }, frags = { sent = {}, received = {} } }
  end
  return st.dtls
end

-- a whole handshake message, to the TLS dispatcher
local function message(self, d, r, typ, mseq, body)
  local name = decode.handshake_type_name(typ)
  local cookie
  if name == "client_hello" then body, cookie = without_cookie(body) end
  if cookie == "" then cookie = nil end -- (DTLS 1.3: the cookie is an extension)
  local n = #body
  local m = { type = typ, type_name = name, length = n, body = body,
              data = string.char(typ, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) .. body }
  self.extra.message_seq = mseq
  self.extra.cookie_length = cookie and #cookie or nil
  self:handshake_message(d, m, r)
end

local function handshake(self, d, r, ds)
  local data, i = r.data or "", 1
  while i + 11 <= #data do
    local typ, len, mseq = data:byte(i), u24(data, i + 1), u16(data, i + 4)
    local off, flen = u24(data, i + 6), u24(data, i + 9)
    local frag = data:sub(i + 12, i + 11 + flen)
    i = i + 12 + flen
    local key = ("%d:%d:%d:%d"):format(typ, mseq, off, flen)
    if ds.seen[d][key] then -- sent again: a retransmission (of a fragment)
      self.extra.message_seq, self.extra.retransmission = mseq, true
      self:emit({ direction = d, content_type = "handshake", type = decode.handshake_type_name(typ),
                  retransmission = true, record_version = r.version,
                  fields = { fragment_offset = off, fragment_length = flen, length = len } })
      self.extra.retransmission = nil
    else
      ds.seen[d][key] = true
      if off == 0 and flen == len then
        message(self, d, r, typ, mseq, frag)
      else -- a fragment: the message once every byte is there
        local f = ds.frags[d][mseq] or { len = len, got = 0, parts = {} }
        ds.frags[d][mseq] = f
        if not f.parts[off] then f.parts[off], f.got = frag, f.got + #frag end
        if f.got >= f.len then
          local offs, parts = {}, {}
          for o in pairs(f.parts) do offs[#offs + 1] = o end
          table.sort(offs)
          for _, o in ipairs(offs) do parts[#parts + 1] = f.parts[o] end
          ds.frags[d][mseq] = nil
          message(self, d, r, typ, mseq, table.concat(parts):sub(1, len))
        end
      end
    end
  end
end

-- an ACK in clear (RFC 9147 7): the record numbers it acknowledges
local function ack(self, d, r)
  local data = r.data or ""
  local records, err = {}, nil
  local n = #data >= 2 and u16(data, 1) or -1
  if n < 0 or n % 16 ~= 0 or #data < 2 + n then err = "malformed ACK" end
  for i = 3, err and 0 or n, 16 do
    records[#records + 1] = { epoch = u48(data, i + 2), sequence = u48(data, i + 10) }
  end
  self:emit({ direction = d, content_type = "ack", type = "ack", data = data, error = err,
              fields = not err and { records = records } or nil, record_version = r.version })
end

--- One DTLS record: true when handled here, false for the TLS dispatcher
-- (ChangeCipherSpec, alerts), which tags it with self.extra too.
function M.record(self, r)
  local ds = state(self.st)
  local d = r.direction
  self.extra = { epoch = r.epoch, sequence = r.sequence }
  local ct = r.content_type
  if r.unified then self.extra.sequence = nil end -- (encrypted in the header: RFC 9147 4.2.3)
  if r.unified or (r.epoch > 0 and ct ~= ALERT) then
    if ct == APP and not r.unified then return true end -- DTLS 1.2 application data
    if r.unified and self.st.done_reported then return true end -- data, most likely
    self:emit({ direction = d, content_type = r.unified and "encrypted" or "handshake",
                type = ct == HS and not r.unified and "finished" or "encrypted_record",
                inferred = true, record_version = r.version,
                fields = { encrypted = true, length = r.length,
                           why = r.unified and "DTLS 1.3 record protection is not opened by the trace" or nil } })
    return true
  end
  if ct == HS then handshake(self, d, r, ds) return true end
  if ct == ACK then ack(self, d, r) return true end
  return false
end

return M
