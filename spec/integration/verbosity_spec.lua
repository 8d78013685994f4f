-- The same verbosity options on every command, before or after its name
-- (issue 17, item 5): -q/--quiet, -v/--verbose (info: retries and their
-- waits), --debug, -l LEVEL.
local util = require("support.util")

local CLEAN = { ST_AUTH = "", ST_USER = "", ST_KEY = "", OS_AUTH_URL = "",
                OS_CLOUD = "", OS_STORAGE_URL = "", OS_AUTH_TOKEN = "" }

-- nothing listens on port 1: each attempt is refused at once
local V1 = { "-A", "http://127.0.0.1:1/auth/v1.0", "-U", "t:u", "-K",
             "k", "-R", "1" }

local function with(...)
  local out = {}
  for _, t in ipairs({ ... }) do
    table.move(t, 1, #t, #out + 1, out)
  end
  return out
end

local RETRY = "INFO: retrying GET http://127.0.0.1:1/auth/v1.0 in 1 s "
  .. "(attempt 2 of 2): "

describe("verbosity", function()
  it("-v reports retries and their wait, before or after the command",
     function()
    for _, args in ipairs({ with({ "-v", "auth" }, V1),
                            with({ "auth", "--verbose" }, V1),
                            with({ "auth", "-l", "info" }, V1),
                            with({ "auth" }, V1, { "--debug" }) }) do
      local out, err, code = util.zpm(args, { env = CLEAN })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.truthy(err:find(RETRY, 1, true), err)
      assert.matches("\nError: GET http://127.0.0.1:1/auth/v1.0: ", err)
    end
  end)

  it("says nothing of retries by default, or with -q", function()
    for _, args in ipairs({ with({ "auth" }, V1),
                            with({ "-q", "auth" }, V1) }) do
      local _, err, code = util.zpm(args, { env = CLEAN })
      assert.are.equal(1, code)
      assert.matches("^Error: GET http://127.0.0.1:1/auth/v1.0: ", err)
      assert.is_nil(err:find("retrying", 1, true))
    end
  end)

  it("--debug shows HTTP traces", function()
    local _, err = util.zpm(with({ "--debug", "auth" }, V1), { env = CLEAN })
    assert.matches("DEBUG: http: ", err)
  end)

  it("every command takes them", function()
    for _, name in ipairs({ "auth", "bundle", "deploy", "devcloud", "execute",
                            "new" }) do
      local out, err, code = util.zpm({ name, "--help" })
      assert.are.equal(0, code, err)
      for _, flag in ipairs({ "-q, --quiet", "-v, --verbose", "--debug",
                              "--log-level LEVEL" }) do
        assert.truthy(out:find(flag, 1, true), name .. ": " .. flag)
      end
    end
    local out, err, code = util.zpm({ "-q", "version" })
    assert.are.equal(0, code, err)
    assert.matches("^zpm version ", out)
  end)

  it("refuses an unknown level", function()
    local _, err, code = util.zpm({ "-l", "loud", "version" })
    assert.are.equal(2, code)
    assert.matches("zpm: error: argument for option '%-l' must be one of",
                   err)
  end)
end)
