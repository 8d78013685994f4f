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

  it("gives the summary as JSON on stderr, stdout the output alone",
     function()
    local out, err, code = zpm({ "execute", "-s", "--summary-format",
                                 "json", hello() })
    assert.are.equal(0, code, err)
    assert.are.equal("Hello, ZeroVM world!\n", out)
    local lines = util.lines(err)
    assert.are.equal(1, #lines, err)
    local doc = require("cjson").decode(lines[1])
    assert.are.equal("hello", doc.nodes[1].node)
    assert.are.equal("ok", doc.nodes[1].status)
    assert.are.equal("number", type(doc.nodes[1].retcode))
    assert.are.equal(0, doc.nodes[1].retcode)
    assert.are.equal("number", type(doc.total_time))
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
      -- the image (this deploy's .zapp/<version>/bigrand.zapp) is the
      -- SLO; its segments are named after it
      local names = segments_of(c)
      assert.are.equal(2, #names)
      local image = names[1]:match("^(%.zapp/%d+T%d+Z%-%x+/bigrand%.zapp)"
                                   .. "/slo/[%d.%x]+/4194304/00000000$")
      assert.is_string(image, names[1])
      assert.matches("^" .. image:gsub("%p", "%%%0")
                     .. "/slo/[%d.%x]+/4194304/00000001$", names[2])
      -- the image and bigrand.zapp (a manifest naming the image) read
      -- back as the whole tar
      local tar_size = #util.sh("gzip -dc " .. util.quote(zapp))
      for _, object in ipairs({ image, "bigrand.zapp" }) do
        local stat = swift("stat " .. util.quote(c) .. " "
                           .. util.quote(object))
        assert.matches("Content Type: application/x%-tar", stat)
        assert.matches("Content Length: " .. tar_size .. "\n", stat, 1,
                       true)
      end
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
    assert.are.equal(3, code, err)
    assert.matches("| +fails +| +ok +| +3 +|", out)
    assert.matches("before\n$", out)
    assert.are.equal("Error: node 'fails' failed: retcode 3, status 'ok'\n",
                     err)
  end)

  it("kills a node that runs past the time limit", function()
    local out, err, code = zpm({ "execute", "-s", python_job("loops",
      "while True:\n    pass\n") })
    assert.are.equal(3, code, err)
    assert.matches("| +loops +| +Killed by timeout +|", out)
    assert.matches("^Error: node 'loops' failed: ", err)
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

  it("runs examples/original_api.lua (the original's API, translated)",
     function()
    local project = util.tmpdir() .. "/translated"
    local target = container()
    local out, err, code = util.sh(("cd %s && LUA_PATH=%s LUA_CPATH=%s "
      .. "ST_AUTH=%s ST_USER=%s ST_KEY=%s lua5.4 examples/original_api.lua "
      .. "%s %s"):format(util.quote(util.source_dir),
        util.quote(util.source_dir .. "/lua/?.lua;" .. util.source_dir
          .. "/lua/?/init.lua;;"),
        util.quote(util.build_dir .. "/?.so;;"), util.quote(env.ST_AUTH),
        util.quote(env.ST_USER), util.quote(env.ST_KEY),
        util.quote(project), target))
    assert.are.equal(0, code, err)
    assert.matches("^app deployed to\n  http://[^\n]*/"
                   .. target:gsub("%p", "%%%0")
                   .. "/\nExecution summary:\n%+%-", out)
    assert.matches("| +main +| +ok +| +0 +|", out)
    assert.matches("\nTotal time: [%d.]+\nHello from translated!\n$", out)
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

  -- A failed job is a failure: exit 3 after the output (and the summary),
  -- a line per failed node on stderr; result.failed through the API.
  describe("a job whose node fails", function()
    local cjson = require("cjson")

    local function failed_line(node, retcode, status)
      return ("Error: node '%s' failed: retcode %s, status '%s'")
        :format(node, retcode, status)
    end

    -- a job of two groups (nodes) `first` and `second` running
    -- main.py, which prints its argument and exits with it
    local function two_nodes(name, rc1, rc2)
      local function group(node, rc)
        return ([[
  - name: %s
    path: file://python3:python
    args: main.py %d
    devices:
    - name: python3
    - name: stdout
]]):format(node, rc)
      end
      return project(name, "execution:\n  groups:\n" .. group("first", rc1)
        .. group("second", rc2) .. ("meta: {name: %s}\nbundling: [main.py]\n")
        :format(name), { ["main.py"] = "import sys\nprint('node', "
          .. "sys.argv[1])\nsys.exit(int(sys.argv[1]))\n" })
    end

    -- the lines of stderr that are JSON (start with "{"), and the others
    local function split_json(err)
      local docs, others = {}, {}
      for _, line in ipairs(util.lines(err)) do
        if line:sub(1, 1) == "{" then
          docs[#docs + 1] = line
        else
          others[#others + 1] = line
        end
      end
      return docs, others
    end

    it("exits 3 when a node exits 3, keeping its output", function()
      local out, err, code = zpm({ "execute", python_job("exit3",
        "import sys\nprint('before')\nsys.exit(3)\n") })
      assert.are.equal(3, code, err)
      assert.are.equal("before\n", out)
      assert.are.equal(failed_line("exit3", 3, "ok") .. "\n", err)
    end)

    it("exits 3 on a Python exception", function()
      local out, err, code = zpm({ "execute", python_job("raises",
        "print('before', flush=True)\nraise ValueError('boom')\n") })
      assert.are.equal(3, code, err)
      -- the node's traceback is its stderr: neither stdout nor zpm's
      assert.are.equal("before\n", out)
      -- its tail (X-Nexe-Stderr) under zpm's line, each line as "  | "
      local retcode, tail = err:match(
        "^Error: node 'raises' failed: retcode (%-?%d+), status 'ok'\n(.*)$")
      assert.is_string(retcode, err)
      assert.are_not.equal(0, tonumber(retcode))
      assert.matches("^  | Traceback %(most recent call last%):\n", tail)
      assert.matches("\n  | ValueError: boom\n$", tail)
    end)

    it("exits 3 when the time limit kills a node, naming the limit",
       function()
      local out, err, code = zpm({ "execute", python_job("spins",
        "print('spinning', flush=True)\nwhile True:\n    pass\n") })
      assert.are.equal(3, code, err)
      assert.are.equal("spinning\n", out)
      local retcode, status = err:match(
        "^Error: node 'spins' failed: retcode (%-?%d+), status '([^']*)'\n$")
      assert.is_string(status, err)
      assert.matches("[Tt]ime", status)
      assert.is_not_nil(tonumber(retcode))
    end)

    it("exits 3 when a node goes over the memory limit", function()
      -- this devcloud gives a node 256 MiB
      local out, err, code = zpm({ "execute", "-s", python_job("hog",
        "print('allocating', flush=True)\n"
        .. "x = bytearray(1024 * 1024 * 1024)\nprint('got it')\n") })
      assert.are.equal(3, code, err)
      assert.matches("allocating\n$", out)
      assert.is_nil(out:find("got it", 1, true))
      local status = err:match(
        "^Error: node 'hog' failed: retcode %-?%d+, status '([^']*)'\n$")
      assert.is_string(status, err)
      assert.matches("[Mm]emory", status)
    end)

    it("names only the node that failed in a two-node job", function()
      local out, err, code = zpm({ "execute", "-s",
                                   two_nodes("onebad", 0, 4) })
      assert.are.equal(3, code, err)
      assert.matches("| +first +| +ok +| +0 +|", out)
      assert.matches("| +second +| +ok +| +4 +|", out)
      assert.matches("node 0\n", out)
      assert.matches("node 4\n", out)
      assert.are.equal(failed_line("second", 4, "ok") .. "\n", err)
    end)

    it("names every failed node, a line each", function()
      local out, err, code = zpm({ "execute", two_nodes("twobad", 5, 6) })
      assert.are.equal(3, code, err)
      assert.matches("node 5\n", out)
      assert.matches("node 6\n", out)
      local lines = util.lines(err)
      table.sort(lines)
      assert.are.same({ failed_line("first", 5, "ok"),
                        failed_line("second", 6, "ok") }, lines)
    end)

    it("exits 0 with no Error line when every node succeeds", function()
      local out, err, code = zpm({ "execute", two_nodes("allgood", 0, 0) })
      assert.are.equal(0, code, err)
      -- two nodes' outputs come back as a tar of both
      assert.are.equal(2, select(2, out:gsub("node 0\n", "")))
      assert.are.equal("", err)
      out, err, code = zpm({ "execute", "-s", hello() })
      assert.are.equal(0, code, err)
      assert.matches("| +hello +| +ok +| +0 +|", out)
      assert.are.equal("", err)
    end)

    it("makes deploy --execute exit 3", function()
      local c = container()
      local zapp = python_job("deployfail",
        "import sys\nprint('before')\nsys.exit(3)\n")
      local out, err, code = zpm({ "deploy", "--execute", c, zapp })
      assert.are.equal(3, code, err)
      assert.matches("^app deployed to\n", out)
      assert.matches("\nbefore\n$", out)
      local lines = util.lines(err)
      assert.are.equal(failed_line("deployfail", 3, "ok"), lines[#lines])
      local errors = select(2, err:gsub("Error:", ""))
      assert.are.equal(1, errors, err)
      -- and the deployed job fails the same way when run again
      out, err, code = zpm({ "execute", "--container", c, "deployfail" })
      assert.are.equal(3, code, err)
      assert.are.equal("before\n", out)
      assert.are.equal(failed_line("deployfail", 3, "ok") .. "\n", err)
    end)

    it("puts the JSON summary on stderr, with numbers, when a node fails",
       function()
      local out, err, code = zpm({ "execute", "--summary-format", "json",
        "-s", python_job("jsonfail",
          "import sys\nprint('before')\nsys.exit(3)\n") })
      assert.are.equal(3, code, err)
      assert.are.equal("before\n", out)
      local docs, others = split_json(err)
      assert.are.equal(1, #docs, err)
      assert.are.same({ failed_line("jsonfail", 3, "ok") }, others)
      local doc = cjson.decode(docs[1])
      local node = doc.nodes[1]
      assert.are.equal("jsonfail", node.node)
      assert.are.equal("ok", node.status)
      assert.are.equal("number", type(node.retcode))
      assert.are.equal(3, node.retcode)
      assert.are.equal("number", type(node.node_time))
      assert.are.equal("number", type(node.disk_bytes_written))
      assert.are.equal("number", type(doc.total_time))
      -- the text itself: a JSON number, not "3"
      assert.matches('"retcode": ?3[,}]', docs[1])
    end)

    it("gives a killed node's negative retcode as a JSON number",
       function()
      local out, err, code = zpm({ "execute", "-s", "--summary-format",
        "json", python_job("jsonspin", "while True:\n    pass\n") })
      assert.are.equal(3, code, err)
      assert.are.equal("", out)
      local docs, others = split_json(err)
      assert.are.equal(1, #docs, err)
      assert.are.equal(1, #others, err)
      local node = cjson.decode(docs[1]).nodes[1]
      assert.are.equal("number", type(node.retcode))
      assert.matches("[Tt]ime", node.status)
      assert.are.equal(failed_line("jsonspin", math.tointeger(node.retcode),
                                   node.status), others[1])
    end)

    it("keeps stdout the deploy's and the job's with deploy --execute "
       .. "--summary-format json", function()
      local c = container()
      local out, err, code = zpm({ "deploy", "--execute", "-s",
        "--summary-format", "json", c, two_nodes("deployjson", 0, 7) })
      assert.are.equal(3, code, err)
      assert.is_nil(out:find("{", 1, true), out)
      assert.matches("^app deployed to\n", out)
      assert.matches("node 7\n", out)
      local docs, others = split_json(err)
      assert.are.equal(1, #docs, err)
      local retcodes = {}
      for _, node in ipairs(cjson.decode(docs[1]).nodes) do
        assert.are.equal("number", type(node.retcode))
        retcodes[node.node] = node.retcode
      end
      assert.are.same({ first = 0, second = 7 }, retcodes)
      assert.are.equal(failed_line("second", 7, "ok"), others[#others])
    end)

    it("gives result.failed through the Lua API, not an error", function()
      local script = ([[
        package.path = %q .. package.path
        package.cpath = %q .. package.cpath
        local cjson = require("cjson")
        local zpm = require("zpm")
        local conn = assert(zpm.connect({ auth = %q, user = %q, key = %q }))
        local report = {}
        for i, path in ipairs({ %q, %q }) do
          local result, err = conn:execute({ zapp = path })
          assert(result, err)
          local failed = {}
          for j, f in ipairs(result.failed) do
            failed[j] = { node = f.node, status = f.status,
                          retcode = f.retcode,
                          integer = math.type(f.retcode) == "integer" }
          end
          report[i] = { count = #result.failed, failed = failed,
                        body = result.body }
        end
        io.write(cjson.encode(report))
      ]]):format(util.source_dir .. "/lua/?.lua;" .. util.source_dir
        .. "/lua/?/init.lua;", util.build_dir .. "/?.so;", env.ST_AUTH,
        env.ST_USER, env.ST_KEY, two_nodes("apifail", 0, 9), hello())
      local out, err, code = util.sh("lua5.4 -e " .. util.quote(script))
      assert.are.equal(0, code, err)
      local report = cjson.decode(out)
      assert.are.equal(1, report[1].count)
      assert.are.same({ node = "second", status = "ok", retcode = 9,
                        integer = true }, report[1].failed[1])
      assert.matches("node 9\n", report[1].body)
      assert.are.equal(0, report[2].count)
      assert.are.equal("Hello, ZeroVM world!\n", report[2].body)
    end)
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
