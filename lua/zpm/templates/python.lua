--- The default project template: a Python zapp. Its files are in
-- `templates/python/` beside this module: `zapp.yaml` (with the section
-- `zapp-ui.yaml` in place of its `@ui@` line when the web UI is asked
-- for) and `main.py`; `@name@` is the project's name.
local ui = require("zpm.templates.ui")
local util = require("zpm.templates.util")

return {
  description = "a Python zapp (default)",
  create = function(ctx)
    local section = ""
    if ctx.with_ui then
      section = "\n" .. assert(util.read("python", "zapp-ui.yaml"))
    end
    ctx:file("zapp.yaml", assert(util.fill("python", "zapp.yaml", {
      name = util.yaml_quote(ctx.name), ui = section })))
    -- a program that runs, so that the first bundle and deploy work
    ctx:sample("main.py", assert(util.fill("python", "main.py", {
      name = (ctx.name:gsub("[^%w%-_. ]", "")) })))
    if ctx.with_ui then
      for _, file in ipairs(assert(ui.files())) do
        ctx:file(file.name, file.content)
      end
    end
    -- the python bundler keeps its dependency cache here
    ctx:dir(".zapp")
  end,
}
