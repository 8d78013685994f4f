--- The zapp.yaml model: loading and validation.
-- Errors name the file, line and column, and the key path, e.g.
-- `zapp.yaml:12:7: execution.groups[0].path: expected a string, got integer`
-- (list indexes count from 0).
-- @module zpm.zapp
local yaml = require("zpm.yaml")
local errors = require("zpm.errors")

local M = {}

--- The sections zapp.yaml may hold at the top level.
M.SECTIONS = { "project_type", "execution", "meta", "help", "bundling",
               "ui", "dependencies", "python" }

local null = yaml.null

-- Validation raises a tagged table; `validate` turns it into nil, msg.
local Invalid = {}

local function invalid(ctx, container, key, path, message)
  local line, column = yaml.position(container, key)
  error(setmetatable({
    message = ("%s:%d:%d: %s%s"):format(ctx.file, line or 1, column or 1,
                                        path ~= "" and path .. ": " or "",
                                        message),
  }, Invalid), 0)
end

local function describe(v)
  return yaml.type_name(v)
end

local function absent(v)
  return v == nil or v == null
end

local function child(path, key)
  if math.type(key) == "integer" then
    return ("%s[%d]"):format(path, key - 1)
  end
  return path == "" and tostring(key) or path .. "." .. tostring(key)
end

-- Each checker gets (ctx, parent, key, path) and checks parent[key].
local function want_string(ctx, parent, key, path, opts)
  local v = parent[key]
  if absent(v) then
    if opts and opts.required then
      if v == nil then
        invalid(ctx, parent, nil, path, ("missing required key '%s'")
                :format(key))
      end
      invalid(ctx, parent, key, child(path, key),
              "expected a string, got null")
    end
    return nil
  end
  if type(v) ~= "string" then
    invalid(ctx, parent, key, child(path, key),
            "expected a string, got " .. describe(v))
  end
  if opts and opts.nonempty and v == "" then
    invalid(ctx, parent, key, child(path, key), "must not be empty")
  end
  return v
end

local function want_mapping(ctx, parent, key, path, required)
  local v = parent[key]
  if absent(v) then
    if required then
      if v == nil then
        invalid(ctx, parent, nil, path, ("missing required section '%s'")
                :format(key))
      end
      invalid(ctx, parent, key, child(path, key),
              "expected a mapping, got null")
    end
    return nil
  end
  if type(v) ~= "table" or yaml.is_sequence(v) then
    invalid(ctx, parent, key, child(path, key),
            "expected a mapping, got " .. describe(v))
  end
  return v
end

local function want_list(ctx, parent, key, path)
  local v = parent[key]
  if absent(v) then
    return nil
  end
  if not yaml.is_sequence(v) then
    invalid(ctx, parent, key, child(path, key),
            "expected a list, got " .. describe(v))
  end
  return v
end

local function want_string_list(ctx, parent, key, path)
  local list = want_list(ctx, parent, key, path)
  if list then
    local lpath = child(path, key)
    for i = 1, #list do
      want_string(ctx, list, i, lpath, { required = true, nonempty = true })
    end
  end
  return list
end

local function want_integer(ctx, parent, key, path, min)
  local v = parent[key]
  if absent(v) then
    return nil
  end
  if math.type(v) ~= "integer" then
    invalid(ctx, parent, key, child(path, key),
            "expected an integer, got " .. describe(v))
  end
  if v < min then
    invalid(ctx, parent, key, child(path, key),
            ("must be at least %d"):format(min))
  end
  return v
end

local function check_meta(ctx, zapp)
  local meta = want_mapping(ctx, zapp, "meta", "", true)
  local name = want_string(ctx, meta, "name", "meta",
                           { required = true, nonempty = true })
  if name:find("[/%z]") or name == "." or name == ".." then
    invalid(ctx, meta, "name", "meta.name",
            ("'%s' cannot be used as a file name"):format(name))
  end
  for _, key in ipairs(yaml.keys(meta)) do
    local v = meta[key]
    if type(v) == "table" then
      invalid(ctx, meta, key, child("meta", key),
              "expected a single value, got " .. describe(v))
    end
  end
end

local function check_devices(ctx, group, gpath)
  local devices = want_list(ctx, group, "devices", gpath)
  if not devices then
    return
  end
  local dpath = child(gpath, "devices")
  for i = 1, #devices do
    want_mapping(ctx, devices, i, dpath, true)
    local ipath = child(dpath, i)
    want_string(ctx, devices[i], "name", ipath,
                { required = true, nonempty = true })
    want_string(ctx, devices[i], "path", ipath)
  end
end

local function check_env(ctx, group, gpath)
  local env = want_mapping(ctx, group, "env", gpath, false)
  if not env then
    return
  end
  local epath = child(gpath, "env")
  for _, key in ipairs(yaml.keys(env)) do
    local v = env[key]
    if type(key) ~= "string" then
      invalid(ctx, env, key, child(epath, key),
              ("environment variable names must be strings (YAML reads "
               .. "this one as %s: quote it)"):format(tostring(key)))
    end
    if type(v) == "table" or v == null then
      invalid(ctx, env, key, child(epath, key),
              "expected a string or number, got " .. describe(v))
    end
  end
end

local function check_execution(ctx, zapp)
  local execution = want_mapping(ctx, zapp, "execution", "", true)
  local groups = want_list(ctx, execution, "groups", "execution")
  if not groups then
    invalid(ctx, execution, nil, "execution",
            "missing required key 'groups'")
  end
  if #groups == 0 then
    invalid(ctx, execution, "groups", "execution.groups",
            "needs at least one group")
  end
  local names = {}
  for i = 1, #groups do
    local gpath = child("execution.groups", i)
    local group = want_mapping(ctx, groups, i, "execution.groups", true)
    local name = want_string(ctx, group, "name", gpath,
                             { required = true, nonempty = true })
    if names[name] then
      invalid(ctx, group, "name", child(gpath, "name"),
              ("duplicate group name '%s'"):format(name))
    end
    names[name] = true
    want_string(ctx, group, "path", gpath,
                { required = true, nonempty = true })
    want_string(ctx, group, "args", gpath)
    check_devices(ctx, group, gpath)
    check_env(ctx, group, gpath)
    want_integer(ctx, group, "count", gpath, 1)
    want_integer(ctx, group, "replicate", gpath, 0)
    want_string_list(ctx, group, "connect", gpath)
  end
  for i = 1, #groups do
    local connect = groups[i].connect
    if not absent(connect) then
      local cpath = child(child("execution.groups", i), "connect")
      for j = 1, #connect do
        if not names[connect[j]] then
          invalid(ctx, connect, j, child(cpath, j),
                  ("no group named '%s'"):format(connect[j]))
        end
      end
    end
  end
end

local function check_help(ctx, zapp)
  local help = want_mapping(ctx, zapp, "help", "", false)
  if not help then
    return
  end
  want_string(ctx, help, "description", "help")
  local args = want_list(ctx, help, "args", "help")
  if args then
    for i = 1, #args do
      local apath = child("help.args", i)
      local pair = args[i]
      if not yaml.is_sequence(pair) or #pair ~= 2 then
        invalid(ctx, args, i, apath,
                "expected a [name, label] pair, got " .. describe(pair))
      end
      want_string(ctx, pair, 1, apath, { required = true })
      want_string(ctx, pair, 2, apath, { required = true })
    end
  end
end

local function check_dependencies(ctx, zapp)
  local deps = want_list(ctx, zapp, "dependencies", "")
  if not deps then
    return
  end
  for i = 1, #deps do
    local dpath = child("dependencies", i)
    local dep = deps[i]
    if yaml.is_sequence(dep) then
      if #dep == 0 then
        invalid(ctx, deps, i, dpath, "expected [package, module, ...]")
      end
      for j = 1, #dep do
        want_string(ctx, dep, j, dpath, { required = true, nonempty = true })
      end
    else
      want_string(ctx, deps, i, "dependencies",
                  { required = true, nonempty = true })
    end
  end
end

-- What a deployed zapp's zapp.yaml must hold: only what deploy reads
-- from it (its job comes from boot/system.map), as the original zpm.
local function check_deployed(ctx, zapp)
  local meta = want_mapping(ctx, zapp, "meta", "", false)
  if meta then
    want_string(ctx, meta, "name", "meta", {})
  end
  check_help(ctx, zapp)
  want_string_list(ctx, zapp, "ui", "")
end

--- Check a loaded zapp.yaml value against the format of DESIGN.md s. 3.
-- @param zapp the value from `zpm.yaml.load_file`
-- @param file the file name to put in messages
-- @param opts { deployed = true: the zapp.yaml of a bundled zapp being
--   deployed, whose job is its boot/system.map: only `meta`, `help` and
--   `ui` are read and checked, and none is required }
-- @return zapp, or nil and "file:line:col: key.path: message"
function M.validate(zapp, file, opts)
  local ctx = { file = file or "zapp.yaml" }
  local ok, err = pcall(function()
    if type(zapp) ~= "table" or yaml.is_sequence(zapp) then
      invalid(ctx, zapp, nil, "",
              "expected a mapping at the top level, got " .. describe(zapp))
    end
    if opts and opts.deployed then
      return check_deployed(ctx, zapp)
    end
    want_string(ctx, zapp, "project_type", "", { nonempty = true })
    check_execution(ctx, zapp)
    check_meta(ctx, zapp)
    check_help(ctx, zapp)
    want_string_list(ctx, zapp, "bundling", "")
    want_string_list(ctx, zapp, "ui", "")
    check_dependencies(ctx, zapp)
    local python = want_mapping(ctx, zapp, "python", "", false)
    if python then
      want_string(ctx, python, "site_packages", "python", { nonempty = true })
    end
  end)
  if not ok then
    if getmetatable(err) == Invalid then
      return nil, err.message, errors.INVALID
    end
    error(err, 0)
  end
  return zapp
end

--- Load and validate a zapp.yaml file.
-- @param path the file
-- @param name how to call it in messages (default: path)
-- @return zapp table, or nil, a one-line message ("file:line:col: ...")
--   and a code: "invalid" (not a valid zapp.yaml), "yaml" (not YAML),
--   "io" (cannot be read)
function M.load(path, name)
  local value, err, code = yaml.load_file(path)
  if value == nil then
    if name and err then
      err = err:gsub("^" .. path:gsub("%p", "%%%0"), name)
    end
    return nil, err, code
  end
  return M.validate(value, name or path)
end

--- Load and validate zapp.yaml text (e.g. read from inside a zapp).
-- @param opts as for `validate`
-- @return as `load`
function M.parse(text, name, opts)
  local value, err, code = yaml.load(text, name or "zapp.yaml")
  if value == nil then
    return nil, err, code
  end
  return M.validate(value, name or "zapp.yaml", opts)
end

--- A list section (`bundling`, `ui`, `dependencies`) as a plain list.
function M.list(zapp, section)
  local v = zapp[section]
  if v == nil or v == null then
    return {}
  end
  return v
end

--- The project type, "python" when not given.
function M.project_type(zapp)
  local v = zapp.project_type
  if v == nil or v == null then
    return "python"
  end
  return v
end

return M
