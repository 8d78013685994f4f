--- zpm devcloud up|down|status|env: a ZeroCloud on this machine.
local cli = require("zpm.cli")

local M = {}

M.summary = "Run a local ZeroCloud (Swift + execution middleware)"
M.description = [[
Run OpenStack Swift with zpm's ZeroCloud-compatible execution middleware
on 127.0.0.1, under a state directory (default ~/.zpm/devcloud). Jobs run
as host processes in a bubblewrap sandbox. `up` starts it, or checks the
one that runs and restarts what is dead or does not answer and what a
changed setting needs, and prints the ST_AUTH/ST_USER/ST_KEY exports; the
settings given to `up` are remembered and re-applied by the next `up`.
`down` stops it, keeping its data; `status` asks every server and tells
how each does (exit 1 unless all answer); `env` prints the exports.]]

function M.add_to_parser(parser)
  parser:command_target("_devcloud")
  cli.add_log_level(parser)
  local up = parser:command("up", "Start the devcloud, or restart what "
    .. "of it is dead, hung or has new settings.")
  up:option("--dir", "State directory (default: ~/.zpm/devcloud).")
    :argname("DIR")
  up:option("--port", "Proxy port (default: a free one, kept across "
            .. "restarts)."):argname("PORT"):convert(math.tointeger)
  up:option("--nodes", "Storage nodes, each with its account, container "
            .. "and object servers, on 127.0.0.2 ... 127.0.0.N+1 (default: "
            .. "1, on 127.0.0.1); 3 replicas when N >= 3.")
    :argname("N"):convert(cli.positive_integer("--nodes"))
  up:flag("--unsandboxed", "Run jobs without bubblewrap (no isolation).")
  up:flag("--sandboxed", "Run jobs in bubblewrap again (after an earlier "
          .. "--unsandboxed).")
  up:option("--time-limit", "Seconds a node may run (default: 60).")
    :argname("S"):convert(math.tointeger)
  up:option("--memory-limit", "Memory a node may use, e.g. 512M "
            .. "(default: 1G)."):argname("SIZE")
  up:option("--disk-limit", "Bytes a node may write in its writable "
            .. "area, e.g. 100M (default: the middleware's).")
    :argname("SIZE"):convert(cli.size("--disk-limit"))
  up:option("--output-limit", "Bytes of stdout and stderr a node may "
            .. "write, e.g. 10M (default: the middleware's).")
    :argname("SIZE"):convert(cli.size("--output-limit"))
  up:option("--process-limit", "Processes a node may run (default: the "
            .. "middleware's).")
    :argname("N"):convert(cli.positive_integer("--process-limit"))
  up:option("--job-nodes", "Nodes a job may have (default: the "
            .. "middleware's, 64).")
    :argname("N"):convert(cli.positive_integer("--job-nodes"))
  up:option("--max-file-size", "Swift's largest single object, e.g. 4M "
            .. "(default: Swift's, 5 GiB + 2 bytes); larger zapps deploy "
            .. "as Static Large Objects."):argname("SIZE")
    :convert(cli.size("--max-file-size"))
  up:flag("--defaults", "Forget the settings remembered from earlier "
          .. "`up`s: only the options given here apply.")
  for _, name in ipairs({ "down", "status", "env" }) do
    local sub = parser:command(name, ({
      down = "Stop the devcloud (its data stays).",
      status = "Tell how each server does (exit 1 unless all answer).",
      env = "Print the exports for swift clients and zpm.",
    })[name])
    sub:option("--dir", "State directory (default: ~/.zpm/devcloud).")
      :argname("DIR")
  end
end

-- "proxy: not answering (pid 1, stopped)" -> "proxy not answering (...)"
local function short(line)
  return (line:gsub("^([%w-]+): ", "%1 "))
end

function M.run(args)
  local zpm = require("zpm")
  local devcloud = require("zpm.devcloud")
  local action = args._devcloud
  if action == "up" then
    if args.unsandboxed and args.sandboxed then
      return nil, "--unsandboxed and --sandboxed exclude each other",
        "invalid"
    end
    local unsandboxed = args.unsandboxed or nil
    if args.sandboxed then
      unsandboxed = false
    end
    local env, did, code, detail = zpm.devcloud_up({
      dir = args.dir, port = args.port, nodes = args.nodes,
      unsandboxed = unsandboxed,
      time_limit = args.time_limit, memory_limit = args.memory_limit,
      disk_limit = args.disk_limit, output_limit = args.output_limit,
      process_limit = args.process_limit, job_nodes = args.job_nodes,
      max_file_size = args.max_file_size, defaults = args.defaults })
    if not env then
      return nil, did, code, detail
    end
    for _, line in ipairs(type(did) == "table" and did or {}) do
      cli.print(line)
    end
    cli.print(("devcloud running: Swift proxy at %s (storage %s)")
      :format(env.ST_AUTH:match("^(https?://[^/]+)") or env.ST_AUTH,
              env.SWIFT_STORAGE_URL or "?"))
    cli.print(devcloud.exports(env))
  elseif action == "down" then
    local ok, err, code, detail = zpm.devcloud_down({ dir = args.dir })
    if not ok then
      return nil, err, code, detail
    end
    cli.print("devcloud stopped")
  elseif action == "status" then
    local text, healthy, bad, detail = zpm.devcloud_status({
      dir = args.dir })
    if not text then
      -- the failure shape: healthy is the message, bad the code
      return nil, healthy, bad, detail
    end
    io.stdout:write(text)
    if not healthy then
      local names, down = {}, 0
      for _, line in ipairs(bad or {}) do
        names[#names + 1] = short(line)
        if line:find(": not running$") then
          down = down + 1
        end
      end
      if #names > 0 and down == #names and text:find(": running (", 1,
                                                       true) == nil then
        return nil, "devcloud is not running (`zpm devcloud up` starts it)",
          "command"
      end
      return nil, ("devcloud is not healthy: %s (`zpm devcloud up` "
        .. "restarts %s)"):format(table.concat(names, "; "),
                                  #names == 1 and "it" or "them"), "command"
    end
  else
    local env, err, code = zpm.devcloud_env({ dir = args.dir })
    if not env then
      return nil, err, code
    end
    cli.print(devcloud.exports(env))
  end
  return true
end

return M
