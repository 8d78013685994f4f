--- Logging with levels, in the `LEVEL: message` form of the original zpm.
-- The library never writes anywhere by itself: messages go to the handler
-- installed with `set_handler` (the CLI installs one that writes stderr).
-- @module zpm.log
local M = {}

local LEVELS = { debug = 10, info = 20, warning = 30, error = 40,
                 critical = 50 }

--- Level names accepted by `set_level`, lowest first.
M.LEVEL_NAMES = { "debug", "info", "warning", "error", "critical" }

local threshold = LEVELS.warning
local handler = nil

--- Set the lowest level that reaches the handler.
-- @param name one of `LEVEL_NAMES`
-- @return true, or nil, a message and "invalid" for an unknown name
function M.set_level(name)
  local value = LEVELS[name]
  if not value then
    return nil, ("unknown log level '%s'"):format(tostring(name)),
      "invalid"
  end
  threshold = value
  return true
end

--- Install the function that receives formatted lines (nil: discard).
-- @param fn function(line, level_name) or nil
function M.set_handler(fn)
  handler = fn
end

--- Would a message of this level be handled?
function M.enabled(name)
  return handler ~= nil and LEVELS[name] >= threshold
end

local function emit(name, fmt, ...)
  if handler ~= nil and LEVELS[name] >= threshold then
    local message = select("#", ...) > 0 and fmt:format(...) or fmt
    handler(name:upper() .. ": " .. message, name)
  end
end

for name in pairs(LEVELS) do
  M[name] = function(fmt, ...) emit(name, fmt, ...) end
end

return M
