local argparse = require("argparse")
local argv = require("zpm.argv")
local cli = require("zpm.cli")

local function words(line)
  local list = {}
  for w in line:gmatch("%S+") do
    list[#list + 1] = w
  end
  return list
end

-- A parser whose option values and positionals could pass for commands
-- if misread: `-l debug up` is the command `up`, `-l up debug` is
-- `debug`, and `tool NAME up` is `up` too when NAME is a positional.
local function tricky_parser()
  local parser = argparse("tool")
  parser:option("-l --level")
  parser:option("--pair"):args(2)
  parser:flag("--colour --color")
  local up = parser:command("up")
  up:option("--port")
  local debug = parser:command("debug")
  debug:flag("--portal")
  local named = parser:command("named")
  named:argument("name")
  local inner = named:command("up")
  inner:flag("--porcelain")
  return parser
end

describe("zpm.argv.expand_prefixes", function()
  describe("with zpm's parser", function()
    local parser = cli.build_parser()
    local cases = {
      -- exact names win, even when a prefix of others
      { "exact", "deploy --summary c x", "deploy --summary c x" },
      { "exact, valued", "deploy --summary-format json c x",
        "deploy --summary-format json c x" },
      { "exact help", "deploy --help", "deploy --help" },
      -- unique prefixes
      { "unique", "deploy c x.zapp --exec", "deploy c x.zapp --execute" },
      { "unique, new", "new --with", "new --with-ui" },
      { "unique, main", "--vers", "--version" },
      { "unique, bundle", "bundle --qui", "bundle --quiet" },
      { "unique, one letter", "deploy --e c x", "deploy --execute c x" },
      { "unique, value option", "deploy --co 3 c x",
        "deploy --concurrency 3 c x" },
      -- =value kept
      { "=value", "deploy --log-l=debug c x", "deploy --log-level=debug c x" },
      { "=value, empty", "deploy --summary-f= c x",
        "deploy --summary-format= c x" },
      { "=value with =", "deploy --os-auth-u=http://h/?a=b c x",
        "deploy --os-auth-url=http://h/?a=b c x" },
      -- untouched: short options, after --, unknown names
      { "short options", "deploy -s -qf -l debug c x",
        "deploy -s -qf -l debug c x" },
      { "after --", "deploy -- --exec x", "deploy -- --exec x" },
      { "after -- at main", "-- deploy --exec", "-- deploy --exec" },
      { "unknown", "deploy --nope c x --exec",
        "deploy --nope c x --execute" },
      { "value word after a short option", "deploy -l debug c x --exec",
        "deploy -l debug c x --execute" },
      { "inline short value", "deploy -ldebug c x --exec",
        "deploy -ldebug c x --execute" },
      { "a value that looks like a prefix is an option", "new -t --with",
        "new -t --with-ui" },
      -- per-command names
      { "execute's", "execute --cont c z", "execute --container c z" },
      { "new's", "new --templ python --with .",
        "new --template python --with-ui ." },
      { "main's not after the command", "deploy --vers c x",
        "deploy --vers c x" },
      { "a command's not before it", "--exec deploy c x",
        "--exec deploy c x" },
      -- devcloud's subcommands
      { "devcloud up", "devcloud up --po 8080 --uns",
        "devcloud up --port 8080 --unsandboxed" },
      { "devcloud up, =value", "devcloud up --max=4M",
        "devcloud up --max-file-size=4M" },
      { "devcloud down", "devcloud down --d x", "devcloud down --dir x" },
      { "devcloud itself", "devcloud --po up", "devcloud --po up" },
    }
    for _, case in ipairs(cases) do
      it(("%s: %s"):format(case[1], case[2]), function()
        local input = words(case[2])
        local copy = words(case[2])
        local out, err = argv.expand_prefixes(parser, input)
        assert.is_nil(err)
        assert.are.same(words(case[3]), out)
        assert.are.same(copy, input)
      end)
    end

    local ambiguous = {
      { "deploy --s c x", "deploy",
        "ambiguous option: --s could match --summary, --summary-format, "
          .. "--segment-size, --skip-identical, --snet" },
      { "deploy c x --summ=json", "deploy",
        "ambiguous option: --summ could match --summary, --summary-format" },
      { "deploy c x --os-p secret", "deploy",
        "ambiguous option: --os-p could match --os-password, "
          .. "--os-project-name, --os-project-id, --os-project-domain-name, "
          .. "--os-project-domain-id" },
      { "devcloud up --m 1G", "up",
        "ambiguous option: --m could match --memory-limit, --max-file-size" },
      { "execute --s z", "execute",
        "ambiguous option: --s could match --summary, --summary-format, "
          .. "--snet" },
    }
    for _, case in ipairs(ambiguous) do
      it("reports an ambiguous prefix: " .. case[1], function()
        local out, err, code, detail = argv.expand_prefixes(parser,
                                                            words(case[1]))
        assert.is_nil(out)
        assert.are.equal(case[3], err)
        assert.are.equal("invalid", code)
        assert.are.equal(case[2], detail.parser._name)
      end)
    end

    it("takes an empty list", function()
      assert.are.same({}, argv.expand_prefixes(parser, {}))
    end)
  end)

  describe("following argparse's reading of the words", function()
    local parser = tricky_parser()
    local cases = {
      { "a value is not a command", "-l debug up --po 1",
        "-l debug up --port 1" },
      { "the other way round", "-l up debug --po",
        "-l up debug --portal" },
      { "=value takes no next word", "--lev=up debug --po",
        "--level=up debug --portal" },
      { "inline short value", "-lup debug --po", "-lup debug --portal" },
      { "two values", "--pa up debug up --po", "--pair up debug up --port" },
      { "a positional is not a command", "named up up --porc",
        "named up up --porcelain" },
      { "aliases of one option", "--col", "--colour" },
      { "an alias exactly", "--color", "--color" },
      { "parent options still known exactly", "up --level x --po 1",
        "up --level x --port 1" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local out, err = argv.expand_prefixes(parser, words(case[2]))
        assert.is_nil(err)
        assert.are.same(words(case[3]), out)
      end)
    end

    it("reports at the subcommand's level", function()
      local p = argparse("tool")
      local up = p:command("up")
      up:flag("--alpha")
      up:flag("--also")
      local out, err, code, detail = argv.expand_prefixes(p,
                                                          words("up --al"))
      assert.is_nil(out)
      assert.are.equal("ambiguous option: --al could match --alpha, --also",
                       err)
      assert.are.equal("invalid", code)
      assert.are.equal("up", detail.parser._name)
    end)
  end)
end)
