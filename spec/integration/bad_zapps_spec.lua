-- Hostile and malformed zapp.yaml files (spec/fixtures/bad-zapps): each
-- must give exit 1 and one line `Error: zapp.yaml:LINE:COL: ...`, never a
-- traceback, and leave no zapp or temporary file behind.
local util = require("support.util")
local lfs = require("lfs")

local fixtures = util.source_dir .. "/spec/fixtures/bad-zapps"

local names = {}
for name in lfs.dir(fixtures) do
  if name:match("%.yaml$") then
    names[#names + 1] = name
  end
end
table.sort(names)

describe("malformed zapp.yaml", function()
  teardown(util.cleanup)

  it("has a corpus of at least 30 files", function()
    assert.is_true(#names >= 30, #names .. " fixtures")
  end)

  for _, name in ipairs(names) do
    it(name, function()
      local dir = util.tmpdir()
      util.write(dir .. "/zapp.yaml", util.read(fixtures .. "/" .. name))
      util.write(dir .. "/main.py", "print(1)\n")
      local out, err, code = util.zpm({ "bundle" }, { cwd = dir })
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.matches("^Error: zapp%.yaml:%d+:%d+: [^\n]+\n$", err)
      assert.is_nil(err:find("traceback", 1, true))
      local left = {}
      for entry in lfs.dir(dir) do
        if entry ~= "." and entry ~= ".." and entry ~= "zapp.yaml"
            and entry ~= "main.py" then
          left[#left + 1] = entry
        end
      end
      assert.are.same({}, left)
    end)
  end
end)
