--- A project template for a zapp that runs a POSIX shell script on the
-- `sh` system image (no interpreter beyond /bin/sh needed). Its files are
-- in `templates/shell/` beside this module; `@name@` is the project's
-- name.
local util = require("zpm.templates.util")

return {
  description = "a POSIX shell script zapp",
  create = function(ctx)
    ctx:file("zapp.yaml", assert(util.fill("shell", "zapp.yaml",
      { name = util.yaml_quote(ctx.name) })))
    ctx:sample("main.sh", assert(util.read("shell", "main.sh")), 493)
  end,
}
