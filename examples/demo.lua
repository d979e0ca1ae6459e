-- make demo: every handshake step visible.
--
-- Runs a client and a server in this one process, over real TCP sockets on
-- 127.0.0.1, with the test certificates in spec/fixtures/certs, and prints the
-- client's view of each handshake (wolfssl.trace) and a summary:
-- TLS 1.3 full and resumed, TLS 1.2 full (ECDHE) and abbreviated (session id),
-- a HelloRetryRequest, mutual TLS, two failures, the static RSA key
-- transport of TLS 1.2 (opt-in; refused where the build has no such suite),
-- and TLS 1.3 early data (0-RTT) where the build has it.
-- Each handshake shows its key schedule ("**  Keys"), no secret bytes.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local socket = require "socket"

local CERTS = os.getenv("WOLFSSL_DEMO_CERTS") or "spec/fixtures/certs/"
local function cert(name) return CERTS .. name end

local function out(...) io.write(...) io.write("\n") end

-- a connected pair of non-blocking TCP sockets on loopback
local function tcp_pair()
  local listener = assert(socket.bind("127.0.0.1", 0))
  local _, port = listener:getsockname()
  local client = assert(socket.tcp())
  client:settimeout(2)
  assert(client:connect("127.0.0.1", port))
  listener:settimeout(2)
  local server = assert(listener:accept())
  listener:close()
  client:settimeout(0)
  server:settimeout(0)
  return client, server, port
end

-- a connected pair of non-blocking UDP sockets on loopback (DTLS)
local function udp_pair()
  local a, b = assert(socket.udp()), assert(socket.udp())
  assert(a:setsockname("127.0.0.1", 0))
  assert(b:setsockname("127.0.0.1", 0))
  local aip, aport = a:getsockname()
  local bip, bport = b:getsockname()
  assert(a:setpeername(bip, bport))
  assert(b:setpeername(aip, aport))
  a:settimeout(0)
  b:settimeout(0)
  return a, b
end

-- step both ends until both are done or one fails (bounded)
local function handshake(c, s, csock, ssock)
  local cdone, sdone, cerr, serr
  local deadline = socket.gettime() + 5
  while socket.gettime() < deadline do
    if not cdone and not cerr then
      local ok, err = c:handshake()
      if ok then cdone = true elseif err ~= "wantread" and err ~= "wantwrite" then cerr = err end
    end
    if not sdone and not serr then
      local ok, err = s:handshake()
      if ok then sdone = true elseif err ~= "wantread" and err ~= "wantwrite" then serr = err end
    end
    if (cdone or cerr) and (sdone or serr) then break end
    if cerr or serr then -- let the other side read the alert, briefly
      socket.select({ csock, ssock }, nil, 0.05)
      if not cdone and not cerr then local ok, err = c:handshake(); if not ok and err ~= "wantread" then cerr = err end end
      if not sdone and not serr then local ok, err = s:handshake(); if not ok and err ~= "wantread" then serr = err end end
      break
    end
    socket.select({ csock, ssock }, nil, 0.2)
  end
  return cdone and sdone, cerr, serr
end

-- the clean close: both shutdown() until true (each side's close_notify
-- sent and received), then the sockets can go (bounded)
local function close_both(c, s, csock, ssock)
  local cdone, sdone
  local deadline = socket.gettime() + 2
  while not (cdone and sdone) and socket.gettime() < deadline do
    local ok, err
    if not cdone then ok, err = c:shutdown(); cdone = ok or (err ~= "wantread" and err ~= "wantwrite") end
    if not sdone then ok, err = s:shutdown(); sdone = ok or (err ~= "wantread" and err ~= "wantwrite") end
    if not (cdone and sdone) then socket.select({ csock, ssock }, nil, 0.2) end
  end
end

-- read everything available on conn within a short time (bounded)
local function read_some(conn, sock, want)
  local got = {}
  local deadline = socket.gettime() + 2
  while socket.gettime() < deadline do
    local data, err = conn:read()
    if data then
      got[#got + 1] = data
      if #table.concat(got) >= want then break end
    elseif err ~= "wantread" then break
    else socket.select({ sock }, nil, 0.1) end
  end
  return table.concat(got)
end

local count, ran = 0, 0
local function header(title)
  count = count + 1
  out("")
  out(("%d. %s"):format(count, title))
  out(("-"):rep(#title + 3))
end

-- one scenario: title, client context options, server context, new{} options
-- (early: data the client sends as TLS 1.3 early data, before its handshake)
local function run(title, copts, sctx, newopts, show_server, early)
  header(title)
  ran = ran + 1
  local rec = trace.attach(copts)
  local cctx = assert(wolfssl.context(copts))
  local csock, ssock = (copts.dtls and udp_pair or tcp_pair)()
  local c = cctx:new((function()
    local t = { fd = csock }
    for k, v in pairs(newopts or {}) do t[k] = v end
    return t
  end)())
  local s = sctx:new({ fd = ssock })
  if early then assert(c:write_early(early)) end
  local ok, cerr, serr = handshake(c, s, csock, ssock)
  local session
  if ok then
    -- a little data: the client reads the server's tickets (TLS 1.3) meanwhile
    c:write("ping")
    local got = read_some(s, ssock, 4 + #(early or ""))
    if early then
      out(("     the server read %q before \"ping\" (early data %s)"):format(
        got:sub(1, #got - 4), s:early_data()))
    end
    s:write("pong")
    read_some(c, csock, 4)
    if c.session then session = c:session() end
    close_both(c, s, csock, ssock)
    rec:summary(c)
    if show_server then
      local cert = s:peer_certificate()
      local vok, why = s:verify_result()
      out(("     server side: client certificate %s%s"):format(
        cert and trace.cert_line(cert) or "none",
        vok and ", verified" or (", not verified: " .. tostring(why))))
    end
  else
    rec:summary(c, cerr or ("server failed: " .. tostring(serr)))
    if serr and cerr then out(("     the server saw: %s"):format(serr)) end
  end
  c:close(); s:close()
  csock:close(); ssock:close()
  return session
end

local t0 = socket.gettime()
out(("lua-wolfssl %s on wolfSSL %s (%s build): every handshake step, client's view"):format(
  wolfssl.VERSION, wolfssl.WOLFSSL_VERSION, wolfssl.features.build or "?"))
out("  C -> S: the client sent it; C <- S: the client received it.")
out("  **  Keys: the key schedule, where the keys are derived: which secrets and keys, their sizes,")
out("      the KDF and its inputs (secret bytes only when asked: trace.attach(o, sink, {secrets = true})).")
if not wolfssl.features.msg_trace_decrypted then
  out("  This wolfSSL build has no TLS 1.3 secret callback: messages inside encrypted")
  out("  records are shown from the connection's state after the fact, marked [inferred].")
end

local function client(o)
  local t = { mode = "client", cafile = cert("ca.pem") }
  for k, v in pairs(o or {}) do t[k] = v end
  return t
end
local function server(o)
  local t = { mode = "server", certificate = cert("server.pem"), key = cert("server.key") }
  for k, v in pairs(o or {}) do t[k] = v end
  return assert(wolfssl.context(t))
end

-- 1, 2: TLS 1.3 full, then resumed with the ticket
local s13 = server()
local sess = assert(run("TLS 1.3 full handshake", client(), s13, { server_name = "localhost" }),
                    "the full handshake left no session to resume")
run("TLS 1.3 resumption (PSK from the ticket of handshake 1)", client(), s13,
    { server_name = "localhost", session = sess })

-- 3, 4: TLS 1.2 full ECDHE, then abbreviated by session id (tickets off)
local s12 = server({ session_tickets = false })
sess = run("TLS 1.2 full handshake (ECDHE)", client({ max_version = "tls1.2", session_tickets = false }), s12,
           { server_name = "localhost" })
assert(sess, "the TLS 1.2 handshake left no session to resume")
run("TLS 1.2 abbreviated handshake (session id of handshake 3)",
    client({ max_version = "tls1.2", session_tickets = false }), s12,
    { server_name = "localhost", session = sess })

-- 5: HelloRetryRequest: the client's first key share is X25519, the server takes only P-256
run("HelloRetryRequest (client key share X25519, server accepts only P-256)",
    client({ groups = { "X25519", "P-256" } }), server({ groups = { "P-256" } }),
    { server_name = "localhost" })

-- 6: mutual TLS
run("Mutual TLS (the server requires a client certificate)",
    client({ certificate = cert("client.pem"), key = cert("client.key") }),
    server({ verify = "require", cafile = cert("ca.pem") }), { server_name = "localhost" }, true)

-- 7, 8: failures
run("Failure: the server's certificate has expired", client(),
    server({ certificate = cert("expired.pem"), key = cert("expired.key") }), { server_name = "localhost" })
run("Failure: the certificate is for another host name", client(),
    server({ certificate = cert("wronghost.pem"), key = cert("wronghost.key") }), { server_name = "localhost" })

-- 9: the article's steps 4-5: the client encrypts a premaster secret to the
-- server's RSA key. Our defaults refuse it (no forward secrecy); opt-in here.
local RSA_SUITE = "AES128-GCM-SHA256"
local rsa_title = ('TLS 1.2 static RSA key transport (opt-in: ciphers = "%s" on both sides)'):format(RSA_SUITE)
local rsa_client = client({ cafile = cert("rsa-ca.pem"), max_version = "tls1.2", ciphers = RSA_SUITE })
local okc, cerr = pcall(wolfssl.context, rsa_client)
if okc then
  run(rsa_title, rsa_client, server({ certificate = cert("rsa-server.pem"), key = cert("rsa-server.key"),
                                      max_version = "tls1.2", ciphers = RSA_SUITE }), { server_name = "localhost" })
  out("     no forward secrecy: whoever gets the server's RSA key later decrypts this recorded session;")
  out("     the ECDHE exchange of handshake 3 replaced it (a fresh key pair each time)")
else
  header(rsa_title)
  out("  refused by this wolfSSL build: " .. tostring(cerr):gsub("^.-bad option", "bad option"))
  out("     (static RSA suites are not compiled in: the client would encrypt the premaster secret to the")
  out("     server's RSA key, with no forward secrecy; the ECDHE exchange of handshake 3 replaced it)")
end

-- 10, 11: DTLS over UDP: the server's stateless cookie first; [epoch seq msg] is where each
-- record sits (DTLS 1.3 encrypts its records' numbers)
run("DTLS 1.2 over UDP (HelloVerifyRequest: the server's stateless cookie first)",
    client({ dtls = true, max_version = "dtls1.2" }), server({ dtls = true, max_version = "dtls1.2" }),
    { server_name = "localhost" })
if wolfssl.features.dtls13 then
  run("DTLS 1.3 over UDP (HelloRetryRequest with a cookie)",
      client({ dtls = true, min_version = "dtls1.3" }), server({ dtls = true, min_version = "dtls1.3" }),
      { server_name = "localhost" })
else
  header("DTLS 1.3 over UDP")
  out("  not in this wolfSSL build (features.dtls13 is false)")
end

-- 12: TLS 1.3 early data (0-RTT): the client's request rides with its
-- ClientHello, under a ticket of a server that allows it
local early_title = "TLS 1.3 early data (0-RTT) with the ticket of a max_early_data server"
if wolfssl.features.early_data then
  local s0 = server({ max_early_data = 1024 })
  -- a first, untraced handshake gets the ticket
  local csock, ssock = tcp_pair()
  local c, s = assert(wolfssl.context(client())):new({ fd = csock, server_name = "localhost" }), s0:new({ fd = ssock })
  assert(handshake(c, s, csock, ssock), "the handshake for the 0-RTT ticket failed")
  s:write("ticket")
  read_some(c, csock, 6)
  local ticket = c:session()
  c:close(); s:close(); csock:close(); ssock:close()
  run(early_title, client(), s0, { server_name = "localhost", session = ticket }, false, "GET /status (idempotent)")
  out("     early data can be replayed by whoever records it: idempotent requests only")
else
  header(early_title)
  out("  not in this wolfSSL build (wolfssl.features.early_data is false)")
end

out("")
out(("%d handshakes in %.2f s"):format(ran, socket.gettime() - t0))
