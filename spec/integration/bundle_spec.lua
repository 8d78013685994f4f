-- zpm bundle (DESIGN.md section 5) run as a subprocess.
local util = require("support.util")
local lfs = require("lfs")

local ZAPP_YAML = [[
execution:
  groups:
  - name: hello
    path: file://python2.7:python
    args: hello.py "a b"
    env: {BAZ: 5, NAME: x}
    devices:
    - name: python2.7
    - name: stdout
meta:
  name: hello
bundling:
- "*.py"
- lib
- "*.py"
- missing/*.txt
ui:
- index.html
]]

local function project(files)
  local dir = util.tmpdir()
  for name, content in pairs(files) do
    local parent = name:match("^(.*)/[^/]*$")
    if parent then
      os.execute("mkdir -p " .. util.quote(dir .. "/" .. parent))
    end
    util.write(dir .. "/" .. name, content)
  end
  return dir
end

local function hello_project()
  return project({
    ["zapp.yaml"] = ZAPP_YAML,
    ["hello.py"] = "print('hello')\n",
    ["a.py"] = "# a\n",
    ["lib/util.py"] = "# util\n",
    ["lib/sub/deep.py"] = "# deep\n",
    ["lib/.cache"] = "hidden",
    [".env.py"] = "hidden",
    ["index.html"] = "<html></html>\n",
    ["notes.txt"] = "not bundled",
  })
end

local function leftovers(dir)
  local names = {}
  for name in lfs.dir(dir) do
    if name:match("%.tmp%-") then
      names[#names + 1] = name
    end
  end
  return names
end

local zpm_on_tty, drawn = util.zpm_on_tty, util.drawn

local function big_project()
  local dir = project({
    ["zapp.yaml"] = "execution:\n  groups:\n  - {name: a, path: p}\n"
      .. "meta: {name: big}\nbundling: [data]\n",
  })
  os.execute("mkdir " .. util.quote(dir .. "/data"))
  -- 3 MiB that gzip cannot shrink, read in 48 blocks of 64 KiB
  assert.is_true(os.execute("head -c 3145728 /dev/urandom >"
    .. util.quote(dir .. "/data/random.bin")))
  return dir
end

describe("zpm bundle", function()
  after_each(util.cleanup)

  it("writes the members in order with warnings", function()
    local dir = hello_project()
    local out, err, code = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(0, code)
    assert.are.equal("created hello.zapp\n", out)
    assert.are.equal("WARNING: pattern 'missing/*.txt' in section "
      .. "'bundling' matched no files\n", err)
    assert.are.same({ "boot/system.map", "zapp.yaml", "a.py", "hello.py",
                      "lib/", "lib/sub/", "lib/sub/deep.py", "lib/util.py",
                      "index.html" }, util.members(dir .. "/hello.zapp"))
    assert.are.same({}, leftovers(dir))
  end)

  it("stores the job description with YAML types", function()
    local dir = hello_project()
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = dir })))
    assert.are.equal('[{"name": "hello", "devices": [{"name": "python2.7"}, '
      .. '{"name": "stdout"}], "exec": {"path": "file://python2.7:python", '
      .. '"args": "hello.py a\\\\x20b", "name": "python", "env": {"BAZ": 5, '
      .. '"NAME": "x"}}}]',
      util.member(dir .. "/hello.zapp", "boot/system.map"))
    assert.are.equal(ZAPP_YAML, util.member(dir .. "/hello.zapp",
                                            "zapp.yaml"))
  end)

  it("is found from a subdirectory and logs members at info", function()
    local dir = hello_project()
    local out, err, code = util.zpm({ "bundle", "-l", "info" },
                                    { cwd = dir .. "/lib/sub" })
    assert.are.equal(0, code)
    assert.are.equal("created hello.zapp\n", out)
    assert.matches("INFO: adding boot/system.map\n", err)
    assert.matches("INFO: adding lib/util.py\n", err)
    assert.is_true(util.exists(dir .. "/hello.zapp"))
  end)

  it("writes a gzip that gzip, GNU tar and Python read", function()
    local dir = hello_project()
    util.zpm({ "bundle" }, { cwd = dir })
    local zapp = util.quote(dir .. "/hello.zapp")
    assert.are.equal(0, select(3, util.sh("gzip -t " .. zapp)))
    local out, _, code = util.sh("/usr/bin/python3 -c 'import sys, tarfile; "
      .. "t = tarfile.open(sys.argv[1]); "
      .. "print(\",\".join(m.name + \":\" + str(m.uid) + \":\" + m.uname "
      .. "for m in t.getmembers()[:2]))' " .. zapp)
    assert.are.equal(0, code)
    assert.are.equal("boot/system.map:0:,zapp.yaml:0:\n", out)
  end)

  it("is byte-for-byte reproducible", function()
    local dir = hello_project()
    util.zpm({ "bundle" }, { cwd = dir })
    local first = util.read(dir .. "/hello.zapp")
    util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(first, util.read(dir .. "/hello.zapp"))
  end)

  it("uses SOURCE_DATE_EPOCH for every mtime", function()
    local a, b = hello_project(), hello_project()
    os.execute("touch -d '2001-02-03 04:05:06' " .. util.quote(b)
               .. "/*.py")
    local env = { SOURCE_DATE_EPOCH = "1000000000" }
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = a,
                                                           env = env })))
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = b,
                                                           env = env })))
    assert.are.equal(util.read(a .. "/hello.zapp"),
                     util.read(b .. "/hello.zapp"))
    local out = util.sh("tar -tvzf " .. util.quote(a .. "/hello.zapp"))
    assert.matches("2001%-09%-09", out)
  end)

  it("never includes the zapp itself", function()
    local dir = project({
      ["zapp.yaml"] = "execution:\n  groups:\n  - {name: a, path: p}\n"
        .. "meta: {name: self}\nbundling: ['*']\n",
      ["x.txt"] = "x",
    })
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = dir })))
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = dir })))
    assert.are.same({ "boot/system.map", "zapp.yaml", "x.txt" },
                    util.members(dir .. "/self.zapp"))
  end)

  it("never includes a zapp written into a bundled directory", function()
    local dir = project({
      ["zapp.yaml"] = "execution:\n  groups:\n  - {name: a, path: p}\n"
        .. "meta: {name: self}\nbundling: [data]\n",
      ["data/x.txt"] = "x",
      ["data/sub/y.txt"] = "y",
    })
    local bundle = require("zpm.bundle")
    local out = dir .. "/data/sub/self.zapp"
    assert.is_truthy(bundle.bundle(dir, { output = out }))
    assert.is_truthy(bundle.bundle(dir, { output = out }))
    assert.are.same({ "boot/system.map", "zapp.yaml", "data/", "data/sub/",
                      "data/sub/y.txt", "data/x.txt" }, util.members(out))
  end)

  it("fails when nothing matches, leaving no zapp", function()
    local dir = project({
      ["zapp.yaml"] = "execution:\n  groups:\n  - {name: a, path: p}\n"
        .. "meta: {name: none}\nbundling: ['*.py']\nui: ['*.html']\n",
    })
    local out, err, code = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("WARNING: pattern '*.py' in section 'bundling' matched "
      .. "no files\nWARNING: pattern '*.html' in section 'ui' matched no "
      .. "files\nError: None of the files specified in the 'bundling' or "
      .. "'ui' sections of the zapp.yaml matched anything.\n", err)
    assert.is_false(util.exists(dir .. "/none.zapp"))
    assert.are.same({}, leftovers(dir))
  end)

  it("leaves the previous zapp untouched when it fails", function()
    local dir = hello_project()
    util.zpm({ "bundle" }, { cwd = dir })
    local before = util.read(dir .. "/hello.zapp")
    assert.are.equal(0, select(3, util.sh("mkfifo "
      .. util.quote(dir .. "/lib/pipe"))))
    local out, err, code = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("Error: .*lib/pipe", err)
    assert.are.equal(before, util.read(dir .. "/hello.zapp"))
    assert.are.same({}, leftovers(dir))
  end)

  it("reports a bad zapp.yaml with its position and no traceback", function()
    local dir = project({ ["zapp.yaml"] = "meta:\n  name: [\n" })
    local out, err, code = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^Error: zapp%.yaml:%d+:%d+: [^\n]+\n$", err)
  end)

  it("fails outside a project", function()
    local _, err, code = util.zpm({ "bundle" }, { cwd = util.tmpdir() })
    assert.are.equal(1, code)
    assert.are.equal("Error: no zapp.yaml file found\n", err)
  end)

  it("refuses patterns outside the project", function()
    local dir = project({
      ["zapp.yaml"] = "execution:\n  groups:\n  - {name: a, path: p}\n"
        .. "meta: {name: out}\nbundling: ['../*']\n",
    })
    local _, err, code = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(1, code)
    assert.are.equal("Error: zapp.yaml:5:12: bundling[0]: patterns may not "
      .. "refer to '..'\n", err)
  end)

  it("stores symlinks as links", function()
    local dir = hello_project()
    assert(lfs.link("hello.py", dir .. "/link.py", true))
    util.zpm({ "bundle" }, { cwd = dir })
    local out = util.sh("tar -tvzf " .. util.quote(dir .. "/hello.zapp"))
    assert.matches("link%.py %-> hello%.py", out)
  end)

  it("bundles a fresh `zpm new` project once it has code", function()
    local dir = util.tmpdir()
    util.zpm({ "new", "-u", "fresh" }, { cwd = dir })
    util.write(dir .. "/fresh/main.py", "print('hi')\n")
    local out, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/fresh" })
    assert.are.equal(0, code, err)
    assert.are.equal("created fresh.zapp\n", out)
    assert.are.same({ "boot/system.map", "zapp.yaml", "main.py",
                      "index.html.tmpl", "zerocloud.js", "style.css" },
                    util.members(dir .. "/fresh/fresh.zapp"))
  end)

  describe("progress", function()
    local fast = { ZPM_PROGRESS_INTERVAL_MS = "0" }

    it("shows a bar with bytes, rate and ETA on a terminal", function()
      local dir = big_project()
      local tty, out, code = zpm_on_tty({ "bundle" }, dir, 120, fast)
      assert.are.equal(0, code, tty)
      assert.are.equal("created big.zapp\n", out)
      -- redrawn in place: '\r', the line, clear to the end of the line
      assert.matches("^\r?bundling big%.zapp +0 B / 3%.0 MiB +0%% ", tty)
      -- (the rate and ETA are "--" for the first 50 ms)
      assert.matches("\rbundling big%.zapp +1%.%d MiB / 3%.0 MiB +%d%d?%% +"
        .. "%[=+> *%] +[-%d.]+ ?[KMG]?i?B?/s  ETA [-%d]+:[-%d][-%d]\27%[K",
        tty)
      -- the final line stays, ended by a newline, before stdout's line
      local lines = drawn(tty)
      assert.matches("^bundling big%.zapp +3%.0 MiB / 3%.0 MiB  100%%  "
        .. "%[=+%] +[%d.]+ [KMG]?i?B/s  in 0:%d%d$", lines[#lines])
      assert.matches("\27%[K\r\n$", tty)
      assert.is_true(#lines > 10)
      for _, line in ipairs(lines) do
        assert.is_true(#line <= 119, line)
      end
    end)

    it("gives the same zapp as without it", function()
      -- without a bar the members stream in as the tree is walked; with
      -- it they are all found first: the same bytes either way
      local dir = big_project()
      assert.are.equal(0, select(3, util.sh("cd " .. util.quote(dir)
        .. "/data && mkdir -p sub/deeper && : > sub/empty && ln -s ../x"
        .. " sub/link && printf text > sub/deeper/t.txt"
        .. " && for i in $(seq 300); do echo $i > sub/f$i; done")))
      assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = dir })))
      assert.are.equal(309, #util.members(dir .. "/big.zapp"))
      local plain = util.read(dir .. "/big.zapp")
      assert.are.equal(0, select(3, zpm_on_tty({ "bundle" }, dir, 100,
                                               fast)))
      assert.are.equal(plain, util.read(dir .. "/big.zapp"))
    end)

    it("fits a narrow terminal, dropping the bar first", function()
      local dir = big_project()
      local tty = zpm_on_tty({ "bundle" }, dir, 60, fast)
      local lines = drawn(tty)
      assert.is_true(#lines > 10)
      for _, line in ipairs(lines) do
        assert.is_true(#line <= 59, line)
        assert.is_nil(line:find("[", 1, true), line)
      end
      assert.matches("^bundling big%.zapp +3%.0 MiB / 3%.0 MiB  100%%",
                     lines[#lines])
    end)

    it("is not shown with --quiet", function()
      local dir = big_project()
      local tty, out, code = zpm_on_tty({ "bundle", "--quiet" }, dir, 100,
                                        fast)
      assert.are.equal(0, code)
      assert.are.equal("", tty)
      assert.are.equal("created big.zapp\n", out)
      assert.are.equal(0, select(3, zpm_on_tty({ "bundle", "-q" }, dir)))
    end)

    it("is not shown on a terminal that cannot redraw (TERM=dumb)",
       function()
      local dir = big_project()
      local env = { TERM = "dumb" }
      for k, v in pairs(fast) do
        env[k] = v
      end
      local tty, out, code = zpm_on_tty({ "bundle" }, dir, 100, env)
      assert.are.equal(0, code)
      assert.are.equal("", tty)
      assert.are.equal("created big.zapp\n", out)
    end)

    it("is never shown when stderr is not a terminal", function()
      local dir = big_project()
      local out, err, code = util.zpm({ "bundle" }, { cwd = dir,
                                                      env = fast })
      assert.are.equal(0, code)
      assert.are.equal("created big.zapp\n", out)
      assert.are.equal("", err)
    end)

    it("comes after the log lines, and ends before an error", function()
      local dir = big_project()
      local tty, _, code = zpm_on_tty({ "bundle", "-l", "info" }, dir, 100,
                                      fast)
      assert.are.equal(0, code)
      local first_draw = tty:find("\rbundling", 1, true)
      assert.is_truthy(first_draw)
      assert.is_nil(tty:find("INFO", first_draw, true))
      assert.matches("INFO: adding data/random%.bin\r\n", tty)

      assert.are.equal(0, select(3, util.sh("mkfifo "
        .. util.quote(dir .. "/data/zz-pipe"))))
      local out
      tty, out, code = zpm_on_tty({ "bundle" }, dir, 100, fast)
      assert.are.equal(1, code)
      assert.are.equal("", out)
      -- the meter stopped at the random file's bytes, its line ended
      assert.matches("bundling big%.zapp +3%.0 MiB / 3%.0 MiB  100%%[^\r]*"
        .. "\27%[K\r\nError: [^\r\n]*zz%-pipe", tty)
    end)
  end)
end)
