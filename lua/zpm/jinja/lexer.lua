--- Jinja2-compatible tokenizer for zpm templates.
-- Splits a template into a flat token stream the way Jinja2's lexer does:
-- `data` (literal text), `var_begin`/`var_end` around `{{ }}`,
-- `block_begin`/`block_end` around `{% %}`, and the expression tokens
-- between them (`name`, `string`, `integer`, `float`, `op`), then `eof`.
-- Comments and `{% raw %}` are resolved here. Whitespace control
-- (`{%-`, `-%}` and the same for `{{ }}` and `{# #}`) strips whitespace,
-- newlines included, from the neighbouring text. Newlines are normalised
-- to "\n" and one trailing newline is dropped (Jinja2's defaults
-- `newline_sequence='\n'`, `keep_trailing_newline=False`).
-- @module zpm.jinja.lexer
local M = {}

--- Raise a template error (caught by zpm.jinja).
-- @param line line number
-- @param message text
function M.fail(line, message)
  error({ template_error = message, line = line }, 0)
end
local fail = M.fail

local OPERATORS = {
  "//", "**", "==", "!=", "<=", ">=",
  "+", "-", "*", "/", "%", "~", "|", ",", ".", ":", "(", ")", "[", "]",
  "{", "}", "=", "<", ">",
}

local OPENERS = { ["("] = ")", ["["] = "]", ["{"] = "}" }

local SIMPLE_ESCAPES = {
  n = "\n", t = "\t", r = "\r", a = "\a", b = "\b", f = "\f", v = "\v",
  ["\\"] = "\\", ["'"] = "'", ['"'] = '"', ["\n"] = "",
}

local function count_newlines(s)
  local _, n = s:gsub("\n", "")
  return n
end

-- Python's "unicode-escape" decoding of a string literal's body.
local function unescape(body)
  if not body:find("\\", 1, true) then
    return body
  end
  local out, i, n = {}, 1, #body
  while i <= n do
    local c = body:sub(i, i)
    if c ~= "\\" or i == n then
      out[#out + 1] = c
      i = i + 1
    else
      local e = body:sub(i + 1, i + 1)
      local hex_len = ({ x = 2, u = 4, U = 8 })[e]
      if SIMPLE_ESCAPES[e] then
        out[#out + 1] = SIMPLE_ESCAPES[e]
        i = i + 2
      elseif hex_len then
        local digits = body:sub(i + 2, i + 1 + hex_len)
        local cp = #digits == hex_len and digits:match("^%x+$")
          and tonumber(digits, 16)
        if not cp or cp > 0x10FFFF then
          return nil, ("truncated \\%sXX escape"):format(e)
        end
        out[#out + 1] = utf8.char(cp)
        i = i + 2 + hex_len
      elseif e:match("[0-7]") then
        local digits = body:match("^[0-7][0-7]?[0-7]?", i + 1)
        out[#out + 1] = utf8.char(tonumber(digits, 8))
        i = i + 1 + #digits
      else
        out[#out + 1] = "\\" .. e
        i = i + 2
      end
    end
  end
  return table.concat(out)
end

--- Tokenize a template.
-- @param src template text
-- @param opts table: `keep_trailing_newline` (default false)
-- @return list of tokens `{ t = type, v = value, line = n }`; raises a
--   template error (see `fail`) on bad input
function M.tokenize(src, opts)
  src = src:gsub("\r\n?", "\n")
  if not (opts and opts.keep_trailing_newline) and src:sub(-1) == "\n" then
    src = src:sub(1, -2)
  end
  local toks, pos, line, n = {}, 1, 1, #src
  local strip_next = false

  local function push(t, v, l)
    toks[#toks + 1] = { t = t, v = v, line = l or line }
  end

  local function data(text, strip_end)
    local l = line
    line = line + count_newlines(text)
    if strip_next then
      local ws = text:match("^%s*")
      l = l + count_newlines(ws)
      text = text:sub(#ws + 1)
      strip_next = false
    end
    if strip_end then
      text = text:gsub("%s+$", "")
    end
    if text ~= "" then
      push("data", text, l)
    end
  end

  -- expression tokens up to `close` ("}}" or "%}")
  local function expression(close)
    local stack = {}
    while true do
      local ws = src:match("^%s*", pos)
      line = line + count_newlines(ws)
      pos = pos + #ws
      if pos > n then
        fail(line, ("unexpected end of template, expected '%s'")
          :format(close))
      end
      if #stack == 0 then
        if src:sub(pos, pos + 2) == "-" .. close then
          pos = pos + 3
          strip_next = true
          return
        elseif src:sub(pos, pos + 1) == close then
          pos = pos + 2
          return
        end
      end
      local c = src:sub(pos, pos)
      local word = src:match("^[%a_][%w_]*", pos)
      if word then
        push("name", word)
        pos = pos + #word
      elseif c:match("%d") then
        local int = src:match("^%d[%d_]*", pos)
        local num, p = int, pos + #int
        local is_float = false
        if src:sub(pos - 1, pos - 1) ~= "." then
          local frac = src:match("^%.%d[%d_]*", p)
          if frac then
            num, p, is_float = num .. frac, p + #frac, true
          end
          local exp = src:match("^[eE][+-]?%d[%d_]*", p)
          if exp then
            num, p, is_float = num .. exp, p + #exp, true
          end
        end
        if num:find("__", 1, true) or num:find("_[^%d]") or num:find("_$")
        then
          fail(line, ("invalid number '%s'"):format(num))
        end
        num = num:gsub("_", "")
        if is_float then
          push("float", tonumber(num) + 0.0)
        else
          push("integer", math.tointeger(tonumber(num)) or tonumber(num))
        end
        pos = p
      elseif c == "'" or c == '"' then
        local i = pos + 1
        while true do
          local q = src:find("[\\" .. c .. "]", i)
          if not q then
            fail(line, "unexpected end of string")
          end
          if src:sub(q, q) == "\\" then
            i = q + 2
          else
            i = q
            break
          end
        end
        local body = src:sub(pos + 1, i - 1)
        local value, err = unescape(body)
        if not value then
          fail(line, err)
        end
        push("string", value)
        line = line + count_newlines(body)
        pos = i + 1
      else
        local op
        for _, candidate in ipairs(OPERATORS) do
          if src:sub(pos, pos + #candidate - 1) == candidate then
            op = candidate
            break
          end
        end
        if not op then
          fail(line, ("unexpected char '%s'"):format(c))
        end
        if OPENERS[op] then
          stack[#stack + 1] = OPENERS[op]
        elseif op == ")" or op == "]" or op == "}" then
          local want = stack[#stack]
          if not want then
            fail(line, ("unexpected '%s'"):format(op))
          elseif want ~= op then
            fail(line, ("unexpected '%s', expected '%s'"):format(op, want))
          end
          stack[#stack] = nil
        end
        push("op", op)
        pos = pos + #op
      end
    end
  end

  while pos <= n do
    local s = src:find("{[{%%#]", pos)
    if not s then
      data(src:sub(pos))
      break
    end
    local kind = src:sub(s + 1, s + 1)
    local p = s + 2
    local mod = src:sub(p, p)
    local strip_before = mod == "-"
    if mod == "-" or mod == "+" then
      p = p + 1
    end
    local raw_ws, raw_strip = nil, nil
    if kind == "%" then
      raw_ws, raw_strip = src:match("^(%s*raw%s*)(%-?)%%}", p)
    end
    data(src:sub(pos, s - 1), strip_before)
    if kind == "#" then
      local e = src:find("#}", p, true)
      if not e then
        fail(line, "missing end of comment tag")
      end
      line = line + count_newlines(src:sub(p, e))
      strip_next = src:sub(e - 1, e - 1) == "-" and e - 1 >= p
      pos = e + 2
    elseif raw_ws then
      local start_line = line
      line = line + count_newlines(raw_ws)
      local body_start = p + #raw_ws + #raw_strip + 2
      local e1, e2, end_mod, end_strip = src:find(
        "{%%([-+]?)%s*endraw%s*(%-?)%%}", body_start)
      if not e1 then
        fail(start_line, "missing end of raw directive")
      end
      pos = body_start
      strip_next = raw_strip == "-"
      data(src:sub(body_start, e1 - 1), end_mod == "-")
      line = line + count_newlines(src:sub(e1, e2))
      strip_next = end_strip == "-"
      pos = e2 + 1
    else
      pos = p
      if kind == "{" then
        push("var_begin", "{{")
        expression("}}")
        push("var_end", "}}")
      else
        push("block_begin", "{%")
        expression("%}")
        push("block_end", "%}")
      end
    end
  end
  push("eof", nil)
  return toks
end

M.unescape = unescape

return M
