-- zpm.ordered: the one protocol for key order (YAML, JSON, the job).
local ordered = require("zpm.ordered")
local json = require("zpm.json")
local yaml = require("zpm.yaml")

describe("zpm.ordered", function()
  describe("kind, is_object, is_array", function()
    local cases = {
      -- { name, value, kind, is_object, is_array }
      { "an object", function() return ordered.object({ "b", "a" },
          { a = 1, b = 2 }) end, "object", true, false },
      { "an empty object", function() return ordered.object() end,
        "object", true, false },
      { "an object with keys 1..n", function()
          return ordered.object({ 1, 2 }, { "x", "y" }) end,
        "object", true, false },
      { "an array", function() return ordered.array({ 1, 2 }) end,
        "array", false, true },
      { "an empty array", function() return ordered.array() end,
        "array", false, true },
      { "a plain list", function() return { 1, 2 } end, nil, false, true },
      { "a plain table", function() return { a = 1 } end, nil, true, false },
      { "an empty plain table", function() return {} end, nil, true, false },
      { "a list with a hole", function() return { 1, nil, 3 } end, nil,
        true, false },
      { "a YAML mapping", function() return yaml.load("b: 1\na: 2") end,
        "object", true, false },
      { "an empty YAML sequence", function() return yaml.load("[]") end,
        "array", false, true },
      { "a decoded JSON object", function()
          return json.decode_ordered('{"1": 2}') end, "object", true, false },
      { "a decoded empty JSON array", function()
          return json.decode_ordered("[]") end, "array", false, true },
      { "a string", function() return "s" end, nil, false, false },
    }
    for _, c in ipairs(cases) do
      it(("knows %s"):format(c[1]), function()
        local v = c[2]()
        assert.are.equal(c[3], ordered.kind(v))
        assert.are.equal(c[4], ordered.is_object(v))
        assert.are.equal(c[5], ordered.is_array(v))
      end)
    end

    it("runs no metamethod of a caller's table", function()
      local t = setmetatable({}, {
        __len = function() error("__len ran") end,
        __pairs = function() error("__pairs ran") end,
        __index = function() error("__index ran") end,
      })
      t[1] = "x"
      assert.is_nil(ordered.kind(t))
      assert.is_true(ordered.is_array(t))
      assert.are.same({ 1 }, ordered.keys(t))
    end)
  end)

  describe("keys and pairs", function()
    it("follow the object's order", function()
      local t = ordered.object({ "z", "a", "m" }, { a = 1, m = 2, z = 3 })
      assert.are.same({ "z", "a", "m" }, ordered.keys(t))
      local seen = {}
      for k, v in ordered.pairs(t) do
        seen[#seen + 1] = k .. "=" .. v
      end
      assert.are.same({ "z=3", "a=1", "m=2" }, seen)
    end)

    it("skip keys no longer held and sort the ones not listed", function()
      local t = ordered.object({ "gone", "b" }, { b = 1, d = 2, c = 3,
                                                  [2] = 4, [true] = 5 })
      assert.are.same({ "b", true, 2, "c", "d" }, ordered.keys(t))
    end)

    it("sort a plain table's keys by type, then value", function()
      assert.are.same({ 1, 10, "a", "b" },
        ordered.keys({ b = 1, a = 2, [10] = 3, [1] = 4 }))
    end)

    it("list a repeated key once", function()
      local t = ordered.object({ "a", "b", "a" }, { a = 1, b = 2 })
      assert.are.same({ "a", "b" }, ordered.keys(t))
    end)

    it("are the document order of a YAML mapping", function()
      local v = yaml.load("zeta: 1\nalpha: 2\nmid: 3\nalpha: 4\n")
      assert.are.same({ "zeta", "alpha", "mid" }, ordered.keys(v))
      assert.are.equal(4, ordered.get(v, "alpha"))
    end)
  end)

  describe("set", function()
    it("puts a new key last and keeps an old key's place", function()
      local t = ordered.object({ "a", "b" }, { a = 1, b = 2 })
      assert.are.equal(t, ordered.set(t, "c", 3))
      ordered.set(t, "a", 9)
      assert.are.same({ "a", "b", "c" }, ordered.keys(t))
      assert.are.equal(9, ordered.get(t, "a"))
    end)

    it("puts a new key before another when asked", function()
      local t = ordered.object({ "a", "exec" }, { a = 1, exec = 2 })
      ordered.set(t, "devices", 3, "exec")
      assert.are.same({ "a", "devices", "exec" }, ordered.keys(t))
      ordered.set(t, "z", 4, "missing")
      assert.are.same({ "a", "devices", "exec", "z" }, ordered.keys(t))
    end)

    it("removes a key set to nil, so setting it again puts it last",
      function()
        local t = ordered.object({ "a", "b", "c" }, { a = 1, b = 2, c = 3 })
        ordered.set(t, "a", nil)
        assert.are.same({ "b", "c" }, getmetatable(t).keys)
        ordered.set(t, "a", 1)
        assert.are.same({ "b", "c", "a" }, ordered.keys(t))
      end)

    it("keeps a YAML mapping's order", function()
      local v = yaml.load("b: 1\na: 2\n")
      ordered.set(v, "c", 3, "a")
      assert.are.equal('{"b": 1, "c": 3, "a": 2}', json.encode(v))
      assert.are.same({ 1, 4 }, { yaml.position(v, "b") })
    end)

    it("is rawset on a plain table", function()
      local t = ordered.set({}, "k", "v")
      assert.is_nil(getmetatable(t))
      assert.are.equal("v", t.k)
    end)

    it("raises on a nil table", function()
      assert.has.error(function() ordered.set(nil, "k", 1) end)
    end)
  end)

  it("shares one descriptor between arrays, none between objects",
    function()
      assert.are.equal(getmetatable(ordered.array()),
                       getmetatable(ordered.array()))
      assert.are_not.equal(getmetatable(ordered.object()),
                           getmetatable(ordered.object()))
      assert.are.equal(ordered.ARRAY, getmetatable(ordered.array()).__name)
      assert.are.equal(ordered.OBJECT, getmetatable(ordered.object()).__name)
    end)

  it("is what zpm.json's object and array make", function()
    assert.are.equal(ordered.object, json.object)
    assert.are.equal(ordered.array, json.array)
    assert.are.equal(ordered.keys, json.ordered_keys)
  end)

  it("names the descriptors as the C YAML loader does", function()
    local v = yaml.load("m: {a: 1}\ns: [1]\n")
    assert.are.equal(ordered.OBJECT, getmetatable(v.m).__name)
    assert.are.equal(ordered.ARRAY, getmetatable(v.s).__name)
  end)
end)
