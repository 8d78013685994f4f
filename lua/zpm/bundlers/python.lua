--- Bundler for project_type python. Installing `dependencies` with pip
-- into the `.zapp/` cache arrives with its own change; until then a zapp
-- that lists dependencies is refused rather than bundled incomplete.
local yaml = require("zpm.yaml")

local M = {}

function M.bundle(ctx)
  local deps = ctx.zapp.dependencies
  if deps == nil or deps == yaml.null or #deps == 0 then
    return true
  end
  local line, col = yaml.position(ctx.zapp, "dependencies")
  return nil, ("zapp.yaml:%d:%d: dependencies: bundling Python "
    .. "dependencies is not supported by this version of zpm yet")
    :format(line or 1, col or 1)
end

return M
