-- Auth settings and version guessing (DESIGN.md section 6).
local auth = require("zpm.auth")

local function env(t)
  return function(name) return t[name] end
end

local V1 = { auth = "http://a/auth/v1.0", user = "t:u", key = "k" }
local V2 = { os_auth_url = "http://k/v2.0", os_username = "u",
             os_password = "p", os_tenant_name = "t" }

local function merge(...)
  local out = {}
  for _, t in ipairs({ ... }) do
    for k, v in pairs(t) do out[k] = v end
  end
  return out
end

describe("zpm.auth", function()
  describe("settings", function()
    it("reads the environment when the command line is silent", function()
      local s = auth.settings({}, env({ ST_AUTH = "x", ST_USER = "y",
                                        ST_KEY = "z" }))
      assert.are.same({ "x", "y", "z" }, { s.auth, s.user, s.key })
    end)

    it("prefers the command line over the environment", function()
      local s = auth.settings({ user = "cli" }, env({ ST_USER = "env" }))
      assert.are.equal("cli", s.user)
    end)

    it("takes the first of several environment names", function()
      local s = auth.settings({}, env({ OS_AUTH_VERSION = "2",
                                        OS_IDENTITY_API_VERSION = "3" }))
      assert.are.equal("2", s.auth_version)
      s = auth.settings({}, env({ OS_ENDPOINT_TYPE = "internalURL" }))
      assert.are.equal("internalURL", s.os_interface)
    end)

    it("treats empty values as unset", function()
      local s = auth.settings({ auth = "" }, env({ ST_AUTH = "" }))
      assert.is_nil(s.auth)
    end)
  end)

  describe("version", function()
    local cases = {
      { "v1 only", V1, "1.0" },
      { "v2 only", V2, "2.0" },
      { "both v1 and v2", merge(V1, V2), "1.0" },
      { "v2 with a tenant id", merge(V2, { os_tenant_name = false,
                                           os_tenant_id = "tid" }), "2.0" },
      { "a project means v3", merge(V2, { os_tenant_name = false,
                                          os_project_name = "p" }), "3.0" },
      { "a domain means v3", merge(V2, { os_user_domain_name = "D" }),
        "3.0" },
      { "explicit -V 2", merge(V1, V2, { auth_version = "2" }), "2.0" },
      { "explicit 3.0", merge(V2, { auth_version = "3.0" }), "3.0" },
      { "explicit 3", merge(V2, { auth_version = "3" }), "3.0" },
      { "explicit 1", merge(V1, { auth_version = "1" }), "1.0" },
      { "pre-authenticated", { os_storage_url = "http://s/v1/AUTH_x",
                               os_auth_token = "t" }, "preauth" },
    }
    for _, case in ipairs(cases) do
      it("picks " .. case[3] .. " for " .. case[1], function()
        local s = {}
        for k, v in pairs(case[2]) do
          if v then s[k] = v end
        end
        assert.are.equal(case[3], auth.version(s))
      end)
    end

    it("fails with NO_AUTH_MSG when nothing fits", function()
      local v, err = auth.version({ auth = "x", user = "y" })
      assert.is_nil(v)
      assert.are.equal(auth.NO_AUTH_MSG, err)
      assert.matches("Auth version 3 requires", err)
    end)

    it("names what an explicit version lacks", function()
      local v, err = auth.version({ auth_version = "1", auth = "x" })
      assert.is_nil(v)
      assert.are.equal("Version 1 auth requires `--auth`, `--user`, and "
                       .. "`--key`.", err)
      v, err = auth.version({ auth_version = "2.0" })
      assert.is_nil(v)
      assert.matches("^Version 2 auth requires", err)
    end)

    it("rejects unknown versions", function()
      local v, err = auth.version(merge(V1, { auth_version = "4" }))
      assert.is_nil(v)
      assert.are.equal("unsupported auth version '4' (use 1, 2 or 3)", err)
    end)
  end)
end)
