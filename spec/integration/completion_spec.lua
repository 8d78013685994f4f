-- zpm completion bash|zsh|fish and the man page, both generated from the
-- command-line parser: the bash script sourced in bash and asked to
-- complete, the zsh and fish scripts checked by their shells (fish asked
-- to complete too), and zpm.1 (from the build) rendered by man -l with every
-- command and option in it.
local util = require("support.util")
local cli = require("zpm.cli")

-- Run a bash script with the completion of `zpm completion bash`
-- sourced; returns its stdout (and fails the test on an error).
local function in_bash(script_path, body)
  local out, err, code = util.sh("bash -c " .. util.quote(
    "set -e; source " .. util.quote(script_path) .. "\n" .. body))
  assert.are.equal("", err)
  assert.are.equal(0, code)
  return out
end

-- What bash's completion proposes for the words of a command line, the
-- last being completed (COMP_WORDS, COMP_CWORD as bash sets them).
local function complete(script_path, words)
  local quoted = {}
  for i, w in ipairs(words) do
    quoted[i] = util.quote(w)
  end
  return in_bash(script_path, ("COMP_WORDS=(%s); COMP_CWORD=%d; _zpm; "
    .. "printf '%%s\\n' \"${COMPREPLY[@]}\""):format(
      table.concat(quoted, " "), #words - 1))
end

-- A shell the test needs: missing, the test fails naming its package
-- (./dev deps installs it).
local function need(program)
  local _, _, code = util.sh("command -v " .. program)
  assert(code == 0, program .. " is not installed: apt-get install "
    .. program)
end

describe("zpm completion", function()
  local dir, bash_script
  setup(function()
    dir = util.tmpdir()
    local out, err, code = util.zpm({ "completion", "bash" })
    assert.are.equal(0, code)
    assert.are.equal("", err)
    bash_script = dir .. "/zpm.bash"
    util.write(bash_script, out)
  end)
  teardown(util.cleanup)

  it("bash: registers a completion for zpm", function()
    assert.matches("^complete .*%-F _zpm zpm\n$",
                   in_bash(bash_script, "complete -p zpm"))
  end)

  it("bash: completes a command name", function()
    assert.are.equal("deploy\n", complete(bash_script, { "zpm", "dep" }))
    assert.are.equal("completion\n",
                     complete(bash_script, { "zpm", "compl" }))
    -- after a global option too
    assert.are.equal("execute\n",
                     complete(bash_script, { "zpm", "-v", "exe" }))
  end)

  it("bash: offers each option once, global ones included", function()
    assert.are.equal("--help\n",
                     complete(bash_script, { "zpm", "bundle", "--he" }))
    assert.are.equal("--quiet\n",
                     complete(bash_script, { "zpm", "deploy", "--qu" }))
    assert.are.equal("--os-cloud\n",
                     complete(bash_script, { "zpm", "list", "--os-cl" }))
  end)

  it("bash: completes a command's options", function()
    assert.are.equal("--force\n",
                     complete(bash_script, { "zpm", "deploy", "--forc" }))
    local options = complete(bash_script, { "zpm", "execute", "--" })
    for _, want in ipairs({ "--container", "--summary", "--os-auth-url",
                            "--verbose" }) do
      assert.truthy(options:find("\n" .. want .. "\n", 1, true)
                    or options:find("^" .. want:gsub("%-", "%%-") .. "\n"),
                    want .. " in:\n" .. options)
    end
    -- an option's choices
    assert.are.equal("debug\n", complete(bash_script,
      { "zpm", "bundle", "--log-level", "de" }))
  end)

  it("bash: completes a positional argument's choices", function()
    assert.are.equal("bash\nzsh\nfish\n",
                     complete(bash_script, { "zpm", "completion", "" }))
    assert.are.equal("fish\n",
                     complete(bash_script, { "zpm", "completion", "f" }))
    -- options still complete there
    assert.truthy(complete(bash_script, { "zpm", "completion", "--he" })
                  :find("^%-%-help\n"))
  end)

  it("fish: completes commands and a positional argument's choices",
     function()
    need("fish")
    local path = dir .. "/zpm.fish"
    util.write(path, (util.zpm({ "completion", "fish" })))
    local function fish_complete(line)
      local out, err, code = util.sh("fish -c " .. util.quote("source "
        .. util.quote(path) .. "; complete -C " .. util.quote(line)))
      assert.are.equal("", err)
      assert.are.equal(0, code)
      return out
    end
    assert.are.equal("bash\nfish\nzsh\n", fish_complete("zpm completion "))
    assert.matches("^completion\t", fish_complete("zpm compl"))
  end)

  for _, shell in ipairs({ "zsh", "fish" }) do
    it(shell .. ": prints a script its shell can parse", function()
      local out, err, code = util.zpm({ "completion", shell })
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.matches("zpm", out)
      assert.matches("deploy", out)
      need(shell)
      local path = dir .. "/zpm." .. shell
      util.write(path, out)
      local _, serr, scode = util.sh(shell .. " -n " .. util.quote(path))
      assert.are.equal("", serr)
      assert.are.equal(0, scode)
    end)
  end

  it("rejects another shell with a usage error", function()
    local out, err, code = util.zpm({ "completion", "tcsh" })
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("zpm: error: argument 'shell' must be one of", err)
  end)

  it("is what the build generated and installs", function()
    for shell, name in pairs({ bash = "zpm.bash", zsh = "_zpm",
                               fish = "zpm.fish" }) do
      local out = util.zpm({ "completion", shell })
      assert.are.equal(out, util.read(util.build_dir .. "/" .. name))
    end
  end)
end)

describe("zpm.1", function()
  local page
  setup(function()
    -- man and troff are not ours: under reliability/asan they must not
    -- inherit its LD_PRELOAD of libasan (troff trips it)
    local out, err, code = util.sh("env -u LD_PRELOAD man --warnings -l "
      .. util.quote(util.build_dir .. "/zpm.1"),
      { env = { MANWIDTH = "200", MAN_KEEP_FORMATTING = "" } })
    assert.are.equal("", err)
    assert.are.equal(0, code)
    page = out
  end)

  -- A word of the rendered page, not part of a longer one.
  local function shows(word)
    local pattern = "%f[%w%-]" .. word:gsub("%p", "%%%0") .. "%f[^%w%-]"
    return page:find(pattern) ~= nil
  end

  it("renders with man -l, with its name and sections", function()
    assert.matches("^ZPM%(1%)", page)
    for _, section in ipairs({ "NAME", "SYNOPSIS", "DESCRIPTION",
                               "GLOBAL OPTIONS", "COMMANDS",
                               "EXIT STATUS" }) do
      assert.truthy(page:find("\n" .. section .. "\n", 1, true), section)
    end
  end)

  it("lists every command and every option", function()
    local parser = cli.build_parser()
    local missing = {}
    local function check(p)
      for _, option in ipairs(p._options) do
        for _, alias in ipairs(option._aliases) do
          if not shows(alias) then
            missing[#missing + 1] = p._name .. " " .. alias
          end
        end
      end
      for _, argument in ipairs(p._arguments) do
        if not page:find(argument:_get_label_lines()[1], 1, true) then
          missing[#missing + 1] = p._name .. " " .. argument._name
        end
      end
    end
    check(parser)
    for _, name in ipairs(cli.COMMANDS) do
      assert.truthy(shows("zpm " .. name), "zpm " .. name)
    end
    for _, command in ipairs(parser._commands) do
      check(command)
      for _, sub in ipairs(command._commands) do
        assert.truthy(shows(command._name .. " " .. sub._name),
                      command._name .. " " .. sub._name)
      end
    end
    assert.are.same({}, missing)
  end)
end)
