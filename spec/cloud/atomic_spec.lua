-- The README's guarantees under attack (issue 13):
-- * a bundle that runs out of disk, at any point up to the last flush,
--   fails (exit 1, the temporary file and ENOSPC named), leaves the
--   previous zapp byte-identical and no temporary file: tmpfs mounts of
--   a few MiB filled by the project's own data (root only);
-- * the temporary file of a bundle killed with SIGKILL is removed by the
--   next bundle of that zapp, and one a live writer holds is not;
-- * stdout that cannot be written fails auth, deploy, execute and
--   deploy --execute (the commands without a server are in
--   spec/integration/output_spec.lua).
local util = require("support.util")
local servers = require("support.servers")
local lfs = require("lfs")

local FULL = "Error: cannot write to standard output: No space left on "
  .. "device\n"

local ZAPP_YAML = [[
execution:
  groups:
  - name: full
    path: file://python3:python
    args: main.py
    devices:
    - name: python3
    - name: stdout
meta: {name: full}
bundling: [main.py, data.bin]
]]

local function md5(path)
  local out = util.sh("md5sum " .. util.quote(path))
  return out:match("^(%x+)")
end

-- names of the temporary files of full.zapp in dir
local function temp_files(dir)
  local found = {}
  for name in lfs.dir(dir) do
    if name:match("^%.full%.zapp%.tmp%-") then
      found[#found + 1] = name
    end
  end
  table.sort(found)
  return found
end

-- random data.bin of `kib` KiB
local function random_data(dir, kib)
  local _, err, code = util.sh(("dd if=/dev/urandom of=%s bs=1K count=%d "
    .. "iflag=fullblock status=none"):format(util.quote(dir .. "/data.bin"),
    kib))
  assert(code == 0, err)
end

-- a project "full" in dir with kib KiB of random data
local function project(dir, kib)
  util.write(dir .. "/zapp.yaml", ZAPP_YAML)
  util.write(dir .. "/main.py", "print('full')\n")
  random_data(dir, kib)
end

local function bundle(dir, extra)
  local args = { "bundle", "-q" }
  for _, a in ipairs(extra or {}) do
    args[#args + 1] = a
  end
  return util.zpm(args, { cwd = dir })
end

local function is_root()
  local out = util.sh("id -u")
  return out == "0\n"
end

describe("bundle on a full disk", function()
  local mnt

  before_each(function()
    mnt = nil
  end)

  after_each(function()
    if mnt then
      os.execute("umount " .. util.quote(mnt) .. " 2>/dev/null")
    end
    util.cleanup()
  end)

  -- tmpfs of `size` MiB, a good zapp bundled with little data, then
  -- `kib` KiB of random data that leaves no room for a second copy:
  -- `runs` bundles must all fail cleanly
  local function fill(size, kib, runs)
    if not is_root() then
      pending("mounting a tmpfs needs root (CI runs as root)")
      return
    end
    mnt = util.tmpdir() .. "/mnt"
    assert(lfs.mkdir(mnt))
    local _, err, code = util.sh(("mount -t tmpfs -o size=%dm tmpfs %s")
      :format(size, util.quote(mnt)))
    assert(code == 0, "cannot mount a tmpfs: " .. err)
    project(mnt, 16)
    local out
    out, err, code = bundle(mnt)
    assert.are.equal(0, code, err)
    assert.are.equal("created full.zapp\n", out)
    local zapp = mnt .. "/full.zapp"
    local good = md5(zapp)
    random_data(mnt, kib)
    for run = 1, runs do
      out, err, code = bundle(mnt)
      local what = ("run %d of %d, %d KiB on %d MiB"):format(run, runs, kib,
                                                            size)
      assert.are.equal(1, code, what .. ": " .. out .. err)
      assert.are.equal("", out, what)
      assert.matches("^Error: cannot write '" .. mnt:gsub("%p", "%%%0")
        .. "/%.full%.zapp%.tmp%-%w%w%w%w%w%w': No space left on device\n$",
        err, 1, what)
      assert.are.equal(good, md5(zapp), what)
      assert.are.same({}, temp_files(mnt), what)
    end
    -- the gzip stream is whole: the good zapp is still the good one
    _, err, code = util.sh("gzip -t " .. util.quote(zapp))
    assert.are.equal(0, code, err)
    -- room again: the next bundle succeeds
    random_data(mnt, 16)
    out, err, code = bundle(mnt)
    assert.are.equal(0, code, err)
    assert.are.equal("created full.zapp\n", out)
    assert.are.same({}, temp_files(mnt))
  end

  -- 2.55 MiB and 6.1 MiB fill the disk in the last blocks, written by
  -- the final flush (the case libarchive's close callback lost)
  it("fails 10 runs in 10 at 5 MiB with 3 MiB of data (the report)",
     function() fill(5, 3 * 1024, 10) end)
  it("fails 10 runs in 10 at 12 MiB with 8 MiB of data (the report)",
     function() fill(12, 8 * 1024, 10) end)
  it("fails 10 runs in 10 at 5 MiB with 2600 KiB (full at the end)",
     function() fill(5, 2600, 10) end)
  it("fails 10 runs in 10 at 12 MiB with 6250 KiB (full at the end)",
     function() fill(12, 6250, 10) end)
  it("fails 10 runs in 10 at 24 MiB with 20 MiB (full mid-stream)",
     function() fill(24, 20 * 1024, 10) end)
end)

describe("temporary files of other runs", function()
  local dir

  setup(function()
    dir = util.tmpdir() .. "/full"
    assert(lfs.mkdir(dir))
    -- big enough that a bundle takes a while: 256 MiB of random bytes
    project(dir, 256 * 1024)
  end)

  teardown(util.cleanup)

  it("removes the one a SIGKILLed bundle left, at the next bundle",
     function()
    local h = util.zpm_background({ "bundle", "-q" }, { cwd = dir })
    local writing = util.wait_until(function()
      local names = temp_files(dir)
      local size = names[1] and lfs.attributes(dir .. "/" .. names[1],
                                               "size")
      return (size or 0) > 4 * 1024 * 1024 and names[1]
        or util.exited(h) and "exited first"
    end, 30, 0.02)
    util.signal(h, "KILL")
    local _, err, code = util.finish(h, 10)
    assert.is_truthy(writing)
    assert.are_not.equal("exited first", writing, err)
    assert.are.equal(137, code, err)
    -- SIGKILL leaves it: nothing runs at exit
    assert.are.same({ writing }, temp_files(dir))

    local out
    out, err, code = bundle(dir)
    assert.are.equal(0, code, err)
    assert.are.equal("created full.zapp\n", out)
    assert.are.same({}, temp_files(dir))
    _, err, code = util.sh("gzip -t " .. util.quote(dir .. "/full.zapp"))
    assert.are.equal(0, code, err)
  end)

  it("leaves one a live process holds, removes it once released",
     function()
    local held = dir .. "/.full.zapp.tmp-Held12"
    local dead = dir .. "/.full.zapp.tmp-Dead12"
    local other = dir .. "/.other.zapp.tmp-Dead12"
    util.write(held, "partial")
    util.write(dead, "partial")
    util.write(other, "partial")
    -- a shell holds an exclusive flock(2) on it, as a writer does (fd 9,
    -- locked by util-linux flock(1), kept by the sleep it becomes)
    local holder = util.spawn({ "sh", "-c", "exec 9<" .. util.quote(held)
      .. " && flock -x 9 && echo locked && exec sleep 60" })
    local function free()
      local _, _, rc = util.sh("flock -n -x " .. util.quote(held) .. " true")
      return rc == 0
    end
    assert.is_false(free())
    -- a pattern naming them: neither is bundled (the dead one is gone
    -- before the writer starts, the held one is another writer's)
    util.write(dir .. "/zapp.yaml", ZAPP_YAML:gsub("data%.bin%]",
      "data.bin, '.full.zapp.tmp-*']"))
    local out, err, code = bundle(dir)
    util.write(dir .. "/zapp.yaml", ZAPP_YAML)
    assert.are.equal(0, code, err)
    assert.are.equal("created full.zapp\n", out)
    assert.are.same({ ".full.zapp.tmp-Held12" }, temp_files(dir))
    assert.are.same({ "boot/system.map", "zapp.yaml", "main.py",
                      "data.bin" }, util.members(dir .. "/full.zapp"))
    assert.are.equal("partial", util.read(held))
    assert.is_true(util.exists(other))
    util.kill(holder)
    assert.is_true(util.wait_until(free, 5))
    out, err, code = bundle(dir)
    assert.are.equal(0, code, err)
    assert.are.same({}, temp_files(dir))
    assert.is_true(util.exists(other))
    os.remove(other)
  end)

  it("leaves the one a running bundle writes: both bundles succeed",
     function()
    local h = util.zpm_background({ "bundle", "-q" }, { cwd = dir })
    local writing = util.wait_until(function()
      return temp_files(dir)[1] or util.exited(h) and "exited first"
    end, 30, 0.02)
    assert.is_truthy(writing)
    assert.are_not.equal("exited first", writing)
    -- the second bundle starts while the first one writes
    assert.is_false(util.exited(h))
    local out, err, code = bundle(dir)
    local first_out, first_err, first_code = util.finish(h, 60)
    assert.are.equal(0, code, err)
    assert.are.equal("created full.zapp\n", out)
    assert.are.equal(0, first_code, first_err)
    assert.are.equal("created full.zapp\n", first_out)
    assert.are.same({}, temp_files(dir))
    _, err, code = util.sh("gzip -t " .. util.quote(dir .. "/full.zapp"))
    assert.are.equal(0, code, err)
  end)
end)

describe("stdout that cannot be written, with a server", function()
  local sw, zapp

  -- zpm with stdout on /dev/full; returns stderr and the exit code
  local function zpm_full(args, env)
    local words = { util.quote(util.zpm_bin) }
    for _, a in ipairs(args) do
      words[#words + 1] = util.quote(a)
    end
    local out, err, code = util.sh("{ " .. table.concat(words, " ")
      .. " >/dev/full; }", { env = env })
    assert.are.equal("", out)
    return err, code
  end

  local function v1_env()
    return { ST_AUTH = sw.ST_AUTH, ST_USER = sw.ST_USER,
             ST_KEY = sw.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
             OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" }
  end

  setup(function()
    sw = servers.swift()
    local root = util.tmpdir() .. "/hello"
    os.execute("cp -r " .. util.source_dir .. "/examples/hello " .. root)
    local _, err, code = util.zpm({ "bundle", "-q" }, { cwd = root })
    assert(code == 0, err)
    zapp = root .. "/hello.zapp"
  end)

  teardown(util.cleanup)

  it("fails zpm auth", function()
    local out, err, code = util.zpm({ "auth" }, { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.matches("^Auth token: ", out)
    err, code = zpm_full({ "auth" }, v1_env())
    assert.are.equal(FULL, err)
    assert.are.equal(1, code)
  end)

  it("fails zpm deploy (deployed, the report lost)", function()
    local c = ("atomic-%d-%d"):format(os.time(), math.random(1 << 30))
    local err, code = zpm_full({ "deploy", "-q", c, zapp }, v1_env())
    assert.are.equal(1, code, err)
    -- the two lines about a private container go to stderr first
    assert.matches(FULL:gsub("%p", "%%%0") .. "$", err)
    assert.are.equal(1, select(2, err:gsub("Error: ", "")), err)
  end)

  describe("on the devcloud", function()
    local dir, env

    setup(function()
      dir = util.tmpdir()
      local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir })
      assert(code == 0, err)
      env = { OS_AUTH_URL = "", OS_USERNAME = "", OS_STORAGE_URL = "",
              OS_AUTH_TOKEN = "" }
      for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
    end)

    teardown(function()
      util.zpm({ "devcloud", "down", "--dir", dir })
    end)

    it("fails zpm execute, with and without the summary", function()
      local out, err, code = util.zpm({ "execute", zapp }, { env = env })
      assert.are.equal(0, code, err)
      assert.are.equal("Hello, ZeroVM world!\n", out)
      for _, extra in ipairs({ {}, { "--summary" } }) do
        local args = { "execute" }
        for _, a in ipairs(extra) do
          args[#args + 1] = a
        end
        args[#args + 1] = zapp
        err, code = zpm_full(args, env)
        assert.are.equal(FULL, err)
        assert.are.equal(1, code)
      end
    end)

    it("fails zpm deploy --execute", function()
      local c = ("atomic-x-%d-%d"):format(os.time(), math.random(1 << 30))
      local err, code = zpm_full({ "deploy", "--execute", "-q", c, zapp },
                                 env)
      assert.are.equal(1, code, err)
      assert.matches(FULL:gsub("%p", "%%%0") .. "$", err)
    end)

    it("fails zpm devcloud status", function()
      local err, code = zpm_full({ "devcloud", "status", "--dir", dir })
      assert.are.equal(FULL, err)
      assert.are.equal(1, code)
    end)
  end)
end)
