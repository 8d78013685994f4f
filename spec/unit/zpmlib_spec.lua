-- The pure parts of the original zpm's test suite (zpmlib/tests/test_zpm.py
-- of zerovm-cli), checked against their equivalents in `require("zpm")`.
-- The original's cases that need a Swift are in spec/cloud/zpmlib_spec.lua.
local zpm = require("zpm")
local json = require("zpm.json")
local util = require("support.util")
local lfs = require("lfs")

-- A getenv that sees only `vars` (the original patched os.environ).
local function getenv_of(vars)
  return function(name)
    return vars[name]
  end
end

-- JSON text back to plain tables (no ordering metatables), for
-- assert.are.same against literal expectations.
local function plain(value)
  return json.decode(assert(json.encode(value)))
end

-- A YAML double-quoted scalar holding s.
local function yaml_string(s)
  return '"' .. s:gsub('[\\"]', "\\%0"):gsub("\n", "\\n"):gsub("\t", "\\t")
    .. '"'
end

describe("zpmlib (the original's zpm module), pure functions", function()
  after_each(util.cleanup)

  describe("constants", function()
    it("names boot/system.map as the job's place in a zapp", function()
      assert.are.equal("boot/system.map", zpm.SYSTEM_MAP_ZAPP_PATH)
    end)

    it("gives the summary table's fourteen column titles", function()
      assert.are.same({ "Node", "Status", "Retcode", "NodeT", "SysT",
        "UserT", "DiskReads", "DiskBytesR", "DiskWrites", "DiskBytesW",
        "NetworkReads", "NetworkBytesR", "NetworkWrites", "NetworkBytesW" },
        zpm.EXEC_TABLE_HEADER)
    end)

    it("explains the v1 and v2 settings when no auth fits", function()
      assert.is_string(zpm.NO_AUTH_MSG)
      assert.truthy(zpm.NO_AUTH_MSG:find("Auth version 1.0 requires ST_AUTH, "
        .. "ST_USER, and ST_KEY", 1, true))
      assert.truthy(zpm.NO_AUTH_MSG:find("Auth version 2.0 requires "
        .. "OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, and", 1, true))
    end)
  end)

  -- TestGuessAuthVersion: command-line values first (v1 wins when both
  -- sets are complete), then the environment alone, else nothing.
  describe("guess_auth_version", function()
    local V1_ARGS = { auth = "auth", user = "user", key = "key" }
    local V2_ARGS = { os_auth_url = "authurl", os_username = "username",
                      os_password = "password", os_tenant_name = "tenant" }
    local function with(base, extra)
      local t = {}
      for k, v in pairs(base) do t[k] = v end
      for k, v in pairs(extra or {}) do t[k] = v end
      return t
    end
    local EMPTY_ENV = { ST_AUTH = "", ST_USER = "", ST_KEY = "",
                        OS_AUTH_URL = "", OS_USERNAME = "", OS_PASSWORD = "",
                        OS_TENANT_NAME = "" }
    local cases = {
      { "args_v1: v1 values and an auth URL of v2", with(V1_ARGS,
        { os_auth_url = "authurl" }), {}, "1.0" },
      { "args_v2: v2 values and a v1 auth URL", with(V2_ARGS,
        { auth = "auth" }), {}, "2.0" },
      { "args_default: every v1 and v2 value", with(V1_ARGS, V2_ARGS), {},
        "1.0" },
      { "env_v1: ST_* set, OS_* partly", {}, { ST_AUTH = "auth",
        ST_USER = "user", ST_KEY = "key", OS_AUTH_URL = "",
        OS_USERNAME = "username", OS_PASSWORD = "", OS_TENANT_NAME = "" },
        "1.0" },
      { "env_v2: OS_* set, ST_* partly", {}, { ST_AUTH = "",
        ST_USER = "user", ST_KEY = "", OS_AUTH_URL = "authurl",
        OS_USERNAME = "username", OS_PASSWORD = "password",
        OS_TENANT_NAME = "tenant" }, "2.0" },
      { "env_default: every ST_* and OS_* variable", {}, { ST_AUTH = "auth",
        ST_USER = "user", ST_KEY = "key", OS_AUTH_URL = "authurl",
        OS_USERNAME = "username", OS_PASSWORD = "password",
        OS_TENANT_NAME = "tenant" }, "1.0" },
      { "none: nothing given, every variable empty", {}, EMPTY_ENV, nil },
      { "none: nothing given, no variable at all", {}, {}, nil },
      { "incomplete values fall back to the environment",
        { auth = "auth", user = "user" }, { OS_AUTH_URL = "authurl",
        OS_USERNAME = "username", OS_PASSWORD = "password",
        OS_TENANT_NAME = "tenant" }, "2.0" },
      { "complete values win over the environment", V2_ARGS,
        { ST_AUTH = "auth", ST_USER = "user", ST_KEY = "key" }, "2.0" },
      { "values and environment are not mixed", { auth = "auth" },
        { ST_USER = "user", ST_KEY = "key" }, nil },
    }
    for _, case in ipairs(cases) do
      local name, values, env, expected = table.unpack(case, 1, 4)
      it(("%s -> %s"):format(name, tostring(expected)), function()
        assert.are.equal(expected,
                         zpm.guess_auth_version(values, getenv_of(env)))
      end)
    end
  end)

  -- test__prepare_auth_v0/v1/v2, with the version spelled several ways
  describe("prepare_auth", function()
    local V1 = { auth = "http://example.com/auth/v1.0", user = "user1",
                 key = "secret" }
    local V2 = { os_auth_url = "http://example.com:5000/v2.0",
                 os_username = "user1", os_tenant_name = "tenant1",
                 os_password = "secret" }
    local EMBED = { embed_credentials = true }
    local cases = {
      { "0.0", nil, "http://example.com", EMBED,
        { version = "0.0", swiftUrl = "http://example.com" },
        '{"version": "0.0", "swiftUrl": "http://example.com"}' },
      { 0, V1, "http://example.com", nil,
        { version = "0.0", swiftUrl = "http://example.com" } },
      { "1.0", V1, nil, EMBED,
        { version = "1.0", authUrl = "http://example.com/auth/v1.0",
          username = "user1", password = "secret" },
        '{"version": "1.0", "authUrl": "http://example.com/auth/v1.0", '
          .. '"username": "user1", "password": "secret"}' },
      { "1", V1, nil, EMBED,
        { version = "1.0", authUrl = "http://example.com/auth/v1.0",
          username = "user1", password = "secret" } },
      { 1, V1, nil, EMBED,
        { version = "1.0", authUrl = "http://example.com/auth/v1.0",
          username = "user1", password = "secret" } },
      { "1.0", V1, nil, nil,
        { version = "1.0", authUrl = "http://example.com/auth/v1.0",
          username = "user1" } },
      { "2.0", V2, nil, EMBED,
        { version = "2.0", authUrl = "http://example.com:5000/v2.0",
          tenant = "tenant1", username = "user1", password = "secret" },
        '{"version": "2.0", "authUrl": "http://example.com:5000/v2.0", '
          .. '"tenant": "tenant1", "username": "user1", '
          .. '"password": "secret"}' },
      { "2", V2, nil, EMBED,
        { version = "2.0", authUrl = "http://example.com:5000/v2.0",
          tenant = "tenant1", username = "user1", password = "secret" } },
      { "2", V2, nil, nil,
        { version = "2.0", authUrl = "http://example.com:5000/v2.0",
          tenant = "tenant1", username = "user1" } },
    }
    for _, case in ipairs(cases) do
      local version, settings, url, opts, expected, text =
        table.unpack(case, 1, 6)
      it(("version %s (%s)%s"):format(tostring(version), math.type(version)
           or type(version), opts and ", credentials embedded" or ""),
         function()
        local got = assert(zpm.prepare_auth(version, settings, url, opts))
        assert.are.same(expected, plain(got))
        if text then
          assert.are.equal(text, json.encode(got))
        end
      end)
    end

    it("refuses a version the original could not have made", function()
      for _, version in ipairs({ "4", "1.5", "v1", "" }) do
        local got, err = zpm.prepare_auth(version, V1, nil)
        assert.is_nil(got)
        assert.matches("unknown auth version", err)
      end
    end)
  end)

  -- test__generate_job_desc: zapp.yaml -> the job (boot/system.map)
  describe("job (the original's _generate_job_desc)", function()
    local function load(text)
      local path = util.tmpdir() .. "/zapp.yaml"
      util.write(path, text)
      return assert(zpm.load_zapp(path))
    end

    it("builds the map/reduce job of the original's test", function()
      -- the original's second group was also named "mapper"; zpm's
      -- zapp.yaml validation refuses duplicate group names, so it is
      -- "mapper2" here
      local zapp = load([=[
bundling: [mapper.py, reducer.py]
execution:
  groups:
  - args: 'mapper.py "foo\\, \nbar"'
    devices:
    - name: python2.7
    - name: stdout
    - name: input_swift_file
      path: swift://AUTH_abc123/foo/bar.txt
    name: mapper
    connect: [reducer]
    env: {FOO: bar, BAZ: 5}
    path: swift://./container/python
  - args: 'mapper.py "foo\\, \nbar"'
    devices:
    - name: python2.7
    - name: stdout
    - name: input_swift_file
      path: swift://AUTH_abc123/foo/bar.txt
    name: mapper2
    connect: [reducer]
    env: {FOO: bar, BAZ: 5}
    path: swift://~/container/path/to/python
  - args: reducer.py
    devices:
    - name: python2.7
    - name: stdout
    name: reducer
    path: file://python2.7:python
help:
  args: [[loglevel, Log Level]]
  description: sample map/reduce app
meta:
  Author-email: John Doe <jdoe@example.com
  Summary: Sample map/reduce app
  Version: '0.1'
  name: mapreduce
]=])
      local the_job, text = zpm.job(zapp)
      assert.is_table(the_job)
      local input = { name = "input_swift_file",
                      path = "swift://AUTH_abc123/foo/bar.txt" }
      local escaped = "mapper.py foo\\x5c\\x2c\\x20\\x5cnbar"
      assert.are.same({
        { name = "mapper", connect = { "reducer" },
          devices = { { name = "python2.7" }, { name = "stdout" }, input },
          exec = { path = "swift://./container/python", name = "python",
                   args = escaped, env = { FOO = "bar", BAZ = 5 } } },
        { name = "mapper2", connect = { "reducer" },
          devices = { { name = "python2.7" }, { name = "stdout" }, input },
          exec = { path = "swift://~/container/path/to/python",
                   name = "path/to/python", args = escaped,
                   env = { FOO = "bar", BAZ = 5 } } },
        { name = "reducer",
          devices = { { name = "python2.7" }, { name = "stdout" } },
          exec = { path = "file://python2.7:python", name = "python",
                   args = "reducer.py" } },
      }, json.decode(text))
      -- the table and the text are the same job; BAZ stays a number
      assert.are.same(json.decode(text), plain(the_job))
      assert.truthy(text:find('"BAZ": 5', 1, true))
      -- path, args and env moved under exec: none left at the top
      for _, group in ipairs(json.decode(text)) do
        assert.is_nil(group.path)
        assert.is_nil(group.args)
        assert.is_nil(group.env)
      end
    end)

    -- exec.args: split like a POSIX shell (Python's shlex), then each of
    -- backslash, double quote, comma, space and newline as \xNN
    local ARGS = {
      { [[mapper.py "foo\\, \nbar"]], [[mapper.py foo\x5c\x2c\x20\x5cnbar]] },
      { "hello.py", "hello.py" },
      { 'hello.py "ZeroVM world"', [[hello.py ZeroVM\x20world]] },
      { "a 'b c' d", [[a b\x20c d]] },
      { [[say "a \"quoted\" word"]], [[say a\x20\x22quoted\x22\x20word]] },
      { "x,y", [[x\x2cy]] },
      { [[back\\slash]], [[back\x5cslash]] },
      { "a 'l1\nl2'", [[a l1\x0al2]] },
      { "  spaced   out  ", "spaced out" },
      { [[it\'s]], "it's" },
      { "tab\there", "tab here" },
      { "", "" },
    }
    for _, case in ipairs(ARGS) do
      local args, expected = case[1], case[2]
      local function show(v)
        return "<" .. v:gsub("\n", "\\n"):gsub("\t", "\\t") .. ">"
      end
      it(("escapes args %s as %s"):format(show(args), show(expected)),
         function()
        local zapp = load(([[
execution:
  groups:
  - name: one
    path: file://python2.7:python
    args: %s
    devices: [{name: python2.7}, {name: stdout}]
meta: {name: one}
]]):format(yaml_string(args)))
        local _, text = zpm.job(zapp)
        assert.are.equal(expected, json.decode(text)[1].exec.args)
      end)
    end

    -- exec.name: after the last ':' of file://, the part after the
    -- fourth '/' of swift://, none for other paths
    local NAMES = {
      { "file://python2.7:python", "python" },
      { "file://image:bin/tool", "bin/tool" },
      { "swift://./container/python", "python" },
      { "swift://~/container/path/to/python", "path/to/python" },
      { "swift://AUTH_abc/c/o", "o" },
    }
    for _, case in ipairs(NAMES) do
      it(("names the executable of %s %s"):format(case[1], case[2]),
         function()
        local zapp = load(([[
execution:
  groups:
  - {name: one, path: %q, args: x}
meta: {name: one}
]]):format(case[1]))
        local _, text = zpm.job(zapp)
        assert.are.equal(case[2], json.decode(text)[1].exec.name)
      end)
    end
  end)

  -- TestExecSummaryTable: the X-Nexe-* headers of a response as rows
  describe("summary (the original's _get_exec_table_data)", function()
    local FIELDS = { "node", "status", "retcode", "node_time", "sys_time",
                     "user_time", "disk_reads", "disk_bytes_read",
                     "disk_writes", "disk_bytes_written", "network_reads",
                     "network_bytes_read", "network_writes",
                     "network_bytes_written" }
    local function rows_of(lists)
      local rows = {}
      for i, list in ipairs(lists) do
        local row = {}
        for j, field in ipairs(FIELDS) do
          row[field] = list[j]
        end
        rows[i] = row
      end
      return rows
    end

    local cases = {
      { "1 row", {
          ["content-length"] = "20",
          ["content-type"] = "text/html",
          ["date"] = "Tue, 26 Aug 2014 09:27:08 GMT",
          ["etag"] = "af0983cb8fef30642bae9ba0010e7a77",
          ["x-chain-total-time"] = "3.920",
          ["x-nexe-cdr-line"] =
            "3.920, 3.913, 0.11 3.37 1025 75943644 2 20 0 0 0 0",
          ["x-nexe-etag"] = "disabled",
          ["x-nexe-policy"] = "Policy-0",
          ["x-nexe-retcode"] = "0",
          ["x-nexe-status"] = "ok",
          ["x-nexe-system"] = "hello",
          ["x-nexe-validation"] = "0",
          ["x-timestamp"] = "1409045228.85265",
          ["x-trans-id"] = "tx1d61239ed02a56fbbfe5d-0053fc52e9",
          ["x-zerovm-device"] = "stdout",
        }, "3.920", {
          { "hello", "ok", "0", "3.913", "0.11", "3.37", "1025", "75943644",
            "2", "20", "0", "0", "0", "0" },
        } },
      { "many rows", {
          ["content-length"] = "0",
          ["content-type"] = "application/x-gtar",
          ["date"] = "Tue, 26 Aug 2014 09:29:44 GMT",
          ["etag"] = "753e7eac4298c4994a7a19c7c783bad5",
          ["x-chain-total-time"] = "5.121",
          ["x-nexe-cdr-line"] = "5.121, "
            .. "4.993, 0.13 3.84 1025 75943662 23 735 8 399 0 0,"
            .. "4.511, 0.12 4.00 1026 75943758 0 0 0 0 1 11,"
            .. "4.468, 0.10 3.96 1026 75943758 0 0 0 0 1 11,"
            .. "4.965, 0.18 4.20 1025 75943664 0 0 15 33 5 100,"
            .. "4.962, 0.13 3.94 1025 75943664 0 0 15 33 5 100",
          ["x-nexe-etag"] = "disabled,disabled,disabled,disabled,disabled",
          ["x-nexe-policy"] = "Policy-0,Policy-0,Policy-0,Policy-0,Policy-0",
          ["x-nexe-retcode"] = "1,0,0,0,0",
          ["x-nexe-status"] = "some error,ok,ok,ok,ok",
          ["x-nexe-system"] = "combiner,mapper-1,mapper-2,reducer-1,reducer-2",
          ["x-nexe-validation"] = "1,0,0,0,0",
          ["x-timestamp"] = "1409045384.22744",
          ["x-trans-id"] = "txa881f777891648f4834d6-0053fc5382",
        }, "5.121", {
          { "combiner", "some error", "1", "4.993", "0.13", "3.84", "1025",
            "75943662", "23", "735", "8", "399", "0", "0" },
          { "mapper-1", "ok", "0", "4.511", "0.12", "4.00", "1026",
            "75943758", "0", "0", "0", "0", "1", "11" },
          { "mapper-2", "ok", "0", "4.468", "0.10", "3.96", "1026",
            "75943758", "0", "0", "0", "0", "1", "11" },
          { "reducer-1", "ok", "0", "4.965", "0.18", "4.20", "1025",
            "75943664", "0", "0", "15", "33", "5", "100" },
          { "reducer-2", "ok", "0", "4.962", "0.13", "3.94", "1025",
            "75943664", "0", "0", "15", "33", "5", "100" },
        } },
    }
    for _, case in ipairs(cases) do
      local name, headers, total, lists = table.unpack(case, 1, 4)
      it("parses " .. name, function()
        local summary = assert(zpm.summary(headers))
        assert.are.equal(total, summary.total)
        assert.are.same(rows_of(lists), summary.rows)
      end)

      it("renders " .. name .. " as a table (_get_exec_table)", function()
        local text, got_total = zpm.summary_table(headers)
        assert.is_string(text, got_total)
        assert.are.equal(total, got_total)
        local lines = util.lines(text)
        -- a rule, the titles, a rule, a line per node, a rule
        assert.are.equal(#lists + 4, #lines)
        local titles = {}
        for cell in lines[2]:gmatch("|%s*([^|]-)%s*%f[|]") do
          titles[#titles + 1] = cell
        end
        assert.are.same(zpm.EXEC_TABLE_HEADER, titles)
        for i, list in ipairs(lists) do
          local cells = {}
          for cell in lines[3 + i]:gmatch("|%s*([^|]-)%s*%f[|]") do
            cells[#cells + 1] = cell
          end
          assert.are.same(list, cells)
        end
      end)
    end

    it("refuses headers that are not ZeroCloud's", function()
      local summary, err = zpm.summary({ ["content-type"] = "text/plain" })
      assert.is_nil(summary)
      assert.is_string(err)
      assert.is_nil(zpm.summary_table({}))
    end)
  end)

  -- _get_swift_zapp_url
  describe("swift_zapp_url", function()
    local cases = {
      { "http://localhost:8080/v1/AUTH_469a9cd20b5a4fc5be9438f66bb5ee04",
        "test_container/myapp.zapp",
        "swift://AUTH_469a9cd20b5a4fc5be9438f66bb5ee04/test_container/"
          .. "myapp.zapp" },
      { "https://swift.example.com/v1/AUTH_abc", "c/dir/app.zapp",
        "swift://AUTH_abc/c/dir/app.zapp" },
      { "http://127.0.0.1:8080/v1/AUTH_test/", "c/app.zapp",
        "swift://AUTH_test/c/app.zapp" },
      -- the original's test connection had no account in its URL
      { "http://example.com", "container1/foo/bar/zapp.yaml",
        "swift:///container1/foo/bar/zapp.yaml" },
    }
    for _, case in ipairs(cases) do
      it(("%s + %s"):format(case[1], case[2]), function()
        assert.are.equal(case[3], zpm.swift_zapp_url(case[1], case[2]))
      end)
    end
  end)

  -- test__prepare_job: the image device added to every group
  describe("prepare_job", function()
    local URL = "swift://AUTH_469a9cd20b5a4fc5be9438f66bb5ee04/"
      .. "test_container/hello.zapp"
    local function myapp_job()
      return { { exec = { args = "myapp.py",
                          path = "file://python2.7:python" },
                 devices = { { name = "python2.7" }, { name = "stdout" } },
                 name = "myapp" } }
    end
    local function expected()
      local job = myapp_job()
      job[1].devices[3] = { name = "image", path = URL }
      return job
    end

    it("reads boot/system.map from a zapp", function()
      local dir = util.tmpdir()
      util.write(dir .. "/system.map", assert(json.encode(myapp_job())))
      local zapp = dir .. "/myapp.zapp"
      -- a zapp made by GNU tar, holding only the job
      local _, err, code = util.sh(("mkdir -p %s/t/boot && cp %s/system.map "
        .. "%s/t/boot/ && tar -czf %s -C %s/t boot/system.map"):format(
        util.quote(dir), util.quote(dir), util.quote(dir), util.quote(zapp),
        util.quote(dir)))
      assert.are.equal(0, code, err)
      local job = assert(zpm.prepare_job(zapp, URL))
      assert.are.same(expected(), plain(job))
    end)

    it("copies a job table, adding the device to each group", function()
      local job = myapp_job()
      job[2] = { name = "other", exec = { path = "file://python2.7:python" },
                 devices = { { name = "stdout" } } }
      local got = assert(zpm.prepare_job(job, URL))
      local image = { name = "image", path = URL }
      assert.are.same(image, plain(got)[1].devices[3])
      assert.are.same(image, plain(got)[2].devices[2])
      -- the given table is not changed
      assert.are.equal(2, #job[1].devices)
      assert.are.equal(1, #job[2].devices)
    end)

    it("fails on a zapp without a job, and on other values", function()
      local dir = util.tmpdir()
      util.write(dir .. "/x.txt", "x")
      local zapp = dir .. "/nojob.zapp"
      assert.are.equal(0, select(3, util.sh(("tar -czf %s -C %s x.txt")
        :format(util.quote(zapp), util.quote(dir)))))
      local job, err = zpm.prepare_job(zapp, URL)
      assert.is_nil(job)
      assert.matches("boot/system.map", err)
      job, err = zpm.prepare_job(42, URL)
      assert.is_nil(job)
      assert.is_string(err)
    end)
  end)

  -- TestFindProjectRoot
  describe("find_project_root", function()
    local root, sub
    before_each(function()
      root = util.tmpdir()
      sub = root .. "/foo/bar"
      assert(os.execute("mkdir -p " .. util.quote(sub)))
    end)

    -- run fn with the current directory at dir, then go back
    local function in_dir(dir, fn)
      local here = lfs.currentdir()
      assert(lfs.chdir(dir))
      local ok, a, b = pcall(fn)
      lfs.chdir(here)
      assert(ok, a)
      return a, b
    end

    it("zapp_yaml_exists: finds the directory above", function()
      util.write(root .. "/zapp.yaml", "")
      assert.are.equal(root, zpm.find_project_root(sub))
      assert.are.equal(root, in_dir(sub, function()
        return zpm.find_project_root()
      end))
    end)

    it("stops at the nearest zapp.yaml", function()
      util.write(root .. "/zapp.yaml", "")
      util.write(root .. "/foo/zapp.yaml", "")
      assert.are.equal(root .. "/foo", zpm.find_project_root(sub))
    end)

    it("does not take a directory named zapp.yaml", function()
      assert(lfs.mkdir(sub .. "/zapp.yaml"))
      util.write(root .. "/zapp.yaml", "")
      assert.are.equal(root, zpm.find_project_root(sub))
    end)

    it("zapp_yaml_not_exists: nil and a message", function()
      local found, err = zpm.find_project_root(sub)
      assert.is_nil(found)
      assert.are.equal("no zapp.yaml file found", err)
      found, err = in_dir(sub, function()
        return zpm.find_project_root()
      end)
      assert.is_nil(found)
      assert.are.equal("no zapp.yaml file found", err)
    end)
  end)

  -- _add_file_to_tar (no test in the original)
  describe("add_file_to_tar", function()
    it("adds files under their path relative to root, or arcname",
       function()
      local root = util.tmpdir()
      assert(lfs.mkdir(root .. "/src"))
      util.write(root .. "/src/a.txt", "alpha")
      util.write(root .. "/b.txt", "beta")
      local out = util.tmpdir() .. "/out.zapp"
      local core = require("zpm.core")
      local w = assert(core.archive.create(out))
      assert.is_true(zpm.add_file_to_tar(root, "src", w))
      assert.is_true(zpm.add_file_to_tar(root, "./src/a.txt", w))
      assert.is_true(zpm.add_file_to_tar(root, "b.txt", w, "renamed/b.txt"))
      local ok, err, code = zpm.add_file_to_tar(root, "missing.txt", w)
      assert.is_nil(ok)
      assert.is_string(err)
      assert.is_string(code)
      assert.is_true(w:commit())
      local members = util.members(out)
      assert.are.same({ "src/", "src/a.txt", "renamed/b.txt" }, members)
      assert.are.equal("alpha", util.member(out, "src/a.txt"))
      assert.are.equal("beta", util.member(out, "renamed/b.txt"))
    end)
  end)
end)
