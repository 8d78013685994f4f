--- zpm execute: run a zapp (local file, or deployed with --container).
local cli = require("zpm.cli")
local errors = require("zpm.errors")

local M = {}

M.summary = "Remotely execute a ZeroVM application"
M.description = [[
Execute a zapp on ZeroCloud. With --container, the job deployed there
(CONTAINER/boot/system.map) is run; otherwise the local zapp file is sent
with the request. The job's output is written to standard output. If any node fails (status
other than ok, or a non-zero retcode), zpm says which on standard error,
with the tail of the node's stderr when the server sends it, and exits with
code 3.]]

-- An argparse converter for NAME=VALUE.
local function pair(option)
  return function(s)
    local name, value = s:match("^([^=]+)=(.*)$")
    if not name then
      return nil, ("%s: expected %s, got '%s'"):format(option,
        option == "--arg" and "NAME=VALUE" or "GROUP=WORDS", s)
    end
    return { name, value }
  end
end

--- Add the job-argument options (`execute` and `deploy --execute`):
-- `--arg NAME=VALUE`, `--args WORDS`, `--group-args GROUP=WORDS`, each
-- repeatable.
function M.add_args_options(parser)
  parser:option("--arg", "Set the zapp's argument NAME (one of the "
                .. "help.args of its zapp.yaml, as the web page's fields) "
                .. "to VALUE, one word; repeatable.")
    :argname("NAME=VALUE"):count("*"):convert(pair("--arg"))
  parser:option("--args", "Append WORDS (split like a shell: quotes "
                .. "and backslashes) to every group's arguments; "
                .. "repeatable.")
    :argname("WORDS"):count("*")
  parser:option("--group-args", "Append WORDS to the arguments of group "
                .. "GROUP only; repeatable.")
    :argname("GROUP=WORDS"):count("*"):convert(pair("--group-args"))
end

--- The job arguments of parsed options, as `zpm.execute.set_args`
-- takes them.
function M.job_args(args)
  return { named = args.arg or {}, words = args.args or {},
           groups = args.group_args or {} }
end

function M.add_to_parser(parser)
  parser:argument("zapp", "Name of the zapp to execute."):argname("ZAPP")
  parser:option("--container", "Swift container (or container/dir) the "
                .. "zapp was deployed to."):argname("CONTAINER")
  M.add_args_options(parser)
  cli.add_summary_options(parser)
  require("zpm.output").add_format_options(parser, "the result (ok, the "
    .. "summary, the failed nodes, the job's output)")
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

-- Copy a file to stdout in blocks.
local function cat(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err, errors.IO
  end
  while true do
    local chunk = f:read(65536)
    if not chunk then
      break
    end
    local ok, werr, wcode = cli.write(chunk)
    if not ok then
      f:close()
      return nil, werr, wcode
    end
  end
  f:close()
  return true
end

-- Write the summary of a response as args say: the table on stdout
-- (before the output, as the original zpm did), JSON on stderr (after
-- it: stdout is the job's alone).
local function write_summary(headers, args)
  local summary = require("zpm.summary")
  if args.summary_format == "json" then
    local text, err, code = summary.json(headers)
    if not text then
      return nil, err, code
    end
    local ok, werr = io.stderr:write(text, "\n")
    if not ok then
      return nil, werr, errors.IO
    end
    return true
  end
  -- streamed: 100,000 nodes make a 17 MB table
  return summary.write(headers, cli.write)
end

--- Run the job with its output kept aside: the result as `--format
-- json` prints it.
-- @return a `zpm.json.object`: `ok` (no node failed), `total_time` and
--   `nodes` (`zpm.summary.data`), `failed` (`{ node, status, retcode,
--   stderr }` each, from `conn:execute`) and `output` (the job's
--   standard output, a string), and the result's `failed` list; or nil,
--   a message, a code and a detail
function M.execute_data(conn, opts, args)
  local tmp = os.tmpname()
  local result, err, code, detail = conn:execute({
    container = opts.container, zapp = opts.zapp, args = M.job_args(args),
    sink = { file = tmp } })
  local text, rerr
  if result then
    local f
    f, rerr = io.open(tmp, "rb")
    text = f and f:read("a")
    if f then
      f:close()
    end
  end
  os.remove(tmp)
  if not result then
    return nil, err, code, detail
  elseif not text then
    return nil, ("cannot read the job's output: %s"):format(rerr),
      errors.IO
  end
  local data, serr, scode = require("zpm.summary").data(result.headers)
  if not data then
    return nil, serr, scode
  end
  local json = require("zpm.json")
  local failed = json.array()
  for i, f in ipairs(result.failed) do
    failed[i] = json.object({ "node", "status", "retcode", "stderr" },
      { node = f.node, status = f.status, retcode = f.retcode,
        stderr = f.stderr })
  end
  return json.object({ "ok", "total_time", "nodes", "failed", "output" },
    { ok = #result.failed == 0, total_time = data.total_time,
      nodes = data.nodes, failed = failed, output = text }), result.failed
end

--- The failure `run_and_print` returns for failed nodes given as JSON
-- (their stderr tails are in the document): a line each.
function M.job_failure(failed)
  local summary = require("zpm.summary")
  local lines = {}
  for i, f in ipairs(failed) do
    lines[i] = summary.describe_failure(f)
  end
  return nil, table.concat(lines, "\n"), errors.JOB, { lines = lines }
end

--- Run the job and write summary and output; shared with `deploy`.
-- With `--format json`, one JSON document (`execute_data`) instead.
-- @return true when every node succeeded; nil, the lines naming the
--   failed nodes (joined), "job" and `{ lines = the lines }` when one did
--   not; nil, a message and a code when the job could not run or its
--   output not be written
function M.run_and_print(conn, opts, args)
  local output = require("zpm.output")
  if output.json(args) then
    -- the second value: the failed nodes, or the message
    local data, failed, code, detail = M.execute_data(conn, opts, args)
    if not data then
      return nil, failed, code, detail
    end
    local ok, werr, wcode = output.write_json(data)
    if not ok then
      return nil, werr, wcode
    elseif #failed > 0 then
      return M.job_failure(failed)
    end
    return true
  end
  -- the table comes before the output on stdout: keep the output aside
  local tmp = args.summary and args.summary_format ~= "json"
    and os.tmpname() or nil
  -- what went to stdout so far, before the job's output on fd 1
  local flushed, ferr, fcode = cli.flush()
  if not flushed then
    if tmp then
      os.remove(tmp)
    end
    return nil, ferr, fcode
  end
  local result, err, code, detail = conn:execute({
    container = opts.container, zapp = opts.zapp, args = M.job_args(args),
    sink = tmp and { file = tmp } or { fd = 1 } })
  if not result and not tmp then
    -- the HTTP layer names the response, not where it was going
    local reason = tostring(err):match(": writing the response body: (.+)$")
    if reason then
      err, code = "cannot write to standard output: " .. reason, errors.IO
    end
  end
  local ok = result ~= nil
  if ok and args.summary then
    ok, err, code = write_summary(result.headers, args)
  end
  if tmp then
    if ok then
      ok, err, code = cat(tmp)
    end
    os.remove(tmp)
  end
  flushed, ferr, fcode = cli.flush()
  if ok and not flushed then
    ok, err, code = nil, ferr, fcode
  end
  if not ok then
    return nil, err, code or errors.IO, detail
  end
  if #result.failed > 0 then
    local summary = require("zpm.summary")
    local lines = {}
    for i, f in ipairs(result.failed) do
      -- the node's stderr tail under its line, as one entry: the caller
      -- prefixes each entry, not each line, with "Error: "
      local entry = { summary.describe_failure(f) }
      local tail = summary.describe_stderr(f)
      table.move(tail, 1, #tail, 2, entry)
      lines[i] = table.concat(entry, "\n")
    end
    return nil, table.concat(lines, "\n"), errors.JOB, { lines = lines }
  end
  return true
end

function M.run(args)
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  return M.run_and_print(conn, { container = args.container,
                                 zapp = args.zapp }, args)
end

return M
