--- Bundling a project into `<meta.name>.zapp` (DESIGN.md section 5).
-- Members: boot/system.map, zapp.yaml, the matches of each `bundling`
-- pattern, then of each `ui` pattern (sorted, each path once, directories
-- recursively without hidden entries), then what the project type's
-- bundler adds. They stream into a temporary file beside the zapp,
-- renamed into place only when complete: each member is written as it
-- is found, while the trees are still being walked, so the compressing
-- threads start at once; with a progress meter they are all found first
-- (the meter's total), then written.
-- @module zpm.bundle
local core = require("zpm.core")
local bundlers = require("zpm.bundlers")
local fs = require("zpm.fs")
local glob = require("zpm.glob")
local interrupt = require("zpm.interrupt")
local job = require("zpm.job")
local lfs = require("lfs")
local log = require("zpm.log")
local yaml = require("zpm.yaml")
local errors = require("zpm.errors")
local zapp_model = require("zpm.zapp")

local M = {}

-- Entries per read of a tree's walk: enough that the calls cost nothing,
-- few enough that the first files reach the writer at once.
local WALK_BATCH = 256

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
      .. "not '%s'"):format(value), errors.INVALID
  end
  return n
end

-- The members, in order. With a writer (no meter) each is written as it
-- is recorded; without, they are kept in plain arrays and written by
-- write() once all are known, so that the meter's total is known up
-- front and nothing is logged while it draws.
local Plan = {}
Plan.__index = Plan

-- Whether an absolute path stays out of the zapp: the zapp itself, and
-- the temporary files of its writers beside it (`.<name>.tmp-XXXXXX`;
-- one a killed run left is removed when the writer starts).
function Plan:is_excluded(path)
  if self.excluded[path] then
    return true
  end
  return fs.dirname(path) == self.output_dir
    and fs.basename(path):find(self.temp_pattern) ~= nil
end

-- Whether disk could name an excluded path, from its last component
-- alone: the zapp's name, its temporary files' names, or "." and "..".
-- Most paths are not; they skip the abspath of is_excluded.
function Plan:may_be_excluded(disk)
  local base = disk:match("[^/]*$")
  return base == self.output_base or base == "" or base == "."
    or base == ".." or base:find(self.temp_pattern) ~= nil
end

-- Write one member: `w(writer)` adds it, or, when w is a number k, the
-- file prefixes[k] .. arcname, which the walk saw; size is its data's
-- bytes, or false when the walk did not lstat it.
local function write_member(writer, prefixes, arcname, size, w)
  if type(w) ~= "number" then
    return w(writer)
  end
  if size ~= 0 then
    -- a file, with data or not lstat'ed: opened without an lstat first,
    -- its path put together in C (no garbage per file)
    return writer:add_file(prefixes[w], arcname)
  end
  return writer:add_path(prefixes[w] .. arcname, arcname)
end

-- Record one member (see write_member for size and write): written now
-- when the plan streams, else kept. Plain arrays, no table, closure or
-- path per file: a tree of 20,000 files stays a few MiB. A failed write
-- fails the bundle even if a bundler goes on (as a failure while writing
-- the kept members would): the first is kept in self.failure.
function Plan:record(arcname, size, write)
  log.info("adding %s", arcname)
  local n = #self.order + 1
  self.members[arcname] = true
  self.order[n] = arcname
  if self.writer then
    local ok, err, code = write_member(self.writer, self.prefixes, arcname,
                                       size, write)
    local failure = self.failure
    if not ok and failure.message == nil then
      failure.message, failure.code = err, code
    end
    return ok, err, code
  end
  self.sizes[n] = size
  self.writes[n] = write
  return true
end

-- Returns true and the lstat mode ("file", "directory"...) when added.
function Plan:add_file(disk, arcname)
  if self.members[arcname] or (self:may_be_excluded(disk)
                               and self:is_excluded(fs.abspath(disk))) then
    return true
  end
  -- one table for every lstat: no garbage per file
  local attr, err = lfs.symlinkattributes(disk, self.attr)
  if not attr then
    -- as the writer says it: "cannot add '<path>': <strerror>"
    return nil, ("cannot add '%s': %s"):format(disk,
      tostring(err):match(": ([^:]+)$") or tostring(err)), errors.IO
  end
  local ok, rerr, rcode = self:record(arcname,
    attr.mode == "file" and attr.size or 0, self:disk_prefix(disk, arcname)
    or function(writer) return writer:add_path(disk, arcname) end)
  if not ok then
    return nil, rerr, rcode
  end
  return true, attr.mode
end

-- The number of disk's prefix when disk is that prefix .. arcname, as
-- in a tree, else nil; the prefixes are kept once.
function Plan:disk_prefix(disk, arcname)
  local cut = #disk - #arcname
  if cut < 0 or disk:find(arcname, cut + 1, true) ~= cut + 1 then
    return nil
  end
  local prefix = disk:sub(1, cut)
  local k = self.prefix_ids[prefix]
  if k == nil then
    k = #self.prefixes + 1
    self.prefixes[k] = prefix
    self.prefix_ids[prefix] = k
  end
  return k
end

-- Whether an entry under the directory disk could be excluded: only
-- when the zapp's directory is disk or under it.
function Plan:may_hold_excluded(disk)
  local dir = fs.abspath(disk)
  return self.output_dir == dir
    or self.output_dir:sub(1, #dir + 1) == dir .. "/"
end

function Plan:add_tree(disk, arcname)
  local ok, err, code = self:add_file(disk, arcname)
  if not ok then
    return nil, err, code
  end
  -- add_file's lstat says what it is, unless it skipped disk
  if (err or fs.kind(disk)) ~= "directory" then
    return true
  end
  -- the walk is C's (one fstatat per directory, no readlink), read in
  -- batches that are written as they come; files' sizes only for the
  -- meter's total (the writer's fstat learns them anyway)
  local walk <close>, werr, wcode = core.fs.walker(disk,
    { interrupt = interrupt.flag(), sizes = not self.writer })
  if not walk then
    return nil, werr, wcode
  end
  local check = self:may_hold_excluded(disk)
  local k = self:disk_prefix(disk, arcname)
  local members = self.members
  while true do
    local paths, kinds, sizes = walk:read(WALK_BATCH)
    if not paths then
      return nil, kinds, sizes
    end
    if #paths == 0 then
      return true
    end
    for i = 1, #paths do
      local rel = paths[i]
      local member = arcname .. "/" .. rel
      if not members[member] and not (check and self:is_excluded(
          fs.abspath(disk .. "/" .. rel))) then
        local write = k
        if write == nil then
          local path = disk .. "/" .. rel
          write = function(writer) return writer:add_path(path, member) end
        end
        local size = 0
        if kinds[i] == "file" then
          size = sizes[i]  -- false when not lstat'ed
        end
        local rok, rerr, rcode = self:record(member, size, write)
        if not rok then
          return nil, rerr, rcode
        end
      end
    end
  end
end

function Plan:add_memory(arcname, data)
  if type(data) ~= "string" then
    error(("add_memory: data for '%s' must be a string, not %s"):format(
      tostring(arcname), type(data)), 2)
  end
  if self.members[arcname] then
    return nil, ("'%s' is already in the zapp"):format(arcname),
      errors.CONFLICT
  end
  local mtime = self.mtime
  return self:record(arcname, #data, function(writer)
    return writer:add_memory(arcname, data, 420, mtime)
  end)
end

-- The zapp's writer; meter is nil or the progress meter.
local function create_writer(plan, output, opts, meter)
  return core.archive.create(output, {
    mtime = plan.mtime, level = opts.level, threads = opts.threads,
    progress = meter, interrupt = interrupt.flag() })
end

-- The writer members stream into, or false with a meter (they are all
-- found first); nil, message, code when it cannot be created.
local function streaming_writer(plan, output, opts)
  if opts.progress then
    return false
  end
  return create_writer(plan, output, opts, nil)
end

-- Write the kept members (the meter, or nil, counts them) and commit.
local function write(plan, output, opts, meter)
  -- the walk's garbage, and the names' set (only the planning needs
  -- it), go before the writer's buffers come: the peak RSS is the plan
  -- plus the writer, not plus the garbage (~3 ms)
  plan.members = nil
  collectgarbage()
  local writer <close>, err, code = create_writer(plan, output, opts, meter)
  if not writer then
    return nil, err, code
  end
  for i, arcname in ipairs(plan.order) do
    local ok, werr, wcode = write_member(writer, plan.prefixes, arcname,
                                         plan.sizes[i], plan.writes[i])
    if not ok then
      return nil, werr, wcode
    end
  end
  return writer:commit()
end

local function add_sections(plan, root, zapp, warnings)
  local matched = 0
  for _, section in ipairs(M.SECTIONS) do
    for i, pattern in ipairs(zapp_model.list(zapp, section)) do
      local paths, err, code = glob.expand(root, pattern)
      if not paths then
        local line, col = yaml.position(zapp[section], i)
        return nil, ("zapp.yaml:%d:%d: %s[%d]: %s"):format(line or 1,
          col or 1, section, i - 1, err), code
      end
      local kept = {}
      for _, rel in ipairs(paths) do
        if not plan:is_excluded(fs.join(root, rel)) then
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
        local ok, aerr, acode = plan:add_tree(fs.join(root, rel), rel)
        if not ok then
          return nil, aerr, acode
        end
      end
      matched = matched + #kept
    end
  end
  if matched == 0 then
    return nil, M.NOTHING_MATCHED, errors.INVALID
  end
  return true
end

--- Bundle the project at root.
-- @param root the project directory (holding zapp.yaml)
-- @param opts { refresh_deps = boolean, output = path (default
--   `<root>/<meta.name>.zapp`), level = 1..9, threads = n, progress =
--   boolean (a meter on stderr while writing; off by default: the CLI
--   turns it on on a terminal) }
-- @return { path = zapp path, name = file name, members = list,
--   warnings = list }, or nil, a one-line message and a code
--   (`zpm.errors`: "invalid", "yaml", "io", "archive", "interrupted"...)
function M.bundle(root, opts)
  opts = opts or {}
  root = fs.abspath(root)
  local yaml_path = fs.join(root, "zapp.yaml")
  local zapp, err, code = zapp_model.load(yaml_path, "zapp.yaml")
  if not zapp then
    return nil, err, code
  end
  local the_job, jerr, jcode = job.generate(zapp)
  if not the_job then
    return nil, jerr, jcode
  end
  local job_json, eerr, ecode = job.encode(the_job)
  if not job_json then
    return nil, eerr, ecode
  end
  local mtime, merr, mcode = source_date_epoch()
  if merr then
    return nil, merr, mcode
  end
  local bundler, berr, bcode = bundlers.find(zapp_model.project_type(zapp))
  if not bundler then
    return nil, berr, bcode
  end

  local name = zapp.meta.name .. ".zapp"
  local output = fs.abspath(opts.output or fs.join(root, name))
  local plan = setmetatable({ members = {}, order = {}, sizes = {},
                              writes = {}, attr = {}, prefixes = {},
                              prefix_ids = {}, failure = {},
                              mtime = mtime,
                              excluded = { [output] = true },
                              output_dir = fs.dirname(output),
                              output_base = fs.basename(output),
                              temp_pattern = "^%." .. fs.basename(output)
                                :gsub("%p", "%%%0")
                                .. "%.tmp%-[%w][%w][%w][%w][%w][%w]$" },
                            Plan)
  local warnings = {}
  -- without a meter the members stream into the writer as they are
  -- found; a failure meanwhile discards it (closed without commit)
  local writer <close>, werr, wcode = streaming_writer(plan, output, opts)
  if writer == nil then
    return nil, werr, wcode
  end
  plan.writer = writer or nil

  local ok, aerr, acode = plan:add_memory("boot/system.map", job_json)
  if ok then
    ok, aerr, acode = plan:add_file(yaml_path, "zapp.yaml")
  end
  if ok then
    ok, aerr, acode = add_sections(plan, root, zapp, warnings)
  end
  if ok then
    local ctx = setmetatable({ root = root, zapp = zapp,
                               refresh_deps = opts.refresh_deps and true
                                 or false },
                             { __index = plan })
    ok, aerr, acode = bundler.bundle(ctx)
    if not ok then
      -- a bundler of the user's may give no code: its project is wrong
      acode = acode or errors.INVALID
    end
  end
  if ok and plan.failure.message then
    ok, aerr, acode = nil, plan.failure.message, plan.failure.code
  end
  if ok and writer then
    ok, aerr, acode = writer:commit()
  elseif ok then
    local total = 0
    for _, size in ipairs(plan.sizes) do
      total = total + size
    end
    local meter <close> = core.progress.new(
      "bundling " .. fs.basename(output), total)
    ok, aerr, acode = write(plan, output, opts, meter)
  end
  if not ok then
    return nil, aerr, acode
  end
  return { path = output, name = fs.basename(output),
           members = plan.order, warnings = warnings }
end

return M
