-- The README's examples never rot: every ```lua block right after a line
-- `<!-- run -->` is run from the repository root with the interpreter under test.
-- A block after `<!-- run in background -->` (a server) is started first and
-- left running while the others run; the port it listens on (8443 in the text)
-- becomes a free one, in every block, so that parallel runs do not collide.
-- When a block's lines end in `--> text`, those texts are the output it must print,
-- in order (runs of spaces and tabs compare equal).
local H = require "helpers"

local function blocks(text)
  local list, marked, inblock, buf, start, background = {}, false, false, nil, nil, false
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if inblock then
      if line:match("^```%s*$") then
        list[#list + 1] = { line = start, code = table.concat(buf, "\n") .. "\n", background = background }
        inblock = false
      else
        buf[#buf + 1] = line
      end
    elseif line:match("^%s*<!%-%-%s*run%s*%-%->%s*$") then
      marked, background = true, false
    elseif line:match("^%s*<!%-%-%s*run in background%s*%-%->%s*$") then
      marked, background = true, true
    elseif marked and line:match("^```lua%s*$") then
      inblock, buf, start, marked = true, {}, n + 1, false
    elseif line:match("%S") then
      marked = false -- the marker applies to the very next block only
    end
  end
  return list
end

local function norm(s) return (s:gsub("[ \t]+", " "):gsub("^ ", ""):gsub(" $", "")) end

local f = io.open(H.ROOT .. "/README.md", "rb")
local readme = f and f:read("*a") or ""
if f then f:close() end
local found = blocks(readme)

describe("README.md examples", function()
  it("the block extractor finds marked blocks only", function()
    local list = blocks("x\n<!-- run -->\n```lua\nprint(1) --> 1\n```\n```lua\nprint(2)\n```\n" ..
      "<!-- run -->\n\ntext\n```lua\nprint(3)\n```\n")
    assert.equal(1, #list)
    assert.equal("print(1) --> 1\n", list[1].code)
    assert.equal(4, list[1].line)
  end)

  if #found == 0 then
    pending("README.md has no block marked <!-- run --> yet")
    return
  end

  local port = H.free_port()
  local servers = {}
  local function write_block(b)
    local path = os.tmpname()
    local out = assert(io.open(path, "w"))
    out:write((b.code:gsub("8443", tostring(port))))
    out:close()
    return path
  end
  setup(function()
    for _, b in ipairs(found) do
      if b.background then
        local path = write_block(b)
        servers[#servers + 1] = { pid = H.spawn(("cd %s && exec timeout 120 %s %s"):format(H.ROOT, H.lua(), path)), path = path }
        assert(H.wait_port(port, 10), ("the block at README.md line %d did not listen"):format(b.line))
      end
    end
  end)
  teardown(function()
    for _, s in ipairs(servers) do H.kill(s.pid); os.remove(s.path) end
  end)

  it("marks every ```lua block of the README to be run", function()
    local all = select(2, readme:gsub("\n```lua%s*\n", ""))
    assert.equal(all, #found)
  end)

  it("the block extractor marks background blocks", function()
    local list = blocks("<!-- run in background -->\n```lua\nserve()\n```\n<!-- run -->\n```lua\nx()\n```\n")
    assert.is_true(list[1].background)
    assert.is_false(list[2].background)
  end)

  for _, b in ipairs(found) do
    if not b.background then it(("runs the block at README.md line %d"):format(b.line), function()
      local path = write_block(b)
      local p = assert(io.popen(("cd %s && timeout 60 %s %s 2>&1; echo \"rc=$?\""):format(H.ROOT, H.lua(), path)))
      local output = p:read("*a")
      p:close()
      os.remove(path)
      local rc = tonumber(output:match("rc=(%d+)%s*$"))
      output = output:gsub("rc=%d+%s*$", "")
      assert.equal(0, rc, output)
      local expected = {}
      for want in b.code:gmatch("%-%->[ \t]*([^\n]*)") do expected[#expected + 1] = norm(want) end
      if #expected > 0 then
        local got = {}
        for line in output:gmatch("([^\n]*)\n") do
          if line:match("%S") then got[#got + 1] = norm(line) end
        end
        assert.same(expected, got)
      end
    end) end
  end
end)
