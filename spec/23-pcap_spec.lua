-- wolfssl.trace.pcap: a connection's records as a pcapng capture that tshark
-- opens decrypted, with nothing to configure (issue 16, the FAQ "can you
-- decrypt SSL traffic?"). Needs tshark (Debian package tshark).
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"
local H = require "helpers"

local TLS13_KEYS = wolfssl.features.secret_callback -- TLS 1.3 secrets reach the capture

local function have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- tshark's view of a capture: one line per packet with the fields asked
local function tshark(path, args)
  assert(have("tshark"), "tshark is needed (Debian package tshark)")
  local p = assert(io.popen(("tshark -r %s %s 2>/dev/null"):format(path, args)))
  local out = p:read("*a")
  p:close()
  return out
end

-- Everything the tests ask of one capture, from one tshark run (each start
-- costs ~0.6 s of CPU): per packet, the fields below (a field that occurs
-- more than once in a packet: its values joined by ","), checksums checked.
local FIELDS = { "tls.handshake.type", "dtls.handshake.type", "tcp.srcport", "tcp.dstport",
  "udp.dstport", "udp.length", "http.request.method", "http.request.uri", "http.response.code",
  "http.content_length", "data.text", "tcp.checksum.status", "ip.checksum.status",
  "tcp.analysis.flags", "_ws.col.Info" }
local function view(path)
  local args = { "-o data.show_as_text:TRUE -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE",
    "-T fields -E separator=/t -E occurrence=a -E aggregator=," }
  for _, f in ipairs(FIELDS) do args[#args + 1] = "-e " .. f end
  local packets = {}
  for line in tshark(path, table.concat(args, " ")):gmatch("[^\n]+") do
    local p, i = {}, 0
    for v in (line .. "\t"):gmatch("([^\t]*)\t") do
      i = i + 1
      p[FIELDS[i]] = v
    end
    packets[#packets + 1] = p
  end
  assert(#packets > 0, "tshark read no packet from " .. path)
  local v = { packets = packets }
  -- the (D)TLS handshake message types, in order
  function v.types(field)
    local t = {}
    for _, p in ipairs(packets) do
      for n in p[field or "tls.handshake.type"]:gmatch("%d+") do t[#t + 1] = tonumber(n) end
    end
    return t
  end
  -- the HTTP messages tshark decoded: "GET /x", "200 <body length>", ...
  function v.http()
    local t = {}
    for _, p in ipairs(packets) do
      local words = {}
      for _, f in ipairs({ "http.request.method", "http.request.uri", "http.response.code", "http.content_length" }) do
        if p[f] ~= "" then words[#words + 1] = p[f] end
      end
      if #words > 0 then t[#t + 1] = table.concat(words, " ") end
    end
    return t
  end
  -- field `get` of the packets holding handshake message `msg` (a number)
  function v.with_type(msg, get, field)
    local t = {}
    for _, p in ipairs(packets) do
      for n in p[field or "tls.handshake.type"]:gmatch("%d+") do
        if tonumber(n) == msg then t[#t + 1] = p[get] break end
      end
    end
    return t
  end
  -- the values of `field` in the packets that have it
  function v.all(field)
    local t = {}
    for _, p in ipairs(packets) do
      if p[field] ~= "" then t[#t + 1] = p[field] end
    end
    return t
  end
  return v
end

local REQUEST = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
local function response(body)
  return ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s"):format(#body, body)
end

-- a client and a server, one of them captured (side "client" or "server"),
-- an HTTP exchange, a clean close; returns the capture's path and the pair
local function captured(side, copts, sopts, body)
  local path = os.tmpname()
  local c = H.client_ctx(copts):new({ server_name = "localhost" })
  local s = H.server_ctx(sopts):new()
  local cap = assert(trace.pcap(side == "server" and s or c, path))
  assert(H.handshake(c, s))
  assert.equal(REQUEST, H.transfer(c, s, REQUEST))
  local resp = response(body or "hello, tshark")
  assert.equal(resp, H.transfer(s, c, resp))
  local info = cap:info()
  cap:close()
  c:close(); s:close()
  return path, info
end

describe("wolfssl.trace.pcap", function()
  local paths = {}
  local function track(p) paths[#paths + 1] = p return p end
  teardown(function() for _, p in ipairs(paths) do os.remove(p) end end)

  it("TLS 1.2 (AES-GCM, ChaCha20-Poly1305): tshark shows every handshake message and the HTTP inside, both ways", function()
    for _, suite in ipairs({ "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305" }) do
      local path, info = captured("client", { max_version = "tls1.2", ciphers = suite }, { session_tickets = false })
      track(path)
      assert.equal(1, info.keylog_lines, suite) -- CLIENT_RANDOM, on every build
      -- ClientHello, ServerHello, Certificate, ServerKeyExchange, ServerHelloDone,
      -- ClientKeyExchange, then both Finished messages: decrypted
      local v = view(path)
      assert.same({ 1, 2, 11, 12, 14, 16, 20, 20 }, v.types(), suite)
      assert.same({ "GET /hello", "200 13" }, v.http(), suite)
      -- the client's port to the server's 443
      assert.same({ "443" }, v.with_type(1, "tcp.dstport"))
    end
  end)

  it("TLS 1.3: the encrypted handshake and the data decrypted where the build hands out the secrets", function()
    local path, info = captured("client", {}, {})
    track(path)
    local v = view(path)
    local types = v.types()
    if TLS13_KEYS then
      assert.equal(4, info.keylog_lines) -- handshake and application traffic secrets, both sides
      -- ClientHello, ServerHello, EncryptedExtensions, Certificate, CertificateVerify,
      -- Finished (server, client), NewSessionTicket
      assert.same({ 1, 2, 8, 11, 15, 20, 20, 4 }, types)
      assert.same({ "GET /hello", "200 13" }, v.http())
    else
      -- no TLS 1.3 secret callback: the capture holds no key; only the hellos are in clear
      assert.equal(0, info.keylog_lines)
      assert.same({ 1, 2 }, types)
      assert.same({}, v.http())
      assert.matches("Application Data", table.concat(v.all("_ws.col.Info"), "\n"))
    end
  end)

  it("a server's capture: the server on port 443, its records decrypted", function()
    local path = track((captured("server", { max_version = "tls1.2" }, {})))
    local v = view(path)
    assert.same({ "443" }, v.with_type(2, "tcp.srcport"))
    assert.same({ "GET /hello", "200 13" }, v.http())
    if TLS13_KEYS then
      path = track((captured("server", {}, {})))
      assert.same({ "GET /hello", "200 13" }, view(path).http())
    end
  end)

  it("big data: many records over many segments, reassembled, checksums and sequence numbers right", function()
    local body = ("0123456789abcdef"):rep(8192) -- 128 KiB: eight records at least
    local path = track((captured("client", { max_version = "tls1.2" }, {}, body)))
    local v = view(path)
    assert.same({ "GET /hello", "200 " .. #body }, v.http())
    -- no bad checksum (status 0; 1 is good), no lost / out-of-order / retransmitted segment
    for i, p in ipairs(v.packets) do
      assert.is_true(p["tcp.checksum.status"] == "1" and p["ip.checksum.status"] == "1", "packet " .. i)
      assert.equal("", p["tcp.analysis.flags"], "packet " .. i)
    end
    local summary = table.concat(v.all("_ws.col.Info"), "\n")
    assert.matches("%[SYN%]", summary)
    assert.matches("%[FIN, ACK%]", summary)
  end)

  it("the capture is readable before close(), after each call", function()
    local path = track(os.tmpname())
    local c = H.client_ctx({ max_version = "tls1.2" }):new({ server_name = "localhost" })
    local s = H.server_ctx():new()
    assert(trace.pcap(c, path))
    assert(H.handshake(c, s))
    assert.same({ 1, 2, 11, 12, 14, 16, 20, 4, 20 }, view(path).types())
    c:close(); s:close()
  end)

  it("fd mode: the bytes that went through the socket", function()
    local socket = require "socket"
    local listener = assert(socket.bind("127.0.0.1", 0))
    local _, port = listener:getsockname()
    local csock = assert(socket.tcp())
    assert(csock:connect("127.0.0.1", port))
    local ssock = assert(listener:accept())
    listener:close()
    csock:settimeout(0); ssock:settimeout(0)
    local path = track(os.tmpname())
    local c = H.client_ctx({ max_version = "tls1.2" }):new({ fd = csock, server_name = "localhost" })
    local s = H.server_ctx():new({ fd = ssock })
    assert(trace.pcap(c, path))
    local cok, sok
    for _ = 1, 200 do
      cok = cok or c:handshake()
      sok = sok or s:handshake()
      if cok and sok then break end
      socket.select({ csock, ssock }, nil, 0.2)
    end
    assert(cok and sok)
    assert(c:write(REQUEST))
    local got = ""
    for _ = 1, 50 do
      local d = s:read()
      if d then got = got .. d end
      if #got >= #REQUEST then break end
      socket.select({ ssock }, nil, 0.2)
    end
    assert.equal(REQUEST, got)
    assert.same({ "GET /hello" }, view(path).http())
    c:close(); s:close(); csock:close(); ssock:close()
  end)

  -- DTLS in memory mode: every datagram across each way, until both are done
  local function dtls_handshake(c, s)
    local done = {}
    for _ = 1, 50 do
      for i, pair in ipairs({ { c, s }, { s, c } }) do
        if not done[i] then
          local ok, err = pair[1]:handshake()
          if ok then done[i] = true else assert(err == "wantread", err) end
        else
          pair[1]:read() -- (DTLS 1.3: the peer's ACK, its ticket)
        end
        while true do
          local d = pair[1]:drain()
          if d == "" then break end
          pair[2]:feed(d)
        end
      end
      if done[1] and done[2] then return true end
    end
    return false
  end

  local function dtls_captured(v)
    local path = track(os.tmpname())
    local c = H.client_ctx({ dtls = true, min_version = v, max_version = v }):new({ server_name = "localhost" })
    local s = H.server_ctx({ dtls = true, min_version = v, max_version = v }):new()
    local cap = assert(trace.pcap(c, path))
    assert.is_true(dtls_handshake(c, s))
    assert(c:write("hello, datagram"))
    s:feed(c:drain())
    assert.equal("hello, datagram", s:read())
    local info = cap:info()
    cap:close()
    c:close(); s:close()
    return path, info
  end

  it("DTLS 1.2: one UDP packet per datagram, to port 4433; tshark decrypts the Finished messages and the data", function()
    if not wolfssl.features.dtls then pending("this wolfSSL build has no DTLS") return end
    local path, info = dtls_captured("dtls1.2")
    assert.equal(1, info.keylog_lines) -- CLIENT_RANDOM
    local v = view(path)
    assert.equal(info.packets, #v.all("udp.length"))
    assert.equal("4433", v.with_type(1, "udp.dstport", "dtls.handshake.type")[1])
    -- ClientHello, HelloVerifyRequest, ClientHello (with the cookie), ServerHello ...
    -- ClientKeyExchange, Finished (decrypted), NewSessionTicket, Finished (decrypted)
    assert.same({ 1, 3, 1, 2, 11, 12, 14, 16, 20, 4, 20 }, v.types("dtls.handshake.type"))
    assert.same({ "hello, datagram" }, v.all("data.text"))
  end)

  it("DTLS 1.3: the datagrams and the traffic secrets in the capture", function()
    if not wolfssl.features.dtls13 then pending("this wolfSSL build has no DTLS 1.3") return end
    local path, info = dtls_captured("dtls1.3")
    -- handshake and application traffic secrets, both sides (no CLIENT_RANDOM:
    -- DTLS 1.3 has no master secret of TLS 1.2's kind)
    assert.equal(4, info.keylog_lines)
    local v = view(path)
    assert.equal(info.packets, #v.all("udp.length"))
    -- (tshark 4.0 reads the hellos; it does not know DTLS 1.3's unified header)
    assert.equal("1", v.all("dtls.handshake.type")[1])
  end)

  it("refuses what it cannot do: bad arguments, a connection already under way, a path it cannot write", function()
    assert.has_error(function() trace.pcap(42, "x") end,
      "bad argument #1 to 'pcap' (wolfssl.Connection expected, got number)")
    local c = H.client_ctx():new({ server_name = "localhost" })
    assert.has_error(function() trace.pcap(c, 42) end, "bad argument #2 to 'pcap' (file name expected, got number)")
    local ok, err = trace.pcap(c, "/nonexistent-dir/x.pcapng")
    assert.is_nil(ok)
    assert.matches("nonexistent", err)
    local path = track(os.tmpname())
    assert(trace.pcap(c, path))
    ok, err = trace.pcap(c, path)
    assert.is_nil(ok)
    assert.equal("this connection is already being captured", err)
    local s = H.server_ctx():new()
    assert(H.handshake(c, s))
    local c2 = H.client_ctx():new({ server_name = "localhost" })
    local s2 = H.server_ctx():new()
    assert(H.handshake(c2, s2))
    ok, err = trace.pcap(c2, track(os.tmpname()))
    assert.is_nil(ok)
    assert.matches("call wolfssl.trace.pcap right after ctx:new", err)
    c:close(); s:close(); c2:close(); s2:close()
  end)
end)
