--- The key schedule as a step of the trace: which secrets and keys a
-- handshake derives, how, from what, and how long each is.
--
-- `wolfssl.trace` builds a step where the keys come into being (TLS 1.3:
-- the handshake keys after ServerHello, the application keys after the
-- server's Finished, each KeyUpdate; TLS 1.2: the master secret and key block
-- after ClientKeyExchange, or from the resumed session) and renders it:
--
--     step = {type = "key_schedule", stage = "early"|"handshake"|"application"|"key_update"|"master_secret",
--             kdf = "HKDF-SHA256"|"TLS 1.2 PRF (SHA-256)"|..., inputs = {words, ...},
--             secrets = {{name = "client_handshake_traffic_secret", length = 32,
--                         how = "Derive-Secret(...)", label = NSS key log label | nil}, ...},
--             keys = {key = 16, iv = 12, mac = 0, cipher = "AES-128-GCM"}}
--
-- Secret bytes never live in a step: `render(step, values)` prints them only
-- when given (values: NSS label -> bytes, from the connection when the
-- trace was asked for them with `secrets = true`).
-- @module wolfssl.keyschedule
local M = {}

local HASH_LEN = { ["SHA-256"] = 32, ["SHA-384"] = 48 }

--- What a cipher suite (IANA name) needs: PRF/HKDF hash, key, IV and MAC key lengths.
function M.suite(name, tls13)
  name = tostring(name or "")
  local bulk = name:match("_WITH_(.+)$") or name:match("^TLS_(.+)$") or name
  local p = { hash = bulk:match("_SHA384$") and "SHA-384" or "SHA-256" }
  p.hash_len = HASH_LEN[p.hash]
  if bulk:match("^AES_128") then p.key, p.cipher = 16, "AES-128"
  elseif bulk:match("^AES_256") then p.key, p.cipher = 32, "AES-256"
  elseif bulk:match("^CHACHA20") then p.key, p.cipher = 32, "ChaCha20-Poly1305"
  elseif bulk:match("^3DES") then p.key, p.cipher = 24, "3DES"
  elseif bulk:match("^CAMELLIA_128") then p.key, p.cipher = 16, "Camellia-128"
  elseif bulk:match("^CAMELLIA_256") then p.key, p.cipher = 32, "Camellia-256"
  end
  local gcm, ccm = bulk:match("_GCM_") or bulk:match("_GCM$"), bulk:match("_CCM")
  p.aead = (gcm or ccm or bulk:match("^CHACHA20_POLY1305")) and true or false
  if p.cipher and p.cipher:match("^AES") then
    p.cipher = p.cipher .. (gcm and "-GCM" or ccm and "-CCM" or "-CBC")
  end
  if tls13 then
    p.iv, p.mac = 12, 0
  elseif p.aead then
    p.iv, p.mac = p.cipher == "ChaCha20-Poly1305" and 12 or 4, 0
  else -- CBC: the IV travels in each record; an HMAC key per side
    p.iv = 0
    p.mac = bulk:match("_SHA384$") and 48 or bulk:match("_SHA256$") and 32 or bulk:match("_SHA$") and 20 or 0
  end
  return p
end

local function secret(name, length, how, label)
  return { name = name, length = length, how = how, label = label }
end

-- o.dtls: DTLS 1.3 (RFC 9147 5.9: HKDF labels begin "dtls13", not "tls13 ";
-- a record number key "sn" besides "key" and "iv")
local function step(stage, kdf, inputs, secrets, suite, o)
  if o and o.dtls then inputs[#inputs + 1] = "DTLS 1.3 labels (\"dtls13\" prefix)" end
  return { type = "key_schedule", stage = stage, kdf = kdf, inputs = inputs, secrets = secrets,
           dtls = o and o.dtls or nil,
           keys = { key = suite.key, iv = suite.iv, mac = suite.mac, cipher = suite.cipher } }
end

--- TLS 1.3, after ServerHello. o: suite (name), group (key share) or nil,
-- psk: true (a resumption), "external" (the context has pre-shared keys too: either)
function M.tls13_handshake(o)
  local s = M.suite(o.suite, true)
  local n = s.hash_len
  local shared = o.group and (o.group .. " shared secret") or nil
  local inputs = {}
  if o.psk == "external" then inputs[#inputs + 1] = "the PSK (a pre-shared key, or a resumption ticket's secret)"
  elseif o.psk then inputs[#inputs + 1] = "the PSK (resumption secret of the earlier session)" end
  if shared then -- a post-quantum hybrid (X25519MLKEM768 ...): both secrets, concatenated
    inputs[#inputs + 1] = shared .. (o.group:find("MLKEM", 1, true) and " (ECDHE + ML-KEM)" or " (ECDHE)")
  end
  inputs[#inputs + 1] = "transcript hash ClientHello..ServerHello"
  local th = "ClientHello..ServerHello"
  return step("handshake", "HKDF-" .. s.hash:gsub("-", ""), inputs, {
    secret("early_secret", n, o.psk and "HKDF-Extract(0, PSK)" or "HKDF-Extract(0, 0): no PSK"),
    secret("handshake_secret", n, ("HKDF-Extract(Derive-Secret(early_secret, \"derived\"), %s)")
           :format(shared or "0: PSK only, no ECDHE")),
    secret("client_handshake_traffic_secret", n,
           ("Derive-Secret(handshake_secret, \"c hs traffic\", %s)"):format(th), "CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
    secret("server_handshake_traffic_secret", n,
           ("Derive-Secret(handshake_secret, \"s hs traffic\", %s)"):format(th), "SERVER_HANDSHAKE_TRAFFIC_SECRET"),
  }, s, o)
end

--- TLS 1.3 early data (0-RTT), shown after ServerHello (the suite is the
-- resumed session's). o: suite
function M.tls13_early(o)
  local s = M.suite(o.suite, true)
  local n = s.hash_len
  return step("early", "HKDF-" .. s.hash:gsub("-", ""),
              { "the PSK (resumption secret of the earlier session)", "transcript hash ClientHello" }, {
    secret("early_secret", n, "HKDF-Extract(0, PSK)"),
    secret("client_early_traffic_secret", n, "Derive-Secret(early_secret, \"c e traffic\", ClientHello)",
           "CLIENT_EARLY_TRAFFIC_SECRET"),
  }, s, o)
end

--- TLS 1.3, after the server's Finished. o: suite
function M.tls13_application(o)
  local s = M.suite(o.suite, true)
  local n = s.hash_len
  local th = "ClientHello..server Finished"
  return step("application", "HKDF-" .. s.hash:gsub("-", ""), { "transcript hash " .. th }, {
    secret("master_secret", n, "HKDF-Extract(Derive-Secret(handshake_secret, \"derived\"), 0)"),
    secret("client_application_traffic_secret_0", n,
           ("Derive-Secret(master_secret, \"c ap traffic\", %s)"):format(th), "CLIENT_TRAFFIC_SECRET_0"),
    secret("server_application_traffic_secret_0", n,
           ("Derive-Secret(master_secret, \"s ap traffic\", %s)"):format(th), "SERVER_TRAFFIC_SECRET_0"),
  }, s, o)
end

--- TLS 1.3 KeyUpdate. o: suite, side ("client"|"server"), generation (the new one)
function M.tls13_key_update(o)
  local s = M.suite(o.suite, true)
  local g = o.generation or 1
  return step("key_update", "HKDF-" .. s.hash:gsub("-", ""), { ("the %s's previous traffic secret"):format(o.side) }, {
    secret(("%s_application_traffic_secret_%d"):format(o.side, g), s.hash_len,
           ("HKDF-Expand-Label(%s_application_traffic_secret_%d, \"traffic upd\", \"\", %d)")
           :format(o.side, g - 1, s.hash_len)),
  }, s, o)
end

--- TLS 1.2, after ClientKeyExchange (or ServerHello / ChangeCipherSpec when
-- resumed). o: suite, kx ("ECDHE", "DHE", "RSA", ...), group, dh_bits, ems, resumed
function M.tls12(o)
  local s = M.suite(o.suite, false)
  local kdf = ("TLS 1.2 PRF (%s)"):format(s.hash)
  local inputs, ms
  if o.resumed then
    inputs = { "the master secret of the resumed session", "both new randoms" }
    ms = secret("master_secret", 48, "kept from the resumed session", "MASTER_SECRET")
  else
    local kx, pms = o.kx or "?", nil
    if kx == "RSA" then
      pms = "premaster secret (48 bytes) chosen by the client and sent encrypted to the " ..
            "server's RSA key: no forward secrecy (whoever gets that key later decrypts this session)"
    elseif kx:match("^ECDHE") or kx:match("^ECDH") then
      pms = ("%s shared secret (%s) as premaster secret"):format(o.group or "ECDH", kx)
    elseif kx:match("^DHE") then
      pms = ("DH shared secret (%s) as premaster secret"):format(o.dh_bits and (o.dh_bits .. "-bit group") or kx)
    else
      pms = ("premaster secret from the %s key exchange"):format(kx)
    end
    if kx ~= "PSK" and kx:match("PSK") then pms = pms .. " and the pre-shared key" end
    inputs = { pms }
    if o.ems then
      inputs[#inputs + 1] = "session hash ClientHello..ClientKeyExchange (extended master secret)"
      ms = secret("master_secret", 48, "PRF(premaster_secret, \"extended master secret\", session_hash)",
                  "MASTER_SECRET")
    else
      inputs[#inputs + 1] = "client_random + server_random (no extended master secret)"
      ms = secret("master_secret", 48, "PRF(premaster_secret, \"master secret\", client_random + server_random)",
                  "MASTER_SECRET")
    end
  end
  local block = 2 * ((s.key or 0) + s.iv + s.mac)
  return step("master_secret", kdf, inputs, {
    ms,
    secret("key_block", block, "PRF(master_secret, \"key expansion\", server_random + client_random)"),
  }, s)
end

local STAGE = {
  handshake = "handshake keys", application = "application keys",
  key_update = "key update", master_secret = "master secret and key block",
  early = "early data key (0-RTT)",
}

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- the write keys: sizes, where they come from
local function keys_line(st)
  local k, p = st.keys, {}
  if k.mac and k.mac > 0 then p[#p + 1] = ("MAC key %d bytes"):format(k.mac) end
  p[#p + 1] = ("write key %s bytes"):format(k.key or "?")
  if k.iv and k.iv > 0 then p[#p + 1] = ("IV %d bytes"):format(k.iv) end
  local s = st.stage == "early" and ("client " .. table.concat(p, " + ") .. " (only the client sends early data)")
      or "client and server " .. table.concat(p, " + ") .. " each"
  if st.dtls then
    s = s .. " + record number key (sn) " .. (k.key or "?") ..
        " bytes, HKDF-Expand-Label(traffic secret, \"key\" / \"iv\" / \"sn\")"
  elseif st.kdf:match("^HKDF") then
    s = s .. ", HKDF-Expand-Label(traffic secret, \"key\" / \"iv\")"
  else
    s = "from key_block: " .. s
  end
  local cipher = k.cipher or "?"
  if k.mac == 0 then return s .. ("; AEAD (%s): no MAC key"):format(cipher) end
  return s .. (" (%s); the IV travels in each record"):format(cipher)
end

--- The lines for a step. values: NSS label -> secret bytes (nil: no bytes
-- shown); want: the bytes were asked for (a secret without a value says why).
function M.render(st, values, want)
  local lines = {
    ("  **  %-19s %s; inputs: %s"):format("Keys", (STAGE[st.stage] or st.stage) .. ", " .. st.kdf,
                                          table.concat(st.inputs, ", ")),
  }
  for _, s in ipairs(st.secrets) do
    lines[#lines + 1] = ("        %-36s %3d bytes  %s"):format(s.name, s.length, s.how)
    if want then
      local v = values and s.label and values[s.label]
      if v then
        lines[#lines + 1] = ("          = %s  [SECRET, shown because secrets = true]"):format(hex(v))
      elseif s.label then
        lines[#lines + 1] = "          (not available: this wolfSSL build has no secret callback)"
      else
        lines[#lines + 1] = "          (kept inside wolfSSL: not handed out)"
      end
    end
  end
  if st.stage ~= "key_update" then lines[#lines + 1] = "        " .. keys_line(st) end
  return lines
end

return M
