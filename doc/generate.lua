-- Writes zpm.1, the man page, and the bash, zsh and fish completion
-- scripts (zpm.bash, _zpm, zpm.fish: what `zpm completion SHELL`
-- prints) from the parser that reads zpm's command line
-- (zpm.cli.build_parser), so they know every command and option the
-- program has. Run at build time by CMake:
--   lua5.4 doc/generate.lua OUTDIR
-- It reads the modules from the lua/ beside it. The page's date is
-- $SOURCE_DATE_EPOCH's when set (reproducible builds), else today's.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = ("%s/../lua/?.lua;%s/../lua/?/init.lua;"):format(here, here)
  .. package.path
local cli = require("zpm.cli")
local completion = require("zpm.cmd.completion")

-- Text as roff: backslashes and hyphens escaped, and a line that would
-- start with a control character ('.' or "'") protected with \&.
local function roff(text)
  text = tostring(text):gsub("\\", "\\e"):gsub("%-", "\\-")
  return (text:gsub("^([.'])", "\\&%1"):gsub("\n([.'])", "\n\\&%1"))
end

-- Collapse the hard line breaks argparse help texts carry.
local function paragraph(text)
  return roff((tostring(text):gsub("%s*\n%s*", " ")))
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- The label of an argument or option as in --help ("-l, --log-level
-- LEVEL"), bold names and italic argument names.
local function label(element)
  local lines = element:_get_label_lines()
  for i, line in ipairs(lines) do
    lines[i] = trim(line):gsub(",$", "")
  end
  return roff(table.concat(lines, ", "))
end

local function alias_key(option)
  return table.concat(option._aliases, " ")
end

local out = {}
local function put(...)
  for i = 1, select("#", ...) do
    out[#out + 1] = (select(i, ...))
  end
end

-- A literal block (usage lines, examples): as is, no filling.
local function literal(text)
  put(".PP", ".nf", ".RS 4")
  for line in (text .. "\n"):gmatch("(.-)\n") do
    put(roff(line))
  end
  put(".RE", ".fi")
end

local function elements(list, skip)
  for _, element in ipairs(list) do
    if not (skip and skip[alias_key(element)]) then
      put(".TP", label(element), paragraph(element:_get_description()))
    end
  end
end

local outdir = assert(arg[1], "usage: lua5.4 doc/generate.lua OUTDIR")
local parser = cli.build_parser()
local version = require("zpm").VERSION
local epoch = tonumber(os.getenv("SOURCE_DATE_EPOCH") or "")
local date = os.date("!%Y-%m-%d", epoch or os.time())

put(('.TH ZPM 1 "%s" "zpm %s" "User Commands"'):format(date, version))
put(".SH NAME", "zpm \\- the ZeroVM Package Manager: create, bundle, "
  .. "deploy and run zapps")
put(".SH SYNOPSIS",
    ".B zpm",
    "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]")
put(".SH DESCRIPTION", paragraph(
  "zpm creates zapps (a tar archive of a program, its files and a job "
  .. "description, zapp.yaml), bundles them, deploys them to Swift with "
  .. "ZeroCloud and runs them there. Each command has its own help: zpm "
  .. "help COMMAND, or zpm COMMAND --help."))

-- The main parser's options are the global ones; a command that takes
-- them lists them in its --help, and here they are said once.
put(".SH GLOBAL OPTIONS", paragraph(
  "Accepted before the command name, and after it by the commands that "
  .. "use them (the verbosity options by every command, the "
  .. "authentication options by those that talk to Swift)."))
local global = {}
for _, option in ipairs(parser._options) do
  global[alias_key(option)] = true
end
elements(parser._options)

put(".SH COMMANDS")
for _, command in ipairs(parser._commands) do
  put(".SS " .. roff("zpm " .. command._name))
  literal((command:get_usage():gsub("^Usage: ", "")))
  put(".PP", paragraph(command._description or command._summary or ""))
  if #command._arguments > 0 then
    put(".PP", "Arguments:", ".RS 4")
    elements(command._arguments)
    put(".RE")
  end
  local own = {}
  for _, option in ipairs(command._options) do
    if not global[alias_key(option)] then
      own[#own + 1] = option
    end
  end
  if #own > 0 then
    put(".PP", "Options (besides the global ones):", ".RS 4")
    elements(own)
    put(".RE")
  end
  for _, sub in ipairs(command._commands) do
    put(".PP", "\\fB" .. roff(command._name .. " " .. sub._name)
      .. "\\fR: " .. paragraph(sub:_get_description()))
  end
  if command._epilog then
    literal(command._epilog)
  end
end

put(".SH EXIT STATUS")
local exits = {
  { cli.EXIT.ok, "success" },
  { cli.EXIT.error, "an error, printed as Error: ... on standard error" },
  { cli.EXIT.usage, "a usage error (bad command, option or value)" },
  { cli.EXIT.job_failed, "the job ran and a node failed (execute, deploy "
    .. "--execute)" },
  { cli.EXIT.bug, "a bug in zpm (a traceback is printed)" },
  { "128+N", "ended by signal N (130 for SIGINT, 143 for SIGTERM)" },
}
for _, e in ipairs(exits) do
  put(".TP", roff(e[1]), roff(e[2]))
end
put(".SH ENVIRONMENT", paragraph(
  "The authentication options read python-swiftclient's and "
  .. "python-openstackclient's variables (ST_AUTH, ST_USER, ST_KEY, "
  .. "OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_CLOUD, OS_STORAGE_URL, "
  .. "OS_AUTH_TOKEN and others), as each option's description says."))
put(".SH SEE ALSO", "\\fBswift\\fR(1), \\fBopenstack\\fR(1)")

local function write(name, text)
  local file = assert(io.open(outdir .. "/" .. name, "w"))
  assert(file:write(text))
  assert(file:close())
end

write("zpm.1", table.concat(out, "\n") .. "\n")
for shell, name in pairs({ bash = "zpm.bash", zsh = "_zpm",
                           fish = "zpm.fish" }) do
  write(name, assert(completion.script(parser, shell)))
end
