-- Issue 17, items 1 and 2, without a server: which listings are
-- deployments (zpm.lifecycle.find), the job arguments the CLI sets
-- (zpm.execute.set_args, as the web page sets them), and the text of
-- `zpm list` and `zpm deploy --dry-run`.
local lifecycle = require("zpm.lifecycle")
local execute = require("zpm.execute")
local json = require("zpm.json")

local V1 = "20261201T100000Z-00abcd"
local V2 = "20261201T110000Z-01abcd"

local function entries(names)
  local out = {}
  for i, n in ipairs(names) do
    out[i] = { name = n, bytes = i * 10, last_modified = "2026-12-01T10:00:0"
               .. i .. ".000000" }
  end
  return out
end

describe("zpm.lifecycle.find", function()
  it("finds a deployment at the container and under a directory", function()
    local found = lifecycle.find(entries({
      ".zapp/" .. V1 .. "/app.zapp", ".zapp/deploy.json", "app.zapp",
      "boot/system.map", "index.html",
      "sub/.zapp/" .. V1 .. "/b.zapp", "sub/.zapp/" .. V2 .. "/b.zapp",
      "sub/boot/system.map" }))
    assert.are.same({ "", "sub/" }, (function()
      local dirs = {}
      for d in pairs(found) do dirs[#dirs + 1] = d end
      table.sort(dirs)
      return dirs
    end)())
    assert.are.equal("boot/system.map", found[""].job.name)
    assert.are.equal(".zapp/deploy.json", found[""].record.name)
    assert.are.equal(1, #found[""].images)
    assert.are.equal(V1, found[""].images[1].version)
    assert.are.equal("app.zapp", found[""].images[1].file)
    assert.is_nil(found["sub/"].record)
    assert.are.equal(2, #found["sub/"].images)
  end)

  it("needs a job and an image or a record", function()
    assert.are.same({}, lifecycle.find(entries({ "boot/system.map",
      "index.html" })))
    assert.are.same({}, lifecycle.find(entries({
      ".zapp/" .. V1 .. "/app.zapp", ".zapp/deploy.json" })))
    -- segments and the lock are not images
    assert.are.same({}, lifecycle.find(entries({ "boot/system.map",
      ".zapp/deploy.lock", ".zapp/" .. V1 .. "/app.zapp/slo/1.2/3/00000000"
    })))
    -- "xboot/system.map" is not a job of the container
    assert.are.same({}, lifecycle.find(entries({ "xboot/system.map",
      ".zapp/deploy.json" })))
  end)

  it("with partial, finds what an undeploy cut after the job left",
     function()
    local found = lifecycle.find(entries({ ".zapp/" .. V1 .. "/app.zapp",
      ".zapp/deploy.json", "index.html" }), true)
    assert.is_nil(found[""].job)
    assert.are.equal(".zapp/deploy.json", found[""].record.name)
    assert.are.same({}, lifecycle.find(entries({ "index.html",
      ".zapp/deploy.lock" }), true))
  end)
end)

describe("zpm.execute.set_args", function()
  local function job_of(text)
    return json.decode_ordered(text)
  end
  local TWO = [=[[{"name": "map", "exec": {"path": "file://p:python",
    "args": "map.py"}}, {"name": "reduce", "exec": {"path": "x"}}]]=]

  it("appends named arguments in help.args order, escaped, to every "
     .. "group", function()
    local j = assert(execute.set_args(job_of(TWO), {
      named = { { "count", "3" }, { "text", 'a "b", c\\d' } } },
      { "text", "count" }))
    assert.are.equal([[map.py a\x20\x22b\x22\x2c\x20c\x5cd 3]],
                     j[1].exec.args)
    assert.are.equal([[a\x20\x22b\x22\x2c\x20c\x5cd 3]], j[2].exec.args)
    -- key order kept: path, then args
    assert.are.equal('{"name": "reduce", "exec": {"path": "x", "args": '
      .. '"a\\\\x20\\\\x22b\\\\x22\\\\x2c\\\\x20c\\\\x5cd 3"}}',
      json.encode(j[2]))
  end)

  it("leaves out an empty named argument, as the page does", function()
    local j = assert(execute.set_args(job_of(TWO), {
      named = { { "a", "" }, { "b", "x" } } }, { "a", "b" }))
    assert.are.equal("map.py x", j[1].exec.args)
  end)

  it("splits --args like a shell and --group-args for one group",
     function()
    local j = assert(execute.set_args(job_of(TWO), {
      words = { [[one 'two three']] }, groups = { { "reduce", "r\\,s" } } }))
    assert.are.equal([[map.py one two\x20three]], j[1].exec.args)
    assert.are.equal([[one two\x20three r\x2cs]], j[2].exec.args)
  end)

  it("gives a group without exec its arguments", function()
    local j = assert(execute.set_args(job_of('[{"name": "g"}]'),
                                      { words = { "w" } }))
    assert.are.equal("w", j[1].exec.args)
  end)

  local failures = {
    { { named = { { "nope", "1" } } }, { "count" },
      "--arg nope: the zapp has no argument of that name (its help.args: "
      .. "count)" },
    { { named = { { "count", "1" }, { "count", "2" } } }, { "count" },
      "--arg count is given twice" },
    { { named = { { "count", "1" } } }, nil,
      "--arg count: the deployment does not say which arguments the zapp "
      .. "takes (its help.args): give the words with --args instead" },
    { { groups = { { "nogroup", "x" } } }, nil,
      "--group-args nogroup: the job has no group of that name (its "
      .. "groups: map, reduce)" },
  }
  for _, case in ipairs(failures) do
    it("refuses: " .. case[3], function()
      local j, err, code = execute.set_args(job_of(TWO), case[1], case[2])
      assert.is_nil(j)
      assert.are.equal(case[3], err)
      assert.are.equal("invalid", code)
    end)
  end

  it("refuses words that do not split", function()
    local j, err, code = execute.set_args(job_of(TWO),
                                          { words = { "'open" } })
    assert.is_nil(j)
    assert.matches("^%-%-args 'open: ", err)
    assert.are.equal("invalid", code)
  end)
end)

describe("zpm list's text", function()
  it("aligns the columns, '-' for nothing and '?' for not recorded",
     function()
    local text = require("zpm.cmd.list").format({
      { target = "c", zapp = "app", version = "1.0", bytes = 10240,
        segments = 3, public = true, recorded = true,
        last_modified = "2026-12-01T10:00:00.123456" },
      { target = "c/long-name", file = "x.zapp", bytes = 5, public = false,
        recorded = false, last_modified = "2026-12-01T11:00:00.000000" },
      { target = "d", zapp = "b", bytes = 7, recorded = true,
        public = false, last_modified = "2026-12-01T12:00:00" },
    })
    assert.are.equal(
      "TARGET       ZAPP  VERSION  BYTES  SEGMENTS  PUBLIC  LAST MODIFIED\n"
   .. "c            app   1.0      10240  3         yes     2026-12-01T10:00:00\n"
   .. "c/long-name  ?     ?        5      ?         no      2026-12-01T11:00:00\n"
   .. "d            b     -        7      -         no      2026-12-01T12:00:00\n",
      text)
  end)
end)

-- A connection that answers from tables: containers { name = { entries,
-- headers } }, objects { "c/o" = body }.
local function fake_conn(containers, objects)
  local conn = {}
  local function missing(what)
    return nil, what .. " failed: 404 Not Found", "http", { status = 404 }
  end
  function conn:list_containers(opts)
    local names = {}
    for name in pairs(containers) do
      if not opts.marker or name > opts.marker then
        names[#names + 1] = { name = name, count = 0, bytes = 0 }
      end
    end
    table.sort(names, function(a, b) return a.name < b.name end)
    return names
  end
  function conn:list_objects(c, opts)
    local box = containers[c]
    if not box or box.gone then
      return missing("Container GET")
    end
    local out = {}
    for _, e in ipairs(box.entries) do
      if (not opts.marker or e.name > opts.marker)
         and (not opts.prefix or e.name:sub(1, #opts.prefix) == opts.prefix)
      then
        out[#out + 1] = e
      end
    end
    return out
  end
  function conn:head_container(c)
    local box = containers[c]
    if not box then
      return missing("Container HEAD")
    end
    return box.headers or {}
  end
  function conn:get_object(c, o)
    local body = objects[c .. "/" .. o]
    if not body then
      return missing("Object GET")
    end
    return body, {}
  end
  return conn
end

describe("zpm.lifecycle.list (no server)", function()
  local record = json.encode({ zapp = "app", version = "2.0",
    file = "app.zapp", image = "c/.zapp/" .. V1 .. "/app.zapp",
    segments = 3, deployed = "2026-12-01T10:00:00Z",
    args = json.array({ "n" }), objects = json.array({ "c/index.html" }) })

  it("reads the record, the ACL and the job's time", function()
    local conn = fake_conn({ c = { entries = entries({
      ".zapp/" .. V1 .. "/app.zapp", ".zapp/deploy.json", "app.zapp",
      "boot/system.map", "index.html" }),
      headers = { ["x-container-read"] = ".r:*,.rlistings" } } },
      { ["c/.zapp/deploy.json"] = record })
    local list = assert(lifecycle.list(conn, "c"))
    assert.are.equal(1, #list)
    local d = list[1]
    assert.are.same({ "c", "app", "2.0", "app.zapp",
                      "c/.zapp/" .. V1 .. "/app.zapp", 10, 3, true,
                      "2026-12-01T10:00:04.000000", true },
      { d.target, d.zapp, d.version, d.file, d.image, d.bytes, d.segments,
        d.public, d.last_modified, d.recorded })
    assert.are.same({ "n" }, d.args)
  end)

  it("skips, across the account, a container deleted meanwhile",
     function()
    local conn = fake_conn({
      a = { gone = true },
      b = { entries = entries({ ".zapp/" .. V1 .. "/x.zapp",
                                "boot/system.map" }) } }, {})
    local list = assert(lifecycle.list(conn))
    assert.are.equal(1, #list)
    assert.are.same({ "b", "x.zapp", false, false },
      { list[1].target, list[1].file, list[1].recorded, list[1].public })
    assert.is_nil(list[1].zapp)
  end)

  it("says a named container is not found", function()
    local list, err, code = lifecycle.list(fake_conn({}, {}), "nope")
    assert.is_nil(list)
    assert.are.equal("container 'nope' not found", err)
    assert.are.equal("notfound", code)
  end)
end)

describe("zpm.lifecycle.undeploy_plan (no server)", function()
  it("removes the job first, the record last, orphan segments too",
     function()
    local record = json.encode({ file = "app.zapp",
      image = "c/d/.zapp/" .. V2 .. "/app.zapp",
      objects = json.array({ "c/d/index.html", "c/d/boot/system.map",
        "c/other/x", "c/d/.zapp/" .. V1 .. "/app.zapp" }) })
    local conn = fake_conn({
      c = { entries = entries({ "d/.zapp/" .. V2 .. "/app.zapp",
        "d/.zapp/deploy.json", "d/app.zapp", "d/boot/system.map",
        "d/index.html" }) },
      c_segments = { entries = entries({
        "d/.zapp/" .. V1 .. "/app.zapp/slo/1.2/10/00000000",
        "d/.zapp/" .. V2 .. "/app.zapp/slo/1.3/10/00000000",
        "e/.zapp/" .. V1 .. "/app.zapp/slo/1.4/10/00000000" }) } },
      { ["c/d/.zapp/deploy.json"] = record })
    local plan = assert(lifecycle.undeploy_plan(conn, "c/d/"))
    local got = {}
    for i, o in ipairs(plan.objects) do
      got[i] = o.kind .. " " .. o.path
    end
    assert.are.same({
      "job c/d/boot/system.map",
      "object c/d/index.html",
      "name c/d/app.zapp",
      "image c/d/.zapp/" .. V2 .. "/app.zapp",
      "segment c_segments/d/.zapp/" .. V1 .. "/app.zapp/slo/1.2/10/00000000",
      "record c/d/.zapp/deploy.json",
    }, got)
    assert.are.equal("c/d", plan.target)
    assert.is_true(plan.recorded)
  end)

  it("finishes an undeploy cut after it removed the job", function()
    local conn = fake_conn({
      c = { entries = entries({ "d/.zapp/" .. V2 .. "/app.zapp",
        "d/.zapp/deploy.json", "d/index.html" }) } },
      { ["c/d/.zapp/deploy.json"] = json.encode({ file = "app.zapp",
        objects = json.array({ "c/d/index.html" }) }) })
    local plan = assert(lifecycle.undeploy_plan(conn, "c/d"))
    local got = {}
    for i, o in ipairs(plan.objects) do
      got[i] = o.kind .. " " .. o.path
    end
    assert.are.same({
      "job c/d/boot/system.map",
      "object c/d/index.html",
      "name c/d/app.zapp",
      "image c/d/.zapp/" .. V2 .. "/app.zapp",
      "record c/d/.zapp/deploy.json",
    }, got)
  end)

  it("ignores record names outside the target", function()
    local conn = fake_conn({
      c = { entries = entries({ "d/.zapp/" .. V2 .. "/app.zapp",
        "d/.zapp/deploy.json", "d/boot/system.map" }) } },
      { ["c/d/.zapp/deploy.json"] = json.encode({
        file = "../../f/app.zapp",
        objects = json.array({ "c/d/../f/boot/system.map", "c/d//x",
          "c/d/./y", "f/boot/system.map", "c/d/ok.html" }) }) })
    local plan = assert(lifecycle.undeploy_plan(conn, "c/d"))
    local got = {}
    for i, o in ipairs(plan.objects) do
      got[i] = o.path
    end
    assert.are.same({ "c/d/boot/system.map", "c/d/ok.html", "c/d/app.zapp",
      "c/d/.zapp/" .. V2 .. "/app.zapp", "c/d/.zapp/deploy.json" }, got)
  end)

  it("refuses what is not a deployment", function()
    local conn = fake_conn({ c = { entries = entries({ "index.html" }) } },
                           {})
    local plan, err, code = lifecycle.undeploy_plan(conn, "c")
    assert.is_nil(plan)
    assert.matches("^'c' does not look like a zapp deployment", err)
    assert.are.equal("invalid", code)
    plan, err, code = lifecycle.undeploy_plan(conn, "c/../x")
    assert.is_nil(plan)
    assert.are.equal("invalid", code)
    plan, err, code = lifecycle.undeploy_plan(fake_conn({}, {}), "gone")
    assert.is_nil(plan)
    assert.are.equal("'gone' is not a zapp deployment: container 'gone' "
                     .. "not found", err)
    assert.are.equal("notfound", code)
  end)
end)
