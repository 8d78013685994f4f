--- Output for scripts: the `--format json` (`--json`) option the
-- commands share, and writing the one JSON document on standard output
-- (logs, progress and errors stay on standard error).
-- @module zpm.output
local cli = require("zpm.cli")
local json = require("zpm.json")

local M = {}

--- Add `--format text|json` and `--json` to a command's parser.
-- @param parser a lua-argparse parser
-- @param what what the JSON document holds, for the help
function M.add_format_options(parser, what)
  parser:option("--format", "text (default) or json: " .. what .. " as "
                .. "one JSON document on standard output (logs and "
                .. "errors on standard error).")
    :choices({ "text", "json" }):argname("FORMAT")
  parser:flag("--json", "Same as --format json.")
end

--- Whether parsed arguments ask for JSON.
function M.json(args)
  return args.format == "json" or args.json == true
end

--- Write a value as one JSON document and a newline on standard output.
-- @param value a table (`zpm.json.object` keeps its keys' order)
-- @return true, or nil, a message and a code (`zpm.json.encode`'s
--   "invalid", `zpm.cli.write`'s "io")
function M.write_json(value)
  local text, err, code = json.encode(value)
  if not text then
    return nil, err, code
  end
  return cli.write(text, "\n")
end

--- `export NAME='value'` lines a POSIX shell can `eval`, as `swift auth`
-- prints them: each value single-quoted (`zpm.fs.shell_quote`).
-- @param pairs list of `{ name, value }`
-- @return the text, a line each
function M.exports(pairs)
  local quote = require("zpm.fs").shell_quote
  local lines = {}
  for i, p in ipairs(pairs) do
    lines[i] = ("export %s=%s\n"):format(p[1], quote(p[2]))
  end
  return table.concat(lines)
end

return M
