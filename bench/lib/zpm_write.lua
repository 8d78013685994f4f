-- Write DIR (and everything under it) into a .tar.gz with zpm.core's
-- archive writer: the stand-in for `zpm bundle` in bench/bundle.
--   lua5.4 zpm_write.lua OUT BASEDIR NAME [THREADS [LEVEL]]
-- Members are NAME/..., sorted, directories before their contents (what
-- `tar -cf - -C BASEDIR NAME` stores, in a stable order).
local core = require("zpm.core")
local lfs = require("lfs")

local out, base, name = arg[1], arg[2], arg[3]
local threads = math.tointeger(tonumber(arg[4] or "0"))
-- LEVEL 0: the writer's default (what `zpm bundle` uses)
local level = math.tointeger(tonumber(arg[5] or "6"))
if level == 0 then
  level = nil
end
if not (out and base and name) then
  io.stderr:write("usage: zpm_write.lua OUT BASEDIR NAME [THREADS [LEVEL]]\n")
  os.exit(2)
end

local w, err = core.archive.create(out, { threads = threads, level = level })
if not w then
  io.stderr:write("zpm_write: ", err, "\n")
  os.exit(1)
end

local function add(disk, arcname)
  local ok, aerr = w:add_path(disk, arcname)
  if not ok then
    io.stderr:write("zpm_write: ", aerr, "\n")
    w:close()
    os.exit(1)
  end
  if lfs.symlinkattributes(disk, "mode") == "directory" then
    local names = {}
    for entry in lfs.dir(disk) do
      if entry ~= "." and entry ~= ".." then
        names[#names + 1] = entry
      end
    end
    table.sort(names)
    for _, entry in ipairs(names) do
      add(disk .. "/" .. entry, arcname .. "/" .. entry)
    end
  end
end

add(base .. "/" .. name, name)
local ok, cerr = w:commit()
if not ok then
  io.stderr:write("zpm_write: ", cerr, "\n")
  os.exit(1)
end
