--- The execution summary of a job (DESIGN.md section 7): per-node
-- accounting from a ZeroCloud response's X-Nexe-System, X-Nexe-Status,
-- X-Nexe-Retcode and X-Nexe-Cdr-Line headers, as a table of rows, the
-- prettytable-style text the original zpm printed, or JSON.
--
-- The parsing and the table are done in C (`zpm.core.nexe`), which walks
-- the header values without copying them: 100,000 nodes render in tens
-- of milliseconds. Header names may come in any case. A header given as
-- a list of strings (a field repeated in the response) is joined with
-- ",", as HTTP combines repeated fields.
--
-- Rules kept from the original zpm: node names, statuses and retcodes
-- are split on "," and kept as received (spaces included); cdr items are
-- stripped; rows stop at the shortest list. Where the original would
-- have crashed, these functions return `nil, message, "invalid"`: a
-- missing header ("... is it ZeroCloud?") and a stats item without
-- exactly ten numbers (the message names the node).
--
-- The devcloud's X-Nexe-Stderr (one percent-encoded item per node: the
-- tail of a failed node's standard error) is read by `failures`,
-- `stderrs` and `json`.
-- @module zpm.summary
local core = require("zpm.core")
local json = require("zpm.json")

local M = {}

local nexe = core.nexe

local HEADERS = { "x-nexe-system", "x-nexe-status", "x-nexe-retcode",
                  "x-nexe-cdr-line" }

--- Row fields, in table column order.
M.FIELDS = { "node", "status", "retcode", "node_time", "sys_time",
             "user_time", "disk_reads", "disk_bytes_read", "disk_writes",
             "disk_bytes_written", "network_reads", "network_bytes_read",
             "network_writes", "network_bytes_written" }

--- Table column titles, as the original zpm printed them.
M.COLUMNS = { "Node", "Status", "Retcode", "NodeT", "SysT", "UserT",
              "DiskReads", "DiskBytesR", "DiskWrites", "DiskBytesW",
              "NetworkReads", "NetworkBytesR", "NetworkWrites",
              "NetworkBytesW" }

local WANTED = { ["x-nexe-stderr"] = true }
for _, name in ipairs(HEADERS) do
  WANTED[name] = true
end

-- The X-Nexe-* headers under lower-case names. The lower-case spelling
-- wins over others; among other spellings the smallest name wins, so the
-- choice does not depend on table order.
local function normalise(headers, level)
  if type(headers) ~= "table" then
    error(("bad argument #1 (table of headers expected, got %s)"):format(
      type(headers)), level + 1)
  end
  local out, from = {}, {}
  for name, value in pairs(headers) do
    local lower = type(name) == "string" and name:lower()
    if lower and WANTED[lower] then
      local prev = from[lower]
      if prev == nil or name == lower
         or (prev ~= lower and name < prev) then
        if type(value) == "table" then
          value = table.concat(value, ",")
        end
        out[lower], from[lower] = value, name
      end
    end
  end
  return out
end

--- Parse the summary into rows.
-- @param headers response headers (names in any case)
-- @return `{ total = "5.121", rows = { { node = "combiner", status = "ok",
--   retcode = "0", node_time = "4.993", sys_time = "0.13", ... }, ... } }`
--   with every value a string as received (keys: `FIELDS`); or nil, a
--   message and "invalid" for missing headers or malformed statistics
function M.parse(headers)
  local rows, total, code = nexe.parse(normalise(headers, 2))
  if not rows then
    return nil, total, code
  end
  return { total = total, rows = rows }
end

--- The summary as the original zpm printed it:
-- `"Execution summary:\n" .. table .. "\nTotal time: " .. total .. "\n"`.
-- @param headers response headers (names in any case)
-- @return the text; or nil, a message and "invalid"
function M.render(headers)
  -- collected as chunks and joined once: one copy fewer than joining the
  -- title and total to nexe.table's string, which counts at 100,000 nodes
  local chunks = { "Execution summary:\n" }
  local ok, total, code = nexe.table(normalise(headers, 2), function(s)
    chunks[#chunks + 1] = s
    return true
  end)
  if not ok then
    return nil, total, code
  end
  chunks[#chunks + 1] = "\nTotal time: "
  chunks[#chunks + 1] = total
  chunks[#chunks + 1] = "\n"
  return table.concat(chunks)
end

--- The table alone (the original's `_get_exec_table`: a prettytable and
-- the total time, apart).
-- @param headers response headers (names in any case)
-- @return the table's text (no trailing newline) and the total time; or
--   nil, a message and "invalid"
function M.table(headers)
  local chunks = {}
  local ok, total, code = nexe.table(normalise(headers, 2), function(s)
    chunks[#chunks + 1] = s
    return true
  end)
  if not ok then
    return nil, total, code
  end
  return table.concat(chunks), total
end

--- Stream the text `render` returns to `write`, in chunks of at most
-- 16 KiB, without holding the table in memory. Nothing is written when
-- the headers are bad.
-- @param headers response headers (names in any case)
-- @param write function(chunk) returning a true value, or nil and a
--   message to stop (`function(s) return io.stdout:write(s) end`)
-- @return true; or nil, a message and "invalid" (bad headers) or "io"
--   (write failed); an error raised by write propagates
function M.write(headers, write)
  if type(write) ~= "function" then
    error(("bad argument #2 (function expected, got %s)"):format(
      type(write)), 2)
  end
  headers = normalise(headers, 2)
  -- nexe.table checks every row before its first chunk: the title goes
  -- out with that chunk, so bad headers write nothing at all
  local titled = false
  local function write_table(chunk)
    if not titled then
      titled = true
      local ok, err = write("Execution summary:\n")
      if not ok then
        return nil, err
      end
    end
    return write(chunk)
  end
  local ok, total, code = nexe.table(headers, write_table)
  if not ok then
    return nil, total, code
  end
  local wok, werr = write("\nTotal time: " .. total .. "\n")
  if not wok then
    return nil, werr or "write failed", "io"
  end
  return true
end

-- A number as JSON should carry it ("0.13" -> 0.13, "1025" -> 1025), or
-- the text as received when it is none.
local function as_number(text)
  local n = tonumber(text)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then
    return text
  end
  -- "4.00" stays a float (4.0): a time is not a count
  if text:find("[.eE]") then
    return n + 0.0
  end
  return math.tointeger(n) or n
end

-- A node's keys in the JSON summary: FIELDS, then "stderr" (only for a
-- node whose X-Nexe-Stderr item is not empty)
local JSON_FIELDS = table.move(M.FIELDS, 1, #M.FIELDS, 1, {})
JSON_FIELDS[#JSON_FIELDS + 1] = "stderr"

--- The summary as JSON text, keys in a stable order:
-- `{"total_time": 5.121, "nodes": [{"node": "combiner", "status": "ok",
-- "retcode": 0, "node_time": 4.993, ..., "network_bytes_written": 0}]}`
-- (node keys in the order of `FIELDS`). `node` and `status` are strings;
-- the times, counts and retcode are numbers (a value that is not a
-- number stays the string received). A node whose item of X-Nexe-Stderr
-- is not empty (a failed node, see `stderrs`) also has `"stderr"`, the
-- decoded tail of its standard error, after the other keys.
-- @param headers response headers (names in any case)
-- @return the JSON text; or nil, a message and "invalid"
function M.json(headers)
  local data, err, code = M.data(headers)
  if not data then
    return nil, err, code
  end
  return json.encode(data)
end

--- The summary `json` encodes, as a `zpm.json.object` (`total_time`,
-- `nodes`) to put inside a larger document (`zpm execute --format json`).
-- @param headers response headers (names in any case)
-- @return the object; or nil, a message and "invalid"
function M.data(headers)
  local rows, total, code = nexe.parse(normalise(headers, 2))
  if not rows then
    return nil, total, code
  end
  local stderrs = M.stderrs(headers)
  local nodes = json.array()
  for i, row in ipairs(rows) do
    for _, field in ipairs(M.FIELDS) do
      if field ~= "node" and field ~= "status" then
        row[field] = as_number(row[field])
      end
    end
    row.stderr = stderrs[i]
    nodes[i] = json.object(JSON_FIELDS, row)
  end
  return json.object({ "total_time", "nodes" },
    { total_time = as_number(total), nodes = nodes })
end

local function split(value)
  local items = {}
  if value ~= nil then
    for item in (value .. ","):gmatch("([^,]*),") do
      items[#items + 1] = item:match("^%s*(.-)%s*$")
    end
  end
  return items
end

-- Percent-decoding (what Python's urllib.parse.quote(s, safe='')
-- encoded); a "%" not followed by two hex digits stays as it is.
local function unquote(text)
  return (text:gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

--- The stderr tails of X-Nexe-Stderr (the devcloud's aggregating header:
-- one item per node, in X-Nexe-System's order; empty for a node that
-- succeeded, else the last bytes of what the node wrote to stderr,
-- percent-encoded).
-- @param headers response headers (names in any case)
-- @return a table node index -> decoded text; nodes whose item is empty
--   or missing (or all of them, without the header) have none
function M.stderrs(headers)
  local items = split(normalise(headers, 2)["x-nexe-stderr"])
  local out = {}
  for i, item in ipairs(items) do
    if item ~= "" then
      out[i] = unquote(item)
    end
  end
  return out
end

--- The nodes that failed: those whose status (X-Nexe-Status) is not
-- "ok" or whose retcode (X-Nexe-Retcode) is not 0. A node named in
-- X-Nexe-System without a status or a retcode counts as failed (its
-- missing value is nil): a run is good only when every node says so.
-- `stderr` is the node's item of X-Nexe-Stderr, percent-decoded (the
-- tail of its standard error, whatever its stderr device was); nil when
-- the item is empty or missing.
-- @param headers response headers (names in any case)
-- @return list of `{ node = name, status = text or nil, retcode =
--   integer, text or nil, stderr = text or nil }`, empty when every node
--   succeeded
function M.failures(headers)
  headers = normalise(headers, 2)
  local names = split(headers["x-nexe-system"])
  local statuses = split(headers["x-nexe-status"])
  local retcodes = split(headers["x-nexe-retcode"])
  local stderrs = M.stderrs(headers)
  local failed = {}
  for i, name in ipairs(names) do
    local status, retcode = statuses[i], retcodes[i]
    retcode = retcode and (math.tointeger(tonumber(retcode)) or retcode)
    if status ~= "ok" or retcode ~= 0 then
      failed[#failed + 1] = { node = name, status = status,
                              retcode = retcode, stderr = stderrs[i] }
    end
  end
  return failed
end

--- One line about a failed node (from `failures`), e.g.
-- `node 'hello' failed: retcode 3, status 'ok'`.
function M.describe_failure(f)
  return ("node '%s' failed: retcode %s, status '%s'"):format(f.node,
    f.retcode == nil and "(none)" or tostring(f.retcode),
    f.status == nil and "(none)" or f.status)
end

-- A byte a terminal would act on, shown as \xNN instead (tab kept).
local function visible(line)
  return (line:gsub("[%z\1-\8\11-\31\127]", function(c)
    return ("\\x%02x"):format(c:byte())
  end))
end

--- The stderr tail of a failed node (from `failures`) as lines to print
-- under `describe_failure`'s: each line of it indented as `  | line`
-- (control characters other than tab as `\xNN`, a final newline
-- dropped, "\r\n" taken as "\n"); an empty list when it has none.
function M.describe_stderr(f)
  local lines = {}
  local text = f.stderr
  if type(text) ~= "string" or text == "" then
    return lines
  end
  text = text:gsub("\r\n", "\n"):gsub("\n$", "")
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = "  | " .. visible(line)
  end
  return lines
end

return M
