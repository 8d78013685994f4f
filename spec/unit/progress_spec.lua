-- zpm.core.progress, zpm.core.isatty and the archive writer's progress
-- option. What a meter draws is checked in a Lua subprocess whose stderr
-- is captured; in this process meters draw on a closed fd (turned off).
local core = require("zpm.core")
local util = require("support.util")

local CLOSED_FD = 1000

-- Run Lua code in a subprocess with zpm.core; returns stdout, stderr, code.
local function run_lua(code, env)
  local file = os.tmpname()
  util.write(file, code)
  env = env or {}
  env.LUA_CPATH = util.build_dir .. "/?.so;;"
  env.ZPM_PROGRESS_INTERVAL_MS = env.ZPM_PROGRESS_INTERVAL_MS or "0"
  env.COLUMNS = env.COLUMNS or "80"
  local out, err, status = util.sh("lua5.4 " .. util.quote(file),
                                   { env = env })
  os.remove(file)
  return out, err, status
end

local drawn = util.drawn

describe("zpm.core.progress", function()
  after_each(util.cleanup)

  it("draws bytes, percent and a final line on its fd", function()
    local out, err, code = run_lua([[
      local core = require("zpm.core")
      local m = core.progress.new("t", 100)
      print(m:add(50), m:set_total(200), m:set(100), m:finish(),
            m:finish(), m:close(), m:close())
    ]])
    assert.are.equal(0, code, err)
    assert.are.equal("true\ttrue\ttrue\ttrue\ttrue\ttrue\ttrue\n", out)
    -- 80 columns ($COLUMNS: a file has no window size): a 25-wide bar
    assert.are.same({
      "t        0 B / 100 B    0%  [>                        ]         --/s"
        .. "  ETA --:--",
      "t       50 B / 100 B   50%  [============>            ]         --/s"
        .. "  ETA --:--",
      "t      100 B / 200 B   50%  [============>            ]         --/s"
        .. "  ETA --:--",
    }, { table.unpack(drawn(err), 1, 3) })
    assert.are.equal(4, #drawn(err))
    assert.matches("^t +100 B / 200 B   50%%  %[=+> +%] +[%d.]+ [KMG]?i?B/s"
      .. "  in 0:00$", drawn(err)[4])
    -- every draw starts with '\r' and clears the rest of the line; only
    -- the final one ends it
    assert.matches("^\r[^\r\n]+\27%[K\r[^\r\n]+\27%[K\r[^\r\n]+\27%[K"
      .. "\r[^\r\n]+\27%[K\n$", err)
  end)

  it("draws on fd 2 by default, another when asked, not at all on a "
     .. "closed one", function()
    local out, err, code = run_lua(([[
      local core = require("zpm.core")
      local m = core.progress.new("to-stdout", 0, 1)
      m:add(2048)
      m:close()
      local c = core.progress.new("closed", 10, %d)
      print(c:add(5), c:set(10), c:finish(), c:close())
    ]]):format(CLOSED_FD))
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    assert.matches("^\rto%-stdout        0 B         %-%-/s\27%[K"
      .. "\rto%-stdout    2.0 KiB         %-%-/s\27%[K"
      .. "\rto%-stdout    2.0 KiB +[%d.]+ "
      .. "[KMG]?i?B/s  in 0:00\27%[K\ntrue\ttrue\ttrue\ttrue\n$", out)
  end)

  it("is finished by __close and by the garbage collector", function()
    local _, err, code = run_lua([[
      local core = require("zpm.core")
      do
        local m <close> = core.progress.new("scoped", 0)
        m:add(10)
      end
      core.progress.new("dropped", 0)
      collectgarbage()
      collectgarbage()
    ]])
    assert.are.equal(0, code, err)
    local lines = drawn(err)
    assert.matches("^scoped +10 B +[%d.]+ [KMG]?i?B/s  in 0:00$", lines[3])
    assert.matches("^dropped +0 B +[%d.]+ B/s  in 0:00$", lines[5])
    assert.are.equal(2, select(2, err:gsub("\n", "")))
  end)

  it("raises on wrong arguments and on a closed meter", function()
    local new = core.progress.new
    assert.has.error(function() new() end)
    assert.has.error(function() new("x") end)
    assert.has.error(function() new("x", -1, CLOSED_FD) end)
    assert.has.error(function() new("x", 1.5, CLOSED_FD) end)
    assert.has.error(function() new("x", 1, -1) end)
    assert.has.error(function() new("x", 1, "two") end)
    local m = new("x", 10, CLOSED_FD)
    assert.matches("^zpm%.core%.Progress %(", tostring(m))
    assert.has.error(function() m:add(-1) end)
    assert.has.error(function() m:add("many") end)
    assert.has.error(function() m:set(-5) end)
    assert.has.error(function() m:set_total(-5) end)
    assert.has.error(function() m.add(io.stdout, 1) end)
    assert.is_true(m:close())
    assert.is_true(m:close())
    assert.are.equal("zpm.core.Progress (closed)", tostring(m))
    assert.has.error(function() m:add(1) end,
                     "attempt to use a closed progress meter")
    assert.has.error(function() m:finish() end)
  end)

  it("has the metatable other modules look for", function()
    local m = core.progress.new("x", 0, CLOSED_FD)
    assert.are.equal(debug.getregistry()["zpm.core.Progress"], getmetatable(m))
    m:close()
  end)
end)

describe("zpm.core.isatty", function()
  it("is false for what is not a terminal", function()
    assert.is_false(core.isatty(CLOSED_FD))
    assert.is_false(core.isatty(-1))
    local out = run_lua([[print(require("zpm.core").isatty(1))]])
    assert.are.equal("false\n", out)
  end)

  it("is true on a pseudo-terminal", function()
    local file = os.tmpname()
    util.write(file, [[print(require("zpm.core").isatty(1))]])
    local out, err, code = util.sh("script -qfec " .. util.quote(
      "lua5.4 " .. util.quote(file)) .. " /dev/null </dev/null",
      { env = { LUA_CPATH = util.build_dir .. "/?.so;;" } })
    os.remove(file)
    assert.are.equal(0, code, err)
    assert.are.equal("true\r\n", out)
  end)

  it("raises on a wrong argument", function()
    assert.has.error(function() core.isatty() end)
    assert.has.error(function() core.isatty("stderr") end)
  end)
end)

describe("zpm.core.archive progress option", function()
  after_each(util.cleanup)

  it("counts the member data and is finished by commit", function()
    local dir = util.tmpdir()
    util.write(dir .. "/data", string.rep("x", 200000))
    local _, err, code = run_lua(([[
      local core = require("zpm.core")
      local dir = %q
      local w = assert(core.archive.create(dir .. "/a.zapp", {
        progress = core.progress.new("bundling a.zapp", 201000) }))
      collectgarbage()   -- the writer keeps its meter alive
      assert(w:add_memory("boot/system.map", string.rep("y", 1000)))
      assert(w:add_path(dir .. "/data", "data"))
      assert(w:commit())
      io.stderr:write("after commit\n")
    ]]):format(dir))
    assert.are.equal(0, code, err)
    local lines = drawn(err)
    assert.matches("^bundling a%.zapp +0 B / 196%.3 KiB    0%%", lines[1])
    assert.matches("^bundling a%.zapp +1000 B / 196%.3 KiB    0%%",
                   lines[2])
    assert.matches("^bundling a%.zapp +196%.3 KiB / 196%.3 KiB  100%%.*"
      .. "in 0:00$", lines[#lines - 1])
    assert.are.equal("after commit", lines[#lines])
    assert.are.same({ "boot/system.map", "data" },
                    util.members(dir .. "/a.zapp"))
  end)

  it("leaves a meter closed meanwhile alone", function()
    local dir = util.tmpdir()
    local _, err, code = run_lua(([[
      local core = require("zpm.core")
      local m = core.progress.new("m", 10)
      local w = assert(core.archive.create(%q, { progress = m }))
      assert(w:add_memory("a", "12345"))
      m:close()
      io.stderr:write("closed\n")
      assert(w:add_memory("b", "67890"))
      assert(w:commit())
    ]]):format(dir .. "/b.zapp"))
    assert.are.equal(0, code, err)
    assert.matches("\nclosed\n$", err)
    assert.are.same({ "a", "b" }, util.members(dir .. "/b.zapp"))
  end)

  it("raises on a value that is not a meter, or a closed one", function()
    local dir = util.tmpdir()
    assert.has.error(function()
      core.archive.create(dir .. "/c.zapp", { progress = {} })
    end)
    assert.has.error(function()
      core.archive.create(dir .. "/c.zapp", { progress = true })
    end)
    local m = core.progress.new("x", 0, CLOSED_FD)
    m:close()
    assert.has.error(function()
      core.archive.create(dir .. "/c.zapp", { progress = m })
    end)
  end)
end)
