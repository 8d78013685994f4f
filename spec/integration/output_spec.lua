-- Standard output that cannot be written is an error in every command:
-- with stdout on /dev/full (every write fails with ENOSPC) or closed,
-- zpm says `Error: cannot write to standard output: <reason>` on stderr
-- and exits 1, whether the write fails in a command's print, in the help
-- or version printed while parsing, or only at the final flush (stdout
-- on a file is fully buffered: short output fails there). The commands
-- that need a server (auth, deploy, execute) are in
-- spec/cloud/atomic_spec.lua.
local util = require("support.util")

local FULL = "Error: cannot write to standard output: No space left on "
  .. "device\n"
local CLOSED = "Error: cannot write to standard output: Bad file "
  .. "descriptor\n"

-- Run zpm with stdout redirected by `redirect` (e.g. ">/dev/full");
-- returns stderr and the exit code.
local function zpm_to(redirect, args, opts)
  local words = { util.quote(util.zpm_bin) }
  for _, a in ipairs(args) do
    words[#words + 1] = util.quote(a)
  end
  local out, err, code = util.sh("{ " .. table.concat(words, " ") .. " "
    .. redirect .. "; }", opts)
  assert.are.equal("", out)
  return err, code
end

-- A small project to bundle.
local function project()
  local dir = util.tmpdir()
  util.write(dir .. "/zapp.yaml", [[
execution:
  groups:
  - name: out
    path: file://python3:python
    args: main.py
    devices:
    - name: python3
    - name: stdout
meta: {name: out}
bundling: [main.py]
]])
  util.write(dir .. "/main.py", "print('out')\n")
  return dir
end

describe("stdout that cannot be written", function()
  after_each(util.cleanup)

  local quick = {
    { "version" }, { "--version" }, { "help" }, { "help", "bundle" },
    { "help", "nosuch" }, { "--help" }, { "bundle", "--help" },
    { "devcloud", "up", "-h" }, { "new", "--help" },
  }
  for _, args in ipairs(quick) do
    local name = table.concat(args, " ")
    it("fails `zpm " .. name .. "` on /dev/full with exit 1", function()
      local err, code = zpm_to(">/dev/full", args)
      assert.are.equal(FULL, err)
      assert.are.equal(1, code)
    end)

    it("fails `zpm " .. name .. "` on a closed stdout with exit 1",
       function()
      local err, code = zpm_to(">&-", args)
      assert.are.equal(CLOSED, err)
      assert.are.equal(1, code)
    end)

    it("still exits 0 for `zpm " .. name .. "` on a file", function()
      local out, err, code = util.zpm(args)
      assert.are.equal("", err)
      assert.are.equal(0, code)
      assert.is_true(#out > 0)
    end)
  end

  it("fails zpm bundle on /dev/full after writing the zapp", function()
    local dir = project()
    local err, code = zpm_to(">/dev/full", { "bundle" }, { cwd = dir })
    assert.are.equal(FULL, err)
    assert.are.equal(1, code)
    -- the zapp itself is complete: only the report was lost
    assert.are.same({ "boot/system.map", "zapp.yaml", "main.py" },
                    util.members(dir .. "/out.zapp"))
  end)

  it("fails zpm bundle on a closed stdout", function()
    local dir = project()
    local err, code = zpm_to(">&-", { "bundle", "-q" }, { cwd = dir })
    assert.are.equal(CLOSED, err)
    assert.are.equal(1, code)
  end)

  it("fails zpm new on /dev/full", function()
    local dir = util.tmpdir() .. "/p"
    local err, code = zpm_to(">/dev/full", { "new", dir })
    assert.are.equal(FULL, err)
    assert.are.equal(1, code)
    assert.is_true(util.exists(dir .. "/zapp.yaml"))
  end)

  it("keeps a failure's own message and code, and adds the output's",
     function()
    -- bundle fails (no zapp.yaml): nothing for stdout, exit 1, one line
    local dir = util.tmpdir()
    local err, code = zpm_to(">/dev/full", { "bundle" }, { cwd = dir })
    assert.are.equal(1, code)
    assert.are.equal(1, #util.lines(err), err)
    assert.matches("^Error: ", err)
    -- a usage error writes nothing to stdout: exit 2 as ever
    err, code = zpm_to(">/dev/full", { "bundle", "--nope" })
    assert.are.equal(2, code)
    assert.matches("zpm: error: unknown option '%-%-nope'", err)
  end)

  it("fails zpm devcloud env on /dev/full", function()
    -- a state directory with an env file is all `env` reads
    local dir = util.tmpdir()
    util.write(dir .. "/env", "ST_AUTH='http://127.0.0.1:1/auth/v1.0'\n"
      .. "ST_USER='test:tester'\nST_KEY='testing'\n")
    local out, err, code = util.zpm({ "devcloud", "env", "--dir", dir })
    assert.are.equal(0, code, err)
    assert.matches("^export ST_AUTH=", out)
    err, code = zpm_to(">/dev/full", { "devcloud", "env", "--dir", dir })
    assert.are.equal(FULL, err)
    assert.are.equal(1, code)
  end)
end)
