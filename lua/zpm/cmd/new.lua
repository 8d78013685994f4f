--- zpm new: create a project from a template.
local cli = require("zpm.cli")
local zpm = require("zpm")

local M = {}

M.summary = "Create template zapp.yaml file"
M.description = [[
Create a default ZeroVM application zapp.yaml specification in the target
directory. If no directory is specified, zapp.yaml will be created in the
current directory. Nothing is overwritten: if a file the template would
create exists, nothing is created.]]

function M.add_to_parser(parser)
  parser:argument("WORKING_DIR",
                  "Non-existent or empty directory (default: .)")
    :args("?"):target("dir")
  parser:flag("-u --with-ui", "Include user interface template files.")
  parser:option("-t --template",
                "Project template (default: python). Available: "
                  .. table.concat(zpm.templates(), ", ") .. ".")
    :default("python"):show_default(false):argname("NAME")
  cli.add_log_level(parser)
end

function M.run(args)
  local created, err, code, detail = zpm.new_project(args.dir or ".", {
    template = args.template, with_ui = args.with_ui })
  if not created then
    return nil, err, code, detail
  end
  for _, path in ipairs(created) do
    cli.print(("Created '%s'"):format(path))
  end
  return true
end

return M
