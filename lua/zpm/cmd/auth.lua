--- zpm auth: authenticate and print the token and storage URL.
local cli = require("zpm.cli")

local M = {}

M.summary = "Get auth token and storage URL information"
M.description = [[
Authenticate with the given settings (or the environment) and print the
auth token and the storage URL, as python-swiftclient's `swift auth`.
With --shell, `export OS_STORAGE_URL=... OS_AUTH_TOKEN=...` lines for
`eval "$(zpm auth --shell)"`; with --format json, one JSON object
{"storage_url": ..., "token": ...}.]]

function M.add_to_parser(parser)
  parser:flag("--shell", "Print export lines for the shell to eval (as "
              .. "swift auth): OS_STORAGE_URL and OS_AUTH_TOKEN, quoted.")
  require("zpm.output").add_format_options(parser, "the storage URL and the token")
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

function M.run(args)
  local output = require("zpm.output")
  if args.shell and output.json(args) then
    return nil, "--shell and --format json are two formats: give one",
      require("zpm.errors").INVALID
  end
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  local url, token, acode, adetail = conn:auth()
  if not url then
    return nil, token, acode, adetail
  end
  if args.shell then
    return cli.write(output.exports({ { "OS_STORAGE_URL", url },
                                      { "OS_AUTH_TOKEN", token } }))
  elseif output.json(args) then
    local json = require("zpm.json")
    return output.write_json(json.object({ "storage_url", "token" },
      { storage_url = url, token = token }))
  end
  cli.print("Auth token: " .. token)
  cli.print("Storage URL: " .. url)
  return true
end

return M
