-- zpm.core.archive.scan: walking a zapp's members without extracting.
local core = require("zpm.core")
local util = require("support.util")

describe("zpm.core.archive.scan", function()
  local dir, zapp

  setup(function()
    dir = util.tmpdir()
    util.write(dir .. "/a.txt", "alpha")
    util.write(dir .. "/big.bin", ("x"):rep(100000))
    os.execute("mkdir " .. dir .. "/d && ln -s a.txt " .. dir .. "/link")
    zapp = dir .. "/t.tar.gz"
    assert(os.execute(("tar -C %s -czf %s a.txt big.bin d link")
      :format(util.quote(dir), util.quote(zapp))))
  end)

  teardown(util.cleanup)

  it("lists members with their types and reads data on demand", function()
    local seen = {}
    assert.is_true(core.archive.scan(zapp, function(e, read)
      seen[#seen + 1] = ("%s:%s:%d"):format(e.name, e.type, e.size)
      if e.name == "a.txt" then
        assert.are.equal("alpha", read(10))
      elseif e.name == "link" then
        assert.are.equal("a.txt", e.linkname)
      end
    end))
    assert.are.same({ "a.txt:file:5", "big.bin:file:100000",
                      "d/:directory:0", "link:symlink:0" }, seen)
  end)

  it("reads plain (uncompressed) tar too", function()
    local plain = dir .. "/t.tar"
    assert(os.execute("gzip -dc " .. util.quote(zapp) .. " > "
                      .. util.quote(plain)))
    local n = 0
    assert.is_true(core.archive.scan(plain, function() n = n + 1 end))
    assert.are.equal(4, n)
  end)

  it("refuses to read a member larger than asked", function()
    core.archive.scan(zapp, function(e, read)
      if e.name == "big.bin" then
        local data, msg, code = read(1000)
        assert.is_nil(data)
        assert.are.equal("member 'big.bin' is larger than 1000 bytes", msg)
        assert.are.equal("limit", code)
        return false
      end
    end)
  end)

  it("stops when visit returns false", function()
    local n = 0
    assert.is_true(core.archive.scan(zapp, function()
      n = n + 1
      return false
    end))
    assert.are.equal(1, n)
  end)

  it("fails with nil, msg, code for a missing or bad file", function()
    local ok, msg, code = core.archive.scan(dir .. "/none", function() end)
    assert.is_nil(ok)
    assert.matches("none", msg)
    assert.are.equal("archive", code)
    util.write(dir .. "/junk.zapp", ("junk"):rep(200))
    ok, msg, code = core.archive.scan(dir .. "/junk.zapp", function() end)
    assert.is_nil(ok)
    assert.are.equal("archive", code)
  end)

  it("propagates errors from visit and invalidates read", function()
    local saved
    assert.has.error(function()
      core.archive.scan(zapp, function(_, read)
        saved = read
        error("stop here")
      end)
    end, nil)
    assert.has.error(function() saved(10) end,
                     "read() is only valid during its visit call")
  end)

  it("checks its arguments", function()
    assert.has.error(function() core.archive.scan(zapp) end)
    assert.has.error(function() core.archive.scan(nil, print) end)
  end)
end)
