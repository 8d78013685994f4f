--- Jinja2-compatible templates for zapp web UI `.tmpl` files.
-- Existing zapps carry templates the original zpm rendered with Jinja2,
-- so this engine follows Jinja2's syntax and semantics (with Jinja2's
-- default settings: `trim_blocks` and `lstrip_blocks` off, one trailing
-- newline dropped, the default `Undefined`) for the subset zapps use:
--
-- * `{{ expr }}`, `{% stmt %}`, `{# comment #}`, whitespace control with
--   `-` on either side, `{% raw %}...{% endraw %}`;
-- * statements `for` (unpacking, `else`, inline `if` filter, `loop.*`),
--   `if`/`elif`/`else`, `set` (also `set x %}...{% endset`, and
--   `set ns.attr` on a `namespace()`);
-- * expressions: literals (strings, numbers, `true/false/none` in either
--   case, lists, tuples, dicts), `.attr`, `[item]`, slices, comparisons,
--   `in`, `not in`, `and/or/not`, `~`, `+ - * / // % **` (`%` on a string
--   is Python's printf-style formatting), `a if b else c`,
--   filters, tests, methods of strings and dicts (`d.items()`...), and the
--   globals `range`, `namespace` and `dict`;
-- * filters and tests: see zpm.jinja.filters.
--
-- Templates see only the variables passed in: there is no way to reach
-- Lua globals, call Lua functions or read metatables. Lua values map to
-- Python's as described in zpm.jinja.values. Rendering never leaks a
-- Lua error: failures come back as `nil, "name:line: message"`.
--
-- Not supported: `include`, `extends`, `block`, `macro`, `call`, `filter`,
-- `with`, `recursive` loops, tuple subscripts `a[1, 2]`. Known
-- differences from Jinja2: `|tojson` keeps mapping key order (YAML order)
-- where Jinja2 sorts keys; `range()`, `d.items()` and `|reverse` give lists
-- (Jinja2 prints `range(0, 3)`, `dict_items([...])`, an iterator object);
-- `range()` is capped at 100000 items as in Jinja2's sandbox; case mapping
-- is ASCII-only; an unclosed `{#` at the very end is an error.
-- @module zpm.jinja
local parser = require("zpm.jinja.parser")
local V = require("zpm.jinja.values")

local M = {}

--- Python's None (YAML/JSON null) as templates see it.
M.null = V.null

--- Mark a string as safe HTML (markupsafe.Markup): autoescaping leaves it
-- alone and `|e` does not escape it again.
-- @param s string
-- @return a markup value to pass in template variables
function M.markup(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'markup' (string expected, got %s)")
      :format(type(s)), 2)
  end
  return V.markup(s)
end
M.safe = M.markup

--- Is v a markup value (from `markup`, `|safe`, `|e`, `|tojson`...)?
function M.is_markup(v)
  return V.kind(v) == "markup"
end

--- HTML-escape a string as markupsafe does (`& < > " '`).
function M.escape(s)
  return V.html_escape(s)
end

--- Does a template of this name autoescape by default?
-- True for `*.html`, `*.htm` and `*.xml`, with or without `.tmpl`.
function M.autoescape_for(name)
  name = (name or ""):lower():gsub("%.tmpl$", "")
  return name:match("%.html?$") ~= nil or name:match("%.xml$") ~= nil
end

---------------------------------------------------------------- globals

local MAX_RANGE = 100000

local function int_arg(v, what)
  if math.type(v) ~= "integer" then
    V.fail(("%s must be an integer, not %s"):format(what, V.pytype(v)))
  end
  return v
end

local GLOBALS = {
  range = V.method("range", function(args)
    local start, stop, step = 0, args[1], 1
    if #args >= 2 then
      start, stop = args[1], args[2]
    end
    if #args >= 3 then
      step = args[3]
    end
    if #args == 0 or #args > 3 then
      V.fail("range expected 1 to 3 arguments")
    end
    int_arg(start, "range start")
    int_arg(stop, "range stop")
    int_arg(step, "range step")
    if step == 0 then
      V.fail("range() arg 3 must not be zero")
    end
    local out = V.list()
    for i = start, stop - (step > 0 and 1 or -1), step do
      if #out >= MAX_RANGE then
        V.fail(("range too big (more than %d items)"):format(MAX_RANGE))
      end
      out[#out + 1] = i
    end
    return out
  end),
  namespace = V.method("namespace", function(_, kwargs, knames)
    local attrs, keys = {}, {}
    for i, k in ipairs(knames) do
      attrs[k], keys[i] = kwargs[k], k
    end
    return V.namespace(attrs, keys)
  end),
  dict = V.method("dict", function(_, kwargs, knames)
    local values, keys = {}, {}
    for i, k in ipairs(knames) do
      values[k], keys[i] = kwargs[k], k
    end
    return V.dict(keys, values)
  end),
}

---------------------------------------------------------------- evaluation

local function lookup(scope, name)
  while scope do
    local v = rawget(scope.vars, name)
    if v ~= nil then
      return v
    end
    scope = scope.parent
  end
  return GLOBALS[name] or V.undefined(name)
end

local function child(scope)
  return { vars = {}, parent = scope }
end

local EVAL = {}

local function eval(ctx, node, scope)
  ctx.line = node.line
  return EVAL[node.k](ctx, node, scope)
end

local function eval_list(ctx, nodes, scope)
  local out = {}
  for i, n in ipairs(nodes) do
    out[i] = eval(ctx, n, scope)
  end
  return out
end

local function eval_kwargs(ctx, kwargs, knames, scope)
  local out = {}
  for _, k in ipairs(knames) do
    out[k] = eval(ctx, kwargs[k], scope)
  end
  return out
end

EVAL.const = function(_, node)
  return node.v
end

EVAL.none = function()
  return V.null
end

EVAL.name = function(_, node, scope)
  return lookup(scope, node.name)
end

EVAL.captured = function(ctx)
  return ctx.captured
end

EVAL.getattr = function(ctx, node, scope)
  local obj = eval(ctx, node.obj, scope)
  ctx.line = node.line
  return V.getattr(obj, node.name)
end

EVAL.getitem = function(ctx, node, scope)
  local obj = eval(ctx, node.obj, scope)
  local key = eval(ctx, node.key, scope)
  ctx.line = node.line
  return V.getitem(obj, key)
end

EVAL.slice = function(ctx, node, scope)
  local obj = eval(ctx, node.obj, scope)
  local bounds = {}
  for i, b in ipairs({ "start", "stop", "step" }) do
    if node[b] then
      local v = eval(ctx, node[b], scope)
      if not rawequal(v, V.null) then
        bounds[i] = v
      end
    end
  end
  ctx.line = node.line
  return V.slice(obj, bounds[1], bounds[2], bounds[3])
end

EVAL.list = function(ctx, node, scope)
  return V.list(eval_list(ctx, node.items, scope))
end

EVAL.tuple = function(ctx, node, scope)
  return V.tuple(eval_list(ctx, node.items, scope))
end

EVAL.dict = function(ctx, node, scope)
  local keys, values = {}, {}
  for i, knode in ipairs(node.keys) do
    local k = eval(ctx, knode, scope)
    local key = V.text(k) or V.number(k)
    if key == nil or key ~= key then
      V.fail(("unhashable or unsupported key type: '%s'")
        :format(V.pytype(k)))
    end
    if values[key] == nil then
      keys[#keys + 1] = key
    end
    values[key] = eval(ctx, node.values[i], scope)
  end
  return V.dict(keys, values)
end

EVAL["and"] = function(ctx, node, scope)
  local left = eval(ctx, node.left, scope)
  if not V.truthy(left) then
    return left
  end
  return eval(ctx, node.right, scope)
end

EVAL["or"] = function(ctx, node, scope)
  local left = eval(ctx, node.left, scope)
  if V.truthy(left) then
    return left
  end
  return eval(ctx, node.right, scope)
end

EVAL["not"] = function(ctx, node, scope)
  return not V.truthy(eval(ctx, node.operand, scope))
end

EVAL.unary = function(ctx, node, scope)
  local v = eval(ctx, node.operand, scope)
  ctx.line = node.line
  return V.unary(node.op, v)
end

EVAL.bin = function(ctx, node, scope)
  local a = eval(ctx, node.left, scope)
  local b = eval(ctx, node.right, scope)
  ctx.line = node.line
  return V.arith(node.op, a, b)
end

EVAL.concat = function(ctx, node, scope)
  return V.concat(eval_list(ctx, node.items, scope), ctx.autoescape)
end

EVAL.compare = function(ctx, node, scope)
  local left = eval(ctx, node.first, scope)
  for _, step in ipairs(node.ops) do
    local right = eval(ctx, step.expr, scope)
    ctx.line = node.line
    local ok
    if step.op == "in" then
      ok = V.contains(right, left)
    elseif step.op == "notin" then
      ok = not V.contains(right, left)
    else
      ok = V.compare(step.op, left, right)
    end
    if not ok then
      return false
    end
    left = right
  end
  return true
end

EVAL.cond = function(ctx, node, scope)
  if V.truthy(eval(ctx, node.test, scope)) then
    return eval(ctx, node.a, scope)
  elseif node.b then
    return eval(ctx, node.b, scope)
  end
  return V.undefined(nil, nil, "the inline if-expression evaluated to "
    .. "false and no else section was defined.")
end

EVAL.filter = function(ctx, node, scope)
  local value = eval(ctx, node.node, scope)
  local args = eval_list(ctx, node.args, scope)
  local kwargs = eval_kwargs(ctx, node.kwargs, node.knames, scope)
  ctx.line = node.line
  return node.fn(ctx, value, args, kwargs)
end

EVAL.test = function(ctx, node, scope)
  local value = eval(ctx, node.node, scope)
  local args = eval_list(ctx, node.args, scope)
  ctx.line = node.line
  local result = node.fn(value, args) and true or false
  if node.negated then
    return not result
  end
  return result
end

EVAL.call = function(ctx, node, scope)
  local fn = eval(ctx, node.fn, scope)
  local args = eval_list(ctx, node.args, scope)
  local kwargs = eval_kwargs(ctx, node.kwargs, node.knames, scope)
  ctx.line = node.line
  return V.call(fn, args, kwargs, node.knames)
end

---------------------------------------------------------------- statements

local function bind(targets, value, vars)
  if not targets.unpack then
    vars[targets.names[1]] = value
    return
  end
  local k = V.kind(value)
  if not (k == "list" or k == "tuple" or k == "dict" or k == "string"
          or k == "markup") then
    V.check_defined(value)
    V.fail(("cannot unpack non-iterable %s object"):format(V.pytype(value)))
  end
  local items = V.iterate(value)
  local want = #targets.names
  if #items > want then
    V.fail(("too many values to unpack (expected %d)"):format(want))
  elseif #items < want then
    V.fail(("not enough values to unpack (expected %d, got %d)")
      :format(want, #items))
  end
  for i, name in ipairs(targets.names) do
    vars[name] = items[i]
  end
end

local EXEC = {}

local function exec(ctx, body, scope)
  for _, node in ipairs(body) do
    ctx.line = node.line
    EXEC[node.type](ctx, node, scope)
  end
end

EXEC.text = function(ctx, node)
  local out = ctx.out
  out[#out + 1] = node.value
end

EXEC.output = function(ctx, node, scope)
  local v = eval(ctx, node.expr, scope)
  local out = ctx.out
  if ctx.autoescape then
    out[#out + 1] = V.escape(v).s
  else
    out[#out + 1] = V.str(v)
  end
end

EXEC["if"] = function(ctx, node, scope)
  for _, branch in ipairs(node.tests) do
    if V.truthy(eval(ctx, branch.cond, scope)) then
      return exec(ctx, branch.body, scope)
    end
  end
  if node.else_body then
    exec(ctx, node.else_body, scope)
  end
end

EXEC["for"] = function(ctx, node, scope)
  local items = V.iterate(eval(ctx, node.iter, scope))
  if node.cond then
    local kept = {}
    for _, item in ipairs(items) do
      local s = child(scope)
      ctx.line = node.line
      bind(node.targets, item, s.vars)
      if V.truthy(eval(ctx, node.cond, s)) then
        kept[#kept + 1] = item
      end
    end
    items = kept
  end
  if #items == 0 then
    if node.else_body then
      exec(ctx, node.else_body, child(scope))
    end
    return
  end
  for i, item in ipairs(items) do
    local s = child(scope)
    ctx.line = node.line
    bind(node.targets, item, s.vars)
    s.vars.loop = V.loop(i, items)
    exec(ctx, node.body, s)
  end
end

local function assign(ctx, node, scope, value)
  local t = node.targets
  if t.namespace then
    local ns = lookup(scope, t.namespace)
    if V.kind(ns) ~= "namespace" then
      V.check_defined(ns)
      V.fail("cannot assign attribute on non-namespace object")
    end
    if ns.attrs[t.attr] == nil then
      ns.keys[#ns.keys + 1] = t.attr
    end
    ns.attrs[t.attr] = value
    return
  end
  ctx.line = node.line
  bind(t, value, scope.vars)
end

EXEC.set = function(ctx, node, scope)
  assign(ctx, node, scope, eval(ctx, node.expr, scope))
end

EXEC.setblock = function(ctx, node, scope)
  local saved = ctx.out
  ctx.out = {}
  exec(ctx, node.body, scope)
  local s = table.concat(ctx.out)
  ctx.out = saved
  ctx.captured = ctx.autoescape and V.markup(s) or s
  assign(ctx, node, scope, eval(ctx, node.filter, scope))
end

---------------------------------------------------------------- API

local Template = {}
Template.__index = Template

local function error_message(name, line, err)
  if type(err) == "table" and err.template_error then
    return ("%s:%d: %s"):format(name, err.line or line or 0,
                                err.template_error)
  end
  return ("%s:%d: internal error: %s"):format(name, line or 0,
                                              tostring(err))
end

--- Compile a template.
-- @param text the template source
-- @param name what to call it in messages (and, by its extension, whether
--   to autoescape); default "<template>"
-- @param opts optional table: `autoescape` (boolean; default from the
--   name, see `autoescape_for`), `keep_trailing_newline` (default false)
-- @return a template object, or nil and "name:line: message"
function M.compile(text, name, opts)
  name = name or "<template>"
  opts = opts or {}
  if type(text) ~= "string" then
    error(("bad argument #1 to 'compile' (string expected, got %s)")
      :format(type(text)), 2)
  end
  local ok, tree = pcall(parser.parse, text, opts)
  if not ok then
    return nil, error_message(name, nil, tree)
  end
  local autoescape = opts.autoescape
  if autoescape == nil then
    autoescape = M.autoescape_for(name)
  end
  return setmetatable({ tree = tree, name = name,
                        autoescape = autoescape and true or false },
                      Template)
end

--- Render a compiled template.
-- @param vars table of variable name -> value (not modified)
-- @return the text, or nil and "name:line: message"
function Template:render(vars)
  vars = vars or {}
  if type(vars) ~= "table" then
    error(("bad argument #1 to 'render' (table expected, got %s)")
      :format(type(vars)), 2)
  end
  local ctx = { out = {}, autoescape = self.autoescape, line = 1 }
  local scope = child({ vars = vars })
  local ok, err = pcall(exec, ctx, self.tree, scope)
  if not ok then
    return nil, error_message(self.name, ctx.line, err)
  end
  return table.concat(ctx.out)
end

--- Compile and render in one step.
-- @param text the template source
-- @param name its name (see `compile`)
-- @param vars the variables
-- @param opts see `compile`
-- @return the text, or nil and "name:line: message"
function M.render(text, name, vars, opts)
  local tmpl, err = M.compile(text, name, opts)
  if not tmpl then
    return nil, err
  end
  return tmpl:render(vars)
end

return M
