-- Real peers, bytes checked: 10 MiB each way with openssl s_server/s_client,
-- gnutls-serv/gnutls-cli and curl, TLS 1.2 and 1.3, each ending with both
-- sides' clean close (our shutdown() true, then read() says the peer's
-- close_notify came). WOLFSSL_INTEROP_MIB sets the size (gnutls-cli writes
-- what it receives one byte per system call: 10 MiB take it ~25 s, so it
-- gets 1 MiB unless the size is set). Also the two reported reproductions.
local socket = require "socket"
local H = require "helpers"
local P = require "peers"

local CERTS = H.CERTS
local MIB = tonumber(os.getenv("WOLFSSL_INTEROP_MIB") or "")
local SIZE = (MIB or 10) * 1024 * 1024
local GNUTLS_CLI_SIZE = (MIB or 1) * 1024 * 1024

local VERSIONS = {
  { "tls1.2", "TLSv1.2", openssl = "-tls1_2", gnutls = "NORMAL:-VERS-ALL:+VERS-TLS1.2", curl = "--tlsv1.2 --tls-max 1.2" },
  { "tls1.3", "TLSv1.3", openssl = "-tls1_3", gnutls = "NORMAL:-VERS-ALL:+VERS-TLS1.3", curl = "--tlsv1.3" },
}

-- s_server -rev sends each line back reversed
local function reversed_lines(s)
  return (s:gsub("([^\n]*)\n", function(l) return l:reverse() .. "\n" end))
end

-- our client: connect, handshake, both ways at once, the clean close
local function our_client(port, v, cafile, out, expect)
  local conn, sock = P.connect(port, H.client_ctx { cafile = cafile, min_version = v[1], max_version = v[1] })
  sock:settimeout(0)
  assert(P.handshake(conn, sock))
  assert.equal(v[2], conn:version())
  local got = assert(P.pump(conn, sock, out, #expect))
  assert.equal(#expect, #got)
  assert.is_true(got == expect, "the bytes differ")
  local ok, why = P.clean_close(conn, sock)
  assert.is_true(ok)
  assert.equal("closed", why) -- the peer's close_notify came
  conn:close(); sock:close()
end

-- our server for one peer client: accept, handshake, both ways at once, the
-- clean close; returns the peer's output
local function our_server(v, cmd_fmt, size, want_from_peer)
  local srv, port = P.listen()
  local from_peer = P.payload(want_from_peer or size, "a")
  local to_peer = P.payload(size, "B")
  local finish = P.run_peer(cmd_fmt:format(port), from_peer)
  local conn, sock, ok, err = P.serve_one(srv, H.server_ctx { min_version = v[1], max_version = v[1] })
  srv:close()
  assert(ok, err)
  sock:settimeout(0)
  assert.equal(v[2], conn:version())
  local got = assert(P.pump(conn, sock, to_peer, #from_peer))
  assert.is_true(got == from_peer, "the bytes from the peer differ")
  local done, why = P.clean_close(conn, sock)
  assert.is_true(done)
  assert.equal("closed", why)
  conn:close(); sock:close()
  local out, rc, errtext = finish()
  assert.equal(#to_peer, #out)
  assert.is_true(out == to_peer, "the bytes the peer got differ")
  return out, rc, errtext
end

local function out_length(response) return response:match("Content%-Length: (%d+)") end

describe("interop, 10 MiB each way, clean closes", function()
  after_each(P.stop_all)

  for _, v in ipairs(VERSIONS) do
    describe(v[2], function()
      it("our client, openssl s_server -rev", function()
        if not P.have("openssl") then pending("openssl not installed") return end
        local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s %s -rev -quiet",
                             CERTS .. "server.pem", CERTS .. "server.key", v.openssl)
        local out = P.payload(SIZE, "a")
        our_client(port, v, CERTS .. "ca.pem", out, reversed_lines(out))
      end)

      it("our client, gnutls-serv --echo", function()
        if not P.have("gnutls-serv") then pending("gnutls-serv not installed") return end
        local port = P.start("gnutls-serv -p %d --x509certfile %s --x509keyfile %s --echo --priority %s",
                             CERTS .. "rsa-server.pem", CERTS .. "rsa-server.key", v.gnutls)
        local out = P.payload(SIZE, "a")
        our_client(port, v, CERTS .. "rsa-ca.pem", out, out)
      end)

      it("our server, openssl s_client", function()
        if not P.have("openssl") then pending("openssl not installed") return end
        local _, rc = our_server(v, "openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile "
                                    .. CERTS .. "ca.pem -verify_return_error -quiet " .. v.openssl, SIZE)
        assert.equal(0, rc)
      end)

      it("our server, gnutls-cli", function()
        if not P.have("gnutls-cli") then pending("gnutls-cli not installed") return end
        local log = os.tmpname()
        finally(function() os.remove(log) end)
        local _, rc = our_server(v, "gnutls-cli --x509cafile " .. CERTS .. "ca.pem --priority " .. v.gnutls ..
                                    " -p %d localhost --logfile " .. log, GNUTLS_CLI_SIZE)
        assert.equal(0, rc)
        local f = assert(io.open(log, "rb"))
        local text = f:read("*a")
        f:close()
        assert.matches("Peer has closed the GnuTLS connection", text, 1, true) -- our close_notify
      end)

      it("our server, curl (upload and download)", function()
        if not P.have("curl") then pending("curl not installed") return end
        local srv, port = P.listen()
        local upload, download = P.payload(SIZE, "a"), P.payload(SIZE, "B")
        local finish = P.run_peer(("curl -sS --http1.1 %s --cacert %s -H 'Expect:' --data-binary @- https://localhost:%d/")
                                  :format(v.curl, CERTS .. "ca.pem", port), upload)
        local conn, sock, ok, err = P.serve_one(srv, H.server_ctx { min_version = v[1], max_version = v[1] })
        srv:close()
        assert(ok, err)
        sock:settimeout(0)
        local head = ""
        while not head:find("\r\n\r\n", 1, true) do head = head .. assert(P.await(conn, sock, "read", 1)) end
        local length = tonumber(head:match("[Cc]ontent%-[Ll]ength: *(%d+)"))
        assert.equal(SIZE, length)
        local body = assert(P.pump(conn, sock, "", length))
        assert.is_true(body == upload, "the upload differs")
        local response = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"):format(#download)
        assert(P.pump(conn, sock, response .. download, 0))
        local done, why = P.clean_close(conn, sock)
        assert.is_true(done)
        assert.equal("closed", why) -- curl sent close_notify
        conn:close(); sock:close()
        local out, rc, errtext = finish()
        assert.equal(0, rc, errtext)
        assert.equal(#download, #out)
        assert.is_true(out == download, "the download differs")
      end)
    end)
  end

  describe("the reported reproductions", function()
    it("gnutls-cli over TLS 1.3 gets the whole 200,003-byte response of examples/https-server.lua", function()
      if not P.have("gnutls-cli") then pending("gnutls-cli not installed") return end
      local port = H.free_port()
      -- three connections: the port probe, then two requests
      P.spawn(("exec timeout 60 env MAX_VERSION=tls1.3 %s examples/https-server.lua %d 3"):format(H.lua(), port))
      assert(H.wait_port(port, 10), "our https server did not start")
      local log = os.tmpname()
      finally(function() os.remove(log) end)
      local function get(path)
        local out, rc = P.run_peer("gnutls-cli --x509cafile " .. CERTS .. "ca.pem -p " .. port .. " localhost --logfile " .. log,
                                   "GET " .. path .. " HTTP/1.1\r\nHost: localhost\r\n\r\n")()
        assert.equal(0, rc)
        return out
      end
      -- the server echoes the request line in its body: a path that makes the
      -- response 200,003 bytes (the Content-Length grows by one digit)
      local short = get("/")
      local digits = #out_length(short)
      local out = get("/" .. ("p"):rep(200003 - #short - (6 - digits)))
      assert.equal(200003, #out)
      assert.equal(#out, #out:match("^.-\r\n\r\n") + tonumber(out_length(out)))
      assert.matches("version: TLSv1.3\n", out, 1, true)
      assert.matches("server_name: localhost\n$", out)
    end)

    it("a 4 MiB upload from our client to openssl s_server over TLS 1.3 arrives whole", function()
      if not P.have("openssl") then pending("openssl not installed") return end
      local out, fifo = os.tmpname(), os.tmpname()
      os.remove(fifo)
      assert(os.execute("mkfifo " .. fifo))
      -- s_server ends the connection when its stdin ends: a FIFO we hold open
      local port = H.free_port()
      local pid = P.spawn(("exec timeout 60 env -u LD_PRELOAD sh -c 'exec openssl s_server -accept 127.0.0.1:%d" ..
                           " -cert %s -key %s -tls1_3 -quiet <%s >%s'")
                          :format(port, CERTS .. "server.pem", CERTS .. "server.key", fifo, out))
      local stdin = assert(io.open(fifo, "w"))
      finally(function() stdin:close(); H.kill(pid); os.remove(out); os.remove(fifo) end)
      assert(H.wait_port(port, 10), "s_server did not start")
      local conn, sock = P.connect(port, H.client_ctx())
      sock:settimeout(0)
      assert(P.handshake(conn, sock))
      assert.equal("TLSv1.3", conn:version())
      local upload = P.payload(4 * 1024 * 1024, "u")
      assert(P.pump(conn, sock, upload, 0))
      local done, why = P.clean_close(conn, sock)
      assert.is_true(done)
      assert.equal("closed", why) -- s_server answered our close_notify with its own
      conn:close(); sock:close()
      local f = assert(io.open(out, "rb"))
      local got = f:read("*a")
      f:close()
      assert.equal(#upload, #got)
      assert.is_true(got == upload, "the upload differs")
    end)
  end)
end)
