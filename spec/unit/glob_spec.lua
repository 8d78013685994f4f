local glob = require("zpm.glob")
local util = require("support.util")

describe("zpm.glob", function()
  local root

  setup(function()
    root = util.tmpdir()
    for _, d in ipairs({ "src", "src/sub", "data", ".hidden_dir" }) do
      assert(require("lfs").mkdir(root .. "/" .. d))
    end
    for _, f in ipairs({ "a.py", "b.py", "c.txt", ".secret.py", "src/x.py",
                         "src/sub/y.py", "data/1.csv", "data/2.csv",
                         "file[1].txt" }) do
      util.write(root .. "/" .. f, f)
    end
  end)

  teardown(util.cleanup)

  local cases = {
    { "*.py", { "a.py", "b.py" } },
    { "*", { "a.py", "b.py", "c.txt", "data", "file[1].txt", "src" } },
    { ".*", { ".hidden_dir", ".secret.py" } },
    { "?.py", { "a.py", "b.py" } },
    { "[ab].py", { "a.py", "b.py" } },
    { "[!a].py", { "b.py" } },
    { "src/*.py", { "src/x.py" } },
    { "*/*.py", { "src/x.py" } },
    { "**/*.csv", { "data/1.csv", "data/2.csv" } },
    { "src", { "src" } },
    { "src/", { "src" } },
    { "a.py/", {} },
    { "nothing*", {} },
    { "missing.txt", {} },
    { "./a.py", { "a.py" } },
    { "file[[]1].txt", { "file[1].txt" } },
    { ".secret.py", { ".secret.py" } },
  }
  for _, case in ipairs(cases) do
    it(("expands %q"):format(case[1]), function()
      assert.are.same(case[2], glob.expand(root, case[1]))
    end)
  end

  it("refuses absolute patterns", function()
    local out, err = glob.expand(root, "/etc/passwd")
    assert.is_nil(out)
    assert.matches("absolute", err)
  end)

  it("refuses patterns that climb out of the root", function()
    local out, err = glob.expand(root, "src/../../*")
    assert.is_nil(out)
    assert.matches("%.%.", err)
  end)

  it("matches names like fnmatch", function()
    assert.is_true(glob.fnmatch("a.b", "a.b"))
    assert.is_false(glob.fnmatch("axb", "a.b"))
    assert.is_true(glob.fnmatch("x%y", "x%y"))
    assert.is_true(glob.fnmatch("a-b", "a[x-]b"))
    assert.is_true(glob.fnmatch("a^b", "a[!x]b"))
  end)
end)
