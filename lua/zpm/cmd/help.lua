--- zpm help [COMMAND]: the main help, or one command's help.
local cli = require("zpm.cli")

local M = {}

M.summary = "Show this help"
M.description = "Show the main help, or the help of COMMAND."

function M.add_to_parser(parser)
  parser:argument("command", "A zpm command."):args("?")
end

function M.run(args, env)
  local name = args.command
  if name ~= nil and env.modules[name] then
    for _, command in ipairs(env.parser._commands) do
      if command._name == name then
        cli.print(command:get_help())
        return true
      end
    end
  end
  if name ~= nil then
    cli.print(("no such command: %s"):format(name))
  end
  cli.print(env.parser:get_help())
  return true
end

return M
