--- Helpers for writing templates.
local M = {}

--- Text safe inside a double-quoted YAML scalar.
function M.yaml_quote(s)
  return (s:gsub('[\\"]', "\\%0"):gsub("%c", function(c)
    return ("\\x%02x"):format(c:byte())
  end))
end

return M
