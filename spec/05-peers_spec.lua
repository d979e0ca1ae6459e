-- Real peers on 127.0.0.1: our client against openssl s_server and gnutls-serv,
-- openssl s_client and curl against our server (examples/https-server.lua).
local H = require "helpers"
local P = require "peers"

local CERTS = H.CERTS

local have, capture, await, connect, read_all = P.have, P.capture, P.await, P.connect, P.read_all

describe("real peers", function()
  after_each(P.stop_all)
  describe("our client against openssl s_server", function()
    if not have("openssl") then pending("openssl not installed") return end

    for _, v in ipairs { { "-tls1_2", "TLSv1.2" }, { "-tls1_3", "TLSv1.3" } } do
      it(v[2] .. " (-www)", function()
        local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s %s -www -alpn http/1.1",
                           CERTS .. "server.pem", CERTS .. "server.key", v[1])
        local conn, sock = connect(port, H.client_ctx { alpn = { "h2", "http/1.1" } })
        assert(await(conn, sock, "handshake"))
        assert.equal(v[2], conn:version())
        assert.is_true((conn:verify_result()))
        assert.equal("http/1.1", conn:alpn())
        assert(await(conn, sock, "write", "GET / HTTP/1.0\r\n\r\n"))
        local page, why = read_all(conn, sock)
        assert.matches("^HTTP/1.0 200 ok", page)
        assert.matches(v[2], page, 1, true)
        assert.equal("closed", why)
        conn:close(); sock:close()
      end)
    end

    it("sends its chain and we verify it; an untrusted server is refused", function()
      local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -cert_chain %s -key %s -www",
                         CERTS .. "chain-leaf.pem", CERTS .. "inter.pem", CERTS .. "server-chain.key")
      local conn, sock = connect(port, H.client_ctx(), "chain.localhost")
      assert(await(conn, sock, "handshake"))
      assert.equal(2, #conn:peer_chain())
      conn:close(); sock:close()

      port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -www",
                   CERTS .. "untrusted.pem", CERTS .. "untrusted.key")
      conn, sock = connect(port, H.client_ctx())
      local ok, err = await(conn, sock, "handshake")
      assert.is_nil(ok)
      assert.matches("^certificate verify failed: unknown CA", err)
      conn:close(); sock:close()
    end)

    it("a server alert is reported by name", function()
      -- s_server requires a client certificate we do not have
      local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -Verify 1 -CAfile %s -tls1_2 -www",
                         CERTS .. "server.pem", CERTS .. "server.key", CERTS .. "ca.pem")
      local conn, sock = connect(port, H.client_ctx())
      local ok, err = await(conn, sock, "handshake")
      if ok then -- TLS 1.3 would fail at the first read; TLS 1.2 fails in the handshake
        ok, err = await(conn, sock, "read")
      end
      assert.is_nil(ok)
      assert.matches("peer sent alert handshake_failure", err)
      conn:close(); sock:close()
    end)
  end)

  describe("our client against gnutls-serv", function()
    if not have("gnutls-serv") then pending("gnutls-serv not installed") return end

    for _, v in ipairs { { "tls1.2", "TLSv1.2" }, { "tls1.3", "TLSv1.3" } } do
      it(v[2] .. " echo", function()
        local port = P.start("gnutls-serv -p %d --x509certfile %s --x509keyfile %s --echo",
                           CERTS .. "rsa-server.pem", CERTS .. "rsa-server.key")
        local conn, sock = connect(port, H.client_ctx { cafile = CERTS .. "rsa-ca.pem", max_version = v[1] })
        assert(await(conn, sock, "handshake"))
        assert.equal(v[2], conn:version())
        assert.is_true((conn:verify_result()))
        assert(await(conn, sock, "write", "hello gnutls\n"))
        local got = ""
        while not got:find("\n") do got = got .. assert(await(conn, sock, "read")) end
        assert.equal("hello gnutls\n", got)
        conn:close(); sock:close()
      end)
    end
  end)

  describe("openssl s_client and curl against our server", function()
    local function our_server(env)
      local port = H.free_port()
      P.spawn(("exec timeout 60 %s%s examples/https-server.lua %d"):format(env or "", H.lua(), port))
      assert(H.wait_port(port, 10), "our https server did not start")
      return port
    end

    it("openssl s_client verifies us (TLS 1.3 and 1.2)", function()
      if not have("openssl") then pending("openssl not installed") return end
      local port = our_server()
      local out = capture(("echo | timeout 10 env -u LD_PRELOAD openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s -verify_return_error")
                          :format(port, CERTS .. "ca.pem"))
      assert.matches("New, TLSv1.3", out, 1, true)
      assert.matches("Verify return code: 0 %(ok%)", out)
      out = capture(("echo | timeout 10 env -u LD_PRELOAD openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s -tls1_2")
                    :format(port, CERTS .. "ca.pem"))
      assert.matches("New, TLSv1.2", out, 1, true)
      assert.matches("Verify return code: 0 %(ok%)", out)
      -- an HTTP request through s_client
      out = capture(("printf 'GET /s_client HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | timeout 10 env -u LD_PRELOAD openssl s_client -quiet -connect 127.0.0.1:%d -servername localhost -CAfile %s")
                    :format(port, CERTS .. "ca.pem"))
      assert.matches("request: GET /s_client HTTP/1.1", out, 1, true)
    end)

    it("curl: versions, verification, ALPN", function()
      if not have("curl") then pending("curl not installed") return end
      local port = our_server()
      local url = ("https://localhost:%d/"):format(port)
      local out = capture(("timeout 10 env -u LD_PRELOAD curl -sS --cacert %s --http1.1 %s"):format(CERTS .. "ca.pem", url))
      assert.matches("version: TLSv1.3", out, 1, true)
      assert.matches("alpn: http/1.1", out, 1, true)
      assert.matches("server_name: localhost", out, 1, true)
      out = capture(("timeout 10 env -u LD_PRELOAD curl -sS --cacert %s --tlsv1.2 --tls-max 1.2 %s"):format(CERTS .. "ca.pem", url))
      assert.matches("version: TLSv1.2", out, 1, true)
      -- without our CA, curl refuses the certificate
      out = capture(("timeout 10 env -u LD_PRELOAD curl -sS --cacert %s %s; echo exit=$?"):format(CERTS .. "rsa-ca.pem", url))
      assert.matches("exit=60", out, 1, true)
      -- and the server carries on after that failed client
      out = capture(("timeout 10 env -u LD_PRELOAD curl -sS --cacert %s %s"):format(CERTS .. "ca.pem", url))
      assert.matches("version: TLSv1.3", out, 1, true)
    end)
  end)

  describe("examples", function()
    it("examples/server.lua and examples/client.lua talk to each other", function()
      local port = H.free_port()
      P.spawn(("exec timeout 60 %s examples/server.lua %d 2"):format(H.lua(), port))
      assert(H.wait_port(port, 10), "examples/server.lua did not start")
      local out = capture(("timeout 10 %s examples/client.lua localhost %d"):format(H.lua(), port))
      assert.matches("connected: TLSv1.3 TLS_", out)
      assert.matches("server O=lua-wolfssl tests, CN=localhost", out, 1, true)
      assert.matches("server says: echo: hello over TLS", out, 1, true)
    end)

    it("examples/memory.lua runs without a socket", function()
      local out = capture(("timeout 10 %s examples/memory.lua"):format(H.lua()))
      assert.matches("version:  TLSv1.3", out, 1, true)
      assert.matches("verified: true", out, 1, true)
      assert.matches("server read: hello from the client", out, 1, true)
      assert.matches("client read: hello from the server", out, 1, true)
    end)
  end)
end)
