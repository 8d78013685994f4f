--- Project templates for `zpm new`. A template is a Lua module returning
-- either a function `create(ctx)` or a table `{ description = "...",
-- create = function(ctx) ... end }`. `create` yields the files to make by
-- calling `ctx:file(path, content [, mode])`, `ctx:sample(path, content
-- [, mode])` (a starter file, made only where the project has none: an
-- existing one is kept) and `ctx:dir(path)` with paths relative to the
-- project directory; `ctx.name` is the project name and
-- `ctx.with_ui` tells whether UI files were asked for. Built-in: `python`;
-- users add their own on the search path of `zpm.search`.
-- @module zpm.templates
local search = require("zpm.search")
local errors = require("zpm.errors")

local M = {}

M.BUILTIN = { python = true, shell = true }
M.DEFAULT = "python"

--- Find a template by name.
-- @return { name, description, create, origin }, or nil, a message and
--   a code ("notfound": no such template; "invalid": a bad name or
--   module)
function M.find(name)
  local value, origin = search.find("templates", name, M.BUILTIN)
  if value == nil then
    if origin then
      return nil, origin, errors.INVALID
    end
    return nil, ("no such template: '%s' (available: %s)")
      :format(tostring(name), table.concat(M.names(), ", ")),
      errors.NOTFOUND
  end
  if type(value) == "function" then
    value = { create = value }
  end
  if type(value) ~= "table" or type(value.create) ~= "function" then
    return nil, ("template '%s' (%s) must return a function or a table "
      .. "with a create function"):format(name, origin), errors.INVALID
  end
  return { name = name, description = value.description or "",
           create = value.create, origin = origin }
end

--- Names of every available template, sorted.
function M.names()
  return search.names("templates", M.BUILTIN)
end

--- Run a template and collect what it wants created.
-- @param name template name
-- @param opts { name = project name, with_ui = boolean }
-- @return list of { path, kind = "file"|"dir", content, mode,
--   keep_existing }, or nil, msg
function M.render(name, opts)
  local template, err, code = M.find(name)
  if not template then
    return nil, err, code
  end
  local entries = {}
  local ctx = { name = opts.name, with_ui = opts.with_ui and true or false }
  function ctx.file(_, path, content, mode)
    assert(type(path) == "string" and type(content) == "string",
           "ctx:file(path, content) takes two strings")
    entries[#entries + 1] = { path = path, kind = "file", content = content,
                              mode = mode }
  end
  function ctx.sample(self, path, content, mode)
    self:file(path, content, mode)
    entries[#entries].keep_existing = true
  end
  function ctx.dir(_, path)
    assert(type(path) == "string", "ctx:dir(path) takes a string")
    entries[#entries + 1] = { path = path, kind = "dir" }
  end
  local ok, cerr = pcall(template.create, ctx)
  if not ok then
    return nil, ("template '%s' failed: %s"):format(name, tostring(cerr)),
      errors.INVALID
  end
  for _, entry in ipairs(entries) do
    if entry.path:sub(1, 1) == "/" or entry.path:find("%.%.") then
      return nil, ("template '%s' wants to create '%s' outside the project")
        :format(name, entry.path), errors.INVALID
    end
  end
  return entries
end

return M
