--- Jinja2-compatible parser: tokens (zpm.jinja.lexer) to a tree.
-- Statements are tables with `type` ("text", "output", "if", "for",
-- "set", "setblock"); expressions have `k` (see `parse_primary` and
-- friends). Every node carries the `line` it started on. Operator
-- precedence follows Jinja2's parser: `or` < `and` < `not` < comparisons
-- and `in` < `+ -` < `~` < `* / // %` < `**` < unary `- +` < filters,
-- tests and calls < `.`/`[]` postfix.
-- @module zpm.jinja.parser
local lexer = require("zpm.jinja.lexer")
local filters = require("zpm.jinja.filters")

local M = {}

local fail = lexer.fail

local MAX_DEPTH = 200

local END_NAMES = {
  var_end = "end of print statement", block_end = "end of statement block",
  eof = "end of template", integer = "integer", float = "float",
  string = "string", data = "template data",
}

local UNSUPPORTED = {
  block = true, extends = true, include = true, import = true,
  from = true, macro = true, call = true, filter = true, with = true,
  autoescape = true, ["do"] = true, ["break"] = true, continue = true,
  trans = true,
}

local CLOSERS = { endfor = true, endif = true, endset = true, ["else"] = true,
                  elif = true, endraw = true }

local Parser = {}
Parser.__index = Parser

local function describe(tok)
  if tok.t == "name" or tok.t == "op" then
    return "'" .. tostring(tok.v) .. "'"
  end
  return END_NAMES[tok.t] or tok.t
end

function Parser:peek(offset)
  return self.toks[self.pos + (offset or 0)]
end

function Parser:next()
  local tok = self.toks[self.pos]
  if tok.t ~= "eof" then
    self.pos = self.pos + 1
  end
  return tok
end

function Parser:is(t, v)
  local tok = self.toks[self.pos]
  return tok.t == t and (v == nil or tok.v == v)
end

function Parser:skip(t, v)
  if self:is(t, v) then
    return self:next()
  end
  return nil
end

function Parser:expect(t, v, what)
  local tok = self:peek()
  if tok.t == t and (v == nil or tok.v == v) then
    return self:next()
  end
  what = what or (v and "'" .. v .. "'") or END_NAMES[t] or t
  fail(tok.line, ("expected %s, found %s"):format(what, describe(tok)))
end

function Parser:enter()
  self.depth = self.depth + 1
  if self.depth > MAX_DEPTH then
    fail(self:peek().line, "expression nested too deeply")
  end
end

function Parser:leave()
  self.depth = self.depth - 1
end

---------------------------------------------------------------- expressions

local parse_expression

function Parser:parse_tuple(with_condexpr, explicit_parens, end_names)
  local line = self:peek().line
  local items, is_tuple = {}, false
  while true do
    if #items > 0 then
      self:expect("op", ",")
    end
    local tok = self:peek()
    if tok.t == "var_end" or tok.t == "block_end"
      or (tok.t == "op" and tok.v == ")")
      or (tok.t == "name" and end_names and end_names[tok.v]) then
      break
    end
    if with_condexpr == false then
      items[#items + 1] = self:parse_or()
    else
      items[#items + 1] = parse_expression(self)
    end
    if self:is("op", ",") then
      is_tuple = true
    else
      break
    end
  end
  if not is_tuple then
    if #items > 0 then
      return items[1]
    end
    if not explicit_parens then
      local tok = self:peek()
      fail(tok.line, ("expected an expression, found %s"):format(
        describe(tok)))
    end
  end
  return { k = "tuple", items = items, line = line }
end

parse_expression = function(self)
  self:enter()
  local expr = self:parse_or()
  while self:is("name", "if") do
    local line = self:next().line
    local test = self:parse_or()
    local else_expr
    if self:skip("name", "else") then
      else_expr = parse_expression(self)
    end
    expr = { k = "cond", test = test, a = expr, b = else_expr, line = line }
  end
  self:leave()
  return expr
end
Parser.parse_expression = parse_expression

function Parser:parse_or()
  local left = self:parse_and()
  while self:is("name", "or") do
    local line = self:next().line
    left = { k = "or", left = left, right = self:parse_and(), line = line }
  end
  return left
end

function Parser:parse_and()
  local left = self:parse_not()
  while self:is("name", "and") do
    local line = self:next().line
    left = { k = "and", left = left, right = self:parse_not(), line = line }
  end
  return left
end

function Parser:parse_not()
  if self:is("name", "not") then
    local line = self:next().line
    self:enter()
    local operand = self:parse_not()
    self:leave()
    return { k = "not", operand = operand, line = line }
  end
  return self:parse_compare()
end

local COMPARE_OPS = { ["=="] = true, ["!="] = true, ["<"] = true,
                      [">"] = true, ["<="] = true, [">="] = true }

function Parser:parse_compare()
  local line = self:peek().line
  local first = self:parse_math1()
  local ops = {}
  while true do
    local tok = self:peek()
    if tok.t == "op" and COMPARE_OPS[tok.v] then
      self:next()
      ops[#ops + 1] = { op = tok.v, expr = self:parse_math1() }
    elseif tok.t == "name" and tok.v == "in" then
      self:next()
      ops[#ops + 1] = { op = "in", expr = self:parse_math1() }
    elseif tok.t == "name" and tok.v == "not"
      and self:peek(1).t == "name" and self:peek(1).v == "in" then
      self:next()
      self:next()
      ops[#ops + 1] = { op = "notin", expr = self:parse_math1() }
    else
      break
    end
  end
  if #ops == 0 then
    return first
  end
  return { k = "compare", first = first, ops = ops, line = line }
end

function Parser:binary(next_level, ops)
  local left = self[next_level](self)
  while true do
    local tok = self:peek()
    if not (tok.t == "op" and ops[tok.v]) then
      return left
    end
    self:next()
    left = { k = "bin", op = tok.v, left = left,
             right = self[next_level](self), line = tok.line }
  end
end

function Parser:parse_math1()
  return self:binary("parse_concat", { ["+"] = true, ["-"] = true })
end

function Parser:parse_concat()
  local line = self:peek().line
  local items = { self:parse_math2() }
  while self:skip("op", "~") do
    items[#items + 1] = self:parse_math2()
  end
  if #items == 1 then
    return items[1]
  end
  return { k = "concat", items = items, line = line }
end

function Parser:parse_math2()
  return self:binary("parse_pow", { ["*"] = true, ["/"] = true,
                                    ["//"] = true, ["%"] = true })
end

function Parser:parse_pow()
  return self:binary("parse_unary", { ["**"] = true })
end

function Parser:parse_unary(with_filter)
  local tok = self:peek()
  local node
  self:enter()
  if tok.t == "op" and (tok.v == "-" or tok.v == "+") then
    self:next()
    node = { k = "unary", op = tok.v, operand = self:parse_unary(false),
             line = tok.line }
  else
    node = self:parse_primary()
  end
  node = self:parse_postfix(node)
  if with_filter ~= false then
    node = self:parse_filter_expr(node)
  end
  self:leave()
  return node
end

local CONSTANTS = { ["true"] = true, ["false"] = false, ["True"] = true,
                    ["False"] = false }

function Parser:parse_primary()
  local tok = self:next()
  if tok.t == "name" then
    if CONSTANTS[tok.v] ~= nil then
      return { k = "const", v = CONSTANTS[tok.v], line = tok.line }
    elseif tok.v == "none" or tok.v == "None" then
      return { k = "none", line = tok.line }
    end
    return { k = "name", name = tok.v, line = tok.line }
  elseif tok.t == "string" then
    local parts = { tok.v }
    while self:is("string") do
      parts[#parts + 1] = self:next().v
    end
    return { k = "const", v = table.concat(parts), line = tok.line }
  elseif tok.t == "integer" or tok.t == "float" then
    return { k = "const", v = tok.v, line = tok.line }
  elseif tok.t == "op" and tok.v == "(" then
    local node = self:parse_tuple(true, true)
    self:expect("op", ")")
    return node
  elseif tok.t == "op" and tok.v == "[" then
    local items = {}
    while not self:is("op", "]") do
      if #items > 0 then
        self:expect("op", ",")
        if self:is("op", "]") then
          break
        end
      end
      items[#items + 1] = parse_expression(self)
    end
    self:expect("op", "]")
    return { k = "list", items = items, line = tok.line }
  elseif tok.t == "op" and tok.v == "{" then
    local keys, values = {}, {}
    while not self:is("op", "}") do
      if #keys > 0 then
        self:expect("op", ",")
        if self:is("op", "}") then
          break
        end
      end
      keys[#keys + 1] = parse_expression(self)
      self:expect("op", ":")
      values[#values + 1] = parse_expression(self)
    end
    self:expect("op", "}")
    return { k = "dict", keys = keys, values = values, line = tok.line }
  end
  fail(tok.line, ("unexpected %s"):format(describe(tok)))
end

function Parser:parse_postfix(node)
  while true do
    local tok = self:peek()
    if tok.t == "op" and tok.v == "." then
      self:next()
      local attr = self:next()
      if attr.t == "name" then
        node = { k = "getattr", obj = node, name = attr.v, line = tok.line }
      elseif attr.t == "integer" then
        node = { k = "getitem", obj = node,
                 key = { k = "const", v = attr.v, line = attr.line },
                 line = tok.line }
      else
        fail(attr.line, ("expected an attribute name, found %s")
          :format(describe(attr)))
      end
    elseif tok.t == "op" and tok.v == "[" then
      self:next()
      node = self:parse_subscript(node, tok.line)
    elseif tok.t == "op" and tok.v == "(" then
      node = self:parse_call(node)
    else
      return node
    end
  end
end

function Parser:parse_subscript(node, line)
  local bounds, is_slice = { nil, nil, nil }, false
  local i = 1
  while true do
    if self:is("op", ":") then
      self:next()
      is_slice = true
      i = i + 1
      if i > 3 then
        fail(self:peek().line, "unexpected ':'")
      end
    elseif self:is("op", "]") then
      break
    else
      if bounds[i] then
        self:expect("op", "]")
      end
      bounds[i] = parse_expression(self)
    end
  end
  self:expect("op", "]")
  if is_slice then
    return { k = "slice", obj = node, start = bounds[1], stop = bounds[2],
             step = bounds[3], line = line }
  end
  if not bounds[1] then
    fail(line, "expected a subscript, found ']'")
  end
  return { k = "getitem", obj = node, key = bounds[1], line = line }
end

function Parser:parse_args()
  self:expect("op", "(")
  local args, kwargs, knames = {}, {}, {}
  while not self:is("op", ")") do
    if #args > 0 or #knames > 0 then
      self:expect("op", ",")
      if self:is("op", ")") then
        break
      end
    end
    local tok = self:peek()
    if tok.t == "name" and self:peek(1).t == "op" and self:peek(1).v == "="
    then
      self:next()
      self:next()
      if kwargs[tok.v] then
        fail(tok.line, ("keyword argument '%s' repeated"):format(tok.v))
      end
      kwargs[tok.v] = parse_expression(self)
      knames[#knames + 1] = tok.v
    else
      if #knames > 0 then
        fail(tok.line, "positional argument follows keyword argument")
      end
      args[#args + 1] = parse_expression(self)
    end
  end
  self:expect("op", ")")
  return args, kwargs, knames
end

function Parser:parse_call(node)
  local line = self:peek().line
  local args, kwargs, knames = self:parse_args()
  return { k = "call", fn = node, args = args, kwargs = kwargs,
           knames = knames, line = line }
end

function Parser:parse_filter_expr(node)
  while true do
    local tok = self:peek()
    if tok.t == "op" and tok.v == "|" then
      self:next()
      local name = self:expect("name", nil, "a filter name")
      local fn = filters.filters[name.v]
      if not fn then
        fail(name.line, ("unknown filter '%s'"):format(name.v))
      end
      local args, kwargs, knames = {}, {}, {}
      if self:is("op", "(") then
        args, kwargs, knames = self:parse_args()
      end
      node = { k = "filter", name = name.v, fn = fn, node = node,
               args = args, kwargs = kwargs, knames = knames,
               line = name.line }
    elseif tok.t == "name" and tok.v == "is" then
      self:next()
      local negated = self:skip("name", "not") ~= nil
      local name = self:next()
      if name.t ~= "name" and not (name.t == "op"
        and filters.tests[name.v]) then
        fail(name.line, ("expected a test name, found %s")
          :format(describe(name)))
      end
      local fn = filters.tests[name.v]
      if not fn then
        fail(name.line, ("unknown test '%s'"):format(name.v))
      end
      local args = {}
      local nxt = self:peek()
      if nxt.t == "op" and nxt.v == "(" then
        args = self:parse_args()
      elseif nxt.t == "string" or nxt.t == "integer" or nxt.t == "float"
        or (nxt.t == "name" and nxt.v ~= "else" and nxt.v ~= "or"
            and nxt.v ~= "and")
        or (nxt.t == "op" and (nxt.v == "[" or nxt.v == "{")) then
        args = { self:parse_postfix(self:parse_primary()) }
      end
      node = { k = "test", name = name.v, fn = fn, node = node, args = args,
               negated = negated, line = name.line }
    elseif tok.t == "op" and tok.v == "(" then
      node = self:parse_call(node)
    else
      return node
    end
  end
end

---------------------------------------------------------------- statements

-- Assignment targets: `a`, `a, b`, `(a, b)`, and with_namespace `ns.x`.
function Parser:parse_targets(with_namespace)
  local line = self:peek().line
  if with_namespace and self:is("name") and self:peek(1).t == "op"
    and self:peek(1).v == "." then
    local ns = self:next().v
    self:next()
    local attr = self:expect("name", nil, "an attribute name")
    return { namespace = ns, attr = attr.v, line = line }
  end
  local parens = self:skip("op", "(") ~= nil
  local names = {}
  repeat
    local tok = self:peek()
    if tok.t ~= "name" or tok.v == "in" then
      fail(tok.line, ("expected a variable name, found %s")
        :format(describe(tok)))
    end
    if CONSTANTS[tok.v] ~= nil or tok.v == "none" or tok.v == "None" then
      fail(tok.line, ("cannot assign to '%s'"):format(tok.v))
    end
    names[#names + 1] = self:next().v
  until not self:skip("op", ",") or (parens and self:is("op", ")"))
  if parens then
    self:expect("op", ")")
  end
  return { names = names, unpack = #names > 1 or parens, line = line }
end

-- Statements until a tag in `ends`; returns body, end tag name, its token.
function Parser:parse_body(ends, opener)
  local body = {}
  while true do
    local tok = self:next()
    if tok.t == "data" then
      body[#body + 1] = { type = "text", value = tok.v, line = tok.line }
    elseif tok.t == "var_begin" then
      local expr = self:parse_tuple()
      self:expect("var_end")
      body[#body + 1] = { type = "output", expr = expr, line = tok.line }
    elseif tok.t == "block_begin" then
      local name = self:peek()
      if name.t ~= "name" then
        fail(name.line, ("expected a tag name, found %s")
          :format(describe(name)))
      end
      if ends and ends[name.v] then
        self:next()
        return body, name.v, name
      end
      local handler = self["stmt_" .. name.v]
      if not handler then
        local msg
        if UNSUPPORTED[name.v] then
          msg = ("the '%s' tag is not supported"):format(name.v)
        elseif ends then
          msg = ("expected %s, found '%s' (the '%s' on line %d is not "
            .. "closed)"):format(ends.what, name.v, opener.v, opener.line)
        elseif CLOSERS[name.v] then
          msg = ("unexpected '%s'"):format(name.v)
        else
          msg = ("unknown tag '%s'"):format(name.v)
        end
        fail(name.line, msg)
      end
      self:next()
      body[#body + 1] = handler(self, name)
    else
      if ends then
        fail(tok.line, ("expected %s, found end of template (the '%s' on "
          .. "line %d is not closed)"):format(ends.what, opener.v,
                                            opener.line))
      end
      return body
    end
  end
end

local function ends(what, ...)
  local t = { what = what }
  for _, name in ipairs({ ... }) do
    t[name] = true
  end
  return t
end

function Parser:stmt_for(tag)
  local targets = self:parse_targets(false)
  self:expect("name", "in", "'in'")
  local iter = self:parse_tuple(false, false, { recursive = true })
  local cond
  if self:skip("name", "if") then
    cond = parse_expression(self)
  end
  if self:is("name", "recursive") then
    fail(self:peek().line, "recursive loops are not supported")
  end
  self:expect("block_end")
  local body, stop = self:parse_body(ends("'endfor'", "endfor", "else"),
                                     tag)
  local else_body
  if stop == "else" then
    self:expect("block_end")
    else_body = self:parse_body(ends("'endfor'", "endfor"), tag)
  end
  self:expect("block_end")
  return { type = "for", targets = targets, iter = iter, cond = cond,
           body = body, else_body = else_body, line = tag.line }
end

function Parser:stmt_if(tag)
  local node = { type = "if", tests = {}, line = tag.line }
  local cond = self:parse_tuple(false)
  while true do
    self:expect("block_end")
    local body, stop = self:parse_body(
      ends("'endif'", "elif", "else", "endif"), tag)
    node.tests[#node.tests + 1] = { cond = cond, body = body }
    if stop == "elif" then
      cond = self:parse_tuple(false)
    elseif stop == "else" then
      self:expect("block_end")
      node.else_body = self:parse_body(ends("'endif'", "endif"), tag)
      break
    else
      break
    end
  end
  self:expect("block_end")
  return node
end

function Parser:stmt_set(tag)
  local targets = self:parse_targets(true)
  if self:skip("op", "=") then
    local expr = self:parse_tuple()
    self:expect("block_end")
    return { type = "set", targets = targets, expr = expr, line = tag.line }
  end
  if targets.namespace or targets.unpack then
    self:expect("op", "=")
  end
  local filter_node = self:parse_filter_expr({ k = "captured",
                                               line = tag.line })
  self:expect("block_end")
  local body = self:parse_body(ends("'endset'", "endset"), tag)
  self:expect("block_end")
  return { type = "setblock", targets = targets, body = body,
           filter = filter_node, line = tag.line }
end

--- Parse template text.
-- @param text the template
-- @param opts lexer options
-- @return the statement list; raises `{ template_error, line }` on error
function M.parse(text, opts)
  local self = setmetatable({ toks = lexer.tokenize(text, opts), pos = 1,
                              depth = 0 }, Parser)
  return self:parse_body(nil, nil)
end

return M
