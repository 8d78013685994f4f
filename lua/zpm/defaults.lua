--- The defaults that the CLI's parser shows and the workflow uses, in a
-- module with nothing behind it: building the parser must not load
-- `zpm.core` (its libraries double `zpm version`'s start-up). The C
-- session has the same figures (`zpm.core.http.CONCURRENCY`,
-- `RETRIES`); spec unit/http checks they agree. `zpm.swift` re-exports
-- them.
-- @module zpm.defaults
local M = {}

--- Requests in flight at once (web UI files, segments).
M.CONCURRENCY = 8

--- Retries of a transient failure (python-swiftclient's default).
M.RETRIES = 5

return M
