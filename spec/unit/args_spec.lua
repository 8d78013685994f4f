local core = require("zpm.core")

describe("zpm.core.args", function()
  describe("split", function()
    local cases = {
      { "", {} },
      { "a b  c", { "a", "b", "c" } },
      { [["a b" 'c d' e\ f]], { "a b", "c d", "e f" } },
      { [[a"b c"d]], { "ab cd" } },
      { [[a "" b]], { "a", "", "b" } },
      { [["a\"b" "a\\b" "a\nb"]], { 'a"b', [[a\b]], [[a\nb]] } },
      { [['a\b']], { [[a\b]] } },
      { "x\ty\nz", { "x", "y", "z" } },
    }
    for _, case in ipairs(cases) do
      it(("splits %q"):format(case[1]), function()
        assert.are.same(case[2], core.args.split(case[1]))
      end)
    end

    it("reports an open quote", function()
      local words, msg, code = core.args.split([[a "b]])
      assert.is_nil(words)
      assert.are.equal("No closing quotation", msg)
      assert.are.equal("invalid", code)
    end)

    it("reports a trailing backslash", function()
      local words, msg = core.args.split([[a\]])
      assert.is_nil(words)
      assert.are.equal("No escaped character", msg)
    end)

    it("rejects a non-string", function()
      assert.has.error(function() core.args.split({}) end)
    end)
  end)

  describe("escape", function()
    local cases = {
      { "plain", "plain" },
      { [[foo\, \nbar]], [[foo\x5c\x2c\x20\x5cnbar]] },
      { 'say "hi"', [[say\x20\x22hi\x22]] },
      { "a\nb", [[a\x0ab]] },
      { "", "" },
    }
    for _, case in ipairs(cases) do
      it(("escapes %q"):format(case[1]), function()
        assert.are.equal(case[2], core.args.escape(case[1]))
      end)
    end

    it("rejects a non-string", function()
      assert.has.error(function() core.args.escape(nil) end)
    end)
  end)
end)
