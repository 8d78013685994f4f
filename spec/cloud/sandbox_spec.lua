-- Issue 13: a sandbox that contains a node. Each case is one report from a
-- real devcloud, replayed against `zpm devcloud up` with small limits: the
-- node is stopped, zpm exits 3, the status names the limit, and the host
-- keeps nothing of it (disk, processes).
local util = require("support.util")
local lfs = require("lfs")
local cjson = require("cjson")

local MiB = 1024 * 1024
local DISK = 64 * MiB
local OUTPUT = 8 * MiB
local PROCS = 32
-- bwrap and its init (PID 1 of the node's namespace) carry the node's
-- command line too
local BWRAP = 2

local dir, work, env

local function zpm(args, opts)
  opts = opts or {}
  local e = { ST_AUTH = env.ST_AUTH, ST_USER = env.ST_USER,
              ST_KEY = env.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
              OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" }
  return util.zpm(args, { cwd = opts.cwd, env = e })
end

local function zpm_env()
  return { ST_AUTH = env.ST_AUTH, ST_USER = env.ST_USER,
           ST_KEY = env.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
           OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" }
end

local function project(name, zapp_yaml, files)
  local root = util.tmpdir() .. "/" .. name
  os.execute("mkdir -p " .. util.quote(root))
  util.write(root .. "/zapp.yaml", zapp_yaml)
  for file, content in pairs(files) do
    util.write(root .. "/" .. file, content)
  end
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/" .. name .. ".zapp"
end

-- a one-node job: python3 main.py ARGS, or sh main.sh ARGS
local function job(name, kind, script, args)
  local file = kind == "sh" and "main.sh" or "main.py"
  local path = kind == "sh" and "file://sh:sh" or "file://python3:python"
  return project(name, ([[
execution:
  groups:
  - name: %s
    path: %s
    args: %s%s
    devices:
    - name: %s
    - name: stdout
meta: {name: %s}
bundling: [%s]
]]):format(name, path, file, args and (" " .. args) or "",
           kind == "sh" and "sh" or "python3", name, file),
    { [file] = script })
end

-- zpm execute -s --summary-format json: stdout is the output alone, the
-- summary is the one JSON line of stderr; returns out, node, err, code
local function execute(zapp)
  return util.execute_json(zpm, zapp)
end

local function failed_line(node)
  return ("Error: node '%s' failed: retcode %s, status '%s'"):format(
    node.node, math.tointeger(node.retcode) or node.retcode, node.status)
end

-- host pids whose command line holds text
local function pids_with(text)
  local out = {}
  for entry in lfs.dir("/proc") do
    if entry:match("^%d+$") then
      local f = io.open("/proc/" .. entry .. "/cmdline", "rb")
      local cmdline = f and f:read("a")
      if f then f:close() end
      if cmdline and cmdline:find(text, 1, true) then
        out[#out + 1] = tonumber(entry)
      end
    end
  end
  return out
end

local function avail(path)
  local out = util.sh("df -B1 --output=avail " .. util.quote(path))
  return tonumber(out:match("(%d+)%s*$"))
end

-- what the proxy's jobs left in its temporary directory
local function job_dirs()
  local left = {}
  for entry in lfs.dir(work) do
    if entry:match("^zc%-") then
      left[#left + 1] = entry
    end
  end
  return left
end

local function marker(what)
  return ("zc13-%s-%d-%d"):format(what, os.time(), math.random(1 << 30))
end

-- run a zapp in the background; until zpm exits, count the processes
-- whose command line holds `mark`: returns out, err, code, the most seen
local function watched(zapp, mark, seconds)
  local h = util.zpm_background({ "execute", "-s", "--summary-format",
                                  "json", zapp }, { env = zpm_env() })
  local most = 0
  local deadline = os.time() + (seconds or 60)
  while not util.exited(h) and os.time() < deadline do
    most = math.max(most, #pids_with(mark))
  end
  local out, err, code = util.finish(h, 10)
  return out, err, code, most
end

local function summary_node(err)
  for line in err:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then
      return cjson.decode(line).nodes[1]
    end
  end
end

local function hello_runs()
  local root = util.tmpdir() .. "/hello"
  os.execute("cp -r " .. util.source_dir .. "/examples/hello " .. root)
  assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = root })))
  local t0 = os.time()
  local out, err, code = zpm({ "execute", root .. "/hello.zapp" })
  assert.are.equal(0, code, err)
  assert.are.equal("Hello, ZeroVM world!\n", out)
  assert.is_true(os.time() - t0 <= 15)
end

describe("the devcloud's sandbox (issue 13)", function()
  setup(function()
    dir = util.tmpdir()
    -- the proxy's temporary directory, where each job's directory is
    work = util.tmpdir()
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
      "--time-limit", "30", "--memory-limit", "256M",
      "--disk-limit", tostring(DISK), "--output-limit", tostring(OUTPUT),
      "--process-limit", tostring(PROCS) }, { env = { TMPDIR = work } })
    assert(code == 0, err)
    env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  local WRITE = [[
import sys
n = 0
try:
    with open(sys.argv[1], "wb") as f:
        for i in range(400):
            f.write(b"x" * (1 << 20))
            f.flush()
            n += 1
except OSError as exc:
    print("stopped at", n, "MiB:", exc.strerror, flush=True)
import time
time.sleep(20)
]]

  for _, where in ipairs({ "big.bin", "/tmp/big.bin" }) do
    it("stops a node writing 400 MB to " .. where .. " at the disk limit",
       function()
      local before = avail(work)
      local out, node, err, code = execute(job("diskhog", "python", WRITE,
                                               where))
      assert.are.equal(3, code, err)
      assert.is_table(node, err)
      assert.are.equal("Killed by disk limit", node.status)
      assert.are.equal(-9, node.retcode)
      assert.are.equal(failed_line(node) .. "\n",
                       (err:gsub("{[^\n]*\n", "")))
      -- what it wrote, up to the limit (and one page), is accounted
      assert.is_true(node.disk_bytes_written >= DISK, err)
      assert.is_true(node.disk_bytes_written <= DISK + 8192 + #out, err)
      assert.is_true(node.node_time < 10, err)
      if out ~= "" then
        assert.are.equal("stopped at 64 MiB: No space left on device\n",
                         out)
      end
      -- the writable area is gone, the host's disk did not take the
      -- 400 MB (nor the 64 MiB: the area is a tmpfs)
      assert.are.same({}, job_dirs())
      assert.is_true(avail(work) > before - DISK)
      assert.is_nil(util.read("/proc/self/mountinfo"):find(work, 1, true))
    end)
  end

  it("keeps what a node writes, deleted or not, within the disk limit",
     function()
    -- open, write, unlink, keep open: the bytes are still held
    local out, node, err, code = execute(job("unlinker", "python", [[
import os
held = []
for i in range(100):
    f = open("chunk%d" % i, "wb")
    try:
        f.write(b"u" * (4 << 20))
        f.flush()
    except OSError:
        print("stopped at chunk", i, flush=True)
        break
    os.unlink("chunk%d" % i)
    held.append(f)
import time
time.sleep(20)
]]))
    assert.are.equal(3, code, err)
    assert.are.equal("Killed by disk limit", node.status)
    assert.is_true(node.disk_bytes_written >= DISK, err)
  end)

  it("stops a node printing 1 GB at the output limit, sending no more",
     function()
    local t0 = os.time()
    local out, node, err, code = execute(job("printer", "python", [[
import sys
chunk = b"y" * (1 << 20)
for i in range(1024):
    sys.stdout.buffer.write(chunk)
]]))
    assert.are.equal(3, code, err)
    assert.are.equal("Killed by output limit", node.status)
    assert.are.equal(-9, node.retcode)
    -- the client got the limit's bytes, not one more
    assert.are.equal(OUTPUT, #out)
    assert.are.equal(("y"):rep(OUTPUT), out)
    assert.is_true(os.time() - t0 < 30)
    assert.are.same({}, job_dirs())
  end)

  it("counts stderr with stdout against the output limit", function()
    local out, node, err, code = execute(job("stderrhog", "python", [[
import sys
for i in range(64):
    sys.stderr.write("e" * (1 << 20))
print("never")
]]))
    assert.are.equal(3, code, err)
    assert.are.equal("Killed by output limit", node.status)
    assert.are.equal("", out)
  end)

  local function bomb_case(name, kind, script)
    local mark = marker(name)
    local out, err, code, most = watched(job(name, kind, script, mark),
                                         mark)
    assert.are.equal(3, code, err)
    local node = summary_node(err)
    assert.is_table(node, err)
    assert.are.equal("Killed by process limit", node.status)
    assert.are_not.equal(0, node.retcode)
    assert.is_true(node.node_time < 10, err)
    -- never more than the limit at once, and nothing left
    assert.is_true(most <= PROCS + BWRAP,
                   ("%d processes seen"):format(most))
    assert.is_true(util.wait_until(function()
      return #pids_with(mark) == 0
    end, 5), "processes left")
    assert.are.equal("", out)
    hello_runs()
  end

  it("stops a shell fork bomb at the process limit", function()
    bomb_case("shbomb", "sh", "b() { b | b & }\nb\nsleep 20\n")
  end)

  it("stops bash's :(){ :|:& };: at the process limit", function()
    bomb_case("bashbomb", "python", [[
import os, sys
os.execv("/bin/bash", ["bash", "-c", ":(){ :|:& };:; sleep 20"] +
         sys.argv[1:])
]])
  end)

  it("stops a Python os.fork() loop at the process limit", function()
    bomb_case("pybomb", "python", [[
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
]])
  end)

  it("does not let a node run 1,500 processes", function()
    local mark = marker("fork1500")
    local out, err, code, most = watched(job("fork1500", "python", [[
import os, time
n = 0
for i in range(1500):
    try:
        pid = os.fork()
    except OSError as exc:
        print("fork", i, "refused:", exc.strerror, flush=True)
        break
    if pid == 0:
        time.sleep(10)
        os._exit(0)
    n += 1
print("forked", n, flush=True)
time.sleep(10)
]], mark), mark)
    assert.are.equal(3, code, err)
    local node = summary_node(err)
    assert.are.equal("Killed by process limit", node.status)
    assert.is_nil(out:find("forked 1500", 1, true))
    assert.is_true(most <= PROCS + BWRAP, ("%d processes seen"):format(most))
  end)

  it("holds all of a node's processes to the memory limit together",
     function()
    -- six children of 200 MiB each under --memory-limit 256M
    local out, node, err, code = execute(job("sixfat", "python", [[
import os, time
kids = []
for i in range(6):
    pid = os.fork()
    if pid == 0:
        x = bytearray(200 << 20)
        print("child", i, "holds 200 MiB", flush=True)
        time.sleep(5)
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
print("all six held 1.2 GB")
]]))
    assert.are.equal(3, code, err)
    assert.are.equal("Killed by memory limit", node.status)
    assert.is_nil(out:find("all six", 1, true))
    assert.is_true(select(2, out:gsub("holds", "")) <= 1, out)
  end)

  it("accounts the CPU time of a child process", function()
    local out, node, err, code = execute(job("busychild", "python", [[
import subprocess
subprocess.run(["/usr/bin/python3", "-c",
                "import time\nwhile time.process_time() < 2: pass"])
print("child done")
]]))
    assert.are.equal(0, code, err)
    assert.are.equal("child done\n", out)
    assert.are.equal("ok", node.status)
    local cpu = node.sys_time + node.user_time
    assert.is_true(cpu >= 1.5, ("SysT %s + UserT %s"):format(
      node.sys_time, node.user_time))
    assert.is_true(cpu < 5, tostring(cpu))
  end)

  it("kills the job's processes when its client goes away", function()
    local mark = marker("orphan")
    local h = util.zpm_background({ "execute",
      job("orphan", "python", "import time\ntime.sleep(60)\n", mark) },
      { env = zpm_env() })
    local running = util.wait_until(function()
      return #pids_with(mark) > 0 or util.exited(h) and "exited first"
    end, 20, 0.05)
    assert.are.equal(true, running, "the node never ran")
    util.signal(h, "KILL")
    util.finish(h, 5)
    local gone = util.wait_until(function()
      return #pids_with(mark) == 0
    end, 5, 0.05)
    assert.is_true(gone, "the node outlived its client")
    -- the runner, and the job's directory, went too
    assert.is_true(util.wait_until(function()
      return #pids_with(work .. "/zc-") == 0 and #job_dirs() == 0
    end, 5, 0.05), "the job's runner or directory stayed")
    hello_runs()
  end)
end)
