-- Issue 16, item 4: zpm deploy sends the web UI files in one request
-- (Swift's bulk middleware, `PUT <container>?extract-archive=tar`) when
-- the cluster's /info announces `bulk_upload`, and one PUT each
-- otherwise. Against the real Swift: the proxy's log counts the requests,
-- and a listing (curl, not zpm) compares what each path stored. Faults a
-- real Swift cannot be made to show on demand (one member refused inside
-- the bulk request, /info without bulk_upload) come from
-- spec/support/bulk_fault.py, a filter in a second Swift's pipeline.
local util = require("support.util")
local servers = require("support.servers")
local json = require("zpm.json")
local core = require("zpm.core")

local counter = 0

local function new_container()
  counter = counter + 1
  return ("bulk-%d-%d"):format(os.time(), counter)
end

-- UI files with names a tar or a URL could get wrong
local ODD = {
  ["files/with space.txt"] = "spaces\n",
  ["files/ünïcödé/çà.css"] = "body { color: red }\n",
  ["files/odd %20#?&+=;@!$'(),~.json"] = '{"odd": true}\n',
  [("files/" .. ("long-directory-name/"):rep(8) .. "deep.js")] =
    "console.log(1)\n",
}

-- a project with a web UI (the template's, ODD and `extra` files under
-- files/), bundled
local function bundled_project(extra)
  local dir = util.tmpdir()
  util.zpm({ "new", "-u", "app" }, { cwd = dir })
  local root = dir .. "/app"
  util.write(root .. "/main.py", "print('hi')\n")
  for _, set in ipairs({ ODD, extra or {} }) do
    for name, data in pairs(set) do
      local path = root .. "/" .. name
      os.execute("mkdir -p " .. util.quote(path:match("^(.*)/")))
      util.write(path, data)
    end
  end
  local yaml = util.read(root .. "/zapp.yaml")
  yaml = yaml:gsub("\n%- style%.css\n", "\n- style.css\n- files\n")
  util.write(root .. "/zapp.yaml", yaml)
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/app.zapp", root
end

-- a token and the storage URL, from v1 auth with curl
local function auth(sw)
  local out = util.sh("curl -sf -D - -o /dev/null -H "
    .. util.quote("X-Auth-User: " .. sw.ST_USER) .. " -H "
    .. util.quote("X-Auth-Key: " .. sw.ST_KEY) .. " "
    .. util.quote(sw.ST_AUTH))
  return out:match("[Xx]%-[Aa]uth%-[Tt]oken: *([^\r\n]+)"),
    out:match("[Xx]%-[Ss]torage%-[Uu]rl: *([^\r\n]+)")
end

-- the container's web UI objects (not the image, the job, the zapp, the
-- record): name -> { hash, bytes, content_type }
local function ui_listing(sw, c)
  local token, url = auth(sw)
  local out = util.sh("curl -sf -H " .. util.quote("X-Auth-Token: " .. token)
    .. " " .. util.quote(url .. "/" .. c .. "?format=json"))
  local objects = {}
  for _, o in ipairs(assert(json.decode(out))) do
    if not (o.name:find("^%.zapp/") or o.name == "boot/system.map"
            or o.name == "app.zapp") then
      objects[o.name] = { hash = o.hash, bytes = o.bytes,
                          content_type = o.content_type }
    end
  end
  return objects
end

-- zpm deploy --json ARGS as the v1 user of sw: the result (or nil), the
-- proxy's log lines for the container meanwhile, stderr and the exit code
local function deploy(sw, args)
  local log = sw.SWIFT_DIR .. "/log/proxy.log"
  local start = #util.read(log)
  local argv = { "deploy", "--json", "-v" }
  table.move(args, 1, #args, #argv + 1, argv)
  local out, err, code = util.zpm(argv, { env = util.v1_env(sw) })
  local c = args[#args - 1]:match("^[^/]+")
  -- the lock's DELETE is the deploy's last request
  util.wait_until(function()
    return util.read(log):find(" DELETE /v1/AUTH_test/" .. c
      .. "/.zapp/deploy.lock", start, true)
  end, 10)
  local lines = {}
  for line in util.read(log):sub(start + 1):gmatch("[^\n]+") do
    if line:find("/v1/AUTH_test/" .. c, 1, true) then
      lines[#lines + 1] = line
    end
  end
  return code == 0 and json.decode(out) or nil, lines, err, code
end

-- the bulk requests zpm sent (the client's, not the bulk middleware's
-- own PUTs) and the member PUTs the bulk middleware made, in `lines`
local function bulk_requests(lines, c)
  local client, members = {}, {}
  for _, line in ipairs(lines) do
    if line:find(" PUT /v1/AUTH_test/" .. c .. "%3Fextract-archive%3Dtar ",
                 1, true) then
      client[#client + 1] = line
    elseif line:find("BulkExpand", 1, true) and line:find(" PUT ", 1, true)
    then
      members[#members + 1] = line
    end
  end
  return client, members
end

local function unquote(s)
  return (s:gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end))
end

-- s as a Lua pattern that matches it literally
local function literal(s)
  return (s:gsub("%p", "%%%0"))
end

-- the object PUTs zpm itself sent for UI files (not through the bulk
-- middleware): their object names (the log quotes a quoted path)
local function direct_ui_puts(lines, c)
  local names = {}
  for _, line in ipairs(lines) do
    local path = line:match("^proxy%-server: 127%.0%.0%.1 %S+ %S+ PUT "
      .. "/v1/AUTH_test/" .. literal(c) .. "/(%S+) ")
    path = path and unquote(unquote(path))
    if path and not path:find("^%.zapp/") and path ~= "boot/system.map"
       and not path:find("^app%.zapp") then
      names[#names + 1] = path
    end
  end
  return names
end

local function ui_count(listing)
  local n = 0
  for _ in pairs(listing) do
    n = n + 1
  end
  return n
end

describe("zpm deploy of a web UI through Swift's bulk middleware", function()
  local sw, zapp
  setup(function()
    sw = servers.swift()
    zapp = bundled_project()
  end)
  teardown(util.cleanup)

  it("sends it in one extract-archive request, stored as one PUT each "
     .. "stores it", function()
    local c1, c2 = new_container(), new_container()
    local r1, lines1, err1 = deploy(sw, { c1, zapp })
    assert.is_not_nil(r1, err1)
    local client, members = bulk_requests(lines1, c1)
    assert.are.equal(1, #client, table.concat(lines1, "\n"))
    assert.matches(" HTTP/1%.[01] 200 ", client[1])
    assert.are.same({}, direct_ui_puts(lines1, c1))
    assert.matches("uploading 7 web UI files in one request", err1)
    -- ODD's 4, index.html, style.css, zerocloud.js
    assert.are.equal(7, #members)
    local r2, lines2, err2 = deploy(sw, { "--ui-upload", "parallel", c2,
                                          zapp })
    assert.is_not_nil(r2, err2)
    assert.are.equal(0, #bulk_requests(lines2, c2))
    assert.are.equal(7, #direct_ui_puts(lines2, c2))
    -- the same names, bytes, Etags and content types either way
    local l1, l2 = ui_listing(sw, c1), ui_listing(sw, c2)
    assert.are.equal(7, ui_count(l1))
    assert.are.same(l2, l1)
    for name, data in pairs(ODD) do
      local o = l1[name]
      assert.is_not_nil(o, name)
      assert.are.equal(core.md5(data), o.hash)
      assert.are.equal(#data, o.bytes)
    end
    assert.are.equal("text/html", l1["index.html"].content_type)
    assert.are.equal("text/css", l1["files/ünïcödé/çà.css"].content_type)
    assert.are.equal("application/javascript",
                     l1["zerocloud.js"].content_type)
    assert.are.equal("application/json",
      l1["files/odd %20#?&+=;@!$'(),~.json"].content_type)
    -- what the deploy reports written is what it stored
    for _, r in ipairs({ r1, r2 }) do
      local c = r == r1 and c1 or c2
      local seen = {}
      for _, path in ipairs(r.objects) do
        seen[path] = true
      end
      for name in pairs(l1) do
        assert.is_true(seen[c .. "/" .. name], name)
      end
    end
  end)

  it("splits many files into requests sent at once", function()
    -- 4 ODD, 3 of the template's and 25: 32 files, two requests of 16
    local many = {}
    for i = 1, 25 do
      many[("files/many/f%03d.txt"):format(i)] = ("file %d\n"):format(i)
    end
    local big = bundled_project(many)
    local c = new_container()
    local r, lines, err = deploy(sw, { c, big })
    assert.is_not_nil(r, err)
    assert.matches("uploading 32 web UI files in 2 requests at once", err)
    local client, members = bulk_requests(lines, c)
    assert.are.equal(2, #client)
    assert.are.equal(32, #members)
    assert.are.same({}, direct_ui_puts(lines, c))
    local l = ui_listing(sw, c)
    assert.are.equal(32, ui_count(l))
    for name, data in pairs(many) do
      assert.are.equal(core.md5(data), l[name] and l[name].hash, name)
      assert.are.equal("text/plain", l[name].content_type)
    end
    -- with --concurrency 1: one request
    local c2 = new_container()
    local r2, lines2, err2 = deploy(sw, { "--concurrency", "1", c2, big })
    assert.is_not_nil(r2, err2)
    assert.are.equal(1, #bulk_requests(lines2, c2))
    assert.are.same(l, ui_listing(sw, c2))
  end)

  it("goes one PUT each with --ui-upload parallel, and for one file",
     function()
    local c = new_container()
    local r, lines, err = deploy(sw, { "--ui-upload", "parallel", c, zapp })
    assert.is_not_nil(r, err)
    assert.are.equal(0, #bulk_requests(lines, c))
    -- --skip-identical with one UI file changed: no tar for one file
    local changed = bundled_project({ ["files/with space.txt"] = "new\n" })
    local r2, lines2, err2 = deploy(sw, { "-f", "--skip-identical", c,
                                          changed })
    assert.is_not_nil(r2, err2)
    assert.are.equal(0, #bulk_requests(lines2, c))
    assert.are.same({ "files/with space.txt" }, direct_ui_puts(lines2, c))
  end)

  it("puts only the files that differ into the tar with --skip-identical",
     function()
    local c = new_container()
    assert.is_not_nil((deploy(sw, { c, zapp })))
    local changed = bundled_project({
      ["files/with space.txt"] = "changed\n",
      ["files/ünïcödé/çà.css"] = "body { color: blue }\n" })
    local r, lines, err = deploy(sw, { "-f", "--skip-identical", c,
                                       changed })
    assert.is_not_nil(r, err)
    local client, members = bulk_requests(lines, c)
    assert.are.equal(1, #client)
    assert.are.equal(2, #members, table.concat(members, "\n"))
    assert.are.same({}, direct_ui_puts(lines, c))
    local l = ui_listing(sw, c)
    assert.are.equal(core.md5("changed\n"), l["files/with space.txt"].hash)
    assert.are.equal(core.md5("body { color: blue }\n"),
                     l["files/ünïcödé/çà.css"].hash)
  end)

  it("refuses an unknown --ui-upload", function()
    local out, err, code = util.zpm({ "deploy", "--ui-upload", "tar",
      new_container(), zapp }, { env = util.v1_env(sw) })
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("ui%-upload", err)
  end)
end)

describe("zpm deploy of a web UI, bulk faults (spec/support/bulk_fault.py)",
         function()
  local sw, hide
  setup(function()
    local dir = util.tmpdir()
    hide = dir .. "/hide-bulk"
    sw = servers.swift({ dir = dir .. "/swift",
      filters = { "bulk_fault=bulk_fault:filter_factory" },
      filter_conf = { "bulk_fault:hide_bulk_file=" .. hide },
      pythonpath = { util.source_dir .. "/spec/support" } })
  end)
  teardown(function()
    servers.stop_all()
    util.cleanup()
  end)

  it("sends again by itself a file the bulk request did not store",
     function()
    local zapp = bundled_project({ ["files/fail-in-bulk.txt"] = "again\n" })
    local c = new_container()
    local r, lines, err = deploy(sw, { c, zapp })
    assert.is_not_nil(r, err)
    local client, members = bulk_requests(lines, c)
    assert.are.equal(1, #client)
    -- the refused one is not logged: the filter answers before the
    -- proxy's logging middleware
    assert.are.equal(7, #members)
    assert.matches(literal(c) .. "/files/fail%-in%-bulk%.txt: 503 Service "
      .. "Unavailable in the bulk upload; sending it by itself", err)
    -- one PUT of its own for that file, none for the others
    assert.are.same({ "files/fail-in-bulk.txt" }, direct_ui_puts(lines, c))
    local l = ui_listing(sw, c)
    assert.are.equal(8, ui_count(l))
    assert.are.equal(core.md5("again\n"), l["files/fail-in-bulk.txt"].hash)
    assert.are.equal("text/plain", l["files/fail-in-bulk.txt"].content_type)
    local seen = {}
    for _, path in ipairs(r.objects) do
      seen[path] = true
    end
    assert.is_true(seen[c .. "/files/fail-in-bulk.txt"])
    assert.is_true(seen[c .. "/index.html"])
  end)

  it("fails, naming the file, when the file's own PUT fails too",
     function()
    local zapp = bundled_project({ ["files/fail-always.txt"] = "never\n" })
    local c = new_container()
    local r, lines, err, code = deploy(sw, { c, zapp })
    assert.is_nil(r)
    assert.are.equal(1, code)
    assert.matches("Error: Object PUT [^\n]*/" .. literal(c)
      .. "/files/fail%-always%.txt 400 Bad Request", err)
    assert.are.equal(1, #bulk_requests(lines, c))
    assert.are.same({ "files/fail-always.txt" }, direct_ui_puts(lines, c))
    -- the others were stored, and the message says so; the image is gone
    assert.matches("objects written before the failure: [^\n]*"
      .. literal(c) .. "/index%.html", err)
    assert.is_nil(err:find("written before the failure: [^\n]*fail%-always"))
    local l = ui_listing(sw, c)
    assert.are.equal(7, ui_count(l))
    assert.is_nil(l["files/fail-always.txt"])
    assert.is_nil(util.swift_cli(sw, "list " .. c):find("^%.zapp/%d"))
  end)

  it("goes one PUT each when /info does not announce bulk_upload",
     function()
    util.write(hide, "")
    local zapp = bundled_project()
    local c = new_container()
    local r, lines, err = deploy(sw, { "--ui-upload", "bulk", c, zapp })
    os.remove(hide)
    assert.is_not_nil(r, err)
    assert.matches("announces no bulk_upload", err)
    assert.are.equal(0, #bulk_requests(lines, c))
    assert.are.equal(7, #direct_ui_puts(lines, c))
    assert.are.equal(7, ui_count(ui_listing(sw, c)))
  end)
end)
