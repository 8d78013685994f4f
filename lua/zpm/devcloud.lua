--- devcloud: a ZeroCloud on one machine (DESIGN.md section 9). OpenStack
-- Swift from Debian's packages on 127.0.0.1 with tempauth, and zpm's
-- ZeroCloud-compatible execution middleware in the proxy pipeline, under
-- a state directory. The servers are run by `devcloud/swift-aio`; this
-- module finds it, checks the prerequisites and reads what it reports.
-- @module zpm.devcloud
local fs = require("zpm.fs")
local errors = require("zpm.errors")

local quote = fs.shell_quote

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
  return nil, "cannot find the devcloud scripts (set ZPM_DEVCLOUD_HOME)",
    errors.NOTFOUND
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

-- Run swift-aio; returns its stdout and stderr, or nil, its output as a
-- message, "command" and { exit = its exit code }.
local function swift_aio(args)
  local home, err, hcode = M.home()
  if not home then
    return nil, err, hcode
  end
  -- through bash: LuaRocks installs the script without its exec bit
  local words = { "bash", quote(fs.join(home, "swift-aio")) }
  for _, a in ipairs(args) do
    words[#words + 1] = quote(a)
  end
  local out, errf = os.tmpname(), os.tmpname()
  local cmd = table.concat(words, " ") .. " >" .. out .. " 2>" .. errf
  local ok, _, code = os.execute(cmd)
  local text, etext = fs.read(out) or "", fs.read(errf) or ""
  os.remove(out)
  os.remove(errf)
  if not ok then
    return nil, (etext .. text):gsub("%s+$", ""), errors.COMMAND,
      { exit = code }
  end
  return text, etext
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

--- The settings `up` remembers in the state directory and re-applies,
-- in order: { key, command-line flag, kind }. Kinds: "port", "seconds",
-- "size" (bytes, or text such as 512M), "bytes" (bytes; text such as 10M
-- is converted), "count", "flag".
M.SETTINGS = {
  { "port", "--port", "port" },
  { "nodes", "--nodes", "count" },
  { "time_limit", "--time-limit", "seconds" },
  { "memory_limit", "--memory-limit", "size" },
  { "disk_limit", "--disk-limit", "bytes" },
  { "output_limit", "--output-limit", "bytes" },
  { "process_limit", "--process-limit", "count" },
  { "job_nodes", "--job-nodes", "count" },
  { "max_file_size", "--max-file-size", "bytes" },
  { "unsandboxed", "--unsandboxed", "flag" },
}

--- The middleware's filter conf key of each setting that is one.
M.FILTER_KEYS = { time_limit = "timeout", memory_limit = "memory_limit",
                  disk_limit = "disk_limit", output_limit = "output_limit",
                  process_limit = "process_limit", job_nodes = "max_nodes" }

local SETTINGS_FILE = "zpm-settings"

local UNITS = { [""] = 1, K = 1024, M = 1024 ^ 2, G = 1024 ^ 3,
                T = 1024 ^ 4 }

-- bytes of 123, "123", "512M" (K/M/G/T, an optional B), or nil
local function to_bytes(v)
  if math.type(v) == "integer" then
    return v > 0 and v or nil
  end
  local digits, unit = tostring(v):upper():match("^(%d+)([KMGT]?)B?$")
  local n = digits and math.tointeger(tonumber(digits) * UNITS[unit])
  return n and n > 0 and n or nil
end

-- a setting's value checked and normalised, or nil, a message and
-- "invalid"
local function check_setting(spec, v)
  local flag, kind = spec[2], spec[3]
  local bad = ("%s: '%s' is not "):format(flag, tostring(v))
  local function fail(what)
    return nil, bad .. what, errors.INVALID
  end
  if kind == "flag" then
    if v == true or v == "true" then return true end
    if v == false or v == "false" then return false end
    return fail("true or false")
  elseif kind == "port" then
    local n = math.tointeger(tonumber(v))
    if not n or n < 1 or n > 65535 then
      return fail("a port (1-65535)")
    end
    return n
  elseif kind == "seconds" then
    local n = tonumber(v)
    if not n or n <= 0 or n ~= n or n == math.huge then
      return fail("a number of seconds")
    end
    return math.tointeger(n) or n
  elseif kind == "count" then
    local n = math.tointeger(tonumber(v))
    if not n or n < 1 then
      return fail("a positive whole number")
    end
    return n
  elseif kind == "size" then
    if not to_bytes(v) then
      return fail("a size in bytes (like 1048576 or 512M)")
    end
    return math.type(v) == "integer" and v or tostring(v)
  end
  local n = to_bytes(v)
  if not n then
    return fail("a size in bytes (like 1048576 or 512M)")
  end
  return n
end

--- The secret the two middleware halves sign sub-jobs with (issue 18):
-- DIR/zerocloud-secret, made once (32 random bytes as hex, mode 0600).
-- @return its path, or nil, a message and "io"
function M.secret_file(dir)
  local path = fs.join(dir, "zerocloud-secret")
  if fs.isfile(path) then
    return path
  end
  local r = io.open("/dev/urandom", "rb")
  local bytes = r and r:read(32)
  if r then r:close() end
  os.execute("mkdir -p " .. quote(dir))
  local f = bytes and io.open(path .. ".tmp", "w")
  if not f then
    return nil, "cannot write " .. path, errors.IO
  end
  f:write((bytes:gsub(".", function(c)
    return ("%02x"):format(c:byte())
  end)), "\n")
  f:close()
  os.execute("chmod 600 " .. quote(path .. ".tmp"))
  os.rename(path .. ".tmp", path)
  return path
end

--- The settings remembered in a state directory (those of the last
-- successful `up`).
-- @param opts { dir }
-- @return table (key -> value; missing keys: the defaults)
function M.settings(opts)
  local dir = (opts or {}).dir or M.default_dir()
  local text = fs.read(fs.join(dir, SETTINGS_FILE)) or ""
  local saved = {}
  for key, value in text:gmatch("([%w_]+)=([^\n]*)") do
    saved[key] = value
  end
  local settings = {}
  for _, spec in ipairs(M.SETTINGS) do
    if saved[spec[1]] then
      settings[spec[1]] = check_setting(spec, saved[spec[1]])
    end
  end
  return settings
end

local function save_settings(dir, settings)
  local lines = { "# zpm devcloud: the settings of the last `up`; the next "
                  .. "`up` re-applies them" }
  for _, spec in ipairs(M.SETTINGS) do
    local v = settings[spec[1]]
    if v ~= nil then
      lines[#lines + 1] = ("%s=%s"):format(spec[1], tostring(v))
    end
  end
  local path = fs.join(dir, SETTINGS_FILE)
  local f = io.open(path .. ".tmp", "w")
  if not f then
    return
  end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  os.rename(path .. ".tmp", path)
end

--- Settings as command-line options ("--time-limit 2 --unsandboxed").
function M.describe_settings(settings)
  local words = {}
  for _, spec in ipairs(M.SETTINGS) do
    local v = settings[spec[1]]
    if spec[3] == "flag" then
      if v then
        words[#words + 1] = spec[2]
      end
    elseif v ~= nil then
      words[#words + 1] = spec[2] .. " " .. tostring(v)
    end
  end
  return table.concat(words, " ")
end

--- Start the devcloud, or check the one that runs: restart what is dead
-- or does not answer, and what a changed setting needs (the proxy, for
-- the middleware's settings).
-- @param opts { dir = state dir, port = proxy port, nodes = storage
--   nodes (default 1; N > 1: on 127.0.0.2 ... 127.0.0.N+1, min(3, N)
--   replicas; changing it needs a `down` first), unsandboxed = bool
--   (false: sandboxed again), time_limit = seconds per node (default
--   60), memory_limit = bytes or "512M"-style text per node (default
--   1G), disk_limit = bytes a node may write in its writable area,
--   output_limit = bytes of stdout+stderr a node may write,
--   process_limit = processes per node (these three: the middleware's
--   defaults), max_file_size = bytes: Swift's largest single object
--   (default Swift's, 5 GiB + 2), defaults = true: forget the remembered
--   settings }. Settings not given are those of the last `up` on dir.
-- @return env table (ST_AUTH, ST_USER, ST_KEY, SWIFT_STORAGE_URL, ...)
--   and a list of what it did ("restarted proxy (pid 123): it was not
--   answering (pid 99, stopped)", "healthy in 7100 ms"), or nil, a
--   message and a code ("invalid": a setting; "command": packages
--   missing, or swift-aio failed)
function M.up(opts)
  opts = opts or {}
  local dir = opts.dir or M.default_dir()
  local settings = opts.defaults and {} or M.settings({ dir = dir })
  for _, spec in ipairs(M.SETTINGS) do
    local v = opts[spec[1]]
    if v ~= nil then
      local checked, err, code = check_setting(spec, v)
      if checked == nil then
        return nil, err, code
      end
      settings[spec[1]] = checked
    end
  end
  if settings.unsandboxed == false then
    settings.unsandboxed = nil
  end
  local missing = M.missing_packages(settings.unsandboxed)
  if #missing > 0 then
    return nil, ("the devcloud needs Debian packages that are not "
      .. "installed; install them with:\n  apt-get install %s")
      :format(table.concat(missing, " ")), errors.COMMAND,
      { packages = missing }
  end
  local home, herr, hcode = M.home()
  if not home then
    return nil, herr, hcode
  end
  local nodes = settings.nodes or 1
  local args = { "up", "--dir", dir, "--no-install",
                 "--pythonpath", fs.join(home, "middleware"),
                 "--filter", "zerocloud=zerocloud_dev:filter_factory",
                 "--filter-conf", "zerocloud:system_images="
                   .. M.SYSTEM_IMAGES }
  -- the middleware's settings, always all of them: the proxy's config is
  -- written from these alone
  for _, spec in ipairs(M.SETTINGS) do
    local key = M.FILTER_KEYS[spec[1]]
    if key and settings[spec[1]] ~= nil then
      args[#args + 1] = "--filter-conf"
      args[#args + 1] = ("zerocloud:%s=%s"):format(key,
                                                   tostring(settings[spec[1]]))
    end
  end
  if settings.unsandboxed then
    args[#args + 1] = "--filter-conf"
    args[#args + 1] = "zerocloud:unsandboxed=true"
  end
  if nodes > 1 then
    -- issue 18: the proxy places nodes on the object servers, whose
    -- filter runs them; both halves share a secret and the settings
    local secret, serr, scode = M.secret_file(dir)
    if not secret then
      return nil, serr, scode
    end
    args[#args + 1] = "--filter-conf"
    args[#args + 1] = "zerocloud:secret_file=" .. secret
    local n = #args
    args[#args + 1] = "--object-filter"
    args[#args + 1] = "zerocloud=zerocloud_dev.objserver:filter_factory"
    for i = 1, n - 1 do
      if args[i] == "--filter-conf" then
        args[#args + 1] = "--object-filter-conf"
        args[#args + 1] = args[i + 1]
      end
    end
  end
  -- Swift's default unless told: so that forgetting the setting
  -- (--defaults) restores it
  args[#args + 1] = "--max-file-size"
  args[#args + 1] = tostring(settings.max_file_size or 5368709122)
  -- always: forgetting the setting (--defaults) means one node again
  args[#args + 1] = "--nodes"
  args[#args + 1] = tostring(settings.nodes or 1)
  if settings.port then
    args[#args + 1] = "--port"
    args[#args + 1] = tostring(settings.port)
  end
  local out, err, code, detail = swift_aio(args)
  if not out then
    return nil, "devcloud did not start:\n" .. err, code, detail
  end
  save_settings(dir, settings)
  local did = {}
  for line in err:gmatch("[^\n]+") do
    did[#did + 1] = (line:gsub("^swift%-aio: ", ""))
  end
  return M.parse_env(out), did
end

--- Stop what `up` started (its data stays).
-- @return true, or nil, a message and a code ("command")
function M.down(opts)
  local out, err, code, detail = swift_aio({ "down", "--dir",
    (opts or {}).dir or M.default_dir() })
  if not out then
    return nil, err, code, detail
  end
  return true
end

--- How each server does: asks every one of them (Swift's servers their
-- `/healthcheck`, memcached `version`) and looks at its process.
-- @return text (one line per server: "proxy: running (pid 123)",
--   "object-2: running (pid 124) on 127.0.0.3:6200" (storage node 2 of
--   a --nodes N devcloud),
--   "proxy: not answering (pid 123, stopped)", "object: dead (pid 77,
--   zombie)", "account: not running"; then the remembered settings),
--   healthy (boolean), and the lines of the servers that are not; or nil,
--   a message and a code ("command")
function M.status(opts)
  local dir = (opts or {}).dir or M.default_dir()
  local out, err, code, detail = swift_aio({ "status", "--dir", dir })
  local text
  if out then
    text = out
  elseif detail and detail.exit == 3 then
    text = err .. "\n"
  else
    return nil, err, code, detail
  end
  local bad = {}
  for line in text:gmatch("[^\n]+") do
    if not line:find(": running (", 1, true) then
      bad[#bad + 1] = line
    end
  end
  local settings = M.describe_settings(M.settings({ dir = dir }))
  if settings ~= "" then
    text = text .. "settings: " .. settings .. "\n"
  end
  return text, #bad == 0, bad
end

--- The settings of the devcloud at dir (from its last start).
-- @return env table, or nil, a message and "notfound"
function M.env(opts)
  local dir = (opts or {}).dir or M.default_dir()
  local text = fs.read(fs.join(dir, "env"))
  if not text then
    return nil, ("no devcloud in %s (run `zpm devcloud up` first)")
      :format(dir), errors.NOTFOUND
  end
  return M.parse_env(text)
end

--- The shell lines that point swift clients and zpm at the devcloud.
function M.exports(env)
  return ("export ST_AUTH=%s ST_USER=%s ST_KEY=%s"):format(
    quote(env.ST_AUTH), quote(env.ST_USER), quote(env.ST_KEY))
end

return M
