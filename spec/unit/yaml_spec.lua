-- zpm.core.yaml: values as PyYAML's safe_load gives them (expected values
-- checked against PyYAML 6.0), positions and key order in metatables,
-- errors as nil, "name:line:col: message", code.
local core = require("zpm.core")
local cjson = require("cjson")
local ordered = require("zpm.ordered")

local yaml = core.yaml
local null = core.null
local fixtures = (os.getenv("ZPM_SOURCE_DIR") or ".") .. "/spec/fixtures/yaml/"

-- Compare a loaded value with an expected plain value, integers and
-- floats kept apart (PyYAML's 1 is not 1.0).
local function same(got, want)
  if type(want) == "table" then
    if type(got) ~= "table" then
      return false
    end
    for k, v in pairs(want) do
      if not same(got[k], v) then
        return false
      end
    end
    for k in pairs(got) do
      if want[k] == nil then
        return false
      end
    end
    return true
  end
  if type(want) == "number" and type(got) == "number" then
    if want ~= want then
      return got ~= got
    end
    return math.type(got) == math.type(want) and got == want
  end
  return got == want
end

describe("zpm.core.yaml.load", function()
  it("uses the same null as cjson", function()
    assert.are.equal(cjson.null, null)
    assert.are.equal("userdata", type(null))
  end)

  describe("scalars", function()
    local cases = {
      { "", null },
      { "~", null },
      { "null", null },
      { "NULL", null },
      { "nUll", "nUll" },
      { "yes", true },
      { "No", false },
      { "ON", true },
      { "off", false },
      { "True", true },
      { "yEs", "yEs" },
      { "y", "y" },
      { "0", 0 },
      { "-12", -12 },
      { "+12", 12 },
      { "1_000", 1000 },
      { "017", 15 },
      { "08", "08" },
      { "0o7", "0o7" },
      { "0b101", 5 },
      { "-0x1f", -31 },
      { "190:20:30", 685230 },
      { "1:60", "1:60" },
      { "9223372036854775807", math.maxinteger },
      { "-9223372036854775808", math.mininteger },
      { "9223372036854775808", 9223372036854775808.0 },
      { "1.5", 1.5 },
      { "1.", 1.0 },
      { ".5", 0.5 },
      { "-.5", "-.5" },
      { "1.5e+3", 1500.0 },
      { "1e5", "1e5" },
      { "1.5e3", "1.5e3" },
      { "1:30.5", 90.5 },
      { ".inf", math.huge },
      { "-.Inf", -math.huge },
      { "+.INF", math.huge },
      { ".nan", 0 / 0 },
      { "-.nan", "-.nan" },
      { "2001-12-14", "2001-12-14" },
      { "hello world", "hello world" },
      { "'5'", "5" },
      { '"yes"', "yes" },
      { "'~'", "~" },
      { '""', "" },
      { '"a\\tb"', "a\tb" },
      { "|\n  line\n", "line\n" },
      { ">\n  a\n  b\n", "a b\n" },
      { "|\n  5\n", "5\n" },
      { "<<", "<<" },
      { "=", "=" },
    }
    for _, c in ipairs(cases) do
      it(("loads %q"):format(c[1]), function()
        local v, err = yaml.load(c[1])
        assert.is_nil(err)
        assert.is_true(same(v, c[2]),
          ("got %s (%s)"):format(tostring(v), math.type(v) or type(v)))
      end)
    end
  end)

  describe("tags", function()
    local cases = {
      { "!!str 5", "5" },
      { "!!str yes", "yes" },
      { "!!str", "" },
      { '!!int "5"', 5 },
      { "!!int 0o7", 7 },
      { "!!float 5", 5.0 },
      { "!!float '1e5'", 100000.0 },
      { "!!bool yEs", true },
      { "!!null foo", null },
      { "! 5", "5" },
      { "! [5]", { 5 } },
      { "!!seq [1]", { 1 } },
      { "!!map {a: 1}", { a = 1 } },
      { "a: !!str 1.5\nb: !!float 1", { a = "1.5", b = 1.0 } },
    }
    for _, c in ipairs(cases) do
      it(("loads %q"):format(c[1]), function()
        local v, err = yaml.load(c[1])
        assert.is_nil(err)
        assert.is_true(same(v, c[2]), "got " .. tostring(v))
      end)
    end
  end)

  describe("collections", function()
    local cases = {
      { "[]", {} },
      { "{}", {} },
      { "- 1\n- two\n- [3, 4.0]\n", { 1, "two", { 3, 4.0 } } },
      { "a: {b: [x, {c: ~}]}", { a = { b = { "x", { c = null } } } } },
      { "1: one\n2.5: two\ntrue: three\n~: four\n'1': five",
        { [1] = "one", [2.5] = "two", [true] = "three", [null] = "four",
          ["1"] = "five" } },
      { "a: 1\na: 2", { a = 2 } },
      { "a: &x [1, 2]\nb: *x", { a = { 1, 2 }, b = { 1, 2 } } },
      { "a: [~, ~]", { a = { null, null } } },
    }
    for _, c in ipairs(cases) do
      it(("loads %q"):format(c[1]), function()
        local v, err = yaml.load(c[1])
        assert.is_nil(err)
        assert.is_true(same(v, c[2]))
      end)
    end

    it("gives each alias occurrence its own table", function()
      local v = yaml.load("a: &x [1]\nb: *x")
      assert.are_not.equal(v.a, v.b)
    end)
  end)

  describe("metatables", function()
    local text = table.concat({
      "zeta: 1",
      "alpha:",
      "  - x",
      "  - {k: v}",
      "mid: 3",
      "zeta: 4",
      "",
    }, "\n")

    it("keep mapping keys in document order", function()
      local v = yaml.load(text)
      local mt = getmetatable(v)
      assert.are.equal(ordered.OBJECT, mt.__name)
      assert.are.same({ "zeta", "alpha", "mid" }, mt.keys)
      assert.are.equal("object", ordered.kind(v))
      assert.are.same({ "zeta", "alpha", "mid" }, ordered.keys(v))
    end)

    it("mark sequences as arrays, empty ones too", function()
      local v = yaml.load("a: []\nb: [1]\nc: {}\n")
      assert.are.equal("array", ordered.kind(v.a))
      assert.are.equal("array", ordered.kind(v.b))
      assert.are.equal("object", ordered.kind(v.c))
    end)

    it("record where the collection and each value are", function()
      local v = yaml.load(text)
      local mt = getmetatable(v)
      assert.are.equal(1, mt.line)
      assert.are.equal(1, mt.column)
      -- A repeated key: the last value and its position win.
      assert.are.equal(4, v.zeta)
      assert.are.equal(6, mt.lines.zeta)
      assert.are.equal(7, mt.columns.zeta)
      assert.are.equal(3, mt.lines.alpha)
      assert.are.equal(3, mt.columns.alpha)
      local seq = getmetatable(v.alpha)
      assert.are.equal(ordered.ARRAY, seq.__name)
      assert.is_nil(seq.keys)
      assert.are.equal(3, seq.line)
      assert.are.same({ 3, 4 }, seq.lines)
      assert.are.same({ 5, 5 }, seq.columns)
      local inner = getmetatable(v.alpha[2])
      assert.are.equal(4, inner.line)
      assert.are.equal(5, inner.column)
      assert.are.equal(9, inner.columns.k)
    end)

    it("are not shared between tables", function()
      local v = yaml.load("a: {}\nb: {}")
      assert.are_not.equal(getmetatable(v.a), getmetatable(v.b))
    end)

    it("key a null key by the null sentinel", function()
      local v = yaml.load("~: 1")
      local mt = getmetatable(v)
      assert.are.same({ null }, mt.keys)
      assert.are.equal(1, mt.lines[null])
    end)
  end)

  describe("merge keys", function()
    local base = "m1: &m1 {x: 1}\nm2: &m2 {y: 2, x: 3}\n"
    local cases = {
      { base .. "t:\n  <<: *m1\n  z: 0\n", { x = 1, z = 0 }, { "x", "z" } },
      { base .. "t:\n  x: 9\n  <<: *m1\n", { x = 9 }, { "x" } },
      -- earlier mappings in a merge list win; merged keys come first
      { base .. "t:\n  a: 0\n  <<: [*m1, *m2]\n",
        { a = 0, x = 1, y = 2 }, { "y", "x", "a" } },
      { base .. "t:\n  <<: [*m2, *m1]\n", { x = 3, y = 2 }, { "x", "y" } },
      { "b: &b {p: 1}\nm: &m {<<: *b, q: 2}\nt: {<<: *m, r: 3}\n",
        { p = 1, q = 2, r = 3 }, { "p", "q", "r" } },
      { "t: {'<<': 1}\n", { ["<<"] = 1 }, { "<<" } },
      { "t: {!!merge <<: {a: 1}}\n", { a = 1 }, { "a" } },
    }
    for _, c in ipairs(cases) do
      it(("merges %q"):format(c[1]), function()
        local v, err = yaml.load(c[1])
        assert.is_nil(err)
        assert.is_true(same(v.t, c[2]))
        assert.are.same(c[3], getmetatable(v.t).keys)
      end)
    end

    it("points merged values at where they came from", function()
      local v = yaml.load(base .. "t:\n  <<: *m1\n")
      assert.are.equal(1, getmetatable(v.t).lines.x)
      assert.are.equal(13, getmetatable(v.t).columns.x)
    end)
  end)

  describe("failures", function()
    local cases = {
      { "a: 1\n b: 2", "<string>:2:3: mapping values are not allowed in "
          .. "this context", "yaml" },
      { "a:\n  - b\n c: d", "<string>:3:2: while parsing a block mapping: "
          .. "did not find expected key", "yaml" },
      { "a: *nope", "<string>:1:4: found undefined alias 'nope'", "yaml" },
      { "a: 1\n---\nb: 2", "<string>:2:1: expected a single document in "
          .. "the stream, but found another document", "yaml" },
      { "a: b\255", "<string>:1:5: invalid leading UTF-8 octet (#xFF)",
        "yaml" },
      { "a: !foo 1", "<string>:1:4: could not determine a constructor "
          .. "for the tag '!foo'", "yaml" },
      { "a: !!timestamp 2001-12-14", "<string>:1:4: could not determine a "
          .. "constructor for the tag 'tag:yaml.org,2002:timestamp'",
        "yaml" },
      { "a: !!int x", "<string>:1:4: expected an int for the tag "
          .. "'tag:yaml.org,2002:int', but found 'x'", "yaml" },
      { "a: !!float 0x1f", "<string>:1:4: expected a float for the tag "
          .. "'tag:yaml.org,2002:float', but found '0x1f'", "yaml" },
      { "a: !!bool 1", "<string>:1:4: expected a bool for the tag "
          .. "'tag:yaml.org,2002:bool', but found '1'", "yaml" },
      { "!!str [a]", "<string>:1:1: expected a scalar node, but found "
          .. "sequence", "yaml" },
      { "!!seq {a: 1}", "<string>:1:1: expected a sequence node, but found "
          .. "mapping", "yaml" },
      { "x:\n  [a]: 1", "<string>:2:3: found unhashable key", "yaml" },
      { "{a: 1}: 2", "<string>:1:1: found unhashable key", "yaml" },
      { ".nan: 1", "<string>:1:1: found a NaN key, which a Lua table "
          .. "cannot hold", "yaml" },
      { "<<: 1", "<string>:1:5: expected a mapping or list of mappings "
          .. "for merging, but found scalar", "yaml" },
      { "<<: [{a: 1}, [2]]", "<string>:1:14: expected a mapping for "
          .. "merging, but found sequence", "yaml" },
      { "a: &a [*a]", "<string>:1:8: found recursive alias 'a'", "yaml" },
      { string.rep("[", 257) .. string.rep("]", 257),
        "<string>:1:257: nesting deeper than 256 levels", "limit" },
    }
    for _, c in ipairs(cases) do
      it(("reports %q"):format(c[1]:sub(1, 40)), function()
        local v, msg, code = yaml.load(c[1])
        assert.is_nil(v)
        assert.are.equal(c[2], msg)
        assert.are.equal(c[3], code)
      end)
    end

    it("stops a billion laughs early", function()
      local lines = { "a: &a [x, x, x, x, x, x, x, x, x, x]" }
      for i = 2, 9 do
        local prev = string.char(96 + i - 1)
        local name = string.char(96 + i)
        lines[i] = ("%s: &%s [%s]"):format(name, name,
          ("*" .. prev .. ", "):rep(9) .. "*" .. prev)
      end
      local v, msg, code = yaml.load(table.concat(lines, "\n"), "laughs")
      assert.is_nil(v)
      assert.are.equal("laughs:6:36: document expands to more than "
        .. "1000000 nodes through aliases", msg)
      assert.are.equal("limit", code)
    end)

    it("names the chunk", function()
      local _, msg = yaml.load("a: [", "zapp.yaml")
      assert.matches("^zapp%.yaml:2:1: ", msg)
    end)
  end)

  describe("arguments", function()
    it("raises on a missing or wrong text", function()
      assert.has.error(function() yaml.load() end)
      assert.has.error(function() yaml.load({}) end)
    end)

    it("raises on a wrong chunk name", function()
      assert.has.error(function() yaml.load("a: 1", {}) end)
    end)

    it("accepts a number as text, as Lua strings go", function()
      assert.are.equal(5, yaml.load(5))
    end)
  end)
end)

describe("zpm.core.yaml.load_file", function()
  it("loads a file", function()
    local v, err = yaml.load_file(fixtures .. "zapp.yaml")
    assert.is_nil(err)
    assert.are.equal("python", v.project_type)
    assert.are.equal("0.1", v.meta.Version)
    assert.are.same({}, v.help.args)
    local group = v.execution.groups[1]
    assert.are.equal("file://python2.7:python", group.path)
    assert.are.same({ "name", "path", "args", "devices" },
      getmetatable(group).keys)
    assert.are.equal(6, getmetatable(group).lines.path)
    assert.are.same({ "project_type", "execution", "meta", "help",
      "bundling" }, getmetatable(v).keys)
  end)

  it("names the file in syntax errors", function()
    local path = fixtures .. "bad.yaml"
    local v, msg, code = yaml.load_file(path)
    assert.is_nil(v)
    assert.are.equal(path .. ":3:7: mapping values are not allowed in "
      .. "this context", msg)
    assert.are.equal("yaml", code)
  end)

  it("reports a missing file as io", function()
    local path = fixtures .. "missing.yaml"
    local v, msg, code = yaml.load_file(path)
    assert.is_nil(v)
    assert.are.equal(path .. ": No such file or directory", msg)
    assert.are.equal("io", code)
  end)

  it("reports a directory as io", function()
    local v, msg, code = yaml.load_file(fixtures)
    assert.is_nil(v)
    assert.are.equal(fixtures .. ": Is a directory", msg)
    assert.are.equal("io", code)
  end)

  it("raises on a missing path", function()
    assert.has.error(function() yaml.load_file() end)
    assert.has.error(function() yaml.load_file({}) end)
  end)
end)

describe("zpm.yaml", function()
  local zyaml = require("zpm.yaml")
  local json = require("zpm.json")

  it("tells mappings from sequences", function()
    local v = zyaml.load("m: {}\ns: []\n")
    assert.is_true(zyaml.is_mapping(v.m))
    assert.is_false(zyaml.is_sequence(v.m))
    assert.is_true(zyaml.is_sequence(v.s))
    assert.is_false(zyaml.is_mapping(v.s))
    assert.is_true(zyaml.is_mapping({}))
    assert.is_false(zyaml.is_sequence({ 1 }))
    assert.is_true(zyaml.is_sequence(json.array()))
    assert.is_false(zyaml.is_mapping("s"))
    assert.are.equal("list", zyaml.type_name(v.s))
    assert.are.equal("mapping", zyaml.type_name(v.m))
  end)

  it("gives keys in document order, others sorted", function()
    assert.are.same({ "b", "a" }, zyaml.keys(zyaml.load("b: 1\na: 2\n")))
    assert.are.same({ "a", "b" }, zyaml.keys({ b = 1, a = 2 }))
  end)

  it("gives positions of loaded values only", function()
    local v = zyaml.load("x:\n  y: 1\n")
    assert.are.same({ 2, 3 }, { zyaml.position(v.x) })
    assert.are.same({ 2, 6 }, { zyaml.position(v.x, "y") })
    assert.are.same({ 2, 3 }, { zyaml.position(v.x, "nope") })
    assert.is_nil(zyaml.position(json.object({ "a" }, { a = 1 }), "a"))
    assert.is_nil(zyaml.position(json.array()))
    assert.is_nil(zyaml.position({}))
  end)
end)
