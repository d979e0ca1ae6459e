-- Post-quantum key exchange with a peer that is not wolfSSL: OpenSSL 3.5 (the
-- first OpenSSL with ML-KEM), built for the suite into build/peers/. Both ways
-- with only the hybrid X25519MLKEM768 allowed on the OpenSSL side, and our
-- default client against a server that knows X25519 only. A build without
-- ML-KEM (features.mlkem false) refuses the hybrid with an error naming it.
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"

local HYBRID = "X25519MLKEM768"

-- each line of `data` reversed, as `s_server -rev` answers it
local function reversed_lines(data)
  return (data:gsub("([^\n]*)\n", function(line) return line:reverse() .. "\n" end))
end

-- the types of the handshake messages our client receives
local function client_recording(o)
  local received = {}
  o = o or {}
  o.on_message = function(_, m)
    if m.direction == "received" then received[#received + 1] = m.type end
  end
  return H.client_ctx(o), received
end

describe("post-quantum key exchange with OpenSSL 3.5", function()
  after_each(P.stop_all)

  it("groups naming a hybrid: accepted with ML-KEM, else an error naming the group", function()
    for _, groups in ipairs { { HYBRID }, { "X25519", HYBRID }, "X25519:" .. HYBRID } do
      local made, ctx, err = pcall(wolfssl.context, { mode = "client", verify = "none", groups = groups })
      if wolfssl.features.mlkem then
        assert.is_true(made, ctx)
        assert.truthy(ctx, err)
      else
        assert.is_truthy(not made or ctx == nil, "a context was made with " .. HYBRID)
        assert.matches(HYBRID, tostring(made and err or ctx), 1, true)
      end
    end
  end)

  -- the hybrid needs ML-KEM on our side (features.mlkem; the test above covers its absence)
  local pq = wolfssl.features.mlkem and it
    or function(name) pending(name .. ": this wolfSSL build has no ML-KEM (features.mlkem = false)") end
  local openssl, why = P.openssl35()

  pq("our client and `s_server -groups X25519MLKEM768` agree on the hybrid; data both ways, clean close", function()
    assert(openssl, why)
    local port = P.start(openssl .. " s_server -accept %d -cert %s -key %s -groups " .. HYBRID .. " -rev -quiet",
      H.cert("server.pem"), H.cert("server.key"))
    local cctx, received = client_recording()
    local conn, sock = P.connect(port, cctx)
    assert.is_true(P.handshake(conn, sock))
    assert.equal("TLSv1.3", conn:version())
    assert.equal(HYBRID, conn:group())
    assert.is_false(H.contains(received, "hello_retry_request"))

    local data = P.payload(64 * 1024, "q")
    assert.equal(reversed_lines(data), P.pump(conn, sock, data, #data))
    -- "CLOSE" makes s_server end with its close_notify
    assert.equal(6, P.await(conn, sock, "write", "CLOSE\n"))
    local rest, reason = P.read_all(conn, sock)
    assert.equal("", rest)
    assert.equal("closed", reason)
    sock:close()
  end)

  pq("`s_client -groups X25519MLKEM768` and our server agree on the hybrid", function()
    assert(openssl, why)
    local ok, err, conn, out = P.serve_s_client(H.server_ctx(), "-groups " .. HYBRID, openssl)
    assert.is_true(ok, err)
    assert.equal(HYBRID, conn:group())
    assert.matches("Negotiated TLS1.3 group: " .. HYBRID, out, 1, true)
  end)

  it("our default client and an X25519-only server: X25519 at once, no HelloRetryRequest", function()
    assert(openssl, why)
    local port = P.start(openssl .. " s_server -accept %d -cert %s -key %s -groups X25519 -www",
      H.cert("server.pem"), H.cert("server.key"))
    local cctx, received = client_recording()
    local conn, sock = P.connect(port, cctx)
    assert.is_true(P.handshake(conn, sock))
    assert.equal("X25519", conn:group())
    assert.equal("server_hello", received[1])
    assert.is_false(H.contains(received, "hello_retry_request"))
    assert.truthy(P.await(conn, sock, "write", "GET / HTTP/1.0\r\n\r\n"))
    local page = P.read_all(conn, sock)
    assert.matches("Shared groups: x25519\n", page, 1, true) -- the server knows X25519 only
    sock:close()
  end)
end)
