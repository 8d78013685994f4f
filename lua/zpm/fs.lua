--- File-system helpers on LuaFileSystem: paths, existence, removal.
-- @module zpm.fs
local interrupt = require("zpm.interrupt")
local lfs = require("lfs")
local errors = require("zpm.errors")

local M = {}

--- Quote a word (a path, most often) for the POSIX shell: in single
-- quotes, each "'" written as "'\\''".
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Join path pieces with '/', not doubling separators.
function M.join(...)
  local out = nil
  for i = 1, select("#", ...) do
    local piece = select(i, ...)
    if piece ~= nil and piece ~= "" then
      if out == nil or piece:sub(1, 1) == "/" then
        out = piece
      elseif out:sub(-1) == "/" then
        out = out .. piece
      else
        out = out .. "/" .. piece
      end
    end
  end
  return out or ""
end

--- Last component of a path ("a/b/" gives "b").
function M.basename(path)
  local trimmed = path:gsub("/+$", "")
  if trimmed == "" then
    return path:sub(1, 1) == "/" and "/" or ""
  end
  return trimmed:match("([^/]*)$")
end

--- Directory part of a path ("a/b" gives "a", "b" gives ".").
function M.dirname(path)
  local trimmed = path:gsub("/+$", "")
  local dir = trimmed:match("^(.*)/[^/]*$")
  if dir == nil then
    return "."
  end
  if dir == "" then
    return "/"
  end
  return dir
end

--- Normalise '.' and '..' components and repeated slashes (textually).
function M.normalize(path)
  local absolute = path:sub(1, 1) == "/"
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts > 0 and parts[#parts] ~= ".." then
        parts[#parts] = nil
      elseif not absolute then
        parts[#parts + 1] = ".."
      end
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  local joined = table.concat(parts, "/")
  if absolute then
    return "/" .. joined
  end
  return joined == "" and "." or joined
end

--- Absolute, normalised form of path (relative to the current directory).
function M.abspath(path)
  if path:sub(1, 1) ~= "/" then
    path = M.join(lfs.currentdir(), path)
  end
  return M.normalize(path)
end

--- Type of what is at path without following a final symlink:
-- "file", "directory", "link", "other", or nil when nothing is there.
function M.kind(path)
  local mode = lfs.symlinkattributes(path, "mode")
  if mode == nil then
    return nil
  elseif mode == "symbolic link" then
    return "link"
  elseif mode == "file" or mode == "directory" then
    return mode
  end
  return "other"
end

function M.exists(path)
  return lfs.symlinkattributes(path, "mode") ~= nil
end

function M.isdir(path)
  return lfs.attributes(path, "mode") == "directory"
end

function M.isfile(path)
  return lfs.attributes(path, "mode") == "file"
end

--- Size in bytes of the file at path (following symlinks), or nil.
function M.size(path)
  return lfs.attributes(path, "size")
end

--- Sorted names in a directory, without "." and "..".
-- @return list, or nil, a message and "io" (or "interrupted")
function M.list(dir)
  -- walking a big tree is the longest loop in Lua: a place to stop
  local ok, iter, state = interrupt.check()
  if not ok then
    return nil, iter, state
  end
  ok, iter, state = pcall(lfs.dir, dir)
  if not ok then
    return nil, iter, errors.IO
  end
  local names = {}
  for name in iter, state do
    if name ~= "." and name ~= ".." then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return names
end

--- Create a directory and its missing parents.
-- @return list of the directories created (outermost first), or nil, a
--   message, "io" and { created = the directories it did create }
function M.makedirs(path)
  local created = {}
  local missing = {}
  local cur = M.normalize(path)
  while not M.exists(cur) do
    table.insert(missing, 1, cur)
    local parent = M.dirname(cur)
    if parent == cur then
      break
    end
    cur = parent
  end
  for _, dir in ipairs(missing) do
    local ok, err = lfs.mkdir(dir)
    if not ok then
      return nil, ("%s: %s"):format(dir, err), errors.IO,
        { created = created }
    end
    created[#created + 1] = dir
  end
  return created
end

--- Read a whole (small) file.
-- @return its content, or nil, a message and "io"
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err, errors.IO
  end
  local data = f:read("a")
  f:close()
  return data
end

--- Write a file that must not exist yet (O_EXCL semantics via "wx"...
-- Lua has no O_EXCL, so the caller checks existence first).
-- @return true, or nil, a message and "io"
function M.write(path, data)
  local f, err = io.open(path, "wb")
  if not f then
    return nil, err, errors.IO
  end
  local ok, werr = f:write(data)
  local cok, cerr = f:close()
  if not ok then
    return nil, werr, errors.IO
  end
  if not cok then
    return nil, cerr, errors.IO
  end
  return true
end

return M
