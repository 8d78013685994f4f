-- Issue 17, item 3: output for scripts, on the devcloud. `--format json`
-- (and `--json`) on auth, deploy (and --dry-run, --execute), execute and
-- list: stdout is one JSON document (python3's json.load reads it whole),
-- numbers are numbers; `zpm auth --shell` evaluated by bash gives a token
-- curl can use.
local util = require("support.util")
local json = require("zpm.json")

describe("output for scripts (issue 17, item 3)", function()
  local dir, env, hello, failing, counter = nil, nil, nil, nil, 0

  local function zpm(args, opts)
    opts = opts or {}
    opts.env = { ST_AUTH = env.ST_AUTH, ST_USER = env.ST_USER,
                 ST_KEY = env.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
                 OS_STORAGE_URL = "", OS_AUTH_TOKEN = "",
                 OS_AUTH_VERSION = "" }
    return util.zpm(args, opts)
  end

  -- stdout as one JSON document: python3 reads it whole (nothing
  -- else on stdout), zpm.json decodes it
  local function document(out)
    local path = util.tmpdir() .. "/out.json"
    util.write(path, out)
    local _, perr, pcode = util.sh("python3 -c 'import json, sys; "
      .. "json.load(sys.stdin)' < " .. util.quote(path))
    assert.are.equal(0, pcode, perr .. "\nstdout was:\n" .. out)
    return assert(json.decode(out))
  end

  -- keys whose values the text writes as integers (zpm.json decodes
  -- every number as a float)
  local function integers(out, keys)
    for _, key in ipairs(keys) do
      assert.matches('"' .. key .. '": %d+[,}]', out)
    end
  end

  local function new_container()
    counter = counter + 1
    return ("out-%d-%d"):format(os.time(), counter)
  end

  local function bundle(name, script)
    local root = util.tmpdir() .. "/" .. name
    os.execute("cp -r " .. util.quote(util.source_dir .. "/examples/hello")
               .. " " .. util.quote(root))
    if script then
      util.write(root .. "/hello.py", script)
    end
    local _, err, code = util.zpm({ "bundle", "-q" }, { cwd = root })
    assert(code == 0, err)
    return root .. "/hello.zapp"
  end

  setup(function()
    dir = util.tmpdir()
    local _, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
                                    "--time-limit", "30" })
    assert(code == 0, err)
    env = {}
    for k, v in util.read(dir .. "/env"):gmatch("([%w_]+)=([^\n]*)") do
      env[k] = v:gsub("^'(.*)'$", "%1")
    end
    hello = bundle("hello")
    failing = bundle("failing", "import sys\nprint('partial')\n"
                     .. "sys.stderr.write('oops\\n')\nsys.exit(3)\n")
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  describe("zpm auth", function()
    for _, flags in ipairs({ { "--format", "json" }, { "--json" } }) do
      it(table.concat(flags, " ") .. ": the storage URL and the token",
         function()
        local out, err, code = zpm({ "auth", table.unpack(flags) })
        assert.are.equal(0, code, err)
        local doc = document(out)
        assert.are.same({ "storage_url", "token" },
                        json.ordered_keys(json.decode_ordered(out)))
        assert.is_string(doc.storage_url)
        assert.matches("^http://127%.0%.0%.1:%d+/v1/AUTH_", doc.storage_url)
        assert.is_string(doc.token)
        assert.is_true(#doc.token > 0)
      end)
    end

    it("--shell: export lines bash evals, and curl uses the token",
       function()
      local out, err, code = zpm({ "auth", "--shell" })
      assert.are.equal(0, code, err)
      assert.matches("^export OS_STORAGE_URL='[^'\n]+'\n"
                     .. "export OS_AUTH_TOKEN='[^'\n]+'\n$", out)
      local path = util.tmpdir() .. "/auth.sh"
      util.write(path, out)
      local status, cerr, ccode = util.sh("bash -c " .. util.quote(
        "set -eu; eval \"$(cat " .. util.quote(path) .. ")\"; "
        .. "curl -s -o /dev/null -w '%{http_code}' "
        .. "-H \"X-Auth-Token: $OS_AUTH_TOKEN\" \"$OS_STORAGE_URL\""))
      assert.are.equal(0, ccode, cerr)
      assert.matches("^20[04]$", status)
      -- and a wrong token is refused: the check can fail
      status = util.sh("curl -s -o /dev/null -w '%{http_code}' "
        .. "-H 'X-Auth-Token: AUTH_tknope' "
        .. util.quote(out:match("OS_STORAGE_URL='([^']+)'")))
      assert.are.equal("401", status)
    end)

    it("--shell with --json is an error, and nothing on stdout", function()
      local out, err, code = zpm({ "auth", "--shell", "--json" })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^Error: %-%-shell and %-%-format json", err)
    end)
  end)

  describe("zpm deploy", function()
    it("--format json: what was deployed", function()
      local c = new_container()
      local out, err, code = zpm({ "deploy", "--format", "json", c, hello })
      assert.are.equal(0, code, err)
      local doc = document(out)
      assert.are.equal(c, doc.target)
      assert.truthy(doc.url:find("/" .. c .. "/", 1, true), doc.url)
      assert.is_string(doc.image)
      assert.is_nil(doc.segments)
      assert.is_nil(doc.execute)
      assert.is_table(doc.objects)
      assert.is_true(#doc.objects >= 3)
      for _, o in ipairs(doc.objects) do
        assert.is_string(o)
      end
    end)

    it("--dry-run --json: the plan, sizes as numbers", function()
      local c = new_container()
      local out, err, code = zpm({ "deploy", "--dry-run", "--json", c,
                                   hello })
      assert.are.equal(0, code, err)
      local doc = document(out)
      assert.is_true(doc.dry_run)
      assert.is_false(doc.container_exists)
      assert.is_number(doc.zapp_size)
      assert.is_number(doc.segment_size)
      integers(out, { "zapp_size", "segment_size" })
      local roles = {}
      for _, o in ipairs(doc.objects) do
        roles[o.role] = o
      end
      assert.is_string(roles.job.path)
      assert.is_number(roles.job.size)
      integers(out, { "size" })
      -- nothing was written
      local _, _, lcode = zpm({ "list", c })
      assert.are.equal(1, lcode)
    end)

    it("--execute --json: the deploy and the job's result", function()
      local c = new_container()
      local out, err, code = zpm({ "deploy", "--execute", "--json", c,
                                   hello })
      assert.are.equal(0, code, err)
      local doc = document(out)
      assert.are.equal(c, doc.target)
      assert.is_true(doc.execute.ok)
      assert.are.equal("Hello, ZeroVM world!\n", doc.execute.output)
    end)
  end)

  describe("zpm execute --format json", function()
    it("the result, the summary's numbers and the output", function()
      local c = new_container()
      assert.are.equal(0, select(3, zpm({ "deploy", "-q", c, hello })))
      local out, err, code = zpm({ "execute", "--format", "json",
                                   "--container", c, "hello.zapp" })
      assert.are.equal(0, code, err)
      local doc = document(out)
      assert.are.same({ "ok", "total_time", "nodes", "failed", "output" },
                      json.ordered_keys(json.decode_ordered(out)))
      assert.is_true(doc.ok)
      assert.is_number(doc.total_time)
      assert.are.equal(1, #doc.nodes)
      local node = doc.nodes[1]
      assert.are.equal("hello", node.node)
      assert.are.equal("ok", node.status)
      assert.are.equal(0, node.retcode)
      assert.is_number(node.node_time)
      assert.is_number(node.disk_bytes_read)
      integers(out, { "retcode", "disk_bytes_read" })
      assert.are.same({}, doc.failed)
      assert.are.equal("Hello, ZeroVM world!\n", doc.output)
    end)

    it("a failed node: the document, then exit 3 and its line", function()
      local out, err, code = zpm({ "execute", "--json", failing })
      assert.are.equal(3, code)
      local doc = document(out)
      assert.is_false(doc.ok)
      assert.are.equal("partial\n", doc.output)
      assert.are.equal(1, #doc.failed)
      assert.are.equal("hello", doc.failed[1].node)
      assert.are.equal(3, doc.failed[1].retcode)
      assert.matches("oops", doc.failed[1].stderr)
      assert.matches("^Error: node 'hello' failed: retcode 3", err)
    end)
  end)

  describe("zpm list --format json", function()
    it("the deployments, sizes as numbers", function()
      local c = new_container()
      assert.are.equal(0, select(3, zpm({ "deploy", "-q", c, hello })))
      local out, err, code = zpm({ "list", "--format", "json", c })
      assert.are.equal(0, code, err)
      local doc = document(out)
      assert.are.equal(1, #doc)
      local d = doc[1]
      assert.are.equal(c, d.target)
      assert.are.equal(c, d.container)
      assert.are.equal("hello", d.zapp)
      assert.is_number(d.bytes)
      integers(out, { "bytes" })
      assert.is_false(d.public)
      assert.is_true(d.recorded)
      assert.is_string(d.last_modified)
    end)

    it("of the account: an array holding each container's", function()
      local c = new_container()
      assert.are.equal(0, select(3, zpm({ "deploy", "-q", c, hello })))
      local out, err, code = zpm({ "list", "--json" })
      assert.are.equal(0, code, err)
      local targets = {}
      for _, d in ipairs(document(out)) do
        targets[d.target] = d
      end
      assert.is_number(targets[c].bytes)
    end)
  end)
end)
