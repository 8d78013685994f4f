--- Helpers shared by the specs: temporary directories, running the zpm
-- command as a subprocess, reading files.
local lfs = require("lfs")

local M = {}

M.source_dir = os.getenv("ZPM_SOURCE_DIR") or lfs.currentdir()
M.build_dir = os.getenv("ZPM_BUILD_DIR") or (M.source_dir .. "/build")
--- The zpm command under test: $ZPM_BIN (e.g. an installed one), else
-- the build tree's launcher.
M.zpm_bin = os.getenv("ZPM_BIN") or (M.build_dir .. "/bin/zpm")

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- A fresh empty directory; removed by `cleanup`.
local made = {}
function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/zpm-spec-XXXXXX")
  local dir = p:read("l")
  p:close()
  made[#made + 1] = dir
  return dir
end

function M.cleanup()
  for _, dir in ipairs(made) do
    os.execute("rm -rf " .. M.quote(dir))
  end
  made = {}
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

function M.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

function M.exists(path)
  return lfs.symlinkattributes(path, "mode") ~= nil
end

--- Run a shell command; returns stdout, stderr, exit code.
function M.sh(cmd, opts)
  opts = opts or {}
  local out = os.tmpname()
  local err = os.tmpname()
  local full = cmd .. " >" .. out .. " 2>" .. err
  if opts.cwd then
    full = "cd " .. M.quote(opts.cwd) .. " && " .. full
  end
  if opts.env then
    local prefix = {}
    for k, v in pairs(opts.env) do
      prefix[#prefix + 1] = k .. "=" .. M.quote(v)
    end
    full = "env " .. table.concat(prefix, " ") .. " sh -c " .. M.quote(full)
  end
  local _, _, code = os.execute(full)
  local stdout, stderr = M.read(out), M.read(err)
  os.remove(out)
  os.remove(err)
  return stdout, stderr, code
end

--- Run zpm with arguments (a list) in cwd.
function M.zpm(args, opts)
  local words = { M.quote(M.zpm_bin) }
  for _, a in ipairs(args) do
    words[#words + 1] = M.quote(a)
  end
  return M.sh(table.concat(words, " "), opts)
end

--- The non-empty lines of a text.
function M.lines(text)
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    lines[#lines + 1] = line
  end
  return lines
end

--- Names of the members of a .zapp, in archive order (GNU tar).
function M.members(zapp)
  local out, _, code = M.sh("tar -tzf " .. M.quote(zapp))
  assert(code == 0, "tar could not list " .. zapp)
  return M.lines(out)
end

--- One member's content.
function M.member(zapp, name)
  local out, _, code = M.sh("tar -xzOf " .. M.quote(zapp) .. " "
                            .. M.quote(name))
  assert(code == 0, "no member " .. name .. " in " .. zapp)
  return out
end

--- A free TCP port on 127.0.0.1 (the kernel's pick).
function M.free_port()
  local p = io.popen("/usr/bin/python3 -c 'import socket; s = socket."
    .. "socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
  local port = tonumber(p:read("l"))
  p:close()
  return port
end

--- Start a background process (argv list); waits until it prints a
-- first line on stdout (a "ready" line) or 10 s pass. Returns its pid.
function M.spawn(argv)
  local words = {}
  for i, a in ipairs(argv) do
    words[i] = M.quote(a)
  end
  local log = os.tmpname()
  local p = io.popen(("sh -c '%s > %s 2>&1 & echo $!'"):format(
    table.concat(words, " "):gsub("'", "'\\''"), log))
  local pid = tonumber(p:read("l"))
  p:close()
  for _ = 1, 100 do
    local f = io.open(log)
    local line = f and f:read("l")
    if f then f:close() end
    if line then
      break
    end
    os.execute("sleep 0.1")
  end
  os.remove(log)
  return pid
end

function M.kill(pid)
  if pid then
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
end

-- Run zpm under a pseudo-terminal (util-linux's script) of `cols`
-- columns: stderr is the terminal, stdout a file. Returns what the
-- terminal showed (its '\n' become "\r\n"), stdout and the exit code.
function M.zpm_on_tty(args, cwd, cols, env)
  local stdout = os.tmpname()
  local words = { M.quote(M.zpm_bin) }
  for _, a in ipairs(args) do
    words[#words + 1] = M.quote(a)
  end
  local inner = ("stty cols %d; %s >%s"):format(cols or 100,
    table.concat(words, " "), M.quote(stdout))
  local tty, err, code = M.sh("script -qfec " .. M.quote(inner)
    .. " /dev/null </dev/null", { cwd = cwd, env = env })
  local out = M.read(stdout)
  os.remove(stdout)
  assert(err == "", err)
  return tty, out, code
end

-- The lines the meter drew: split at '\r' and '\n', without the
-- clear-to-end-of-line; empty pieces dropped.
function M.drawn(tty)
  local lines = {}
  for piece in tty:gsub("\27%[K", ""):gmatch("[^\r\n]+") do
    lines[#lines + 1] = piece
  end
  return lines
end

--- Poll `check` (a function) every `step` seconds (default 0.02) until it
-- returns a true value or `seconds` pass. Returns that value, or false.
function M.wait_until(check, seconds, step)
  -- os.time's whole seconds: the wait is between seconds and seconds + 1
  local deadline = os.time() + math.ceil(seconds) + 1
  repeat
    local got = check()
    if got then
      return got
    end
    os.execute("sleep " .. (step or 0.02))
  until os.time() >= deadline
  return check() or false
end

--- Start spec/support/http_stub.py on 127.0.0.1 (its log and port file
-- in dir). Returns its base URL ("http://127.0.0.1:<port>") and pid.
function M.http_stub(dir)
  local portfile = dir .. "/port"
  os.execute(("/usr/bin/python3 %s %s >%s 2>&1 & echo $! >%s"):format(
    M.quote(M.source_dir .. "/spec/support/http_stub.py"),
    M.quote(portfile), M.quote(dir .. "/stub.log"),
    M.quote(dir .. "/pid")))
  local pid = M.read(dir .. "/pid"):match("%d+")
  M.wait_until(function() return M.exists(portfile) end, 5, 0.05)
  return "http://127.0.0.1:" .. M.read(portfile), pid
end

--- Start zpm (args as for `M.zpm`; opts.cwd, opts.env) in the background
-- with SIGINT, SIGTERM and SIGHUP at their defaults, as a terminal starts
-- it (a shell's `cmd &` would start it with SIGINT ignored). Returns a
-- handle for `M.signal` and `M.finish`; `handle.pid` is zpm's own pid.
function M.zpm_background(args, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local words = { "env", "--default-signal=INT,TERM,HUP" }
  for k, v in pairs(opts.env or {}) do
    words[#words + 1] = k .. "=" .. M.quote(v)
  end
  words[#words + 1] = M.quote(M.zpm_bin)
  for _, a in ipairs(args) do
    words[#words + 1] = M.quote(a)
  end
  local q = M.quote(dir)
  -- the files appear whole (mv): a reader never sees half a number
  local inner = ("%s >%s/out 2>%s/err </dev/null & echo $! >%s/pid.tmp; "
    .. "mv %s/pid.tmp %s/pid; wait $!; echo $? >%s/rc.tmp; "
    .. "mv %s/rc.tmp %s/rc"):format(table.concat(words, " "), q, q, q, q, q,
    q, q, q)
  local cd = opts.cwd and ("cd " .. M.quote(opts.cwd) .. " && ") or ""
  os.execute("(" .. cd .. "sh -c " .. M.quote(inner)
             .. ") >/dev/null 2>&1 &")
  local handle = { dir = dir }
  handle.pid = M.wait_until(function()
    local f = io.open(dir .. "/pid")
    local pid = f and tonumber(f:read("l"))
    if f then f:close() end
    return pid
  end, 10)
  assert(handle.pid, "zpm did not start")
  return handle
end

--- Whether a background zpm has exited.
function M.exited(handle)
  return M.exists(handle.dir .. "/rc")
end

--- Send a signal ("INT", "TERM", "HUP", "KILL") to a background zpm.
function M.signal(handle, name)
  os.execute(("kill -%s %d 2>/dev/null"):format(name, handle.pid))
end

--- Wait for a background zpm to exit, at most `seconds` (default 15):
-- returns stdout, stderr and the exit code, or the code "timeout" (and
-- zpm killed with SIGKILL) when it did not exit in time.
function M.finish(handle, seconds)
  local function rc()
    local f = io.open(handle.dir .. "/rc")
    local code = f and tonumber(f:read("l"))
    if f then f:close() end
    return code
  end
  local code = M.wait_until(rc, seconds or 15)
  if not code then
    M.signal(handle, "KILL")
    M.wait_until(rc, 5)
    code = "timeout"
  end
  local function slurp(name)
    local f = io.open(handle.dir .. "/" .. name, "rb")
    local data = f and f:read("a") or ""
    if f then f:close() end
    return data
  end
  return slurp("out"), slurp("err"), code
end

--- Bytes a process has read so far (/proc/PID/io rchar), or nil.
function M.bytes_read(pid)
  local f = io.open(("/proc/%d/io"):format(pid))
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return tonumber(text:match("rchar:%s*(%d+)"))
end

--- Whether a running process has `text` in its command line.
function M.process_with(text)
  for entry in lfs.dir("/proc") do
    if entry:match("^%d+$") then
      local f = io.open("/proc/" .. entry .. "/cmdline", "rb")
      local cmdline = f and f:read("a")
      if f then f:close() end
      if cmdline and cmdline:find(text, 1, true) then
        return tonumber(entry)
      end
    end
  end
  return nil
end

--- The environment for zpm as the test Swift's v1 user (`sw` from
-- support.servers), with every other auth setting emptied.
function M.v1_env(sw)
  return { ST_AUTH = sw.ST_AUTH, ST_USER = sw.ST_USER, ST_KEY = sw.ST_KEY,
           OS_AUTH_URL = "", OS_USERNAME = "", OS_PASSWORD = "",
           OS_STORAGE_URL = "", OS_AUTH_TOKEN = "", OS_AUTH_VERSION = "" }
end

--- python-swiftclient's `swift` as that user: out, err, code.
function M.swift_cli(sw, args)
  return M.sh("/usr/bin/swift -A " .. M.quote(sw.ST_AUTH) .. " -U "
    .. M.quote(sw.ST_USER) .. " -K " .. M.quote(sw.ST_KEY) .. " " .. args,
    { env = { OS_AUTH_URL = "", OS_USERNAME = "" } })
end

--- A request to spec/support/fault_proxy.py's control endpoint on port:
-- its decoded JSON answer (raises when the request fails).
function M.fault_control(port, method, path, value)
  local json = require("zpm.json")
  local cmd = ("curl -sf -X %s http://127.0.0.1:%d%s"):format(method, port,
                                                            path)
  if value ~= nil then
    cmd = cmd .. " -H 'Content-Type: application/json' --data-binary "
      .. M.quote(json.encode(value))
  end
  local out, err, code = M.sh(cmd)
  assert(code == 0, "fault proxy control: " .. cmd .. ": " .. err)
  return json.decode(out)
end

--- `zpm execute -s --summary-format json ZAPP` through run (a function
-- taking zpm's arguments): stdout is the job's output alone, the summary
-- the one JSON line of stderr. Returns out, the first node's row, err,
-- code.
function M.execute_json(run, zapp)
  local out, err, code = run({ "execute", "-s", "--summary-format", "json",
                               zapp })
  local node
  for line in err:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then
      node = require("cjson").decode(line).nodes[1]
    end
  end
  return out, node, err, code
end

return M
