-- examples/release.lua: versioned, all-or-nothing releases of several
-- zapps through the Lua API, against the real Swift.
local util = require("support.util")
local servers = require("support.servers")

local sw

local function swift(args)
  return util.sh(("/usr/bin/swift -A %s -U %s -K %s %s"):format(
    util.quote(sw.ST_AUTH), util.quote(sw.ST_USER), util.quote(sw.ST_KEY),
    args), { env = { OS_AUTH_URL = "" } })
end

local function project(name, extra_files, yaml_extra)
  local dir = util.tmpdir() .. "/" .. name
  os.execute("mkdir -p " .. dir)
  util.write(dir .. "/zapp.yaml", ([[
execution:
  groups:
  - {name: main, path: "file://python3:python", args: main.py}
meta: {name: %s}
bundling: [main.py]
%s]]):format(name, yaml_extra or ""))
  util.write(dir .. "/main.py", "print('hi')\n")
  for file, content in pairs(extra_files or {}) do
    util.write(dir .. "/" .. file, content)
  end
  return dir
end

local function release(version, dirs)
  local cmd = { ("cd %s && LUA_PATH=%s LUA_CPATH=%s ST_AUTH=%s ST_USER=%s "
    .. "ST_KEY=%s OS_AUTH_URL= lua5.4 examples/release.lua %s"):format(
    util.quote(util.source_dir),
    util.quote(util.source_dir .. "/lua/?.lua;" .. util.source_dir
      .. "/lua/?/init.lua;;"), util.quote(util.build_dir .. "/?.so;;"),
    util.quote(sw.ST_AUTH), util.quote(sw.ST_USER), util.quote(sw.ST_KEY),
    util.quote(version)) }
  for _, d in ipairs(dirs) do
    cmd[#cmd + 1] = util.quote(d)
  end
  return util.sh(table.concat(cmd, " "))
end

local stamp = tostring(os.time())

describe("examples/release.lua", function()
  setup(function()
    sw = servers.swift()
  end)
  teardown(util.cleanup)

  it("deploys every zapp to <name>/<version>", function()
    local a, b = project("rela" .. stamp), project("relb" .. stamp)
    local out, err, code = release("1.0", { a, b })
    assert.are.equal(0, code, err)
    assert.matches("rela" .. stamp .. " 1%.0 %-> ", out)
    assert.matches("relb" .. stamp .. " 1%.0 %-> ", out)
    assert.matches("1%.0/boot/system%.map\n",
                   swift("list rela" .. stamp))
    assert.matches("1%.0/relb" .. stamp .. "%.zapp\n",
                   swift("list relb" .. stamp))
  end)

  it("uploads nothing when a zapp does not bundle", function()
    local a = project("relc" .. stamp)
    local broken = project("reld" .. stamp, nil, "ui: ['*.none']\n")
    os.remove(broken .. "/main.py")
    local _, err, code = release("2.0", { a, broken })
    assert.are.equal(1, code)
    assert.matches("release failed: .*None of the files", err)
    assert.are_not.equal(0, select(3, swift("stat relc" .. stamp)))
  end)

  it("removes what it deployed when a later deploy fails", function()
    local a = project("rele" .. stamp)
    local bad = project("relf" .. stamp,
      { ["index.html.tmpl"] = "{% for x in %}" }, "ui: [index.html.tmpl]\n")
    local _, err, code = release("3.0", { a, bad })
    assert.are.equal(1, code)
    assert.matches("release failed: relf" .. stamp .. "/3%.0: ", err)
    assert.matches("removed rele" .. stamp .. "/3%.0/boot/system%.map", err)
    assert.are.equal("", swift("list rele" .. stamp))
    -- the failed deploy's own tar was taken back too
    assert.matches("removed relf" .. stamp .. "/3%.0/relf" .. stamp
                   .. "%.zapp", err)
    assert.are.equal("", swift("list relf" .. stamp))
  end)
end)
