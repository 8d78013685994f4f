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

-- a literal string as a Lua pattern
local function pat(s)
  return (s:gsub("%p", "%%%0"))
end

-- examples/release.lua VERSION DIR... (with `more` arguments first)
local function release(version, dirs, more)
  local cmd = { ("cd %s && LUA_PATH=%s LUA_CPATH=%s ST_AUTH=%s ST_USER=%s "
    .. "ST_KEY=%s OS_AUTH_URL= lua5.4 examples/release.lua"):format(
    util.quote(util.source_dir),
    util.quote(util.source_dir .. "/lua/?.lua;" .. util.source_dir
      .. "/lua/?/init.lua;;"), util.quote(util.build_dir .. "/?.so;;"),
    util.quote(sw.ST_AUTH), util.quote(sw.ST_USER), util.quote(sw.ST_KEY)) }
  for _, a in ipairs(more or {}) do
    cmd[#cmd + 1] = util.quote(a)
  end
  cmd[#cmd + 1] = util.quote(version)
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
    for _, name in ipairs({ "rela" .. stamp, "relb" .. stamp }) do
      local listing = swift("list " .. name)
      assert.matches(("^1%%.0/%%.zapp/%%d+T%%d+Z%%-%%x+/%s%%.zapp\n"
        .. "1%%.0/%%.zapp/deploy%%.json\n"
        .. "1%%.0/boot/system%%.map\n1%%.0/%s%%.zapp\n$"):format(name, name),
        listing)
    end
  end)

  it("does not release a version twice", function()
    local a = project("rela" .. stamp)
    local before = swift("list rela" .. stamp)
    local _, err, code = release("1.0", { a })
    assert.are.equal(1, code)
    assert.are.equal("release failed: rela" .. stamp .. "/1.0 is released "
                     .. "already\n", err)
    assert.are.equal(before, swift("list rela" .. stamp))
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
    -- what the first deploy wrote goes, the job first; the failed deploy
    -- took its own image back (before any web UI file): nothing of it
    -- to remove
    local e, f = pat("rele" .. stamp .. "/3.0/"), pat("relf" .. stamp)
    assert.matches("^release failed: " .. f .. "/3%.0: index%.html%.tmpl:1: "
      .. "[^\n]+\n"
      .. "  removed " .. e .. "%.zapp/deploy%.json\n"
      .. "  removed " .. e .. "rele" .. stamp .. "%.zapp\n"
      .. "  removed " .. e .. "boot/system%.map\n"
      .. "  removed " .. e .. "%.zapp/%d+T%d+Z%-%x+/rele" .. stamp
      .. "%.zapp\n$", err)
    assert.are.equal("", swift("list rele" .. stamp))
    assert.are.equal("", swift("list relf" .. stamp))
  end)

  it("removes Static Large Object images with their segments", function()
    local a = project("relg" .. stamp)
    local bad = project("relh" .. stamp,
      { ["index.html.tmpl"] = "{% for x in %}" }, "ui: [index.html.tmpl]\n")
    -- a tar of three members is a few KiB: segments of 1 KiB make both
    -- images SLOs (deploy says so, once each)
    local _, err, code = release("4.0", { a, bad },
                                 { "--segment-size", "1024" })
    assert.are.equal(1, code)
    local warning = "WARNING: the zapp's tar is larger than 1%.0 KiB "
      .. "%(1024 bytes%): uploading it as a Static Large Object[^\n]+\n"
    assert.matches("^" .. warning .. warning .. "release failed: relh"
                   .. stamp .. "/4%.0: ", err)
    assert.matches("\n  removed relg" .. stamp .. "/4%.0/%.zapp/%d+T%d+Z%-"
                   .. "%x+/relg" .. stamp .. "%.zapp\n$", err)
    assert.is_nil(err:find("FAILED", 1, true), err)
    -- the segments were there: the containers exist, and are empty
    for _, name in ipairs({ "relg" .. stamp, "relh" .. stamp }) do
      assert.are.equal(0, select(3, swift("stat " .. name .. "_segments")))
      assert.are.equal("", swift("list " .. name .. "_segments"))
      assert.are.equal("", swift("list " .. name))
    end
  end)

  it("releases Static Large Object images that read as the tar", function()
    local a = project("reli" .. stamp)
    local out, err, code = release("5.0", { a },
                                   { "--segment-size", "1024" })
    assert.are.equal(0, code, err)
    assert.matches("reli" .. stamp .. " 5%.0 %-> ", out)
    local tar = util.sh("gzip -dc " .. util.quote(a .. "/reli" .. stamp
                                                  .. ".zapp"))
    local segments = util.lines(swift("list reli" .. stamp .. "_segments"))
    assert.are.equal((#tar + 1023) // 1024, #segments)
    assert.are.equal(tar, swift("download reli" .. stamp .. " 5.0/reli"
                                .. stamp .. ".zapp -o -"))
  end)
end)
