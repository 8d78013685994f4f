--- zpm auth: authenticate and print the token and storage URL.
local cli = require("zpm.cli")

local M = {}

M.summary = "Get auth token and storage URL information"
M.description = [[
Authenticate with the given settings (or the environment) and print the
auth token and the storage URL, as python-swiftclient's `swift auth`.]]

function M.add_to_parser(parser)
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

function M.run(args)
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  local url, token, acode, adetail = conn:auth()
  if not url then
    return nil, token, acode, adetail
  end
  cli.print("Auth token: " .. token)
  cli.print("Storage URL: " .. url)
  return true
end

return M
