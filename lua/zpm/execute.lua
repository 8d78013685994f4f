--- Running a zapp on ZeroCloud (DESIGN.md section 7): POST the deployed
-- job (`--container`) or the zapp file itself, with X-Zerovm-Execute.
-- @module zpm.execute
local errors = require("zpm.errors")
local deploy = require("zpm.deploy")
local fs = require("zpm.fs")
local job = require("zpm.job")
local json = require("zpm.json")
local log = require("zpm.log")
local ordered = require("zpm.ordered")
local swift = require("zpm.swift")

local M = {}

local function core_escape(word)
  return require("zpm.core").args.escape(word)
end

M.NOT_ZEROCLOUD = "the server did not run the job: its response has no "
  .. "X-Nexe-* execution headers (is it ZeroCloud?)"

-- Whether a job-arguments table sets anything.
local function has_args(args)
  return type(args) == "table" and (#(args.named or {}) > 0
    or #(args.words or {}) > 0 or #(args.groups or {}) > 0)
end

--- Set a job's arguments as the deployed web page does: the named
-- arguments (the zapp's `help.args`), each one word, in the order
-- `help.args` lists them (an empty value is left out), then free words
-- (split like a shell), are appended to every group's `exec.args`;
-- words for one group are appended to that group's only. Each word is
-- escaped as the job format requires (`zpm.core.args.escape`: backslash,
-- double quote, comma, space and newline as \xNN).
-- @param the_job a job table (a list of groups; changed in place)
-- @param args { named = { { name, value }, ... }, words = { "words",
--   ... }, groups = { { group name, "words" }, ... } }
-- @param names the names of the zapp's `help.args`, in order (nil: not
--   known, and then named arguments cannot be set)
-- @return the job, or nil, a message and "invalid" (an unknown name or
--   group, a name given twice, words that do not split)
function M.set_args(the_job, args, names)
  if type(the_job) ~= "table" then
    return nil, "the job is not a list of groups", errors.INVALID
  end
  local words = {}
  local named = {}
  for _, pair in ipairs(args.named or {}) do
    local name, value = pair[1], pair[2]
    if not names then
      return nil, ("--arg %s: the deployment does not say which "
        .. "arguments the zapp takes (its help.args): give the words with "
        .. "--args instead"):format(name), errors.INVALID
    end
    if named[name] then
      return nil, ("--arg %s is given twice"):format(name), errors.INVALID
    end
    local known = false
    for _, n in ipairs(names) do
      known = known or n == name
    end
    if not known then
      return nil, ("--arg %s: the zapp has no argument of that name (its "
        .. "help.args: %s)"):format(name, #names > 0
        and table.concat(names, ", ") or "none"), errors.INVALID
    end
    named[name] = value
  end
  for _, n in ipairs(names or {}) do
    if named[n] and named[n] ~= "" then
      words[#words + 1] = core_escape(named[n])
    end
  end
  for _, text in ipairs(args.words or {}) do
    local w, err, code = job.translate_args(text)
    if not w then
      return nil, ("--args %s: %s"):format(text, err), code
    end
    if w ~= "" then
      words[#words + 1] = w
    end
  end
  local common = table.concat(words, " ")
  local extra = {}
  for _, pair in ipairs(args.groups or {}) do
    local group, text = pair[1], pair[2]
    local found = false
    for _, g in ipairs(the_job) do
      found = found or (type(g) == "table" and g.name == group)
    end
    if not found then
      local known = {}
      for _, g in ipairs(the_job) do
        known[#known + 1] = type(g) == "table" and tostring(g.name) or "?"
      end
      return nil, ("--group-args %s: the job has no group of that name "
        .. "(its groups: %s)"):format(group, table.concat(known, ", ")),
        errors.INVALID
    end
    local w, err, code = job.translate_args(text)
    if not w then
      return nil, ("--group-args %s=%s: %s"):format(group, text, err), code
    end
    if w ~= "" then
      extra[group] = extra[group] and extra[group] .. " " .. w or w
    end
  end
  for _, g in ipairs(the_job) do
    if type(g) == "table" then
      local add = common
      if extra[g.name] then
        add = add ~= "" and add .. " " .. extra[g.name] or extra[g.name]
      end
      if add ~= "" then
        local exec = g.exec
        if type(exec) ~= "table" then
          exec = json.object({})
          ordered.set(g, "exec", exec)
        end
        local old = type(exec.args) == "string" and exec.args or ""
        ordered.set(exec, "args", old ~= "" and old .. " " .. add or add)
      end
    end
  end
  return the_job
end

--- The names of the `help.args` of the zapp deployed at a target, from
-- its record (`zpm.deploy.record_path`), or nil when not recorded.
local function deployed_arg_names(conn, target)
  local c, o = deploy.record_path(target):match("^([^/]+)/(.+)$")
  local text = conn:get_object(c, o)
  local record = text and json.decode(text)
  if type(record) ~= "table" or type(record.args) ~= "table" then
    return nil
  end
  return record.args
end

--- Execute a job.
-- @param conn a `zpm.swift` connection
-- @param opts { container = deployed target, or zapp = local .zapp path;
--   sink = where the job's output goes (as for `session:request`;
--   default: collected into result.body); args = the job's arguments,
--   as `set_args` takes them (with `container` only: a local zapp runs
--   the boot/system.map inside it) }
-- @return { status, reason, headers, body (when collected), failed },
--   or nil, a message, a code and detail (`zpm.errors`; a non-2xx
--   response: "<status> <reason>: <body>", "http" with detail.status; a
--   2xx without X-Nexe-* headers: NOT_ZEROCLOUD, "protocol"). The job
--   ran when a result comes back, but it succeeded only when `failed`
--   (see `zpm.summary.failures`: the nodes whose status is not "ok" or
--   whose retcode is not 0) is empty.
function M.execute(conn, opts)
  opts = opts or {}
  local resp, err, code, detail
  if opts.container then
    local _, container, dir = deploy.split_target(opts.container)
    if not container then
      return nil, "--container needs a container name", errors.INVALID
    end
    local object = (dir ~= "" and dir .. "/" or "") .. "boot/system.map"
    local job, gerr, gcode, gdetail = conn:get_object(container, object)
    if not job then
      if gcode == errors.HTTP and gdetail.status == 404 then
        return nil, ("Could not find %s/%s"):format(container, object),
          gcode, gdetail
      end
      return nil, gerr, gcode, gdetail
    end
    if has_args(opts.args) then
      local the_job = json.decode_ordered(job)
      local names = #(opts.args.named or {}) > 0
        and deployed_arg_names(conn, (deploy.split_target(opts.container)))
      local ok, aerr, acode = M.set_args(the_job, opts.args,
                                         names or nil)
      if not ok then
        return nil, aerr, acode
      end
      job = assert(json.encode(the_job))
    end
    log.debug("job: %s", job)
    resp, err, code, detail = conn:post_job(job, {
      content_type = "application/json", sink = opts.sink })
  else
    if has_args(opts.args) then
      return nil, "job arguments (--arg, --args, --group-args) need a "
        .. "deployed zapp (--container): a zapp file runs the "
        .. "boot/system.map inside it", errors.INVALID
    end
    local zapp = opts.zapp
    if not zapp or not fs.isfile(zapp) then
      return nil, ("%s: no such file"):format(tostring(zapp)), errors.IO
    end
    -- zpm's zapps may be multi-member gzip (parallel compression), which
    -- a server that reads only the first member would cut short: send
    -- the tar itself, gunzipped on the fly
    resp, err, code, detail = conn:post_job({ gunzip = zapp }, {
      content_type = "application/x-tar", sink = opts.sink })
  end
  if not resp then
    return nil, err, code, detail
  end
  log.debug("response: %d %s", resp.status, resp.reason or "")
  if not swift.is_2xx(resp.status) then
    local body = (resp.body or ""):gsub("%s+$", "")
    return nil, ("%d %s%s"):format(resp.status, resp.reason or "",
      body ~= "" and ": " .. body or ""), errors.HTTP,
      { status = resp.status, reason = resp.reason, url = resp.url }
  end
  if resp.headers["x-nexe-system"] == nil then
    return nil, M.NOT_ZEROCLOUD, errors.PROTOCOL
  end
  return { status = resp.status, reason = resp.reason,
           headers = resp.headers, body = resp.body,
           failed = require("zpm.summary").failures(resp.headers) }
end

return M
