-- Replay files through a fuzz driver with the normal module:
--   lua5.4 fuzz/replay.lua ROOT TARGET FILE...
-- Prints "replay FILE" before each file (so a crash names it) and exits 1 on
-- a finding; a crash kills the process.
local root, target = arg[1], arg[2]
local run = dofile(root .. "/fuzz/run.lua")(root, target)
for i = 3, #arg do
  io.stdout:write("replay ", arg[i], "\n")
  io.stdout:flush()
  local f = assert(io.open(arg[i], "rb"))
  local bytes = f:read("*a")
  f:close()
  local ok, err = pcall(run, bytes)
  if not ok then
    io.stdout:write(tostring(err), "\n")
    os.exit(1)
  end
  collectgarbage()
end
io.stdout:write("replayed ", #arg - 2, " files\n")
