-- Release several zapps together: bundle each project, deploy every zapp
-- to a versioned target (<name>/<version>), and if any step fails, remove
-- everything this run deployed, so a release is all or nothing.
--
--   lua5.4 examples/release.lua [--segment-size BYTES] VERSION DIR...
-- Auth settings come from the environment (ST_AUTH/ST_USER/ST_KEY, OS_*).
--
-- A version is released once: when <name>/<version> already holds a
-- deployment, nothing is uploaded (a rollback could only remove it, not
-- bring back what it replaced). A deploy that fails takes back its own
-- image and names what it left (web UI files); those are removed with
-- the rest. `--segment-size` is passed to every deploy (a tar larger than
-- it goes as a Static Large Object, whose segments a rollback removes).
local zpm = require("zpm")

local args = { table.unpack(arg) }
local segment_size
if args[1] == "--segment-size" then
  segment_size = math.tointeger(tonumber(args[2]))
  if not segment_size or segment_size < 1 then
    io.stderr:write("release.lua: --segment-size takes a number of bytes\n")
    os.exit(2)
  end
  table.remove(args, 1)
  table.remove(args, 1)
end
local version = args[1]
local projects = { table.unpack(args, 2) }
if not version or #projects == 0 then
  io.stderr:write("usage: release.lua [--segment-size BYTES] VERSION "
                  .. "DIR...\n")
  os.exit(2)
end
zpm.log.set_handler(function(line) io.stderr:write(line, "\n") end)

local conn = assert(zpm.connect({}))
-- { container, object, image = true for a deploy's image } of
-- everything uploaded, in the order it was written
local deployed = {}

-- Remove one deployed object. An image (<target>/.zapp/<version>/...)
-- stored as a Static Large Object goes with its segments; <target>/<zapp>
-- is a manifest naming the image: only the manifest is removed (its one
-- segment, the image, has its own entry).
local function remove(entry)
  local container, object = entry[1], entry[2]
  if entry.image then
    local headers, err, code, detail = conn:head_object(container, object)
    if not headers then
      return code == "http" and detail.status == 404 or nil, err
    end
    if (headers["x-static-large-object"] or ""):lower() == "true" then
      local resp, derr = conn:request("DELETE", container .. "/" .. object,
        { query = "?multipart-manifest=delete" })
      if not resp then
        return nil, derr
      end
      -- Swift answers 200 and lists its errors in the body: the manifest
      -- must be gone
      local left = conn:head_object(container, object)
      if left or resp.status >= 300 then
        return nil, ("%s/%s: the segments could not all be removed: %d %s")
          :format(container, object, resp.status, resp.body or "")
      end
      return true
    end
  end
  return conn:delete_object(container, object)
end

local function rollback(reason)
  io.stderr:write("release failed: ", reason, "\n")
  for i = #deployed, 1, -1 do
    local ok, err = remove(deployed[i])
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

-- nothing is uploaded either if a version is there already
for _, zapp in ipairs(zapps) do
  local name = zapp.name:gsub("%.zapp$", "")
  local headers, err, code, detail = conn:head_object(name, version
    .. "/boot/system.map")
  if headers then
    rollback(("%s/%s is released already"):format(name, version))
  elseif not (code == "http" and detail.status == 404) then
    rollback(("%s/%s: %s"):format(name, version, err))
  end
end

for _, zapp in ipairs(zapps) do
  local name = zapp.name:gsub("%.zapp$", "")
  local target = name .. "/" .. version
  local result, err, _, detail = conn:deploy(target, zapp.path,
    { force = true, segment_size = segment_size })
  -- on failure, deploy tells what it had written and left (detail.objects)
  for _, object in ipairs((result or detail or {}).objects or {}) do
    local container, rest = object:match("^([^/]+)/(.+)$")
    deployed[#deployed + 1] = { container, rest, image =
      object:sub(1, #target + 7) == target .. "/.zapp/" or nil }
  end
  if not result then
    rollback(("%s: %s"):format(target, err))
  end
  print(("%s %s -> %s"):format(name, version, result.url))
end
