--- Jinja2's built-in filters and tests (the subset zpm templates use).
-- A filter is `fn(ctx, value, args, kwargs)` where ctx.autoescape tells
-- whether the template autoescapes; a test is `fn(value, args)` returning
-- a boolean. Case mapping is ASCII-only (Lua's string.upper/lower).
-- @module zpm.jinja.filters
local json = require("zpm.json")
local V = require("zpm.jinja.values")

local M = {}

local fail, kind, str, text = V.fail, V.kind, V.str, V.text
local null = V.null

-- Argument `pos` or keyword `name`, else default (nil and none count as
-- given only when passed).
local function arg(args, kwargs, pos, name, default)
  local v = args[pos]
  if v == nil then
    v = kwargs[name]
  end
  if v == nil then
    return default
  end
  return v
end

local function soft_str(v)
  if kind(v) == "markup" then
    return v
  end
  return str(v)
end

-- Apply a string function, keeping markup markup.
local function keep(v, fn)
  local s = fn(text(v) or str(v))
  if kind(v) == "markup" then
    return V.markup(s)
  end
  return s
end

local function is_none(v)
  return v == nil or rawequal(v, null)
end

local function attribute_getter(attribute)
  if is_none(attribute) then
    return function(x) return x end
  end
  local parts = {}
  if math.type(attribute) == "integer" then
    parts[1] = attribute
  else
    for part in tostring(text(attribute) or str(attribute)):gmatch("[^.]+")
    do
      parts[#parts + 1] = math.tointeger(tonumber(part)) or part
    end
  end
  return function(x)
    for _, p in ipairs(parts) do
      x = V.getitem(x, p)
    end
    return x
  end
end

-- Stable sort of items by key(item), Python comparison.
local function sorted(items, key, reverse)
  local decorated = {}
  for i, v in ipairs(items) do
    decorated[i] = { key = key(v), index = i, value = v }
  end
  table.sort(decorated, function(a, b)
    if not V.eq(a.key, b.key) then
      if reverse then
        return V.lt(b.key, a.key)
      end
      return V.lt(a.key, b.key)
    end
    return a.index < b.index
  end)
  local out = V.list()
  for i, d in ipairs(decorated) do
    out[i] = d.value
  end
  return out
end

local function sort_key(case_sensitive, attribute)
  local get = attribute_getter(attribute)
  return function(x)
    x = get(x)
    if not case_sensitive and text(x) then
      return text(x):lower()
    end
    return x
  end
end

-- Plain Lua data for zpm.json.encode.
local function plain(v, depth)
  if depth > 200 then
    fail("structure too deep to encode")
  end
  local k = kind(v)
  if k == "string" or k == "int" or k == "float" or k == "bool"
    or k == "none" then
    return v
  elseif k == "markup" then
    return v.s
  elseif k == "list" or k == "tuple" then
    local out = json.array()
    for i = 1, rawlen(v) do
      out[i] = plain(rawget(v, i), depth + 1)
    end
    return out
  elseif k == "dict" then
    local keys, out = V.keys(v), {}
    for _, key in ipairs(keys) do
      out[key] = plain(rawget(v, key), depth + 1)
    end
    return json.object(keys, out)
  end
  fail(("Object of type %s is not JSON serializable"):format(V.pytype(v)))
end

--- Jinja2's htmlsafe_json_dumps: JSON with <, >, & and ' escaped.
-- Object keys keep their order (YAML order; Jinja2 itself sorts them).
function M.tojson(v)
  local s, err = json.encode(plain(v, 0))
  if not s then
    fail(err)
  end
  s = s:gsub("[<>&']", { ["<"] = "\\u003c", [">"] = "\\u003e",
                         ["&"] = "\\u0026", ["'"] = "\\u0027" })
  return V.markup(s)
end

local function to_int(v, default, base)
  V.check_defined(v)
  local k = kind(v)
  if k == "int" then
    return v
  elseif k == "bool" then
    return v and 1 or 0
  elseif k == "float" then
    local t = v >= 0 and math.floor(v) or math.ceil(v)
    return math.tointeger(t) or default
  elseif k == "string" or k == "markup" then
    local s = V.strip(text(v))
    local digits = s:match("^[+-]?%d[%d_]*$")
    if digits and not s:find("__", 1, true) and not s:find("_$") then
      return math.tointeger(tonumber((s:gsub("_", "")), base)) or default
    end
    if base ~= 10 then
      local sign, body = s:match("^([+-]?)0[xXoObB]?([%x_]+)$")
      local n = body and tonumber((body:gsub("_", "")), base)
      if n then
        return sign == "-" and -n or n
      end
      return default
    end
    local f = s:match("^[+-]?[%d.]+[eE]?[+-]?%d*$") and tonumber(s)
    if f and f == f and f ~= math.huge and f ~= -math.huge then
      return to_int(f + 0.0, default, 10)
    end
  end
  return default
end

local function to_float(v, default)
  V.check_defined(v)
  local k = kind(v)
  if k == "int" or k == "float" then
    return v + 0.0
  elseif k == "bool" then
    return v and 1.0 or 0.0
  elseif k == "string" or k == "markup" then
    local s = V.strip(text(v)):lower()
    if s == "inf" or s == "+inf" or s == "infinity" then
      return math.huge
    elseif s == "-inf" or s == "-infinity" then
      return -math.huge
    elseif s == "nan" then
      return 0.0 / 0.0
    end
    local f = s:match("^[+-]?[%d.]+e?[+-]?%d*$") and tonumber(s)
    if f then
      return f + 0.0
    end
  end
  return default
end

-- Python's round() to `digits` places, ties to even.
local function round_half_even(x, digits)
  local factor = 10.0 ^ digits
  local y = x * factor
  local r = math.floor(y + 0.5)
  if r - y == 0.5 and r % 2 ~= 0 then
    r = r - 1
  end
  return r / factor
end

M.filters = {
  abs = function(_, v)
    local n = V.number(v)
    if not n then
      V.check_defined(v)
      fail(("bad operand type for abs(): '%s'"):format(V.pytype(v)))
    end
    return math.abs(n)
  end,
  capitalize = function(_, v)
    return keep(soft_str(v), V.capitalize)
  end,
  default = function(_, v, args, kwargs)
    local value = arg(args, kwargs, 1, "default_value", "")
    local boolean = arg(args, kwargs, 2, "boolean", false)
    if kind(v) == "undefined" or (V.truthy(boolean) and not V.truthy(v))
    then
      return value
    end
    return v
  end,
  dictsort = function(_, v, args, kwargs)
    local case_sensitive = V.truthy(arg(args, kwargs, 1, "case_sensitive",
                                        false))
    local by = text(arg(args, kwargs, 2, "by", "key"))
    local reverse = V.truthy(arg(args, kwargs, 3, "reverse", false))
    if kind(v) ~= "dict" then
      V.check_defined(v)
      fail("dictsort expects a mapping")
    end
    local pairs_ = V.getattr(v, "items").fn({}, {})
    local pos = by == "value" and 1 or 0
    if by ~= "key" and by ~= "value" then
      fail("You can only sort by either 'key' or 'value'")
    end
    return sorted(V.iterate(pairs_), sort_key(case_sensitive, pos), reverse)
  end,
  escape = function(_, v)
    return V.escape(v)
  end,
  first = function(_, v)
    local items = V.iterate(v)
    if #items == 0 then
      return V.undefined(nil, nil, "No first item, sequence was empty.")
    end
    return items[1]
  end,
  float = function(_, v, args, kwargs)
    return to_float(v, arg(args, kwargs, 1, "default", 0.0))
  end,
  format = function(_, v, args, kwargs)
    if #args > 0 and next(kwargs) then
      fail("can't handle positional and keyword arguments at the same time")
    end
    local values = next(kwargs) and V.dict(nil, kwargs) or V.tuple(args)
    return V.format(soft_str(v), values)
  end,
  forceescape = function(_, v)
    return V.markup(V.html_escape(str(v)))
  end,
  int = function(_, v, args, kwargs)
    local base = V.number(arg(args, kwargs, 2, "base", 10))
    return to_int(v, arg(args, kwargs, 1, "default", 0), base)
  end,
  items = function(_, v)
    if kind(v) == "undefined" then
      return V.list()
    elseif kind(v) ~= "dict" then
      fail(("Can only get item pairs from a mapping, not %s")
        :format(V.pytype(v)))
    end
    return V.getattr(v, "items").fn({}, {})
  end,
  join = function(ctx, v, args, kwargs)
    local sep = arg(args, kwargs, 1, "d", "")
    local get = attribute_getter(arg(args, kwargs, 2, "attribute", nil))
    local items = V.iterate(v)
    for i, x in ipairs(items) do
      items[i] = get(x)
    end
    local markup = false
    if ctx.autoescape then
      markup = kind(sep) == "markup"
      for _, x in ipairs(items) do
        markup = markup or kind(x) == "markup"
      end
    end
    local parts = {}
    for i, x in ipairs(items) do
      parts[i] = markup and V.escape(x).s or str(x)
    end
    if markup then
      return V.markup(table.concat(parts, V.escape(sep).s))
    end
    return table.concat(parts, str(sep))
  end,
  last = function(_, v)
    local items = V.iterate(v)
    if #items == 0 then
      return V.undefined(nil, nil, "No last item, sequence was empty.")
    end
    return items[#items]
  end,
  length = function(_, v)
    return V.length(v)
  end,
  list = function(_, v)
    return V.list(V.iterate(v))
  end,
  lower = function(_, v)
    return keep(soft_str(v), string.lower)
  end,
  max = function(_, v, args, kwargs)
    local items = V.iterate(v)
    if #items == 0 then
      return V.undefined(nil, nil, "No aggregated item, sequence was empty.")
    end
    local s = sorted(items, sort_key(V.truthy(arg(args, kwargs, 1,
      "case_sensitive", false)), arg(args, kwargs, 2, "attribute", nil)))
    return s[#s]
  end,
  min = function(_, v, args, kwargs)
    local items = V.iterate(v)
    if #items == 0 then
      return V.undefined(nil, nil, "No aggregated item, sequence was empty.")
    end
    return sorted(items, sort_key(V.truthy(arg(args, kwargs, 1,
      "case_sensitive", false)), arg(args, kwargs, 2, "attribute", nil)))[1]
  end,
  replace = function(ctx, v, args, kwargs)
    local old = arg(args, kwargs, 1, "old", "")
    local new = arg(args, kwargs, 2, "new", "")
    local count = V.number(arg(args, kwargs, 3, "count", nil))
    if not ctx.autoescape then
      return V.replace(str(v), str(old), str(new), count)
    end
    local markup = kind(v) == "markup" or kind(old) == "markup"
      or kind(new) == "markup"
    if not markup then
      return V.replace(str(v), str(old), str(new), count)
    end
    return V.markup(V.replace(V.escape(v).s, V.escape(old).s,
                              V.escape(new).s, count))
  end,
  reverse = function(_, v)
    local items = V.iterate(v)
    local out = V.list()
    for i = #items, 1, -1 do
      out[#out + 1] = items[i]
    end
    if text(v) then
      return keep(v, function() return table.concat(out) end)
    end
    return out
  end,
  round = function(_, v, args, kwargs)
    local precision = V.number(arg(args, kwargs, 1, "precision", 0))
    local method = text(arg(args, kwargs, 2, "method", "common"))
    local n = V.number(v)
    if not n then
      V.check_defined(v)
      fail(("type %s doesn't define __round__ method"):format(V.pytype(v)))
    end
    if method == "common" then
      if math.type(n) == "integer" then
        return n
      end
      return round_half_even(n, precision)
    end
    local factor = 10.0 ^ precision
    if method == "floor" then
      return math.floor(n * factor) / factor
    elseif method == "ceil" then
      return math.ceil(n * factor) / factor
    end
    fail("method must be common, ceil or floor")
  end,
  safe = function(_, v)
    if kind(v) == "markup" then
      return v
    end
    return V.markup(str(v))
  end,
  sort = function(_, v, args, kwargs)
    local reverse = V.truthy(arg(args, kwargs, 1, "reverse", false))
    local case_sensitive = V.truthy(arg(args, kwargs, 2, "case_sensitive",
                                        false))
    local attribute = arg(args, kwargs, 3, "attribute", nil)
    return sorted(V.iterate(v), sort_key(case_sensitive, attribute), reverse)
  end,
  string = function(_, v)
    return soft_str(v)
  end,
  sum = function(_, v, args, kwargs)
    local get = attribute_getter(arg(args, kwargs, 1, "attribute", nil))
    local total = arg(args, kwargs, 2, "start", 0)
    for _, x in ipairs(V.iterate(v)) do
      total = V.arith("+", total, get(x))
    end
    return total
  end,
  title = function(_, v)
    -- Jinja2 joins the words with a plain "": the result is never markup
    return (str(v):gsub("[^%-%s%(%{%[<]+", function(word)
      return word:sub(1, 1):upper() .. word:sub(2):lower()
    end))
  end,
  tojson = function(_, v)
    return M.tojson(v)
  end,
  trim = function(_, v, args, kwargs)
    local chars = arg(args, kwargs, 1, "chars", nil)
    return keep(soft_str(v), function(s)
      return V.strip(s, chars, "both")
    end)
  end,
  upper = function(_, v)
    return keep(soft_str(v), string.upper)
  end,
  wordcount = function(_, v)
    local n = 0
    for _ in str(v):gmatch("[%w_]+") do
      n = n + 1
    end
    return n
  end,
}
M.filters.count = M.filters.length
M.filters.d = M.filters.default
M.filters.e = M.filters.escape

local function numeric(v, name)
  local n = V.number(v)
  if not n then
    V.check_defined(v)
    fail(("'%s' test needs a number, not %s"):format(name, V.pytype(v)))
  end
  return n
end

local function comparison(op)
  return function(v, args)
    return V.compare(op, v, args[1])
  end
end

M.tests = {
  boolean = function(v) return kind(v) == "bool" end,
  defined = function(v) return kind(v) ~= "undefined" end,
  divisibleby = function(v, args)
    local d = numeric(args[1], "divisibleby")
    if d == 0 then
      fail("integer division or modulo by zero")
    end
    return numeric(v, "divisibleby") % d == 0
  end,
  escaped = function(v) return kind(v) == "markup" end,
  even = function(v) return numeric(v, "even") % 2 == 0 end,
  ["false"] = function(v) return v == false end,
  float = function(v) return kind(v) == "float" end,
  ["in"] = function(v, args) return V.contains(args[1], v) end,
  integer = function(v) return kind(v) == "int" end,
  iterable = function(v)
    local k = kind(v)
    return k == "string" or k == "markup" or k == "list" or k == "tuple"
      or k == "dict" or k == "undefined"
  end,
  lower = function(v)
    local s = text(v)
    return s ~= nil and s:lower() == s
  end,
  mapping = function(v) return kind(v) == "dict" end,
  none = function(v) return kind(v) == "none" end,
  number = function(v)
    local k = kind(v)
    return k == "int" or k == "float" or k == "bool"
  end,
  odd = function(v) return numeric(v, "odd") % 2 == 1 end,
  sameas = function(v, args) return rawequal(v, args[1]) end,
  sequence = function(v)
    local k = kind(v)
    return k == "string" or k == "markup" or k == "list" or k == "tuple"
      or k == "dict"
  end,
  string = function(v) return text(v) ~= nil end,
  ["true"] = function(v) return v == true end,
  undefined = function(v) return kind(v) == "undefined" end,
  upper = function(v)
    local s = text(v)
    return s ~= nil and s:upper() == s
  end,
  callable = function(v) return kind(v) == "method" end,
  eq = comparison("=="), ne = comparison("!="), lt = comparison("<"),
  le = comparison("<="), gt = comparison(">"), ge = comparison(">="),
}
M.tests.equalto = M.tests.eq
M.tests["=="] = M.tests.eq
M.tests["!="] = M.tests.ne
M.tests["<"] = M.tests.lt
M.tests["<="] = M.tests.le
M.tests[">"] = M.tests.gt
M.tests[">="] = M.tests.ge
M.tests.greaterthan = M.tests.gt
M.tests.lessthan = M.tests.lt

return M
