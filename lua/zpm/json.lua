--- JSON output compatible with Python's `json.dumps` (default settings):
-- `", "` and `": "` separators, ASCII-only output with `\uXXXX` escapes,
-- Python's float repr, and object keys in a stable order: that of
-- `zpm.ordered` (a YAML mapping's document order, the order given to
-- `object`), or sorted. Lua's own table order is randomised per process,
-- so an encoder that followed it would break reproducible bundles.
-- @module zpm.json
local ordered = require("zpm.ordered")
local errors = require("zpm.errors")

local M = {}

-- cjson.null is the same NULL light userdata as zpm.core.null; taking
-- it from cjson keeps `zpm version` from loading the C core
local null = require("cjson").null
M.null = null

--- Mark a table as a JSON array (needed for empty arrays); `ordered.array`.
M.array = ordered.array

--- Make an object whose keys are written in the order given;
-- `ordered.object`.
-- @param keys list of keys; @param values table of key -> value
M.object = ordered.object

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b",
                  ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
                  ["\t"] = "\\t" }

local function escape_codepoint(cp)
  if cp < 0x10000 then
    return ("\\u%04x"):format(cp)
  end
  cp = cp - 0x10000
  return ("\\u%04x\\u%04x"):format(0xD800 + (cp >> 10),
                                   0xDC00 + (cp & 0x3FF))
end

-- The bytes from i on that are not ASCII, escaped: each valid UTF-8
-- sequence as its code point, each other byte as itself in Latin-1
-- (\u00XX), so one stray byte does not garble the text around it.
local function escape_mixed(s)
  local parts, i = {}, 1
  while true do
    local j = s:find("[\128-\255]", i)
    if not j then
      parts[#parts + 1] = s:sub(i)
      return table.concat(parts)
    end
    parts[#parts + 1] = s:sub(i, j - 1)
    local len = 1
    for k = 4, 2, -1 do
      local ch = s:sub(j, j + k - 1)
      if #ch == k and utf8.len(ch) == 1 then
        len = k
        break
      end
    end
    local ch = s:sub(j, j + len - 1)
    parts[#parts + 1] = len > 1 and escape_codepoint(utf8.codepoint(ch))
      or ("\\u%04x"):format(ch:byte())
    i = j + len
  end
end

local function encode_string(s)
  local out = s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or ("\\u%04x"):format(c:byte())
  end)
  if out:find("[\128-\255]") then
    if utf8.len(out) then
      out = out:gsub(utf8.charpattern, function(ch)
        local cp = utf8.codepoint(ch)
        return cp < 128 and ch or escape_codepoint(cp)
      end)
    else
      out = escape_mixed(out)
    end
  end
  return '"' .. out .. '"'
end

--- Python's repr() of a float: shortest round-tripping digits, fixed
-- notation for exponents -4..15, otherwise d.ddde+XX.
function M.float_repr(x)
  if x ~= x then
    return "NaN"
  elseif x == math.huge then
    return "Infinity"
  elseif x == -math.huge then
    return "-Infinity"
  end
  local s
  for precision = 0, 16 do
    s = ("%." .. precision .. "e"):format(x)
    if tonumber(s) == x then
      break
    end
  end
  local sign, int, frac, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (int .. frac):gsub("0+$", "")
  if digits == "" then
    digits = "0"
  end
  exp = tonumber(exp)
  if exp >= -4 and exp < 16 then
    local point = exp + 1
    local whole, fraction
    if point <= 0 then
      whole, fraction = "0", ("0"):rep(-point) .. digits
    elseif point >= #digits then
      whole, fraction = digits .. ("0"):rep(point - #digits), "0"
    else
      whole, fraction = digits:sub(1, point), digits:sub(point + 1)
    end
    return sign .. whole .. "." .. fraction
  end
  local mantissa = digits:sub(1, 1)
  if #digits > 1 then
    mantissa = mantissa .. "." .. digits:sub(2)
  end
  return ("%s%se%s%02d"):format(sign, mantissa, exp < 0 and "-" or "+",
                                math.abs(exp))
end

local function key_string(k)
  local kt = type(k)
  if kt == "string" then
    return k
  elseif math.type(k) == "integer" then
    return ("%d"):format(k)
  elseif kt == "number" then
    return M.float_repr(k)
  elseif kt == "boolean" then
    return tostring(k)
  elseif k == null then
    return "null"
  end
  error("cannot encode a key of type " .. kt, 0)
end

--- Keys of a table in output order; `ordered.keys`.
M.ordered_keys = ordered.keys

local encode

local function encode_table(t, out, depth)
  if depth > 1000 then
    error("structure too deep to encode", 0)
  end
  if ordered.is_array(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then
        out[#out + 1] = ", "
      end
      encode(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  out[#out + 1] = "{"
  for i, k in ipairs(ordered.keys(t)) do
    if i > 1 then
      out[#out + 1] = ", "
    end
    out[#out + 1] = encode_string(key_string(k))
    out[#out + 1] = ": "
    encode(t[k], out, depth + 1)
  end
  out[#out + 1] = "}"
end

encode = function(v, out, depth)
  local vt = type(v)
  if vt == "string" then
    out[#out + 1] = encode_string(v)
  elseif vt == "number" then
    if math.type(v) == "integer" then
      out[#out + 1] = ("%d"):format(v)
    else
      out[#out + 1] = M.float_repr(v)
    end
  elseif vt == "boolean" then
    out[#out + 1] = tostring(v)
  elseif v == nil or v == null then
    out[#out + 1] = "null"
  elseif vt == "table" then
    encode_table(v, out, depth)
  else
    error("cannot encode a value of type " .. vt, 0)
  end
end

--- Encode a Lua value as JSON text.
-- @return string, or nil, a message and "invalid" for values JSON
--   cannot hold
function M.encode(value)
  local out = {}
  local ok, err = pcall(encode, value, out, 0)
  if not ok then
    return nil, err, errors.INVALID
  end
  return table.concat(out)
end

-- An order-keeping decoder, for documents that are written back out
-- (a job read from a zapp keeps the key order it was written with).
local Decoder = {}
Decoder.__index = Decoder

function Decoder:fail(message)
  error({ json_error = ("%s at character %d"):format(message, self.pos) },
        0)
end

function Decoder:skip()
  self.pos = self.text:find("[^ \t\r\n]", self.pos) or #self.text + 1
end

local UNESCAPE = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b",
                   f = "\f", n = "\n", r = "\r", t = "\t" }

function Decoder:string()
  local text, pos, out = self.text, self.pos + 1, {}
  while true do
    local stop = text:find('["\\%c]', pos)
    if not stop then
      self.pos = #text
      self:fail("unterminated string")
    end
    out[#out + 1] = text:sub(pos, stop - 1)
    local c = text:sub(stop, stop)
    if c == '"' then
      self.pos = stop + 1
      return table.concat(out)
    elseif c == "\\" then
      local e = text:sub(stop + 1, stop + 1)
      if e == "u" then
        local hex = text:match("^%x%x%x%x", stop + 2)
        if not hex then
          self.pos = stop
          self:fail("bad \\u escape")
        end
        local cp = tonumber(hex, 16)
        pos = stop + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local low = text:match("^\\u(%x%x%x%x)", pos)
          if low then
            cp = 0x10000 + ((cp - 0xD800) << 10) + (tonumber(low, 16) - 0xDC00)
            pos = pos + 6
          end
        end
        out[#out + 1] = utf8.char(cp)
      elseif UNESCAPE[e] then
        out[#out + 1] = UNESCAPE[e]
        pos = stop + 2
      else
        self.pos = stop
        self:fail("bad escape")
      end
    else
      self.pos = stop
      self:fail("control character in string")
    end
  end
end

function Decoder:value(depth)
  if depth > 512 then
    self:fail("nesting too deep")
  end
  self:skip()
  local text, pos = self.text, self.pos
  local c = text:sub(pos, pos)
  if c == "{" then
    local keys, values = {}, {}
    self.pos = pos + 1
    self:skip()
    if text:sub(self.pos, self.pos) == "}" then
      self.pos = self.pos + 1
      return M.object(keys, values)
    end
    while true do
      self:skip()
      if text:sub(self.pos, self.pos) ~= '"' then
        self:fail("expected a string key")
      end
      local k = self:string()
      self:skip()
      if text:sub(self.pos, self.pos) ~= ":" then
        self:fail("expected ':'")
      end
      self.pos = self.pos + 1
      if values[k] == nil then
        keys[#keys + 1] = k
      end
      values[k] = self:value(depth + 1)
      self:skip()
      local sep = text:sub(self.pos, self.pos)
      self.pos = self.pos + 1
      if sep == "}" then
        return M.object(keys, values)
      elseif sep ~= "," then
        self.pos = self.pos - 1
        self:fail("expected ',' or '}'")
      end
    end
  elseif c == "[" then
    local list = M.array()
    self.pos = pos + 1
    self:skip()
    if text:sub(self.pos, self.pos) == "]" then
      self.pos = self.pos + 1
      return list
    end
    while true do
      list[#list + 1] = self:value(depth + 1)
      self:skip()
      local sep = text:sub(self.pos, self.pos)
      self.pos = self.pos + 1
      if sep == "]" then
        return list
      elseif sep ~= "," then
        self.pos = self.pos - 1
        self:fail("expected ',' or ']'")
      end
    end
  elseif c == '"' then
    return self:string()
  end
  local literal = text:match("^[%a]+", pos)
  if literal == "true" or literal == "false" or literal == "null" then
    self.pos = pos + #literal
    if literal == "null" then
      return null
    end
    return literal == "true"
  end
  local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if number and number ~= "" and number ~= "-" then
    self.pos = pos + #number
    local value = math.tointeger(tonumber(number))
    if value == nil or number:find("[.eE]") then
      value = tonumber(number)
      if value ~= nil and not number:find("[.eE]") then
        value = value + 0.0
      end
    end
    if value == nil then
      self:fail("bad number")
    end
    return value
  end
  self:fail("unexpected " .. (c == "" and "end of input" or "'" .. c .. "'"))
end

--- Decode JSON text keeping object key order (objects come back as
-- `object` tables, arrays as `array` tables, null as `json.null`), so that
-- encoding the result writes the keys in their original order.
-- @return value, or nil, "message at character N" and "invalid"
function M.decode_ordered(text)
  local decoder = setmetatable({ text = text, pos = 1 }, Decoder)
  local ok, value = pcall(function()
    local v = decoder:value(0)
    decoder:skip()
    if decoder.pos <= #text then
      decoder:fail("trailing characters")
    end
    return v
  end)
  if not ok then
    if type(value) == "table" and value.json_error then
      return nil, value.json_error, errors.INVALID
    end
    error(value, 0)
  end
  return value
end

--- Decode JSON text (lua-cjson); objects and arrays become plain tables
-- and JSON null becomes `zpm.json.null`.
-- @return value, or nil, a message and "invalid"
function M.decode(text)
  local cjson = require("cjson.safe")
  local value, err = cjson.decode(text)
  if value == nil and err ~= nil then
    return nil, err, errors.INVALID
  end
  return value
end

return M
