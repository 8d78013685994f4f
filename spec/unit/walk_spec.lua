-- zpm.core.fs.walk and zpm.core.fs.walker: a tree's entries, sorted,
-- whole or in batches, with or without the files' sizes.
local core = require("zpm.core")
local util = require("support.util")

local function tree()
  local dir = util.tmpdir()
  assert.are.equal(0, select(3, util.sh("cd " .. util.quote(dir)
    .. " && mkdir -p a/m b .hidden && printf 12345 > b.c && : > empty"
    .. " && printf zz > a/z && printf d > a/m/deep && printf h > .hidden/h"
    .. " && ln -s a link && mkfifo fifo")))
  for i = 1, 40 do
    util.write(("%s/b/f%02d"):format(dir, i), ("x"):rep(i))
  end
  return dir
end

-- Every entry of a walker, read n at a time: the three arrays joined.
local function read_all(walk, n)
  local paths, kinds, sizes, batches = {}, {}, {}, 0
  while true do
    local p, k, s = walk:read(n)
    assert.is_truthy(p, k)
    assert.is_true(#p <= n)
    if #p == 0 then
      return paths, kinds, sizes, batches
    end
    batches = batches + 1
    for i = 1, #p do
      paths[#paths + 1], kinds[#kinds + 1], sizes[#sizes + 1] =
        p[i], k[i], s[i]
    end
  end
end

describe("zpm.core.fs.walk", function()
  after_each(util.cleanup)

  it("lists every entry sorted, a directory before its contents",
     function()
    local dir = tree()
    local paths, kinds, sizes = core.fs.walk(dir)
    assert.are.same({ "a", "a/m", "a/m/deep", "a/z", "b" }, {
      paths[1], paths[2], paths[3], paths[4], paths[5] })
    assert.are.equal(49, #paths)
    local by = {}
    for i, p in ipairs(paths) do
      by[p] = { kinds[i], sizes[i] }
    end
    assert.are.same({ "file", 5 }, by["b.c"])
    assert.are.same({ "file", 0 }, by["empty"])
    assert.are.same({ "file", 40 }, by["b/f40"])
    assert.are.equal("directory", by["a"][1])
    assert.are.equal("link", by["link"][1])
    assert.are.equal("other", by["fifo"][1])
    assert.is_nil(by[".hidden"])
    local all = core.fs.walk(dir, { hidden = true })
    assert.are.equal(51, #all)
  end)

  it("leaves the files' sizes out when asked, kinds unchanged", function()
    local dir = tree()
    local paths, kinds, sizes = core.fs.walk(dir)
    local p2, k2, s2 = core.fs.walk(dir, { sizes = false })
    assert.are.same(paths, p2)
    assert.are.same(kinds, k2)
    for i = 1, #paths do
      if kinds[i] == "file" then
        assert.is_false(s2[i])
      elseif kinds[i] == "directory" then
        assert.are.equal(sizes[i], s2[i])  -- still lstat'ed
      else
        assert.are.equal(0, s2[i])  -- a link or a FIFO: not lstat'ed
      end
    end
  end)

  it("fails with the path and code io", function()
    local missing = util.tmpdir() .. "/missing"
    local ok, err, code = core.fs.walk(missing)
    assert.is_nil(ok)
    assert.are.equal("cannot open directory '" .. missing
      .. "': No such file or directory", err)
    assert.are.equal("io", code)
    assert.are.same({ nil, err, code }, { core.fs.walker(missing) })
  end)
end)

describe("zpm.core.fs.walker", function()
  after_each(util.cleanup)

  it("reads the same walk in batches of any size", function()
    local dir = tree()
    local paths, kinds, sizes = core.fs.walk(dir)
    for _, n in ipairs({ 1, 7, 48, 1000 }) do
      local walk <close> = assert(core.fs.walker(dir))
      local p, k, s, batches = read_all(walk, n)
      assert.are.same(paths, p)
      assert.are.same(kinds, k)
      assert.are.same(sizes, s)
      assert.are.equal(math.ceil(49 / n), batches)
      -- the end stays the end
      assert.are.equal(0, #walk:read(1))
    end
    local walk <close> = assert(core.fs.walker(dir, { sizes = false }))
    local p, k, s = read_all(walk, 5)
    assert.are.same(paths, p)
    assert.are.same(kinds, k)
    assert.is_false(s[3])  -- a/m/deep
  end)

  it("refuses a batch that is not positive and a read once closed",
     function()
    local walk = assert(core.fs.walker(tree()))
    assert.has_error(function() walk:read(0) end)
    walk:close()
    walk:close()
    assert.has_error(function() walk:read(1) end,
                     "attempt to use a closed walk")
  end)

  it("says so when a directory went away while being walked", function()
    local dir = tree()
    local walk <close> = assert(core.fs.walker(dir))
    local p = walk:read(1)
    assert.are.same({ "a" }, p)
    assert.are.equal(0, select(3, util.sh("rm -r " .. util.quote(dir
      .. "/a"))))
    local ok, err, code = walk:read(10)
    assert.is_nil(ok)
    assert.are.equal("cannot open directory '" .. dir
      .. "/a': No such file or directory", err)
    assert.are.equal("io", code)
    assert.has_error(function() walk:read(1) end,
                     "attempt to use a closed walk")
  end)
end)
