--- Running a zapp on ZeroCloud (DESIGN.md section 7): POST the deployed
-- job (`--container`) or the zapp file itself, with X-Zerovm-Execute.
-- @module zpm.execute
local errors = require("zpm.errors")
local deploy = require("zpm.deploy")
local fs = require("zpm.fs")
local log = require("zpm.log")
local swift = require("zpm.swift")

local M = {}

M.NOT_ZEROCLOUD = "the server did not run the job: its response has no "
  .. "X-Nexe-* execution headers (is it ZeroCloud?)"

--- Execute a job.
-- @param conn a `zpm.swift` connection
-- @param opts { container = deployed target, or zapp = local .zapp path;
--   sink = where the job's output goes (as for `session:request`;
--   default: collected into result.body) }
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
    log.debug("job: %s", job)
    resp, err, code, detail = conn:post_job(job, {
      content_type = "application/json", sink = opts.sink })
  else
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
