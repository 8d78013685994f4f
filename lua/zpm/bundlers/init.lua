--- Project-type bundlers: after the project's own files are in the zapp,
-- the bundler named by `project_type` adds what the type needs (for
-- Python, third-party dependencies). A bundler is a Lua module returning a
-- table with `bundle(ctx)`; ctx offers `ctx.root`, `ctx.zapp`,
-- `ctx.refresh_deps`, `ctx:add_file(disk_path, arcname)`,
-- `ctx:add_tree(disk_dir, arcname)` and `ctx:add_memory(arcname, data)`,
-- each returning true or nil and a message; `bundle` returns true or
-- nil and a message. Built-in: `python`; users add their own on the
-- search path of `zpm.search`.
-- @module zpm.bundlers
local search = require("zpm.search")
local errors = require("zpm.errors")

local M = {}

M.BUILTIN = { python = true, shell = true }

--- Find the bundler for a project type.
-- @return bundler table, or nil, a message and a code ("notfound": no
--   bundler for it; "invalid": a bad name or module)
function M.find(project_type)
  local value, origin = search.find("bundlers", project_type, M.BUILTIN)
  if value == nil then
    if origin then
      return nil, origin, errors.INVALID
    end
    return nil, ("no bundler for project_type '%s' (available: %s)")
      :format(tostring(project_type), table.concat(M.names(), ", ")),
      errors.NOTFOUND
  end
  if type(value) ~= "table" or type(value.bundle) ~= "function" then
    return nil, ("bundler '%s' (%s) must return a table with a bundle "
      .. "function"):format(project_type, origin), errors.INVALID
  end
  return value
end

--- Names of every available bundler, sorted.
function M.names()
  return search.names("bundlers", M.BUILTIN)
end

return M
