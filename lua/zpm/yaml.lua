--- YAML documents as zpm sees them: values as PyYAML's safe_load would
-- give them, plus where each value came from (for error messages) and
-- the order of mapping keys (for output that follows the file).
-- Loading is done in C by `zpm.core.yaml`; mappings and sequences come
-- back as `zpm.ordered` objects and arrays whose descriptors (metatables)
-- also hold their positions: `line`, `column`, and `lines[k]`,
-- `columns[k]` for each member k.
-- @module zpm.yaml
local core = require("zpm.core")
local ordered = require("zpm.ordered")

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

--- Is t a mapping (a table not marked as a sequence)?
function M.is_mapping(t)
  return type(t) == "table" and ordered.kind(t) ~= "array"
end

--- Is t a sequence loaded from YAML (or marked with `ordered.array`)?
function M.is_sequence(t)
  return ordered.kind(t) == "array"
end

--- Keys of a mapping in document order (other tables: sorted);
-- `ordered.keys`.
M.keys = ordered.keys

--- Position of a collection, or of its member k when k is given.
-- @return line, column (both nil when unknown)
function M.position(t, k)
  local mt = ordered.kind(t) and getmetatable(t)
  if not mt or not mt.line then
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
