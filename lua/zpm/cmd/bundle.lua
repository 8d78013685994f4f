--- zpm bundle: build <meta.name>.zapp from the project.
local cli = require("zpm.cli")
local zpm = require("zpm")

local M = {}

M.summary = "Bundle a ZeroVM application"
M.description = [[
This command creates a Zapp using the instructions in zapp.yaml.
The file is read from the project root: the first directory holding a
zapp.yaml, searching up from the current directory. On a terminal, a
progress bar on stderr shows the bytes bundled, the rate and the ETA.]]

function M.add_to_parser(parser)
  parser:flag("-r --refresh-deps",
              "Re-install the project's dependencies into the cache.")
  cli.add_log_level(parser)
end

function M.run(args)
  local result, err, code, detail = zpm.bundle(nil, {
    refresh_deps = args.refresh_deps,
    progress = cli.show_progress(args) })
  if not result then
    return nil, err, code, detail
  end
  cli.print(("created %s"):format(result.name))
  return true
end

return M
