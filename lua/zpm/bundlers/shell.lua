--- Bundler for project_type shell: a shell zapp needs nothing beyond its
-- own files, so this only checks that the scripts it runs are bundled.
local M = {}

function M.bundle(ctx)
  for _, group in ipairs(ctx.zapp.execution.groups) do
    local script = type(group.args) == "string" and group.args:match("^(%S+)")
    if script and script:match("%.sh$") and not ctx.members[script] then
      return nil, ("group '%s' runs %s, which is not in the zapp (add it "
        .. "to bundling)"):format(group.name, script), "invalid"
    end
  end
  return true
end

return M
