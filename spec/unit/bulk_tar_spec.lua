-- zpm.core.archive.tar (the tar of a bulk upload, issue 16 item 4) read
-- back by Python's tarfile, the reader Swift's bulk middleware uses; and
-- zpm.swift.extractable_name and bulk_requests.
local util = require("support.util")
local core = require("zpm.core")
local json = require("zpm.json")
local swift = require("zpm.swift")

-- each member as tarfile reads it: { name, data (hex), pax = {...} }
local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function read_back(tar)
  local path = util.tmpdir() .. "/t.tar"
  util.write(path, tar)
  local out = util.sh("/usr/bin/python3 -c " .. util.quote([[
import json, sys, tarfile
members = []
with tarfile.open(sys.argv[1], "r|") as t:
    for m in t:
        data = t.extractfile(m).read() if m.isfile() else b""
        members.append({"name": m.name, "type": m.type.decode(),
                        "data": data.hex(),
                        "pax": m.pax_headers})
print(json.dumps(members))
]]) .. " " .. util.quote(path))
  return assert(json.decode(out), out)
end

describe("zpm.core.archive.tar", function()
  teardown(util.cleanup)

  it("makes a tar whose members carry their MIME types", function()
    local long = ("d%02d/"):rep(30):format(table.unpack((function()
      local t = {}
      for i = 1, 30 do t[i] = i end
      return t
    end)())) .. "x.js"
    local tar = assert(core.archive.tar({
      { name = "a b/ü %20?#.html", data = "<p>x</p>",
        mime_type = "text/html; charset=utf-8" },
      { name = long, data = ("x"):rep(1000),
        mime_type = "application/javascript" },
      { name = "plain", data = "" },
      { name = "bin", data = "\0\1\2\255" },
    }))
    assert.are.equal(0, #tar % 512)
    local m = read_back(tar)
    assert.are.equal(4, #m)
    assert.are.equal("a b/ü %20?#.html", m[1].name)
    assert.are.equal(hex("<p>x</p>"), m[1].data)
    assert.are.equal("0", m[1].type)
    assert.are.equal("text/html; charset=utf-8",
                     m[1].pax["SCHILY.xattr.user.mime_type"])
    -- only the SCHILY record: LIBARCHIVE.xattr's value would be base64
    assert.is_nil(m[1].pax["LIBARCHIVE.xattr.user.mime_type"])
    assert.are.equal(long, m[2].name)
    assert.are.equal(hex(("x"):rep(1000)), m[2].data)
    assert.are.equal("application/javascript",
                     m[2].pax["SCHILY.xattr.user.mime_type"])
    assert.are.equal("plain", m[3].name)
    assert.are.equal("", m[3].data)
    assert.is_nil(m[3].pax["SCHILY.xattr.user.mime_type"])
    assert.are.equal("000102ff", m[4].data)
  end)

  it("makes an empty tar of no members", function()
    assert.are.equal(("\0"):rep(1024), core.archive.tar({}))
  end)

  it("fails on an empty member name", function()
    local tar, err, code = core.archive.tar({ { name = "", data = "x" } })
    assert.is_nil(tar)
    assert.are.equal("empty member name", err)
    assert.are.equal("invalid", code)
  end)

  it("raises on members that are not { name, data [, mime_type] }",
     function()
    assert.has.error(function() core.archive.tar("x") end)
    assert.has.error(function() core.archive.tar({ "x" }) end,
      "bad argument #1 to 'tar' (members[1]: table expected, got string)")
    assert.has.error(function()
      core.archive.tar({ { name = "a", data = "" }, { name = 1, data = "" } })
    end, "bad argument #1 to 'tar' (members[2].name: string expected, "
      .. "got number)")
    assert.has.error(function()
      core.archive.tar({ { name = "a" } })
    end, "bad argument #1 to 'tar' (members[1].data: string expected, "
      .. "got nil)")
    assert.has.error(function()
      core.archive.tar({ { name = "a", data = "", mime_type = true } })
    end, "bad argument #1 to 'tar' (members[1].mime_type: string "
      .. "expected, got boolean)")
  end)
end)

describe("zpm.swift.extractable_name", function()
  for name, ok in pairs({
      ["index.html"] = true, ["a b/ü %20?#.html"] = true,
      ["dir/.hidden"] = true, ["..x"] = true, ["a/...b"] = true,
      ["a/./b"] = false, ["a/../b"] = false, [".."] = false,
      ["/abs"] = false, ["./rel"] = false, ["dir/"] = false,
      ["a//b"] = false, ["a\\b"] = false }) do
    it(("%s: %s"):format(name, ok), function()
      assert.are.equal(ok, swift.extractable_name(name))
    end)
  end
end)

describe("zpm.swift.bulk_requests", function()
  it("is one request per 16 files, at least one, at most concurrency",
     function()
    assert.are.equal(16, swift.BULK_FILES_PER_REQUEST)
    assert.are.equal(1, swift.bulk_requests(0))
    assert.are.equal(1, swift.bulk_requests(31))
    assert.are.equal(2, swift.bulk_requests(32))
    assert.are.equal(6, swift.bulk_requests(100))
    assert.are.equal(8, swift.bulk_requests(1000))
    assert.are.equal(8, swift.bulk_requests(100000))
    assert.are.equal(3, swift.bulk_requests(1000, 3))
    assert.are.equal(1, swift.bulk_requests(1000, 1))
  end)
end)
