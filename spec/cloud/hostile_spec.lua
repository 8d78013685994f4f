-- Hostile zapps: members that climb out with '..', absolute names,
-- symlinks out of the image, device files, sizes the archive does not
-- hold. Deploy must refuse what it would write from them (and leave the
-- target unrunnable), and the devcloud must refuse to run them.
local util = require("support.util")

local KINDS = { "dotdot", "absolute", "symlink", "device", "hugesize" }

local dir, env

local function zpm(args)
  return util.zpm(args, { env = { ST_AUTH = env.ST_AUTH,
    ST_USER = env.ST_USER, ST_KEY = env.ST_KEY, OS_AUTH_URL = "",
    OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" } })
end

local function swift(args)
  return util.sh(("/usr/bin/swift -A %s -U %s -K %s %s"):format(
    util.quote(env.ST_AUTH), util.quote(env.ST_USER), util.quote(env.ST_KEY),
    args), { env = { OS_AUTH_URL = "" } })
end

local function hostile(kind)
  local path = util.tmpdir() .. "/evil.zapp"
  assert(os.execute(("python3 %s/spec/support/hostile_zapp.py %s %s")
    :format(util.source_dir, util.quote(path), kind)))
  return path
end

describe("hostile zapps", function()
  setup(function()
    dir = util.tmpdir()
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
                                      "--time-limit", "10" })
    assert(code == 0, err)
    env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
  end)

  teardown(function()
    util.zpm({ "devcloud", "down", "--dir", dir })
    util.cleanup()
  end)

  for _, kind in ipairs(KINDS) do
    it("are not run by the devcloud: " .. kind, function()
      local out, err, code = zpm({ "execute", hostile(kind) })
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.matches("^Error: 4%d%d ", err)
      assert.is_nil(err:find("ran", 1, true))
    end)

    it("never become a runnable deployment: " .. kind, function()
      local c = ("hostile-%s-%d"):format(kind, os.time())
      local _, err, code = zpm({ "deploy", c, hostile(kind) })
      if code == 0 then
        -- nothing dangerous was written by deploy itself: running it is
        -- where the devcloud refuses
        local out
        out, err, code = zpm({ "execute", "--container", c, "evil" })
        assert.are.equal(1, code, err)
        assert.are.equal("", out)
        assert.matches("^Error: 4%d%d ", err)
      else
        assert.are.equal(1, code)
        assert.matches("^Error: ", err)
        local listing = swift("list " .. c)
        assert.is_nil(listing:find("boot/system.map", 1, true))
      end
    end)
  end

  it("refuses '..' and absolute UI members at deploy time", function()
    for _, kind in ipairs({ "dotdot", "absolute" }) do
      local _, err, code = zpm({ "deploy", "ui-" .. kind .. os.time(),
                                 hostile(kind) })
      assert.are.equal(1, code)
      assert.matches("refusing member", err)
    end
  end)
end)
