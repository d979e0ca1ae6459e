-- wolfssl.https: requests over socket.http against nginx with TLS and against
-- our own wolfssl.socket HTTPS server, all on 127.0.0.1.
local ltn12 = require "ltn12"
local https = require "wolfssl.https"
local H = require "helpers"

local ROOT = H.ROOT
local function abs(name) return ROOT .. "/" .. H.cert(name) end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true or
         os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == 0
end

-- nginx with a temporary prefix: returns dir, pid.
local function start_nginx(port, wport)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir .. "/tmp"))
  local conf = ([[
daemon off;
master_process off;
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path DIR/tmp; proxy_temp_path DIR/tmp; fastcgi_temp_path DIR/tmp;
  uwsgi_temp_path DIR/tmp; scgi_temp_path DIR/tmp;
  server {
    listen 127.0.0.1:PORT ssl;
    server_name localhost;
    ssl_certificate SERVER_PEM; ssl_certificate_key SERVER_KEY;
    location = /hello { return 200 "hello from nginx\n"; }
    location = /redirect { return 302 https://localhost:PORT/hello; }
    location = /loop { return 302 https://localhost:PORT/loop; }
    location = /downgrade { return 302 http://localhost:PORT/hello; }
  }
  server {
    listen 127.0.0.1:WPORT ssl;
    ssl_certificate WRONG_PEM; ssl_certificate_key WRONG_KEY;
    location / { return 200 "wrong host\n"; }
  }
}
]]):gsub("DIR", dir):gsub("WPORT", tostring(wport)):gsub("PORT", tostring(port))
    :gsub("SERVER_PEM", abs("server.pem")):gsub("SERVER_KEY", abs("server.key"))
    :gsub("WRONG_PEM", abs("wronghost.pem")):gsub("WRONG_KEY", abs("wronghost.key"))
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local pid = H.spawn(("exec nginx -p %s -c %s/nginx.conf -e %s/error.log"):format(dir, dir, dir))
  assert(H.wait_port(port, 5) and H.wait_port(wport, 5), "nginx did not start")
  return dir, pid
end

-- Our own HTTPS server (wolfssl.socket), one connection at a time, until killed.
local SERVER = [[
local socket = require "socket"
local ssl = require "wolfssl.socket"
local port = tonumber(arg[1])
local ctx = assert(ssl.newcontext{ mode = "server", certificate = "spec/fixtures/certs/server.pem",
  key = "spec/fixtures/certs/server.key", alpn = { "http/1.1" } })
local srv = assert(socket.bind("127.0.0.1", port))
srv:settimeout(20)
while true do
  local c = srv:accept()
  if not c then os.exit(1) end
  local s = ssl.wrap(c, ctx)
  s:settimeout(5)
  if s:dohandshake() then
    local line = s:receive("*l") or ""
    local method, path = line:match("^(%u+) (%S+)")
    local headers = {}
    while true do
      local h = s:receive("*l")
      if not h or h == "" then break end
      local k, v = h:match("^([^:]+):%s*(.*)$")
      if k then headers[k:lower()] = v end
    end
    local body = ""
    if headers["content-length"] then body = s:receive(tonumber(headers["content-length"])) or "" end
    local code, extra, out = "200 OK", "", ""
    if path == "/echo" then out = method .. " " .. body
    elseif path == "/moved" then code, extra = "301 Moved", "Location: /echo\r\n"
    elseif path == "/alpn" then out = tostring(s:getalpn())
    else code, out = "404 Not Found", "no such page" end
    s:send(("HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s"):format(code, #out, extra, out))
  end
  s:close()
end
]]

local describe_nginx = have("nginx") and describe or pending

describe("wolfssl.https", function()
  it("refuses non-https URLs and bad arguments", function()
    assert.same({ nil, "only https URLs are supported (got 'http')" }, { https.request("http://localhost/") })
    assert.error_matches(function() https.request(42) end, "string or table expected")
    assert.error_matches(function() https.request{ url = "https://localhost/", verify = "sometimes" } end,
      "bad option 'verify'")
  end)

  describe_nginx("against nginx with TLS", function()
    local port, wport, dir, pid
    setup(function()
      port, wport = H.free_port(), H.free_port()
      dir, pid = start_nginx(port, wport)
    end)
    teardown(function()
      H.kill(pid)
      if dir then os.execute("rm -rf " .. dir) end
      https.defaults = {}
    end)

    it("verifies by default: the test CA is not in the system store", function()
      local body, err = https.request(("https://localhost:%d/hello"):format(port))
      assert.is_nil(body)
      assert.matches("certificate verify failed", err)
    end)

    it("GETs with cafile, as a string request and as a table request", function()
      local t = {}
      local ok, code, headers = https.request{ url = ("https://localhost:%d/hello"):format(port),
        cafile = H.cert("ca.pem"), sink = ltn12.sink.table(t), alpn = { "http/1.1" } }
      assert.equal(1, ok)
      assert.equal(200, code)
      assert.equal("hello from nginx\n", table.concat(t))
      assert.matches("nginx", headers.server)
      https.defaults = { cafile = H.cert("ca.pem") }
      local body, code2 = https.request(("https://localhost:%d/hello"):format(port))
      assert.equal("hello from nginx\n", body)
      assert.equal(200, code2)
    end)

    it("follows redirects between https URLs, and stops at a loop", function()
      https.defaults = { cafile = H.cert("ca.pem") }
      local body, code = https.request(("https://localhost:%d/redirect"):format(port))
      assert.equal(200, code)
      assert.equal("hello from nginx\n", body)
      local _, lcode, lheaders = https.request(("https://localhost:%d/loop"):format(port))
      assert.equal(302, lcode)
      assert.matches("/loop$", lheaders.location)
    end)

    it("does not follow a redirect to plain http", function()
      https.defaults = { cafile = H.cert("ca.pem") }
      local _, code, headers = https.request(("https://localhost:%d/downgrade"):format(port))
      assert.equal(302, code)
      assert.matches("^http://", headers.location)
    end)

    it("checks the host name; verify = 'none' turns every check off", function()
      local t = {}
      local ok, err = https.request{ url = ("https://localhost:%d/"):format(wport),
        cafile = H.cert("ca.pem"), sink = ltn12.sink.table(t) }
      assert.is_nil(ok)
      assert.matches("hostname", err)
      ok = https.request{ url = ("https://localhost:%d/"):format(wport), verify = "none",
        sink = ltn12.sink.table(t) }
      assert.equal(1, ok)
      assert.equal("wrong host\n", table.concat(t))
    end)

    it("reports a refused connection", function()
      local body, err = https.request(("https://localhost:%d/"):format(H.free_port()))
      assert.is_nil(body)
      assert.equal("connection refused", err)
    end)
  end)

  describe("against our own wolfssl.socket server", function()
    local port, pid, path
    setup(function()
      port = H.free_port()
      path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(SERVER)
      f:close()
      pid = H.spawn(("exec %s %s %d"):format(H.lua(), path, port))
      assert(H.wait_port(port, 5), "server did not start")
      https.defaults = { cafile = H.cert("ca.pem") }
    end)
    teardown(function()
      H.kill(pid)
      os.remove(path)
      https.defaults = {}
    end)

    it("POSTs a body", function()
      local body, code = https.request(("https://localhost:%d/echo"):format(port), "a=1&b=2")
      assert.equal(200, code)
      assert.equal("POST a=1&b=2", body)
    end)

    it("follows a relative redirect", function()
      local body, code = https.request(("https://localhost:%d/moved"):format(port))
      assert.equal(200, code)
      assert.equal("GET ", body)
    end)

    it("offers ALPN when asked", function()
      local t = {}
      https.request{ url = ("https://localhost:%d/alpn"):format(port), alpn = "http/1.1",
        sink = ltn12.sink.table(t) }
      assert.equal("http/1.1", table.concat(t))
      t = {}
      https.request{ url = ("https://localhost:%d/alpn"):format(port), sink = ltn12.sink.table(t) }
      assert.equal("nil", table.concat(t))
    end)
  end)
end)
