--- zpm devcloud up|down|status|env: a ZeroCloud on this machine.
local cli = require("zpm.cli")

local M = {}

M.summary = "Run a local ZeroCloud (Swift + execution middleware)"
M.description = [[
Run OpenStack Swift with zpm's ZeroCloud-compatible execution middleware
on 127.0.0.1, under a state directory (default ~/.zpm/devcloud). Jobs run
as host processes in a bubblewrap sandbox. `up` starts it (or finds it
running) and prints the ST_AUTH/ST_USER/ST_KEY exports; `down` stops it,
keeping its data; `status` tells what runs; `env` prints the exports.]]

function M.add_to_parser(parser)
  parser:command_target("_devcloud")
  local up = parser:command("up", "Start the devcloud.")
  up:option("--dir", "State directory (default: ~/.zpm/devcloud).")
    :argname("DIR")
  up:option("--port", "Proxy port (default: a free one, kept across "
            .. "restarts)."):argname("PORT"):convert(math.tointeger)
  up:flag("--unsandboxed", "Run jobs without bubblewrap (no isolation).")
  up:option("--time-limit", "Seconds a node may run (default: 60).")
    :argname("S"):convert(math.tointeger)
  up:option("--memory-limit", "Memory a node may use, e.g. 512M "
            .. "(default: 1G)."):argname("SIZE")
  up:option("--max-file-size", "Swift's largest single object, e.g. 4M "
            .. "(default: Swift's, 5 GiB + 2 bytes); larger zapps deploy "
            .. "as Static Large Objects."):argname("SIZE")
    :convert(cli.size("--max-file-size"))
  for _, name in ipairs({ "down", "status", "env" }) do
    local sub = parser:command(name, ({
      down = "Stop the devcloud (its data stays).",
      status = "Tell what runs.",
      env = "Print the exports for swift clients and zpm.",
    })[name])
    sub:option("--dir", "State directory (default: ~/.zpm/devcloud).")
      :argname("DIR")
  end
end

function M.run(args)
  local zpm = require("zpm")
  local devcloud = require("zpm.devcloud")
  local opts = { dir = args.dir, port = args.port,
                 unsandboxed = args.unsandboxed,
                 time_limit = args.time_limit,
                 memory_limit = args.memory_limit,
                 max_file_size = args.max_file_size }
  local action = args._devcloud
  if action == "up" then
    local env, err = zpm.devcloud_up(opts)
    if not env then
      return nil, err
    end
    cli.print(("devcloud running: Swift proxy at %s (storage %s)")
      :format(env.ST_AUTH:match("^(https?://[^/]+)") or env.ST_AUTH,
              env.SWIFT_STORAGE_URL or "?"))
    cli.print(devcloud.exports(env))
  elseif action == "down" then
    local ok, err = zpm.devcloud_down(opts)
    if not ok then
      return nil, err
    end
    cli.print("devcloud stopped")
  elseif action == "status" then
    local text, running = zpm.devcloud_status(opts)
    if not text then
      return nil, running
    end
    local wrote, werr = cli.write(text)
    if not wrote then
      return nil, werr
    end
    if not running then
      return nil, "devcloud is not (fully) running"
    end
  else
    local env, err = zpm.devcloud_env(opts)
    if not env then
      return nil, err
    end
    cli.print(devcloud.exports(env))
  end
  return true
end

return M
