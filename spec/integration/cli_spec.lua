-- The zpm command run as a subprocess: exit codes, help, version, new.
local util = require("support.util")

describe("zpm command", function()
  after_each(util.cleanup)

  it("without a command prints usage and an error, exit 2", function()
    local out, err, code = util.zpm({})
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^Usage: zpm ", err)
    assert.matches("\nzpm: error: a command is required\n$", err)
  end)

  it("rejects an unknown command with exit 2", function()
    local _, err, code = util.zpm({ "frobnicate" })
    assert.are.equal(2, code)
    assert.matches("zpm: error: unknown command 'frobnicate'", err)
  end)

  it("rejects a bad option value with the command's usage", function()
    local _, err, code = util.zpm({ "bundle", "--log-level", "loud" })
    assert.are.equal(2, code)
    assert.matches("^Usage: zpm bundle ", err)
    assert.matches("zpm: error: .*log%-level", err)
  end)

  for _, args in ipairs({ { "--version" }, { "version" } }) do
    it("prints the version for " .. args[1], function()
      local out, err, code = util.zpm(args)
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.matches("^zpm version %d+%.%d+%.%d+\n$", out)
    end)
  end

  -- zpm.core's libraries (libarchive, libyaml, ICU...) double the
  -- start-up of a command that needs none of them (bench/compare).
  it("builds its parser without loading zpm.core", function()
    local code = ("package.path = %q; package.cpath = %q; "
      .. "require('zpm.cli').build_parser(); "
      .. "io.write(tostring(package.loaded['zpm.core'] ~= nil))")
      :format(package.path, package.cpath)
    local p = assert(io.popen("lua5.4 -e " .. util.quote(code)))
    local out = p:read("a")
    assert.is_true(p:close())
    assert.are.equal("false", out)
  end)

  -- every command's options cost more than the rest of `zpm version`
  it("builds the options of the commands argv names only", function()
    local cli = require("zpm.cli")
    local function options_of(parser, name)
      for _, c in ipairs(parser._commands) do
        if c._name == name then
          return #c._options
        end
      end
    end
    local parser = cli.build_parser({ "-v", "version" })
    assert.are.equal(1, options_of(parser, "deploy"))   -- --help only
    assert.is_true(options_of(parser, "version") >= 1)
    parser = cli.build_parser({ "help", "deploy" })
    assert.is_true(options_of(parser, "deploy") > 10)
    assert.are.equal(1, options_of(parser, "bundle"))
    parser = cli.build_parser()
    assert.is_true(options_of(parser, "bundle") > 1)
  end)

  it("prints the main help", function()
    local out, _, code = util.zpm({ "help" })
    assert.are.equal(0, code)
    assert.matches("ZeroVM Package Manager", out)
    for _, cmd in ipairs({ "auth", "bundle", "deploy", "devcloud",
                           "execute", "help", "new", "version" }) do
      assert.matches("\n   " .. cmd .. " ", out)
    end
    assert.matches("See 'zpm <command> %-%-help'", out)
  end)

  it("prints a command's help", function()
    local out, _, code = util.zpm({ "help", "new" })
    assert.are.equal(0, code)
    assert.matches("^Usage: zpm new ", out)
    assert.matches("%-%-with%-ui", out)
    local direct = util.zpm({ "new", "--help" })
    assert.are.equal(out, direct)
  end)

  it("says so for help on an unknown command", function()
    local out, _, code = util.zpm({ "help", "nope" })
    assert.are.equal(0, code)
    assert.matches("^no such command: nope\nUsage: zpm ", out)
  end)

  for _, cmd in ipairs({ "auth", "bundle", "deploy", "devcloud", "execute",
                         "help", "new", "version", "devcloud up" }) do
    it("has -h for " .. cmd, function()
      local words = {}
      for w in cmd:gmatch("%S+") do words[#words + 1] = w end
      words[#words + 1] = "-h"
      local out, _, code = util.zpm(words)
      assert.are.equal(0, code)
      assert.matches("^Usage: zpm " .. cmd, out)
    end)
  end

  describe("new", function()
    it("creates the project and prints each path", function()
      local dir = util.tmpdir()
      local out, err, code = util.zpm({ "new", "app" }, { cwd = dir })
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.are.equal("Created 'app/zapp.yaml'\nCreated 'app/main.py'\n"
        .. "Created 'app/.zapp'\n", out)
    end)

    it("defaults to the current directory", function()
      local dir = util.tmpdir()
      local out, _, code = util.zpm({ "new" }, { cwd = dir })
      assert.are.equal(0, code)
      assert.are.equal("Created './zapp.yaml'\nCreated './main.py'\n"
        .. "Created './.zapp'\n", out)
    end)

    it("adds UI files with -u", function()
      local dir = util.tmpdir()
      local out, _, code = util.zpm({ "new", "-u", "." }, { cwd = dir })
      assert.are.equal(0, code)
      assert.matches("Created './index.html.tmpl'", out)
      assert.matches("Created './zerocloud.js'", out)
      assert.matches("Created './style.css'", out)
    end)

    it("refuses to overwrite, exit 1, nothing left", function()
      local dir = util.tmpdir()
      util.write(dir .. "/zapp.yaml", "mine")
      local out, err, code = util.zpm({ "new" }, { cwd = dir })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: './zapp.yaml' already exists!\n", err)
      assert.are.equal("mine", util.read(dir .. "/zapp.yaml"))
      assert.is_false(util.exists(dir .. "/.zapp"))
    end)

    it("errors clearly for an unknown template", function()
      local dir = util.tmpdir()
      local _, err, code = util.zpm({ "new", "-t", "cobol" }, { cwd = dir })
      assert.are.equal(1, code)
      assert.matches("^Error: no such template: 'cobol' %(available: "
                     .. "python, shell%)\n$", err)
      assert.is_false(util.exists(dir .. "/zapp.yaml"))
    end)
  end)

  describe("long option prefixes", function()
    it("expands --with to --with-ui for new", function()
      local dir = util.tmpdir()
      local out, err, code = util.zpm({ "new", "--with", "app" },
                                      { cwd = dir })
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.matches("Created 'app/index.html.tmpl'", out)
      assert.is_true(util.exists(dir .. "/app/zerocloud.js"))
      assert.is_true(util.exists(dir .. "/app/style.css"))
    end)

    it("keeps =value: --log-l=debug", function()
      local dir = util.tmpdir()
      local _, _, code = util.zpm({ "new", "--log-l=debug", "." },
                                  { cwd = dir })
      assert.are.equal(0, code)
      assert.is_true(util.exists(dir .. "/zapp.yaml"))
      local _, err, bad = util.zpm({ "new", "--log-l=loud", "." },
                                   { cwd = dir })
      assert.are.equal(2, bad)
      assert.matches("zpm: error: argument for option '%-%-log%-level' "
                     .. "must be one of", err)
    end)

    it("bundles with --qui", function()
      local dir = util.tmpdir()
      assert.are.equal(0, select(3, util.zpm({ "new", "." }, { cwd = dir })))
      util.write(dir .. "/main.py", "print(1)\n")
      local out, err, code = util.zpm({ "bundle", "--qui" }, { cwd = dir })
      assert.are.equal(0, code)
      assert.are.equal("", err)
      local name = out:match("^created (%S+%.zapp)\n$")
      assert.is_truthy(name)
      assert.is_true(util.exists(dir .. "/" .. name))
    end)

    it("expands the main parser's --vers before the command", function()
      local out, _, code = util.zpm({ "--vers" })
      assert.are.equal(0, code)
      assert.matches("^zpm version ", out)
    end)

    it("makes an ambiguous prefix a usage error naming the candidates",
       function()
      local out, err, code = util.zpm({ "deploy", "--s", "c", "x.zapp" })
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^Usage: zpm deploy ", err)
      assert.matches("\nzpm: error: ambiguous option: %-%-s could match "
                     .. "%-%-summary, %-%-summary%-format, "
                     .. "%-%-segment%-size, %-%-skip%-identical, "
                     .. "%-%-snet\n$", err)
    end)

    it("uses devcloud up's names after devcloud up", function()
      local _, err, code = util.zpm({ "devcloud", "up", "--m", "1G" })
      assert.are.equal(2, code)
      assert.matches("^Usage: zpm devcloud up ", err)
      assert.matches("could match %-%-memory%-limit, %-%-max%-file%-size",
                     err)
    end)

    it("leaves words after -- alone", function()
      local dir = util.tmpdir()
      local _, err, code = util.zpm({ "new", "--", "--with" },
                                    { cwd = dir })
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.is_true(util.exists(dir .. "/--with/zapp.yaml"))
      assert.is_false(util.exists(dir .. "/--with/zerocloud.js"))
    end)
  end)
end)

describe("zpm without a Lua module it needs", function()
  -- LUA_PATH without ";;" leaves out the system's modules (argparse
  -- among them); the launcher still finds zpm's own
  for _, cmd in ipairs({ { "version" }, { "bundle" } }) do
    it("says which Debian package to install: " .. cmd[1], function()
      local out, err, code = util.zpm(cmd, { env = {
        LUA_PATH = util.source_dir .. "/lua/?.lua" } })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: zpm needs the Lua module 'argparse': "
        .. "install it with apt-get install lua-argparse\n", err)
    end)
  end
end)
