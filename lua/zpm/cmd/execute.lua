--- zpm execute: run a zapp (local file, or deployed with --container).
local cli = require("zpm.cli")

local M = {}

M.summary = "Remotely execute a ZeroVM application"
M.description = [[
Execute a zapp on ZeroCloud. With --container, the job deployed there
(CONTAINER/boot/system.map) is run; otherwise the local zapp file is sent
with the request. The job's output is written to standard output.]]

function M.add_to_parser(parser)
  parser:argument("zapp", "Name of the zapp to execute."):argname("ZAPP")
  parser:option("--container", "Swift container (or container/dir) the "
                .. "zapp was deployed to."):argname("CONTAINER")
  cli.add_summary_options(parser)
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

--- Run the job and write summary and output; shared with `deploy`.
function M.run_and_print(conn, opts, args)
  local tmp
  local sink = { fd = 1 }
  if args.summary then
    -- the summary comes first: keep the output aside meanwhile
    tmp = os.tmpname()
    sink = { file = tmp }
  end
  io.stdout:flush()
  local result, err = conn:execute({ container = opts.container,
                                     zapp = opts.zapp, sink = sink })
  local ok = result ~= nil
  if ok and args.summary then
    local summary = require("zpm.summary")
    local sok, serr
    if args.summary_format == "json" then
      local text
      text, serr = summary.json(result.headers)
      sok = text ~= nil and io.stdout:write(text, "\n")
    else
      -- streamed: 100,000 nodes make a 17 MB table
      sok, serr = summary.write(result.headers, function(chunk)
        return io.stdout:write(chunk)
      end)
    end
    if not sok then
      ok, err = false, serr
    end
  end
  if tmp then
    local f = io.open(tmp, "rb")
    if f and ok then
      while true do
        local chunk = f:read(65536)
        if not chunk then
          break
        end
        io.stdout:write(chunk)
      end
    end
    if f then
      f:close()
    end
    os.remove(tmp)
  end
  io.stdout:flush()
  if not ok then
    return nil, err
  end
  return true
end

function M.run(args)
  local conn, err = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err
  end
  return M.run_and_print(conn, { container = args.container,
                                 zapp = args.zapp }, args)
end

return M
