--- YAML documents as zpm sees them: values as PyYAML's safe_load would
-- give them, plus where each value came from (for error messages) and
-- the order of mapping keys (for output that follows the file).
-- Loading is done in C by `zpm.core.yaml`; this module reads the
-- position and order information that loader attaches as metatables.
-- @module zpm.yaml
local core = require("zpm.core")

local M = {}

M.null = core.null

--- Parse YAML text.
-- @param text the document
-- @param name what to call it in messages (default "<string>")
-- @return value, or nil, "name:line:col: message", code
function M.load(text, name)
  return core.yaml.load(text, name)
end

--- Parse a YAML file.
-- @return value, or nil, "path:line:col: message", code
function M.load_file(path)
  return core.yaml.load_file(path)
end

local function info(t)
  local mt = type(t) == "table" and getmetatable(t) or nil
  if mt and (mt.__name == "zpm.yaml.map" or mt.__name == "zpm.yaml.seq") then
    return mt
  end
  return nil
end

--- Is t a mapping loaded from YAML (or a plain table used as one)?
function M.is_mapping(t)
  local mt = info(t)
  if mt then
    return mt.__name == "zpm.yaml.map"
  end
  return type(t) == "table"
end

--- Is t a sequence loaded from YAML?
function M.is_sequence(t)
  local mt = info(t)
  if mt then
    return mt.__name == "zpm.yaml.seq"
  end
  return false
end

--- Keys of a mapping in document order (other tables: sorted strings).
function M.keys(t)
  local mt = info(t)
  if mt and mt.keys then
    return mt.keys
  end
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

--- Position of a collection, or of its member k when k is given.
-- @return line, column (both nil when unknown)
function M.position(t, k)
  local mt = info(t)
  if not mt then
    return nil
  end
  if k ~= nil and mt.lines and mt.lines[k] then
    return mt.lines[k], mt.columns[k]
  end
  return mt.line, mt.column
end

--- Name of a YAML value's type, for messages.
function M.type_name(v)
  if v == M.null then
    return "null"
  end
  local t = type(v)
  if t == "table" then
    return M.is_sequence(v) and "list" or "mapping"
  elseif t == "number" then
    return math.type(v) == "integer" and "integer" or "float"
  end
  return t
end

return M
