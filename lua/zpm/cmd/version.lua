--- zpm version: print the version number.
local cli = require("zpm.cli")

local M = {}

M.summary = "Show the version number"
M.description = "Show the version number."

function M.add_to_parser(_) end

function M.run(_)
  cli.print(("zpm version %s"):format(require("zpm").VERSION))
  return true
end

return M
