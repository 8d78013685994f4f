-- spec/support/servers.lua: start/stop the devcloud servers (a real
-- OpenStack Swift, and Keystone v3) on 127.0.0.1 for busted specs.
-- Lua 5.4, standard library only (io.popen / os.execute).
--
--   local servers = require("spec.support.servers")   -- or dofile(...)
--   local sw = servers.swift()               -- tempauth proxy
--   -- sw.ST_AUTH, sw.ST_USER, sw.ST_KEY, sw.SWIFT_STORAGE_URL, ...
--   local both = servers.swift({ keystone = true })
--   -- also both.OS_AUTH_URL, both.OS_USERNAME, ..., both.KS_STORAGE_URL
--   local ks = servers.keystone()            -- Keystone alone
--   servers.stop_all()                       -- in teardown()
--
-- servers.swift(opts) options (all optional):
--   dir            state directory (default: <temp root>/swift)
--   port           tempauth proxy port (default: a free one)
--   keystone       true: also start Keystone and the keystone proxy
--   filters        list of "NAME=SPEC" (SPEC: egg:dist#name or module:factory)
--   filter_conf    list of "NAME:KEY=VALUE"
--   pythonpath     list of directories added to the proxies' PYTHONPATH
--   max_file_size  bytes
--   timeout        seconds to wait for health (default 60)
-- servers.keystone(opts): dir, port, swift_port, swift_url, timeout.
--
-- Environment:
--   ZPM_SOURCE_DIR        repository root (default: found from this file)
--   ZPM_TEST_SWIFT_DIR    use this swift-aio state dir (reused when it is up;
--                         started if not); never stopped or removed by us
--                         unless we started it
--   ZPM_TEST_KEYSTONE_DIR the same for keystone-aio
--   ZPM_TEST_TMP          where to make the temp root (default /tmp)
--   ZPM_TEST_KEEP=1       stop_all() stops servers but keeps the temp root
--
-- Results are cached: a second servers.swift() with the same options
-- returns the same table without starting anything.

local servers = {}

local started = {}      -- { {script=..., dir=...}, ... } in start order
local cache = {}        -- key -> env table
local temp_root = nil   -- made by us, removed by stop_all

local function shq(s)
  s = tostring(s)
  if s:match("^[%w@%%+=:,./_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function source_dir()
  local d = os.getenv("ZPM_SOURCE_DIR")
  if d and d ~= "" then return (d:gsub("/+$", "")) end
  local src = debug.getinfo(1, "S").source
  local path = src:sub(1, 1) == "@" and src:sub(2) or src
  local root = path:match("^(.*)/spec/support/servers%.lua$")
  if root == nil then
    if path == "spec/support/servers.lua" then root = "." else
      error("servers.lua: cannot find the repository root; set ZPM_SOURCE_DIR")
    end
  end
  if root:sub(1, 1) ~= "/" then
    local pwd = os.getenv("PWD")
    if not pwd or pwd == "" then
      local p = io.popen("pwd"); pwd = p:read("l"); p:close()
    end
    root = (root == "." or root == "") and pwd or (pwd .. "/" .. root)
  end
  return root
end

local function script(name)
  return source_dir() .. "/devcloud/" .. name
end

-- shell-unquote a value as written by the scripts: bare, or '...' pieces
local function unquote(v)
  if not v:find("'", 1, true) then return v end
  local out, i = {}, 1
  while i <= #v do
    local c = v:sub(i, i)
    if c == "'" then
      local j = v:find("'", i + 1, true) or (#v + 1)
      out[#out + 1] = v:sub(i + 1, j - 1)
      i = j + 1
    elseif c == "\\" then
      out[#out + 1] = v:sub(i + 1, i + 1)
      i = i + 2
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

function servers.parse_env(text)
  local env = {}
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then env[k] = unquote(v) end
  end
  return env
end

local function tmpname()
  local p = io.popen("mktemp " .. shq((os.getenv("ZPM_TEST_TMP") or "/tmp") .. "/zpm-servers.XXXXXX"))
  local f = p:read("l"); p:close()
  return f
end

local function root()
  if not temp_root then
    local base = os.getenv("ZPM_TEST_TMP") or "/tmp"
    local p = io.popen("mktemp -d " .. shq(base .. "/zpm-devcloud.XXXXXX"))
    temp_root = p:read("l"); p:close()
    if not temp_root or temp_root == "" then error("servers.lua: mktemp -d failed") end
  end
  return temp_root
end

local function read_file(path)
  local f = io.open(path, "r")
  if not f then return "" end
  local s = f:read("a"); f:close()
  return s
end

-- start a command, return a handle to finish() later (lets two run at once)
local function spawn(cmd)
  local errf = tmpname()
  local p = assert(io.popen(cmd .. " 2>" .. shq(errf), "r"))
  return { p = p, errf = errf, cmd = cmd }
end

local function finish(h)
  local out = h.p:read("a")
  local ok, _, code = h.p:close()
  local err = read_file(h.errf)
  os.remove(h.errf)
  if not ok then
    error(("servers.lua: `%s` failed (exit %s):\n%s%s"):format(h.cmd, tostring(code), out, err), 0)
  end
  return servers.parse_env(out), err
end

local function is_up(scr, dir)
  local ok = os.execute(shq(scr) .. " status --dir " .. shq(dir) .. " >/dev/null 2>&1")
  return ok == true
end

local function free_ports(n)
  local p = io.popen(shq(script("swift-aio")) .. " free-ports " .. n)
  local s = p:read("a"); p:close()
  local t = {}
  for w in s:gmatch("%d+") do t[#t + 1] = tonumber(w) end
  if #t ~= n then error("servers.lua: could not get free ports") end
  return table.unpack(t)
end

local function remember(scr, dir, was_up)
  if was_up then return end
  for _, s in ipairs(started) do
    if s.script == scr and s.dir == dir then return end
  end
  started[#started + 1] = { script = scr, dir = dir }
end

local function list_opts(flag, list)
  local s = ""
  for _, v in ipairs(list or {}) do s = s .. " " .. flag .. " " .. shq(v) end
  return s
end

local function key_of(kind, opts)
  local parts = { kind }
  local keys = {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = opts[k]
    if type(v) == "table" then v = table.concat(v, "\1") end
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  return table.concat(parts, "\0")
end

local function keystone_cmd(opts, dir)
  local cmd = shq(script("keystone-aio")) .. " up --dir " .. shq(dir)
  if opts.port then cmd = cmd .. " --port " .. shq(opts.port) end
  if opts.swift_url then cmd = cmd .. " --swift-url " .. shq(opts.swift_url)
  elseif opts.swift_port then cmd = cmd .. " --swift-port " .. shq(opts.swift_port) end
  if opts.timeout then cmd = cmd .. " --timeout " .. shq(opts.timeout) end
  return cmd
end

local function keystone_dir(opts)
  local envdir = os.getenv("ZPM_TEST_KEYSTONE_DIR")
  if opts.dir then return opts.dir, false end
  if envdir and envdir ~= "" then return envdir, true end
  return root() .. "/keystone", false
end

-- servers.keystone(opts) -> env table (OS_AUTH_URL, OS_USERNAME, ...)
function servers.keystone(opts)
  opts = opts or {}
  local key = key_of("keystone", opts)
  if cache[key] then return cache[key] end
  local scr = script("keystone-aio")
  local dir, external = keystone_dir(opts)
  local was_up = is_up(scr, dir)
  local env = finish(spawn(keystone_cmd(opts, dir)))
  remember(scr, dir, was_up or external)
  cache[key] = env
  return env
end

-- servers.swift(opts) -> env table (ST_AUTH, ST_USER, ST_KEY, ...; with
-- opts.keystone also the Keystone ones and SWIFT_KEYSTONE_PROXY_URL)
function servers.swift(opts)
  opts = opts or {}
  local key = key_of("swift", opts)
  if cache[key] then return cache[key] end
  local scr = script("swift-aio")
  local dir, external = opts.dir, false
  if not dir then
    local envdir = os.getenv("ZPM_TEST_SWIFT_DIR")
    if envdir and envdir ~= "" then dir, external = envdir, true
    else dir = root() .. "/swift" end
  end
  local was_up = is_up(scr, dir)
  local cmd = shq(scr) .. " up --dir " .. shq(dir)
  if opts.port then cmd = cmd .. " --port " .. shq(opts.port) end
  if opts.max_file_size then cmd = cmd .. " --max-file-size " .. shq(opts.max_file_size) end
  if opts.timeout then cmd = cmd .. " --timeout " .. shq(opts.timeout) end
  cmd = cmd .. list_opts("--filter", opts.filters)
  cmd = cmd .. list_opts("--filter-conf", opts.filter_conf)
  cmd = cmd .. list_opts("--pythonpath", opts.pythonpath)

  local kenv, kh, kdir, kscr, kwas_up, kext
  if opts.keystone then
    kscr = script("keystone-aio")
    kdir, kext = keystone_dir({})
    kwas_up = is_up(kscr, kdir)
    if was_up and kwas_up then
      -- both running: the ports are in their env files
      kenv = finish(spawn(keystone_cmd({}, kdir)))
    else
      local kport, pport = free_ports(2)
      if kwas_up then
        kenv = finish(spawn(keystone_cmd({}, kdir)))
        kport = kenv.KEYSTONE_PORT
      end
      cmd = cmd .. " --keystone-port " .. shq(kport) .. " --keystone-proxy-port " .. shq(pport)
      if not kwas_up then
        -- Keystone and Swift start at the same time (the proxy needs
        -- Keystone only when the first token comes)
        kh = spawn(keystone_cmd({ port = kport, swift_port = pport, timeout = opts.timeout }, kdir))
      end
    end
  end
  local sh = spawn(cmd)
  local env = finish(sh)
  if kh then kenv = finish(kh) end
  remember(scr, dir, was_up or external)
  if kenv then
    remember(kscr, kdir, kwas_up or kext)
    for k, v in pairs(kenv) do env[k] = v end
  end
  cache[key] = env
  return env
end

-- stop what this module started (newest first); remove the temp root
function servers.stop_all(opts)
  opts = opts or {}
  for i = #started, 1, -1 do
    local s = started[i]
    os.execute(shq(s.script) .. " down --dir " .. shq(s.dir) .. " >/dev/null 2>&1")
  end
  started = {}
  cache = {}
  local keep = opts.keep or (os.getenv("ZPM_TEST_KEEP") or "") ~= ""
  if temp_root and not keep then
    os.execute("rm -rf " .. shq(temp_root))
  end
  temp_root = nil
end

servers.source_dir = source_dir
servers.unquote = unquote

return servers
