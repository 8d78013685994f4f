--- zpm's one error shape: a function that can fail returns its result,
-- or `nil, message, code [, detail]`. `message` is one line for a person
-- (it names the file as `file:line:col`, the object or the URL); `code`
-- is one of the short strings below, for a program to branch on;
-- `detail` is an optional table with what else a caller may need
-- (`status`, `reason`, `url` of an HTTP answer; `objects` left stored).
-- The C core's codes (`zpm.core`, `zpm_status_name`) are the same
-- strings, so a binding's `nil, message, code` passes through unchanged.
-- @module zpm.errors
local M = {}

--- The codes, by name. A caller compares with the string
-- (`code == "http"`) or with these (`code == errors.HTTP`).
M.INVALID = "invalid"         -- bad input: arguments, settings, zapp.yaml
M.YAML = "yaml"               -- YAML that does not parse (core)
M.IO = "io"                   -- a local file or directory (core, fs)
M.NOTFOUND = "notfound"       -- what was looked for is not there
M.MEMORY = "memory"           -- out of memory (core)
M.LIMIT = "limit"             -- a size or count over its limit (core)
M.ARCHIVE = "archive"         -- a tar/gzip that cannot be read or made
M.ZLIB = "zlib"               -- compressed data that does not inflate
M.NETWORK = "network"         -- no answer: connection, TLS, deadline
M.HTTP = "http"               -- an answer with an unexpected status
M.ETAG = "etag"               -- stored, but its Etag is not what was sent
M.PROTOCOL = "protocol"       -- an answer zpm cannot use (not JSON...)
M.CONFLICT = "conflict"       -- another deploy, a non-empty container
M.INTERRUPTED = "interrupted" -- a signal came (SIGINT, SIGTERM, SIGHUP)
M.CALLBACK = "callback"       -- a Lua callback raised (core bindings)
M.JOB = "job"                 -- a job ran and some nodes failed (CLI)
M.COMMAND = "command"         -- an external command failed (devcloud...)

--- The failure shape: `nil, message, code, detail`.
-- @param code one of the codes above
-- @param message one line
-- @param detail optional table (status, reason, url, objects, ...)
function M.fail(code, message, detail)
  return nil, message, code, detail
end

--- A one-line message for an unexpected HTTP response, in
-- python-swiftclient's words: "Object GET failed: <url> 404 Not Found
-- <body>" (the first 200 bytes of the body, spaces squeezed).
-- @param what "Object GET", "Auth POST", ...
-- @param resp { status, reason, body, url }
-- @param url the URL (default resp.url)
function M.http_message(what, resp, url)
  local body = (resp.body or ""):gsub("%s+", " "):sub(1, 200)
  return ("%s failed: %s %d %s%s"):format(what, url or resp.url or "?",
    resp.status, resp.reason or "", body ~= "" and "  " .. body or "")
end

--- The failure of an unexpected HTTP response: `nil, http_message(...),
-- "http", { status, reason, url }`.
function M.http(what, resp, url)
  url = url or resp.url
  return nil, M.http_message(what, resp, url), M.HTTP,
    { status = resp.status, reason = resp.reason, url = url }
end

--- `detail` (a new table when nil) with `objects` set: for a failure
-- that leaves objects stored, whatever its code.
function M.with_objects(detail, objects)
  detail = detail or {}
  detail.objects = objects
  return detail
end

return M
