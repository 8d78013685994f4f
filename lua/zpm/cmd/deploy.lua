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
  cli.add_summary_options(parser)
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
  parser:option("--segment-size", "Upload a zapp larger than SIZE bytes "
                .. "(K, M, G suffixes allowed) as a Static Large Object in "
                .. "segments of SIZE (default: Swift's largest object, "
                .. "from its /info).")
    :argname("SIZE"):convert(cli.size("--segment-size"))
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

function M.run(args)
  local log = require("zpm.log")
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  log.info("deploying %s", args.zapp)
  local result, derr, dcode, detail = conn:deploy(args.target, args.zapp, {
    force = args.force, public = args.public,
    ui_embed_credentials = args.ui_embed_credentials,
    concurrency = args.concurrency, segment_size = args.segment_size,
    progress = cli.show_progress(args),
    ui_auth_version = args.no_ui_auth and "0.0" or nil })
  if not result then
    return nil, derr, dcode, detail
  end
  cli.print("app deployed to\n  " .. result.url)
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
