-- The specs must run on Lua 5.4 (installing lua-busted can point `lua` at
-- 5.1; DESIGN.md section 11), with the module built from this tree.
describe("runtime", function()
  it("is Lua 5.4", function()
    assert.are.equal("Lua 5.4", _VERSION)
  end)

  it("loads zpm.core with a version and no globals", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    local core = require("zpm.core")
    assert.matches("^zpm%.core %d+%.%d+%.%d+$", core._VERSION)
    for k in pairs(_G) do
      assert.is_true(before[k], "global set: " .. tostring(k))
    end
  end)

  it("has the same null as cjson", function()
    assert.are.equal(require("cjson").null, require("zpm.core").null)
  end)

  it("agrees on the version between zpm and zpm.core", function()
    local zpm = require("zpm")
    assert.are.equal("zpm.core " .. zpm.VERSION, require("zpm.core")._VERSION)
  end)
end)
