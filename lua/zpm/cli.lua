--- The `zpm` command line: builds the parser from the command modules
-- (`zpm.cmd.<name>`, each with `summary`, `description`,
-- `add_to_parser(parser)` and `run(args)`), runs the chosen command and
-- turns its outcome into output and an exit code. This is the only place
-- that prints or chooses exit codes, named in `M.EXIT`.
-- A command's `run(args)` returns true, or the library's failure shape
-- (`zpm.errors`): nil, a message, a code and optionally a detail table:
-- `lines` (several messages, printed one `Error:` each instead of the
-- message) and `objects` (what a deploy wrote, named when it was
-- interrupted). Code "job" (a node failed) exits `EXIT.job_failed`, any
-- other 1 (`EXIT.error`).
-- @module zpm.cli
local interrupt = require("zpm.interrupt")
local errors = require("zpm.errors")

local M = {}

--- The exit codes of `zpm`.
-- @field ok success
-- @field error an expected error, printed as `Error: ...`
-- @field usage a usage error (usage and `zpm: error: ...` on stderr)
-- @field job_failed the job ran and a node failed (`execute`, `deploy
--   --execute`)
-- @field bug a bug (the traceback is printed and says so; sysexits.h's
--   EX_SOFTWARE)
-- @field signal after signal N the code is `signal + N` (130 for SIGINT,
--   143 for SIGTERM, 129 for SIGHUP), printed as `interrupted`, as a
--   shell reports a process a signal killed
M.EXIT = { ok = 0, error = 1, usage = 2, job_failed = 3, bug = 70,
           signal = 128 }
local EXIT = M.EXIT

-- SIGINT's number, for lua5.4's own handler (it says only "interrupted!")
local SIGINT = 2

--- Command names, in the order help lists them.
M.COMMANDS = { "auth", "bundle", "completion", "deploy", "devcloud",
               "execute", "help", "list", "new", "undeploy", "version" }

M.EPILOG = "See 'zpm <command> --help' for more information on a "
  .. "specific command."

-- Raised (as an error value) to leave parsing or a command early.
local Exit = {}
Exit.__index = Exit

local function exit_with(code, stdout, stderr)
  error(setmetatable({ code = code, stdout = stdout, stderr = stderr },
                     Exit), 0)
end

local function add_help(parser)
  parser:add_help(false)
  parser:flag("-h --help", "Show this help message and exit.")
    :action(function() exit_with(EXIT.ok, parser:get_help() .. "\n") end)
end

-- Whether a parser has an option of this name already.
local function has_option(parser, name)
  for _, option in ipairs(parser._options) do
    for _, alias in ipairs(option._aliases) do
      if alias == name then
        return true
      end
    end
  end
  return false
end

--- Add the verbosity options to a command's parser: `-q/--quiet`
-- (errors only, no progress), `-v/--verbose` (info), `--debug` (debug,
-- HTTP traces included, secrets redacted) and `-l/--log-level LEVEL`.
-- A parser that has its own `-q` keeps it (it sets `quiet` all the
-- same).
-- @param parser a lua-argparse parser
-- @param prefix for the main parser's copies (`zpm -v deploy`): a
--   prefix for the targets, which `merge_globals` then merges
function M.add_log_level(parser, prefix)
  prefix = prefix or ""
  if prefix ~= "" or not has_option(parser, "-q") then
    parser:flag("-q --quiet", "Show only errors; no progress.")
      :target(prefix .. "quiet")
  end
  parser:flag("-v --verbose", "Show what is done (log level info), "
              .. "retries included.")
    :target(prefix .. "verbose")
  parser:flag("--debug", "Show everything (log level debug), HTTP "
              .. "exchanges included; secrets are never shown.")
    :target(prefix .. "debug")
  parser:option("-l --log-level",
                "One of debug, info, warning (default), error, critical.")
    :choices({ "debug", "info", "warning", "error", "critical" })
    :argname("LEVEL"):target(prefix .. "log_level")
end

--- The log level the verbosity options ask for: `--debug`, else
-- `-v`, else `-l LEVEL`, else `-q` (error), else warning.
function M.log_level(args)
  if args.debug then
    return "debug"
  elseif args.verbose then
    return "info"
  elseif args.log_level then
    return args.log_level
  elseif args.quiet then
    return "error"
  end
  return "warning"
end

--- Rows of cells as aligned columns, two spaces apart, each line after
-- `indent` (default ""); the last column is not padded. Widths count
-- UTF-8 characters. No newline at the end.
function M.columns(rows, indent)
  local function width(cell)
    return utf8.len(cell) or #cell
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for c, cell in ipairs(row) do
      widths[c] = math.max(widths[c] or 0, width(cell))
    end
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local cells = {}
    for c, cell in ipairs(row) do
      cells[c] = c < #row and cell .. (" "):rep(widths[c] - width(cell))
        or cell
    end
    lines[r] = (indent or "") .. table.concat(cells, "  ")
  end
  return table.concat(lines, "\n")
end

--- Whether to draw progress bars: stderr is a terminal that can redraw a
-- line (not TERM=dumb, which shows escape codes as text), and no
-- -q/--quiet.
function M.show_progress(args)
  if args.quiet or os.getenv("TERM") == "dumb" then
    return false
  end
  return require("zpm.core").isatty(2)
end

--- An argparse converter for a positive integer option.
function M.positive_integer(name)
  return function(text)
    local n = math.tointeger(tonumber(text))
    if not n or n < 1 then
      return nil, ("%s: '%s' is not a positive integer"):format(name, text)
    end
    return n
  end
end

--- An argparse converter for a size in bytes: an integer with an
-- optional K, M or G suffix (powers of 1024), as in "512M".
function M.size(name)
  local units = { [""] = 1, K = 1024, M = 1024 ^ 2, G = 1024 ^ 3 }
  return function(text)
    local digits, unit = tostring(text):upper():match("^(%d+)([KMG]?)B?$")
    local n = digits and math.tointeger(tonumber(digits) * units[unit])
    if not n or n < 1 then
      return nil, ("%s: '%s' is not a size in bytes (like 1048576 or "
        .. "512M)"):format(name, text)
    end
    return n
  end
end

--- The targets of the auth options (`add_auth_options`), which the main
-- parser has too (`zpm -A URL -U u -K k auth`).
M.AUTH_TARGETS = { "insecure", "snet", "no_ssl_compression", "retries",
                   "timeout", "prompt" }

--- Add the Swift auth options (python-swiftclient's names, and
-- python-openstackclient's `--os-cloud`, `--os-auth-type` and
-- application credentials) and `--prompt` to a parser.
-- @param parser a lua-argparse parser
-- @param prefix for the main parser's copies: a prefix for the targets
--   (see `merge_globals`); they are then left out of its help
function M.add_auth_options(parser, prefix)
  prefix = prefix or ""
  local hidden = prefix ~= ""
  for _, s in ipairs(require("zpm.auth").SETTINGS) do
    local envs = {}
    for _, e in ipairs(s[3]) do
      envs[#envs + 1] = "$" .. e
    end
    parser:option(s[2], ("%s (default: %s)"):format(s[4],
                                                   table.concat(envs, ", ")))
      :target(prefix .. s[1]):argname("VALUE"):hidden(hidden)
  end
  parser:flag("--prompt", "Ask for the password (the key with v1, the "
              .. "secret with an application credential) on the "
              .. "terminal, without echoing it.")
    :target(prefix .. "prompt"):hidden(hidden)
  parser:flag("--insecure", "Do not verify the server's TLS certificate.")
    :target(prefix .. "insecure"):hidden(hidden)
  parser:flag("--snet", "Use the storage URL's service-net host "
              .. "(python-swiftclient's SERVICENET: 'snet-' before the "
              .. "host name).")
    :target(prefix .. "snet"):hidden(hidden)
  parser:flag("--no-ssl-compression", "Accepted for python-swiftclient's "
              .. "sake: zpm never compresses TLS.")
    :target(prefix .. "no_ssl_compression"):hidden(hidden)
  local retries = tostring(require("zpm.defaults").RETRIES)
  parser:option("-R --retries", "Retries for transient failures "
                .. "(default: " .. retries .. ").")
    :convert(math.tointeger):argname("N")
    :target(prefix .. "retries"):hidden(hidden)
  parser:option("--timeout", "Give up on a request, its retries and "
                .. "waits included, after SECONDS; for storage requests, "
                .. "time spent moving 16 KiB/s or more does not count "
                .. "(default: $ZPM_TIMEOUT, else 30 for authentication, "
                .. "600 for storage).")
    :convert(function(text)
      local n = tonumber(text)
      if not n or not (n > 0 and n <= 1e7) then
        return nil, ("--timeout: '%s' is not a number of seconds > 0")
          :format(text)
      end
      return n
    end)
    :argname("SECONDS"):target(prefix .. "timeout"):hidden(hidden)
end

-- The prefix of the main parser's copies of the global options.
local GLOBAL = "global_"

--- Merge the global options given before the command name into the
-- command's (`zpm -A URL auth` as `zpm auth -A URL`): a value given
-- after the command name wins.
-- @param args parsed arguments; changed in place
-- @return args
function M.merge_globals(args)
  local keys = { "quiet", "verbose", "debug", "log_level" }
  for _, s in ipairs(require("zpm.auth").SETTINGS) do
    keys[#keys + 1] = s[1]
  end
  table.move(M.AUTH_TARGETS, 1, #M.AUTH_TARGETS, #keys + 1, keys)
  for _, key in ipairs(keys) do
    local g = args[GLOBAL .. key]
    if args[key] == nil and g ~= nil then
      args[key] = g
    end
    args[GLOBAL .. key] = nil
  end
  return args
end

--- Add --summary/-s and --summary-format to a parser.
function M.add_summary_options(parser)
  parser:flag("-s --summary", "Print the execution summary table.")
  parser:option("--summary-format", "table (on stdout, before the "
                .. "output) or json (on stderr, after it: stdout is the "
                .. "job's); default: table.")
    :choices({ "table", "json" }):default("table"):show_default(false)
    :argname("FORMAT")
end

-- Reads a line from the terminal with echo off: the shell restores the
-- terminal's settings however it ends (Enter, ^C, SIGTERM, SIGHUP).
local READ_SECRET = [[
saved=$(stty -g </dev/tty) || exit 1
restore() { stty "$saved" </dev/tty; printf '\n' >/dev/tty; }
trap 'restore; exit 130' INT
trap 'restore; exit 143' TERM
trap 'restore; exit 129' HUP
printf '%s: ' "$1" >/dev/tty
stty -echo </dev/tty || exit 1
IFS= read -r secret </dev/tty
status=$?
restore
[ $status -eq 0 ] || exit 1
printf '%s' "$secret"
]]

--- Ask for a secret on the terminal (`/dev/tty`), not echoed; the
-- terminal's settings are restored however the reading ends.
-- @param label what to ask for ("Password")
-- @return the secret, or nil, a message and "invalid" (no terminal,
--   nothing typed) or "interrupted"
function M.read_secret(label)
  local tty = io.open("/dev/tty", "r")
  if not tty then
    return nil, ("--prompt: no terminal to read the %s from")
      :format(label:lower()), errors.INVALID
  end
  tty:close()
  local script = READ_SECRET:gsub("'", "'\\''")
  local p = io.popen(("sh -c '%s' zpm '%s'"):format(script,
    (label:gsub("'", ""))), "r")
  local secret = p:read("a")
  local ok, _, status = p:close()
  if interrupt.caught() or status == 130 or status == 143
      or status == 129 then
    return nil, "interrupted", errors.INTERRUPTED
  end
  if not ok or not secret then
    return nil, ("--prompt: could not read the %s from the terminal")
      :format(label:lower()), errors.INVALID
  end
  if secret == "" then
    return nil, ("--prompt: no %s given"):format(label:lower()),
      errors.INVALID
  end
  return secret
end

--- Auth settings from parsed arguments (command line over environment),
-- with `prompt` (`read_secret`) when `--prompt` was given.
function M.auth_settings(args)
  local values = {}
  for _, s in ipairs(require("zpm.auth").SETTINGS) do
    values[s[1]] = args[s[1]]
  end
  values.insecure = args.insecure
  values.retries = args.retries
    or math.tointeger(require("zpm.defaults").RETRIES)
  values.prompt = args.prompt and M.read_secret or nil
  values.timeout = args.timeout
  values.snet = args.snet
  values.ssl_compression = not args.no_ssl_compression
  return values
end

--- Build the whole parser.
-- @return parser, table of command modules by name
-- The commands whose whole parsers `build_parser(argv)` builds: those
-- named by a word of argv (a value that happens to be a command name
-- only costs its parser), or every one when none is (no command, a
-- prefix) or `completion` needs them all.
local function commands_named(argv)
  local known, named = {}, {}
  for _, name in ipairs(M.COMMANDS) do
    known[name] = true
  end
  for _, word in ipairs(argv or {}) do
    if known[word] then
      named[word] = true
    end
  end
  if next(named) == nil or named.completion then
    return known
  end
  return named
end

--- The zpm parser and the command modules by name.
-- @param argv optional: the words it will parse. Only the commands they
--   name get their options (building every command's options costs more
--   than the rest of `zpm version`); the others are listed with their
--   summaries. Without argv, every command is whole (completion, man).
function M.build_parser(argv)
  local whole = commands_named(argv)
  -- required here, inside main's error handler: a missing module is
  -- then one line naming its Debian package
  local parser = require("argparse")("zpm", "ZeroVM Package Manager")
    :epilog(M.EPILOG)
    :command_target("_command")
    :require_command(true)
    :help_max_width(79)
  add_help(parser)
  parser:flag("--version", "Show the version number and exit.")
    :action(function()
      exit_with(EXIT.ok, ("zpm version %s\n"):format(require("zpm").VERSION))
    end)
  -- global options: also before the command name (the auth options
  -- are listed in the help of the commands that use them)
  M.add_log_level(parser, GLOBAL)
  M.add_auth_options(parser, GLOBAL)
  parser.error = function(current, message)
    exit_with(EXIT.usage, nil, ("%s\nzpm: error: %s\n")
      :format(current:get_usage(), message))
  end
  local modules = {}
  for _, name in ipairs(M.COMMANDS) do
    local module = require("zpm.cmd." .. name)
    local sub = parser:command(name, module.description, module.epilog)
      :summary(module.summary)
      :help_max_width(79)
      :help_description_margin(34)
    if whole[name] then
      module.add_to_parser(sub)
    end
    -- our help flag on the command and on any subcommands it made
    local function helps(p)
      add_help(p)
      for _, child in ipairs(p._commands) do
        helps(child)
      end
    end
    helps(sub)
    modules[name] = module
  end
  return parser, modules
end

local function stderr_handler(line)
  io.stderr:write(line, "\n")
end

-- Leave after signal `sig` (EXIT.signal + sig), naming what a deploy
-- wrote before it.
local function interrupted(sig, detail)
  local line = "interrupted"
  local objects = type(detail) == "table" and detail.objects
  if objects and #objects > 0 then
    line = line .. "; objects written before the interruption: "
      .. table.concat(objects, ", ")
  end
  exit_with(EXIT.signal + sig, nil, line .. "\n")
end

local function run(argv)
  local parser, modules = M.build_parser(argv)
  local words, err, _, detail = require("zpm.argv").expand_prefixes(parser,
                                                                    argv)
  if not words then
    parser.error(detail.parser, err)
  end
  local args = M.merge_globals(parser:parse(words))
  local log = require("zpm.log")
  log.set_level(M.log_level(args))
  log.set_handler(stderr_handler)
  -- the launcher catches signals first thing; a script calling main
  -- gets them caught here
  assert(interrupt.catch())
  local ok, message, code, detail = modules[args._command].run(args,
    { parser = parser, modules = modules })
  local sig = interrupt.caught()
  if sig then
    interrupted(sig, detail)
  end
  if not ok then
    -- several failures (detail.lines) are printed a line each
    local lines = type(detail) == "table" and detail.lines or { message }
    local text = {}
    for i, line in ipairs(lines) do
      text[i] = ("Error: %s\n"):format(tostring(line))
    end
    exit_with(code == errors.JOB and EXIT.job_failed or EXIT.error, nil,
              table.concat(text))
  end
  return EXIT.ok
end

-- Lua modules zpm needs from Debian, by the name `require` reports.
local DEBIAN_PACKAGES = { argparse = "lua-argparse", lfs = "lua-filesystem",
                          cjson = "lua-cjson" }

-- The one line for an error that is not a bug in zpm, or nil.
local function expected_error(err)
  local sig = interrupt.caught()
  if sig or tostring(err):match("interrupted!$") then
    -- lua5.4's own SIGINT handler, before ours was in place
    return EXIT.signal + (sig or SIGINT), "interrupted\n"
  end
  local module = tostring(err):match("^[^\n]*module '([^']+)' not found")
  local package = module and DEBIAN_PACKAGES[module]
  if package then
    return EXIT.error, ("Error: zpm needs the Lua module '%s': install it "
      .. "with apt-get install %s\n"):format(module, package)
  end
end

-- The one line for a failed write to standard output.
local function output_error(err)
  return ("cannot write to standard output: %s"):format(tostring(err))
end

--- Write strings to standard output, checked (for command modules).
-- stdout is buffered: a failure may show only at `M.flush` (and at the
-- end of `main`, which checks it).
-- @param ... strings (or numbers)
-- @return true, or nil, "cannot write to standard output: <reason>" and
--   "io"
function M.write(...)
  local ok, err = io.stdout:write(...)
  if not ok then
    return nil, output_error(err), errors.IO
  end
  return true
end

--- Flush standard output, checked.
-- @return true, or nil, "cannot write to standard output: <reason>" and
--   "io"
function M.flush()
  local ok, err = io.stdout:flush()
  if not ok then
    return nil, output_error(err), errors.IO
  end
  return true
end

--- Run the command line.
-- Whatever goes to stdout is checked, up to the final flush: a failed
-- write or flush is `Error: cannot write to standard output: <reason>`
-- on stderr and exit 1 (a failure's own code stays).
-- @param argv list of arguments (without the program name)
-- @return exit code
function M.main(argv)
  local args = {}
  for i = 1, #(argv or {}) do
    args[i] = argv[i]
  end
  local ok, result = xpcall(run, function(err)
    if getmetatable(err) == Exit then
      return err
    end
    local code, text = expected_error(err)
    if code then
      return setmetatable({ code = code, stderr = text }, Exit)
    end
    return debug.traceback(tostring(err), 2)
  end, args)
  if ok then
    local flushed, ferr = M.flush()
    if not flushed then
      io.stderr:write(("Error: %s\n"):format(ferr))
      return EXIT.error
    end
    return result
  end
  if getmetatable(result) == Exit then
    local wrote, werr = true, nil
    if result.stdout then
      wrote, werr = M.write(result.stdout)
    end
    if wrote then
      wrote, werr = M.flush()
    end
    if result.stderr then
      io.stderr:write(result.stderr)
    end
    if wrote then
      return result.code
    end
    -- said once: a failed print or command may have said it already
    local line = ("Error: %s\n"):format(werr)
    if not (result.stderr or ""):find(line, 1, true) then
      io.stderr:write(line)
    end
    return result.code == EXIT.ok and EXIT.error or result.code
  end
  io.stdout:flush()
  io.stderr:write("zpm: internal error (this is a bug in zpm, please "
    .. "report it with the text below)\n", result, "\n")
  return EXIT.bug
end

--- Print (for command modules): the values as strings, separated by
-- tabs, and a newline. A failed write ends the command with `Error:
-- cannot write to standard output: <reason>`, exit 1.
function M.print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  local ok, err = M.write(table.concat(parts, "\t"), "\n")
  if not ok then
    exit_with(EXIT.error, nil, ("Error: %s\n"):format(err))
  end
end

return M
