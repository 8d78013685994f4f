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
