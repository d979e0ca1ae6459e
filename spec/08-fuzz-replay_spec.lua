-- Every seed of the fuzz corpora (fuzz/corpus/<target>/) and every input a
-- fuzzing campaign found (fuzz/regressions/<target>/) through the same Lua
-- driver as the libFuzzer target, with the normal module. One child process
-- per target, so a crash fails that target's test naming the file instead of
-- killing busted. fuzz/regressions/pending/ (reproducers of bugs not yet
-- guarded) is not replayed.
local H = require "helpers"

local function ls(dir)
  local p = io.popen("ls -1 '" .. dir .. "' 2>/dev/null")
  local out = {}
  for name in p:lines() do out[#out + 1] = name end
  p:close()
  return out
end

local targets = {}
for _, f in ipairs(ls("fuzz/drivers")) do
  local name = f:match("^(.+)%.lua$")
  if name and name ~= "common" then targets[#targets + 1] = name end
end

describe("fuzz replay", function()
  it("has a driver and seeds for every target", function()
    assert.is_true(#targets >= 7, "targets: " .. table.concat(targets, " "))
    for _, t in ipairs(targets) do
      assert.is_true(#ls("fuzz/corpus/" .. t) > 0, "no seeds in fuzz/corpus/" .. t)
    end
  end)

  -- the session driver seals its inputs (common.lua C.seal) before import; if
  -- the seal broke, every input would stop at the MAC check and the replay of
  -- the session corpus would prove nothing
  it("session: the seeds and reproducers are sealed as the fuzzer ran them", function()
    local script = [[
      local run = dofile(arg[1] .. "/fuzz/run.lua")(arg[1], "session")
      local C, session = require "drivers.common", require "wolfssl.session"
      for i = 2, #arg do
        local f = assert(io.open(arg[i], "rb"))
        local input = f:read("*a")
        f:close()
        local s, err = session.import(C.seal(input))
        print(arg[i]:match("[^/]+$"), s and s:version() or err)
      end
      local bad = "\2" .. string.rep("\0", 42) .. "x"
      print("forged", select(2, session.import(C.seal(bad):sub(1, -2) .. "?")))
    ]]
    local files = {}
    for _, d in ipairs({ "fuzz/corpus/session", "fuzz/regressions/session" }) do
      for _, f in ipairs(ls(d)) do files[#files + 1] = "'" .. d .. "/" .. f .. "'" end
    end
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local p = io.popen(("%s '%s' '%s' %s 2>&1"):format(H.lua(), path, H.ROOT, table.concat(files, " ")))
    local out = p:read("*a")
    p:close()
    os.remove(path)
    -- wolfSSL's serialisation differs between builds: each has its seeds,
    -- made on Debian's 5.5.4 (system) and the tuned 5.9.2; another release
    -- (make test-matrix) refuses them past the MAC, naming both builds
    local wolfssl = require "wolfssl"
    local suffix = wolfssl.features.build == "system" and "-system" or ""
    local made = suffix == "" and "5.9.2" or "5.5.4"
    local want = wolfssl.WOLFSSL_VERSION == made and "TLSv1%.[23]"
      or ("the session was exported by another wolfSSL build %%(%s; this is %s%%)"):format(
        (made:gsub("%.", "%%.")), (wolfssl.WOLFSSL_VERSION:gsub("%.", "%%.")))
    for _, seed in ipairs({ "tls13", "tls13-unsealed", "tls13-body", "tls12", "psk13", "chain12" }) do
      seed = seed:gsub("^(%w+)", "%1" .. suffix):gsub("%-", "%%-")
      assert.matches("\n" .. seed .. "\t" .. want, "\n" .. out)
    end
    -- the reproducers of issue 11 item 1 (sessions of Debian's 5.5.4) get past
    -- the MAC: to the layout guard there, to the build check on other builds
    if suffix ~= "" then
      assert.matches("d2i_SSL_SESSION%-overflow\tnot a valid exported session\n", out)
    else
      assert.matches("d2i_SSL_SESSION%-overflow\tthe session was exported by another wolfSSL build %(5%.5%.4;", out)
    end
    assert.matches("forged\tthe exported session was not made under this process's session key", out)
  end)

  -- a DTLS server's cookie key is random per context: the drivers fix it
  -- (common.lua, _test.cookie_secret) so a recorded ClientHello's cookie is
  -- valid; without that every dtls_server and dtls_listen input would stop
  -- at the cookie exchange and the campaigns would explore nothing past it
  it("dtls: the seeds get past the cookie exchange", function()
    local script = [[
      dofile(arg[1] .. "/fuzz/run.lua")(arg[1], "dtls_server")
      local C = require "drivers.common"
      for k = 2, #arg do
        local f = assert(io.open(arg[1] .. "/fuzz/corpus/" .. arg[k], "rb"))
        local i, ds = C.dtls_split(f:read("*a"))
        f:close()
        if i then
          local s, largest, accepted = C.connection("server", i, C.DTLS_PAIRS), 0, false
          for _, d in ipairs(ds) do
            if arg[k]:match("listen") and not accepted then
              accepted = s:listen(d[1], "192.0.2.1:5684") -- drivers/dtls_listen.lua's first peer
            else
              s:feed(d[1])
            end
            C.dtls_step(s, function(d) largest = math.max(largest, #d) end)
          end
          print(arg[k], largest, tostring(accepted))
        end
      end
    ]]
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local features = require("wolfssl").features
    local seeds = "dtls_server/dtls12 dtls_server/dtls13"
    if features.dtls_listen then seeds = seeds .. " dtls_listen/dtls12 dtls_listen/dtls13" end
    local p = io.popen(("%s '%s' '%s' %s 2>&1"):format(H.lua(), path, H.ROOT, seeds))
    local out = "\n" .. p:read("*a")
    p:close()
    os.remove(path)
    -- past the cookie reply (a HelloVerifyRequest or HelloRetryRequest of
    -- less than 200 bytes): the server's flight with its certificate follows
    local function largest(seed, accepted)
      local n, acc = out:match("\n" .. seed:gsub("%-", "%%-") .. "\t(%d+)\t(%a+)\n")
      assert(n, "no line for " .. seed .. " in:" .. out)
      assert.equal(tostring(accepted), acc)
      return tonumber(n)
    end
    assert.is_true(largest("dtls_server/dtls12", false) > 300, out)
    if features.dtls13 then
      assert.is_true(largest("dtls_server/dtls13", false) > 300, out)
    else -- the DTLS 1.3 seeds do nothing there (C.dtls_split)
      assert.not_matches("dtls13", out)
    end
    if features.dtls_listen then
      assert.is_true(largest("dtls_listen/dtls12", true) > 300, out)
      assert.is_true(largest("dtls_listen/dtls13", true) > 300, out)
    end
  end)

  for _, t in ipairs(targets) do
    it(t .. ": every corpus and regression file runs without a crash", function()
      local files = {}
      for _, d in ipairs({ "fuzz/corpus/" .. t, "fuzz/regressions/" .. t }) do
        for _, f in ipairs(ls(d)) do files[#files + 1] = "'" .. d .. "/" .. f .. "'" end
      end
      local cmd = ("%s fuzz/replay.lua '%s' %s %s 2>&1; echo \"exit=$?\""):format(
        H.lua(), H.ROOT, t, table.concat(files, " "))
      local p = io.popen(cmd)
      local out = p:read("*a")
      p:close()
      local code = tonumber(out:match("exit=(%d+)%s*$"))
      local last = out:match(".*replay (%S+)\n")
      assert(code == 0, ("replaying %s crashed or failed (exit %s) on %s:\n%s"):format(
        t, tostring(code), tostring(last), out:sub(-1500)))
      assert.matches("replayed " .. #files .. " files", out, 1, true)
    end)
  end
end)
