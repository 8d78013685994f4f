--- devcloud: a ZeroCloud on one machine (DESIGN.md section 9). OpenStack
-- Swift from Debian's packages on 127.0.0.1 with tempauth, and zpm's
-- ZeroCloud-compatible execution middleware in the proxy pipeline, under
-- a state directory. The servers are run by `devcloud/swift-aio`; this
-- module finds it, checks the prerequisites and reads what it reports.
-- @module zpm.devcloud
local fs = require("zpm.fs")

local M = {}

--- Debian packages the devcloud needs.
M.PACKAGES = { "swift", "swift-proxy", "swift-account", "swift-container",
               "swift-object", "memcached", "python3-swiftclient",
               "bubblewrap", "curl" }

--- The default state directory.
function M.default_dir()
  return fs.join(os.getenv("HOME") or "/root", ".zpm", "devcloud")
end

--- Where the devcloud scripts and middleware are: $ZPM_DEVCLOUD_HOME,
-- next to the installed modules (zpm/devcloud), or in the source tree.
function M.home()
  local env = os.getenv("ZPM_DEVCLOUD_HOME")
  if env and env ~= "" then
    return env
  end
  local here = package.searchpath("zpm.devcloud", package.path)
  if here then
    local dir = fs.dirname(fs.abspath(here))
    for _, candidate in ipairs({ fs.join(dir, "devcloud"),
                                 fs.join(dir, "..", "..", "devcloud") }) do
      if fs.isfile(fs.join(candidate, "swift-aio")) then
        return fs.normalize(candidate)
      end
    end
  end
  return nil, "cannot find the devcloud scripts (set ZPM_DEVCLOUD_HOME)"
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function installed(pkg)
  local p = io.popen("dpkg-query -W -f='${Status}' " .. quote(pkg)
                     .. " 2>/dev/null")
  local status = p:read("a")
  p:close()
  return status:find("install ok installed", 1, true) ~= nil
end

--- Packages of `PACKAGES` that are not installed.
function M.missing_packages(unsandboxed)
  local missing = {}
  for _, pkg in ipairs(M.PACKAGES) do
    if not (unsandboxed and pkg == "bubblewrap") and not installed(pkg) then
      missing[#missing + 1] = pkg
    end
  end
  return missing
end

-- Run swift-aio; returns its stdout, or nil and its output as a message.
local function swift_aio(args)
  local home, err = M.home()
  if not home then
    return nil, err
  end
  -- through bash: LuaRocks installs the script without its exec bit
  local words = { "bash", quote(fs.join(home, "swift-aio")) }
  for _, a in ipairs(args) do
    words[#words + 1] = quote(a)
  end
  local out = os.tmpname()
  local cmd = table.concat(words, " ") .. " >" .. out .. " 2>&1"
  local ok, _, code = os.execute(cmd)
  local text = fs.read(out) or ""
  os.remove(out)
  if not ok then
    return nil, text:gsub("%s+$", ""), code
  end
  return text
end

--- Parse KEY=VALUE lines (as swift-aio prints them).
function M.parse_env(text)
  local env = {}
  for key, value in text:gmatch("([%w_]+)=([^\n]*)") do
    value = value:gsub("^'(.*)'$", "%1")
    env[key] = value
  end
  return env
end

--- System images (`file://<image>:...` in jobs) and the host programs
-- that stand in for them.
M.SYSTEM_IMAGES = "python2.7:/usr/bin/python3,python3:/usr/bin/python3,"
  .. "sh:/bin/sh"

--- Start the devcloud (or find it running).
-- @param opts { dir = state dir, port = proxy port, unsandboxed = bool,
--   time_limit = seconds per node (default 60), memory_limit = bytes
--   or "512M"-style text per node (default 1G), max_file_size = bytes:
--   Swift's largest single object (default Swift's, 5 GiB + 2) }
-- @return env table (ST_AUTH, ST_USER, ST_KEY, SWIFT_STORAGE_URL, ...),
--   or nil and a message
function M.up(opts)
  opts = opts or {}
  local missing = M.missing_packages(opts.unsandboxed)
  if #missing > 0 then
    return nil, ("the devcloud needs Debian packages that are not "
      .. "installed; install them with:\n  apt-get install %s")
      :format(table.concat(missing, " "))
  end
  local home, herr = M.home()
  if not home then
    return nil, herr
  end
  local args = { "up", "--dir", opts.dir or M.default_dir(), "--no-install",
                 "--pythonpath", fs.join(home, "middleware"),
                 "--filter", "zerocloud=zerocloud_dev:filter_factory",
                 "--filter-conf", "zerocloud:system_images="
                   .. M.SYSTEM_IMAGES }
  if opts.time_limit then
    args[#args + 1] = "--filter-conf"
    args[#args + 1] = "zerocloud:timeout=" .. tostring(opts.time_limit)
  end
  if opts.memory_limit then
    args[#args + 1] = "--filter-conf"
    args[#args + 1] = "zerocloud:memory_limit=" .. tostring(opts.memory_limit)
  end
  if opts.max_file_size then
    args[#args + 1] = "--max-file-size"
    args[#args + 1] = tostring(math.tointeger(opts.max_file_size))
  end
  if opts.port then
    args[#args + 1] = "--port"
    args[#args + 1] = tostring(opts.port)
  end
  if opts.unsandboxed then
    args[#args + 1] = "--filter-conf"
    args[#args + 1] = "zerocloud:unsandboxed=true"
  end
  local out, err = swift_aio(args)
  if not out then
    return nil, "devcloud did not start:\n" .. err
  end
  return M.parse_env(out)
end

--- Stop what `up` started (its data stays).
-- @return true, or nil and a message
function M.down(opts)
  local out, err = swift_aio({ "down", "--dir",
                               (opts or {}).dir or M.default_dir() })
  if not out then
    return nil, err
  end
  return true
end

--- What runs.
-- @return text (one line per server), running (boolean)
function M.status(opts)
  local out, err, code = swift_aio({ "status", "--dir",
                                     (opts or {}).dir or M.default_dir() })
  if out then
    return out, true
  end
  if code == 3 then
    return err, false
  end
  return nil, err
end

--- The settings of the devcloud at dir (from its last start).
-- @return env table, or nil and a message
function M.env(opts)
  local dir = (opts or {}).dir or M.default_dir()
  local text = fs.read(fs.join(dir, "env"))
  if not text then
    return nil, ("no devcloud in %s (run `zpm devcloud up` first)")
      :format(dir)
  end
  return M.parse_env(text)
end

--- The shell lines that point swift clients and zpm at the devcloud.
function M.exports(env)
  return ("export ST_AUTH=%s ST_USER=%s ST_KEY=%s"):format(
    quote(env.ST_AUTH), quote(env.ST_USER), quote(env.ST_KEY))
end

return M
