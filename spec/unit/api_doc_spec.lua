-- doc/api.md documents every public function, and nothing that is gone.
local util = require("support.util")

local doc = util.read(util.source_dir .. "/doc/api.md")

local function documented(name)
  return doc:find("### `" .. name, 1, true) ~= nil
end

local function public(prefix, t, out)
  for k, v in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then
      if type(v) == "function" then
        out[#out + 1] = prefix .. k
      end
    end
  end
  return out
end

describe("doc/api.md", function()
  it("lists every function of zpm", function()
    for _, name in ipairs(public("zpm.", require("zpm"), {})) do
      assert.is_true(documented(name), name .. " is not in doc/api.md")
    end
  end)

  it("lists every connection method", function()
    local conn = assert(require("zpm").connect({
      os_storage_url = "http://127.0.0.1:1/v1/AUTH_x",
      os_auth_token = "t" }))
    local methods = getmetatable(conn).__index
    for _, name in ipairs(public("conn:", methods, {})) do
      assert.is_true(documented(name), name .. " is not in doc/api.md")
    end
    conn:close()
  end)

  it("lists every function of zpm.core", function()
    local core = require("zpm.core")
    assert.is_table(core.http)   -- loaded on first use
    local names = public("zpm.core.", core, {})
    for area, t in pairs(core) do
      if type(t) == "table" then
        public("zpm.core." .. area .. ".", t, names)
      end
    end
    for _, name in ipairs(names) do
      assert.is_truthy(doc:find(name, 1, true),
                       name .. " is not in doc/api.md")
    end
  end)

  it("documents nothing that does not exist", function()
    local zpm = require("zpm")
    for name in doc:gmatch("### `zpm%.([%w_]+)") do
      if name ~= "core" then
        assert.is_not_nil(zpm[name], "zpm." .. name .. " is documented "
                          .. "but does not exist")
      end
    end
  end)
end)
