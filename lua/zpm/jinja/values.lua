--- Template values with Python semantics, as Jinja2 sees them.
-- Lua values map to Python ones: strings are `str`, integers `int`, floats
-- `float`, booleans `bool`, `zpm.core.null` is `None`; a table is a list
-- when `zpm.ordered` marks it an array (YAML sequences, JSON arrays) and a
-- dict when it marks it an object (key order: `zpm.ordered.keys`);
-- an unmarked table is a list when its keys are exactly 1..n (an empty
-- one counts as a list), otherwise a dict, its keys sorted. Lists are 0-based in templates. Anything else (functions,
-- other userdata, coroutines) is opaque: it prints as `<function>` etc.
-- and can be neither called nor inspected. Tables are read with
-- rawget/rawlen/next, so no metamethod of a caller's value ever runs.
--
-- Values this module makes: undefined (Jinja2's default Undefined),
-- markup (markupsafe.Markup, a string that is already HTML), tuples,
-- lists and dicts built by templates, bound methods, loop objects and
-- namespaces.
-- @module zpm.jinja.values
local json = require("zpm.json")
local null = require("zpm.core").null
local ordered = require("zpm.ordered")

local M = {}

M.null = null

local UNDEF_MT = { __name = "zpm.jinja.undefined" }
local MARKUP_MT = { __name = "zpm.jinja.markup" }
local METHOD_MT = { __name = "zpm.jinja.method" }
local TUPLE_MT = { __name = "zpm.jinja.tuple" }
local LIST_MT = { __name = "zpm.jinja.list" }
local LOOP_MT = { __name = "zpm.jinja.loop" }
local NAMESPACE_MT = { __name = "zpm.jinja.namespace" }

--- Raise a runtime error (zpm.jinja adds the name and line).
function M.fail(message)
  error({ template_error = message }, 0)
end
local fail = M.fail

local RESULT_LIMIT = 1 << 26

---------------------------------------------------------------- constructors

--- An undefined value. `hint` replaces the message when given.
-- @param name the missing variable, attribute or item
-- @param obj the object that lacked it (nil for a missing variable)
-- @param hint optional message
function M.undefined(name, obj, hint)
  return setmetatable({ name = name, obj = obj, hint = hint,
                        has_obj = obj ~= nil }, UNDEF_MT)
end

--- A markup (safe HTML) string.
function M.markup(s)
  return setmetatable({ s = s }, MARKUP_MT)
end

--- A list made by a template (0-based in templates, 1-based in Lua).
function M.list(t)
  return setmetatable(t or {}, LIST_MT)
end

--- A tuple (prints with parentheses; otherwise a list).
function M.tuple(t)
  return setmetatable(t or {}, TUPLE_MT)
end

--- A dict with the given key order.
function M.dict(keys, values)
  return setmetatable(values or {}, { __name = "zpm.jinja.dict",
                                      keys = keys or {} })
end

--- A callable built-in. fn(args, kwargs) returns the result.
function M.method(name, fn)
  return setmetatable({ name = name, fn = fn }, METHOD_MT)
end

--- The `loop` variable of iteration i (1-based) over items.
function M.loop(i, items)
  return setmetatable({ i = i, items = items }, LOOP_MT)
end

--- A namespace() object: attributes that `{% set ns.x = ... %}` assigns.
function M.namespace(attrs, keys)
  return setmetatable({ attrs = attrs, keys = keys }, NAMESPACE_MT)
end

---------------------------------------------------------------- kinds

--- The kind of a value: "undefined", "none", "bool", "int", "float",
-- "string", "markup", "list", "tuple", "dict", "method", "loop",
-- "namespace" or "other".
function M.kind(v)
  local t = type(v)
  if t == "string" then
    return "string"
  elseif t == "number" then
    return math.type(v) == "integer" and "int" or "float"
  elseif t == "boolean" then
    return "bool"
  elseif t == "nil" then
    return "undefined"
  elseif rawequal(v, null) then
    return "none"
  elseif t ~= "table" then
    return "other"
  end
  local mt = getmetatable(v)
  if mt == UNDEF_MT then
    return "undefined"
  elseif mt == MARKUP_MT then
    return "markup"
  elseif mt == LIST_MT then
    return "list"
  elseif mt == TUPLE_MT then
    return "tuple"
  elseif mt == METHOD_MT then
    return "method"
  elseif mt == LOOP_MT then
    return "loop"
  elseif mt == NAMESPACE_MT then
    return "namespace"
  elseif type(mt) == "table" then
    local marked = ordered.kind(v)
    if marked == "array" then
      return "list"
    elseif marked == "object" or rawget(mt, "keys") then
      return "dict"
    end
  end
  local n = rawlen(v)
  if n == 0 then
    return next(v) == nil and "list" or "dict"
  end
  local count = 0
  for _ in next, v do
    count = count + 1
  end
  return count == n and "list" or "dict"
end
local kind = M.kind

local PYTYPES = {
  string = "str", markup = "Markup", int = "int", float = "float",
  bool = "bool", none = "NoneType", list = "list", tuple = "tuple",
  dict = "dict", undefined = "Undefined", method = "builtin_function",
  loop = "LoopContext", namespace = "Namespace",
}

--- Python's type name of a value, for messages.
function M.pytype(v)
  return PYTYPES[kind(v)] or type(v)
end

--- The message of an undefined value.
function M.undefined_message(u)
  if u.hint then
    return u.hint
  elseif not u.has_obj then
    return ("'%s' is undefined"):format(u.name)
  end
  local obj = rawequal(u.obj, null) and "None"
    or M.pytype(u.obj) .. " object"
  if type(u.name) == "string" then
    return ("'%s' has no attribute '%s'"):format(obj, u.name)
  end
  return ("%s has no element %s"):format(obj, M.repr(u.name))
end

--- Raise the error an undefined value stands for.
function M.raise_undefined(u)
  fail(M.undefined_message(u))
end

local function check_defined(v)
  if getmetatable(v) == UNDEF_MT then
    M.raise_undefined(v)
  end
  return v
end
M.check_defined = check_defined

---------------------------------------------------------------- containers

--- Keys of a dict in order: the metatable's `keys`, then the rest sorted
-- (shared with zpm.json, so templates and JSON agree on order).
M.keys = ordered.keys

local function chars(s)
  local out = {}
  if utf8.len(s) then
    for ch in s:gmatch(utf8.charpattern) do
      out[#out + 1] = ch
    end
  else
    for i = 1, #s do
      out[i] = s:sub(i, i)
    end
  end
  return out
end
M.chars = chars

--- The items iteration yields, as a Lua array (Python's `iter`).
function M.iterate(v)
  local k = kind(v)
  if k == "list" or k == "tuple" then
    return table.move(v, 1, rawlen(v), 1, {})
  elseif k == "dict" then
    return M.keys(v)
  elseif k == "string" then
    return chars(v)
  elseif k == "markup" then
    return chars(v.s)
  elseif k == "undefined" then
    return {}
  elseif k == "namespace" then
    fail("'Namespace' object is not iterable")
  end
  fail(("'%s' object is not iterable"):format(M.pytype(v)))
end

--- Python's len().
function M.length(v)
  local k = kind(v)
  if k == "string" or k == "markup" then
    local s = k == "string" and v or v.s
    return utf8.len(s) or #s
  elseif k == "list" or k == "tuple" then
    return rawlen(v)
  elseif k == "dict" then
    return #M.keys(v)
  elseif k == "undefined" then
    return 0
  end
  fail(("object of type '%s' has no len()"):format(M.pytype(v)))
end

---------------------------------------------------------------- text

local function py_float(x)
  if x ~= x then
    return "nan"
  elseif x == math.huge then
    return "inf"
  elseif x == -math.huge then
    return "-inf"
  end
  return json.float_repr(x)
end

local REPR_ESCAPES = { ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r",
                       ["\t"] = "\\t" }

local function repr_string(s)
  local q = "'"
  if s:find("'", 1, true) and not s:find('"', 1, true) then
    q = '"'
  end
  return q .. s:gsub("[%c\\" .. q .. "]", function(c)
    if c == q then
      return "\\" .. c
    end
    return REPR_ESCAPES[c] or ("\\x%02x"):format(c:byte())
  end) .. q
end

local str

local function repr(v, depth)
  local k = kind(v)
  if k == "string" then
    return repr_string(v)
  elseif k == "markup" then
    return "Markup(" .. repr_string(v.s) .. ")"
  elseif k == "undefined" then
    return "Undefined"
  end
  return str(v, depth)
end

local function join_repr(items, depth)
  local parts = {}
  for i = 1, #items do
    parts[i] = repr(items[i], depth + 1)
  end
  return table.concat(parts, ", ")
end

--- Python's str() of a value.
str = function(v, depth)
  depth = depth or 0
  if depth > 100 then
    fail("structure too deep to print")
  end
  local k = kind(v)
  if k == "string" then
    return v
  elseif k == "markup" then
    return v.s
  elseif k == "int" then
    return ("%d"):format(v)
  elseif k == "float" then
    return py_float(v)
  elseif k == "bool" then
    return v and "True" or "False"
  elseif k == "none" then
    return "None"
  elseif k == "undefined" then
    return ""
  elseif k == "list" then
    return "[" .. join_repr(M.iterate(v), depth) .. "]"
  elseif k == "tuple" then
    local n = rawlen(v)
    return "(" .. join_repr(M.iterate(v), depth) .. (n == 1 and ",)" or ")")
  elseif k == "dict" then
    local parts = {}
    for i, key in ipairs(M.keys(v)) do
      parts[i] = repr(key, depth + 1) .. ": " .. repr(rawget(v, key),
                                                      depth + 1)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  elseif k == "method" then
    return ("<built-in method %s>"):format(v.name)
  elseif k == "loop" then
    return ("<LoopContext %d/%d>"):format(v.i, #v.items)
  elseif k == "namespace" then
    local parts = {}
    for i, key in ipairs(v.keys) do
      parts[i] = key .. "=" .. repr(v.attrs[key], depth + 1)
    end
    return "<Namespace " .. table.concat(parts, ", ") .. ">"
  end
  return "<" .. type(v) .. ">"
end
M.str = str
M.repr = repr

local HTML_ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                       ['"'] = "&#34;", ["'"] = "&#39;" }

--- HTML-escape a string as markupsafe does.
function M.html_escape(s)
  return (s:gsub("[&<>\"']", HTML_ESCAPES))
end

--- markupsafe.escape: markup stays as is, anything else is str()'d and
-- escaped. Returns markup.
function M.escape(v)
  if kind(v) == "markup" then
    return v
  end
  return M.markup(M.html_escape(str(v)))
end

--- Text of a string-like value ("string" or "markup"), else nil.
function M.text(v)
  if type(v) == "string" then
    return v
  elseif getmetatable(v) == MARKUP_MT then
    return v.s
  end
  return nil
end

---------------------------------------------------------------- operators

--- Python truthiness.
function M.truthy(v)
  local k = kind(v)
  if k == "bool" then
    return v
  elseif k == "int" or k == "float" then
    return v ~= 0
  elseif k == "string" then
    return v ~= ""
  elseif k == "markup" then
    return v.s ~= ""
  elseif k == "none" or k == "undefined" then
    return false
  elseif k == "list" or k == "tuple" or k == "dict" then
    return next(v) ~= nil
  end
  return true
end
local truthy = M.truthy

local function number(v)
  local t = type(v)
  if t == "number" then
    return v
  elseif t == "boolean" then
    return v and 1 or 0
  end
  return nil
end
M.number = number

local eq

--- Python ==.
eq = function(a, b, depth)
  depth = depth or 0
  if depth > 100 then
    fail("structure too deep to compare")
  end
  local ka, kb = kind(a), kind(b)
  local na, nb = number(a), number(b)
  if na and nb then
    return na == nb
  end
  local sa, sb = M.text(a), M.text(b)
  if sa and sb then
    return sa == sb
  end
  if ka ~= kb then
    return false
  end
  if ka == "undefined" then
    return true
  elseif ka == "list" or ka == "tuple" then
    local n = rawlen(a)
    if rawlen(b) ~= n then
      return false
    end
    for i = 1, n do
      if not eq(rawget(a, i), rawget(b, i), depth + 1) then
        return false
      end
    end
    return true
  elseif ka == "dict" then
    local keys = M.keys(a)
    if #keys ~= #M.keys(b) then
      return false
    end
    for _, key in ipairs(keys) do
      local other = rawget(b, key)
      if other == nil or not eq(rawget(a, key), other, depth + 1) then
        return false
      end
    end
    return true
  end
  return rawequal(a, b)
end
M.eq = eq

local lt

-- Python <: numbers, strings and sequences of them.
lt = function(a, b, op)
  op = op or "<"
  check_defined(a)
  check_defined(b)
  local na, nb = number(a), number(b)
  if na and nb then
    return na < nb
  end
  local sa, sb = M.text(a), M.text(b)
  if sa and sb then
    return sa < sb
  end
  local ka, kb = kind(a), kind(b)
  if ka == kb and (ka == "list" or ka == "tuple") then
    local n, m = rawlen(a), rawlen(b)
    for i = 1, math.min(n, m) do
      local x, y = rawget(a, i), rawget(b, i)
      if not eq(x, y) then
        return lt(x, y, op)
      end
    end
    return n < m
  end
  fail(("'%s' not supported between instances of '%s' and '%s'")
    :format(op, M.pytype(a), M.pytype(b)))
end

--- Python comparison: op is one of == != < > <= >=.
function M.compare(op, a, b)
  if op == "==" then
    return eq(a, b)
  elseif op == "!=" then
    return not eq(a, b)
  elseif op == "<" then
    return lt(a, b, op)
  elseif op == ">" then
    return lt(b, a, op)
  elseif op == "<=" then
    return lt(a, b, op) or eq(a, b)
  end
  return lt(b, a, op) or eq(a, b)
end
M.lt = lt

--- Python `item in container`.
function M.contains(container, item)
  local k = kind(container)
  if k == "string" or k == "markup" then
    local s = M.text(item)
    if not s then
      check_defined(item)
      fail(("'in <string>' requires string as left operand, not %s")
        :format(M.pytype(item)))
    end
    return M.text(container):find(s, 1, true) ~= nil
  elseif k == "dict" then
    local key = M.text(item) or number(item)
    return key ~= nil and rawget(container, key) ~= nil
  elseif k == "list" or k == "tuple" or k == "undefined" then
    for _, v in ipairs(M.iterate(container)) do
      if eq(v, item) then
        return true
      end
    end
    return false
  end
  fail(("argument of type '%s' is not iterable"):format(M.pytype(container)))
end

local function unsupported(op, a, b)
  check_defined(a)
  check_defined(b)
  fail(("unsupported operand type(s) for %s: '%s' and '%s'")
    :format(op, M.pytype(a), M.pytype(b)))
end

local function concat_lists(a, b, maker)
  local out = maker({})
  table.move(a, 1, rawlen(a), 1, out)
  table.move(b, 1, rawlen(b), rawlen(a) + 1, out)
  return out
end

local function repeat_value(v, count)
  count = math.max(count, 0)
  local s = M.text(v)
  if s then
    if #s * count > RESULT_LIMIT then
      fail("result too large")
    end
    local r = s:rep(count)
    return kind(v) == "markup" and M.markup(r) or r
  end
  local n = rawlen(v)
  if n * count > RESULT_LIMIT then
    fail("result too large")
  end
  local out = kind(v) == "tuple" and M.tuple() or M.list()
  for i = 0, count - 1 do
    table.move(v, 1, n, i * n + 1, out)
  end
  return out
end

local function int_pow(base, exp)
  local result = 1
  while exp > 0 do
    if exp & 1 == 1 then
      result = result * base
    end
    base = base * base
    exp = exp >> 1
  end
  return result
end

--- Python binary arithmetic: + - * / // % **.
function M.arith(op, a, b)
  local na, nb = number(a), number(b)
  if na and nb then
    if op == "+" then
      return na + nb
    elseif op == "-" then
      return na - nb
    elseif op == "*" then
      return na * nb
    elseif op == "/" then
      if nb == 0 then
        fail("division by zero")
      end
      return na / nb
    elseif op == "//" then
      if nb == 0 then
        fail("integer division or modulo by zero")
      end
      return na // nb
    elseif op == "%" then
      if nb == 0 then
        fail("integer division or modulo by zero")
      end
      return na % nb
    elseif op == "**" then
      if math.type(na) == "integer" and math.type(nb) == "integer"
        and nb >= 0 then
        return int_pow(na, nb)
      end
      if na == 0 and nb < 0 then
        fail("0.0 cannot be raised to a negative power")
      end
      return (na + 0.0) ^ nb
    end
  end
  local ka, kb = kind(a), kind(b)
  local sa, sb = M.text(a), M.text(b)
  if op == "+" then
    if sa and sb then
      if ka == "markup" or kb == "markup" then
        return M.markup(M.escape(a).s .. M.escape(b).s)
      end
      return sa .. sb
    elseif (ka == "list" or ka == "tuple") and ka == kb then
      return concat_lists(a, b, ka == "list" and M.list or M.tuple)
    elseif sa and kb ~= "undefined" then
      fail(('can only concatenate str (not "%s") to str')
        :format(M.pytype(b)))
    end
  elseif op == "*" then
    local seq = { string = true, markup = true, list = true, tuple = true }
    if seq[ka] and math.type(nb) == "integer" then
      return repeat_value(a, nb)
    elseif seq[kb] and math.type(na) == "integer" then
      return repeat_value(b, na)
    end
  elseif op == "%" and sa then
    return M.format(a, b)
  end
  unsupported(op, a, b)
end

--- Python unary minus and plus.
function M.unary(op, v)
  local n = number(v)
  if n then
    return op == "-" and -n or n
  end
  check_defined(v)
  fail(("bad operand type for unary %s: '%s'"):format(op, M.pytype(v)))
end

--- Concatenation with `~`: str() of each; with autoescape, markup when
-- any operand is markup (the others are escaped).
function M.concat(values, autoescape)
  local any_markup = false
  if autoescape then
    for _, v in ipairs(values) do
      if kind(v) == "markup" then
        any_markup = true
        break
      end
    end
  end
  local parts = {}
  for i, v in ipairs(values) do
    parts[i] = any_markup and M.escape(v).s or str(v)
  end
  local s = table.concat(parts)
  return any_markup and M.markup(s) or s
end

---------------------------------------------------------------- formatting

local function cformat(spec, conv, v)
  local ok, s = pcall(string.format, "%" .. spec .. conv, v)
  if not ok then
    fail(("unsupported format '%%%s%s'"):format(spec, conv))
  end
  return s
end

local function format_one(conv, spec, v)
  if conv == "s" or conv == "r" or conv == "a" then
    local s = conv == "s" and str(v) or repr(v)
    return cformat(spec, "s", s)
  elseif conv == "c" then
    local n = math.type(v) == "integer" and v
    if n then
      return utf8.char(n)
    end
    local s = M.text(v)
    if s and utf8.len(s) == 1 then
      return s
    end
    fail("%c requires int or char")
  end
  check_defined(v)
  local n = number(v)
  if not n then
    fail(("%%%s format: a real number is required, not %s")
      :format(conv, M.pytype(v)))
  end
  if conv == "d" or conv == "i" or conv == "u" then
    n = n >= 0 and math.floor(n) or math.ceil(n)
    n = math.tointeger(n) or fail("cannot convert float to integer")
    return cformat(spec, "d", n)
  elseif conv == "x" or conv == "X" or conv == "o" then
    if math.type(n) ~= "integer" then
      fail(("%%%s format: an integer is required, not %s")
        :format(conv, M.pytype(v)))
    end
    local body = cformat(spec:gsub("#", ""), conv, math.abs(n))
    if spec:find("#", 1, true) then
      body = "0" .. (conv == "X" and "X" or conv) .. body
    end
    return (n < 0 and "-" or "") .. body
  end
  return cformat(spec, conv, n + 0.0)
end

--- Python's printf-style `fmt % args` (args: a tuple/list of values, a
-- dict for `%(name)s`, or a single value). Markup formats escape args.
function M.format(fmt, args)
  local markup = kind(fmt) == "markup"
  fmt = M.text(fmt)
  local ka = kind(args)
  local positional = ka == "tuple" and M.iterate(args) or { args }
  local mapping = (ka == "dict" or ka == "namespace") and args or nil
  local used, out, pos = 0, {}, 1
  local function value(i)
    local v = positional[i]
    if i > #positional or (v == nil and ka ~= "tuple") then
      fail("not enough arguments for format string")
    end
    if markup then
      return M.escape(v)
    end
    return v
  end
  while true do
    local a = fmt:find("%", pos, true)
    if not a then
      out[#out + 1] = fmt:sub(pos)
      break
    end
    out[#out + 1] = fmt:sub(pos, a - 1)
    local key, spec, conv, e
    local p = a + 1
    key = fmt:match("^%(([^)]*)%)", p)
    if key then
      p = p + #key + 2
    end
    spec = fmt:match("^[-+ #0]*%d*%.?%d*", p)
    p = p + #spec
    p = p + #(fmt:match("^[hlL]?", p))
    conv, e = fmt:sub(p, p), p
    if conv == "%" and not key then
      out[#out + 1] = "%"
    elseif conv == "" or not conv:match("[diouxXeEfFgGcrsa]") then
      fail(("unsupported format character '%s'"):format(conv))
    elseif key then
      if not mapping then
        fail("format requires a mapping")
      end
      local v = M.getitem(mapping, key)
      check_defined(v)
      out[#out + 1] = format_one(conv, spec, markup and M.escape(v) or v)
    else
      used = used + 1
      out[#out + 1] = format_one(conv, spec, value(used))
    end
    pos = e + 1
  end
  if not mapping and ka ~= "list" and used < #positional then
    fail("not all arguments converted during string formatting")
  end
  local s = table.concat(out)
  return markup and M.markup(s) or s
end

---------------------------------------------------------------- access

local methods = {}

local function bind(obj, name)
  local k = kind(obj)
  local family = (k == "string" or k == "markup") and "string"
    or (k == "dict" and "dict") or nil
  local fn = family and methods[family][name]
  if not fn then
    return nil
  end
  return M.method(name, function(args, kwargs)
    local result = fn(obj, args, kwargs)
    if k == "markup" and type(result) == "string" then
      return M.markup(result)
    end
    return result
  end)
end

local function index_of(n, key)
  local i = key >= 0 and key + 1 or n + key + 1
  if i >= 1 and i <= n then
    return i
  end
  return nil
end

local function item(obj, key)
  local k = kind(obj)
  if k == "dict" then
    local lookup = M.text(key)
    if lookup == nil then
      lookup = number(key)
      if math.type(lookup) == "float" then
        lookup = math.tointeger(lookup) or lookup
      end
    end
    if lookup ~= nil then
      return rawget(obj, lookup)
    end
  elseif k == "list" or k == "tuple" then
    if math.type(key) == "integer" then
      local i = index_of(rawlen(obj), key)
      return i and rawget(obj, i)
    end
  elseif k == "string" or k == "markup" then
    if math.type(key) == "integer" then
      local cs = chars(M.text(obj))
      local i = index_of(#cs, key)
      if i then
        return k == "markup" and M.markup(cs[i]) or cs[i]
      end
    end
  elseif k == "loop" then
    return M.loop_attribute(obj, key)
  elseif k == "namespace" then
    return type(key) == "string" and obj.attrs[key] or nil
  end
  return nil
end

--- `obj.name`: a method first, then an item (Jinja2's getattr).
function M.getattr(obj, name)
  check_defined(obj)
  local v = bind(obj, name)
  if v == nil then
    v = item(obj, name)
  end
  if v == nil then
    return M.undefined(name, obj)
  end
  return v
end

--- `obj[key]`: an item first, then a method (Jinja2's getitem).
function M.getitem(obj, key)
  check_defined(obj)
  local v = item(obj, key)
  if v == nil and type(key) == "string" then
    v = bind(obj, key)
  end
  if v == nil then
    return M.undefined(key, obj)
  end
  return v
end

--- Python slicing obj[start:stop:step] (nil for an omitted bound).
function M.slice(obj, start, stop, step)
  check_defined(obj)
  local k = kind(obj)
  local items
  if k == "list" or k == "tuple" then
    items = M.iterate(obj)
  elseif k == "string" or k == "markup" then
    items = chars(M.text(obj))
  else
    fail(("'%s' object is not subscriptable"):format(M.pytype(obj)))
  end
  for _, bound in ipairs({ start or 0, stop or 0, step or 0 }) do
    if math.type(bound) ~= "integer" then
      fail("slice indices must be integers or none")
    end
  end
  step = step or 1
  if step == 0 then
    fail("slice step cannot be zero")
  end
  local n = #items
  local function clamp(i, low, high)
    if i < 0 then
      i = i + n
    end
    return math.max(low, math.min(high, i))
  end
  local out = {}
  if step > 0 then
    local i = start and clamp(start, 0, n) or 0
    local stop_at = stop and clamp(stop, 0, n) or n
    while i < stop_at do
      out[#out + 1] = items[i + 1]
      i = i + step
    end
  else
    local i = start and clamp(start, -1, n - 1) or n - 1
    local stop_at = stop and clamp(stop, -1, n - 1) or -1
    while i > stop_at do
      out[#out + 1] = items[i + 1]
      i = i + step
    end
  end
  if k == "string" then
    return table.concat(out)
  elseif k == "markup" then
    return M.markup(table.concat(out))
  end
  return k == "tuple" and M.tuple(out) or M.list(out)
end

--- Attributes of a `loop` object.
function M.loop_attribute(loop, name)
  local i, n = loop.i, #loop.items
  if name == "index" then
    return i
  elseif name == "index0" then
    return i - 1
  elseif name == "revindex" then
    return n - i + 1
  elseif name == "revindex0" then
    return n - i
  elseif name == "first" then
    return i == 1
  elseif name == "last" then
    return i == n
  elseif name == "length" then
    return n
  elseif name == "depth" then
    return 1
  elseif name == "depth0" then
    return 0
  elseif name == "previtem" then
    return i > 1 and loop.items[i - 1]
      or M.undefined(nil, nil, "there is no previous item")
  elseif name == "nextitem" then
    return i < n and loop.items[i + 1]
      or M.undefined(nil, nil, "there is no next item")
  elseif name == "cycle" then
    return M.method("cycle", function(args)
      if #args == 0 then
        fail("no items for cycling given")
      end
      return args[(i - 1) % #args + 1]
    end)
  end
  return nil
end

--- Call a value with positional args, keyword args and the keyword
-- names in the order written.
function M.call(fn, args, kwargs, knames)
  check_defined(fn)
  if kind(fn) ~= "method" then
    fail(("'%s' object is not callable"):format(M.pytype(fn)))
  end
  return fn.fn(args, kwargs or {}, knames or {})
end

---------------------------------------------------------------- methods

local function string_arg(v, what)
  local s = M.text(v)
  if not s then
    check_defined(v)
    fail(("%s must be str, not %s"):format(what, M.pytype(v)))
  end
  return s
end

local function pattern_escape(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

--- Python str.strip family: which is "both", "left" or "right".
function M.strip(s, chars_arg, which)
  local set = "%s"
  if chars_arg ~= nil and not rawequal(chars_arg, null) then
    set = pattern_escape(string_arg(chars_arg, "strip arg"))
    if set == "" then
      return s
    end
  end
  if which ~= "right" then
    s = s:gsub("^[" .. set .. "]+", "")
  end
  if which ~= "left" then
    s = s:gsub("[" .. set .. "]+$", "")
  end
  return s
end

--- Python str.replace.
function M.replace(s, old, new, count)
  count = count or -1
  local out, n, pos = {}, 0, 1
  if old == "" then
    local cs = chars(s)
    for i = 1, #cs + 1 do
      if count < 0 or n < count then
        out[#out + 1] = new
        n = n + 1
      end
      out[#out + 1] = cs[i]
    end
    return table.concat(out)
  end
  while count < 0 or n < count do
    local a, b = s:find(old, pos, true)
    if not a then
      break
    end
    out[#out + 1] = s:sub(pos, a - 1)
    out[#out + 1] = new
    pos, n = b + 1, n + 1
  end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

--- Python str.capitalize (ASCII case mapping).
function M.capitalize(s)
  return s:sub(1, 1):upper() .. s:sub(2):lower()
end

methods.string = {
  upper = function(s) return M.text(s):upper() end,
  lower = function(s) return M.text(s):lower() end,
  capitalize = function(s) return M.capitalize(M.text(s)) end,
  title = function(s)
    return (M.text(s):lower():gsub("(%A)(%a)", function(a, b)
      return a .. b:upper()
    end):gsub("^%a", string.upper))
  end,
  strip = function(s, args) return M.strip(M.text(s), args[1], "both") end,
  lstrip = function(s, args) return M.strip(M.text(s), args[1], "left") end,
  rstrip = function(s, args) return M.strip(M.text(s), args[1], "right") end,
  startswith = function(s, args)
    local prefix = string_arg(args[1], "startswith arg")
    return M.text(s):sub(1, #prefix) == prefix
  end,
  endswith = function(s, args)
    local suffix = string_arg(args[1], "endswith arg")
    return suffix == "" or M.text(s):sub(-#suffix) == suffix
  end,
  replace = function(s, args)
    return M.replace(M.text(s), string_arg(args[1], "replace arg"),
                     string_arg(args[2], "replace arg"), number(args[3]))
  end,
  split = function(s, args, kwargs)
    s = M.text(s)
    local sep = args[1] or kwargs.sep
    local out = M.list()
    if sep == nil or rawequal(sep, null) then
      for word in s:gmatch("%S+") do
        out[#out + 1] = word
      end
      return out
    end
    sep = string_arg(sep, "separator")
    if sep == "" then
      fail("empty separator")
    end
    local pos = 1
    while true do
      local a, b = s:find(sep, pos, true)
      if not a then
        break
      end
      out[#out + 1] = s:sub(pos, a - 1)
      pos = b + 1
    end
    out[#out + 1] = s:sub(pos)
    return out
  end,
  join = function(s, args)
    local parts = {}
    for i, v in ipairs(M.iterate(args[1])) do
      parts[i] = string_arg(v, "sequence item")
    end
    return table.concat(parts, M.text(s))
  end,
}

methods.dict = {
  items = function(d)
    local out = M.list()
    for i, k in ipairs(M.keys(d)) do
      out[i] = M.tuple({ k, rawget(d, k) })
    end
    return out
  end,
  keys = function(d)
    return M.list(M.keys(d))
  end,
  values = function(d)
    local out = M.list()
    for i, k in ipairs(M.keys(d)) do
      out[i] = rawget(d, k)
    end
    return out
  end,
  get = function(d, args)
    local v = item(d, args[1])
    if v == nil then
      v = args[2]
      if v == nil then
        v = null
      end
    end
    return v
  end,
}

return M
