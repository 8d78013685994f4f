--- JSON output compatible with Python's `json.dumps` (default settings):
-- `", "` and `": "` separators, ASCII-only output with `\uXXXX` escapes,
-- Python's float repr, and object keys in a stable order: the order a
-- YAML mapping had in its file (its metatable's `keys`), the order given
-- to `object`, or sorted. Lua's own table order is randomised per process,
-- so an encoder that followed it would break reproducible bundles.
-- @module zpm.json
local M = {}

local null = require("zpm.core").null
M.null = null

local ARRAY_MT = { __name = "zpm.json.array" }

--- Mark a table as a JSON array (needed for empty arrays).
function M.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

--- Make an object whose keys are written in the order given.
-- @param keys list of keys; @param values table of key -> value
function M.object(keys, values)
  return setmetatable(values or {}, { __name = "zpm.json.object",
                                      keys = keys })
end

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
      -- not UTF-8: keep every byte, as Latin-1
      out = out:gsub("[\128-\255]", function(c)
        return ("\\u%04x"):format(c:byte())
      end)
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

local function ordered_keys(t, mt)
  local keys, seen = {}, {}
  if mt and mt.keys then
    for _, k in ipairs(mt.keys) do
      if t[k] ~= nil and not seen[k] then
        keys[#keys + 1], seen[k] = k, true
      end
    end
  end
  local extra = {}
  for k in pairs(t) do
    if not seen[k] then
      extra[#extra + 1] = k
    end
  end
  table.sort(extra, sort_keys)
  table.move(extra, 1, #extra, #keys + 1, keys)
  return keys
end

local function is_array(t, mt)
  if mt == ARRAY_MT or (mt and mt.__name == "zpm.yaml.seq") then
    return true
  end
  if mt and (mt.keys or mt.__name == "zpm.yaml.map") then
    return false
  end
  local n = #t
  if n == 0 then
    return false
  end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
  end
  return count == n
end

local encode

local function encode_table(t, out, depth)
  if depth > 1000 then
    error("structure too deep to encode", 0)
  end
  local mt = getmetatable(t)
  if is_array(t, mt) then
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
  for i, k in ipairs(ordered_keys(t, mt)) do
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
-- @return string, or nil and a message for values JSON cannot hold
function M.encode(value)
  local out = {}
  local ok, err = pcall(encode, value, out, 0)
  if not ok then
    return nil, err
  end
  return table.concat(out)
end

--- Decode JSON text (lua-cjson); objects and arrays become plain tables
-- and JSON null becomes `zpm.json.null`.
function M.decode(text)
  local cjson = require("cjson.safe")
  local value, err = cjson.decode(text)
  if value == nil and err ~= nil then
    return nil, err
  end
  return value
end

return M
