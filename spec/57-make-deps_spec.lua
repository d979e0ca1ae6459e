-- make deps (build-aux/deps.sh) as root and as another user, with commands
-- stood in for by shims on PATH: nothing is installed for real.
local H = require "helpers"

local dir
local function shim(name, body)
  local f = assert(io.open(dir .. "/" .. name, "w"))
  f:write("#!/bin/sh\n", body, "\n")
  f:close()
  assert(os.execute("chmod +x " .. dir .. "/" .. name))
end

-- run deps.sh for the packages; uid: what `id -u` says; sudo: "yes" (no
-- password needed), "no" (sudo wants a password, no terminal), nil (none).
-- Returns its exit status and output, and the commands the shims saw.
local function deps(uid, sudo, packages)
  dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local log = dir .. "/log"
  shim("dpkg-query", '[ "$3" = present ] && echo "install ok installed"; exit 0')
  shim("id", "echo " .. uid)
  shim("apt-get", 'echo "apt-get $*" >> ' .. log)
  if sudo then
    shim("sudo", (sudo == "yes" and "" or '[ "$1" = -n ] && exit 1\n') ..
      '[ "$1" = -n ] && shift\necho "sudo $1" >> ' .. log .. '\nexec "$@"')
  end
  -- PATH: the shims first (they stand in for any real sudo / apt-get)
  local p = io.popen(("PATH=%s:/usr/bin:/bin bash %s/build-aux/deps.sh %s </dev/null 2>&1; echo \"exit $?\"")
    :format(dir, H.ROOT, table.concat(packages, " ")))
  local out = p:read("*a")
  p:close()
  local f = io.open(log)
  local seen = f and f:read("*a") or ""
  if f then f:close() end
  os.execute("rm -rf " .. dir)
  return tonumber(out:match("exit (%d+)\n$")), out, seen
end

describe("make deps", function()
  it("has nothing to do when every package is installed, root or not", function()
    assert.equal(0, (deps(1000, nil, { "present" })))
    assert.equal(0, (deps(0, nil, { "present" })))
  end)

  it("as root installs what is missing", function()
    local code, _, seen = deps(0, nil, { "present", "missing-a", "missing-b" })
    assert.equal(0, code)
    assert.matches("apt%-get install %-y %-qq %-%-no%-install%-recommends missing%-a missing%-b\n", seen)
    assert.not_matches("sudo", seen)
  end)

  it("as another user goes through sudo when sudo needs no password", function()
    local code, out, seen = deps(1000, "yes", { "missing-a" })
    assert.equal(0, code, out)
    assert.matches("sudo env\napt%-get update %-qq\nsudo env\napt%-get install .* missing%-a\n", seen)
    assert.matches("installing missing-a (with sudo)", out, 1, true)
  end)

  it("as another user without sudo says which packages to install, and how", function()
    local code, out, seen = deps(1000, "no", { "present", "missing-a", "missing-b" })
    assert.equal(1, code)
    assert.matches("missing Debian packages: missing-a missing-b\n", out, 1, true)
    assert.matches("install them as root: apt-get install missing-a missing-b (or run 'sudo make deps')", out, 1, true)
    assert.equal("", seen)
  end)
end)
