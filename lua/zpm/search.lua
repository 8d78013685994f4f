--- Where templates and bundlers are found: built-ins (modules
-- `zpm.templates.<name>` / `zpm.bundlers.<name>`), then
-- `~/.zpm/<kind>/<name>.lua`, then `<dir>/<kind>/<name>.lua` for each
-- directory of the ZPM_PATH environment variable (':'-separated).
-- The first hit wins.
-- @module zpm.search
local fs = require("zpm.fs")

local M = {}

--- Directories searched for user extensions of a kind.
-- @param kind "templates" or "bundlers"
function M.user_dirs(kind)
  local dirs = {}
  local home = os.getenv("HOME")
  if home and home ~= "" then
    dirs[#dirs + 1] = fs.join(home, ".zpm", kind)
  end
  local zpm_path = os.getenv("ZPM_PATH")
  if zpm_path then
    for dir in zpm_path:gmatch("[^:]+") do
      dirs[#dirs + 1] = fs.join(dir, kind)
    end
  end
  return dirs
end

local function valid_name(name)
  return type(name) == "string" and name:match("^[%w_%-]+$") ~= nil
end

--- Load the extension `name` of `kind`.
-- @param builtins set of built-in names
-- @return the module's value and where it came from, or nil and a message
function M.find(kind, name, builtins)
  if not valid_name(name) then
    return nil, ("invalid %s name '%s'"):format(kind:sub(1, -2),
                                              tostring(name))
  end
  if builtins[name] then
    return require("zpm." .. kind .. "." .. name), "built-in"
  end
  for _, dir in ipairs(M.user_dirs(kind)) do
    local path = fs.join(dir, name .. ".lua")
    if fs.isfile(path) then
      local chunk, err = loadfile(path)
      if not chunk then
        return nil, err
      end
      local ok, value = pcall(chunk, name)
      if not ok then
        return nil, ("%s: %s"):format(path, tostring(value))
      end
      return value, path
    end
  end
  return nil, nil
end

--- Names available for a kind: built-ins and user files, sorted.
function M.names(kind, builtins)
  local seen, names = {}, {}
  local function add(name)
    if not seen[name] then
      seen[name] = true
      names[#names + 1] = name
    end
  end
  for name in pairs(builtins) do
    add(name)
  end
  for _, dir in ipairs(M.user_dirs(kind)) do
    for _, file in ipairs(fs.list(dir) or {}) do
      local name = file:match("^([%w_%-]+)%.lua$")
      if name then
        add(name)
      end
    end
  end
  table.sort(names)
  return names
end

return M
