-- Issue 17, items 1 and 2: the lifecycle of a deployed zapp against the
-- real Swift (zpm list, zpm undeploy, a redeploy over a Static Large
-- Object, deploy --dry-run; every object checked with python-swiftclient)
-- and job arguments from the CLI on the devcloud (ZeroCloud).
local util = require("support.util")
local servers = require("support.servers")
local json = require("zpm.json")

local sw, counter = nil, 0

local function v1_env()
  return util.v1_env(sw)
end

local function swift(args)
  return util.swift_cli(sw, args)
end

-- the object names of a container (nil: no such container)
local function names(container)
  local out, _, code = swift("list " .. util.quote(container))
  if code ~= 0 then
    return nil
  end
  return util.lines(out)
end

local function containers()
  local out, err, code = swift("list")
  assert(code == 0, err)
  return util.lines(out)
end

local function has(list, name)
  for _, n in ipairs(list) do
    if n == name then
      return true
    end
  end
  return false
end

local function new_container()
  counter = counter + 1
  return ("life-%d-%d"):format(os.time(), counter)
end

-- a project with a UI and 300 KB of random data (a Static Large Object
-- with --segment-size 100K), bundled
local function bundled_project(version)
  local dir = util.tmpdir()
  util.zpm({ "new", "-u", "app" }, { cwd = dir })
  local root = dir .. "/app"
  util.write(root .. "/main.py", "print('hi')\n")
  local random = assert(io.open("/dev/urandom", "rb"))
  util.write(root .. "/big.bin", random:read(300000))
  random:close()
  local yaml = util.read(root .. "/zapp.yaml")
  yaml = yaml:gsub('  Version: ""', '  Version: "' .. (version or "1.0")
                   .. '"')
    :gsub('%- "%*%.py"', '- "*.py"\n- big.bin')
    :gsub("  args: %[%]", '  args:\n  - [count, "How many"]\n'
          .. '  - [text, "Text"]')
  util.write(root .. "/zapp.yaml", yaml)
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/app.zapp"
end

local function deploy(args)
  local argv = { "deploy", "-q" }
  table.move(args, 1, #args, 3, argv)
  local out, err, code = util.zpm(argv, { env = v1_env() })
  assert(code == 0, err)
  return out, err
end

describe("zapp lifecycle (issue 17)", function()
  local zapp
  setup(function()
    sw = servers.swift()
    zapp = bundled_project("1.2")
  end)
  teardown(util.cleanup)

  describe("zpm list", function()
    it("lists several deploys with name, version, size, segments, ACL",
       function()
      local c, d = new_container(), new_container()
      deploy({ "--segment-size", "100K", c, zapp })
      deploy({ "--force", c .. "/sub", zapp })
      deploy({ "--public", d, zapp })
      local out, err, code = util.zpm({ "list", c }, { env = v1_env() })
      assert.are.equal(0, code, err)
      local lines = util.lines(out)
      assert.are.equal(3, #lines, out)
      assert.matches("^TARGET +ZAPP +VERSION +BYTES +SEGMENTS +PUBLIC +LAST "
                     .. "MODIFIED$", lines[1])
      local bytes = #util.sh("gzip -dc " .. util.quote(zapp))
      local stamp = "%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d"
      assert.matches("^" .. c:gsub("%-", "%%-") .. " +app +1%.2 +" .. bytes
                     .. " +4 +no +" .. stamp .. "$", lines[2])
      assert.matches("^" .. c:gsub("%-", "%%-") .. "/sub +app +1%.2 +"
                     .. bytes .. " +%- +no +" .. stamp .. "$", lines[3])
      -- the account: both containers, d public
      out, err, code = util.zpm({ "list" }, { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.matches("\n" .. c:gsub("%-", "%%-") .. " ", out)
      assert.matches("\n" .. d:gsub("%-", "%%-") .. " +app +1%.2 +%d+ +%- "
                     .. "+yes ", out)
      -- the Lua API gives the same, as data
      local zpm = require("zpm")
      local conn = assert(zpm.connect({ auth = sw.ST_AUTH, user = sw.ST_USER,
                                        key = sw.ST_KEY }))
      local list = assert(conn:list(c))
      assert.are.equal(2, #list)
      assert.are.same({ c, "app", "1.2", "app.zapp", bytes, 4, false, true },
        { list[1].target, list[1].zapp, list[1].version, list[1].file,
          list[1].bytes, list[1].segments, list[1].public,
          list[1].recorded })
      assert.are.same({ "count", "text" }, list[1].args)
      conn:close()
    end)

    it("says when the container does not exist", function()
      local out, err, code = util.zpm({ "list", "no-such-" .. os.time() },
                                      { env = v1_env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^Error: container 'no%-such%-%d+' not found\n$", err)
    end)
  end)

  describe("zpm undeploy", function()
    it("removes every object, the segments and the containers it made",
       function()
      local c = new_container()
      deploy({ "--segment-size", "100K", c, zapp })
      assert.are.equal(4, #names(c .. "_segments"))
      local out, err, code = util.zpm({ "undeploy", "--yes", c },
                                      { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.matches("^undeployed " .. c:gsub("%-", "%%-")
        .. ": 7 objects removed\n  container '.-' removed", out)
      assert.is_nil(names(c))
      assert.is_nil(names(c .. "_segments"))
      assert.is_false(has(containers(), c))
      assert.is_false(has(containers(), c .. "_segments"))
    end)

    it("removes one target of a container and leaves the rest", function()
      local c = new_container()
      deploy({ c .. "/a", zapp })
      deploy({ "--force", c .. "/b", zapp })
      local before = names(c)
      local _, err, code = util.zpm({ "undeploy", "-y", c .. "/a" },
                                    { env = v1_env() })
      assert.are.equal(0, code, err)
      local after = names(c)
      for _, n in ipairs(before) do
        assert.are.equal(n:sub(1, 2) == "b/", has(after, n), n)
      end
      assert.is_true(#after > 0)
      -- the last one goes with the container zpm created
      _, err, code = util.zpm({ "undeploy", "-y", c .. "/b" },
                              { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.is_nil(names(c))
    end)

    it("keeps a container zpm did not create", function()
      local c = new_container()
      assert(select(3, swift("post " .. util.quote(c))) == 0)
      deploy({ c, zapp })
      local _, err, code = util.zpm({ "undeploy", "-y", c },
                                    { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.are.same({}, names(c))
    end)

    it("refuses what is not a zapp deployment, removing nothing",
       function()
      local c = new_container()
      local src = util.tmpdir() .. "/f.txt"
      util.write(src, "x")
      assert(select(3, swift("upload --object-name boot/system.map "
        .. util.quote(c) .. " " .. util.quote(src))) == 0)
      local out, err, code = util.zpm({ "undeploy", "-y", c },
                                      { env = v1_env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("does not look like a zapp deployment", err)
      assert.are.same({ "boot/system.map" }, names(c))
    end)

    it("fails while a deploy holds the lock, removing nothing", function()
      local c = new_container()
      deploy({ c, zapp })
      local lock = util.tmpdir() .. "/lock"
      util.write(lock, '{"deploy": "x", "since": "now", "token": "t"}')
      assert(select(3, swift("upload --object-name .zapp/deploy.lock "
        .. util.quote(c) .. " " .. util.quote(lock))) == 0)
      local out, err, code = util.zpm({ "undeploy", "-y", c },
                                      { env = v1_env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^Error: another deploy to '.-' is in progress", err)
      assert.are.equal(8, #names(c))
    end)

    it("removes a deployment made before zpm wrote records, and says what "
       .. "may be left", function()
      local c = new_container()
      deploy({ c, zapp })
      assert(select(3, swift("delete " .. util.quote(c)
                             .. " .zapp/deploy.json")) == 0)
      local out, err, code = util.zpm({ "list", c }, { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.matches("\n" .. c:gsub("%-", "%%-") .. " +%? +%? +%d+ +%? +no ",
                     out)
      out, err, code = util.zpm({ "undeploy", "-y", c }, { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.matches("^undeployed .-: 3 objects removed\n$", out)
      assert.matches("web UI files may be left", err)
      -- the job, the image and its name are gone; the page stays
      assert.are.same({ "index.html", "style.css", "zerocloud.js" },
                      names(c))
    end)

    it("needs --yes without a terminal", function()
      local c = new_container()
      deploy({ c, zapp })
      local out, err, code = util.zpm({ "undeploy", c }, { env = v1_env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("give %-%-yes", err)
      assert.are.equal(7, #names(c))
      -- --dry-run lists, removes nothing
      out, err, code = util.zpm({ "undeploy", "--dry-run", c },
                                { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.matches("^would remove 7 objects of '", out)
      assert.are.equal(7, #names(c))
    end)

    it("asks on a terminal", function()
      local c = new_container()
      deploy({ c, zapp })
      local env = v1_env()
      local assigns = {}
      for k, v in pairs(env) do
        assigns[#assigns + 1] = k .. "=" .. util.quote(v)
      end
      -- `script` gives zpm a terminal; "n" refuses
      local cmd = ("echo n | env %s script -qec %s /dev/null"):format(
        table.concat(assigns, " "), util.quote(util.zpm_bin
        .. " undeploy " .. util.quote(c)))
      local out = util.sh(cmd)
      assert.matches("Remove them%? %[y/N%]", out)
      assert.matches("nothing removed", out)
      assert.are.equal(7, #names(c))
      cmd = cmd:gsub("^echo n", "echo y")
      out = util.sh(cmd)
      assert.matches("undeployed", out)
      assert.is_nil(names(c))
    end)
  end)

  describe("redeploy", function()
    it("removes the old image's segments once the new one is in place",
       function()
      local c = new_container()
      deploy({ "--segment-size", "100K", c, zapp })
      local first = names(c .. "_segments")
      assert.are.equal(4, #first)
      deploy({ "--force", "--segment-size", "100K", c, zapp })
      local second = names(c .. "_segments")
      assert.are.equal(4, #second)
      for _, n in ipairs(first) do
        assert.is_false(has(second, n), n)
      end
      -- every segment left is one of the image the job names
      local image = assert(json.decode(swift("download " .. util.quote(c)
        .. " .zapp/deploy.json -o -"))).image
      for _, n in ipairs(second) do
        assert.are.equal(image, c .. "/" .. n:match("^(.-)/slo/"))
      end
    end)

    -- a deploy killed while uploading segments never stored the image's
    -- manifest: its segments name an image that is not listed
    it("removes the segments of a deploy killed before its manifest",
       function()
      local c = new_container()
      deploy({ "--segment-size", "100K", c, zapp })
      local sc = c .. "_segments"
      local dir = util.tmpdir()
      util.write(dir .. "/seg", ("x"):rep(1000))
      local killed = ".zapp/20200101T000000Z-0badcafe/app.zapp/slo/"
        .. "1577836800.0000abcd/102400/"
      local other = "elsewhere/app.zapp/slo/1577836800.0000abcd/102400/"
        .. "00000000"
      for _, name in ipairs({ killed .. "00000000", killed .. "00000001",
                              other }) do
        swift("upload --object-name " .. util.quote(name) .. " "
              .. util.quote(sc) .. " " .. util.quote(dir .. "/seg"))
      end
      assert.are.equal(7, #names(sc))
      deploy({ "--force", "--segment-size", "100K", c, zapp })
      local left = names(sc)
      assert.is_false(has(left, killed .. "00000000"))
      assert.is_false(has(left, killed .. "00000001"))
      assert.is_true(has(left, other))   -- not under the target's images
      -- the rest: the segments of the image the job names
      local image = assert(json.decode(swift("download " .. util.quote(c)
        .. " .zapp/deploy.json -o -"))).image
      assert.are.equal(5, #left)
      for _, n in ipairs(left) do
        if n ~= other then
          assert.are.equal(image, c .. "/" .. n:match("^(.-)/slo/"))
        end
      end
    end)

    -- a deploy killed after its image's manifest, before its job: an
    -- image no record names, a Static Large Object (its listing's
    -- slo_etag says so), and a plain one
    it("removes the images of deploys killed before their job, segments "
       .. "too", function()
      local c = new_container()
      deploy({ c, zapp })
      local sc = c .. "_segments"
      local dir = util.tmpdir()
      util.write(dir .. "/img", ("x"):rep(3000))
      local slo = ".zapp/20200101T000000Z-0badcafe/app.zapp"
      local plain = ".zapp/20200101T000001Z-0badcafe/app.zapp"
      swift("upload --use-slo --segment-size 1000 --object-name "
            .. util.quote(slo) .. " " .. util.quote(c) .. " "
            .. util.quote(dir .. "/img"))
      swift("upload --object-name " .. util.quote(plain) .. " "
            .. util.quote(c) .. " " .. util.quote(dir .. "/img"))
      assert.are.equal(3, #names(sc))
      assert.is_true(has(names(c), slo))
      deploy({ "--force", c, zapp })
      local left = names(c)
      assert.is_false(has(left, slo))
      assert.is_false(has(left, plain))
      assert.are.same({}, names(sc))
      local image = assert(json.decode(swift("download " .. util.quote(c)
        .. " .zapp/deploy.json -o -"))).image
      assert.is_true(has(left, image:sub(#c + 2)))
    end)

    it("keeps them with --leave-segments; undeploy then removes them",
       function()
      local c = new_container()
      deploy({ "--segment-size", "100K", c, zapp })
      deploy({ "--force", "--leave-segments", "--segment-size", "100K", c,
               zapp })
      assert.are.equal(8, #names(c .. "_segments"))
      local _, err, code = util.zpm({ "undeploy", "-y", c },
                                    { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.is_nil(names(c .. "_segments"))
      assert.is_nil(names(c))
    end)
  end)

  -- a deploy killed with SIGKILL leaves its lock for an hour
  describe("a lock left behind", function()
    local function put_lock(c, fields)
      local lock = util.tmpdir() .. "/lock"
      util.write(lock, json.encode(fields))
      assert(select(3, swift("upload --object-name .zapp/deploy.lock "
        .. util.quote(c) .. " " .. util.quote(lock))) == 0)
    end
    local function hostname()
      return util.read("/proc/sys/kernel/hostname"):match("^[^\n]*")
    end
    local function redeploy(c, extra)
      local argv = { "deploy", "--force", c, zapp }
      if extra then
        table.insert(argv, 2, extra)
      end
      return util.zpm(argv, { env = v1_env() })
    end

    it("is removed when its deploy is gone from this host", function()
      local c = new_container()
      deploy({ c, zapp })
      -- no process has the pid 4194304 (Linux's largest pid_max)
      put_lock(c, { deploy = c, since = "then", token = "t",
                    host = hostname(), pid = 4194304, started = "1" })
      local _, err, code = redeploy(c)
      assert.are.equal(0, code, err)
      assert.matches("WARNING: " .. c:gsub("%-", "%%-") .. "/%.zapp/deploy%."
        .. "lock: removing the lock taken then by a deploy that is gone "
        .. "%(process 4194304 on this host%)", err)
      assert.is_false(has(names(c), ".zapp/deploy.lock"))
    end)

    it("stays while its deploy runs, or runs elsewhere; --break-lock "
       .. "removes it", function()
      local c = new_container()
      deploy({ c, zapp })
      -- this test's own process: alive
      local stat = util.read("/proc/self/stat")
      put_lock(c, { deploy = c, since = "now", token = "t",
        host = hostname(), pid = tonumber(stat:match("^(%d+)")),
        started = stat:match("^.*%) (.*)$"):match(
          "^" .. ("%S+ "):rep(19) .. "(%S+)") })
      local out, err, code = redeploy(c)
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^Error: another deploy to '.-' is in progress %(it "
        .. "holds .-since now%); try again when it is done %(a lock left "
        .. "by a deploy killed on another machine expires 3600 s after it "
        .. "was taken; %-%-break%-lock removes it now%)\n$", err)
      put_lock(c, { deploy = c, since = "now", token = "t",
                    host = "another-host", pid = 1, started = "1" })
      _, err, code = redeploy(c)
      assert.are.equal(1, code)
      assert.matches("is in progress", err)
      _, err, code = redeploy(c, "--break-lock")
      assert.are.equal(0, code, err)
      assert.matches("removing the lock taken now by another deploy "
        .. "%(%-%-break%-lock%)", err)
      assert.is_false(has(names(c), ".zapp/deploy.lock"))
    end)

    -- the deploy that breaks the lock removes the segments whose
    -- manifest is not stored (the running deploy's): that one then says
    -- its lock was taken, not which segment went missing
    it("a deploy whose lock was broken mid-upload says so", function()
      local c = new_container()
      deploy({ c, zapp })
      local slow = util.zpm_background({ "deploy", "-q", "--force",
        "--segment-size", "2K", "--concurrency", "1", c, zapp },
        { env = v1_env() })
      assert(util.wait_until(function()
        local segs = names(c .. "_segments")
        return segs and #segs > 0
      end, 20, 0.05), "no segment uploaded")
      local _, err, code = redeploy(c, "--break-lock")
      assert.are.equal(0, code, err)
      local out, serr, scode = util.finish(slow, 120)
      assert.are.equal(1, scode, serr)
      assert.are.equal("", out)
      assert.matches("^Error: another deploy to '.-' took its lock while "
        .. "this one ran", serr)
      -- the target is the second deploy's, whole
      local record = assert(json.decode(swift("download " .. util.quote(c)
        .. " .zapp/deploy.json -o -")))
      local images = 0
      for _, n in ipairs(names(c)) do
        if n:match("^%.zapp/.+/app%.zapp$") then
          images = images + 1
          assert.are.equal(record.image, c .. "/" .. n)
        end
      end
      assert.are.equal(1, images)
      assert.are.same({}, names(c .. "_segments") or {})
    end)
  end)

  describe("deploy --dry-run", function()
    it("prints the plan and writes nothing", function()
      local c = new_container()
      local before = containers()
      local log = sw.SWIFT_DIR .. "/log/proxy.log"
      local start = #util.read(log)
      local out, err, code = util.zpm({ "deploy", "--dry-run", "--public",
        "--segment-size", "100K", c, zapp }, { env = v1_env() })
      assert.are.equal(0, code, err)
      -- the proxy saw zpm's requests: reads only
      local seen
      util.wait_until(function()
        seen = util.read(log):sub(start + 1)
        return seen:find(" GET /v1/AUTH_test/" .. c, 1, true)
      end, 10)
      local methods = {}
      for method in seen:gmatch(" (%u+) /v1/AUTH_test[^\n]*") do
        methods[method] = true
      end
      assert.is_true(methods.GET, seen)
      assert.is_nil(methods.PUT or methods.POST or methods.DELETE, seen)
      assert.matches("^dry run: nothing is written\n", out)
      assert.matches("container '" .. c:gsub("%-", "%%-") .. "': not found, "
        .. "would be created with read ACL %.r:%*,%.rlistings\n", out)
      assert.matches("\n  " .. c:gsub("%-", "%%-") .. "/index%.html +text/"
                     .. "html +%d+\n", out)
      assert.matches("\n  " .. c:gsub("%-", "%%-") .. "/boot/system%.map +"
                     .. "application/json +%d+\n", out)
      assert.are.same(before, containers())
      -- over a deployment: the objects and the containers stay as they are
      deploy({ "--segment-size", "100K", c, zapp })
      local objects, segments = names(c), names(c .. "_segments")
      out, err, code = util.zpm({ "deploy", "--dry-run", c, zapp },
                                { env = v1_env() })
      assert.are.equal(0, code, err)
      assert.matches("exists, not empty %(the deploy would fail", out)
      assert.are.same(objects, names(c))
      assert.are.same(segments, names(c .. "_segments"))
      local stat = swift("stat " .. util.quote(c))
      assert.matches("Read ACL: *\n", stat)
    end)
  end)
end)

-- Item 2: the job's arguments from the CLI, run on the devcloud.
describe("job arguments from the CLI (issue 17, item 2)", function()
  local dir, env, zapp

  local function zpm(args)
    return util.zpm(args, { env = { ST_AUTH = env.ST_AUTH,
      ST_USER = env.ST_USER, ST_KEY = env.ST_KEY, OS_AUTH_URL = "",
      OS_USERNAME = "", OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" } })
  end

  setup(function()
    dir = util.tmpdir()
    local _, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
                                    "--time-limit", "30" })
    assert(code == 0, err)
    env = {}
    for k, v in util.read(dir .. "/env"):gmatch("([%w_]+)=([^\n]*)") do
      env[k] = v:gsub("^'(.*)'$", "%1")
    end
    -- two groups, each printing its argv (after the script) as JSON
    local root = util.tmpdir() .. "/argv"
    os.execute("mkdir -p " .. util.quote(root))
    util.write(root .. "/show.py", "import json, sys\n"
      .. "print(json.dumps(sys.argv[1:]))\n")
    util.write(root .. "/zapp.yaml", [[
execution:
  groups:
  - name: first
    path: file://python3:python
    args: show.py first
    devices:
    - name: python3
    - name: stdout
  - name: second
    path: file://python3:python
    args: show.py second
    devices:
    - name: python3
    - name: stdout
help:
  args:
  - [pattern, "Pattern"]
  - [limit, "Limit"]
meta: {name: argv}
bundling: [show.py]
]])
    local _, berr, bcode = util.zpm({ "bundle" }, { cwd = root })
    assert(bcode == 0, berr)
    zapp = root .. "/argv.zapp"
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  -- the argv each group printed, by group (the output holds both)
  local function argvs(out)
    local got = {}
    for line in out:gmatch("[^\n]+") do
      local argv = json.decode(line)
      assert.is_table(argv, out)
      got[argv[1]] = argv
    end
    return got
  end

  it("sets named arguments, words and one group's words, escaped",
     function()
    local c = new_container()
    local _, err, code = zpm({ "deploy", c, zapp })
    assert.are.equal(0, code, err)
    local out
    out, err, code = zpm({ "execute", "--container", c, "argv",
      "--arg", "limit=10", "--arg", 'pattern=a, "b"\\c',
      -- words that start with '-': after '=', as for any option
      [[--args=-v 'x y']], "--group-args", "second=--only 2nd" })
    assert.are.equal(0, code, err)
    assert.are.same({
      first = { "first", 'a, "b"\\c', "10", "-v", "x y" },
      second = { "second", 'a, "b"\\c', "10", "-v", "x y", "--only",
                 "2nd" } }, argvs(out))
    -- without arguments, the job as deployed
    out, err, code = zpm({ "execute", "--container", c, "argv" })
    assert.are.equal(0, code, err)
    assert.are.same({ first = { "first" }, second = { "second" } },
                    argvs(out))
  end)

  it("takes them on deploy --execute", function()
    local c = new_container()
    local out, err, code = zpm({ "deploy", "--execute", c, zapp,
                                 "--arg", "pattern=p q" })
    assert.are.equal(0, code, err)
    local got = argvs(out:gsub("^app deployed to\n[^\n]*\n", "")
                         :gsub("^argv deployed to\n[^\n]*\n", ""))
    assert.are.same({ "first", "p q" }, got.first)
  end)

  it("refuses an unknown name or group, and a zapp file", function()
    local c = new_container()
    assert.are.equal(0, select(3, zpm({ "deploy", c, zapp })))
    local out, err, code = zpm({ "execute", "--container", c, "argv",
                                 "--arg", "nope=1" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("Error: --arg nope: the zapp has no argument of that "
      .. "name (its help.args: pattern, limit)\n", err)
    out, err, code = zpm({ "execute", "--container", c, "argv",
                           "--group-args", "third=x" })
    assert.are.equal(1, code)
    assert.matches("no group of that name %(its groups: first, second%)",
                   err)
    out, err, code = zpm({ "execute", zapp, "--args", "x" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("need a deployed zapp %(%-%-container%)", err)
  end)

  it("deploy --execute checks the arguments before writing anything",
     function()
    local c = new_container()
    for _, bad in ipairs({ { "--arg", "nope=1" },
                           { "--group-args", "third=x" } }) do
      local out, err, code = zpm({ "deploy", "--execute", c, zapp,
                                   bad[1], bad[2] })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^Error: ", err)
      assert.not_matches("deployed", err)
    end
    -- nothing was written: not even the container
    local _, _, code = zpm({ "list", c })
    assert.are_not.equal(0, code)
  end)
end)
