--- Projects on disk: finding the root and creating new ones.
-- @module zpm.project
local core = require("zpm.core")
local fs = require("zpm.fs")
local templates = require("zpm.templates")
local undo = require("zpm.undo")
local errors = require("zpm.errors")

local M = {}

--- Walk up from start (default: the current directory) to the first
-- directory holding zapp.yaml.
-- @return the root, or nil, "no zapp.yaml file found" and "notfound"
function M.find_root(start)
  local dir = fs.abspath(start or ".")
  while true do
    if fs.isfile(fs.join(dir, "zapp.yaml")) then
      return dir
    end
    local parent = fs.dirname(dir)
    if parent == dir then
      return nil, "no zapp.yaml file found", errors.NOTFOUND
    end
    dir = parent
  end
end

--- Create a project from a template.
-- Nothing is overwritten: if any file the template makes exists, the
-- result is "'<path>' already exists!" and nothing is created; a starter
-- file (`ctx:sample`) that exists is kept, and not made. If a step
-- fails, whatever was created (including the directory) is removed.
-- @param location directory to create the project in (made if missing)
-- @param opts { template = name (default "python"), with_ui = boolean }
-- @return list of created paths (location joined with each entry, in
--   order), or nil, a message and a code ("conflict": a path exists,
--   nothing created; "invalid", "io"...: what was created is removed)
function M.create(location, opts)
  opts = opts or {}
  location = location or "."
  local kind = fs.kind(location)
  if kind ~= nil and not fs.isdir(location) then
    return nil, "Target `location` must be a directory", errors.INVALID
  end
  local name = fs.basename(fs.abspath(location))
  local entries, err, code = templates.render(
    opts.template or templates.DEFAULT,
    { name = name, with_ui = opts.with_ui })
  if not entries then
    return nil, err, code
  end
  local wanted = {}
  for _, entry in ipairs(entries) do
    local path = fs.join(location, entry.path)
    if not fs.exists(path) then
      wanted[#wanted + 1] = entry
    elseif not entry.keep_existing then
      return nil, ("'%s' already exists!"):format(path), errors.CONFLICT
    end
  end
  entries = wanted

  local log = undo.new()
  local created = {}
  local function fail(message, code)
    log:rollback()
    return nil, message, code or errors.IO
  end
  local dirs, derr, _, ddetail = fs.makedirs(location)
  for _, dir in ipairs(dirs or ddetail.created) do
    log:push(dir, function() return os.remove(dir) end)
  end
  if not dirs then
    return fail(derr)
  end
  for _, entry in ipairs(entries) do
    local path = fs.join(location, entry.path)
    local parents, perr, _, pdetail = fs.makedirs(fs.dirname(path))
    for _, dir in ipairs(parents or pdetail.created) do
      log:push(dir, function() return os.remove(dir) end)
    end
    if not parents then
      return fail(perr)
    end
    if fs.exists(path) then
      return fail(("'%s' already exists!"):format(path), errors.CONFLICT)
    end
    local ok, werr
    if entry.kind == "dir" then
      ok, werr = require("lfs").mkdir(path)
    else
      ok, werr = fs.write(path, entry.content)
    end
    if ok then
      log:push(path, function() return os.remove(path) end)
    else
      -- a partly written file is ours to remove too
      if entry.kind == "file" then
        os.remove(path)
      end
      return fail(("%s: %s"):format(path, tostring(werr)))
    end
    if entry.mode then
      local cok, cerr, ccode = core.chmod(path, entry.mode)
      if not cok then
        return fail(cerr, ccode)
      end
    end
    created[#created + 1] = path
  end
  log:commit()
  return created
end

return M
