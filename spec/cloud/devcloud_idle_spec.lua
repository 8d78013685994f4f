-- A devcloud that holds hundreds of containers uses next to no CPU when
-- no job runs (issue 16, item 6): its container-updater sweeps in one
-- process and reads only the databases that changed, and the account's
-- counts still follow. Swift's own updater forked a process for every
-- partition holding a container, each sweep. Real servers: a devcloud of
-- its own under a temporary --dir.
local util = require("support.util")

local CONTAINERS = 200
local INTERVAL = 30 -- swift-aio's [container-updater] interval

-- the token and storage URL of test:tester
local function login(env)
  local out = util.sh(("curl -sf --noproxy '*' -D - -o /dev/null "
    .. "-H 'X-Auth-User: %s' -H 'X-Auth-Key: %s' %s"):format(env.ST_USER,
    env.ST_KEY, util.quote(env.ST_AUTH))):gsub("\r", "")
  return out:match("\n[Xx]%-[Aa]uth%-[Tt]oken: (%S+)"),
    out:match("\n[Xx]%-[Ss]torage%-[Uu]rl: (%S+)")
end

-- CPU clock ticks of pid and of its children, live or reaped
-- (/proc/PID/stat fields 14-17, and 14-17 of each live child)
local function ticks_with_children(pid)
  local function fields(p)
    local f = io.open("/proc/" .. p .. "/stat")
    if not f then return nil end
    -- a process that ended between the open and the read reads as nil
    local stat = f:read("a")
    f:close()
    if not stat or not stat:match(".*%) (.*)") then return nil end
    local rest = {}
    for w in stat:match(".*%) (.*)"):gmatch("%S+") do rest[#rest + 1] = w end
    -- rest[1] is field 3
    return tonumber(rest[2]), tonumber(rest[12]) + tonumber(rest[13])
      + tonumber(rest[14]) + tonumber(rest[15])
  end
  local _, total = fields(pid)
  assert(total, "container-updater (pid " .. pid .. ") is gone")
  local p = io.popen("ls /proc")
  for entry in p:lines() do
    if entry:match("^%d+$") and entry ~= tostring(pid) then
      local ppid, t = fields(entry)
      if ppid == pid then total = total + t end
    end
  end
  p:close()
  return total
end

describe("an idle devcloud holding " .. CONTAINERS .. " containers",
         function()
  local dir, token, storage

  local function account()
    local out = util.sh(("curl -sf --noproxy '*' -I -H 'X-Auth-Token: %s' "
      .. "%s"):format(token, storage)):gsub("\r", ""):lower()
    return tonumber(out:match("x%-account%-object%-count: (%d+)")),
      tonumber(out:match("x%-account%-container%-count: (%d+)"))
  end

  setup(function()
    dir = util.tmpdir() .. "/dc"
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir })
    assert(code == 0, err .. out)
    local env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
    token, storage = login(env)
    assert(token and storage, "no login")
    local obj = dir .. "/obj.txt"
    util.write(obj, "idle\n")
    local puts, uploads = {}, {}
    for i = 1, CONTAINERS do
      puts[i] = util.quote(("%s/idle%d"):format(storage, i))
      uploads[i] = "-T " .. util.quote(obj) .. " "
        .. util.quote(("%s/idle%d/obj.txt"):format(storage, i))
    end
    local curl = "curl -sf --noproxy '*' -Z --parallel-max 4 -o /dev/null "
      .. "-H " .. util.quote("X-Auth-Token: " .. token) .. " "
    local _, cerr, ccode = util.sh(curl .. "-X PUT " .. table.concat(puts, " "))
    assert(ccode == 0, cerr)
    _, cerr, ccode = util.sh(curl .. table.concat(uploads, " "))
    assert(ccode == 0, cerr)
  end)

  teardown(function()
    if dir then
      util.zpm({ "devcloud", "down", "--dir", dir })
    end
  end)

  it("reports every container's objects to the account", function()
    assert.is_true(util.wait_until(function()
      local objects, containers = account()
      return objects == CONTAINERS and containers == CONTAINERS
    end, 3 * INTERVAL, 1), "account counts: " .. table.concat({ account() },
                                                                 " "))
  end)

  it("uses next to no CPU over a sweep", function()
    -- the sweep after the reports reads each database once more (the
    -- updater's own write of what it reported); then nothing changes
    os.execute("sleep " .. (INTERVAL + 2))
    local pid = tonumber(util.read(dir .. "/run/container-updater.pid"))
    local before, t0 = ticks_with_children(pid), os.time()
    os.execute("sleep " .. (INTERVAL + 5))
    local cpu = (ticks_with_children(pid) - before) / 100
    local seconds = os.time() - t0
    io.stderr:write(("\n  container-updater: %.2f s of CPU in %d s, %d "
      .. "containers\n"):format(cpu, seconds, CONTAINERS))
    -- Swift's own updater: several seconds (a process per partition)
    assert.is_true(cpu < 0.01 * seconds, cpu .. " s of CPU")
  end)

  it("reports a change made while it was idle", function()
    local _, err, code = util.sh(("curl -sf --noproxy '*' -o /dev/null -T "
      .. "%s -H 'X-Auth-Token: %s' %s/idle7/more.txt"):format(
      util.quote(dir .. "/obj.txt"), token, storage))
    assert.are.equal(0, code, err)
    assert.is_true(util.wait_until(function()
      return account() == CONTAINERS + 1
    end, 2 * INTERVAL, 1), "account objects: " .. tostring(account()))
  end)
end)
