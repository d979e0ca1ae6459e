--- DTLS records for the trace dispatcher (internal; wolfssl.trace calls it).
-- The C core cuts each datagram into records with their epoch and sequence
-- number (RFC 6347 4.1; DTLS 1.3's unified header, RFC 9147 4). Handshake
-- fragments (12-byte headers: message_seq, fragment offset and length) are
-- put together here and handed to the TLS dispatcher as whole messages
-- (a ClientHello without its cookie field, which DTLS adds), each message
-- tagged with the record's epoch and sequence number; a fragment seen
-- before is a retransmission and is shown as such. ACKs (DTLS 1.3) are
-- decoded. DTLS 1.3 protected records (the unified header) are opened with
-- the traffic secrets wolfSSL hands the secret callback (RFC 9147 4.2.3:
-- record number encryption, then the AEAD as in TLS 1.3 with the header as
-- additional data); the DTLS 1.2 Finished is listed with its epoch.
local core = require "wolfssl.core"
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
    st.dtls = { seen = { sent = {}, received = {} }, frags = { sent = {}, received = {} },
                epoch = { client = 1, server = 1 }, next = {}, -- (DTLS 1.3: sender's last epoch, next seq)
                records = { sent = {}, received = {} } } -- epoch:seq seen: a record twice is a duplicate
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
    if ds.seen[d][key] then -- sent again: a retransmission (of a fragment), or the record twice
      self.extra.message_seq, self.extra.retransmission = mseq, not self.extra.duplicate or nil
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

-- an ACK (RFC 9147 7): the record numbers it acknowledges
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

-- a ~ b for bytes (Lua 5.1 and LuaJIT have no ~)
local function xor8(a, b)
  local r, bit = 0, 1
  for _ = 1, 8 do
    if a % 2 ~= b % 2 then r = r + bit end
    a, b, bit = math.floor(a / 2), math.floor(b / 2), bit * 2
  end
  return r
end

-- DTLS 1.3: the full epoch from its low 2 bits (the header's EE), the one
-- of four in a row from the sender's last one back
local function full_epoch(last, bits)
  local e = last - 1
  while e % 4 ~= bits do e = e + 1 end
  return e
end

-- the traffic secret of an epoch: 1 early data, 2 handshake, 3 and on the
-- application's (generation: KeyUpdates so far)
local function keys_of(epoch)
  if epoch == 1 then return "early", 0 end
  if epoch == 2 then return "handshake", 0 end
  return "application", epoch - 3
end

-- the full sequence number from its low `bits`, the one closest to `next`
-- (one past the highest opened in that epoch: RFC 9147 4.2.2)
local function full_seq(next, low, bits)
  local span = 2 ^ bits
  local s = next - next % span + low
  if s - next > span / 2 and s >= span then s = s - span
  elseif next - s > span / 2 then s = s + span end
  return math.floor(s)
end

-- open a protected record: plaintext, inner content type, epoch, sequence
-- number | nil, why
local function open13(self, r, ds)
  local from_client = (r.direction == "sent") ~= self.info.is_server
  local side = from_client and "client" or "server"
  local h, body = r.header or "", r.data or ""
  if #h < 2 or #body < 17 then return nil, "record too short" end
  local epoch = full_epoch(ds.epoch[side], r.epoch)
  local name, gen = keys_of(epoch)
  local mask, why = core.trace_sn_mask(self.conn, from_client, name, gen, body:sub(1, 16))
  if not mask then return nil, why end
  local s16 = h:byte(1) % 16 >= 8
  local n = s16 and 2 or 1
  local low, plain = 0, {}
  for i = 1, n do
    local b = xor8(h:byte(1 + i), mask:byte(i))
    plain[i] = string.char(b)
    low = low * 256 + b
  end
  ds.next[epoch] = ds.next[epoch] or { client = 0, server = 0 }
  local seq = full_seq(ds.next[epoch][side], low, 8 * n)
  local aad = h:sub(1, 1) .. table.concat(plain) .. h:sub(2 + n)
  local pt, inner = core.trace_open(self.conn, from_client, name, gen, seq, aad .. body, #aad)
  if not pt then return nil, inner end
  if seq + 1 > ds.next[epoch][side] then ds.next[epoch][side] = seq + 1 end
  if epoch > ds.epoch[side] then ds.epoch[side] = epoch end
  return pt, inner, epoch, seq
end

-- the application data of a DTLS 1.3 record (its bytes are not shown)
local function data(self, d, n, r)
  self:emit({ direction = d, content_type = "application_data", type = "application_data",
              fields = { length = n }, record_version = r.version })
end

-- a DTLS 1.3 protected record, opened when the build can (else listed with
-- the reason); after the handshake Lua waits (core.trace_arm) for the peer's
-- first data, so that ACKs and tickets before it are shown
local function protected(self, r, ds)
  local d = r.direction
  local pt, inner, epoch, seq
  if core.features.msg_trace_decrypted then
    pt, inner, epoch, seq = open13(self, r, ds)
  else
    inner = "this wolfSSL build has no secret callback"
  end
  if pt and not ds.armed and not self.st.done_reported then
    ds.armed = true -- after the handshake too, until the peer's first data
    core.trace_arm(self.conn, true)
  end
  if not pt then
    self:emit({ direction = d, content_type = "encrypted", type = "encrypted_record",
                inferred = true, record_version = r.version,
                fields = { encrypted = true, length = r.length,
                           why = "DTLS 1.3 record not opened: " .. tostring(inner) } })
    return
  end
  self.extra = { epoch = epoch, sequence = seq, decrypted = true }
  local id = epoch .. ":" .. seq
  self.extra.duplicate = ds.records[d][id]
  ds.records[d][id] = true
  if inner == HS then handshake(self, d, { data = pt, version = r.version }, ds)
  elseif inner == ACK then ack(self, d, { data = pt, version = r.version })
  elseif inner == ALERT then
    local f, err = decode.alert(pt)
    self:emit({ direction = d, content_type = "alert", type = "alert", data = pt,
                fields = f, error = err, record_version = r.version })
  elseif inner == APP then
    data(self, d, #pt, r)
    if d == "received" and ds.armed then
      ds.armed = false
      core.trace_arm(self.conn, false)
    end
  end
end

--- One DTLS record: true when handled here, false for the TLS dispatcher
-- (ChangeCipherSpec, alerts), which tags it with self.extra too.
function M.record(self, r)
  local ds = state(self.st)
  local d = r.direction
  self.extra = { epoch = r.epoch, sequence = r.sequence }
  local ct = r.content_type
  if not r.unified then -- the network delivered a record twice
    local id = r.epoch .. ":" .. r.sequence
    self.extra.duplicate = ds.records[d][id]
    ds.records[d][id] = true
  end
  if r.unified then -- (until opened: the header's low epoch bits, its sequence number masked)
    self.extra.sequence = nil
    protected(self, r, ds)
    return true
  end
  if r.epoch > 0 and ct ~= ALERT then
    if ct == APP then return true end -- DTLS 1.2 application data
    self:emit({ direction = d, content_type = "handshake", type = "finished",
                inferred = true, record_version = r.version,
                fields = { encrypted = true, length = r.length } })
    return true
  end
  if ct == HS then handshake(self, d, r, ds) return true end
  if ct == ACK then ack(self, d, r) return true end
  return false
end

return M
