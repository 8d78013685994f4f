--- zpm deploy: upload a zapp (and its web UI) to Swift.
local cli = require("zpm.cli")

local M = {}

M.summary = "Deploy a ZeroVM application"
M.description = [[
This deploys a zapp onto Swift. The zapp can be one you have downloaded or
produced yourself with "zpm bundle".

You will need to know the Swift authentication URL, username, password,
and tenant or project name. These can be supplied with command line flags
(see below) or you can set the corresponding environment variables. The
environment variables are the same as the ones used by the Swift command
line tool, so if you're already using that to upload files to Swift, you
will be ready to go.]]

function M.add_to_parser(parser)
  parser:argument("target", "Deployment target (Swift container name, "
                  .. "optionally container/dir)."):argname("TARGET")
  parser:argument("zapp", "A ZeroVM application."):argname("ZAPP")
  parser:flag("--execute", "Immediately execute the deployed Zapp (for "
              .. "testing).")
  require("zpm.cmd.execute").add_args_options(parser)
  cli.add_summary_options(parser)
  require("zpm.output").add_format_options(parser, "what was deployed "
    .. "(with --execute, the job's result; with --dry-run, the plan)")
  parser:flag("-f --force", "Force deployment to a non-empty container.")
  parser:flag("--no-ui-auth", "Do not generate any authentication code "
              .. "for the web UI.")
  parser:flag("--ui-embed-credentials", "Embed the password or key in the "
              .. "web UI (anyone who can read the page can use them); by "
              .. "default the page asks for it.")
  parser:flag("--public", "Make the container world-readable (read ACL "
              .. "'.r:*,.rlistings') so a browser loads the web UI "
              .. "without a token.")
  local concurrency = tostring(require("zpm.defaults").CONCURRENCY)
  parser:option("--concurrency", "Upload up to N web UI files at once "
                .. "(default: " .. concurrency .. ").", concurrency)
    :argname("N"):show_default(false)
    :convert(cli.positive_integer("--concurrency"))
  parser:option("--ui-upload", "How the web UI files go: 'bulk' (one "
                .. "request, where the cluster's /info announces "
                .. "bulk_upload), 'parallel' (one PUT each, --concurrency "
                .. "at a time) or 'auto' (bulk when the cluster has it; "
                .. "the default).", "auto")
    :argname("HOW"):choices({ "auto", "bulk", "parallel" })
    :show_default(false)
  parser:option("--segment-size", "Upload a zapp larger than SIZE bytes "
                .. "(K, M, G suffixes allowed) as a Static Large Object in "
                .. "segments of SIZE (default: Swift's largest object, "
                .. "from its /info).")
    :argname("SIZE"):convert(cli.size("--segment-size"))
  parser:flag("--leave-segments", "On a redeploy, keep the segments of "
              .. "the previous version's Static Large Object (by default "
              .. "they are removed once the new version is in place).")
  parser:flag("--skip-identical", "Send only the objects whose content "
              .. "differs from what the target holds (the zapp's tar is "
              .. "not sent again when the target holds an image with the "
              .. "MD5 the zapp records, or the zapp file is the one "
              .. "deployed there).")
  parser:flag("--break-lock", "Remove the target's deploy lock if "
              .. "another deploy holds it (one killed on another machine; "
              .. "a lock whose deploy is gone on this machine is removed "
              .. "anyway).")
  parser:flag("--dry-run", "Print what the deploy would write (objects, "
              .. "sizes, content types, ACL) and write nothing.")
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

--- The text `deploy --dry-run` prints for a plan (`zpm.deploy.plan`)
-- and what the container holds now (`state`: { exists = bool, objects =
-- n (up to 2) }).
function M.format_plan(plan, state)
  local out = {}
  local function add(fmt, ...)
    out[#out + 1] = fmt:format(...)
  end
  add("dry run: nothing is written")
  add("deploy %s (%d bytes, gzip) to %s", plan.zapp.path, plan.zapp.size,
      plan.target)
  if not state.exists then
    add("container '%s': not found, would be created%s", plan.container,
        plan.acl and " with read ACL " .. plan.acl or "")
  else
    add("container '%s': exists, %s%s", plan.container,
        state.objects == 0 and "empty" or "not empty",
        state.objects > 0 and (plan.force and " (--force: objects are "
          .. "overwritten)" or " (the deploy would fail: --force "
          .. "overwrites)") or "")
    if plan.acl then
      add("read ACL of '%s' would be set to %s", plan.container, plan.acl)
    end
  end
  add("objects, in the order written:")
  local rows = { { "OBJECT", "CONTENT TYPE", "BYTES" } }
  for _, o in ipairs(plan.objects) do
    local size = o.size and tostring(o.size)
    if o.role == "image" then
      size = ("? (the unpacked tar; a Static Large Object in %s_segments "
        .. "if larger than %d)"):format(plan.container, plan.segment_size)
    end
    rows[#rows + 1] = { o.path, o.content_type or "?", size or "?" }
  end
  out[#out + 1] = cli.columns(rows, "  ")
  add("then: the record %s; the images of earlier deploys are removed "
      .. "(with their segments)", plan.record)
  add("lock while deploying: %s", plan.lock)
  return table.concat(out, "\n") .. "\n"
end

--- What `deploy --dry-run --format json` prints for a plan and the
-- container's state (as `format_plan` takes them).
function M.plan_data(plan, state)
  local json = require("zpm.json")
  local objects = json.array()
  for i, o in ipairs(plan.objects) do
    objects[i] = json.object({ "role", "path", "content_type", "size" },
      { role = o.role, path = o.path, content_type = o.content_type,
        size = o.size })
  end
  return json.object({ "dry_run", "target", "container",
    "container_exists", "container_empty", "zapp", "zapp_size", "acl",
    "segment_size", "objects", "record", "lock" },
    { dry_run = true, target = plan.target, container = plan.container,
      container_exists = state.exists,
      container_empty = state.objects == 0, zapp = plan.zapp.path,
      zapp_size = plan.zapp.size, acl = plan.acl,
      segment_size = plan.segment_size, objects = objects,
      record = plan.record, lock = plan.lock })
end

--- What `deploy --format json` prints for a deploy's result
-- (`conn:deploy`), and `execute` (`zpm.cmd.execute.execute_data`'s) when
-- the job ran.
function M.result_data(target, result, execute)
  local json = require("zpm.json")
  local skipped
  if result.skipped then
    skipped = json.array()
    for i, s in ipairs(result.skipped) do
      skipped[i] = json.object({ "path", "bytes" }, s)
    end
  end
  return json.object({ "target", "url", "index", "image", "segments",
                       "objects", "skipped", "execute" },
    { target = target, url = result.url, index = result.index,
      image = result.image, segments = result.segments,
      objects = json.array(table.move(result.objects, 1,
                                      #result.objects, 1, {})),
      skipped = skipped, execute = execute })
end

-- deploy --dry-run: the plan, from read-only requests (auth, /info, one
-- container listing).
local function dry_run(conn, args, opts)
  local plan, err, code, detail = conn:plan(args.target, args.zapp, opts)
  if not plan then
    return nil, err, code, detail
  end
  local state = { exists = true, objects = 0 }
  local names, lerr, lcode, ldetail = conn:get_container(plan.container,
                                                         { limit = 2 })
  if names then
    state.objects = #names
  elseif lcode == "http" and ldetail.status == 404 then
    state.exists = false
  else
    return nil, lerr, lcode, ldetail
  end
  local output = require("zpm.output")
  if output.json(args) then
    return output.write_json(M.plan_data(plan, state))
  end
  return cli.write(M.format_plan(plan, state))
end

-- deploy --execute with job arguments: check them against the zapp's
-- job and help.args before anything is written (a mistyped --arg must
-- not redeploy a live target and then fail).
local function check_job_args(conn, args, opts)
  local job_args = require("zpm.cmd.execute").job_args(args)
  if #job_args.named + #job_args.words + #job_args.groups == 0 then
    return true
  end
  local plan, err, code, detail = conn:plan(args.target, args.zapp, opts)
  if not plan then
    return nil, err, code, detail
  end
  local help = type(plan.app.help) == "table" and plan.app.help or {}
  local names = {}
  for i, pair in ipairs(type(help.args) == "table" and help.args or {}) do
    names[i] = pair[1]
  end
  local the_job = require("zpm.json").decode_ordered(plan.job_source)
  local ok, aerr, acode = require("zpm.execute").set_args(the_job, job_args,
                                                          names)
  if not ok then
    return nil, aerr, acode
  end
  return true
end

function M.run(args)
  local log = require("zpm.log")
  if args.dry_run and args.execute then
    return nil, "--dry-run writes nothing, so there is nothing to "
      .. "--execute: give one of them", "invalid"
  end
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  local opts = {
    force = args.force, public = args.public,
    ui_embed_credentials = args.ui_embed_credentials,
    concurrency = args.concurrency, segment_size = args.segment_size,
    ui_upload = args.ui_upload,
    leave_segments = args.leave_segments, break_lock = args.break_lock,
    skip_identical = args.skip_identical,
    progress = cli.show_progress(args),
    ui_auth_version = args.no_ui_auth and "0.0" or nil }
  if args.dry_run then
    return dry_run(conn, args, opts)
  end
  if args.execute then
    local ok, aerr, acode, adetail = check_job_args(conn, args, opts)
    if not ok then
      return nil, aerr, acode, adetail
    end
  end
  log.info("deploying %s", args.zapp)
  local result, derr, dcode, detail = conn:deploy(args.target, args.zapp,
                                                  opts)
  if not result then
    return nil, derr, dcode, detail
  end
  local output = require("zpm.output")
  if output.json(args) then
    -- the notes below are for people; the document has it all
    local execute, failed, ecode, edetail
    if args.execute then
      local cmd_execute = require("zpm.cmd.execute")
      execute, failed, ecode, edetail = cmd_execute.execute_data(conn,
        { container = args.target }, args)
      if not execute then
        return nil, failed, ecode, edetail
      end
    end
    local ok, werr, wcode = output.write_json(M.result_data(args.target,
                                                            result, execute))
    if not ok then
      return nil, werr, wcode
    elseif execute and #failed > 0 then
      return require("zpm.cmd.execute").job_failure(failed)
    end
    return true
  end
  cli.print("app deployed to\n  " .. result.url)
  if result.skipped and not args.quiet then
    local bytes = 0
    for _, s in ipairs(result.skipped) do
      bytes = bytes + (tonumber(s.bytes) or 0)
    end
    io.stderr:write(("  (--skip-identical: %d objects the target holds "
      .. "already were not sent, %d bytes; %d sent)\n"):format(
      #result.skipped, bytes, #result.objects))
  end
  if result.segments then
    io.stderr:write(("  (%s is stored as a Static Large Object: %d "
      .. "segments in container '%s_segments')\n"):format(
      args.zapp:match("[^/]+$"), result.segments,
      args.target:match("^/*([^/]+)")))
  end
  if not args.public and result.index:sub(-11) == "/index.html" then
    -- stderr: stdout stays the two lines scripts read
    io.stderr:write("  (the container is private: a browser needs a token "
      .. "to load this page; deploy with --public to open it without one)\n")
  end
  if args.execute then
    return require("zpm.cmd.execute").run_and_print(conn,
      { container = args.target }, args)
  end
  return true
end

return M
