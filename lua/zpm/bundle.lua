--- Bundling a project into `<meta.name>.zapp` (DESIGN.md section 5).
-- Members: boot/system.map, zapp.yaml, the matches of each `bundling`
-- pattern, then of each `ui` pattern (sorted, each path once, directories
-- recursively without hidden entries), then what the project type's
-- bundler adds. The archive is streamed to a temporary file that is
-- renamed into place only when complete.
-- @module zpm.bundle
local core = require("zpm.core")
local bundlers = require("zpm.bundlers")
local fs = require("zpm.fs")
local glob = require("zpm.glob")
local job = require("zpm.job")
local log = require("zpm.log")
local yaml = require("zpm.yaml")
local zapp_model = require("zpm.zapp")

local M = {}

M.SECTIONS = { "bundling", "ui" }

M.NOTHING_MATCHED = "None of the files specified in the 'bundling' or "
  .. "'ui' sections of the zapp.yaml matched anything."

local function source_date_epoch()
  local value = os.getenv("SOURCE_DATE_EPOCH")
  if value == nil or value == "" then
    return nil
  end
  local n = math.tointeger(tonumber(value))
  if n == nil or n < 0 then
    return nil, ("SOURCE_DATE_EPOCH must be a non-negative integer, "
      .. "not '%s'"):format(value)
  end
  return n
end

-- The set of members, the writer, and what to keep out.
local Archive = {}
Archive.__index = Archive

-- Write one member through the writer method `how` and record it.
function Archive:record(arcname, how, ...)
  log.info("adding %s", arcname)
  local ok, err = self.writer[how](self.writer, ...)
  if not ok then
    return nil, err
  end
  self.members[arcname] = true
  self.order[#self.order + 1] = arcname
  return true
end

function Archive:add_file(disk, arcname)
  if self.members[arcname] or self.excluded[fs.abspath(disk)] then
    return true
  end
  return self:record(arcname, "add_path", disk, arcname)
end

function Archive:add_tree(disk, arcname)
  local ok, err = self:add_file(disk, arcname)
  if not ok then
    return nil, err
  end
  if fs.kind(disk) ~= "directory" then
    return true
  end
  local names, lerr = fs.list(disk)
  if not names then
    return nil, ("%s: %s"):format(disk, lerr)
  end
  for _, name in ipairs(names) do
    if name:sub(1, 1) ~= "." then
      ok, err = self:add_tree(fs.join(disk, name), arcname .. "/" .. name)
      if not ok then
        return nil, err
      end
    end
  end
  return true
end

function Archive:add_memory(arcname, data)
  if self.members[arcname] then
    return nil, ("'%s' is already in the zapp"):format(arcname)
  end
  return self:record(arcname, "add_memory", arcname, data, 420, self.mtime)
end

local function add_sections(archive, root, zapp, warnings)
  local matched = 0
  for _, section in ipairs(M.SECTIONS) do
    for i, pattern in ipairs(zapp_model.list(zapp, section)) do
      local paths, err = glob.expand(root, pattern)
      if not paths then
        local line, col = yaml.position(zapp[section], i)
        return nil, ("zapp.yaml:%d:%d: %s[%d]: %s"):format(line or 1,
          col or 1, section, i - 1, err)
      end
      local kept = {}
      for _, rel in ipairs(paths) do
        if not archive.excluded[fs.join(root, rel)] then
          kept[#kept + 1] = rel
        end
      end
      if #kept == 0 then
        local message = ("pattern '%s' in section '%s' matched no files")
          :format(pattern, section)
        warnings[#warnings + 1] = message
        log.warning("%s", message)
      end
      for _, rel in ipairs(kept) do
        local ok, aerr = archive:add_tree(fs.join(root, rel), rel)
        if not ok then
          return nil, aerr
        end
      end
      matched = matched + #kept
    end
  end
  if matched == 0 then
    return nil, M.NOTHING_MATCHED
  end
  return true
end

--- Bundle the project at root.
-- @param root the project directory (holding zapp.yaml)
-- @param opts { refresh_deps = boolean, output = path (default
--   `<root>/<meta.name>.zapp`), level = 1..9, threads = n }
-- @return { path = zapp path, name = file name, members = list,
--   warnings = list }, or nil and a one-line message
function M.bundle(root, opts)
  opts = opts or {}
  root = fs.abspath(root)
  local yaml_path = fs.join(root, "zapp.yaml")
  local zapp, err = zapp_model.load(yaml_path, "zapp.yaml")
  if not zapp then
    return nil, err
  end
  local the_job, jerr = job.generate(zapp)
  if not the_job then
    return nil, jerr
  end
  local job_json, eerr = job.encode(the_job)
  if not job_json then
    return nil, eerr
  end
  local mtime, merr = source_date_epoch()
  if merr then
    return nil, merr
  end
  local bundler, berr = bundlers.find(zapp_model.project_type(zapp))
  if not bundler then
    return nil, berr
  end

  local name = zapp.meta.name .. ".zapp"
  local output = fs.abspath(opts.output or fs.join(root, name))
  local writer, werr = core.archive.create(output, {
    mtime = mtime, level = opts.level, threads = opts.threads })
  if not writer then
    return nil, werr
  end
  local archive <close> = setmetatable({
    writer = writer, members = {}, order = {}, mtime = mtime,
    excluded = { [output] = true, [fs.abspath(writer:temp_path())] = true },
  }, { __index = Archive, __close = function(a) a.writer:close() end })
  local warnings = {}

  local ok, aerr = archive:add_memory("boot/system.map", job_json)
  if ok then
    ok, aerr = archive:add_file(yaml_path, "zapp.yaml")
  end
  if ok then
    ok, aerr = add_sections(archive, root, zapp, warnings)
  end
  if ok then
    local ctx = setmetatable({ root = root, zapp = zapp,
                               refresh_deps = opts.refresh_deps and true
                                 or false },
                             { __index = archive })
    ok, aerr = bundler.bundle(ctx)
  end
  if ok then
    ok, aerr = writer:commit()
  end
  if not ok then
    return nil, aerr
  end
  return { path = output, name = fs.basename(output),
           members = archive.order, warnings = warnings }
end

return M
