-- Issue 14: the devcloud speaks ZeroCloud. One `it` per documented rule
-- and per example of ZeroCloud's doc/*.md (Requests, Servlets, Url,
-- Response, Chaining, CGIEnvironment, RESTServices) and zpm's doc/*.rst,
-- run against `zpm devcloud up`. Each description names the document and
-- its section. Through zpm where zpm can express the job, through plain
-- HTTP (curl to 127.0.0.1 with the test user's token) otherwise.
--
-- The docs' nexes do not exist: python3 scripts stand in for them (one
-- tool, t.py, in an image `swift://AUTH_test/conform/tools.tar`, and
-- sort.py, an executable object, for sort.nexe); python2.7 and python3
-- are the host's python3. The table in devcloud/middleware/README.md
-- ("ZeroCloud conformance") maps each rule to these tests.
local util = require("support.util")
local cjson = require("cjson")

local dir, env, token, ACCT, PROXY, STORAGE, TOOLS

-- The tool every job runs (`t.py COMMAND ARGS...`, see the commands).
local T_PY = [==[import json
import os
import stat
import sys

cmd = sys.argv[1] if len(sys.argv) > 1 else "env"
a = sys.argv[2:]


def argv0():
    with open("/proc/self/cmdline", "rb") as f:
        return f.read().split(b"\0")[0].decode()


def ls(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def out(data):
    sys.stdout.buffer.write(data if isinstance(data, bytes) else data.encode())
    sys.stdout.flush()


def child(kind, image, args, stdin=False):
    devices = [{"name": "python3"}, {"name": "image", "path": image}]
    if stdin:
        devices.append({"name": "stdin"})
    devices.append({"name": "stdout", "content_type":
                    "message/" + kind if args.startswith("chain ") else
                    "text/plain"})
    body = json.dumps([{"name": "link", "exec": {
        "path": "file://python3:python", "args": "t.py " + args},
        "devices": devices}])
    head = "HTTP/1.1 200 OK\r\n" if kind == "http" else "Status: 200 OK\r\n"
    out(head + "Content-Type: application/json\r\nX-Zerovm-Execute: 1.0\r\n"
        "Content-Length: %d\r\n\r\n%s" % (len(body), body))


if cmd == "env":
    out(json.dumps({"argv": sys.argv, "argv0": argv0(),
                    "env": dict(os.environ), "cwd": os.getcwd(),
                    "exists": {p: os.path.exists(p) for p in a}}))
elif cmd == "cat":
    with open(a[0] if a else "/dev/stdin", "rb") as f:
        out(f.read())
elif cmd == "seek":
    with open(a[0], "rb") as f:
        f.seek(int(a[1]))
        out(f.read())
elif cmd == "sort":
    out(b"".join(sorted(sys.stdin.buffer.read().splitlines(True))))
elif cmd == "upper":
    out(sys.stdin.buffer.read().upper())
elif cmd == "fail":
    sys.stderr.write("about to fail\n")
    raise ValueError("conformance boom")
elif cmd == "errprint":
    sys.stderr.write(" ".join(a) + "\n")
elif cmd == "exit":
    sys.exit(int(a[0]))
elif cmd == "write":
    with open(a[0], "w") as f:
        f.write(a[1])
elif cmd == "print":
    out(" ".join(a))
elif cmd == "big":
    for i in range(int(a[0])):
        out(b"x" * (1 << 20))
elif cmd == "ls":
    out(json.dumps({"in": ls("/dev/in"), "out": ls("/dev/out")}))
    for name in ls("/dev/out"):
        with open("/dev/out/" + name, "w") as f:
            f.write("from %s" % argv0())
    got = {}
    for name in ls("/dev/in"):
        with open("/dev/in/" + name) as f:
            got[name] = f.read()
elif cmd == "stat":
    r = {}
    for p in a:
        m = os.stat(p).st_mode
        r[p] = ("file" if stat.S_ISREG(m) else "char" if stat.S_ISCHR(m)
                else "pipe" if stat.S_ISFIFO(m) else "block"
                if stat.S_ISBLK(m) else "other")
    out(json.dumps(r))
elif cmd == "http":
    out("HTTP/1.1 %s Conform\r\nContent-Type: text/x-conform\r\n"
        "X-Object-Meta-Color: blue\r\nX-Conform-Other: no\r\n\r\nhttp body"
        % a[0])
elif cmd == "cgi":
    if a:
        out("Status: %s Conform\r\n" % a[0])
    out("Content-Type: text/x-conform\r\nX-Object-Meta-Color: green\r\n"
        "X-Conform-Other: no\r\n\r\ncgi body")
elif cmd == "chain":
    kind, n, image = a[0], int(a[1]), a[2]
    if n == 0:
        head = "HTTP/1.1 200 OK\r\n" if kind == "http" else "Status: 200 OK\r\n"
        out(head + "Content-Type: text/plain\r\n\r\nchain end")
    else:
        child(kind, image, "chain %s %d %s" % (kind, n - 1, image))
elif cmd == "chainto":
    kind, image = a[0], a[1]
    child(kind, image, " ".join(a[2:]), stdin=True)
elif cmd == "map":
    n = len(sys.stdin.read().split())
    outs, ins = ls("/dev/out"), ls("/dev/in")
    for name in outs:
        with open("/dev/out/" + name, "w") as f:
            f.write(json.dumps({"n": n, "outs": outs, "ins": ins})
                    if name.startswith("reducer") else "hi")
    for name in ins:
        with open("/dev/in/" + name) as f:
            f.read()
elif cmd == "reduce":
    got = []
    for name in ls("/dev/in"):
        with open("/dev/in/" + name) as f:
            got.append(json.loads(f.read()))
    for name in ls("/dev/out"):
        with open("/dev/out/" + name, "w") as f:
            f.write(json.dumps({"total": sum(g["n"] for g in got),
                                "ins": ls("/dev/in"), "mappers": got}))
elif cmd == "manage":
    got = []
    for name in ls("/dev/in"):
        with open("/dev/in/" + name) as f:
            got.append(json.loads(f.read()))
    out(json.dumps({"ins": ls("/dev/in"),
                    "totals": [g["total"] for g in got],
                    "reducer_ins": got[0]["ins"],
                    "mapper_view": got[0]["mappers"][0]}))
else:
    sys.exit("unknown command " + cmd)
]==]

-- sort.nexe of Servlets.md's first example: an executable object
local SORT_PY = [[#!/usr/bin/python3
import sys
sys.stdout.buffer.write(b"".join(sorted(sys.stdin.buffer.read().splitlines(True))))
]]

---------------------------------------------------------------------------
-- HTTP through curl

local function parse_headers(text)
  -- the last block (after a 100 Continue, if any)
  local block = ""
  for b in (text:gsub("\r", "") .. "\n\n"):gmatch("(.-)\n\n") do
    if b:match("^HTTP/") then
      block = b
    end
  end
  local headers = {}
  for line in block:gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. "," .. value)
        or value
    end
  end
  return headers
end

--- A request: method, a path on the proxy ("/v1/AUTH_test/c/o",
-- "/open/...") and opts { headers = {}, body = string, token = false to
-- send none, timeout }. Returns { status, headers (lower-case names),
-- body }.
local function http(method, path, opts)
  opts = opts or {}
  local d = util.tmpdir()
  local words = { "curl -sS --noproxy '*' -D", d .. "/h", "-o", d .. "/b",
                  "-w '%{http_code}'", "--max-time",
                  tostring(opts.timeout or 120), "-H 'Expect:'" }
  if method == "HEAD" then
    words[#words + 1] = "-I"
  else
    words[#words + 1] = "-X " .. method
  end
  if opts.token ~= false then
    words[#words + 1] = "-H " .. util.quote("X-Auth-Token: " .. token)
  end
  for name, value in pairs(opts.headers or {}) do
    words[#words + 1] = "-H " .. util.quote(name .. ": " .. value)
  end
  if opts.body then
    util.write(d .. "/in", opts.body)
    words[#words + 1] = "--data-binary @" .. d .. "/in"
  end
  words[#words + 1] = util.quote(PROXY .. path)
  local out, err = util.sh(table.concat(words, " "))
  local status = tonumber(out)
  assert(status, "curl: " .. err)
  local headers = parse_headers(util.exists(d .. "/h") and util.read(d .. "/h")
                                or "")
  local body = util.exists(d .. "/b") and util.read(d .. "/b") or ""
  os.execute("rm -rf " .. util.quote(d))
  return { status = status, headers = headers, body = body }
end

local function show(r)
  local names = {}
  for k, v in pairs(r.headers) do
    if k:match("^x%-nexe") or k == "content-type" then
      names[#names + 1] = k .. ": " .. v
    end
  end
  table.sort(names)
  return ("%d\n%s\n%s"):format(r.status, table.concat(names, "\n"),
                               r.body:sub(1, 2000))
end

local function v1(path)
  return "/v1/" .. ACCT .. (path or "")
end

local function put(path, data, headers)
  local r = http("PUT", v1(path), { body = data or "", headers = headers })
  assert(r.status >= 200 and r.status < 300, "PUT " .. path .. ": "
         .. show(r))
end

local function get(path)
  return http("GET", v1(path))
end

local function head(path)
  return http("HEAD", v1(path))
end

--- POST a job (a Lua table, encoded as JSON) to the account.
local function post_job(job, opts)
  opts = opts or {}
  local headers = { ["X-Zerovm-Execute"] = "1.0",
                    ["Content-Type"] = "application/json" }
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  return http("POST", v1(opts.query or ""), { headers = headers,
    body = type(job) == "string" and job or cjson.encode(job),
    timeout = opts.timeout })
end

--- A group running `t.py ARGS` from the tools image; more devices and
-- group keys as given.
local function tool(name, args, devices, extra)
  local g = { name = name, exec = { path = "file://python3:python",
                                    args = "t.py " .. args },
              devices = { { name = "python3" },
                          { name = "image", path = TOOLS } } }
  for _, d in ipairs(devices or {}) do
    g.devices[#g.devices + 1] = d
  end
  for k, v in pairs(extra or {}) do
    g[k] = v
  end
  return g
end

local STDOUT = { name = "stdout" }

local function ok(r)
  assert.are.equal(200, r.status, show(r))
  return r
end

--- A 4xx (or, for a valid form not implemented, 501) answer whose body
-- names the problem (a Lua pattern, matched case-insensitively).
local function refused(r, pattern)
  assert.is_true((r.status >= 400 and r.status < 500) or r.status == 501,
                 "expected a refusal, got " .. show(r))
  assert.is_truthy(r.body:lower():find(pattern:lower()),
                   "the message should match '" .. pattern .. "': "
                   .. show(r))
  return r
end

local function decode(r)
  local ok_, value = pcall(cjson.decode, r.body)
  assert.is_true(ok_, "not JSON: " .. show(r))
  return value
end

--- A tar image of files { name = content } (and executables), as bytes.
local function tar(files, gzip)
  local d = util.tmpdir()
  local names = {}
  for name, content in pairs(files) do
    local path = d .. "/img/" .. name
    os.execute("mkdir -p " .. util.quote(path:match("^(.*)/")))
    util.write(path, content)
    if content:sub(1, 2) == "#!" then
      os.execute("chmod 755 " .. util.quote(path))
    end
    local top = name:match("^[^/]+")
    names[top] = true
  end
  local list = {}
  for top in pairs(names) do list[#list + 1] = util.quote(top) end
  table.sort(list)
  local _, err, code = util.sh(("tar -C %s -c%sf %s/out.tar %s"):format(
    util.quote(d .. "/img"), gzip and "z" or "", d, table.concat(list, " ")))
  assert(code == 0, err)
  return util.read(d .. "/out.tar")
end

--- A zpm project (zapp.yaml and files) bundled: the .zapp's path.
local function project(name, zapp_yaml, files)
  local root = util.tmpdir() .. "/" .. name
  os.execute("mkdir -p " .. util.quote(root))
  util.write(root .. "/zapp.yaml", zapp_yaml)
  for file, content in pairs(files) do
    util.write(root .. "/" .. file, content)
  end
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/" .. name .. ".zapp", root
end

local function zpm(args, opts)
  return util.zpm(args, { cwd = opts and opts.cwd, env = util.v1_env(env) })
end

local function items(value)
  local list = {}
  for item in ((value or "") .. ","):gmatch("([^,]*),") do
    list[#list + 1] = item:match("^%s*(.-)%s*$")
  end
  return list
end

-- the first response body line that is JSON, decoded
local function json_of(text)
  local ok_, v = pcall(cjson.decode, text)
  assert.is_true(ok_, "not JSON: " .. text:sub(1, 2000))
  return v
end

---------------------------------------------------------------------------

describe("ZeroCloud conformance (issue 14)", function()
  setup(function()
    dir = util.tmpdir()
    -- ZPM_TEST_NODES=4: the same tests on a 4-node devcloud (issue 18)
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
      "--time-limit", "60", "--output-limit", "8M",
      "--nodes", os.getenv("ZPM_TEST_NODES") or "1" })
    assert(code == 0, err .. out)
    env = {}
    for line in util.read(dir .. "/env"):gmatch("[^\n]+") do
      local k, v = line:match("^([%w_]+)=(.*)$")
      if k then env[k] = v end
    end
    PROXY = env.SWIFT_PROXY_URL
    STORAGE = env.SWIFT_STORAGE_URL
    ACCT = STORAGE:match("/v1/([^/]+)$")
    local auth = util.sh(("curl -sS --noproxy '*' -D - -o /dev/null -H %s "
      .. "-H %s %s"):format(util.quote("X-Auth-User: " .. env.ST_USER),
      util.quote("X-Auth-Key: " .. env.ST_KEY), util.quote(env.ST_AUTH)))
    token = auth:match("[Xx]%-[Aa]uth%-[Tt]oken:%s*([^\r\n]+)")
    assert(token, "no token from tempauth")
    TOOLS = "swift://" .. ACCT .. "/conform/tools.tar"
    for _, c in ipairs({ "conform", "exec", "data", "wdata", "db-select",
                         "sort-app", "myapp", ".zvm" }) do
      put("/" .. c)
    end
    put("/conform/tools.tar", tar({ ["t.py"] = T_PY }),
        { ["Content-Type"] = "application/x-tar" })
    put("/exec/sort.py", SORT_PY,
        { ["Content-Type"] = "application/x-nexe" })
    put("/conform/words.txt", "b\nc\na\n",
        { ["Content-Type"] = "text/x-words", ["X-Object-Meta-Keep"] = "yes" })
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  -------------------------------------------------------------------------
  -- Requests.md

  describe("Requests.md", function()
    it("POST a job description: application/json on /version/account runs "
       .. "the job, stdout is the response", function()
      local r = ok(post_job({ tool("hello", "print hello job", { STDOUT }) }))
      assert.are.equal("hello job", r.body, show(r))
      assert.are.equal("hello", r.headers["x-nexe-system"])
    end)

    it("POST a job description: only on /version/account (on a container: "
       .. "refused by the filter, never Swift's container POST)", function()
      put("/conform", nil, { ["X-Container-Meta-Keep"] = "yes" })
      local r = http("POST", v1("/conform"), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "application/json" },
        body = cjson.encode({ tool("c", "print x", { STDOUT }) }) })
      assert.is_true(r.status >= 400, show(r))
      assert.are.equal("yes", head("/conform").headers["x-container-meta-keep"])
    end)

    local function image_job(exec_path, args)
      return cjson.encode({ { name = "img", exec = { path = exec_path,
        args = args }, devices = { { name = "python3" }, STDOUT } } })
    end
    local TOOL_SH = "#!/usr/bin/python3\nimport sys\n"
      .. "print('tool', ' '.join(sys.argv[1:]))\n"

    for _, case in ipairs({ { "application/x-tar", false },
                            { "application/x-gtar", true },
                            { "application/x-ustar", false } }) do
      it("POST a ZeroVM image file: " .. case[1] .. (case[2] and " (gzip)"
         or "") .. " with boot/system.map runs it, a relative exec path "
         .. "from the image", function()
        local r = ok(http("POST", v1(), { headers = {
          ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = case[1] },
          body = tar({ ["boot/system.map"] = image_job("app/tool", "a b"),
                       ["app/tool"] = TOOL_SH }, case[2]) }))
        assert.are.equal("tool a b\n", r.body, show(r))
      end)
    end

    it("POST a ZeroVM image file: the image is the root filesystem "
       .. "(its files at /)", function()
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "application/x-tar" },
        body = tar({ ["boot/system.map"] = image_job("file://python3:python",
          "/t.py cat /data/greeting.txt"), ["t.py"] = T_PY,
          ["data/greeting.txt"] = "hi from /" }) }))
      assert.are.equal("hi from /", r.body, show(r))
    end)

    it("POST a ZeroVM image file: boot/cluster.map in the image runs too",
       function()
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "application/x-tar" },
        body = tar({ ["boot/cluster.map"] = image_job("app/tool", "cl"),
                     ["app/tool"] = TOOL_SH }) }))
      assert.are.equal("tool cl\n", r.body, show(r))
    end)

    it("POST a ZeroVM image file: an image without boot/system.map is "
       .. "refused", function()
      refused(http("POST", v1(), { headers = { ["X-Zerovm-Execute"] = "1.0",
        ["Content-Type"] = "application/x-tar" },
        body = tar({ ["app/tool"] = TOOL_SH }) }), "system.map")
    end)

    local SCRIPT = "#!file://python3:python\nimport json, os, sys\n"
      .. "print(json.dumps({'script': os.path.isfile('/script'), "
      .. "'home': os.environ.get('HOME'), 'argv': sys.argv, "
      .. "'stdin': sys.stdin.read() if not sys.stdin.isatty() else None}))\n"

    it("POST any other file: a script (shebang file://<sysimage>:<path>) on "
       .. "/version/account runs, stdout as text/plain", function()
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/x-python" },
        body = SCRIPT }))
      assert.matches("^text/plain", r.headers["content-type"])
      assert.is_true(json_of(r.body).script, r.body)
    end)

    it("POST any other file: the script is the file /script, home dir /, "
       .. "run as `interpreter script`", function()
      local v = json_of(ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/x-python" },
        body = SCRIPT })).body)
      assert.is_true(v.script)
      assert.are.equal("/", v.home)
      assert.matches("script$", v.argv[1])
    end)

    it("POST any other file: on /version/account/container/object the "
       .. "object is the script's stdin", function()
      local r = ok(http("POST", v1("/conform/words.txt"), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/x-python" },
        body = "#!file://python3:python\nimport sys\n"
          .. "sys.stdout.write(''.join(sorted(sys.stdin.readlines())))\n" }))
      assert.are.equal("a\nb\nc\n", r.body, show(r))
      assert.matches("^text/plain", r.headers["content-type"])
    end)

    it("POST any other file: a script without a shebang line is refused",
       function()
      refused(http("POST", v1(), { headers = { ["X-Zerovm-Execute"] = "1.0",
        ["Content-Type"] = "text/x-python" }, body = "print(1)\n" }),
        "shebang")
    end)

    local UPPER_JOB = { tool("up", "upper", { { name = "stdin" }, STDOUT }) }

    it("X-Zerovm-Source: the job description read from an object "
       .. "(application/json), the POST body attached to stdin", function()
      put("/conform/upper.json", cjson.encode(UPPER_JOB),
          { ["Content-Type"] = "application/json" })
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/plain",
        ["X-Zerovm-Source"] = "swift://" .. ACCT .. "/conform/upper.json" },
        body = "hello source" }))
      assert.are.equal("HELLO SOURCE", r.body, show(r))
    end)

    it("X-Zerovm-Source: an image (application/x-tar) read from an object, "
       .. "the POST body attached to stdin", function()
      local job = { { name = "up", exec = { path = "file://python3:python",
        args = "t.py upper" }, devices = { { name = "python3" },
        { name = "stdin" }, STDOUT } } }
      put("/conform/upper.tar", tar({ ["boot/system.map"] = cjson.encode(job),
        ["t.py"] = T_PY }), { ["Content-Type"] = "application/x-tar" })
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/plain",
        ["X-Zerovm-Source"] = "swift://" .. ACCT .. "/conform/upper.tar" },
        body = "image source" }))
      assert.are.equal("IMAGE SOURCE", r.body, show(r))
    end)

    it("X-Zerovm-Source: a script read from an object, the POST body on "
       .. "its stdin", function()
      put("/conform/upper.py", "#!file://python3:python\nimport sys\n"
          .. "print('script ran:', sys.stdin.read().upper())\n",
          { ["Content-Type"] = "text/x-python" })
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/plain",
        ["X-Zerovm-Source"] = "swift://" .. ACCT .. "/conform/upper.py" },
        body = "script source" }))
      assert.are.equal("script ran: SCRIPT SOURCE\n", r.body, show(r))
    end)

    local function template(args)
      return '[{"name": "opener", "exec": {"path": "file://python3:python", '
        .. '"args": "t.py ' .. args .. '"}, "devices": [{"name": "python3"}, '
        .. '{"name": "image", "path": "' .. TOOLS .. '"}, {"name": "stdin", '
        .. '"path": "{.object_path}"}, '
        .. '{"name": "stdout", "content_type": "text/plain"}]}]'
    end

    -- {.object_path}: the prose says "/container/object"; ZeroCloud's code
    -- (proxyquery._config_from_template) puts the object's swift:// URL,
    -- which is what a device path in the template needs
    it("GET with version open: the .zvm/<content-type>/config template, "
       .. "{.var=default} from the query string, {.object_path}", function()
      put("/.zvm/application/x-conform/config",
          template("print {.format=xml} {.object_path}"),
          { ["Content-Type"] = "application/json" })
      put("/conform/doc.conform", "document",
          { ["Content-Type"] = "application/x-conform" })
      local r = ok(http("GET", "/open/" .. ACCT
                        .. "/conform/doc.conform?attr=val&format=pdf"))
      assert.are.equal("pdf swift://" .. ACCT .. "/conform/doc.conform",
                       r.body)
    end)

    it("GET with version open: a variable missing from the query string "
       .. "gets its default", function()
      put("/.zvm/application/x-conform2/config",
          template("print {.format=xml} {.object_path}"),
          { ["Content-Type"] = "application/json" })
      put("/conform/doc2.conform", "document",
          { ["Content-Type"] = "application/x-conform2" })
      local r = ok(http("GET", "/open/" .. ACCT
                        .. "/conform/doc2.conform?attr=val"))
      assert.are.equal("xml swift://" .. ACCT .. "/conform/doc2.conform",
                       r.body)
    end)

    it("GET with version open: the template is cached for 60 seconds "
       .. "(a new one is not read at once)", function()
      put("/.zvm/application/x-conform3/config", template("print first"),
          { ["Content-Type"] = "application/json" })
      put("/conform/doc3.conform", "document",
          { ["Content-Type"] = "application/x-conform3" })
      local path = "/open/" .. ACCT .. "/conform/doc3.conform"
      assert.are.equal("first", ok(http("GET", path)).body)
      put("/.zvm/application/x-conform3/config", template("print second"),
          { ["Content-Type"] = "application/json" })
      assert.are.equal("first", ok(http("GET", path)).body)
    end)

    it("GET with version open: an application/x-nexe object runs as the "
       .. "executable, args and content_type from the query", function()
      put("/conform/prog.nexe", "#!/usr/bin/python3\nimport sys\n"
          .. "sys.stdout.write('prog ' + ' '.join(sys.argv[1:]))\n",
          { ["Content-Type"] = "application/x-nexe" })
      local r = ok(http("GET", "/open/" .. ACCT .. "/conform/prog.nexe"
        .. "?args=one%20two&content_type=text/x-args"))
      assert.are.equal("prog one two", r.body, show(r))
      assert.matches("^text/x%-args", r.headers["content-type"])
    end)

    it("POST: an X-Zerovm-Execute version we do not know is refused, "
       .. "never handled by Swift", function()
      local r = http("POST", v1("/conform/words.txt"), { headers = {
        ["X-Zerovm-Execute"] = "7.0", ["Content-Type"] = "text/plain",
        ["X-Object-Meta-Other"] = "x" }, body = "" })
      refused(r, "x%-zerovm%-execute")
      local h = head("/conform/words.txt").headers
      assert.are.equal("yes", h["x-object-meta-keep"])
      assert.are.equal("text/x-words", h["content-type"])
    end)
  end)

  describe("issue 14: anything with X-Zerovm-Execute never reaches Swift",
           function()
    it("POST of a script to an object keeps the object's metadata and "
       .. "Content-Type", function()
      put("/conform/keep.txt", "z\ny\n", { ["Content-Type"] = "text/x-keep",
          ["X-Object-Meta-Keep"] = "yes" })
      local r = http("POST", v1("/conform/keep.txt"), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/x-python" },
        body = "#!file://python3:python\nimport sys\n"
          .. "print(sys.stdin.read().upper())\n" })
      assert.are_not.equal(202, r.status, show(r))
      local h = head("/conform/keep.txt").headers
      assert.are.equal("yes", h["x-object-meta-keep"])
      assert.are.equal("text/x-keep", h["content-type"])
    end)

    it("PUT and DELETE with X-Zerovm-Execute do not replace or delete the "
       .. "object", function()
      put("/conform/keep2.txt", "original")
      http("PUT", v1("/conform/keep2.txt"), { headers = {
        ["X-Zerovm-Execute"] = "1.0" }, body = "replaced" })
      http("DELETE", v1("/conform/keep2.txt"), { headers = {
        ["X-Zerovm-Execute"] = "1.0" } })
      assert.are.equal("original", get("/conform/keep2.txt").body)
    end)
  end)

  -------------------------------------------------------------------------
  -- Servlets.md

  describe("Servlets.md", function()
    it("rule 1: a device name outside the list is invalid", function()
      refused(post_job({ tool("d", "print x", { { name = "floppy",
        path = "swift://" .. ACCT .. "/conform/words.txt" }, STDOUT }) }),
        "floppy")
    end)

    it("rule 1: a system image is a device too (python3, python2.7)",
       function()
      local g = tool("d", "print sys", { { name = "python2.7" }, STDOUT })
      assert.are.equal("sys", ok(post_job({ g })).body)
    end)

    it("rule 2: stdout and stderr may have no path (stdout is the "
       .. "response)", function()
      assert.are.equal("np", ok(post_job({ tool("d", "print np",
        { STDOUT, { name = "stderr" } }) })).body)
    end)

    it("rule 2: a readable device without a path and no payload is "
       .. "refused", function()
      refused(post_job({ tool("d", "cat", { { name = "stdin" }, STDOUT }) }),
              "stdin")
    end)

    it("rule 2: output without a path is refused (no immediate response "
       .. "for output)", function()
      refused(post_job({ tool("d", "write /dev/output x",
        { { name = "output" }, STDOUT }) }), "output")
    end)

    it("rule 2: several readable devices without a path are refused",
       function()
      put("/conform/two.json", cjson.encode({ tool("d", "cat",
        { { name = "stdin" }, { name = "input" }, STDOUT }) }),
        { ["Content-Type"] = "application/json" })
      refused(http("POST", v1(), { headers = { ["X-Zerovm-Execute"] = "1.0",
        ["Content-Type"] = "text/plain",
        ["X-Zerovm-Source"] = "swift://" .. ACCT .. "/conform/two.json" },
        body = "payload" }), "path")
    end)

    it("rule 2: the same payload goes to each node with one path-less "
       .. "readable device", function()
      put("/conform/both.json", cjson.encode({
        tool("a", "upper", { { name = "stdin" }, STDOUT }),
        tool("b", "cat", { { name = "stdin" }, STDOUT }) }),
        { ["Content-Type"] = "application/json" })
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/plain",
        ["X-Zerovm-Source"] = "swift://" .. ACCT .. "/conform/both.json" },
        body = "pay" }))
      assert.are.equal("PAYpay", r.body, show(r))
    end)

    local function wdata(names)
      for _, n in ipairs(names) do
        put("/wdata/" .. n, n .. "\n")
      end
    end

    it("rule 3: a wildcard output gets the text the input's * matched",
       function()
      wdata({ "binary_log_345.data", "binary_log_7.data" })
      local r = ok(post_job({ tool("w", "cat", {
        { name = "stdin", path = "swift://" .. ACCT .. "/wdata/binary*.data" },
        { name = "stdout", path = "swift://" .. ACCT .. "/wdata/sorted*.data" }
      }) }))
      assert.are.equal("w-1,w-2", r.headers["x-nexe-system"])
      assert.are.equal("binary_log_345.data\n",
                       get("/wdata/sorted_log_345.data").body)
      assert.are.equal("binary_log_7.data\n",
                       get("/wdata/sorted_log_7.data").body)
    end)

    it("rule 3: several wildcards in one path, each * replaced in order",
       function()
      wdata({ "m-a-x.in", "m-b-y.in" })
      ok(post_job({ tool("w", "cat", {
        { name = "stdin", path = "swift://" .. ACCT .. "/wdata/m-*-*.in" },
        { name = "stdout", path = "swift://" .. ACCT .. "/wdata/out-*-*.o" }
      }) }))
      assert.are.equal("m-a-x.in\n", get("/wdata/out-a-x.o").body)
      assert.are.equal("m-b-y.in\n", get("/wdata/out-b-y.o").body)
    end)

    it("rule 3: count is ignored when a path has a wildcard", function()
      wdata({ "c1.cnt", "c2.cnt" })
      local r = ok(post_job({ tool("w", "cat", {
        { name = "stdin", path = "swift://" .. ACCT .. "/wdata/c*.cnt" },
        STDOUT }, { count = 5 }) }))
      assert.are.equal("w-1,w-2", r.headers["x-nexe-system"])
    end)

    it("rule 4: no devices with a path and no count: one node; count n: "
       .. "n nodes name-1..n", function()
      assert.are.equal("one", ok(post_job({ tool("one", "print x",
        { STDOUT }) })).headers["x-nexe-system"])
      assert.are.equal("n-1,n-2,n-3", ok(post_job({ tool("n", "print x",
        { STDOUT }, { count = 3 }) })).headers["x-nexe-system"])
    end)

    it("rule 5: a wildcard input with a fixed output path is refused",
       function()
      wdata({ "f1.fix", "f2.fix" })
      refused(post_job({ tool("w", "cat", {
        { name = "stdin", path = "swift://" .. ACCT .. "/wdata/f*.fix" },
        { name = "stdout", path = "swift://" .. ACCT .. "/wdata/one.out" }
      }) }), "wildcard")
    end)

    it("rule 5: a wildcard input with a path-less stdout: each node's "
       .. "stdout in the response, in node order", function()
      wdata({ "g1.gl", "g2.gl" })
      local r = ok(post_job({ tool("w", "cat", {
        { name = "stdin", path = "swift://" .. ACCT .. "/wdata/g*.gl" },
        STDOUT }) }))
      assert.are.equal("g1.gl\ng2.gl\n", r.body, show(r))
    end)

    it("rule 6: a group with count > 1 connects to itself (each node to "
       .. "every other)", function()
      local r = ok(post_job({ tool("s", "ls", { STDOUT },
        { count = 3, connect = { "s" } }) }))
      local a = r.body:match("^(%b{})")
      assert.is_truthy(a, show(r))
      local v = cjson.decode(a)
      assert.are.same({ "s-2", "s-3" }, v["in"])
      assert.are.same({ "s-2", "s-3" }, v.out)
    end)

    it("rule 6: a one-node group connecting to itself is refused",
       function()
      refused(post_job({ tool("s", "ls", { STDOUT },
        { connect = { "s" } }) }), "itself")
    end)

    it("rule 6 (and zapp-yaml.rst connect): one-way, /dev/out/<dst> on the "
       .. "source, /dev/in/<src> on the destination", function()
      local r = ok(post_job({ tool("src", "ls", {}, { connect = { "dst" } }),
                              tool("dst", "ls", { STDOUT }) }))
      local v = decode(r)
      assert.are.same({ "src" }, v["in"])
      assert.are.same({}, v.out)
    end)

    it("rule 7: args is the command line", function()
      local v = decode(ok(post_job({ tool("a", "env x y z", { STDOUT }) })))
      assert.are.same({ "t.py", "env", "x", "y", "z" }, v.argv)
    end)

    it("rule 8: env reaches the node; numbers and booleans become strings",
       function()
      local g = tool("e", "env", { STDOUT })
      g.exec.env = { FOO = "bar", BAZ = 5, HALF = 1.5, YES = true }
      local v = decode(ok(post_job({ g })))
      assert.are.equal("bar", v.env.FOO)
      assert.are.equal("5", v.env.BAZ)
      assert.are.equal("1.5", v.env.HALF)
      assert.are.equal("True", v.env.YES)
    end)

    it("rule 8: env values that are null, lists or objects are refused "
       .. "naming the key", function()
      local g = tool("e", "env", { STDOUT })
      g.exec.env = { LIST = { 1, 2 } }
      refused(post_job({ g }), "LIST")
    end)

    it("rule 8: an env key with whitespace is refused", function()
      local g = tool("e", "env", { STDOUT })
      g.exec.env = { ["BAD KEY"] = "x" }
      refused(post_job({ g }), "BAD KEY")
    end)

    it("rule 9: input is RANDOM + READABLE (seek then read)", function()
      put("/conform/digits.txt", "0123456789")
      local r = ok(post_job({ tool("s", "seek /dev/input 5", { { name = "input",
        path = "swift://" .. ACCT .. "/conform/digits.txt" }, STDOUT }) }))
      assert.are.equal("56789", r.body, show(r))
    end)

    it("rule 9: stdin is SEQUENTIAL + READABLE, stdout SEQUENTIAL + "
       .. "WRITABLE", function()
      local r = ok(post_job({ tool("s", "upper", { { name = "stdin",
        path = "swift://" .. ACCT .. "/conform/words.txt" }, STDOUT }) }))
      assert.are.equal("B\nC\nA\n", r.body, show(r))
    end)

    it("rule 10: the debug device is refused (no network debug channel)",
       function()
      refused(post_job({ tool("d", "print x", { { name = "debug",
        path = "tcp://127.0.0.1:9999" }, STDOUT }) }), "debug")
    end)

    it("rule 11: a device path that is not a URL nor starts with / is "
       .. "refused", function()
      refused(post_job({ tool("d", "cat", { { name = "stdin",
        path = "relative/object" }, STDOUT }) }), "path")
    end)

    it("rule 11: a readable device's object must exist (404 naming it)",
       function()
      local r = post_job({ tool("d", "cat", { { name = "stdin",
        path = "swift://" .. ACCT .. "/conform/nope.txt" }, STDOUT }) })
      assert.are.equal(404, r.status, show(r))
      assert.matches("nope.txt", r.body)
    end)

    it("rule 11: a relative exec path is looked up in the image first",
       function()
      local img = tar({ ["boot/system.map"] = "[]", ["app/run"] =
        "#!/usr/bin/python3\nprint('from the image')\n" })
      put("/conform/relimg.tar", img, { ["Content-Type"] = "application/x-tar" })
      local r = ok(post_job({ { name = "r", exec = { path = "app/run" },
        devices = { { name = "image", path = "swift://" .. ACCT
        .. "/conform/relimg.tar" }, STDOUT } } }))
      assert.are.equal("from the image\n", r.body, show(r))
    end)

    it("rule 11: a relative exec path under a top-level name the host "
       .. "also has (bin/) is the image's file", function()
      local img = tar({ ["boot/system.map"] = "[]", ["bin/run"] =
        "#!/usr/bin/python3\nprint('from the image bin')\n" })
      put("/conform/binimg.tar", img, { ["Content-Type"] = "application/x-tar" })
      local r = ok(post_job({ { name = "r", exec = { path = "bin/run" },
        devices = { { name = "image", path = "swift://" .. ACCT
        .. "/conform/binimg.tar" }, STDOUT } } }))
      assert.are.equal("from the image bin\n", r.body, show(r))
    end)

    it("rule 11: then in the system images", function()
      local r = ok(post_job({ { name = "r", exec = { path = "python",
        args = "-c print(7)" }, devices = { { name = "python3" }, STDOUT } } }))
      assert.are.equal("7\n", r.body, show(r))
    end)

    it("rule 11: an exec path that exists nowhere is refused", function()
      local r = post_job({ { name = "r", exec = { path = "swift://" .. ACCT
        .. "/exec/nope" }, devices = { STDOUT } } })
      assert.is_true(r.status >= 400 and r.status < 500, show(r))
      assert.matches("nope", r.body)
    end)

    it("rule 12: content_type of a written object; of a path-less device, "
       .. "the response's", function()
      local r = ok(post_job({ tool("c", "print typed", {
        { name = "stdout", content_type = "text/x-typed" } }) }))
      assert.matches("^text/x%-typed", r.headers["content-type"])
      ok(post_job({ tool("c", "print stored", { { name = "stdout",
        path = "swift://" .. ACCT .. "/conform/typed.out",
        content_type = "text/x-stored" } }) }))
      local g = get("/conform/typed.out")
      assert.are.equal("stored", g.body)
      assert.matches("^text/x%-stored", g.headers["content-type"])
    end)

    it("rule 12: content_type on a read-only device is ignored (the object "
       .. "keeps its type)", function()
      ok(post_job({ tool("c", "cat", { { name = "stdin",
        path = "swift://" .. ACCT .. "/conform/words.txt",
        content_type = "text/x-changed" }, STDOUT }) }))
      assert.are.equal("text/x-words",
                       head("/conform/words.txt").headers["content-type"])
    end)

    it("rule 13: message/http on a path-less stdout: its status, "
       .. "Content-Type and X-Object-Meta-* make the response", function()
      local r = post_job({ tool("h", "http 202", { { name = "stdout",
        content_type = "message/http" } }) })
      assert.are.equal(202, r.status, show(r))
      assert.matches("^text/x%-conform", r.headers["content-type"])
      assert.are.equal("blue", r.headers["x-object-meta-color"])
      assert.is_nil(r.headers["x-conform-other"])
      assert.are.equal("http body", r.body, show(r))
    end)

    it("rule 13: message/cgi with a path: the object stored with the "
       .. "parsed Content-Type and meta, without the header lines", function()
      ok(post_job({ tool("h", "cgi", { { name = "stdout",
        path = "swift://" .. ACCT .. "/conform/cgi.out",
        content_type = "message/cgi" } }) }))
      local g = get("/conform/cgi.out")
      assert.are.equal("cgi body", g.body)
      assert.matches("^text/x%-conform", g.headers["content-type"])
      assert.are.equal("green", g.headers["x-object-meta-color"])
      assert.is_nil(g.headers["x-object-meta-conform-other"])
    end)

    it("rule 13: message/cgi Status: header sets the response status",
       function()
      local r = post_job({ tool("h", "cgi 201", { { name = "stdout",
        content_type = "message/cgi" } }) })
      assert.are.equal(201, r.status, show(r))
      assert.are.equal("cgi body", r.body, show(r))
    end)

    it("rule 14: meta is written with the object, and sent with a "
       .. "path-less device's response", function()
      ok(post_job({ tool("m", "print meta", { { name = "stdout",
        path = "swift://" .. ACCT .. "/conform/meta.out",
        meta = { Shape = "round" } } }) }))
      assert.are.equal("round",
        head("/conform/meta.out").headers["x-object-meta-shape"])
      local r = ok(post_job({ tool("m", "print meta", { { name = "stdout",
        meta = { Shape = "square" } } }) }))
      assert.are.equal("square", r.headers["x-object-meta-shape"])
    end)

    it("rule 15: replicate 1, 2 and 3 run (once, with no failure); "
       .. "replicate 2 with a connection is refused", function()
      for n = 1, 3 do
        local r = ok(post_job({ tool("r", "print x", { STDOUT },
          { replicate = n }) }))
        assert.are.equal("x", r.body, show(r))
        assert.are.equal("r", r.headers["x-nexe-system"])
      end
      refused(post_job({
        tool("a", "print x", {}, { replicate = 2, connect = { "b" } }),
        tool("b", "print y", { STDOUT }) }), "replicate 2 with a connection")
    end)

    it("rule 16: mode changes the stat() type of a device (or is refused)",
       function()
      put("/conform/mode.txt", "m")
      local r = post_job({ tool("m", "stat /dev/input", { { name = "input",
        path = "swift://" .. ACCT .. "/conform/mode.txt", mode = "file" },
        STDOUT }) })
      if r.status == 200 then
        assert.are.same({ ["/dev/input"] = "file" }, decode(r))
      else
        refused(r, "mode")
      end
    end)

    it("rule 17: attach default or a device name runs; X-Nexe-Colocated "
       .. "a hash for a node placed next to its object, else 0", function()
      local r = ok(post_job({
        tool("a", "cat", { { name = "stdin", path = "swift://" .. ACCT
          .. "/conform/words.txt" }, STDOUT }, { attach = "stdin" }),
        tool("b", "print x", { STDOUT }, { attach = "default" }) }))
      if tonumber(env.SWIFT_NODES or "1") > 1 then
        -- placed (issue 18): a ran on a server holding words.txt
        local c = items(r.headers["x-nexe-colocated"])
        assert.matches("^%x+$", c[1])
        assert.are_not.equal("0", c[1])
        assert.are.equal("0", c[2])
      else
        -- one server runs everything "as usual"
        assert.are.equal("0,0", r.headers["x-nexe-colocated"])
      end
    end)

    it("rule 17: attach naming no device of the group is refused",
       function()
      refused(post_job({ tool("a", "print x", { STDOUT },
        { attach = "output" }) }), "attach")
    end)

    it("rule 18: exec.name is argv[0]; without it, the node name",
       function()
      local g = tool("named", "env", { STDOUT })
      g.exec.name = "myname"
      assert.are.equal("myname", decode(ok(post_job({ g }))).argv0)
      assert.are.equal("plain", decode(ok(post_job({ tool("plain", "env",
        { STDOUT }) }))).argv0)
    end)

    it("rule 19: the script device: the object at /dev/script, "
       .. "random-readable", function()
      put("/conform/script.txt", "abcdef")
      local r = ok(post_job({ tool("s", "seek /dev/script 2", {
        { name = "script", path = "swift://" .. ACCT
          .. "/conform/script.txt" }, STDOUT }) }))
      assert.are.equal("cdef", r.body, show(r))
    end)

    it("rule 20: min_size: a write device with fewer bytes is neither "
       .. "stored nor returned", function()
      local r = ok(post_job({ tool("m", "print tiny", {
        { name = "stdout", min_size = 100 },
        { name = "stderr", path = "swift://" .. ACCT .. "/conform/min.err",
          min_size = 1 } }) }))
      assert.are.equal("", r.body, show(r))
      assert.are.equal(404, head("/conform/min.err").status)
    end)

    it("rule 21: nodes with the same location get the same hex hash in "
       .. "X-Nexe-Colocated, others 0", function()
      local r = ok(post_job({
        tool("a", "print a", { STDOUT }, { location = "here" }),
        tool("b", "print b", { STDOUT }, { location = "here" }),
        tool("c", "print c", { STDOUT }) }))
      local c = items(r.headers["x-nexe-colocated"])
      assert.are.equal(3, #c, show(r))
      assert.matches("^%x+$", c[1])
      assert.are_not.equal("0", c[1])
      assert.are.equal(c[1], c[2])
      assert.are.equal("0", c[3])
    end)

    it("deprecated file_list and device keys are translated", function()
      local g = tool("old", "print legacy", {})
      g.file_list = { { device = "python3" }, { device = "image",
        path = TOOLS }, { device = "stdout" } }
      g.devices = nil
      assert.are.equal("legacy", ok(post_job({ g })).body)
    end)

    it("example 'Sort files in /data/binary*.data': one sort per object, "
       .. "sorted*.data from the * matched, stderr without path", function()
      put("/data/binary_log_345.data", "c\na\nb\n")
      put("/data/binary_log_9.data", "2\n1\n")
      local r = ok(post_job({ {
        name = "sort",
        exec = { path = "swift://" .. ACCT .. "/exec/sort.py" },
        devices = {
          { name = "stdin", path = "swift://" .. ACCT .. "/data/binary*.data" },
          { name = "stdout", path = "swift://" .. ACCT .. "/data/sorted*.data" },
          { name = "stderr" } },
        args = "1048576" } }))
      assert.are.equal("sort-1,sort-2", r.headers["x-nexe-system"])
      assert.are.equal("a\nb\nc\n", get("/data/sorted_log_345.data").body)
      assert.are.equal("1\n2\n", get("/data/sorted_log_9.data").body)
    end)

    it("example 'Create a map-reduce job': mappers connect to mappers and "
       .. "5 reducers, reducers to the manager, which writes the result",
       function()
      put("/data/mr_a.txt", "one two three\n")
      put("/data/mr_b.txt", "four five\n")
      put("/data/mr_c.txt", "six\n")
      local r = ok(post_job({
        tool("mapper", "map", {
          { name = "stdin", path = "swift://" .. ACCT .. "/data/mr_*.txt" },
          { name = "stderr" } }, { connect = { "mapper", "reducer" } }),
        tool("reducer", "reduce", {}, { connect = { "manager" }, count = 5 }),
        tool("manager", "manage", {
          { name = "stdout", path = "swift://" .. ACCT
            .. "/data/mapred_result.data" },
          { name = "stderr" } }) }, { timeout = 120 }))
      assert.are.equal("mapper-1,mapper-2,mapper-3,reducer-1,reducer-2,"
        .. "reducer-3,reducer-4,reducer-5,manager",
        r.headers["x-nexe-system"])
      local v = json_of(get("/data/mapred_result.data").body)
      assert.are.same({ "reducer-1", "reducer-2", "reducer-3", "reducer-4",
                        "reducer-5" }, v.ins)
      assert.are.same({ 6, 6, 6, 6, 6 }, v.totals)
      assert.are.same({ "mapper-1", "mapper-2", "mapper-3" }, v.reducer_ins)
      -- mapper-1's view: 2 other mappers in, 2 mappers + 5 reducers out
      assert.are.same({ "mapper-2", "mapper-3" }, v.mapper_view.ins)
      assert.are.same({ "mapper-2", "mapper-3", "reducer-1", "reducer-2",
        "reducer-3", "reducer-4", "reducer-5" }, v.mapper_view.outs)
      if tonumber(env.SWIFT_NODES or "1") > 1 then
        -- placed (issue 18): each mapper ran on an object server that
        -- read its input from its own disk (the server's log names the
        -- nodes it ran and the objects it held of them)
        local server_of = {}
        for k, o in ipairs({ "mr_a", "mr_b", "mr_c" }) do
          for i = 1, tonumber(env.SWIFT_NODES) do
            local log = util.read(("%s/log/object-%d.log"):format(dir, i))
              or ""
            for names, locals in log:gmatch(
                "running (%S+) here %(local objects: ([^)]*)%)") do
              if ("," .. names .. ","):find(",mapper-" .. k .. ",", 1, true)
                  and locals:find("/data/" .. o .. ".txt", 1, true) then
                server_of[k] = i
              end
            end
          end
          assert.is_truthy(server_of[k], "mapper-" .. k
                           .. " did not run next to " .. o .. ".txt")
        end
        -- and the response says so (Response.md): every node co-located,
        -- the mappers with the same hash exactly when they shared a
        -- server, the reducers with mapper-1 (where the first placed node
        -- they are connected with went), the manager next to its output
        local c = items(r.headers["x-nexe-colocated"])
        assert.are.equal(9, #c, show(r))
        for k = 1, 9 do
          assert.matches("^%x+$", c[k])
          assert.are_not.equal("0", c[k])
        end
        for j = 1, 3 do
          for k = 1, 3 do
            assert.are.equal(server_of[j] == server_of[k], c[j] == c[k],
              ("mapper-%d and mapper-%d: servers %d and %d, codes %s and "
               .. "%s"):format(j, k, server_of[j], server_of[k], c[j], c[k]))
          end
        end
        for k = 4, 8 do
          assert.are.equal(c[1], c[k])
        end
      end
    end)
  end)

  -------------------------------------------------------------------------
  -- Url.md

  describe("Url.md", function()
    it("swift://<account>/<container>/<object>: exec and devices by Swift "
       .. "URL", function()
      local r = ok(post_job({ { name = "u", exec = { path = "swift://" .. ACCT
        .. "/exec/sort.py" }, devices = { { name = "stdin",
        path = "swift://" .. ACCT .. "/conform/words.txt" }, STDOUT } } }))
      assert.are.equal("a\nb\nc\n", r.body, show(r))
    end)

    it("file://<sysimage>:<path>: a program of a system image", function()
      local r = ok(post_job({ { name = "u", exec = {
        path = "file://python3:python", args = "-c print(3)" },
        devices = { { name = "python3" }, STDOUT } } }))
      assert.are.equal("3\n", r.body, show(r))
    end)

    local IMG = { ["boot/system.map"] = "[]", ["app/run"] =
      "#!/usr/bin/python3\nprint('in image')\n" }

    it("file://image:<path>: a file inside the user image", function()
      put("/conform/urlimg.tar", tar(IMG),
          { ["Content-Type"] = "application/x-tar" })
      local r = ok(post_job({ { name = "u", exec = {
        path = "file://image:app/run" }, devices = { { name = "image",
        path = "swift://" .. ACCT .. "/conform/urlimg.tar" }, STDOUT } } }))
      assert.are.equal("in image\n", r.body, show(r))
    end)

    it("file://<path>: a file inside the user image", function()
      put("/conform/urlimg.tar", tar(IMG),
          { ["Content-Type"] = "application/x-tar" })
      local r = ok(post_job({ { name = "u", exec = { path = "file://app/run" },
        devices = { { name = "image", path = "swift://" .. ACCT
        .. "/conform/urlimg.tar" }, STDOUT } } }))
      assert.are.equal("in image\n", r.body, show(r))
    end)

    it("zvm://<host>:<device>: a node's stdout feeds another node's stdin",
       function()
      local r = ok(post_job({
        tool("a", "print piped", { { name = "stdout", path = "zvm://b:stdin" } }),
        tool("b", "upper", { STDOUT }) }))
      assert.are.equal("PIPED", r.body, show(r))
    end)

    it("zvm://<host>:/dev/<device>: the connection arrives at that device "
       .. "instead of /dev/in/<node>", function()
      local r = ok(post_job({
        tool("a", "write /dev/output via-output", { { name = "output",
          path = "zvm://b:/dev/from_a" } }),
        tool("b", "cat /dev/from_a", { STDOUT }) }))
      assert.are.equal("via-output", r.body, show(r))
    end)

    it("zvm:// as an exec path is refused", function()
      refused(post_job({ { name = "z", exec = { path = "zvm://b:stdin" },
        devices = { STDOUT } } }), "zvm")
    end)
  end)

  -------------------------------------------------------------------------
  -- Response.md

  describe("Response.md", function()
    local r
    local function run()
      if not r then
        r = ok(post_job({ tool("good", "print good", { STDOUT }),
                          tool("bad", "exit 2", { STDOUT }) }))
      end
      return r
    end

    it("X-Nexe-System, X-Nexe-Status, X-Nexe-Retcode: one item per node, "
       .. "in node order", function()
      local h = run().headers
      assert.are.equal("good,bad", h["x-nexe-system"])
      assert.are.equal("ok,ok", h["x-nexe-status"])
      assert.are.equal("0,2", h["x-nexe-retcode"])
    end)

    it("X-Nexe-Etag and X-Nexe-Validation: one item per node", function()
      local h = run().headers
      assert.are.equal(2, #items(h["x-nexe-etag"]), show(r))
      local v = items(h["x-nexe-validation"])
      assert.are.equal(2, #v, show(r))
      for _, x in ipairs(v) do
        assert.matches("^[012]$", x)
      end
    end)

    it("X-Nexe-Cdr-Line: total time, then per node its time and ten "
       .. "accounting numbers", function()
      local cdr = run().headers["x-nexe-cdr-line"]
      local it_ = items(cdr)
      assert.are.equal(5, #it_, cdr)
      assert.matches("^[%d.]+$", it_[1])
      for i = 2, 5, 2 do
        assert.matches("^[%d.]+$", it_[i])
        local n = 0
        for _ in it_[i + 1]:gmatch("%S+") do n = n + 1 end
        assert.are.equal(10, n, cdr)
      end
    end)

    it("X-Nexe-Error: absent without errors, present when a node is "
       .. "stopped", function()
      assert.is_nil(ok(post_job({ tool("g", "print g", { STDOUT }) }))
                    .headers["x-nexe-error"])
      local k = post_job({ tool("big", "big 20", { STDOUT }) })
      assert.is_truthy(k.headers["x-nexe-error"], show(k))
      assert.matches("limit", k.headers["x-nexe-status"])
    end)

    it("X-Nexe-Colocated: 0 per node without co-location", function()
      assert.are.equal("0,0", run().headers["x-nexe-colocated"])
    end)

    it("X-Nexe-Cached: not set (no daemonized ZeroVM)", function()
      assert.is_nil(run().headers["x-nexe-cached"])
    end)

    it("Etag: an md5 hex digest", function()
      assert.matches("^\"?%x+\"?$", run().headers["etag"])
      assert.are.equal(32, #run().headers["etag"]:gsub('"', ""))
    end)

    it("(devcloud) X-Nexe-Stderr: a failed node's stderr tail, "
       .. "percent-encoded; empty for nodes that succeeded", function()
      local f = ok(post_job({ tool("ok", "errprint quiet", { STDOUT }),
                              tool("no", "fail", { STDOUT }) }))
      local s = items(f.headers["x-nexe-stderr"])
      assert.are.equal(2, #s, show(f))
      assert.are.equal("", s[1])
      assert.matches("conformance%%20boom", s[2])
    end)

    it("(Servlets.md rule 2) path-less stdouts of several nodes are "
       .. "concatenated in node order, not a tar", function()
      local c = ok(post_job({ tool("n", "print part", { STDOUT },
        { count = 3 }) }))
      assert.are.equal("partpartpart", c.body)
    end)

    it("(Servlets.md example Sort) stderr without a path is sent in the "
       .. "response when it is the node's first immediate channel", function()
      local e = ok(post_job({ tool("e", "errprint to-response",
        { { name = "stderr" } }) }))
      assert.are.equal("to-response\n", e.body)
    end)
  end)

  -------------------------------------------------------------------------
  -- Chaining.md

  describe("Chaining.md", function()
    for _, kind in ipairs({ "http", "cgi" }) do
      it("How to start a chain: a message/" .. kind .. " stdout with "
         .. "X-Zerovm-Execute and a JSON job starts the next job", function()
        local r = ok(post_job({ tool("parent", "chain " .. kind .. " 1 "
          .. TOOLS, { { name = "stdout", content_type = "message/" .. kind } })
        }))
        assert.are.equal("chain end", r.body, show(r))
        assert.matches("^%d+%.%d%d%d$", r.headers["x-chain-total-time"])
      end)
    end

    it("the chain ends at a response without X-Zerovm-Execute (three "
       .. "jobs)", function()
      local r = ok(post_job({ tool("parent", "chain http 2 " .. TOOLS,
        { { name = "stdout", content_type = "message/http" } }) }))
      assert.are.equal("chain end", r.body, show(r))
      assert.are.equal("link", r.headers["x-nexe-system"])
    end)

    it("Responses: X-Chain-Total-Time (000.000 s) on a job that is not "
       .. "chained", function()
      local r = ok(post_job({ tool("one", "print x", { STDOUT }) }))
      assert.matches("^%d+%.%d%d%d$", r.headers["x-chain-total-time"])
    end)

    it("Consuming request payload: the first job with a path-less stdin "
       .. "reads it", function()
      put("/conform/chainpay.json", cjson.encode({ tool("parent",
        "chainto http " .. TOOLS .. " upper", { { name = "stdout",
        content_type = "message/http" } }) }),
        { ["Content-Type"] = "application/json" })
      local r = ok(http("POST", v1(), { headers = {
        ["X-Zerovm-Execute"] = "1.0", ["Content-Type"] = "text/plain",
        ["X-Zerovm-Source"] = "swift://" .. ACCT .. "/conform/chainpay.json" },
        body = "chained payload" }))
      assert.are.equal("CHAINED PAYLOAD", r.body, show(r))
    end)

    it("chain_timeout: a chain that never ends is stopped (20 s)",
       function()
      local t0 = os.time()
      local r = post_job({ tool("loop", "chain http 1000 " .. TOOLS,
        { { name = "stdout", content_type = "message/http" } }) },
        { timeout = 120 })
      assert.is_true(os.time() - t0 < 60, show(r))
      assert.are_not.equal("chain end", r.body)
    end)
  end)

  -------------------------------------------------------------------------
  -- CGIEnvironment.md

  describe("CGIEnvironment.md", function()
    local function cgi_env(opts)
      opts = opts or {}
      local g = tool("cgi", "env", { STDOUT })
      for _, d in ipairs(opts.devices or {}) do
        table.insert(g.devices, d)
      end
      g.exec.env = opts.env
      return decode(ok(post_job({ g }, { query = opts.query,
        headers = opts.headers }))).env
    end

    it("Permanent vars: GATEWAY_INTERFACE, SERVER_NAME, SERVER_PORT, "
       .. "SERVER_PROTOCOL, SERVER_SOFTWARE", function()
      local e = cgi_env()
      assert.are.equal("CGI/1.1", e.GATEWAY_INTERFACE)
      assert.is_truthy(e.SERVER_NAME)
      assert.matches("^%d+$", e.SERVER_PORT)
      assert.matches("^HTTP/1%.%d$", e.SERVER_PROTOCOL)
      assert.are.equal("zerocloud", e.SERVER_SOFTWARE)
    end)

    it("Request-based vars: PATH_INFO, REMOTE_USER, REQUEST_METHOD, "
       .. "REQUEST_URI, SCRIPT_FILENAME, SCRIPT_NAME, QUERY_STRING", function()
      local e = cgi_env({ query = "?a=1&b=2" })
      assert.are.equal("/" .. ACCT, e.PATH_INFO)
      assert.are.equal("POST", e.REQUEST_METHOD)
      assert.are.equal("/v1/" .. ACCT .. "?a=1&b=2", e.REQUEST_URI)
      assert.are.equal("a=1&b=2", e.QUERY_STRING)
      assert.are.equal("file://python3:python", e.SCRIPT_FILENAME)
      assert.are.equal("cgi", e.SCRIPT_NAME)
      assert.is_truthy(e.REMOTE_USER)
    end)

    it("Non-standard local file vars: LOCAL_* for the node's swift:// "
       .. "object", function()
      put("/conform/local.txt", "12345", { ["Content-Type"] = "text/x-local",
          ["X-Object-Meta-Color"] = "red" })
      local h = head("/conform/local.txt").headers
      local e = cgi_env({ devices = { { name = "stdin", path = "swift://"
        .. ACCT .. "/conform/local.txt" } } })
      assert.are.equal("on", e.LOCAL_OBJECT)
      assert.are.equal("/" .. ACCT .. "/conform/local.txt", e.LOCAL_PATH_INFO)
      assert.are.equal("5", e.LOCAL_CONTENT_LENGTH)
      assert.are.equal("text/x-local", e.LOCAL_CONTENT_TYPE)
      assert.are.equal(h.etag:gsub('"', ""), e.LOCAL_HTTP_ETAG)
      assert.are.equal(h["x-timestamp"], e.LOCAL_HTTP_X_TIMESTAMP)
      assert.are.equal("/dev/stdin", e.LOCAL_DOCUMENT_ROOT)
      assert.are.equal("red", e.LOCAL_HTTP_X_OBJECT_META_COLOR)
    end)

    it("Header-based vars: HTTP_* of the request (X-Zerovm-Execute, "
       .. "others)", function()
      local e = cgi_env({ headers = { ["X-Conform-Header"] = "seen" } })
      assert.are.equal("1.0", e.HTTP_X_ZEROVM_EXECUTE)
      assert.are.equal("seen", e.HTTP_X_CONFORM_HEADER)
    end)

    it("no secret reaches a node: X-Auth-Token, Cookie, Authorization",
       function()
      local g = tool("cgi", "env", { STDOUT })
      local r = ok(post_job({ g }, { headers = { Cookie = "session=s3cr3t",
        Authorization = "Basic c2VjcmV0" } }))
      local found = r.body:find(token, 1, true)
      assert.is_nil(found, "the token is in the node's environment")
      assert.is_nil(r.body:find("s3cr3t", 1, true))
      assert.is_nil(r.body:find("c2VjcmV0", 1, true))
      local e = decode(r).env
      assert.is_nil(e.HTTP_X_AUTH_TOKEN)
      assert.is_nil(e.HTTP_X_STORAGE_TOKEN)
      assert.is_nil(e.HTTP_COOKIE)
      assert.is_nil(e.HTTP_AUTHORIZATION)
    end)

    it("exec.env wins over the CGI vars", function()
      local e = cgi_env({ query = "?q=1", env = { QUERY_STRING = "mine" } })
      assert.are.equal("mine", e.QUERY_STRING)
    end)
  end)

  -------------------------------------------------------------------------
  -- RESTServices.md

  describe("RESTServices.md", function()
    local SELECT_PY = [[
import json, os, shutil, sqlite3, sys, urllib.parse
assert os.environ["REQUEST_METHOD"] == "GET"
q = urllib.parse.parse_qs(os.environ["QUERY_STRING"])["select"][0]
with open("/dev/input", "rb") as src, open("/tmp/my.db", "wb") as dst:
    dst.write(src.read())
db = sqlite3.connect("/tmp/my.db")
db.row_factory = sqlite3.Row
rows = [dict(r) for r in db.execute(q)]
sys.stdout.write("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n")
sys.stdout.write(json.dumps(rows))
]]
    local SORT = [[
import json, os, sys
assert os.environ["REQUEST_METHOD"] == "POST"
sys.stdout.write(json.dumps(sorted(json.load(sys.stdin))))
]]

    local function select_app()
      local d = util.tmpdir()
      local _, err, code = util.sh("/usr/bin/python3 -c " .. util.quote(
        "import sqlite3; db = sqlite3.connect('" .. d .. "/my.db'); "
        .. "db.execute('create table my_table (name, title, id)'); "
        .. "db.execute(\"insert into my_table values ('Joe', 'Mr.', 101)\"); "
        .. "db.execute(\"insert into my_table values ('Ann', 'Ms.', 102)\"); "
        .. "db.commit()"))
      assert(code == 0, err)
      put("/db-select/my.db", util.read(d .. "/my.db"))
      put("/db-select/api.zapp", tar({ ["boot/system.map"] = cjson.encode({ {
        name = "db-select",
        exec = { path = "file://python3:python", args = "select.py" },
        devices = { { name = "python3" },
          { name = "input", path = "swift://./db-select/my.db" },
          { name = "stdout", content_type = "message/cgi" } } } }),
        ["select.py"] = SELECT_PY }), { ["Content-Type"] = "application/x-tar" })
    end

    local QUERY = "select=select+*+from+my_table+where+name+%3D+%22Joe%22"

    it("Handling GET: GET /open/<account>/<container>/<zapp>?<query> runs "
       .. "the zapp's boot/system.map, message/cgi response", function()
      select_app()
      local r = ok(http("GET", "/open/" .. ACCT .. "/db-select/api.zapp?"
                        .. QUERY))
      assert.matches("^application/json", r.headers["content-type"])
      assert.are.same({ { name = "Joe", title = "Mr.", id = 101 } },
                      decode(r))
    end)

    it("Open requests: X-Zerovm-Execute: open/1.0 on the storage URL is "
       .. "the same", function()
      select_app()
      local r = ok(http("GET", v1("/db-select/api.zapp?" .. QUERY),
        { headers = { ["X-Zerovm-Execute"] = "open/1.0" } }))
      assert.are.same({ { name = "Joe", title = "Mr.", id = 101 } },
                      decode(r))
    end)

    local function sort_app()
      put("/sort-app/sort.zapp", tar({ ["boot/system.map"] = cjson.encode({ {
        name = "sort",
        exec = { path = "file://python3:python", args = "sort.py" },
        devices = { { name = "python3" }, { name = "stdin" },
          { name = "stdout", content_type = "application/json" } } } }),
        ["sort.py"] = SORT }), { ["Content-Type"] = "application/x-tar" })
    end

    it("Handling POST: POST /open/... with a JSON payload read from a "
       .. "path-less stdin", function()
      sort_app()
      local r = ok(http("POST", "/open/" .. ACCT .. "/sort-app/sort.zapp",
        { headers = { ["Content-Type"] = "application/json" },
          body = "[5, 3, 1, 4, 2]" }))
      assert.are.equal("[1, 2, 3, 4, 5]", r.body, show(r))
      assert.matches("^application/json", r.headers["content-type"])
    end)

    local function api_app()
      put("/myapp/myapp-1.0.zapp", tar({ ["boot/system.map"] = cjson.encode({
        tool("api", "env", { STDOUT }) }), ["t.py"] = T_PY }),
        { ["Content-Type"] = "application/x-tar" })
      put("/my-api", nil, { ["X-Container-Meta-Rest-Endpoint"] = "swift://"
          .. ACCT .. "/myapp/myapp-1.0.zapp" })
    end

    it("Api requests: /api/<account>/<container>/<path> runs the "
       .. "X-Container-Meta-Rest-Endpoint zapp; PATH_INFO, QUERY_STRING",
       function()
      api_app()
      local e = decode(ok(http("GET", "/api/" .. ACCT
        .. "/my-api/some/path/info?a=1&b=2"))).env
      -- RESTServices.md shows /api/... in PATH_INFO, CGIEnvironment.md and
      -- ZeroCloud's code the path without the version: either
      assert.matches("^/?a?p?i?/" .. ACCT:gsub("%p", "%%%0")
        .. "/my%-api/some/path/info$", e.PATH_INFO)
      assert.are.equal("a=1&b=2", e.QUERY_STRING)
      assert.are.equal("GET", e.REQUEST_METHOD)
    end)

    it("Api requests: X-Zerovm-Execute: api/1.0 on the storage URL is the "
       .. "same", function()
      api_app()
      local e = decode(ok(http("GET", v1("/my-api/x/y?c=3"),
        { headers = { ["X-Zerovm-Execute"] = "api/1.0" } }))).env
      assert.are.equal("c=3", e.QUERY_STRING)
    end)

    it("Api requests: a container without Rest-Endpoint answers 404",
       function()
      local r = http("GET", "/api/" .. ACCT .. "/conform/x")
      assert.are.equal(404, r.status, show(r))
    end)
  end)

  -------------------------------------------------------------------------
  -- zpm's doc/*.rst

  describe("zpm doc", function()
    local HELLO_YAML = [[
meta:
  Version: "0.1"
  name: hello
  Author-email: Your Name <your.name@example.net>
  Summary: A small Hello World app

execution:
  groups:
    - name: hello
      path: file://python2.7:python
      args: /hello.py
      devices:
      - name: python2.7
      - name: stdout
%s
help:
  description: Enter your name and you will be greeted
  args:
  - [name, Your name]

bundling:
  - hello.py
]]

    it("zapp-yaml.rst / intro.rst hello example (args: /hello.py): zpm "
       .. "bundle, zpm execute", function()
      local zapp = project("hello", HELLO_YAML:format(""),
                           { ["hello.py"] = 'print("Hello from ZeroVM!")\n' })
      local out, err, code = zpm({ "execute", zapp })
      assert.are.equal(0, code, err)
      assert.are.equal("Hello from ZeroVM!\n", out)
    end)

    it("intro.rst Deployment: zpm deploy test/hello hello.zapp --execute",
       function()
      local zapp, root = project("hello", HELLO_YAML:format(""),
                                 { ["hello.py"] = 'print("Hello from ZeroVM!")\n' })
      local out, err, code = zpm({ "deploy", "test/hello", zapp,
                                   "--execute" }, { cwd = root })
      assert.are.equal(0, code, err)
      assert.matches("Hello from ZeroVM!\n", out, 1, true)
    end)

    it("zapp-yaml.rst execution: env {BAZ: 5} reaches the node as \"5\"",
       function()
      local zapp = project("hello", HELLO_YAML:format("      env: {BAZ: 5}\n"),
        { ["hello.py"] = 'import os\nprint("BAZ=" + os.environ["BAZ"])\n' })
      local out, err, code = zpm({ "execute", zapp })
      assert.are.equal(0, code, err)
      assert.are.equal("BAZ=5\n", out)
    end)

    it("intro.rst hello as written (Python 2 print): zpm names the failed "
       .. "node and shows its stderr (the SyntaxError)", function()
      local zapp = project("hello", HELLO_YAML:format(""),
                           { ["hello.py"] = 'print "Hello from ZeroVM!"\n' })
      local out, err, code = zpm({ "execute", zapp })
      assert.are.equal(3, code, err)
      assert.are.equal("", out)
      assert.matches("Error: node 'hello' failed: retcode 1, status 'ok'\n",
                     err, 1, true)
      assert.matches("\n  | SyntaxError", err, 1, true)
    end)

    it("zapp-yaml.rst: a failed node's stderr through zpm deploy --execute "
       .. "and in the JSON summary", function()
      local zapp, root = project("hello", HELLO_YAML:format(""),
        { ["hello.py"] = 'import sys\nsys.stderr.write("deploy-stderr\\n")\n'
          .. 'sys.exit(4)\n' })
      local _, err, code = zpm({ "deploy", "failing", zapp, "--execute",
        "-s", "--summary-format", "json" }, { cwd = root })
      assert.are.equal(3, code, err)
      assert.matches("Error: node 'hello' failed: retcode 4, status 'ok'\n"
                     .. "  | deploy-stderr\n", err, 1, true)
      assert.matches('"stderr": "deploy-stderr\\n"', err, 1, true)
    end)

    it("zapp-yaml.rst devices: stderr with a swift:// path is stored",
       function()
      local zapp = project("hello", HELLO_YAML:format(
        "      - name: stderr\n        path: swift://" .. ACCT
        .. "/conform/hello.err\n"),
        { ["hello.py"] = 'import sys\nsys.stderr.write("to object")\n' })
      local _, err, code = zpm({ "execute", zapp })
      assert.are.equal(0, code, err)
      assert.are.equal("to object", get("/conform/hello.err").body)
    end)
  end)
end)
