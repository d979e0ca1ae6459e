-- `<close>` closes objects on Lua 5.4. (Every other Lua version is covered by
-- `make test` itself: the whole suite on LuaJIT, spec/00-smoke_spec.lua - which
-- loads every Lua layer - on Lua 5.1 and 5.3.)
local H = require "helpers"

describe("Lua versions", function()
  local is54 = _VERSION == "Lua 5.4"
  local it54 = is54 and it or pending
  it54("<close> closes connections and wolfssl.socket objects", function()
    local chunk = assert(load([[
      local H, ssl, socket = ...
      local ctx = H.client_ctx()
      local kept
      do
        local conn <close> = ctx:new{ server_name = "localhost" }
        kept = conn
        assert(conn:handshake() == nil)
      end
      local ok, err = pcall(kept.handshake, kept)
      local port = H.free_port()
      local srv = assert(socket.bind("127.0.0.1", port))
      local wrapped
      do
        local s <close> = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), { mode = "client", verify = "none" }))
        wrapped = s
      end
      srv:close()
      local ok2, err2 = pcall(wrapped.receive, wrapped)
      return ok, err, ok2, err2
    ]]))
    local ok, err, ok2, err2 = chunk(H, require "wolfssl.socket", require "socket")
    assert.is_false(ok)
    assert.matches("attempt to use a closed connection", err)
    assert.is_false(ok2)
    assert.matches("attempt to use a closed connection", err2)
  end)
end)
