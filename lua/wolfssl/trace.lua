--- Every handshake step visible: the message trace and its rendering.
--
-- Two halves live here.
--
-- 1. The dispatcher behind the `on_message`, `on_state` and `keylog` context
--    callbacks (installed by `wolfssl` itself). The C core cuts the bytes a
--    connection sends and receives into TLS records and hands them over at the
--    end of each method call (never inside wolfSSL); they are decoded here with
--    `wolfssl.decode` and given to the callbacks one protocol message at a time:
--
--        on_message(conn, msg)  msg = {direction = "sent"|"received",
--            content_type = "handshake"|"alert"|"change_cipher_spec"|"application_data",
--            type = "client_hello"|"server_hello"|"hello_retry_request"|...|"alert"|"early_data"
--              ("early_data": a TLS 1.3 0-RTT record; fields.length, its bytes not given;
--              fields.skipped when the server rejected early data and skipped it),
--            version = "TLSv1.3"  (negotiated version once known, else the record's),
--            data = raw message bytes (handshake header included; nil when inferred),
--            fields = decoded fields (decode.fields; certificates as x509 objects),
--            inferred = true when the message was not read from the wire in clear
--              (TLS 1.3 encrypted handshake messages on a wolfSSL build without the
--              secret callback, a TLS 1.2 Finished under a suite other than AES-GCM /
--              ChaCha20-Poly1305, whose `fields.why` says so): reported from the
--              connection's state after the fact; `fields` then holds what the state
--              tells (peer chain, ALPN...), and `encrypted = true` when a record was
--              seen but could not be read,
--            why = for an inferred alert, why it was not read and what names it
--              (an encrypted alert that wolfSSL's history cannot name for certain
--              has no level/description); an alert no record carried is not shown,
--            decrypted = true for a message read from a decrypted copy of its record
--              (TLS 1.3 and DTLS 1.3 on builds with the secret callback; the TLS 1.2
--              Finished on every build, from the connection's own master secret),
--            DTLS: epoch, sequence (the record's; nil while a DTLS 1.3 record is not
--              opened), message_seq, cookie_length, retransmission = true (a
--              handshake fragment sent again), duplicate = true (a record seen
--              twice); types "ack" (fields.records = {{epoch=, sequence=}, ...}) and
--              "application_data" (DTLS 1.3: fields.length, the bytes not shown)}
--        on_state(conn, where, state)  where = "handshake": state = "<type> sent" /
--            "<type> received" for each message, then "done" or "failed";
--            where = "alert": state = "<description> sent|received"
--        keylog(conn, line)  NSS key log line (TLS 1.2: CLIENT_RANDOM ...)
--
-- 2. The renderer, for people:
--
--        local trace = require "wolfssl.trace"
--        local rec = trace.attach(options_or_conn [, sink [, opts]])
--        -- options table (before wolfssl.context): adds on_message/on_state that
--        --   chain to the ones already there; every connection of the context is
--        --   traced. A connection: traced from now on (attach before its first
--        --   handshake() call, or the first messages are missed).
--        -- sink: a function(line), a file (io.stdout by default), or a table that
--        --   collects the lines.
--        -- opts (third argument): {secrets = true} prints the key schedule's secret bytes
--        trace{secrets = true}.attach(...) -- the same, as the default of a tracer
--        rec:summary(conn [, err])  -- writes and returns the closing summary lines
--        rec:messages(conn)         -- the messages seen on conn, in order
--        rec:keys(conn)             -- the key schedule steps (wolfssl.keyschedule), in order
--        trace.pcap(conn, path)     -- a pcapng capture with its key log (wolfssl.pcap);
--                                   --   returns a capture (:info(), :close()) or nil, why
--        trace.render(msg [, role]) -- one line for one message
--        trace.summary(conn, messages [, err [, seconds]]) -- the summary lines
--
-- @module wolfssl.trace
local core = require "wolfssl.core"
local decode = require "wolfssl.decode"
local keyschedule = require "wolfssl.keyschedule"

local M = {}

local HS, ALERT, CCS, APP = 22, 21, 20, 23
local TLS13 = 0x0304
local DTLS13 = 0xFEFC

local DECRYPTS = core.features and core.features.msg_trace_decrypted

local function now()
  local ok, socket = pcall(require, "socket")
  if ok and type(socket) == "table" and socket.gettime then return socket.gettime() end
  return os.clock()
end
M._now = now

---------------------------------------------------------------------------
-- the dispatcher

local function x509_list(ders)
  local x509 = require "wolfssl.x509"
  local out = {}
  for i, der in ipairs(ders) do
    local x = x509.load(der)
    out[i] = x or der
  end
  return out
end

-- group names as the `groups` option spells them
local function g(name) return decode.GROUP_SHORT[name] or name end

local function version_name(v)
  return v and decode.version_name(v) or nil
end

-- everything the dispatcher keeps for one connection (in its uservalue)
local function state_of(conn)
  local st = core.trace_state(conn)
  if not st.init then
    st.init = true
    st.hs = { sent = "", received = "" }        -- partial handshake messages
    st.enc = { sent = false, received = false } -- that direction is encrypted
    st.pend = { sent = 0, received = 0 }        -- encrypted records of the open flight
    st.hist = {}                                -- wolfSSL's alert history at the last flush
    st.start = now()
  end
  return st
end

local function callbacks_of(conn)
  local ctx = core.trace_context(conn)
  return setmetatable({}, { __index = function(_, name) return core.ctx_callback(ctx, name) end })
end

local function other(d) return d == "sent" and "received" or "sent" end

local Dispatch = {}
Dispatch.__index = Dispatch

function Dispatch:call(name, fn, ...)
  self.st.current = name
  fn(self.conn, ...)
  self.st.current = nil
end

function Dispatch:state(where, state)
  if where == "handshake" then core.trace_step(self.conn, state) end
  if self.cb.on_state then self:call("on_state", self.cb.on_state, where, state) end
  local sinks = self.st.sinks
  if sinks then
    for i = 1, #sinks do
      if sinks[i].on_state then self:call("trace.attach", sinks[i].on_state, where, state) end
    end
  end
end

function Dispatch:emit(msg)
  local st = self.st
  for k, v in pairs(self.extra or {}) do -- DTLS: epoch, sequence, message_seq, ...
    if msg[k] == nil then msg[k] = v end
  end
  msg.version = msg.version or version_name(st.version)
  st.count = (st.count or 0) + 1
  if msg.type == "alert" then self.alerted[msg.direction] = true end
  if self.cb.on_message then self:call("on_message", self.cb.on_message, msg) end
  local sinks = st.sinks
  if sinks then
    for i = 1, #sinks do self:call("trace.attach", sinks[i].on_message, msg) end
  end
  if msg.type == "alert" then
    local f = msg.fields or {}
    self:state("alert", ("%s %s"):format(f.description or "alert", msg.direction))
  elseif not st.done_reported then
    self:state("handshake", ("%s %s"):format(msg.type, msg.direction))
  end
  self:keys_after(msg)
end

-- the recorders an options table was attached to, by the on_message they
-- put there (they render the key schedule, which is no protocol message)
local RECORDERS = setmetatable({}, { __mode = "k" })

-- The key schedule step, where the keys come into being: TLS 1.3 handshake
-- keys after ServerHello, application keys after the server's Finished, a
-- KeyUpdate; TLS 1.2 after ClientKeyExchange (or when a resumed session's
-- keys take over). Only the trace's recorders get it.
function Dispatch:keys_after(msg)
  local st, t = self.st, msg.type
  local from_server = (msg.direction == "sent") == self.info.is_server
  local suite = decode.cipher_suite_name(st.cipher or 0)
  local dtls = st.version == DTLS13 or nil -- (its labels: "dtls13", and a record number key)
  if st.version == TLS13 or dtls then
    if t == "server_hello" and not st.keys_hs then
      st.keys_hs = true
      if st.early then self:key_step(keyschedule.tls13_early({ suite = suite, dtls = dtls })) end
      -- the psk option sets on_psk too: either means an external PSK
      local psk = st.psk and (self.cb.on_psk ~= nil and "external" or true)
      self:key_step(keyschedule.tls13_handshake({ suite = suite, group = st.group, psk = psk, dtls = dtls }))
    elseif t == "finished" and from_server and st.keys_hs and not st.keys_app and not msg.retransmission then
      st.keys_app = true
      self:key_step(keyschedule.tls13_application({ suite = suite, dtls = dtls }))
    elseif t == "key_update" and msg.fields then
      local side = from_server and "server" or "client"
      st.updates = st.updates or {}
      st.updates[side] = (st.updates[side] or 0) + 1
      self:key_step(keyschedule.tls13_key_update({ suite = suite, side = side, generation = st.updates[side],
                                                   dtls = dtls }))
    end
  elseif st.version and not st.keys12 then
    local resumed = t == "change_cipher_spec"
        or t == "server_hello" and st.resumed12
    if t == "client_key_exchange" or resumed then
      st.keys12 = true
      self:key_step(keyschedule.tls12({ suite = suite, kx = st.kx, group = st.group, dh_bits = st.dh_bits,
                                        ems = st.ems, resumed = resumed }))
    end
  end
end

function Dispatch:key_step(step)
  local to = {}
  for _, r in ipairs(self.st.sinks or {}) do to[#to + 1] = r end
  for _, r in ipairs(RECORDERS[self.cb.on_message] or {}) do to[#to + 1] = r end
  local values
  for _, r in ipairs(to) do
    if r.secrets and not values then values = core.trace_secrets(self.conn) end
    self:call("trace.attach", r.on_keys, step, r.secrets and values or nil)
  end
end

-- ECH: the inner ClientHello, decrypted from a copy of the outer one with the
-- HPKE secret wolfSSL handed the secret callback (core.ech_open), on the
-- client that encrypted it and on the server that accepted it. Without that
-- secret a server still names what it took from it (the inner server name).
function Dispatch:ech_inner(d, body, fields)
  local ech = self.conn:ech()
  local server = self.info.is_server
  if ech ~= "accepted" and (server or ech ~= "rejected") then return end -- GREASE, none, or not decryptable
  local v
  for _, e in ipairs(fields.extensions or {}) do
    if e.name == "encrypted_client_hello" then v = e.value end
  end
  if not (v and v.outer) then return end
  local inner, why
  if core.ech_open then
    local at = body:find(v.payload, 1, true)
    local aad = body:sub(1, at - 1) .. ("\0"):rep(#v.payload) .. body:sub(at + #v.payload)
    inner, why = core.ech_open(self.conn, aad, v.payload, v.kdf, v.aead, self.st.hrr and 1 or 0)
  end
  local f = inner and decode.fields("client_hello", decode.strip_ech_padding(inner), { is_server = server })
  local msg = { direction = d, content_type = "handshake", type = "inner_client_hello", data = inner }
  if f then
    f.ech_inner_of = server and "decrypted" or "encrypted"
    msg.fields = f
  elseif server then
    msg.fields, msg.inferred = { server_name = self.conn:server_name() }, true
    msg.why = "not decrypted here: " .. tostring(why or "no decoder")
  else
    return
  end
  self:emit(msg)
end

function Dispatch:handshake_message(d, m, r, decrypted)
  local st = self.st
  local name = m.type_name
  local ctx = { version = st.version, is_server = self.info.is_server, cipher = st.cipher }
  local fields, err = decode.fields(name, m.body, ctx)
  if fields and name == "server_hello" then
    if fields.hello_retry_request then
      name = "hello_retry_request"
      st.hrr = true
    else
      st.cipher = fields.cipher_suite_id
      st.psk = fields.psk_selected_identity ~= nil
      st.group = g(fields.key_share_group)
      for _, e in ipairs(fields.extensions or {}) do
        if e.name == "extended_master_secret" then st.ems = true end
      end
      -- TLS 1.2: the server took the session id offered: the session's keys
      st.resumed12 = fields.version ~= TLS13 and #(fields.session_id or "") > 0
          and fields.session_id == st.offered_session_id
      if fields.version == TLS13 then
        st.enc.sent, st.enc.received = true, true
        st.epoch = { client = { name = "handshake", gen = 0, seq = 0 },
                     server = { name = "handshake", gen = 0, seq = 0 } }
      end
    end
    st.version = fields.version
  elseif fields and name == "client_hello" then
    st.offered_session_id = fields.session_id
    if fields.early_data then st.early = { seq = 0 } end -- 0-RTT records follow (Dispatch:early)
  elseif fields and (name == "server_key_exchange" or name == "client_key_exchange") then
    st.kx = fields.kx or st.kx
    st.group = fields.group and g(fields.group) or st.group
    st.dh_bits = fields.dh_bits or st.dh_bits
  end
  if fields and fields.random and (name == "client_hello" or name == "server_hello") then
    st[name == "client_hello" and "client_random" or "server_random"] = fields.random
  end
  if fields and name == "certificate" and fields.certificates then
    fields.der = fields.certificates
    fields.certificates = x509_list(fields.certificates)
  end
  self:emit({
    direction = d, content_type = "handshake", type = name, data = m.data,
    fields = fields, error = err, record_version = r.version, decrypted = decrypted,
  })
  if st.early and name == "encrypted_extensions" and fields then
    st.early.rejected = not fields.early_data -- the server took the early data, or skips it
  elseif st.early and name == "end_of_early_data" then
    st.early.over = true
  end
  if name == "client_hello" and fields then self:ech_inner(d, m.body, fields) end
  if decrypted then -- the sender's keys change after its Finished / a KeyUpdate
    local ep = st.epoch[((d == "sent") ~= self.info.is_server) and "client" or "server"]
    local after = ep.name == "application"
    if name == "finished" and ep.name == "handshake" then
      ep.name, ep.gen, ep.seq = "application", 0, 0
    elseif name == "key_update" then
      ep.gen, ep.seq = ep.gen + 1, 0
    end
    self:expect(d, name, fields, after)
    if name == "encrypted_extensions" or name == "certificate" or name == "finished" then
      if (d == "sent") == self.info.is_server then st.server_flight_done = true
      else st.client_flight_done = true end
    end
  end
end

-- After the handshake the C side hands over received application records
-- only while a post-handshake message is awaited (core.trace_arm): the
-- server's tickets (until its first application data), the answer to our
-- KeyUpdate, the client's certificate after our CertificateRequest. Records
-- of a call that answered the peer (a KeyUpdate, a CertificateRequest) come
-- too. The others are only counted (info.skipped_*).
function Dispatch:expect(d, name, fields, after)
  local st = self.st
  local wait = st.wait or {}
  st.wait = wait
  if d == "received" then
    if name == "new_session_ticket" then st.ticket_read = true end
    if name == "finished" and not self.info.is_server and not after then wait.ticket = true
    elseif name == "key_update" then wait.key_update = nil
    elseif name == "finished" and after then wait.certificate = nil end
  elseif after and name == "key_update" and fields and fields.request_update then
    wait.key_update = true
  elseif name == "certificate_request" and st.done_reported then
    wait.certificate = true
  end
  core.trace_arm(self.conn, next(wait) ~= nil)
end

-- n application records counted in C, not handed over: their sequence numbers
function Dispatch:skip(d, n)
  local st = self.st
  if not st.epoch or not n or n == 0 then return end
  local ep = st.epoch[((d == "sent") ~= self.info.is_server) and "client" or "server"]
  ep.seq = ep.seq + n
end

local function record_header(r)
  return string.char(APP, math.floor(r.version / 256), r.version % 256,
                     math.floor(r.length / 256), r.length % 256)
end

-- TLS 1.3 early data: the client's records between its ClientHello and its
-- handshake records, under its early traffic secret (0-RTT data, then
-- EndOfEarlyData); a server that rejected them skips them. true when r was
-- one of them (reported as an "early_data" message, application data whose
-- bytes are not shown), false for the client's handshake records.
function Dispatch:early(r)
  local st, d, e = self.st, r.direction, self.st.early
  local function report(fields, decrypted, why)
    fields.length = fields.length or r.length
    self:emit({ direction = d, content_type = "application_data", type = "early_data",
                fields = fields, decrypted = decrypted, inferred = not decrypted or nil, why = why,
                record_version = r.version })
  end
  if not DECRYPTS or not r.data then
    if st.epoch then return false end -- (counted by decrypt)
    report({ encrypted = true }, nil, "0-RTT record, not decoded on this build")
    return true
  end
  if not e.rejected then
    local pt, inner = core.trace_open(self.conn, true, "early", 0, e.seq, record_header(r) .. r.data)
    if pt then
      e.seq = e.seq + 1
      if inner == HS then -- EndOfEarlyData
        local msgs, rest = decode.handshake_messages(st.hs[d] .. pt)
        st.hs[d] = rest
        for _, m in ipairs(msgs) do self:handshake_message(d, m, r, true) end
      else
        report({ length = #pt }, true)
      end
      return true
    end
    if not st.epoch then -- before the ServerHello, without the early key: not taken here
      report({ encrypted = true }, nil, "0-RTT record, no early key on this side (rejected)")
      return true
    end
  end
  -- rejected (or past the early key): the client's handshake records open
  -- under its handshake key, the early records the server skips do not
  local ep = st.epoch.client
  if ep.name ~= "handshake" or core.trace_open(self.conn, true, "handshake", 0, ep.seq,
                                               record_header(r) .. r.data) then
    e.over = true
    return false
  end
  report({ encrypted = true, skipped = true }, nil, "0-RTT record skipped: early data rejected")
  return true
end

-- TLS 1.3: decrypt a copy of an encrypted record (builds with the secret
-- callback); false when it cannot be done, so the caller infers instead
function Dispatch:decrypt(r)
  local st = self.st
  if not DECRYPTS or st.nodecrypt or not st.epoch then return false end
  local d = r.direction
  local ep = st.epoch[((d == "sent") ~= self.info.is_server) and "client" or "server"]
  if not r.data then ep.seq = ep.seq + 1 return true end -- bulk data: counted, not copied
  local hdr = string.char(APP, math.floor(r.version / 256), r.version % 256,
                          math.floor(r.length / 256), r.length % 256)
  local pt, inner = core.trace_open(self.conn, (d == "sent") ~= self.info.is_server,
                                    ep.name, ep.gen, ep.seq, hdr .. r.data)
  if not pt then
    st.nodecrypt = true
    st.decrypt_error = inner
    return false
  end
  ep.seq = ep.seq + 1
  if inner == HS then
    local msgs, rest = decode.handshake_messages(st.hs[d] .. pt)
    st.hs[d] = rest
    for _, m in ipairs(msgs) do self:handshake_message(d, m, r, true) end
  elseif inner == APP and st.wait and st.wait.ticket and d == "received" then
    st.wait.ticket = nil -- tickets come before the server's first data
    core.trace_arm(self.conn, next(st.wait) ~= nil)
  elseif inner == ALERT then
    local f, err = decode.alert(pt)
    self:emit({ direction = d, content_type = "alert", type = "alert", data = pt,
                fields = f, error = err, record_version = r.version, decrypted = true })
  end -- application data is not a protocol message
  return true
end

local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- TLS 1.2: decrypt a copy of the sender's first record under its new keys
-- (its Finished) from the connection's own master secret; false when it
-- cannot be done (st.why12 says why), so the caller shows it undecoded
function Dispatch:open12(r)
  local st, d = self.st, r.direction
  st.tried12 = st.tried12 or {}
  if st.tried12[d] or not r.data then return false end
  st.tried12[d] = true -- later records have other sequence numbers
  if not (st.client_random and st.server_random) then
    st.why12 = "hellos not seen"
    return false
  end
  local hdr = string.char(HS, math.floor(r.version / 256), r.version % 256,
                          math.floor(r.length / 256), r.length % 256)
  local pt, why = core.trace_open12(self.conn, (d == "sent") ~= self.info.is_server, hdr .. r.data,
                                    unhex(st.client_random), unhex(st.server_random))
  if not pt then
    st.why12 = why
    return false
  end
  local msgs = decode.handshake_messages(pt)
  if #msgs ~= 1 or msgs[1].type_name ~= "finished" then
    st.why12 = "decrypted record is not one Finished message"
    return false
  end
  local fields, err = decode.fields("finished", msgs[1].body, { version = st.version })
  self:emit({ direction = d, content_type = "handshake", type = "finished", data = msgs[1].data,
              fields = fields, error = err, record_version = r.version, decrypted = true })
  return true
end

-- TLS 1.2 renegotiation: wolfSSL sends each message of the second handshake
-- in its own record, encrypted under the first one's keys; named by their
-- place in the sender's flight (inferred). Until a side's ChangeCipherSpec;
-- its Finished after it ends that side's part.
local RENEG = {
  client = { "client_hello", "client_key_exchange" },
  server = { "server_hello", "certificate", "server_key_exchange", "server_hello_done",
             "new_session_ticket" },
}
function Dispatch:renegotiation(d, r)
  local st = self.st
  st.reneg = st.reneg or { sent = 0, received = 0 }
  local n = st.reneg[d]
  if n == "ccs" then -- its Finished: this side's part of the renegotiation is over
    st.reneg[d] = 0
    self:emit({ direction = d, content_type = "handshake", type = "finished", inferred = true,
                fields = { encrypted = true, length = r.length, renegotiation = true },
                record_version = r.version })
    return true
  end
  local side = ((d == "sent") == self.info.is_server) and "server" or "client"
  local name
  if side == "server" and n == 0 and st.reneg[other(d)] == 0 then
    name = "hello_request" -- the server asks; the count stays at 0
  else
    n = n + 1
    st.reneg[d] = n
    local names = RENEG[side]
    name = names[n] or names[#names]
  end
  self:emit({ direction = d, content_type = "handshake", type = name, inferred = true,
              fields = { encrypted = true, length = r.length, renegotiation = true },
              record_version = r.version })
  return true
end

-- a flight of n encrypted TLS 1.3 handshake records, told from the state
function Dispatch:infer_flight(d, n)
  local conn, st, info = self.conn, self.st, self.info
  local from_server = (d == "sent") == info.is_server
  local peer = d == "received"
  local function emit(t, fields)
    fields = fields or {}
    self:emit({ direction = d, content_type = "handshake", type = t, fields = fields,
                inferred = true })
  end
  local function certs()
    if peer then
      local chain = conn:peer_chain()
      if chain then return { certificates = chain } end
      local leaf = conn:peer_certificate()
      return { certificates = { leaf } }
    end
    local own = core.trace_own_certificate(conn)
    return { certificates = { own } }
  end
  if from_server then
    if st.server_flight_done then
      for _ = 1, n do emit("new_session_ticket", { lifetime = nil }) end
      return
    end
    st.server_flight_done = true
    emit("encrypted_extensions", { alpn = conn:alpn() })
    if st.psk then
      if n >= 2 then emit("finished") end
      return
    end
    if info.error then
      -- the flight was cut short by the failure: wolfSSL stopped reading at
      -- the message it refused (one handshake message per record)
      if n >= 2 then emit("certificate", certs()) end
      if n >= 3 then emit("certificate_verify") end
      if n >= 4 then emit("finished") end
      return
    end
    if n >= 5 then emit("certificate_request") end
    if n >= 3 then emit("certificate", certs()) end
    if n >= 3 then emit("certificate_verify") end
    if n >= 4 or (n == 2 and not st.psk) then emit("finished") end
  else
    if st.client_flight_done then return end -- later client records: application data
    st.client_flight_done = true
    if n >= 3 then
      emit("certificate", certs())
      emit("certificate_verify")
    elseif n == 2 then
      emit("certificate", { certificates = {} })
    end
    if n >= 1 then emit("finished") end
  end
end

-- why an alert line was not read from the wire
local INFER_HISTORY = "encrypted record, named from wolfSSL's alert history"
-- (TLS 1.3: an alert hides in a record that looks like application data)
function Dispatch:hidden_why()
  local st = self.st
  if not DECRYPTS then return "encrypted on this build, named from wolfSSL's alert history" end
  return "encrypted record the trace could not open: " .. tostring(st.decrypt_error or "no keys") ..
         "; named from wolfSSL's alert history"
end

function Dispatch:close_flight(d, at_end)
  local st, info = self.st, self.info
  local n = st.pend[d]
  if n == 0 then return end
  st.pend[d] = 0
  local alert_last = at_end and info.error and self:new_alert(d) and not self.alerted[d]
  if alert_last then n = n - 1 end
  if n > 0 then self:infer_flight(d, n) end
  if alert_last then self:infer_alert(d, self:hidden_why()) end
end

-- wolfSSL's alert history for direction d (the last alert sent / received):
-- code, level; nil when there is none
local function history(info, d)
  if d == "sent" then return info.alert_sent, info.alert_sent_level end
  return info.alert_received, info.alert_received_level
end

-- the history for d changed during this call: wolfSSL sent / processed an
-- alert in that direction (the same alert twice in a row is not told apart)
function Dispatch:new_alert(d)
  local code, level = history(self.info, d)
  return code ~= nil and (code * 256 + (level or 0)) ~= (self.st.hist[d] or -1)
end

-- an alert wolfSSL's history names (only when new_alert(d) holds)
function Dispatch:infer_alert(d, why)
  local code, level = history(self.info, d)
  self:emit({
    direction = d, content_type = "alert", type = "alert", inferred = true, why = why,
    fields = { level = level == 1 and "warning" or "fatal", description = decode.alert_name(code),
               code = code, encrypted = true },
  })
end

function Dispatch:record(r)
  if r.epoch and require("wolfssl.trace_dtls").record(self, r) then return end
  local st = self.st
  local d = r.direction
  if st.pend[other(d)] > 0 then self:close_flight(other(d)) end
  local ct = r.content_type
  if ct == CCS then
    self:emit({ direction = d, content_type = "change_cipher_spec", type = "change_cipher_spec",
                data = r.data, fields = decode.change_cipher_spec(r.data), record_version = r.version })
    if st.version ~= TLS13 then st.enc[d] = true end
    if st.reneg then st.reneg[d] = "ccs" end
  elseif ct == ALERT then
    if st.enc[d] or #(r.data or "") ~= 2 then
      -- an encrypted alert: named only when it is the one alert record this
      -- call saw that way and wolfSSL's history took a new alert meanwhile
      if self.enc_alerts[d] == 1 and self:new_alert(d) then
        self:infer_alert(d, INFER_HISTORY)
      else
        self:emit({ direction = d, content_type = "alert", type = "alert", inferred = true,
                    why = "encrypted record, not decoded", record_version = r.version,
                    fields = { encrypted = true, length = r.length } })
      end
    else
      local f, err = decode.alert(r.data)
      self:emit({ direction = d, content_type = "alert", type = "alert", data = r.data,
                  fields = f, error = err, record_version = r.version })
    end
  elseif ct == HS then
    if st.enc[d] and st.version ~= TLS13 then
      if st.done_reported and self:renegotiation(d, r) then return end
      if self:open12(r) then return end
      -- TLS 1.2: the only handshake message after ChangeCipherSpec is Finished
      self:emit({ direction = d, content_type = "handshake", type = "finished", inferred = true,
                  fields = { encrypted = true, length = r.length, why = st.why12 },
                  record_version = r.version })
      return
    end
    local msgs, rest = decode.handshake_messages(st.hs[d] .. (r.data or ""))
    st.hs[d] = rest
    for _, m in ipairs(msgs) do self:handshake_message(d, m, r) end
  elseif ct == APP then
    if st.early and not st.early.over and (d == "sent") ~= self.info.is_server and self:early(r) then
      return
    end
    if st.version == TLS13 and self:decrypt(r) then return end
    if st.version == TLS13 then self.unread[d] = true end -- may hide an alert
    if st.version == TLS13 and not (st.server_flight_done and st.client_flight_done and st.done_reported) then
      local from_server = (d == "sent") == self.info.is_server
      if from_server or not st.client_flight_done then st.pend[d] = st.pend[d] + 1 end
    end
  end
end

local function dispatch(conn, records, info)
  local st = state_of(conn)
  local self = setmetatable({ conn = conn, st = st, info = info, cb = callbacks_of(conn),
                              alerted = {}, unread = {}, enc_alerts = { sent = 0, received = 0 } },
                            Dispatch)
  for i = 1, #records do
    local r = records[i]
    if r.content_type == ALERT and (st.enc[r.direction] or #(r.data or "") ~= 2) then
      self.enc_alerts[r.direction] = self.enc_alerts[r.direction] + 1
    end
  end
  for i = 1, #records do
    local r = records[i]
    if r.skipped then self:skip(r.direction, r.skipped) end
    self:record(r)
  end
  self:skip("sent", info.skipped_sent)
  self:skip("received", info.skipped_received)
  if st.pend.sent > 0 then self:close_flight("sent", true) end
  if (info.done or info.error) and st.pend.received > 0 then self:close_flight("received", true) end
  if info.ticket and st.version == TLS13 and not info.is_server and not st.ticket_read then
    -- the session now holds a ticket: at least one arrived (how many is not
    -- visible without decryption, or once application records are only counted)
    self:emit({ direction = "received", content_type = "handshake", type = "new_session_ticket",
                inferred = true, fields = { at_least_one = true } })
  end
  -- a TLS 1.3 alert hidden in a record this build could not read: wolfSSL's
  -- alert history names it when it changed during this call and such a
  -- record went that way. An alert the history holds but no record carried
  -- was not on the wire (yet): it is not shown.
  for _, d in ipairs({ "sent", "received" }) do
    if self.unread[d] and not self.alerted[d] and self:new_alert(d) then
      self:infer_alert(d, self:hidden_why())
    end
    local code, level = history(info, d)
    st.hist[d] = code and code * 256 + (level or 0) or nil
  end
  if info.error and not st.fail_reported and not st.done_reported then
    st.fail_reported = true
    self:state("handshake", "failed")
  end
  if info.done and not st.done_reported then
    st.done_reported = true
    st.finish = now()
    self:state("handshake", "done")
    if info.keylog and self.cb.keylog then self:call("keylog", self.cb.keylog, info.keylog) end
  end
  if info.keylog_lines and self.cb.keylog then
    for _, line in ipairs(info.keylog_lines) do self:call("keylog", self.cb.keylog, line) end
  end
  if st.pcap then self:capture(info.wire) end
end
M._dispatch = dispatch

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- NSS key log lines for the secrets known so far (TLS 1.2: CLIENT_RANDOM)
local KEYLOG_ORDER = { "CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                       "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                       "SERVER_TRAFFIC_SECRET_0", "MASTER_SECRET" }
local function keylog_lines(secrets, client_random)
  local lines = {}
  for _, label in ipairs(KEYLOG_ORDER) do
    local v = secrets[label]
    if v then
      lines[#lines + 1] = ("%s %s %s"):format(label == "MASTER_SECRET" and "CLIENT_RANDOM" or label,
                                              client_random, hex(v))
    end
  end
  return lines
end
M._keylog_lines = keylog_lines

-- wolfssl.trace.pcap: new secrets first (a Decryption Secrets Block before
-- the records they open), then the bytes of this call in transport order
function Dispatch:capture(wire)
  local st = self.st
  local w = st.pcap
  if st.client_random then
    local new = {}
    for _, line in ipairs(keylog_lines(core.trace_secrets(self.conn), st.client_random)) do
      if not st.pcap_logged[line] then
        st.pcap_logged[line] = true
        new[#new + 1] = line .. "\n"
      end
    end
    w:secrets(table.concat(new))
  end
  -- wolfSSL reads a record header, then its body: one segment per run of
  -- bytes in one direction (DTLS: each chunk is one datagram)
  local run, dir = {}, nil
  local function send()
    if #run > 0 then w:data((dir == "sent") ~= self.info.is_server, table.concat(run)) end
    run = {}
  end
  for _, chunk in ipairs(wire or {}) do
    if chunk.direction ~= dir or w.udp then send() end
    dir = chunk.direction
    run[#run + 1] = chunk.data
  end
  send()
end

-- The context options on_message, on_state and keylog (rows of
-- wolfssl/options.lua) route the context's records to the dispatcher.
function M._apply_callback(_, _, _, st)
  st.uv._on_record = dispatch
  return true
end

function M._apply_keylog(ctx, v, o, st)
  local tls13 = o.max_version == nil or o.max_version == "tls1.3"
  if tls13 and not core.features.keylog_tls13 then
    require("wolfssl.check").bad("keylog", "TLS 1.3 key logging needs a wolfSSL build with the secret callback " ..
      "(wolfssl.features.keylog_tls13 is false); set max_version = \"tls1.2\" or use the tuned build", 4)
  end
  return M._apply_callback(ctx, v, o, st)
end

---------------------------------------------------------------------------
-- rendering

local NAMES = {
  client_hello = "ClientHello", server_hello = "ServerHello",
  hello_retry_request = "HelloRetryRequest", encrypted_extensions = "EncryptedExtensions",
  hello_verify_request = "HelloVerifyRequest", ack = "ACK", encrypted_record = "(encrypted)",
  certificate = "Certificate", certificate_request = "CertificateRequest",
  certificate_verify = "CertificateVerify", server_key_exchange = "ServerKeyExchange",
  client_key_exchange = "ClientKeyExchange", server_hello_done = "ServerHelloDone",
  new_session_ticket = "NewSessionTicket", finished = "Finished",
  change_cipher_spec = "ChangeCipherSpec", key_update = "KeyUpdate", alert = "Alert",
  certificate_status = "CertificateStatus", end_of_early_data = "EndOfEarlyData",
  hello_request = "HelloRequest", inner_client_hello = "ClientHelloInner", early_data = "EarlyData",
  application_data = "ApplicationData",
}
--- Display names of the handshake message types (`NAMES.client_hello` is "ClientHello").
M.NAMES = NAMES

local function list(t, max)
  if type(t) ~= "table" then return tostring(t) end
  local out = {}
  for i, v in ipairs(t) do
    if max and i > max then out[#out + 1] = "..." break end
    out[#out + 1] = tostring(v)
  end
  return table.concat(out, ",")
end

local function cn(name)
  if type(name) ~= "table" then return tostring(name) end
  for _, e in ipairs(name) do
    if e.name == "CN" or e.name == "commonName" then return "CN=" .. tostring(e.value) end
  end
  return name.text or "?"
end

--- One line about a certificate: subject CN, issuer CN, validity dates.
local function cert_line(x)
  if type(x) ~= "userdata" then return "?" end
  local subject = cn((x:subject()))
  local issuer = cn((x:issuer()))
  local _, nb = x:not_before()
  local _, na = x:not_after()
  return ("%s, issued by %s, valid %s .. %s"):format(subject, issuer, (nb or "?"):sub(1, 10),
                                                    (na or "?"):sub(1, 10))
end
M.cert_line = cert_line

local function glist(t, max)
  if type(t) ~= "table" then return tostring(t) end
  local out = {}
  for i, v in ipairs(t) do out[i] = g(v) end
  return list(out, max)
end

local function hexlen(h) return h and math.floor(#h / 2) or 0 end

local DETAIL = {}

DETAIL.hello_verify_request = function(f) return ("cookie %d bytes"):format(math.floor(#(f.cookie or "") / 2)) end
DETAIL.ack = function(f)
  local p = {}
  for _, r in ipairs(f.records) do p[#p + 1] = ("%d/%d"):format(r.epoch, r.sequence) end
  return "records (epoch/seq) " .. (#p > 0 and table.concat(p, " ") or "none")
end
DETAIL.application_data = function(f) return ("%d bytes"):format(f.length) end

DETAIL.client_hello = function(f)
  local p = { "versions " .. list(f.versions), #f.cipher_suites .. " suites" }
  if f.server_name then p[#p + 1] = "SNI " .. tostring(f.server_name) end
  if f.alpn then p[#p + 1] = "ALPN " .. list(f.alpn) end
  if f.key_share_groups then p[#p + 1] = "key share " .. glist(f.key_share_groups) end
  if f.groups then p[#p + 1] = "groups " .. glist(f.groups, 4) end
  local sid = hexlen(f.session_id)
  p[#p + 1] = sid > 0 and ("session id %d bytes"):format(sid) or "no session id"
  for _, e in ipairs(f.extensions or {}) do
    local v = e.value
    if e.name == "encrypted_client_hello" and v and v.outer then
      p[#p + 1] = ("encrypted_client_hello (outer: config id %d, %d bytes encrypted)"):format(v.config_id, v.payload_length)
    elseif e.name == "encrypted_client_hello" then
      p[#p + 1] = "encrypted_client_hello (inner)"
    end
    if e.name == "pre_shared_key" then p[#p + 1] = "offers a PSK (resumption)" end
    if e.name == "session_ticket" and e.data and #e.data > 0 then p[#p + 1] = "offers a ticket" end
  end
  if f.early_data then p[#p + 1] = "early data follows (0-RTT)" end
  return table.concat(p, "; ")
end

DETAIL.server_hello = function(f)
  local p = { f.version_name or version_name(f.version), f.cipher_suite }
  if f.key_share_group then p[#p + 1] = "key share " .. tostring(g(f.key_share_group)) end
  if f.psk_selected_identity then p[#p + 1] = "resumes (PSK accepted)" end
  local sid = hexlen(f.session_id)
  if sid > 0 then p[#p + 1] = ("session id %s..."):format(f.session_id:sub(1, 8)) end
  if f.alpn then p[#p + 1] = "ALPN " .. f.alpn end
  return table.concat(p, "; ")
end

DETAIL.hello_retry_request = function(f)
  local p = { "server asks for another ClientHello" }
  if f.key_share_group then p[#p + 1] = "key share " .. tostring(g(f.key_share_group)) .. " wanted" end
  p[#p + 1] = tostring(f.cipher_suite)
  return table.concat(p, "; ")
end

DETAIL.encrypted_extensions = function(f)
  local s = f.alpn and ("ALPN " .. f.alpn) or "no ALPN"
  for _, e in ipairs(f.extensions or {}) do
    if e.name == "encrypted_client_hello" and e.value and e.value.retry_configs then
      s = s .. ("; ECH rejected: retry_configs (%d ECHConfig)"):format(e.value.retry_configs)
    end
  end
  if f.early_data then s = s .. "; early data accepted" end
  return s
end

-- the server's view of an accepted ECH: wolfSSL decrypts the inner
-- ClientHello itself and hands no bytes of it out, only what it chose from it
DETAIL.inner_client_hello = function(f)
  if not f.ech_inner_of then -- the server's view without the HPKE secret
    return "decrypted by wolfSSL (ECH accepted); SNI " .. tostring(f.server_name)
  end
  local p = { f.ech_inner_of == "decrypted" and "decrypted (ECH accepted)" or "encrypted in the ClientHello",
              (DETAIL.client_hello(f):gsub("; no session id", "")) }
  for _, e in ipairs(f.extensions or {}) do
    if e.name == "ech_outer_extensions" and e.value then p[#p + 1] = "from the outer: " .. list(e.value) end
  end
  return table.concat(p, "; ")
end

DETAIL.certificate = function(f)
  local certs = f.certificates or {}
  if #certs == 0 then return "empty (no certificate)" end
  local s = cert_line(certs[1])
  if #certs > 1 then s = s .. (" (+%d more in the chain)"):format(#certs - 1) end
  return s
end

DETAIL.certificate_request = function(f)
  local s = "asks for a client certificate"
  if f.signature_algorithms then s = s .. ("; %d signature schemes"):format(#f.signature_algorithms) end
  return s
end

DETAIL.certificate_verify = function(f)
  return f.scheme and ("signed with %s"):format(f.scheme) or "proof of the private key"
end

DETAIL.server_key_exchange = function(f)
  local p = { f.kx }
  if f.group then p[#p + 1] = "group " .. tostring(g(f.group)) end
  if f.dh_bits then p[#p + 1] = ("%d-bit DH"):format(f.dh_bits) end
  if f.public_key_length then p[#p + 1] = ("public key %d bytes"):format(f.public_key_length) end
  if f.signature_scheme then p[#p + 1] = "signed with " .. f.signature_scheme end
  return table.concat(p, "; ")
end

DETAIL.client_key_exchange = function(f)
  local p = { f.kx }
  if f.public_key_length then p[#p + 1] = ("public key %d bytes"):format(f.public_key_length) end
  if f.encrypted_pms_length then p[#p + 1] = ("encrypted premaster %d bytes"):format(f.encrypted_pms_length) end
  if f.psk_identity then p[#p + 1] = "PSK identity " .. f.psk_identity end
  return table.concat(p, "; ")
end

DETAIL.new_session_ticket = function(f)
  if f.lifetime then
    return ("ticket for %d s"):format(f.lifetime)
      .. (f.max_early_data and ("; early data up to %d bytes"):format(f.max_early_data) or "")
  end
  if f.at_least_one then return "resumption ticket(s) for the session" end
  return "a resumption ticket"
end

DETAIL.early_data = function(f)
  if f.encrypted then return ("0-RTT record, %d bytes%s"):format(f.length or 0, f.skipped and " (skipped)" or "") end
  return ("0-RTT application data, %d bytes"):format(f.length or 0)
end

DETAIL.finished = function(f)
  if f.encrypted then return "" end
  if f.verify_data_length == 12 and f.verify_data then -- TLS 1.2: short enough to show
    return ("verify_data %s (12 bytes)"):format(f.verify_data)
  end
  if f.verify_data_length then return ("verify_data %d bytes"):format(f.verify_data_length) end
  return "handshake transcript confirmed"
end

DETAIL.key_update = function(f)
  return f.request_update and "update requested" or "update not requested"
end

DETAIL.alert = function(f)
  if not f.description then return "level and description not readable" end
  return ("%s %s"):format(f.level or "?", f.description)
end

local function argerror(n, fname, why, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, why), level or 3)
end

local function is_conn(v)
  return type(v) == "userdata" and getmetatable(v) and getmetatable(v).__name == "wolfssl.Connection"
end

-- argument n of fname must be a connection (level: as for error(), from the caller)
local function check_conn(n, fname, v, level)
  if not is_conn(v) then
    local mt = type(v) == "userdata" and getmetatable(v)
    argerror(n, fname, "wolfssl.Connection expected, got " ..
             (v == nil and "no value" or mt and mt.__name or type(v)), (level or 3) + 1)
  end
end

--- One line for one message. role: "client" or "server" (whose view).
function M.render(msg, role)
  if type(msg) ~= "table" then argerror(1, "render", "message table expected, got " .. type(msg)) end
  if role ~= nil and role ~= "client" and role ~= "server" then
    argerror(2, "render", 'expected "client" or "server", got ' .. tostring(role))
  end
  local me, peer = "C", "S"
  if role == "server" then me, peer = "S", "C" end
  local arrow = msg.direction == "sent" and (me .. " -> " .. peer) or (me .. " <- " .. peer)
  local name = NAMES[msg.type] or tostring(msg.type)
  local detail = ""
  local f = msg.fields
  if f and DETAIL[msg.type] and not msg.retransmission then -- (a repeat: its fragment only)
    local ok, d = pcall(DETAIL[msg.type], f)
    detail = ok and d or ""
  elseif msg.error then
    detail = msg.error
  end
  local line = ("  %s  %-19s %s"):format(arrow, name, detail)
  if msg.why then
    line = line .. "  [" .. msg.why .. "]"
  elseif msg.inferred then
    if f and f.encrypted then
      line = line .. "  [encrypted record, not decoded" .. (f.why and ": " .. f.why or "") .. "]"
    else
      line = line .. "  [inferred: encrypted on this build]"
    end
  end
  if msg.epoch then -- DTLS: where the record sits, and what it repeats
    local cookie = msg.cookie_length and (", cookie " .. msg.cookie_length .. " bytes") or ""
    for _, e in ipairs(f and f.extensions or {}) do
      if e.name == "cookie" then cookie = ", cookie extension" end
    end
    line = line .. ("  [epoch %d %s%s%s%s]"):format(msg.epoch,
      msg.sequence and ("seq %d"):format(msg.sequence) or "seq encrypted",
      msg.message_seq and (" msg " .. msg.message_seq) or "", cookie,
      msg.retransmission and ", retransmission" or msg.duplicate and ", duplicate" or "")
  end
  return (line:gsub("%s+$", ""))
end

--- The round trips a handshake took, from its `on_message` list, seen from `role`.
local function round_trips(messages, role)
  -- flights the client waited for: runs of received (client) / sent (server)
  -- messages before the handshake ended, NewSessionTicket excluded
  local n, last = 0, nil
  local waited = role == "server" and "sent" or "received"
  for _, m in ipairs(messages) do
    if m.type ~= "new_session_ticket" and m.content_type ~= "alert" then
      if m.direction == waited and last ~= waited then n = n + 1 end
      last = m.direction
    end
  end
  return n
end
M.round_trips = round_trips

--- The closing summary, as an array of lines.
-- @param conn the connection
-- @param messages the messages seen (from a recorder)
-- @param err the failure message, if the handshake failed
-- @param seconds time taken
function M.summary(conn, messages, err, seconds)
  check_conn(1, "summary", conn)
  if messages ~= nil and type(messages) ~= "table" then
    argerror(2, "summary", "table of messages expected, got " .. type(messages))
  end
  if seconds ~= nil and type(seconds) ~= "number" then
    argerror(4, "summary", "number expected, got " .. type(seconds))
  end
  local lines = {}
  local role = conn:is_server() and "server" or "client"
  local ms = seconds and ("%.1f ms"):format(seconds * 1000) or "?"
  if err then
    lines[1] = ("  == handshake FAILED after %s: %s"):format(ms, err)
    local ok, reason = conn:verify_result()
    if not ok and reason and not tostring(err):find(reason, 1, true) then
      lines[2] = ("     verification: %s"):format(reason)
    end
    return lines
  end
  local version = conn:version() or "?"
  local reused = conn:session_reused()
  local group = conn:group()
  lines[1] = ("  == %s, %s, %s"):format(version, conn:cipher() or "?",
                                      group and ("group " .. group) or "no new key exchange")
  local rt = round_trips(messages or {}, role)
  lines[2] = ("     %s handshake, %d round trip%s, %s"):format(reused and "abbreviated (resumed)" or "full",
                                                           rt, rt == 1 and "" or "s", ms)
  local early = conn.early_data and conn:early_data()
  if early and early ~= "none" then lines[2] = lines[2] .. "; early data (0-RTT) " .. early end
  local ok, reason = conn:verify_result()
  local v
  if ok then v = "peer certificate verified"
  elseif reused then v = "peer authenticated by the resumed session (no certificate this time)"
  elseif role == "server" and reason == "no peer certificate" then v = "client not authenticated (no client certificate)"
  else v = "not verified: " .. tostring(reason) end
  lines[3] = ("     %s; ALPN %s"):format(v, conn:alpn() or "none")
  return lines
end

local Recorder = {}
Recorder.__index = Recorder

local function make_writer(sink)
  if sink == nil then sink = io.stdout end
  if type(sink) == "function" then return sink end
  if type(sink) == "table" and type(sink.write) ~= "function" then
    return function(line) sink[#sink + 1] = line end
  end
  if (type(sink) == "userdata" or type(sink) == "table") and sink.write then
    return function(line) sink:write(line, "\n") end
  end
  error("bad argument #2 to 'attach' (function, file or table expected, got " .. type(sink) .. ")", 3)
end

function Recorder:_conn(conn)
  local per = self.per[conn]
  if not per then
    per = { messages = {}, keys = {}, start = now() }
    self.per[conn] = per
  end
  return per
end

local function check_recorder(fname, self, conn)
  if getmetatable(self) ~= Recorder then
    error(("calling '%s' on bad self (trace recorder expected, got %s)"):format(fname, type(self)), 3)
  end
  check_conn(1, fname, conn, 4)
end

function Recorder:messages(conn)
  check_recorder("messages", self, conn)
  return self:_conn(conn).messages
end

--- The key schedule steps seen on conn, in order (wolfssl.keyschedule).
function Recorder:keys(conn)
  check_recorder("keys", self, conn)
  return self:_conn(conn).keys
end

--- Write the summary for conn (and return its lines).
function Recorder:summary(conn, err)
  check_recorder("summary", self, conn)
  local per = self:_conn(conn)
  local secs = (per.finish or now()) - per.start
  local lines = M.summary(conn, per.messages, err, secs)
  for _, l in ipairs(lines) do self.write(l) end
  return lines
end

--- Trace a context's connections (options table) or one connection.
-- opts: `secrets = true` prints the secret bytes of the key schedule (for
-- teaching; anyone who reads them can decrypt the connection).
function M.attach(target, sink, opts)
  if opts ~= nil and type(opts) ~= "table" then
    argerror(3, "attach", "options table expected, got " .. type(opts))
  end
  opts = opts or {}
  if opts.secrets ~= nil and type(opts.secrets) ~= "boolean" then
    argerror(3, "attach", "secrets: boolean expected, got " .. type(opts.secrets))
  end
  local rec = setmetatable({ per = setmetatable({}, { __mode = "k" }), write = make_writer(sink),
                             secrets = opts.secrets == true }, Recorder)
  rec.on_keys = function(conn, step, values)
    local per = rec:_conn(conn)
    per.keys[#per.keys + 1] = step
    for _, l in ipairs(keyschedule.render(step, values, rec.secrets)) do rec.write(l) end
  end
  rec.on_message = function(conn, msg)
    local per = rec:_conn(conn)
    per.messages[#per.messages + 1] = msg
    rec.write(M.render(msg, conn:is_server() and "server" or "client"))
  end
  rec.on_state = function(conn, where, state)
    if where == "handshake" and (state == "done" or state == "failed") then
      rec:_conn(conn).finish = now()
    end
  end
  if is_conn(target) then
    local fresh = core.trace_enable(target)
    local st = state_of(target)
    st.sinks = st.sinks or {}
    st.sinks[#st.sinks + 1] = rec
    core.ctx_callback(core.trace_context(target), "_on_record", dispatch)
    rec.complete = fresh
    rec:_conn(target)
    return rec
  end
  if type(target) ~= "table" then
    error("bad argument #1 to 'attach' (options table or connection expected, got " .. type(target) .. ")", 2)
  end
  local prev_msg, prev_state = target.on_message, target.on_state
  target.on_message = function(conn, msg)
    rec.on_message(conn, msg)
    if prev_msg then return prev_msg(conn, msg) end
  end
  target.on_state = function(conn, where, state)
    rec.on_state(conn, where, state)
    if prev_state then return prev_state(conn, where, state) end
  end
  local recs = { rec }
  for _, r in ipairs(RECORDERS[prev_msg] or {}) do recs[#recs + 1] = r end
  RECORDERS[target.on_message] = recs
  return rec
end

local Capture = {}
Capture.__index = Capture

--- What the capture holds so far: {packets = n, keylog_lines = n (secrets embedded)}.
function Capture:info()
  local st, w = self.st, self.st.pcap or self.writer
  local n = 0
  for _ in pairs(st.pcap_logged or {}) do n = n + 1 end
  return { packets = w.packets, keylog_lines = n }
end

--- End the capture: TCP FIN both ways, the file closed (it is complete on
-- disk after each call of the connection already).
function Capture:close()
  local st = self.st
  if st.pcap then
    st.pcap:close()
    self.writer, st.pcap = st.pcap, nil
    pcall(core.trace_capture, self.conn, false) -- (a closed connection has nothing left to capture)
  end
end

--- Capture every record conn sends and receives from now on into a pcapng
-- file at path (wolfssl.pcap): TCP/IP framing made up around them (port 443
-- on the server side), the key log in Decryption Secrets Blocks, so
-- Wireshark/tshark show every message decrypted with nothing to configure.
-- Call it right after ctx:new. Returns a capture (:close()) or nil, message.
-- What is decrypted: TLS 1.2 always (CLIENT_RANDOM from the master secret);
-- TLS 1.3 only on builds with the secret callback (features.secret_callback),
-- else the capture holds no TLS 1.3 secret and only the hellos are in clear.
function M.pcap(conn, path)
  check_conn(1, "pcap", conn)
  if type(path) ~= "string" then argerror(2, "pcap", "file name expected, got " .. type(path)) end
  local st = state_of(conn)
  if st.pcap then return nil, "this connection is already being captured" end
  local fresh, dtls = core.trace_capture(conn, true)
  if not fresh then
    return nil, "the connection has exchanged bytes already: call wolfssl.trace.pcap right after ctx:new"
  end
  local f, err = io.open(path, "wb")
  if not f then
    core.trace_capture(conn, false)
    return nil, err
  end
  st.pcap = require("wolfssl.pcap").new(f, { udp = dtls })
  st.pcap_logged = {}
  core.ctx_callback(core.trace_context(conn), "_on_record", dispatch)
  return setmetatable({ conn = conn, st = st, path = path }, Capture)
end

--- `wolfssl.trace{secrets = true}`: a tracer whose recorders take these
-- options by default (`tracer.attach(target, sink)`); every other field is
-- the module's own. Options: secrets (boolean).
local TRACER_KEYS = { "secrets" }
setmetatable(M, { __call = function(_, opts)
  if type(opts) ~= "table" then argerror(1, "trace", "options table expected, got " .. type(opts)) end
  require("wolfssl.check").check_keys("trace", opts, TRACER_KEYS)
  if opts.secrets ~= nil and type(opts.secrets) ~= "boolean" then
    argerror(1, "trace", "secrets: boolean expected, got " .. type(opts.secrets))
  end
  local defaults = { secrets = opts.secrets }
  local tracer = {}
  function tracer.attach(target, sink, o)
    if o ~= nil and type(o) ~= "table" then argerror(3, "attach", "options table expected, got " .. type(o)) end
    local merged = {}
    for k, v in pairs(defaults) do merged[k] = v end
    for k, v in pairs(o or {}) do merged[k] = v end
    return M.attach(target, sink, merged)
  end
  return setmetatable(tracer, { __index = M })
end })

return M
