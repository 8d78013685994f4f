-- zpm auth against real servers: Swift tempauth (v1), a Keystone v2.0
-- protocol shim backed by tempauth (v2), Keystone v3, pre-auth.
local util = require("support.util")
local servers = require("support.servers")

local sw

local function swift_ok(url, token)
  -- an independent client: python-swiftclient's CLI
  local _, err, code = util.sh(("/usr/bin/swift --os-storage-url %s "
    .. "--os-auth-token %s stat"):format(util.quote(url), util.quote(token)),
    { env = { ST_AUTH = "", OS_AUTH_URL = "" } })
  return code == 0, err
end

local function parse(out)
  return out:match("^Auth token: (%S+)\nStorage URL: (%S+)\n$")
end

-- the environment of the zpm process, with nothing inherited that could
-- pick an auth version behind the test's back
local CLEAN = { ST_AUTH = "", ST_USER = "", ST_KEY = "", OS_AUTH_URL = "",
                OS_USERNAME = "", OS_PASSWORD = "", OS_TENANT_NAME = "",
                OS_PROJECT_NAME = "", OS_STORAGE_URL = "",
                OS_AUTH_TOKEN = "", OS_AUTH_VERSION = "",
                ST_AUTH_VERSION = "", OS_IDENTITY_API_VERSION = "" }

local function env(extra)
  local e = {}
  for k, v in pairs(CLEAN) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

describe("zpm auth", function()
  setup(function()
    sw = servers.swift({ keystone = true })
  end)

  it("v1 from flags", function()
    local out, err, code = util.zpm({ "auth", "-A", sw.ST_AUTH, "-U",
      sw.ST_USER, "-K", sw.ST_KEY }, { env = env() })
    assert.are.equal(0, code, err)
    local token, url = parse(out)
    assert.are.equal(sw.SWIFT_STORAGE_URL, url)
    assert.is_true(swift_ok(url, token))
  end)

  it("v1 from the environment", function()
    local out, err, code = util.zpm({ "auth" }, { env = env({
      ST_AUTH = sw.ST_AUTH, ST_USER = sw.ST_USER, ST_KEY = sw.ST_KEY }) })
    assert.are.equal(0, code, err)
    assert.are.equal(sw.SWIFT_STORAGE_URL, select(2, parse(out)))
  end)

  it("v1 with a wrong key fails clearly", function()
    local out, err, code = util.zpm({ "auth", "-A", sw.ST_AUTH, "-U",
      sw.ST_USER, "-K", "wrong" }, { env = env() })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^Error: Auth GET failed: " .. sw.ST_AUTH:gsub("%p", "%%%0")
                   .. " 401 Unauthorized", err)
  end)

  it("v2 through a Keystone v2.0 token service", function()
    local port = util.free_port()
    local pid = util.spawn({ "/usr/bin/python3",
      util.source_dir .. "/spec/support/keystone_v2.py", tostring(port),
      sw.ST_AUTH })
    finally(function() util.kill(pid) end)
    local tenant, user = sw.ST_USER:match("^(.-):(.*)$")
    local out, err, code = util.zpm({ "auth", "--os-auth-url",
      ("http://127.0.0.1:%d/v2.0"):format(port), "--os-username", user,
      "--os-password", sw.ST_KEY, "--os-tenant-name", tenant },
      { env = env() })
    assert.are.equal(0, code, err)
    local token, url = parse(out)
    assert.are.equal(sw.SWIFT_STORAGE_URL, url)
    assert.is_true(swift_ok(url, token))
  end)

  it("v3 with names and default domains", function()
    local out, err, code = util.zpm({ "auth", "--os-auth-url",
      sw.OS_AUTH_URL, "--os-username", sw.OS_USERNAME, "--os-password",
      sw.OS_PASSWORD, "--os-project-name", sw.OS_PROJECT_NAME },
      { env = env() })
    assert.are.equal(0, code, err)
    local token, url = parse(out)
    assert.matches("/v1/AUTH_" .. sw.KS_PROJECT_ID .. "$", url)
    assert.is_true(swift_ok(url, token))
  end)

  it("v3 from the environment with -V 3 and a project id", function()
    local out, err, code = util.zpm({ "auth", "-V", "3" }, { env = env({
      OS_AUTH_URL = sw.OS_AUTH_URL, OS_USERNAME = sw.OS_USERNAME,
      OS_PASSWORD = sw.OS_PASSWORD, OS_PROJECT_ID = sw.KS_PROJECT_ID }) })
    assert.are.equal(0, code, err)
    assert.matches("/v1/AUTH_" .. sw.KS_PROJECT_ID .. "$",
                   select(2, parse(out)))
  end)

  it("v3 with a user and project in another domain", function()
    local out, err, code = util.zpm({ "auth", "--os-auth-url",
      sw.OS_AUTH_URL, "--os-username", sw.KS_DOM_USERNAME,
      "--os-password", sw.KS_DOM_PASSWORD, "--os-project-name",
      sw.KS_DOM_PROJECT_NAME, "--os-user-domain-name",
      sw.KS_DOM_USER_DOMAIN_NAME, "--os-project-domain-name",
      sw.KS_DOM_PROJECT_DOMAIN_NAME }, { env = env() })
    assert.are.equal(0, code, err)
    local token, url = parse(out)
    assert.is_true(swift_ok(url, token))
  end)

  it("v3 with a wrong password fails clearly", function()
    local _, err, code = util.zpm({ "auth", "--os-auth-url", sw.OS_AUTH_URL,
      "--os-username", sw.OS_USERNAME, "--os-password", "nope",
      "--os-project-name", sw.OS_PROJECT_NAME }, { env = env() })
    assert.are.equal(1, code)
    assert.matches("^Error: Auth POST failed: .*/auth/tokens 401", err)
  end)

  it("passes a pre-authenticated URL and token through", function()
    local out, err, code = util.zpm({ "auth", "--os-storage-url",
      "http://127.0.0.1:1/v1/AUTH_x", "--os-auth-token", "tok" },
      { env = env() })
    assert.are.equal(0, code, err)
    assert.are.equal("Auth token: tok\nStorage URL: "
                     .. "http://127.0.0.1:1/v1/AUTH_x\n", out)
  end)

  it("explains what is missing when nothing is set", function()
    local _, err, code = util.zpm({ "auth" }, { env = env() })
    assert.are.equal(1, code)
    assert.are.equal("Error: " .. require("zpm.auth").NO_AUTH_MSG .. "\n",
                     err)
  end)

  it("never prints secrets in debug logs", function()
    local out, err, code = util.zpm({ "auth", "-l", "debug", "-A",
      sw.ST_AUTH, "-U", sw.ST_USER, "-K", sw.ST_KEY }, { env = env() })
    assert.are.equal(0, code, err)
    local token = parse(out)
    assert.matches("DEBUG: http: ", err)
    assert.is_nil(err:find(sw.ST_KEY, 1, true), "key in debug log")
    assert.is_nil(err:find(token, 1, true), "token in debug log")
    local _, err3 = util.zpm({ "auth", "-l", "debug", "--os-auth-url",
      sw.OS_AUTH_URL, "--os-username", sw.OS_USERNAME, "--os-password",
      sw.OS_PASSWORD, "--os-project-name", sw.OS_PROJECT_NAME },
      { env = env() })
    assert.is_nil(err3:find(sw.OS_PASSWORD, 1, true), "password in log")
  end)
end)
