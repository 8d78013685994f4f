local json = require("zpm.json")

describe("zpm.json", function()
  -- expected values are what Python 3's json.dumps / repr print
  local floats = {
    { 1.0, "1.0" }, { 0.1, "0.1" }, { 1e16, "1e+16" },
    { 1e15, "1000000000000000.0" }, { 1.5e-7, "1.5e-07" },
    { 0.0001, "0.0001" }, { 123.456, "123.456" }, { -2.5e100, "-2.5e+100" },
    { 1 / 3, "0.3333333333333333" }, { 5e-324, "5e-324" }, { -0.0, "-0.0" },
    { math.huge, "Infinity" }, { -math.huge, "-Infinity" },
  }
  for _, case in ipairs(floats) do
    it("writes the float " .. case[2] .. " as Python does", function()
      assert.are.equal(case[2], json.float_repr(case[1]))
    end)
  end

  it("writes NaN as Python does", function()
    assert.are.equal("NaN", json.float_repr(0 / 0))
  end)

  it("uses Python's separators and ASCII escapes", function()
    assert.are.equal('{"a": [1, 2.5, "\\u00e9\\n\\"\\\\"], "b": null}',
      json.encode(json.object({ "a", "b" },
                              { a = { 1, 2.5, 'é\n"\\' }, b = json.null })))
  end)

  it("escapes characters outside the BMP as surrogate pairs", function()
    assert.are.equal('"\\ud83d\\ude00"', json.encode("😀"))
  end)

  -- a job's output with one stray byte: only that byte is Latin-1
  it("escapes each byte that is not UTF-8 alone, keeping the text around",
     function()
    assert.are.equal('"\\u00fc\\u65e5\\n\\u00ff"',
                     json.encode("\xC3\xBC\xE6\x97\xA5\n\xFF"))
    assert.are.equal('"\\u00c3a\\u00e6\\u0097"',
                     json.encode("\xC3a\xE6\x97"))
  end)

  it("keeps the order given to object", function()
    local obj = json.object({ "z", "a", "m" }, { a = 1, m = 2, z = 3 })
    assert.are.equal('{"z": 3, "a": 1, "m": 2}', json.encode(obj))
  end)

  it("sorts the keys of plain tables", function()
    assert.are.equal('{"a": 1, "b": 2}', json.encode({ b = 2, a = 1 }))
  end)

  it("writes empty arrays when asked", function()
    assert.are.equal("[]", json.encode(json.array()))
    assert.are.equal("{}", json.encode({}))
  end)

  it("turns non-string keys into strings as Python does", function()
    assert.are.equal('{"1": true, "true": 2}',
      json.encode(json.object({ 1, true }, { [1] = true, [true] = 2 })))
  end)

  it("refuses values JSON cannot hold", function()
    local out, err = json.encode({ f = print })
    assert.is_nil(out)
    assert.matches("cannot encode a value of type function", err)
  end)

  it("decodes with null as json.null", function()
    local v = json.decode('[1, null, {"a": "b"}]')
    assert.are.equal(json.null, v[2])
    assert.are.equal("b", v[3].a)
    local bad, err = json.decode("[1,")
    assert.is_nil(bad)
    assert.is_string(err)
  end)
end)
