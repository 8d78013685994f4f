--- zpm undeploy: remove a deployed zapp whole.
local cli = require("zpm.cli")
local errors = require("zpm.errors")

local M = {}

M.summary = "Remove a deployed zapp"
M.description = [[
Remove what deploying to TARGET (container or container/dir) wrote: the
job, the web UI files, the zapp's name and its images with their Static
Large Object segments, and zpm's record; then the container and its
_segments container when zpm created them and nothing else is left in
them. TARGET must look like a zapp deployment (a boot/system.map and zpm's
.zapp/ objects); anything else is refused and nothing is removed.

On a terminal zpm lists what it will remove and asks first; elsewhere
(scripts) it needs --yes.]]

function M.add_to_parser(parser)
  parser:argument("target", "The deployment (Swift container name, "
                  .. "optionally container/dir)."):argname("TARGET")
  parser:flag("-y --yes", "Do not ask for confirmation.")
  parser:flag("--dry-run", "Print what would be removed, remove nothing.")
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

-- Ask on the terminal; true when the answer is yes.
local function confirm(question)
  io.stderr:write(question, " [y/N] ")
  io.stderr:flush()
  local answer = io.stdin:read("l")
  return answer ~= nil and answer:match("^%s*[Yy][Ee]?[Ss]?%s*$") ~= nil
end

function M.run(args)
  local core = require("zpm.core")
  local interactive = core.isatty(0) and core.isatty(2)
  if not (args.yes or args.dry_run or interactive) then
    return nil, "zpm undeploy removes objects: give --yes to confirm when "
      .. "standard input is not a terminal", errors.INVALID
  end
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  local lifecycle = require("zpm.lifecycle")
  if args.dry_run or not args.yes then
    local plan, perr, pcode, pdetail = lifecycle.undeploy_plan(conn,
                                                               args.target)
    if not plan then
      return nil, perr, pcode, pdetail
    end
    local lines = { ("%s %d objects of '%s':"):format(args.dry_run
      and "would remove" or "zpm undeploy removes", #plan.objects,
      plan.target) }
    for _, o in ipairs(plan.objects) do
      lines[#lines + 1] = "  " .. o.path .. (o.kind == "image"
        and " (with its segments, if any)" or "")
    end
    if not plan.recorded then
      lines[#lines + 1] = "  (deployed by an older zpm: its web UI files "
        .. "are not recorded and stay)"
    end
    local text = table.concat(lines, "\n") .. "\n"
    if args.dry_run then
      return cli.write(text)
    end
    io.stderr:write(text)
    if not confirm("Remove them?") then
      return nil, "nothing removed (not confirmed)", errors.INVALID
    end
  end
  local result, uerr, ucode, udetail = conn:undeploy(args.target)
  if not result then
    return nil, uerr, ucode, udetail
  end
  cli.print(("undeployed %s: %d objects removed"):format(result.target,
    #result.removed))
  for _, c in ipairs(result.containers) do
    cli.print(("  container '%s' removed (zpm created it; it was empty)")
      :format(c))
  end
  if not result.recorded then
    io.stderr:write("  (deployed by an older zpm: web UI files may be "
      .. "left under the target)\n")
  end
  return true
end

return M
