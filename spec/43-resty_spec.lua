-- wolfssl.resty inside REAL nginx with the lua module (Debian's nginx-light +
-- libnginx-mod-http-lua, LuaJIT): a content_by_lua handler talks TLS to local
-- openssl s_server upstreams over a cosocket, in memory mode.
local http = require "socket.http"
local H = require "helpers"

local MODULES = "/usr/lib/nginx/modules/"
local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

-- The LuaJIT build of wolfssl.core next to the build under test: .../BUILD/WOLFSSL/LUA/?.so
local function luajit_cpath()
  for entry in package.cpath:gmatch("[^;]+") do
    local base, wolf, lua = entry:match("^(.*)/([^/]+)/([^/]+)/%?%.so$")
    if base and (lua:match("^lua%d") or lua == "luajit") and exists(entry:gsub("%?", "wolfssl/core")) then
      local dir = ("%s/%s/luajit"):format(base, wolf)
      -- make it (or bring it up to date: a stale module lacks what the Lua layer calls)
      if base:sub(1, #H.ROOT + 1) == H.ROOT .. "/" then
        os.execute(("cd %s && make -s LUA=luajit WOLFSSL=%s BUILD=%s >/dev/null 2>&1"):format(
          H.ROOT, wolf, base:sub(#H.ROOT + 2)))
      end
      if exists(dir .. "/wolfssl/core.so") then return dir .. "/?.so" end
    end
  end
end

local HANDLER = [==[
local resty = require "wolfssl.resty"
local wolfssl = require "wolfssl"
local C = "@CERTS@"
local PORT, BAD_PORT = @PORT@, @BAD_PORT@
local function read(name)
  local f = assert(io.open(C .. name, "rb")) local s = f:read("*a") f:close() return s
end
local PIN = wolfssl.x509.load(read("server.pem")):digest("sha256")
local M = {}

local function ctx_for(case)
  -- issue 10: a /lax location's session must never make a /strict one accept
  if case == "lax" then return assert(wolfssl.context{ mode = "client", verify = "none" }) end
  if case == "strict" then return assert(wolfssl.context{ mode = "client", cafile = C .. "ca.pem" }) end
  local o = { mode = "client", cafile = C .. "ca.pem", alpn = { "h2", "http/1.1" } }
  if case ~= "nocert" then -- client certificate and key loaded from Lua strings
    o.certificate, o.key = read("client.pem"), read("client.key")
  end
  if case == "pin" or case == "badpin" then
    local want = case == "pin" and PIN or string.rep("0", 64)
    o.on_verify = function(conn, ok, info)
      if info.depth == 0 then return ok and info.cert:digest("sha256") == want end
      return ok
    end
  end
  return assert(wolfssl.context(o))
end

local contexts = {}

function M.run()
  local case = ngx.var.arg_case or "basic"
  local name = ngx.var.arg_name or "localhost"
  local ctx = contexts[case]
  if not ctx then ctx = ctx_for(case); contexts[case] = ctx end
  local sock = ngx.socket.tcp()
  sock:settimeout(5000)
  local bad = case == "untrusted" or case == "lax" or case == "strict"
  local ok, err = sock:connect("127.0.0.1", bad and BAD_PORT or PORT)
  if not ok then ngx.say("connect error: ", err) return end
  local key = false -- lax and strict use the default cache key (nil)
  if case == "resume" then key = "resume" elseif case == "lax" or case == "strict" then key = nil end
  local tls = resty.wrap(sock, ctx, { server_name = name, session_key = key })
  ok, err = tls:handshake()
  if not ok then ngx.say("handshake error: ", err) tls:close() return end
  local conn = tls:connection()
  ngx.say("version: ", conn:version())
  ngx.say("alpn: ", tostring(conn:alpn()))
  -- a resumed session brings no certificate: nil there unless wolfSSL keeps
  -- the chain on the session (features.session_certs)
  local peer = conn:peer_certificate()
  ngx.say("peer: ", peer and tostring(peer:subject()) or "none")
  ngx.say("reused: ", tostring(conn:session_reused()))
  local n, serr = tls:send("GET / HTTP/1.0\r\n\r\n")
  if not n then ngx.say("send error: ", serr) tls:close() return end
  local line, rerr = tls:receive("*l")
  if not line then ngx.say("receive error: ", rerr) tls:close() return end
  ngx.say("status: ", line)
  local rest = tls:receive("*a") or ""
  ngx.say("body has client cert: ", tostring(rest:find("Test Client", 1, true) ~= nil))
  tls:setkeepalive()
end
return M
]==]

local CONF = [==[
load_module @MODULES@ndk_http_module.so;
load_module @MODULES@ngx_http_lua_module.so;
daemon off;
master_process off;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path @DIR@/tmp; proxy_temp_path @DIR@/tmp; fastcgi_temp_path @DIR@/tmp;
  uwsgi_temp_path @DIR@/tmp; scgi_temp_path @DIR@/tmp;
  lua_package_path "@DIR@/?.lua;@ROOT@/lua/?.lua;@ROOT@/lua/?/init.lua;/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "@CPATH@;;";
  server {
    listen 127.0.0.1:@NPORT@;
    location /t { content_by_lua_block { require("handler").run() } }
  }
}
]==]

local function fill(text, vars)
  return (text:gsub("@([%u_]+)@", function(k) return assert(vars[k], k) end))
end

local cpath = luajit_cpath()
local runnable = exists(MODULES .. "ngx_http_lua_module.so") and cpath
local d = runnable and describe or pending

d("wolfssl.resty in nginx + lua (LuaJIT)", function()
  local dir, nginx, up, bad, nport, vars

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/tmp"))
    local port, bad_port = H.free_port(), H.free_port()
    nport = H.free_port()
    local C = H.ROOT .. "/" .. H.CERTS
    vars = { MODULES = MODULES, DIR = dir, ROOT = H.ROOT, CPATH = cpath, NPORT = tostring(nport),
      CERTS = C, PORT = tostring(port), BAD_PORT = tostring(bad_port) }
    -- main upstream: requires a client certificate, ALPN http/1.1, a second
    -- certificate for SNI name other.example
    up = H.spawn(("exec openssl s_server -accept 127.0.0.1:%d -www -cert %sserver.pem -key %sserver.key " ..
      "-Verify 2 -CAfile %sca.pem -alpn http/1.1 -servername other.example -cert2 %swronghost.pem " ..
      "-key2 %swronghost.key"):format(port, C, C, C, C, C))
    bad = H.spawn(("exec openssl s_server -accept 127.0.0.1:%d -www -cert %suntrusted.pem -key %suntrusted.key")
      :format(bad_port, C, C))
    for name, text in pairs({ ["handler.lua"] = HANDLER, ["nginx.conf"] = CONF }) do
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write(fill(text, vars))
      f:close()
    end
    nginx = H.spawn(("exec nginx -p %s -c %s/nginx.conf -e %s/error.log"):format(dir, dir, dir))
    assert(H.wait_port(port, 5) and H.wait_port(bad_port, 5), "openssl s_server did not start")
    assert(H.wait_port(nport, 5), "nginx did not start")
  end)

  teardown(function()
    H.kill(nginx); H.kill(up); H.kill(bad)
    if dir then os.execute("rm -rf " .. dir) end
  end)

  local function get(query)
    http.TIMEOUT = 20
    local body, code = http.request(("http://127.0.0.1:%d/t?%s"):format(nport, query))
    assert(body, code)
    if code ~= 200 then
      local f = io.open(dir .. "/error.log")
      error(("nginx answered %s: %s\n%s"):format(code, body, f and f:read("*a") or ""))
    end
    return body
  end

  it("verifies the upstream, sends SNI, ALPN and a client certificate loaded from Lua", function()
    local out = get("case=basic")
    assert.matches("version: TLSv1.3\n", out, 1, true)
    assert.matches("alpn: http/1.1\n", out, 1, true)
    assert.matches("peer: O=lua-wolfssl tests, CN=localhost\n", out, 1, true)
    assert.matches("status: HTTP/1.0 200 ok\n", out, 1, true)
    assert.matches("body has client cert: true\n", out, 1, true)
  end)

  it("SNI selects the upstream's second certificate, checked against that name", function()
    local out = get("case=basic&name=other.example")
    assert.matches("peer: O=lua-wolfssl tests, CN=wrong.example\n", out, 1, true)
    assert.matches("status: HTTP/1.0 200 ok\n", out, 1, true)
  end)

  it("pins the upstream's certificate in on_verify", function()
    assert.matches("status: HTTP/1.0 200 ok\n", get("case=pin"), 1, true)
    local out = get("case=badpin")
    assert.matches("^handshake error: ", out)
    assert.not_matches("status:", out)
  end)

  it("resumes the session across requests", function()
    local first = get("case=resume")
    assert.matches("reused: false\n", first, 1, true)
    assert.matches("status: HTTP/1.0 200 ok\n", first, 1, true)
    local second = get("case=resume")
    assert.matches("reused: true\n", second, 1, true)
    assert.matches(require("wolfssl").features.session_certs and "peer: O=lua-wolfssl tests, CN=localhost\n"
                   or "peer: none\n", second, 1, true)
    assert.matches("status: HTTP/1.0 200 ok\n", second, 1, true)
  end)

  it("gives a clear error for an untrusted upstream", function()
    assert.matches("^handshake error: certificate verify failed", get("case=untrusted"))
  end)

  it("a session made by a verify = \"none\" context never lets a verifying one accept an untrusted upstream", function()
    local lax = get("case=lax")
    assert.matches("status: HTTP/1.0 200 ok\n", lax, 1, true)
    assert.matches("status: HTTP/1.0 200 ok\n", get("case=lax"), 1, true) -- (resumed or not)
    local strict = get("case=strict")
    assert.matches("^handshake error: certificate verify failed", strict)
    assert.not_matches("status:", strict)
  end)

  it("gives a clear error for the wrong host", function()
    assert.matches("^handshake error: hostname mismatch", get("case=basic&name=nothere.example"))
  end)

  it("examples/resty (nginx.conf + handler.lua) runs and resumes", function()
    local edir = dir .. "/example"
    assert(os.execute("mkdir -p " .. edir))
    local eport = H.free_port()
    local f = assert(io.open(H.ROOT .. "/examples/resty/nginx.conf"))
    local conf = f:read("*a"):gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:" .. eport .. ";")
    f:close()
    f = assert(io.open(edir .. "/nginx.conf", "w"))
    f:write(conf)
    f:close()
    local pid = H.spawn(("WOLFSSL_ROOT=%s WOLFSSL_CPATH=%s WOLFSSL_UPSTREAM_PORT=%s exec nginx -p %s -c %s/nginx.conf -e %s/error.log")
      :format(H.ROOT, (cpath:gsub("/%?%.so$", "")), vars.PORT, edir, edir, edir))
    local up = H.wait_port(eport, 5)
    local outs = {}
    if up then
      for i = 1, 2 do outs[i] = http.request(("http://127.0.0.1:%d/upstream"):format(eport)) end
    end
    H.kill(pid)
    assert(up, "example nginx did not start")
    assert.matches("^TLSv1.3 %S+ alpn=http/1.1 resumed=false\nupstream said: HTTP/1.0 200 ok\n$", outs[1])
    assert.matches("^TLSv1.3 %S+ alpn=http/1.1 resumed=true\nupstream said: HTTP/1.0 200 ok\n$", outs[2])
  end)

  it("reports the upstream's refusal when no client certificate is sent", function()
    local out = get("case=nocert")
    assert.matches("error: .*certificate", out)
    assert.not_matches("status: HTTP", out)
  end)
end)
