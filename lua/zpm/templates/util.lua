--- Helpers for writing templates.
local fs = require("zpm.fs")
local errors = require("zpm.errors")

local M = {}

-- This module's directory, made absolute while the current directory is
-- the one it was loaded from: the built-in templates' files are beside
-- it, in `<name>/` (installed with the modules by CMake, so by LuaRocks).
local HERE = fs.abspath(debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")
                        or ".")

--- Text safe inside a double-quoted YAML scalar.
function M.yaml_quote(s)
  return (s:gsub('[\\"]', "\\%0"):gsub("%c", function(c)
    return ("\\x%02x"):format(c:byte())
  end))
end

--- The directory holding a built-in template's files.
-- @param name template name (`ui`, `python`, `shell`)
-- @return the path of `zpm/templates/<name>/`
function M.dir(name)
  return fs.join(HERE, name)
end

--- Read one of a built-in template's files.
-- @param name template name
-- @param file file name inside the template's directory
-- @return the file's text, or nil, "cannot read <path>: <reason>" and
--   "io"
function M.read(name, file)
  local path = fs.join(M.dir(name), file)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, ("cannot read %s: %s"):format(path, tostring(err)),
      errors.IO
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then
    return nil, ("cannot read %s: %s"):format(path, tostring(rerr)),
      errors.IO
  end
  return text
end

--- Read one of a built-in template's files and fill in its placeholders:
-- each `@key@` whose key is in `vars` becomes `vars[key]`, as is (other
-- text, `%` included, stays as written).
-- @param name template name
-- @param file file name inside the template's directory
-- @param vars table of placeholder values (strings)
-- @return the filled text, or nil, "cannot read <path>: <reason>" and
--   "io"
function M.fill(name, file, vars)
  local text, err, code = M.read(name, file)
  if not text then
    return nil, err, code
  end
  return (text:gsub("@([%w_]+)@", vars))
end

return M
