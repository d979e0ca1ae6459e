-- Load a fuzz driver: the one Lua entry point shared by the libFuzzer harness
-- (fuzz/harness.c) and the replay (fuzz/replay.lua, spec/08-fuzz-replay_spec.lua).
--   local run = dofile(ROOT .. "/fuzz/run.lua")(ROOT, "server")
--   run(bytes) -> true | false, message   (a finding raises: see common.lua)
return function(root, target)
  FUZZ_ROOT = root
  package.path = root .. "/fuzz/?.lua;" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  local driver = require("drivers." .. target)
  return function(bytes)
    local ok, err = pcall(driver, bytes)
    if not ok and type(err) == "table" and err.finding then
      error("FINDING in fuzz target " .. target .. ": " .. tostring(err.finding), 0)
    end
    return ok, err
  end
end
