-- Release several zapps together: bundle each project, deploy every zapp
-- to a versioned target (<name>/<version>), and if any step fails, remove
-- everything this run deployed, so a release is all or nothing.
--
--   lua5.4 examples/release.lua VERSION DIR...
-- Auth settings come from the environment (ST_AUTH/ST_USER/ST_KEY, OS_*).
local zpm = require("zpm")

local version = arg[1]
local projects = { table.unpack(arg, 2) }
if not version or #projects == 0 then
  io.stderr:write("usage: release.lua VERSION DIR...\n")
  os.exit(2)
end
zpm.log.set_handler(function(line) io.stderr:write(line, "\n") end)

local conn = assert(zpm.connect({}))
local deployed = {}   -- { container, object } of everything uploaded

local function rollback(reason)
  io.stderr:write("release failed: ", reason, "\n")
  for i = #deployed, 1, -1 do
    local ok, err = conn:delete_object(deployed[i][1], deployed[i][2])
    io.stderr:write(("  removed %s/%s%s\n"):format(deployed[i][1],
      deployed[i][2], ok and "" or (" FAILED: " .. tostring(err))))
  end
  os.exit(1)
end

-- bundle everything first: nothing is uploaded unless every zapp builds
local zapps = {}
for _, dir in ipairs(projects) do
  local result, err = zpm.bundle(dir)
  if not result then
    rollback(("%s: %s"):format(dir, err))
  end
  zapps[#zapps + 1] = result
end

for _, zapp in ipairs(zapps) do
  local name = zapp.name:gsub("%.zapp$", "")
  local target = name .. "/" .. version
  local result, err, partial = conn:deploy(target, zapp.path,
                                          { force = true })
  -- on failure, deploy tells what it had written already
  for _, object in ipairs((result or partial or {}).objects or {}) do
    local container, rest = object:match("^([^/]+)/(.+)$")
    deployed[#deployed + 1] = { container, rest }
  end
  if not result then
    rollback(("%s: %s"):format(target, err))
  end
  print(("%s %s -> %s"):format(name, version, result.url))
end
