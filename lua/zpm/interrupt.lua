--- Interrupts as failures. Once `catch` has run, SIGINT, SIGTERM and
-- SIGHUP no longer kill the process: they set a flag that the C core's
-- long operations (writing a zapp, HTTP transfers) and zpm's own loops
-- check, failing with the message "interrupted" and code "interrupted",
-- so that what a failure undoes is undone (no temporary zapp; a deploy
-- names the objects it wrote). The caller then asks `caught` and exits
-- as the signal would have (`zpm` exits 128 + the signal's number).
-- A second signal of the same kind ends the process at once.
-- @module zpm.interrupt
local M = {}

--- Catch the signals from now on (`zpm.core.interrupt`, a small C
-- module of its own: the launcher calls this before loading the rest).
-- @return true and whether SIGINT was at its default action before (under
--   lua5.4: a Ctrl-C came already), or nil and a message
function M.catch()
  return require("zpm.core.interrupt").catch()
end

--- The signal number caught, or nil.
function M.caught()
  -- without the module loaded nothing was caught (and it need not load)
  local signals = package.loaded["zpm.core.interrupt"]
  return signals and signals.caught() or nil
end

--- A check for loops.
-- @return true, or nil, "interrupted", "interrupted" once a signal came
function M.check()
  if M.caught() then
    return nil, "interrupted", "interrupted"
  end
  return true
end

--- The flag for the `interrupt` option of `zpm.core.archive.create` and
-- `zpm.core.http.session`.
function M.flag()
  return require("zpm.core.interrupt").flag()
end

return M
