-- Hostile zapps: members that climb out with '..', absolute names,
-- symlinks out of the image, device files, sizes the archive does not
-- hold. Deploy must refuse what it would write from them (and leave the
-- target unrunnable), and the devcloud must refuse to run them.
local util = require("support.util")

local KINDS = { "dotdot", "absolute", "symlink", "device", "hugesize" }

local dir, env

local function zpm(args)
  return util.zpm(args, { env = { ST_AUTH = env.ST_AUTH,
    ST_USER = env.ST_USER, ST_KEY = env.ST_KEY, OS_AUTH_URL = "",
    OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" } })
end

local function swift(args)
  return util.sh(("/usr/bin/swift -A %s -U %s -K %s %s"):format(
    util.quote(env.ST_AUTH), util.quote(env.ST_USER), util.quote(env.ST_KEY),
    args), { env = { OS_AUTH_URL = "" } })
end

local function hostile(kind)
  local path = util.tmpdir() .. "/evil.zapp"
  assert(os.execute(("python3 %s/spec/support/hostile_zapp.py %s %s")
    :format(util.source_dir, util.quote(path), kind)))
  return path
end

describe("hostile zapps", function()
  setup(function()
    dir = util.tmpdir()
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
                                      "--time-limit", "10" })
    assert(code == 0, err)
    env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  for _, kind in ipairs(KINDS) do
    it("are not run by the devcloud: " .. kind, function()
      local out, err, code = zpm({ "execute", hostile(kind) })
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.matches("^Error: 4%d%d ", err)
      assert.is_nil(err:find("ran", 1, true))
    end)

    it("never become a runnable deployment: " .. kind, function()
      local c = ("hostile-%s-%d"):format(kind, os.time())
      local _, err, code = zpm({ "deploy", c, hostile(kind) })
      if code == 0 then
        -- nothing dangerous was written by deploy itself: running it is
        -- where the devcloud refuses
        local out
        out, err, code = zpm({ "execute", "--container", c, "evil" })
        assert.are.equal(1, code, err)
        assert.are.equal("", out)
        assert.matches("^Error: 4%d%d ", err)
      else
        assert.are.equal(1, code)
        assert.matches("^Error: ", err)
        local listing = swift("list " .. c)
        assert.is_nil(listing:find("boot/system.map", 1, true))
      end
    end)
  end

  it("refuses '..' and absolute UI members at deploy time", function()
    for _, kind in ipairs({ "dotdot", "absolute" }) do
      local _, err, code = zpm({ "deploy", "ui-" .. kind .. os.time(),
                                 hostile(kind) })
      assert.are.equal(1, code)
      assert.matches("refusing member", err)
    end
  end)
end)

-- Hostile nodes against the sandbox's limits (issue 13): what a node does
-- to get around them. (spec/cloud/sandbox_spec.lua replays the reports.)
describe("hostile nodes against the sandbox", function()
  local lfs = require("lfs")
  local DISK = 32 * 1024 * 1024

  setup(function()
    dir = util.tmpdir()
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
      "--time-limit", "20", "--memory-limit", "256M", "--disk-limit",
      tostring(DISK), "--process-limit", "16" })
    assert(code == 0, err)
    env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  local function python_job(name, script, args)
    local root = util.tmpdir() .. "/" .. name
    os.execute("mkdir -p " .. util.quote(root))
    util.write(root .. "/main.py", script)
    util.write(root .. "/zapp.yaml", ([[
execution:
  groups:
  - name: %s
    path: file://python3:python
    args: main.py%s
    devices:
    - name: python3
    - name: stdout
meta: {name: %s}
bundling: [main.py]
]]):format(name, args and (" " .. args) or "", name))
    local _, err, code = util.zpm({ "bundle" }, { cwd = root })
    assert(code == 0, err)
    return root .. "/" .. name .. ".zapp"
  end

  local function execute(zapp)
    return util.execute_json(zpm, zapp)
  end

  local function pids_with(text)
    local n = 0
    for entry in lfs.dir("/proc") do
      if entry:match("^%d+$") then
        local f = io.open("/proc/" .. entry .. "/cmdline", "rb")
        local cmdline = f and f:read("a")
        if f then f:close() end
        if cmdline and cmdline:find(text, 1, true) then
          n = n + 1
        end
      end
    end
    return n
  end

  it("does not let a daemon outlive its node", function()
    local mark = ("zc-daemon-%d-%d"):format(os.time(), math.random(1 << 30))
    local out, node, err, code = execute(python_job("daemon", [[
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        os.closerange(0, 3)
        time.sleep(60)
    os._exit(0)
print("parent leaves", flush=True)
]], mark))
    assert.are.equal(0, code, err)
    assert.are.equal("ok", node.status)
    assert.are.equal("parent leaves\n", out)
    assert.is_true(util.wait_until(function()
      return pids_with(mark) == 0
    end, 5), "the daemon survived its job")
  end)

  it("does not let a node raise its limits or leave its cgroup", function()
    local out, node, err, code = execute(python_job("raiser", [[
import os, resource
for r in (resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_FSIZE):
    try:
        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass
for p in ("/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs",
          "/proc/self/cgroup"):
    try:
        open(p, "w").write("0")
        print("wrote", p, flush=True)
    except OSError:
        pass
try:
    os.unshare(os.CLONE_NEWUSER | os.CLONE_NEWPID)
except (AttributeError, OSError):
    pass
kids = 0
while kids < 200:
    try:
        if os.fork() == 0:
            import time
            time.sleep(20)
            os._exit(0)
        kids += 1
    except OSError:
        break
print("forked", kids, flush=True)
]]))
    assert.are.equal(3, code, err)
    assert.are.equal("Killed by process limit", node.status)
    assert.is_nil(out:find("wrote", 1, true))
    assert.is_nil(out:find("forked 200", 1, true))
  end)

  -- The image is the node's root (ZeroCloud's layout): / is writable, but
  -- / and /dev/shm (and /tmp) share the one disk limit; /dev is read-only
  it("keeps /dev read-only, and / and /dev/shm within one disk limit",
     function()
    local out, node, err, code = execute(python_job("shmhog", [[
import errno
try:
    open("/dev/hog", "wb").write(b"h" * (64 << 20))
    print("/dev/hog written", flush=True)
except OSError as exc:
    print("/dev/hog", errno.errorcode[exc.errno], flush=True)
open("/dev/shm/hog", "wb").write(b"h" * (20 << 20))
print("shm 20 MiB", flush=True)
open("/hog", "wb").write(b"h" * (20 << 20))
print("root 20 MiB", flush=True)
]]))
    assert.are.equal(3, code, err)
    assert.are.equal("Killed by disk limit", node.status)
    assert.matches("^/dev/hog EROFS\nshm 20 MiB\n", out)
    assert.is_nil(out:find("written", 1, true))
    assert.is_nil(out:find("root 20", 1, true))
    assert.is_true(node.disk_bytes_written >= DISK, err)
  end)
end)
