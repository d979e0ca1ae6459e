--- TLS sessions and resumption: session objects, external session stores,
-- shared ticket keys.
--
-- **Exported sessions are secret key material.** `s:export()` contains the
-- session's master secret: anyone holding it can decrypt traffic recorded from
-- that session (TLS 1.2) or resume it as the client. Store it like a private key:
-- encrypted at rest or in a store reachable only by your servers, never in logs.
-- The same holds for ticket keys: whoever has one can decrypt every ticket made
-- with it, and with them the sessions.
--
-- ### Client side
--
--    local s = conn:session()                 -- after the handshake
--    local der = s:export()                   -- keep it (secret!)
--    local c2 = ctx:new{server_name = "example.com",
--                       session = wolfssl.session.import(der)}
--    ... c2:handshake() ...
--    c2:session_reused()                      --> true: abbreviated handshake
--
-- In **TLS 1.3** the server sends its ticket *after* the handshake, and wolfSSL
-- only processes it inside a later read: `conn:session()` right after the
-- handshake returns `nil, "no resumable session yet ..."`. Call `conn:read()`
-- once more (it processes the ticket even when it returns `nil, "wantread"`), or
-- use the context option `on_new_session(conn, session)`, which is called with
-- each new resumable session as soon as it exists (TLS 1.3: once per
-- NewSessionTicket, also after a resumption, since the server sends a fresh
-- ticket; TLS 1.2: once per full handshake). Keep the latest. On a server,
-- `on_new_session` is called for each session the server makes (its ticket or
-- its cache entry). An error raised in it fails the call that processed it
-- (`conn:read()` for a TLS 1.3 ticket) like any callback error.
--
-- `ctx:new{session = s}` tries to resume `s`; when `s` cannot be used (expired, a
-- TLS 1.3 session without its ticket) the handshake is simply a full one. Call
-- `conn:set_session(s)` yourself to learn why (`nil, message`).
--
-- Clients resume TLS 1.3 tickets, TLS 1.2 tickets and TLS 1.2 session ids; which
-- one depends on the server (`session_tickets = false` on a server means session
-- ids in TLS 1.2 and no resumption in TLS 1.3).
--
-- **Known wolfSSL 5.5 limitation (TLS 1.2 tickets, client side):** when a server
-- cannot decrypt a TLS 1.2 ticket (retired key, another fleet) it does a full
-- handshake, but a wolfSSL 5.5 *client* still believes it resumed (its
-- `DSH_CheckSessionId` treats any session with a ticket as accepted) and fails
-- with "Out of order message" (code -373). OpenSSL's client (tested:
-- spec/33-ticket-keys_spec.lua) falls back to a full handshake correctly. With this binding as the client, retry the
-- connection once without the session when a TLS 1.2 handshake that offered a
-- ticket fails with code -373; `wolfssl.session.ticket_rejected(session, code)`
-- tells you that case. TLS 1.3 is not affected.
--
-- ### Server side
--
-- * `session_cache = "on"|"off"` (or `true`/`false`), `session_cache_size = n`, `session_timeout = s`:
--   wolfSSL's internal (per process) cache of TLS 1.2 session ids.
-- * `session_tickets = false` (or `"off"`): no tickets (TLS 1.2 then resumes by session id,
--   TLS 1.3 does not resume).
-- * `session_store = {get = fn(id), put = fn(id, der), remove = fn(id)}`: the TLS 1.2
--   session-id cache kept outside the process (Redis, memcached, a shared dict).
--   `id` is the session id in lowercase hex, `der` the exported session (secret!).
--   `put` is called when a full handshake made a new session; `get` when a client
--   offers a session id, and returns the stored string or nil; `remove` (optional)
--   when a stored value is unusable (damaged or expired): delete it. wolfSSL's own
--   "remove" hook is not used: in wolfSSL 5.5 it fires whenever any session object
--   is freed, not when a session is evicted; expire entries in the store itself
--   (e.g. Redis `SET key value EX session_timeout`). The internal cache is bypassed
--   while a store is set. The functions run inside the handshake, through a
--   protected call: they must not yield (in OpenResty, prefetch the entry with
--   `wolfssl.hello.peek(bytes).session_id` before the handshake and return it
--   from `get`). An error in `get` is a cache miss (a full handshake; the error
--   is kept in `conn:last_error()`): a store outage does not fail handshakes.
--   An error in `put` fails the handshake like any callback error.
--   TLS 1.3 and ticket resumption never use the store: share ticket keys instead.
-- * `ticket_keys = {newest, older, ...}`: keys shared by every server of a fleet.
--   **Format:** each key is 32 random bytes, or the same as 64 hex digits
--   (`wolfssl.session.new_ticket_key()` makes one). The key name written into
--   each ticket is derived from the key (the first 16 bytes of
--   SHA-256("lua-wolfssl ticket key name\0" .. key)), and the encryption key too
--   (SHA-256("lua-wolfssl ticket key\0" .. key)); tickets are sealed with
--   ChaCha20-Poly1305 (12-byte random nonce, the key name as associated data).
--   The first key encrypts new tickets; every listed key decrypts. A ticket under
--   an older listed key resumes, and in TLS 1.3 the client gets a new ticket under
--   the newest key. A ticket under an unknown key means a full handshake.
--   Rotate with `ctx:set_ticket_keys{new, current}` (no restart), and retire a
--   key by leaving it out.
-- * `on_ticket_key(conn, name)`: a ticket arrived under a key name (32 hex digits)
--   that is not in `ticket_keys`: return that key (32 bytes) to accept it, or nil
--   (full handshake). With no `ticket_keys` at all it is also asked for the key
--   of each new ticket, with `name = nil`: first when `ctx:new` makes the
--   connection (nil then means this connection issues no ticket; the handshake
--   succeeds on both sides), then for each ticket. It runs inside the handshake
--   (or `ctx:new`): no yielding. An error in it fails the connection.
--
-- ### Exported sessions and trust
--
-- A session records what its first handshake established: the server name it
-- was made for, whether the server's certificate was verified (and the verify
-- mode), and a fingerprint of the trust settings of the context that made it
-- (verify, verify_depth, check_hostname, the CAs: cafile contents, capath,
-- cadata, system_ca; crl, ocsp_stapling, and the identity of on_verify).
-- `conn:set_session(s)` returns `nil, "session refused: ..."` and
-- `ctx:new{session = s}` raises that message when the context's trust settings
-- or the connection's server name differ; the session is never offered.
-- `session:trust()` shows the record (`server_name`, `verified`, `verify`).
-- On a resumed connection `verify_result()` reports the session's verification.
-- A session whose protocol version the context does not enable is not offered
-- (`set_session` says why; the handshake is a full one).
--
-- `s:export()` gives (lengths big-endian): `"LWS1"`, flags (1 byte: 1 verified,
-- 2 has a server name), verify mode (1 byte: 0 none, 1 peer, 2 require), the
-- trust fingerprint (32 bytes, SHA-256), the server name's length (2 bytes) and
-- the name, the length (4 bytes) of wolfSSL's serialisation and the
-- serialisation, then HMAC-SHA256 of all that under the session key (32
-- bytes). `import` checks the MAC first, then every length of wolfSSL's
-- serialisation against the field it fills (wolfSSL 5.5.4 does not), and only
-- then lets wolfSSL parse it. A server checks what `session_store.get` returns
-- the same way: anything else (damaged, forged, another key, other trust
-- settings) is a cache miss noted in `conn:last_error()`. The session key is
-- random per process unless `set_key` sets one: a fleet sharing a store sets
-- the same key everywhere. A context with `on_verify` resumes only sessions
-- made in the same process under the same function.
--
-- @module wolfssl.session
local core = require "wolfssl.core"

local M = {}

--- Load a session exported with `s:export()`. The bytes are checked before
-- wolfSSL parses them: their MAC under the session key (see `set_key`), then
-- every length against its field.
-- @tparam string bytes
-- @return session, or nil and a message: "not a valid exported session", or
-- "the exported session was not made under this process's session key ..."
function M.import(bytes)
  if type(bytes) ~= "string" then
    error(("bad argument #1 to 'import' (string expected, got %s)"):format(type(bytes)), 2)
  end
  return core.session_import(bytes)
end

local function hexkey(key, i, v)
  if type(v) ~= "string" then return nil, ("entry %d is not a string"):format(i) end
  if #v == 32 then return v end
  if #v == 64 and v:match("^%x+$") then
    return (v:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
  end
  return nil, ("entry %d must be 32 bytes or 64 hex digits (got %d bytes)"):format(i, #v)
end

--- Set the session key: the key of the MAC every exported session carries
-- (`s:export()`, and what a server hands `session_store.put`). Without it each
-- process has its own random key, so only the process that exported a session
-- can import it. Processes that share sessions (a fleet behind one Redis, a
-- client that keeps sessions on disk across restarts) set the same key. Call it
-- before exporting or importing; it applies to the whole Lua state.
-- **Secret**: whoever has it can make a server accept a forged session.
-- @tparam string key 32 bytes or 64 hex digits (`new_ticket_key()` makes one)
function M.set_key(key)
  local k, err = hexkey("key", 1, key)
  if not k then
    error("bad argument #1 to 'set_key' (" .. (type(key) == "string" and err:gsub("^entry 1 ", "")
      or ("string expected, got " .. type(key))) .. ")", 2)
  end
  return core.session_set_key(k)
end

-- Trust fingerprints. A function (on_verify) is known by an id unique in this
-- process (never reused, even once the function is gone): a context with
-- on_verify resumes only sessions made in this process under the same function.
local fn_ids, fn_next = setmetatable({}, { __mode = "k" }), 0
local PROCESS = core.random_bytes(16)

local function fn_id(f)
  if f == nil then return "" end
  local id = fn_ids[f]
  if not id then
    fn_next = fn_next + 1
    id = PROCESS .. fn_next
    fn_ids[f] = id
  end
  return id
end

-- The bytes a value stands for: strings as they are, certificates and CRL
-- objects by their DER, arrays item by item.
local function bytes_of(v)
  if type(v) == "table" then
    local parts = {}
    for i, item in ipairs(v) do
      local b = bytes_of(item)
      parts[i] = #b .. ":" .. b
    end
    return table.concat(parts)
  elseif type(v) == "userdata" and type(v.der) == "function" then
    return v:der()
  end
  return tostring(v)
end

--- Record the trust settings of a new context (called by wolfssl.context with
-- what it resolved: st.verify, st.check_hostname, st.system_ca, and st.ca, the
-- bytes of cafile).
function M._set_trust(ctx, o, st)
  local verify, check_hostname, system_ca, ca = st.verify, st.check_hostname, st.system_ca, st.ca
  local parts = {}
  for _, item in ipairs {
    { "mode", o.mode }, { "verify", verify }, { "verify_depth", o.verify_depth or 9 },
    { "check_hostname", check_hostname }, { "cafile", ca }, { "capath", o.capath },
    { "cadata", o.cadata }, { "system_ca", system_ca }, { "crl", o.crl },
    { "ocsp_stapling", o.ocsp_stapling }, { "on_verify", fn_id(o.on_verify) },
  } do
    local v = item[2] == nil and "" or bytes_of(item[2])
    parts[#parts + 1] = item[1] .. "=" .. #v .. ":" .. v -- (5.1's format %s stops at a NUL)
  end
  return core.ctx_trust(ctx, table.concat(parts, ";"))
end

--- A new random ticket key (32 bytes).
-- @treturn string
function M.new_ticket_key()
  return core.random_bytes(32)
end

--- True when `v` is a session object.
function M.is_session(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__index == core.session
end

--- After a failed client handshake that offered `session`: true when the
-- failure is the wolfSSL 5.5 TLS 1.2 rejected-ticket case (see above), so that
-- one retry without the session will work.
-- @param session the session that was offered
-- @param code the code returned by `conn:handshake()`
function M.ticket_rejected(session, code)
  return code == -373 and M.is_session(session) and session:has_ticket()
    and session:version() ~= "TLSv1.3"
end

--- Session objects.
-- @type session

--- The session as a string (format above: its trust record, wolfSSL's
-- serialisation and a MAC). **Secret key material.**
-- @function session:export

--- The trust record: `{server_name = , verified = boolean, verify = "none"|"peer"|"require"}`.
-- @function session:trust

--- The session id in lowercase hex (nil when there is none).
-- @function session:id

--- True when the session holds a ticket.
-- @function session:has_ticket

--- True when the session can be offered for resumption.
-- @function session:resumable

--- Lifetime in seconds.
-- @function session:timeout

--- When the session was made (seconds since the epoch).
-- @function session:time

--- "TLSv1.3", "TLSv1.2", ...
-- @function session:version

--- The cipher suite's name.
-- @function session:cipher

--- Connection methods.
-- @section connection

--- A Lua-owned copy of the connection's session (after the handshake).
-- Clients: nil and a message until the session is resumable (TLS 1.3: until
-- the ticket was read).
-- @function conn:session

--- Offer `s` for resumption (client, before the handshake): true, or nil and
-- why ("session refused: ..." when it was made under other trust settings or
-- for another server name).
-- @function conn:set_session

--- True when the handshake resumed a session (abbreviated handshake).
-- @function conn:session_reused

local check = require "wolfssl.check"
local features = core.features

local function key_list(key, v, level)
  if type(v) ~= "table" or #v == 0 then check.bad(key, "expected a non-empty array of keys", level, v) end
  if #v > 16 then check.bad(key, "at most 16 keys", level) end
  local out = {}
  for i = 1, #v do
    local k, err = hexkey(key, i, v[i])
    if not k then check.bad(key, err, level) end
    out[i] = k
  end
  return out
end

-- The session options of wolfssl.context (rows of wolfssl/options.lua):
-- apply(ctx, value, options, st) -> true or nil, msg (st.uv: the uservalue).

local function no_tickets(key, o)
  if not check.switch(o.session_tickets, true) then
    check.bad(key, ("needs session_tickets (it is %s)"):format(tostring(o.session_tickets)), 5)
  end
end

function M._apply_new_session(ctx, _, o)
  if not features.session_store then check.bad("on_new_session", "is not supported by this wolfSSL build", 4) end
  return true -- (installed by the registry when the row set it)
end

function M._apply_store(ctx, store, o, st)
  if not features.session_store then check.bad("session_store", "is not supported by this wolfSSL build", 4) end
  for _, f in ipairs({ "get", "put" }) do
    if not check.is_callable(store[f]) then check.bad("session_store", ("needs a function '%s'"):format(f), 4) end
  end
  if store.remove ~= nil and not check.is_callable(store.remove) then
    check.bad("session_store", "'remove' must be a function", 4)
  end
  for k in pairs(store) do
    if k ~= "get" and k ~= "put" and k ~= "remove" then
      check.bad("session_store", ("unknown field '%s' (expected get, put, remove)"):format(tostring(k)), 4)
    end
  end
  if not check.switch(o.session_cache, true) then
    check.bad("session_store", 'needs session_cache "on"', 4)
  end
  local get, put, remove = store.get, store.put, store.remove
  local uv = st.uv
  uv._store_get = function(_, id) return get(id) end
  uv._store_put = function(_, id, der) put(id, der) end
  if remove then uv._store_remove = function(_, id) remove(id) end end
  return true -- (the store's callbacks: installed by the registry when the row set it)
end

-- ticket_keys (the list) and on_ticket_key (keys asked for) are one C call
-- (a tail call: the same level as the row's apply)
local function apply_tickets(key, ctx, o, list, dynamic)
  if not features.ticket_keys then check.bad(key, "is not supported by this wolfSSL build", 4) end
  no_tickets(key, o)
  local ok, err = core.ctx_ticket_keys(ctx, list, dynamic)
  if not ok then check.bad(key, err, 4) end
  return true
end

function M._apply_ticket_keys(ctx, v, o)
  return apply_tickets("ticket_keys", ctx, o, key_list("ticket_keys", v, 5), o.on_ticket_key ~= nil)
end

function M._apply_ticket_key_cb(ctx, _, o)
  return apply_tickets("on_ticket_key", ctx, o, nil, true)
end

--- Replace a server context's ticket keys (newest first), e.g. to rotate:
-- `ctx:set_ticket_keys{new, current}`, later `ctx:set_ticket_keys{new}`.
-- Connections made afterwards and handshakes in progress use the new list.
-- (A method of contexts: wolfssl/init.lua puts it there.)
-- @function ctx:set_ticket_keys
function M._set_ticket_keys(self, keys)
  if self:mode() ~= "server" then error("set_ticket_keys: only server contexts issue tickets", 2) end
  if not features.ticket_keys then error("set_ticket_keys: not supported by this wolfSSL build", 2) end
  local ok, list = pcall(key_list, "keys", keys, 1)
  if not ok then error("bad argument #1 to 'set_ticket_keys' (" .. (tostring(list):gsub("^.-bad option 'keys': ", "")) .. ")", 2) end
  local done, err = core.ctx_ticket_keys(self, list)
  if not done then error("bad argument #1 to 'set_ticket_keys' (" .. err .. ")", 2) end
  return true
end

return M
