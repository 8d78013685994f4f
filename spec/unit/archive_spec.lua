local core = require("zpm.core")
local lfs = require("lfs")

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

local function q(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

local function write(path, data, mode)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  if mode then
    assert(core.chmod(path, mode))
  end
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

local function exists(path)
  return lfs.symlinkattributes(path, "mode") ~= nil
end

-- Names in dir starting with a prefix (to find leftover temp files).
local function leftovers(dir, prefix)
  local found = {}
  for name in lfs.dir(dir) do
    if name:sub(1, #prefix) == prefix then
      found[#found + 1] = name
    end
  end
  return found
end

describe("zpm.core.archive", function()
  assert.are.equal("Lua 5.4", _VERSION)

  local tmp

  before_each(function()
    tmp = os.tmpname()
    os.remove(tmp)
    assert(lfs.mkdir(tmp))
    assert(lfs.mkdir(tmp .. "/src"))
    assert(lfs.mkdir(tmp .. "/src/sub"))
    assert(core.chmod(tmp .. "/src", 493))
    assert(core.chmod(tmp .. "/src/sub", 493))
    write(tmp .. "/src/a.txt", "hello\n", 420)
    write(tmp .. "/src/sub/run.sh", "#!/bin/sh\necho hi\n", 493)
    assert(lfs.link("a.txt", tmp .. "/src/link", true))
  end)

  after_each(function()
    os.execute("rm -rf " .. q(tmp))
  end)

  local function build(path, opts)
    local w = assert(core.archive.create(path, opts))
    assert.is_true(w:add_path(tmp .. "/src", "src"))
    assert.is_true(w:add_path(tmp .. "/src/a.txt", "src/a.txt"))
    assert.is_true(w:add_path(tmp .. "/src/link", "src/link"))
    assert.is_true(w:add_path(tmp .. "/src/sub", "src/sub"))
    assert.is_true(w:add_path(tmp .. "/src/sub/run.sh", "src/sub/run.sh"))
    assert.is_true(w:add_memory("boot/system.map", "{}\n"))
    return w
  end

  describe("create", function()
    it("writes a tar.gz that gzip, tar and bsdtar accept", function()
      local out = tmp .. "/a.zapp"
      local w = build(out, { level = 9, threads = 2, mtime = 0 })
      assert.is_true(w:commit())
      assert.is_true(exists(out))
      assert.are.same({}, leftovers(tmp, ".a.zapp.tmp-"))

      local rc, text = sh("gzip -t " .. q(out))
      assert.are.equal(0, rc, text)
      rc, text = sh("LC_ALL=C tar -tzvf " .. q(out))
      assert.are.equal(0, rc, text)
      local lines = {}
      for line in text:gmatch("[^\n]+") do
        lines[#lines + 1] = line
      end
      assert.are.equal(6, #lines)
      assert.matches("^drwxr%-xr%-x 0/0 +0 1970%-01%-01 00:00 src/$",
                     lines[1])
      assert.matches("^%-rw%-r%-%-r%-%- 0/0 +6 1970%-01%-01 00:00 "
                     .. "src/a.txt$", lines[2])
      assert.matches("^lrwxrwxrwx 0/0 +0 .* src/link %-> a.txt$", lines[3])
      assert.matches("^drwxr%-xr%-x 0/0 .* src/sub/$", lines[4])
      assert.matches("^%-rwxr%-xr%-x 0/0 +18 .* src/sub/run.sh$", lines[5])
      assert.matches("^%-rw%-r%-%-r%-%- 0/0 +3 .* boot/system.map$",
                     lines[6])
      rc, text = sh("tar -xzOf " .. q(out) .. " src/sub/run.sh")
      assert.are.equal(0, rc)
      assert.are.equal("#!/bin/sh\necho hi\n", text)
      if os.execute("command -v bsdtar >/dev/null") then
        rc, text = sh("bsdtar -tzf " .. q(out))
        assert.are.equal(0, rc, text)
        assert.matches("src/sub/run.sh", text)
      end
    end)

    it("is reproducible", function()
      local a, b = tmp .. "/a.zapp", tmp .. "/b.zapp"
      assert.is_true(build(a, { threads = 1 }):commit())
      assert.is_true(build(b, { threads = 4 }):commit())
      assert.are.equal(read(a), read(b))
    end)

    it("uses a fixed mtime for every member", function()
      local out = tmp .. "/m.zapp"
      local w = build(out, { mtime = 86400 * 366 })
      assert.is_true(w:add_memory("explicit", "x", 384, 5))
      assert.is_true(w:commit())
      local _, text = sh("LC_ALL=C TZ=UTC tar -tzvf " .. q(out))
      local n = 0
      for line in text:gmatch("[^\n]+") do
        n = n + 1
        if line:match("explicit$") then
          assert.matches("^%-rw%-%-%-%-%-%-%- 0/0 +1 1970%-01%-01 00:00 ",
                         line)
        else
          assert.matches(" 1971%-01%-02 00:00 ", line)
        end
      end
      assert.are.equal(7, n)
    end)

    it("returns nil, msg, code when the directory is missing", function()
      local w, msg, code = core.archive.create(tmp .. "/no/such/x.zapp")
      assert.is_nil(w)
      assert.matches("no/such/x.zapp", msg, 1, true)
      assert.matches("No such file or directory", msg, 1, true)
      assert.are.equal("io", code)
    end)

    it("raises on bad arguments and unknown options", function()
      assert.has.error(function() core.archive.create() end)
      assert.has.error(function() core.archive.create({}) end)
      assert.has.error(function() core.archive.create("x", 5) end)
      assert.has.error(function()
        core.archive.create(tmp .. "/x", { compression = 9 })
      end, "bad argument #2 to 'create' (unknown option 'compression')")
      assert.has.error(function()
        core.archive.create(tmp .. "/x", { level = 0 })
      end)
      assert.has.error(function()
        core.archive.create(tmp .. "/x", { level = 3.5 })
      end)
      assert.has.error(function()
        core.archive.create(tmp .. "/x", { threads = -1 })
      end, "bad argument #2 to 'create' (option 'threads' must be an "
           .. "integer in 0..64)")
      assert.has.error(function()
        core.archive.create(tmp .. "/x", { mtime = "now" })
      end)
      assert.has.error(function()
        core.archive.create(tmp .. "/x", { [1] = 2 })
      end)
      assert.are.same({}, leftovers(tmp, ".x.tmp-"))
    end)
  end)

  describe("writer", function()
    it("reports a missing file and stays usable", function()
      local out = tmp .. "/w.zapp"
      local w = assert(core.archive.create(out))
      local ok, msg, code = w:add_path(tmp .. "/src/missing", "missing")
      assert.is_nil(ok)
      assert.matches("src/missing", msg, 1, true)
      assert.are.equal("io", code)
      assert.is_true(w:add_path(tmp .. "/src/a.txt", "a.txt"))
      assert.is_true(w:commit())
      local _, text = sh("tar -tzf " .. q(out))
      assert.are.equal("a.txt\n", text)
    end)

    it("refuses a fifo", function()
      assert.is_true(os.execute("mkfifo " .. q(tmp .. "/src/fifo")))
      local w = assert(core.archive.create(tmp .. "/f.zapp"))
      local ok, msg, code = w:add_path(tmp .. "/src/fifo", "fifo")
      assert.is_nil(ok)
      assert.are.equal("'" .. tmp .. "/src/fifo' is not a regular file, "
                       .. "directory or symlink", msg)
      assert.are.equal("invalid", code)
      w:close()
      assert.is_false(exists(tmp .. "/f.zapp"))
      assert.are.same({}, leftovers(tmp, ".f.zapp.tmp-"))
    end)

    it("adds a file by its prefix and name as add_path does", function()
      assert.is_true(os.execute("mkfifo " .. q(tmp .. "/src/fifo2")))
      local w = assert(core.archive.create(tmp .. "/p.zapp", { mtime = 7 }))
      -- what a walk saw as a file may be anything by now: a directory, a
      -- link (stored as a link, not followed), a FIFO (refused, and the
      -- open must not block), or gone
      assert.is_true(w:add_file(tmp .. "/", "src/a.txt"))
      assert.is_true(w:add_file(tmp .. "/src/", "sub"))
      assert.is_true(w:add_file(tmp .. "/src/", "link"))
      local ok, msg, code = w:add_file(tmp .. "/src/", "fifo2")
      assert.is_nil(ok)
      assert.are.equal("'" .. tmp .. "/src/fifo2' is not a regular file, "
                       .. "directory or symlink", msg)
      assert.are.equal("invalid", code)
      ok, msg, code = w:add_file(tmp .. "/src/", "missing")
      assert.is_nil(ok)
      assert.matches("cannot add '" .. tmp .. "/src/missing'", msg, 1, true)
      assert.are.equal("io", code)
      -- a path longer than the binding's stack buffer
      local long = ("d"):rep(200)
      local rel = long .. "/" .. long .. "/" .. long .. "/" .. long
        .. "/" .. long .. "/f.txt"
      assert.is_true(os.execute("mkdir -p " .. q(tmp .. "/" .. rel:match(
        "^(.*)/"))))
      local f = assert(io.open(tmp .. "/" .. rel, "w"))
      f:write("long\n")
      f:close()
      assert.is_true(w:add_file(tmp .. "/", rel))
      assert.is_true(w:commit())
      local _, text = sh("tar -tvzf " .. q(tmp .. "/p.zapp"))
      local lines = {}
      for line in text:gmatch("[^\n]+") do
        lines[#lines + 1] = line
      end
      assert.are.equal(4, #lines)
      assert.matches("^%-.* src/a%.txt$", lines[1])
      assert.matches("^d.* sub/$", lines[2])
      assert.matches("^l.* link %-> a%.txt$", lines[3])
      assert.matches("^%-.* 5 .*/f%.txt$", lines[4])
    end)

    it("raises on bad method arguments", function()
      local w = assert(core.archive.create(tmp .. "/x.zapp"))
      assert.has.error(function() w:add_path(tmp .. "/src/a.txt") end)
      assert.has.error(function() w:add_path(nil, "a") end)
      assert.has.error(function() w:add_memory("a") end)
      assert.has.error(function() w:add_memory("a", "x", 65536) end)
      assert.has.error(function() w:add_memory("a", "x", 420, -3) end)
      assert.has.error(function() w.add_path({}, "a", "b") end)
      assert.has.error(function() w:add_file(tmp .. "/") end)
      assert.has.error(function() w:add_file(nil, "a") end)
      w:close()
    end)

    it("shows its temporary file beside the output", function()
      local w = assert(core.archive.create(tmp .. "/t.zapp"))
      local t = w:temp_path()
      assert.are.equal(tmp .. "/.t.zapp.tmp-", t:sub(1, #tmp + 13))
      assert.is_true(exists(t))
      assert.is_false(exists(tmp .. "/t.zapp"))
      assert.matches("^zpm.core.ArchiveWriter %(", tostring(w))
      assert.are.equal("zpm.core.ArchiveWriter", getmetatable(w).__name)
      assert.is_true(w:close())
      assert.is_false(exists(t))
      assert.are.equal("zpm.core.ArchiveWriter (closed)", tostring(w))
    end)

    it("is closed after commit; close is idempotent", function()
      local w = build(tmp .. "/c.zapp")
      assert.is_true(w:commit())
      assert.is_true(w:close())
      assert.is_true(w:close())
      assert.is_true(exists(tmp .. "/c.zapp"))
      assert.has.error(function() w:commit() end,
                       "attempt to use a closed archive writer")
      assert.has.error(function() w:add_memory("a", "b") end,
                       "attempt to use a closed archive writer")
      assert.has.error(function() w:temp_path() end,
                       "attempt to use a closed archive writer")
    end)

    it("discards on close, leaving nothing", function()
      local w = build(tmp .. "/d.zapp")
      local t = w:temp_path()
      assert.is_true(w:close())
      assert.is_false(exists(t))
      assert.is_false(exists(tmp .. "/d.zapp"))
    end)

    it("discards through a <close> variable on error", function()
      local t
      local ok, err = pcall(function()
        local w <close> = build(tmp .. "/e.zapp")
        t = w:temp_path()
        error("boom")
      end)
      assert.is_false(ok)
      assert.matches("boom", err)
      assert.is_false(exists(t))
      assert.is_false(exists(tmp .. "/e.zapp"))
    end)

    it("discards when collected", function()
      local t
      do
        local w = build(tmp .. "/g.zapp")
        t = w:temp_path()
      end
      collectgarbage()
      collectgarbage()
      assert.is_false(exists(t))
      assert.is_false(exists(tmp .. "/g.zapp"))
    end)

    it("returns nil, msg, code when commit cannot rename", function()
      assert(lfs.mkdir(tmp .. "/taken.zapp"))
      write(tmp .. "/taken.zapp/x", "x")
      local w = build(tmp .. "/taken.zapp")
      local ok, msg, code = w:commit()
      assert.is_nil(ok)
      assert.matches("taken.zapp", msg, 1, true)
      assert.are.equal("io", code)
      assert.are.same({}, leftovers(tmp, ".taken.zapp.tmp-"))
      assert.has.error(function() w:commit() end)
    end)

    it("follows the umask for the result", function()
      local out = tmp .. "/u.zapp"
      local rc = sh("umask 027 && LUA_CPATH=" .. q(package.cpath)
        .. " lua5.4 -e " .. q(([[
          local w = assert(require("zpm.core").archive.create(%q))
          assert(w:add_memory("a", "b"))
          assert(w:commit())]]):format(out)))
      assert.are.equal(0, rc)
      assert.are.equal("rw-r-----", lfs.attributes(out, "permissions"))
    end)

    it("is read by Python's tarfile", function()
      local out = tmp .. "/p.zapp"
      assert.is_true(build(out):commit())
      local rc, text = sh("/usr/bin/python3 -c " .. q([[
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    print(m.name, m.type.decode(), oct(m.mode), m.uid, m.gid,
          repr(m.uname), repr(m.gname), m.size, m.linkname)
]]) .. " " .. q(out))
      assert.are.equal(0, rc, text)
      assert.are.equal(table.concat({
        "src 5 0o755 0 0 '' '' 0 ",
        "src/a.txt 0 0o644 0 0 '' '' 6 ",
        "src/link 2 0o777 0 0 '' '' 0 a.txt",
        "src/sub 5 0o755 0 0 '' '' 0 ",
        "src/sub/run.sh 0 0o755 0 0 '' '' 18 ",
        "boot/system.map 0 0o644 0 0 '' '' 3 ",
      }, "\n") .. "\n", text)
    end)
  end)
end)
