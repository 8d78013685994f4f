-- A devcloud that tells the truth about itself (issue 13): `status` asks
-- every server and names a stopped, hung, zombie or dead one (exit
-- non-zero); `up` restarts what is dead or hung and what changed settings
-- need, and says so; the settings of `up` are remembered across
-- down/up. Real servers: each case starts its own devcloud under a
-- temporary --dir with `zpm devcloud up`.
local util = require("support.util")

local started = {}

-- zpm devcloud ARGS... --dir DIR; returns stdout, stderr, exit code and
-- the seconds it took
local function devcloud(dir, ...)
  local args = { "devcloud", ... }
  args[#args + 1] = "--dir"
  args[#args + 1] = dir
  local t0 = util.sh("date +%s.%N")
  local out, err, code = util.zpm(args)
  local t1 = util.sh("date +%s.%N")
  return out, err, code, tonumber(t1) - tonumber(t0)
end

-- a devcloud of its own; returns its dir and env (ST_*, ports)
local function up(...)
  local dir = util.tmpdir() .. "/dc"
  local out, err, code = devcloud(dir, "up", ...)
  assert(code == 0, err .. out)
  started[#started + 1] = dir
  local env = {}
  for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
  return dir, env
end

local function pid_of(dir, name)
  local f = io.open(dir .. "/run/" .. name .. ".pid")
  local pid = f and tonumber(f:read("l"))
  if f then f:close() end
  return pid
end

-- the state letter of /proc/PID/stat, or nil when there is no process
local function state(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  local stat = f and f:read("a")
  if f then f:close() end
  return stat and stat:match("%) (%a)")
end

local function gone(pid)
  local s = state(pid)
  return s == nil or s == "Z"
end

local function signal(pid, name)
  assert(os.execute(("kill -%s %d"):format(name, pid)))
end

local function zpm_on(env, args, opts)
  local e = { ST_AUTH = env.ST_AUTH, ST_USER = env.ST_USER,
              ST_KEY = env.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
              OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" }
  return util.zpm(args, { cwd = (opts or {}).cwd, env = e })
end

local function hello()
  local root = util.tmpdir() .. "/hello"
  os.execute("cp -r " .. util.source_dir .. "/examples/hello " .. root)
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/hello.zapp"
end

-- a one-node Python job that sleeps `seconds`, then prints "slept"
local function sleeper(seconds)
  local root = util.tmpdir() .. "/sleeper"
  os.execute("mkdir -p " .. util.quote(root))
  util.write(root .. "/main.py", ("import time\ntime.sleep(%d)\n"
    .. "print('slept')\n"):format(seconds))
  util.write(root .. "/zapp.yaml", [[
execution:
  groups:
  - name: sleeper
    path: file://python3:python
    args: main.py
    devices:
    - name: python3
    - name: stdout
meta: {name: sleeper}
bundling: [main.py]
]])
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/sleeper.zapp"
end

-- deploy hello into a new container and execute it from there
local function deploy_and_execute(env)
  local c = ("health-%d-%d"):format(os.time(), math.random(1e6))
  local out, err, code = zpm_on(env, { "deploy", "--execute", c, hello() })
  assert.are.equal(0, code, err)
  assert.matches("Hello, ZeroVM world!\n$", out)
  out, err, code = zpm_on(env, { "execute", "--container", c, "hello" })
  assert.are.equal(0, code, err)
  assert.are.equal("Hello, ZeroVM world!\n", out)
end

local function assert_healthy(dir)
  local out, err, code = devcloud(dir, "status")
  assert.are.equal(0, code, err .. out)
  for _, name in ipairs({ "memcached", "account", "container", "object",
                          "container-updater", "proxy" }) do
    assert.matches("\n?" .. name:gsub("%-", "%%-") .. ": running %(pid %d+%)\n",
                   out)
  end
  return out
end

teardown(function()
  for i = #started, 1, -1 do
    devcloud(started[i], "down")
  end
  util.cleanup()
end)

describe("devcloud health: a stopped (SIGSTOP) proxy", function()
  local dir, env, pid
  setup(function() dir, env = up() end)

  it("is named by status, which exits non-zero at once", function()
    pid = pid_of(dir, "proxy")
    signal(pid, "STOP")
    local out, err, code, took = devcloud(dir, "status")
    assert.are.equal(1, code, out)
    assert.matches(("proxy: not answering %%(pid %d, stopped%%)\n"):format(pid),
                   out)
    assert.matches("object: running %(pid %d+%)", out)
    assert.matches("^Error: devcloud is not healthy: proxy not answering "
                   .. "%(pid %d+, stopped%)", err)
    assert.is_true(took < 5, "status took " .. took .. " s")
  end)

  it("is healthy again after SIGCONT", function()
    signal(pid, "CONT")
    assert_healthy(dir)
  end)

  it("is killed and restarted by up, which says so", function()
    signal(pid, "STOP")
    local out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    local new = tonumber(out:match(("restarted proxy %%(pid (%%d+)%%): it was "
      .. "not answering %%(pid %d, stopped%%); killed it\n"):format(pid)))
    assert.is_number(new, out)
    assert.are_not.equal(pid, new)
    assert.is_true(gone(pid))
    assert.matches("export ST_AUTH=", out)
    assert_healthy(dir)
    local hello_out, herr, hcode = zpm_on(env, { "execute", hello() })
    assert.are.equal(0, hcode, herr)
    assert.are.equal("Hello, ZeroVM world!\n", hello_out)
  end)

  it("hung (takes connections, never answers): status says so; up kills "
     .. "it with the job it runs, and restarts it", function()
    -- in place of the proxy: a process with the proxy's command line, in
    -- a session of its own like the proxy, listening on its port, that
    -- never answers; its child stands for a job
    local old = pid_of(dir, "proxy")
    signal(old, "KILL")
    assert.is_truthy(util.wait_until(function() return gone(old) end, 5))
    local port = util.read(dir .. "/etc/proxy-server.conf")
      :match("\nbind_port = (%d+)")
    local childfile = util.tmpdir() .. "/child"
    local hung = util.spawn({ "setsid", "/usr/bin/python3", "-c", [[
import socket, subprocess, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[4])))
s.listen(5)
job = subprocess.Popen(["sleep", "600"])
open(sys.argv[5], "w").write(str(job.pid))
print("ready", flush=True)
time.sleep(600)
]], "/x/swift-server.py", "proxy", dir .. "/etc/proxy-server.conf", port,
      childfile })
    finally(function() util.kill(hung) end)
    local child = tonumber(util.read(childfile))
    util.write(dir .. "/run/proxy.pid", hung .. "\n")
    local out, err, code, took = devcloud(dir, "status")
    assert.are.equal(1, code, out)
    assert.matches(("proxy: not answering %%(pid %d, no answer in 2 s%%)\n")
      :format(hung), out)
    assert.matches("proxy not answering", err)
    assert.is_true(took >= 2 and took < 6, "status took " .. took .. " s")
    out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    assert.matches(("restarted proxy %%(pid %%d+%%): it was not answering "
      .. "%%(pid %d, no answer in 5 s%%); killed it\n"):format(hung), out)
    assert.is_true(gone(hung))
    assert.is_true(gone(child))
    assert_healthy(dir)
  end)
end)

describe("devcloud health: a crashed (SIGKILL) proxy", function()
  local dir, env
  setup(function() dir, env = up() end)

  it("is dead for status; up restarts it and jobs run", function()
    local pid = pid_of(dir, "proxy")
    signal(pid, "KILL")
    assert.is_truthy(util.wait_until(function() return gone(pid) end, 5))
    local out, err, code = devcloud(dir, "status")
    assert.are.equal(1, code, out)
    assert.matches(("proxy: dead %%(pid %d, %%a+%%)\n"):format(pid), out)
    assert.matches("proxy dead", err)
    out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    assert.matches(("restarted proxy %%(pid %%d+%%): it was dead %%(pid %d, "
      .. "%%a+%%)\n"):format(pid), out)
    assert_healthy(dir)
    deploy_and_execute(env)
  end)

  it("is dead for status when its pid is a zombie's, and up restarts it",
     function()
    -- a crashed server that nobody reaped: kill -0 still succeeds
    local pid = pid_of(dir, "proxy")
    signal(pid, "KILL")
    assert.is_truthy(util.wait_until(function() return gone(pid) end, 5))
    local pidfile = util.tmpdir() .. "/zombie"
    local parent = util.spawn({ "/usr/bin/python3", "-c", [[
import os, sys, time
child = os.fork()
if child == 0:
    os._exit(0)
open(sys.argv[1], 'w').write(str(child))
print('ready', flush=True)
time.sleep(120)
]], pidfile })
    local zombie
    finally(function() util.kill(parent) end)
    assert.is_truthy(util.wait_until(function()
      zombie = tonumber(util.exists(pidfile) and util.read(pidfile) or "")
      return zombie and state(zombie) == "Z"
    end, 5))
    assert.is_true(os.execute("kill -0 " .. zombie))
    util.write(dir .. "/run/proxy.pid", zombie .. "\n")
    local out, _, code = devcloud(dir, "status")
    assert.are.equal(1, code, out)
    assert.matches(("proxy: dead %%(pid %d, zombie%%)\n"):format(zombie), out)
    local err
    out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    assert.matches(("restarted proxy %%(pid %%d+%%): it was dead %%(pid %d, "
      .. "zombie%%)\n"):format(zombie), out)
    assert_healthy(dir)
    deploy_and_execute(env)
  end)
end)

describe("devcloud health: a dead object server and memcached", function()
  local dir, env
  setup(function() dir, env = up() end)

  it("object: status says dead, up restarts it, deploy works", function()
    local pid = pid_of(dir, "object")
    signal(pid, "KILL")
    assert.is_truthy(util.wait_until(function() return gone(pid) end, 5))
    local out, err, code = devcloud(dir, "status")
    assert.are.equal(1, code, out)
    assert.matches(("object: dead %%(pid %d, %%a+%%)\n"):format(pid), out)
    assert.matches("proxy: running", out)
    assert.matches("object dead", err)
    out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    assert.matches("restarted object %(pid %d+%): it was dead", out)
    assert.is_nil(out:find("restarted proxy", 1, true), out)
    assert_healthy(dir)
    deploy_and_execute(env)
  end)

  it("memcached: stopped, then dead; up restarts it", function()
    local pid = pid_of(dir, "memcached")
    signal(pid, "STOP")
    local out, _, code = devcloud(dir, "status")
    assert.are.equal(1, code, out)
    assert.matches(("memcached: not answering %%(pid %d, stopped%%)"):format(
      pid), out)
    signal(pid, "KILL")
    assert.is_truthy(util.wait_until(function() return gone(pid) end, 5))
    out = devcloud(dir, "status")
    assert.matches(("memcached: dead %%(pid %d, %%a+%%)"):format(pid), out)
    local err
    out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    assert.matches("restarted memcached %(pid %d+%): it was dead", out)
    assert_healthy(dir)
    deploy_and_execute(env)
  end)
end)

describe("devcloud health: settings survive down and up", function()
  local dir, env
  setup(function()
    dir, env = up("--time-limit", "2", "--disk-limit", "10M",
                  "--output-limit", "1M", "--process-limit", "16",
                  "--job-nodes", "80")
  end)

  it("passes the sandbox limits to the middleware", function()
    local conf = util.read(dir .. "/etc/proxy-server.conf")
    assert.matches("\ntimeout = 2\n", conf)
    assert.matches("\ndisk_limit = 10485760\n", conf)
    assert.matches("\noutput_limit = 1048576\n", conf)
    assert.matches("\nprocess_limit = 16\n", conf)
    assert.matches("\nmax_nodes = 80\n", conf)
  end)

  it("a restarted devcloud still kills a 5 s job after 2 s", function()
    local _, err, code = devcloud(dir, "down")
    assert.are.equal(0, code, err)
    local out
    out, err, code = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    local conf = util.read(dir .. "/etc/proxy-server.conf")
    assert.matches("\ntimeout = 2\n", conf)
    assert.matches("\ndisk_limit = 10485760\n", conf)
    assert.matches("\nprocess_limit = 16\n", conf)
    out = assert_healthy(dir)
    assert.matches("\nsettings: %-%-time%-limit 2 %-%-disk%-limit 10485760 "
      .. "%-%-output%-limit 1048576 %-%-process%-limit 16 %-%-job%-nodes 80",
      out)
    local t0 = os.time()
    out, err, code = zpm_on(env, { "execute", "-s", sleeper(5) })
    assert.are.equal(3, code, err)
    assert.matches("| +sleeper +| +Killed by timeout +|", out)
    assert.is_nil(out:find("slept", 1, true))
    assert.is_true(os.time() - t0 < 5)
  end)

  it("--defaults forgets them", function()
    local out, err, code = devcloud(dir, "up", "--defaults")
    assert.are.equal(0, code, err)
    assert.matches("restarted proxy %(pid %d+%): for new settings: timeout unset",
                   out)
    local conf = util.read(dir .. "/etc/proxy-server.conf")
    assert.is_nil(conf:find("timeout =", 1, true))
    assert.is_nil(conf:find("disk_limit =", 1, true))
    out = assert_healthy(dir)
    assert.is_nil(out:find("settings:", 1, true))
  end)
end)

describe("devcloud health: a new setting on a running devcloud", function()
  local dir, env
  setup(function() dir, env = up("--time-limit", "2") end)

  it("up without changes restarts nothing", function()
    local pid = pid_of(dir, "proxy")
    local out, err, code, took = devcloud(dir, "up")
    assert.are.equal(0, code, err)
    assert.is_nil(out:find("restarted", 1, true), out)
    assert.are.equal(pid, pid_of(dir, "proxy"))
    assert.is_true(took < 5, "up took " .. took .. " s")
    -- the same value given again is no change either
    out, err, code = devcloud(dir, "up", "--time-limit", "2")
    assert.are.equal(0, code, err)
    assert.is_nil(out:find("restarted", 1, true), out)
    assert.are.equal(pid, pid_of(dir, "proxy"))
  end)

  it("up --time-limit 30 restarts the proxy, says so, and applies it",
     function()
    local pid, object = pid_of(dir, "proxy"), pid_of(dir, "object")
    local out, err, code = devcloud(dir, "up", "--time-limit", "30")
    assert.are.equal(0, code, err)
    assert.matches("restarted proxy %(pid %d+%): for new settings: timeout = 30\n", out)
    assert.are_not.equal(pid, pid_of(dir, "proxy"))
    assert.are.equal(object, pid_of(dir, "object"))
    assert.matches("export ST_AUTH=", out)
    assert.matches("settings: %-%-time%-limit 30\n", assert_healthy(dir))
    out, err, code = zpm_on(env, { "execute", sleeper(5) })
    assert.are.equal(0, code, err)
    assert.are.equal("slept\n", out)
  end)

  it("env still prints the exports", function()
    local out, _, code = devcloud(dir, "env")
    assert.are.equal(0, code)
    assert.matches("^export ST_AUTH='http://127%.0%.0%.1:%d+/auth/v1%.0' "
                   .. "ST_USER='test:tester' ST_KEY='testing'\n$", out)
  end)
end)
