--- Ordered values: the one protocol by which YAML mappings, JSON objects
-- and the job keep their key order, and lists stay lists when empty.
--
-- Lua's own table order is randomised per process, so anything written
-- out (system.map, JSON, templates) follows this protocol instead. A value
-- is a plain Lua table; its metatable is a descriptor that holds no
-- metamethods, so indexing and `pairs` behave as on any table:
--
-- * an **object** (JSON object, YAML mapping) has a metatable with `keys`,
--   the list of its keys in order, and `__name` = `ordered.OBJECT`. The
--   descriptor is its own (two objects never share one);
-- * an **array** (JSON array, YAML sequence) has a metatable whose
--   `__name` is `ordered.ARRAY`: it stays an array when empty;
-- * a plain table is an array when its keys are exactly 1..n (n >= 1),
--   else an object whose keys are sorted (type name, then value).
--
-- A descriptor may carry more fields for its maker: `zpm.core.yaml`'s
-- (built in C, bindings/yaml.c) also hold `line`, `column`, `lines` and
-- `columns`, read by `zpm.yaml.position`. Reading a value goes through
-- rawget/next only, so no metamethod of a caller's table ever runs.
-- @module zpm.ordered
local M = {}

--- `__name` of an object's descriptor.
M.OBJECT = "zpm.ordered.object"
--- `__name` of an array's descriptor.
M.ARRAY = "zpm.ordered.array"

local ARRAY_MT = { __name = M.ARRAY }

--- Mark a table as an array (needed for empty ones). Arrays made here
-- share one descriptor.
-- @param t a list (default: a new empty one)
-- @return t
function M.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

--- Make an object whose keys come in the order given.
-- @param keys list of keys; it becomes the object's order (not copied:
-- `set` changes it). Keys missing from it follow, sorted.
-- @param values table of key -> value (default: a new empty one)
-- @return values, marked as an object
function M.object(keys, values)
  return setmetatable(values or {}, { __name = M.OBJECT, keys = keys or {} })
end

-- The order list of a marked object, or nil.
local function order_of(t)
  local mt = getmetatable(t)
  local keys = type(mt) == "table" and rawget(mt, "keys")
  return type(keys) == "table" and keys or nil
end

--- What a table is marked as.
-- @return "object", "array", or nil for a plain table (or a non-table)
function M.kind(t)
  local mt = type(t) == "table" and getmetatable(t)
  if type(mt) ~= "table" then
    return nil
  elseif rawget(mt, "__name") == M.ARRAY then
    return "array"
  elseif type(rawget(mt, "keys")) == "table" then
    return "object"
  end
  return nil
end
local kind = M.kind

--- Is t an array: marked as one, or a plain table with keys 1..n
-- (n >= 1)?
function M.is_array(t)
  local k = kind(t)
  if k ~= nil then
    return k == "array"
  elseif type(t) ~= "table" then
    return false
  end
  local n = rawlen(t)
  if n == 0 then
    return false
  end
  local count = 0
  for _ in next, t do
    count = count + 1
  end
  return count == n
end

--- Is t an object: a table that is not an array (an empty plain table
-- is an object)?
function M.is_object(t)
  return type(t) == "table" and not M.is_array(t)
end

local function sort_keys(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    return ta < tb
  end
  if ta == "string" or ta == "number" then
    return a < b
  end
  return tostring(a) < tostring(b)
end

--- Keys of a table in order: an object's order first (the keys it still
-- holds), then any others sorted (type name, then value).
-- @return a new list
function M.keys(t)
  local keys, seen, n = {}, {}, 0
  local order = order_of(t)
  if order then
    for _, k in ipairs(order) do
      if rawget(t, k) ~= nil and not seen[k] then
        n = n + 1
        keys[n], seen[k] = k, true
      end
    end
  end
  local extra
  for k in next, t do
    if not seen[k] then
      extra = extra or {}
      extra[#extra + 1] = k
    end
  end
  if extra then
    table.sort(extra, sort_keys)
    table.move(extra, 1, #extra, n + 1, keys)
  end
  return keys
end

--- Iterate key, value pairs in `keys` order: `for k, v in ordered.pairs(t)`.
function M.pairs(t)
  local keys, i = M.keys(t), 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then
      return k, rawget(t, k)
    end
  end
end

--- The value at key k (raw: no metamethod runs).
function M.get(t, k)
  return rawget(t, k)
end

--- Set t[k] = v keeping the order: a key new to an object goes last, or
-- just before the key `before` when the object has that one; a key it has
-- keeps its place; v == nil removes the key from the order too (setting
-- it again puts it last, as in a Python dict). On a plain table this is
-- `rawset`.
-- @return t
function M.set(t, k, v, before)
  local order = order_of(t)
  if order then
    local at, pos
    for i, key in ipairs(order) do
      if rawequal(key, k) then
        at = i
      elseif before ~= nil and rawequal(key, before) and not pos then
        pos = i
      end
    end
    if v == nil then
      if at then
        table.remove(order, at)
      end
    elseif not at then
      table.insert(order, pos or #order + 1, k)
    end
  end
  rawset(t, k, v)
  return t
end

return M
