-- The python bundler: dependencies installed with the host's pip into the
-- .zapp/ cache (offline, from wheels the test makes), added to the zapp.
local util = require("support.util")

local ZAPP = [[
execution:
  groups:
  - {name: main, path: "file://python2.7:python", args: main.py}
meta: {name: deps}
bundling: [main.py]
dependencies:
- [demo-pkg, demopkg]
- single_mod
]]

describe("python dependencies", function()
  local wheels

  setup(function()
    wheels = util.tmpdir()
    local maker = util.source_dir .. "/spec/support/make_wheel.py"
    assert(os.execute(("python3 %s %s demo-pkg 1.0 "
      .. "'demopkg/__init__.py=X = 1' 'demopkg/sub.py=Y = 2' >/dev/null")
      :format(maker, wheels)))
    assert(os.execute(("python3 %s %s single_mod 2.0 "
      .. "'single_mod.py=Z = 3' >/dev/null"):format(maker, wheels)))
  end)

  teardown(util.cleanup)

  local function project(text)
    local dir = util.tmpdir()
    util.write(dir .. "/zapp.yaml", text or ZAPP)
    util.write(dir .. "/main.py", "import demopkg\n")
    return dir
  end

  local function bundle(dir, args)
    local argv = { "bundle", "-l", "info" }
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    return util.zpm(argv, { cwd = dir, env = {
      PIP_NO_INDEX = "1", PIP_FIND_LINKS = wheels,
      PIP_DISABLE_PIP_VERSION_CHECK = "1" } })
  end

  it("installs them into the cache and bundles the modules", function()
    local dir = project()
    local out, err, code = bundle(dir)
    assert.are.equal(0, code, err)
    assert.are.equal("created deps.zapp\n", out)
    assert.matches("INFO: installing dependencies: demo%-pkg single_mod", err)
    assert.are.same({ "boot/system.map", "zapp.yaml", "main.py",
      "lib/python2.7/site-packages/demopkg/",
      "lib/python2.7/site-packages/demopkg/__init__.py",
      "lib/python2.7/site-packages/demopkg/sub.py",
      "lib/python2.7/site-packages/single_mod.py" },
      util.members(dir .. "/deps.zapp"))
    assert.are.equal("Y = 2", util.member(dir .. "/deps.zapp",
      "lib/python2.7/site-packages/demopkg/sub.py"))
  end)

  it("reuses the cache until the list changes or -r is given", function()
    local dir = project()
    assert.are.equal(0, select(3, bundle(dir)))
    local _, err = bundle(dir)
    assert.matches("dependencies unchanged", err)
    assert.is_nil(err:find("installing dependencies", 1, true))
    _, err = bundle(dir, { "-r" })
    assert.matches("installing dependencies", err)
    util.write(dir .. "/zapp.yaml", ZAPP:gsub("%- single_mod\n", ""))
    _, err = bundle(dir)
    assert.matches("installing dependencies: demo%-pkg\n", err)
  end)

  it("puts modules under a configured prefix", function()
    local dir = project(ZAPP .. "python: {site_packages: lib/py3/site}\n")
    assert.are.equal(0, select(3, bundle(dir)))
    local members = util.members(dir .. "/deps.zapp")
    assert.are.equal("lib/py3/site/single_mod.py", members[#members])
  end)

  it("names a module the package does not provide", function()
    local dir = project(ZAPP:gsub("demopkg%]", "nosuchmodule]"))
    local out, err, code = bundle(dir)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("Error: module 'nosuchmodule' of dependency 'demo%-pkg' "
      .. "is not in the dependency cache.*%-%-refresh%-deps", err)
    assert.is_false(util.exists(dir .. "/deps.zapp"))
  end)

  it("shows pip's output when pip fails, keeping the old cache", function()
    local dir = project()
    assert.are.equal(0, select(3, bundle(dir)))
    util.write(dir .. "/zapp.yaml", ZAPP .. "- not-a-real-package\n")
    local _, err, code = bundle(dir)
    assert.are.equal(1, code)
    assert.matches("Error: pip could not install the dependencies", err)
    assert.matches("not%-a%-real%-package", err)
    assert.is_true(util.exists(dir .. "/.zapp/python-deps/site-packages/"
                               .. "demopkg"))
    assert.is_false(util.exists(dir .. "/.zapp/python-deps.new"))
  end)
end)
