-- zpm.core.md5 and zpm.core.md5_new (the module zpm.core.digest, MD5
-- from libcrypto): RFC 1321's test suite, pieces against the whole, and
-- the argument errors.
local core = require("zpm.core")
local util = require("support.util")

-- RFC 1321, appendix A.5, and two with NUL bytes.
local VECTORS = {
  { "", "d41d8cd98f00b204e9800998ecf8427e" },
  { "a", "0cc175b9c0f1b6a831c399e269772661" },
  { "abc", "900150983cd24fb0d6963f7d28e17f72" },
  { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
  { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
  { ("1234567890"):rep(8), "57edf4a22be3c955ac49da2e2107b67a" },
  { "\0", "93b885adfe0da089cdf634904fd59f71" },
  { "a\0b", "70350f6027bce3713f6b76473084309b" },
}

-- 1 MiB: every byte value, 4096 times
local function mebibyte()
  local bytes = {}
  for i = 0, 255 do
    bytes[#bytes + 1] = string.char(i)
  end
  return table.concat(bytes):rep(4096)
end
local MEBIBYTE_MD5 = "c35cc7d8d91728a0cb052831bc4ef372"

describe("zpm.core.md5", function()
  it("gives RFC 1321's digests", function()
    for _, case in ipairs(VECTORS) do
      assert.are.equal(case[2], core.md5(case[1]))
    end
    assert.are.equal(MEBIBYTE_MD5, core.md5(mebibyte()))
  end)

  it("raises on an argument that is not a string", function()
    assert.has.error(function() core.md5() end)
    assert.has.error(function() core.md5({}) end)
  end)

  it("loads libcrypto's module on first use only", function()
    local file = os.tmpname()
    util.write(file, [[
      local core = require("zpm.core")
      io.write(tostring(package.loaded["zpm.core.digest"] ~= nil), " ")
      io.write(core.md5("abc"), " ")
      io.write(tostring(package.loaded["zpm.core.digest"] ~= nil))
    ]])
    local out, err, code = util.sh("lua5.4 " .. util.quote(file),
      { env = { LUA_CPATH = util.build_dir .. "/?.so;;" } })
    os.remove(file)
    assert.are.equal(0, code, err)
    assert.are.equal("false 900150983cd24fb0d6963f7d28e17f72 true", out)
  end)
end)

describe("zpm.core.md5_new", function()
  it("hashes in pieces what md5 hashes whole", function()
    local data = mebibyte()
    for _, step in ipairs({ 1, 63, 64, 65, 1000, 65536 }) do
      local m = core.md5_new()
      local n = step == 1 and 300 or #data   -- byte by byte: a short part
      for pos = 1, n, step do
        m:update(data:sub(pos, math.min(pos + step - 1, n)))
      end
      assert.are.equal(core.md5(data:sub(1, n)), m:hexdigest())
      m:close()
    end
  end)

  it("chains updates and goes on after a hexdigest", function()
    local m = core.md5_new()
    assert.are.equal(m, m:update("a"))
    assert.are.equal("0cc175b9c0f1b6a831c399e269772661", m:hexdigest())
    m:update("b"):update("c")
    assert.are.equal("900150983cd24fb0d6963f7d28e17f72", m:hexdigest())
    assert.are.equal("900150983cd24fb0d6963f7d28e17f72", m:hexdigest())
    assert.are.equal("d41d8cd98f00b204e9800998ecf8427e",
                     core.md5_new():hexdigest())
  end)

  it("closes once, by close, __close or the collector", function()
    local m = core.md5_new()
    assert.matches("^zpm%.core%.Md5 %(", tostring(m))
    m:close()
    m:close()
    assert.are.equal("zpm.core.Md5 (closed)", tostring(m))
    assert.has.error(function() m:update("x") end,
                     "attempt to use a closed MD5 object")
    assert.has.error(function() m:hexdigest() end)
    do
      local c <close> = core.md5_new()
      c:update("abc")
    end
    collectgarbage()
  end)

  it("raises on an argument that is not a string", function()
    local m = core.md5_new()
    assert.has.error(function() m:update() end)
    assert.has.error(function() m:update({}) end)
    assert.has.error(function() m.update({}, "x") end)
    m:close()
  end)
end)
