-- End to end on the devcloud: real Swift with zpm's execution middleware,
-- started with `zpm devcloud up` in a temporary directory.
local util = require("support.util")

local dir, env

local function zpm(args, opts)
  opts = opts or {}
  local e = { ST_AUTH = env.ST_AUTH, ST_USER = env.ST_USER,
              ST_KEY = env.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
              OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" }
  for k, v in pairs(opts.env or {}) do e[k] = v end
  return util.zpm(args, { cwd = opts.cwd, env = e })
end

local function swift(args, user, key)
  return util.sh(("/usr/bin/swift -A %s -U %s -K %s %s"):format(
    util.quote(env.ST_AUTH), util.quote(user or env.ST_USER),
    util.quote(key or env.ST_KEY), args), { env = { OS_AUTH_URL = "" } })
end

-- a bundled project made of files { name = content } plus zapp.yaml
local function project(name, zapp_yaml, files)
  local root = util.tmpdir() .. "/" .. name
  os.execute("mkdir -p " .. util.quote(root))
  util.write(root .. "/zapp.yaml", zapp_yaml)
  for file, content in pairs(files or {}) do
    util.write(root .. "/" .. file, content)
  end
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/" .. name .. ".zapp"
end

-- a one-node Python job running main.py; extra: more files to bundle
local function python_job(name, script, devices, extra)
  local files = { ["main.py"] = script }
  local bundling = { "main.py" }
  for file, content in pairs(extra or {}) do
    files[file] = content
    bundling[#bundling + 1] = file
  end
  table.sort(bundling)
  return project(name, ([[
execution:
  groups:
  - name: %s
    path: file://python3:python
    args: main.py
    devices:
    - name: python3
    - name: stdout
%s
meta: {name: %s}
bundling: [%s]
]]):format(name, devices or "", name, table.concat(bundling, ", ")), files)
end

local function hello()
  local root = util.tmpdir() .. "/hello"
  os.execute("cp -r " .. util.source_dir .. "/examples/hello " .. root)
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/hello.zapp"
end

local counter = 0
local function container()
  counter = counter + 1
  return ("dc-%d-%d"):format(os.time(), counter)
end

describe("devcloud", function()
  setup(function()
    dir = util.tmpdir()
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
      "--time-limit", "5", "--memory-limit", "256M",
      "--max-file-size", "4M" })
    assert(code == 0, err)
    env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
    local all = util.read(dir .. "/env")
    for k, v in all:gmatch("([%w_]+)=([^\n]*)") do
      env[k] = env[k] or v:gsub("^'(.*)'$", "%1")
    end
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  it("prints the exports and tells what runs", function()
    local out, _, code = util.zpm({ "devcloud", "env", "--dir", dir })
    assert.are.equal(0, code)
    assert.matches("^export ST_AUTH='http://127%.0%.0%.1:%d+/auth/v1%.0' "
                   .. "ST_USER='test:tester' ST_KEY='testing'\n$", out)
    out, _, code = util.zpm({ "devcloud", "status", "--dir", dir })
    assert.are.equal(0, code)
    assert.matches("proxy: running", out)
  end)

  it("runs a local zapp (POSTed image)", function()
    local out, err, code = zpm({ "execute", hello() })
    assert.are.equal(0, code, err)
    assert.are.equal("Hello, ZeroVM world!\n", out)
  end)

  it("deploys, executes and prints the summary", function()
    local c = container()
    local out, err, code = zpm({ "deploy", "--execute", "--summary", c,
                                 hello() })
    assert.are.equal(0, code, err)
    local table_text = out:match("Execution summary:\n(.-)Total time:")
    assert.is_string(table_text, out)
    assert.matches("| +hello +| +ok +| +0 +|", table_text)
    assert.matches("\nTotal time: [%d.]+\nHello, ZeroVM world!\n$", out)
    out, err, code = zpm({ "execute", "--container", c, "hello" })
    assert.are.equal(0, code, err)
    assert.are.equal("Hello, ZeroVM world!\n", out)
  end)

  it("gives the summary as JSON", function()
    local out, err, code = zpm({ "execute", "-s", "--summary-format",
                                 "json", hello() })
    assert.are.equal(0, code, err)
    local text = out:match("^(.-)\n")
    local doc = require("zpm.json").decode(text)
    assert.are.equal("hello", doc.nodes[1].node)
    assert.are.equal("0", doc.nodes[1].retcode)
  end)

  -- this devcloud's Swift takes objects of at most 4 MiB (--max-file-size)
  describe("a zapp whose tar is larger than Swift's largest object", function()
    local SCRIPT = "import hashlib\nd = open('data.bin', 'rb').read()\n"
      .. "print(len(d), hashlib.md5(d).hexdigest())\n"

    local function big_zapp(name, data)
      return python_job(name, SCRIPT, nil, { ["data.bin"] = data })
    end

    local function md5(data)
      local path = util.tmpdir() .. "/md5-input"
      util.write(path, data)
      return util.sh("md5sum " .. util.quote(path)):match("^(%x+)")
    end

    local function segments_of(c)
      local out, err, code = swift("list " .. util.quote(c .. "_segments"))
      assert.are.equal(0, code, err)
      return util.lines(out)
    end

    it("deploys it as a Static Large Object, which executes", function()
      -- random bytes: the .zapp file itself is over the limit
      local data = util.sh("head -c 6000000 /dev/urandom")
      local c = container()
      local zapp = big_zapp("bigrand", data)
      local out, err, code = zpm({ "deploy", "--execute", c, zapp })
      assert.are.equal(0, code, err)
      assert.matches("Static Large Object", err)
      assert.matches("2 segments in container '" .. c .. "_segments'", err,
                     1, true)
      assert.matches("6000000 " .. md5(data) .. "\n$", out)
      local names = segments_of(c)
      assert.are.equal(2, #names)
      assert.matches("^bigrand%.zapp/slo/[%d.%x]+/4194304/00000000$",
                     names[1])
      local stat = swift("stat " .. util.quote(c) .. " bigrand.zapp")
      assert.matches("Content Type: application/x%-tar", stat)
      -- the object reads back as the whole tar
      local tar_size = #util.sh("gzip -dc " .. util.quote(zapp))
      assert.matches("Content Length: " .. tar_size .. "\n", stat, 1, true)
    end)

    it("finds out while uploading when a small zapp unpacks past it",
       function()
      local data = ("zpm "):rep(2500000)   -- 10 MB, compresses to ~10 KB
      local c = container()
      local out, err, code = zpm({ "deploy", "--execute", c,
                                   big_zapp("bigtext", data) })
      assert.are.equal(0, code, err)
      assert.matches("3 segments", err)
      assert.matches("10000000 " .. md5(data) .. "\n$", out)
      assert.are.equal(3, #segments_of(c))
    end)

    it("cuts segments of --segment-size, and no larger than the limit",
       function()
      local zapp = big_zapp("bigseg", ("0123456789"):rep(300000))
      local c = container()
      local out, err, code = zpm({ "deploy", "--segment-size", "1M", c,
                                   zapp })
      assert.are.equal(0, code, err)
      assert.matches("app deployed to", out)
      assert.matches("3 segments", err)
      assert.are.equal(3, #segments_of(c))
      out, err, code = zpm({ "execute", "--container", c, "bigseg" })
      assert.are.equal(0, code, err)
      assert.matches("^3000000 ", out)
      out, err, code = zpm({ "deploy", "--segment-size", "8M", container(),
                             zapp })
      assert.are.equal(1, code, out)
      assert.matches("--segment-size 8388608 is larger than the cluster's "
        .. "largest object (4194304 bytes", err, 1, true)
    end)
  end)

  it("counts words like an independent count does", function()
    local words = { "alpha", "beta", "gamma", "delta", "zeta" }
    local expected = {}
    local data = util.tmpdir()
    math.randomseed(42)
    for i = 1, 3 do
      local text = {}
      for _ = 1, 200 do
        local w = words[math.random(#words)]
        text[#text + 1] = w
        expected[w] = (expected[w] or 0) + 1
      end
      util.write(("%s/part%d.txt"):format(data, i),
                 table.concat(text, " ") .. "\n")
    end
    local _, err, code = swift("upload --object-name '' wordcount-data "
                               .. util.quote(data))
    assert.are.equal(0, code, err)
    local root = util.tmpdir() .. "/wordcount"
    os.execute("cp -r " .. util.source_dir .. "/examples/wordcount " .. root)
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = root })))
    local out
    out, err, code = zpm({ "deploy", "--execute", "-s", container(),
                           root .. "/wordcount.zapp" })
    assert.are.equal(0, code, err)
    for _, node in ipairs({ "mapper%-1", "mapper%-2", "mapper%-3",
                            "reducer" }) do
      assert.matches("| +" .. node .. " +| +ok +| +0 +|", out)
    end
    local got = {}
    for w, n in out:gmatch("\n(%l+) (%d+)") do
      got[w] = tonumber(n)
    end
    assert.are.same(expected, got)
  end)

  it("reports a node that exits non-zero", function()
    local out, err, code = zpm({ "execute", "-s", python_job("fails",
      "import sys\nprint('before')\nsys.exit(3)\n") })
    assert.are.equal(0, code, err)
    assert.matches("| +fails +| +ok +| +3 +|", out)
    assert.matches("before\n$", out)
  end)

  it("kills a node that runs past the time limit", function()
    local out, err, code = zpm({ "execute", "-s", python_job("loops",
      "while True:\n    pass\n") })
    assert.are.equal(0, code, err)
    assert.matches("| +loops +| +Killed by timeout +|", out)
  end)

  it("gives a node no network", function()
    local port = env.ST_AUTH:match(":(%d+)/")
    local out, err, code = zpm({ "execute", python_job("net", ([[
import socket
try:
    socket.create_connection(("127.0.0.1", %s), timeout=3)
    print("connected")
except OSError as exc:
    print("blocked")
]]):format(port)) })
    assert.are.equal(0, code, err)
    assert.are.equal("blocked\n", out)
  end)

  it("denies reading another account's object", function()
    local other = util.tmpdir() .. "/secret.txt"
    util.write(other, "secret")
    assert.are.equal(0, select(3, swift("upload --object-name secret.txt "
      .. "private " .. util.quote(other), env.ST_USER2, env.ST_KEY2)))
    local account2 = env.SWIFT_STORAGE_URL:gsub("AUTH_test$", "AUTH_test2")
      :match("/v1/(.*)$")
    local out, err, code = zpm({ "execute", python_job("steal",
      "print(open('/dev/input').read())\n",
      ("    - name: input\n      path: swift://%s/private/secret.txt\n")
        :format(account2)) })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^Error: 403", err)
    assert.is_nil(err:find("secret\n", 1, true))
  end)

  it("rejects a malformed job with 400", function()
    local script = ([[
      package.path = %q .. package.path
      package.cpath = %q .. package.cpath
      local zpm = require("zpm")
      local conn = assert(zpm.connect({ auth = %q, user = %q, key = %q }))
      local resp = assert(conn:post_job('[{"name": "x"}]'))
      io.write(resp.status, " ", resp.body)
    ]]):format(util.source_dir .. "/lua/?.lua;" .. util.source_dir
      .. "/lua/?/init.lua;", util.build_dir .. "/?.so;", env.ST_AUTH,
      env.ST_USER, env.ST_KEY)
    local out, err, code = util.sh("lua5.4 -e " .. util.quote(script))
    assert.are.equal(0, code, err)
    assert.matches("^400 ", out)
    assert.matches("exec", out)
  end)

  it("runs examples/deploy.lua", function()
    local copy = util.tmpdir() .. "/hello"
    os.execute("cp -r " .. util.source_dir .. "/examples/hello " .. copy)
    local out, err, code = util.sh(("cd %s && LUA_PATH=%s LUA_CPATH=%s "
      .. "ST_AUTH=%s ST_USER=%s ST_KEY=%s lua5.4 examples/deploy.lua %s %s")
      :format(util.quote(util.source_dir),
        util.quote(util.source_dir .. "/lua/?.lua;" .. util.source_dir
          .. "/lua/?/init.lua;;"),
        util.quote(util.build_dir .. "/?.so;;"), util.quote(env.ST_AUTH),
        util.quote(env.ST_USER), util.quote(env.ST_KEY),
        util.quote(copy), container()))
    assert.are.equal(0, code, err)
    assert.matches("node hello +ok +retcode 0", out)
    assert.matches("Hello, ZeroVM world!\n$", out)
  end)

  it("keeps its data across down and up", function()
    local c = container()
    assert.are.equal(0, select(3, swift("post " .. c)))
    local _, _, code = util.zpm({ "devcloud", "down", "--dir", dir })
    assert.are.equal(0, code)
    local _, _, scode = util.zpm({ "devcloud", "status", "--dir", dir })
    assert.are.equal(1, scode)
    _, _, code = util.zpm({ "devcloud", "up", "--dir", dir })
    assert.are.equal(0, code)
    -- HEAD the container: account listings are updated asynchronously
    local _, serr, scode2 = swift("stat " .. c)
    assert.are.equal(0, scode2, serr)
  end)
end)
