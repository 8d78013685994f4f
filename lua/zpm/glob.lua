--- Glob patterns relative to a project root, with the semantics of
-- Python's glob.glob (which the original zpm used): `*`, `?` and `[...]`
-- within one path component, `**` is just `*`, names starting with '.'
-- match only a pattern component that starts with '.', a trailing '/'
-- matches directories only. Results are sorted. Patterns may not be
-- absolute or climb out of the root with '..'.
-- @module zpm.glob
local fs = require("zpm.fs")
local errors = require("zpm.errors")

local M = {}

local function has_magic(s)
  return s:find("[%*%?%[]") ~= nil
end

-- Translate one fnmatch component into an anchored Lua pattern.
local function translate(pat)
  local out, i, n = { "^" }, 1, #pat
  while i <= n do
    local c = pat:sub(i, i)
    i = i + 1
    if c == "*" then
      out[#out + 1] = ".*"
    elseif c == "?" then
      out[#out + 1] = "."
    elseif c == "[" then
      local j = i
      if pat:sub(j, j) == "!" then
        j = j + 1
      end
      if pat:sub(j, j) == "]" then
        j = j + 1
      end
      while j <= n and pat:sub(j, j) ~= "]" do
        j = j + 1
      end
      if j > n then
        out[#out + 1] = "%["
      else
        local body = pat:sub(i, j - 1)
        i = j + 1
        local negate = body:sub(1, 1) == "!"
        if negate then
          body = body:sub(2)
        end
        -- escape Lua magic inside the class, keep '-' ranges
        body = body:gsub("[%%%]%^]", "%%%0")
        out[#out + 1] = "[" .. (negate and "^" or "") .. body .. "]"
      end
    else
      out[#out + 1] = c:gsub("%p", "%%%0")
    end
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

--- Does name match one fnmatch-style pattern component?
function M.fnmatch(name, pat)
  return name:find(translate(pat)) ~= nil
end

--- Check that a pattern stays inside the root.
-- @return true, or nil, a message and "invalid"
function M.check(pattern)
  if pattern:sub(1, 1) == "/" then
    return nil, "absolute patterns are not allowed", errors.INVALID
  end
  for part in pattern:gmatch("[^/]+") do
    if part == ".." then
      return nil, "patterns may not refer to '..'", errors.INVALID
    end
  end
  return true
end

--- Expand pattern under root.
-- @return sorted list of matching paths relative to root (directories
-- carry no trailing slash), or nil, a message and "invalid" for a bad
-- pattern
function M.expand(root, pattern)
  local ok, err, code = M.check(pattern)
  if not ok then
    return nil, err, code
  end
  local dirs_only = pattern:sub(-1) == "/"
  local parts = {}
  for part in pattern:gmatch("[^/]+") do
    if part ~= "." then
      parts[#parts + 1] = part
    end
  end
  if #parts == 0 then
    return {}
  end
  local current = { "" }
  for index, part in ipairs(parts) do
    local last = index == #parts
    local nextp = {}
    for _, base in ipairs(current) do
      local dir = base == "" and root or fs.join(root, base)
      if has_magic(part) then
        local names = fs.isdir(dir) and fs.list(dir) or {}
        local want_hidden = part:sub(1, 1) == "."
        for _, name in ipairs(names) do
          if (want_hidden or name:sub(1, 1) ~= ".")
              and M.fnmatch(name, part) then
            nextp[#nextp + 1] = fs.join(base, name)
          end
        end
      else
        local candidate = fs.join(base, part)
        local full = fs.join(root, candidate)
        if (last and fs.exists(full)) or fs.isdir(full) then
          nextp[#nextp + 1] = candidate
        end
      end
    end
    current = nextp
  end
  local results = {}
  for _, path in ipairs(current) do
    if not dirs_only or fs.isdir(fs.join(root, path)) then
      results[#results + 1] = path
    end
  end
  table.sort(results)
  return results
end

return M
