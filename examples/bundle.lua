-- Bundle every project named on the command line through zpm's Lua API
-- and list what went into each zapp. Run it with the build tree's paths:
--   lua5.4 -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path
--              package.cpath="build/?.so;"..package.cpath' \
--     examples/bundle.lua DIR...
local zpm = require("zpm")

-- Library code never prints: route its warnings to stderr ourselves.
zpm.log.set_handler(function(line) io.stderr:write(line, "\n") end)

local failed = 0
for _, dir in ipairs(arg) do
  local result, err = zpm.bundle(dir)
  if result then
    print(("%s: %d members"):format(result.path, #result.members))
    for _, name in ipairs(result.members) do
      print("  " .. name)
    end
  else
    io.stderr:write(("%s: %s\n"):format(dir, err))
    failed = failed + 1
  end
end
os.exit(failed == 0)
