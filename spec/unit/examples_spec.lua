-- The examples stay valid and in step with what zpm generates.
local util = require("support.util")
local ui = require("zpm.templates.ui")

describe("examples", function()
  it("hello-ui carries the UI files `zpm new -u` writes", function()
    for _, file in ipairs(ui.FILES) do
      assert.are.equal(file.content, util.read(util.source_dir
        .. "/examples/hello-ui/" .. file.name), file.name)
    end
  end)

  for _, name in ipairs({ "hello", "hello-ui", "wordcount" }) do
    it(name .. "/zapp.yaml is valid", function()
      assert(require("zpm.zapp").load(util.source_dir .. "/examples/"
                                      .. name .. "/zapp.yaml"))
    end)
  end
end)
