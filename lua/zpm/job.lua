--- Job descriptions (`boot/system.map`) from zapp.yaml, DESIGN.md s. 4.
-- @module zpm.job
local core = require("zpm.core")
local json = require("zpm.json")
local ordered = require("zpm.ordered")
local yaml = require("zpm.yaml")
local errors = require("zpm.errors")

local M = {}

--- Translate a group's args string: split like a POSIX shell, escape
-- each word (\x5c \x22 \x2c \x20 \x0a) and join with spaces.
-- @return string, or nil, the splitter's message and its code
function M.translate_args(cmdline)
  local words, err, code = core.args.split(cmdline)
  if not words then
    return nil, err, code
  end
  for i, word in ipairs(words) do
    words[i] = core.args.escape(word)
  end
  return table.concat(words, " ")
end

--- exec.name for a group path: for file://image:exe the text after the
-- last ':', for swift:// paths what follows the fourth '/', else nil.
function M.exec_name(path)
  if path:sub(1, 7) == "file://" then
    return path:match("([^:]*)$")
  elseif path:sub(1, 8) == "swift://" then
    -- Python's path.split('/', 4)[-1]
    local rest = path
    for _ = 1, 4 do
      local slash = rest:find("/", 1, true)
      if not slash then
        break
      end
      rest = rest:sub(slash + 1)
    end
    return rest
  end
  return nil
end

local SPECIAL = { path = true, args = true, env = true }

--- Build the job from a validated zapp.
-- @return job (list of ordered group objects), or nil, a message and
--   "invalid"
function M.generate(zapp)
  local job = ordered.array()
  for i, group in ipairs(zapp.execution.groups) do
    local keys, values = {}, {}
    for _, k in ipairs(ordered.keys(group)) do
      if not SPECIAL[k] then
        keys[#keys + 1] = k
        values[k] = group[k]
      end
    end
    local out = ordered.object(keys, values)
    local args = group.args
    if args == nil or args == yaml.null then
      args = ""
    end
    local translated, err = M.translate_args(args)
    if not translated then
      local line, col = yaml.position(group, "args")
      return nil, ("zapp.yaml:%d:%d: execution.groups[%d].args: %s")
        :format(line or 1, col or 1, i - 1, err), errors.INVALID
    end
    local exec = ordered.object({ "path", "args" },
                                { path = group.path, args = translated })
    ordered.set(exec, "name", M.exec_name(group.path))
    if group.env ~= yaml.null then
      ordered.set(exec, "env", group.env)
    end
    ordered.set(out, "exec", exec)
    job[#job + 1] = out
  end
  return job
end

--- The job as the JSON text stored in `boot/system.map`.
function M.encode(job)
  return json.encode(job)
end

--- Add the image device to every group (done at deploy time).
-- @param job a job table (decoded or generated)
-- @param image_path swift:// path of the deployed zapp
function M.add_image_device(job, image_path)
  for _, group in ipairs(job) do
    local devices = group.devices
    if devices == nil or devices == json.null then
      -- before the last key (exec, in a job zpm wrote)
      local keys = ordered.keys(group)
      devices = ordered.array()
      ordered.set(group, "devices", devices, keys[#keys])
    end
    devices[#devices + 1] = ordered.object({ "name", "path" },
                                           { name = "image",
                                             path = image_path })
  end
  return job
end

return M
