-- zapp.yaml validation: every bad input gets file:line:column, the key
-- path and what was expected.
local zapp = require("zpm.zapp")

local GOOD_GROUP = "execution:\n  groups:\n  - name: g\n    path: p\n"
local GOOD_META = "meta:\n  name: t\n"

describe("zapp.yaml validation", function()
  it("accepts a minimal zapp", function()
    local z = assert(zapp.parse(GOOD_GROUP .. GOOD_META))
    assert.are.equal("t", z.meta.name)
    assert.are.equal("python", zapp.project_type(z))
    assert.are.same({}, zapp.list(z, "bundling"))
  end)

  local cases = {
    { "", "zapp.yaml:1:1: expected a mapping at the top level, got null" },
    { "- a\n", "zapp.yaml:1:1: expected a mapping at the top level, "
      .. "got list" },
    { GOOD_GROUP, "zapp.yaml:1:1: missing required section 'meta'" },
    { GOOD_META, "zapp.yaml:1:1: missing required section 'execution'" },
    { GOOD_GROUP .. "meta: 5\n", "zapp.yaml:5:7: meta: expected a mapping, "
      .. "got integer" },
    { GOOD_GROUP .. "meta:\n  Version: 1\n",
      "zapp.yaml:6:3: meta: missing required key 'name'" },
    { GOOD_GROUP .. "meta:\n  name: 5\n",
      "zapp.yaml:6:9: meta.name: expected a string, got integer" },
    { GOOD_GROUP .. "meta:\n  name: ''\n",
      "zapp.yaml:6:9: meta.name: must not be empty" },
    { GOOD_GROUP .. "meta:\n  name: a/b\n",
      "zapp.yaml:6:9: meta.name: 'a/b' cannot be used as a file name" },
    { GOOD_GROUP .. "meta:\n  name: t\n  Summary: [x]\n",
      "zapp.yaml:7:12: meta.Summary: expected a single value, got list" },
    { "execution: {}\n" .. GOOD_META,
      "zapp.yaml:1:12: execution: missing required key 'groups'" },
    { "execution:\n  groups: []\n" .. GOOD_META,
      "zapp.yaml:2:11: execution.groups: needs at least one group" },
    { "execution:\n  groups: x\n" .. GOOD_META,
      "zapp.yaml:2:11: execution.groups: expected a list, got string" },
    { "execution:\n  groups:\n  - name: g\n" .. GOOD_META,
      "zapp.yaml:3:5: execution.groups[0]: missing required key 'path'" },
    { "execution:\n  groups:\n  - name: g\n    path: 5\n" .. GOOD_META,
      "zapp.yaml:4:11: execution.groups[0].path: expected a string, "
      .. "got integer" },
    { GOOD_GROUP .. "  - name: h\n    path: [p]\n" .. GOOD_META,
      "zapp.yaml:6:11: execution.groups[1].path: expected a string, "
      .. "got list" },
    { GOOD_GROUP .. "  - name: g\n    path: q\n" .. GOOD_META,
      "zapp.yaml:5:11: execution.groups[1].name: duplicate group name 'g'" },
    { GOOD_GROUP .. "    args: [a]\n" .. GOOD_META,
      "zapp.yaml:5:11: execution.groups[0].args: expected a string, "
      .. "got list" },
    { GOOD_GROUP .. "    devices: stdout\n" .. GOOD_META,
      "zapp.yaml:5:14: execution.groups[0].devices: expected a list, "
      .. "got string" },
    { GOOD_GROUP .. "    devices:\n    - path: x\n" .. GOOD_META,
      "zapp.yaml:6:7: execution.groups[0].devices[0]: missing required "
      .. "key 'name'" },
    { GOOD_GROUP .. "    devices:\n    - stdout\n" .. GOOD_META,
      "zapp.yaml:6:7: execution.groups[0].devices[0]: expected a mapping, "
      .. "got string" },
    { GOOD_GROUP .. "    count: 0\n" .. GOOD_META,
      "zapp.yaml:5:12: execution.groups[0].count: must be at least 1" },
    { GOOD_GROUP .. "    count: two\n" .. GOOD_META,
      "zapp.yaml:5:12: execution.groups[0].count: expected an integer, "
      .. "got string" },
    { GOOD_GROUP .. "    connect: [nope]\n" .. GOOD_META,
      "zapp.yaml:5:15: execution.groups[0].connect[0]: no group named "
      .. "'nope'" },
    { GOOD_GROUP .. "    env: [A]\n" .. GOOD_META,
      "zapp.yaml:5:10: execution.groups[0].env: expected a mapping, "
      .. "got list" },
    { GOOD_GROUP .. "    env:\n      A: {b: 1}\n" .. GOOD_META,
      "zapp.yaml:6:10: execution.groups[0].env.A: expected a string or "
      .. "number, got mapping" },
    { GOOD_GROUP .. "    env: {ON: 1}\n" .. GOOD_META,
      "zapp.yaml:5:15: execution.groups[0].env.true: environment variable "
      .. "names must be strings (YAML reads this one as true: quote it)" },
    { GOOD_GROUP .. GOOD_META .. "bundling: '*.py'\n",
      "zapp.yaml:7:11: bundling: expected a list, got string" },
    { GOOD_GROUP .. GOOD_META .. "bundling: [1]\n",
      "zapp.yaml:7:12: bundling[0]: expected a string, got integer" },
    { GOOD_GROUP .. GOOD_META .. "ui: [a, {b: c}]\n",
      "zapp.yaml:7:9: ui[1]: expected a string, got mapping" },
    { GOOD_GROUP .. GOOD_META .. "project_type: 3\n",
      "zapp.yaml:7:15: project_type: expected a string, got integer" },
    { GOOD_GROUP .. GOOD_META .. "help:\n  args: [[a]]\n",
      "zapp.yaml:8:10: help.args[0]: expected a [name, label] pair, "
      .. "got list" },
    { GOOD_GROUP .. GOOD_META .. "dependencies: [[]]\n",
      "zapp.yaml:7:16: dependencies[0]: expected [package, module, ...]" },
    { GOOD_GROUP .. GOOD_META .. "dependencies: [{a: b}]\n",
      "zapp.yaml:7:16: dependencies[0]: expected a string, got mapping" },
    -- syntax errors come from the YAML loader, with a position
    { "meta: [\n", "^zapp%.yaml:2:1: " },
    { "a: b\n c: d\n", "^zapp%.yaml:2:3: " },
    { "a: *nope\n", "^zapp%.yaml:1:4: .*undefined alias" },
    { "a: 1\n---\nb: 2\n", "^zapp%.yaml:2:1: .*single document" },
    { "a: \255\n", "^zapp%.yaml:1:4: " },
  }

  for _, case in ipairs(cases) do
    it(("reports %q"):format(case[2]), function()
      local z, err = zapp.parse(case[1])
      assert.is_nil(z)
      if case[2]:sub(1, 1) == "^" then
        assert.matches(case[2], err)
      else
        assert.are.equal(case[2], err)
      end
    end)
  end

  it("treats empty list sections as empty", function()
    local z = assert(zapp.parse(GOOD_GROUP .. GOOD_META .. "bundling:\n"))
    assert.are.same({}, zapp.list(z, "bundling"))
  end)

  it("names the file given to load", function()
    local util = require("support.util")
    local dir = util.tmpdir()
    util.write(dir .. "/zapp.yaml", "meta: [\n")
    local z, err = zapp.load(dir .. "/zapp.yaml", "zapp.yaml")
    assert.is_nil(z)
    assert.matches("^zapp%.yaml:2:1: ", err)
    z, err = zapp.load(dir .. "/zapp.yaml")
    assert.is_nil(z)
    assert.are.equal(1, err:find(dir .. "/zapp.yaml:2:1: ", 1, true))
    util.cleanup()
  end)
end)
