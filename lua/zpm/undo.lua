--- Explicit rollback: work that creates files or objects registers how to
-- undo each step; on failure `rollback` undoes them newest first, so a
-- failed command leaves nothing half-made.
-- @module zpm.undo
local M = {}
M.__index = M

--- A new, empty undo log.
function M.new()
  return setmetatable({ steps = {} }, M)
end

--- Register how to undo a step that just succeeded.
-- @param description what the step made (for messages)
-- @param fn function() that undoes it; may return nil, message
function M:push(description, fn)
  self.steps[#self.steps + 1] = { description = description, fn = fn }
end

--- Undo every registered step, newest first.
-- @return list of messages for steps that could not be undone
function M:rollback()
  local failures = {}
  for i = #self.steps, 1, -1 do
    local step = self.steps[i]
    local ok, res, err = pcall(step.fn)
    if not ok or res == nil then
      failures[#failures + 1] = ("could not undo %s: %s")
        :format(step.description, tostring(ok and err or res))
    end
    self.steps[i] = nil
  end
  return failures
end

--- Forget the steps: the work is complete and stays.
function M:commit()
  self.steps = {}
end

return M
