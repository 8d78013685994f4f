-- Templates and bundlers users add on ZPM_PATH (and the built-in shell
-- ones that prove the same interface).
local util = require("support.util")

describe("extensions", function()
  local ext

  setup(function()
    ext = util.tmpdir()
    os.execute("mkdir -p " .. ext .. "/templates " .. ext .. "/bundlers")
    util.write(ext .. "/templates/tiny.lua", [[
      return {
        description = "a tiny zapp",
        create = function(ctx)
          ctx:file("zapp.yaml", ("execution:\n  groups:\n  - {name: m, "
            .. "path: 'file://python3:python', args: m.py}\n"
            .. "meta: {name: %s}\nproject_type: stamp\nbundling: [m.py]\n")
            :format(ctx.name))
          ctx:file("m.py", "print('tiny')\n")
          ctx:dir("data")
        end,
      }]])
    util.write(ext .. "/bundlers/stamp.lua", [[
      return {
        bundle = function(ctx)
          return ctx:add_memory("STAMP", "bundled " .. ctx.zapp.meta.name)
        end,
      }]])
  end)

  teardown(util.cleanup)

  local function env()
    return { ZPM_PATH = "/nonexistent:" .. ext, HOME = util.tmpdir() }
  end

  it("lists user templates in `new --help`", function()
    local out = util.zpm({ "new", "--help" }, { env = env() })
    assert.matches("Available: python, shell, tiny%.", out)
  end)

  it("creates a project from a user template on ZPM_PATH", function()
    local dir = util.tmpdir()
    local out, err, code = util.zpm({ "new", "-t", "tiny", "p" },
                                    { cwd = dir, env = env() })
    assert.are.equal(0, code, err)
    assert.are.equal("Created 'p/zapp.yaml'\nCreated 'p/m.py'\n"
                     .. "Created 'p/data'\n", out)
  end)

  it("bundles with a user bundler chosen by project_type", function()
    local dir = util.tmpdir()
    util.zpm({ "new", "-t", "tiny", "p" }, { cwd = dir, env = env() })
    local _, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/p",
                                                  env = env() })
    assert.are.equal(0, code, err)
    assert.are.same({ "boot/system.map", "zapp.yaml", "m.py", "STAMP" },
                    util.members(dir .. "/p/p.zapp"))
    assert.are.equal("bundled p", util.member(dir .. "/p/p.zapp", "STAMP"))
  end)

  it("fails the bundle when a member a bundler added cannot be written",
     function()
    -- the bundler ignores add_file's error: the zapp must not be
    -- committed without the member (it is written as it is added)
    local dir = util.tmpdir()
    util.zpm({ "new", "-t", "tiny", "p" }, { cwd = dir, env = env() })
    local bundlers = util.tmpdir()
    os.execute("mkdir -p " .. util.quote(bundlers .. "/bundlers"))
    util.write(bundlers .. "/bundlers/stamp.lua", [[
      return {
        bundle = function(ctx)
          ctx:add_file(ctx.root .. "/pipe", "pipe")
          return true
        end,
      }]])
    assert.are.equal(0, select(3, util.sh("mkfifo " .. util.quote(dir
      .. "/p/pipe"))))
    local out, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/p",
      env = { ZPM_PATH = bundlers, HOME = util.tmpdir() } })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^Error: .*/p/pipe", err)
    assert.is_false(util.exists(dir .. "/p/p.zapp"))
    assert.are.equal("", select(1, util.sh("ls -A " .. util.quote(dir
      .. "/p") .. " | grep tmp || true")))
  end)

  it("names the project type that has no bundler", function()
    local dir = util.tmpdir()
    util.zpm({ "new", "-t", "tiny", "p" }, { cwd = dir, env = env() })
    local _, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/p",
      env = { ZPM_PATH = "", HOME = util.tmpdir() } })
    assert.are.equal(1, code)
    assert.are.equal("Error: no bundler for project_type 'stamp' "
                     .. "(available: python, shell)\n", err)
    assert.is_false(util.exists(dir .. "/p/p.zapp"))
  end)

  it("reports a broken user template without a traceback", function()
    local bad = util.tmpdir()
    os.execute("mkdir -p " .. bad .. "/templates")
    util.write(bad .. "/templates/broken.lua", "return function(ctx) "
               .. "error('no idea') end")
    local _, err, code = util.zpm({ "new", "-t", "broken", "x" },
      { cwd = util.tmpdir(), env = { ZPM_PATH = bad } })
    assert.are.equal(1, code)
    assert.matches("^Error: template 'broken' failed: .*no idea\n$", err)
  end)

  it("makes and bundles a shell project", function()
    local dir = util.tmpdir()
    local out, err, code = util.zpm({ "new", "-t", "shell", "sh-app" },
                                    { cwd = dir })
    assert.are.equal(0, code, err)
    assert.are.equal("Created 'sh-app/zapp.yaml'\n"
                     .. "Created 'sh-app/main.sh'\n", out)
    assert.matches("^%-rwxr%-xr%-x", util.sh("ls -l " .. dir
                                              .. "/sh-app/main.sh"))
    _, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/sh-app" })
    assert.are.equal(0, code, err)
    local job = util.member(dir .. "/sh-app/sh-app.zapp", "boot/system.map")
    assert.matches('"path": "file://sh:sh"', job)
  end)

  it("checks that a shell zapp bundles its script", function()
    local dir = util.tmpdir()
    util.zpm({ "new", "-t", "shell", "s" }, { cwd = dir })
    util.write(dir .. "/s/extra.txt", "x")
    local yaml = util.read(dir .. "/s/zapp.yaml")
    util.write(dir .. "/s/zapp.yaml", (yaml:gsub("%- main%.sh", "- extra.txt")))
    local _, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/s" })
    assert.are.equal(1, code)
    assert.matches("group 'main' runs main%.sh, which is not in the zapp", err)
  end)
end)
