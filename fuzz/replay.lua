-- Replay files through a fuzz driver with the normal module:
--   lua5.4 fuzz/replay.lua ROOT TARGET FILE...
-- Prints "replay FILE" before each file (so a crash names it) and exits 1 on
-- a finding; a crash kills the process. FUZZ_DEBUG=1: also the Lua errors.
local root, target = arg[1], arg[2]
local run = dofile(root .. "/fuzz/run.lua")(root, target)
for i = 3, #arg do
  io.stdout:write("replay ", arg[i], "\n")
  io.stdout:flush()
  local f = assert(io.open(arg[i], "rb"))
  local bytes = f:read("*a")
  f:close()
  local ok, done, err = pcall(run, bytes)
  if not ok then
    io.stdout:write(tostring(done), "\n")
    os.exit(1)
  end
  -- a Lua error is an ordinary outcome; FUZZ_DEBUG=1 shows it (a driver
  -- that fails on every seed explores nothing)
  if not done and os.getenv("FUZZ_DEBUG") then io.stdout:write("  lua error: ", tostring(err), "\n") end
  collectgarbage()
end
io.stdout:write("replayed ", #arg - 2, " files\n")
