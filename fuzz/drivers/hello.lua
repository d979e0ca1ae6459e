-- wolfssl.hello.peek: documented never to raise on bad bytes, and to say
-- "need more" for a hello cut short.
local C = require "drivers.common"
local hello = require "wolfssl.hello"

return function(bytes)
  local h, err = C.never_raises("hello.peek", hello.peek, bytes)
  if not h then
    if type(err) ~= "string" then C.finding("hello.peek: nil without a message") end
    return
  end
  if type(h.consumed) ~= "number" or h.consumed < 1 or h.consumed > #bytes then
    C.finding("hello.peek: consumed out of range: " .. tostring(h.consumed))
  end
  local cut, why = C.never_raises("hello.peek", hello.peek, bytes:sub(1, h.consumed - 1))
  if cut or why ~= hello.NEED_MORE then
    C.finding("hello.peek: a hello cut one byte short gave " .. tostring(why or "a result"))
  end
end
