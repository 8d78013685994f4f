-- The examples stay valid and in step with what zpm generates.
local util = require("support.util")
local ui = require("zpm.templates.ui")

describe("examples", function()
  it("hello-ui carries the UI files `zpm new -u` writes", function()
    local files = assert(ui.files())
    assert.are.equal(#ui.NAMES, #files)
    for _, file in ipairs(files) do
      assert.are.equal(file.content, util.read(util.source_dir
        .. "/examples/hello-ui/" .. file.name), file.name)
    end
  end)

  it("the UI files are the files in zpm/templates/ui, and only those",
     function()
    local tutil = require("zpm.templates.util")
    local names = {}
    for _, name in ipairs(require("zpm.fs").list(tutil.dir("ui"))) do
      names[#names + 1] = name
    end
    table.sort(names)
    local expected = { table.unpack(ui.NAMES) }
    table.sort(expected)
    assert.are.same(expected, names)
    local text, err = tutil.read("ui", "missing.css")
    assert.is_nil(text)
    assert.matches("^cannot read .*/templates/ui/missing%.css: ", err)
  end)

  for _, name in ipairs({ "hello", "hello-ui", "wordcount" }) do
    it(name .. "/zapp.yaml is valid", function()
      assert(require("zpm.zapp").load(util.source_dir .. "/examples/"
                                      .. name .. "/zapp.yaml"))
    end)
  end
end)
