-- clouds.yaml as openstacksdk reads it (issue 17, item 4): where it is
-- found, secure.yaml merged over it, its keys mapped onto zpm's auth
-- settings, and the precedence command line > environment > clouds.yaml.
local util = require("support.util")
local clouds = require("zpm.clouds")
local auth = require("zpm.auth")

local function write(path, text)
  os.execute("mkdir -p " .. util.quote(path:match("^(.*)/")))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function env(t)
  return function(name) return t[name] end
end

local CLOUDS = [[
clouds:
  dev:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: alice
      project_name: demo
      user_domain_name: Users
      project_domain_id: default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
  app:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:5000/v3
      application_credential_id: 0123abcd
      application_credential_secret: from-clouds
  insecure:
    verify: false
    auth:
      auth_url: https://127.0.0.1:5000/v3
]]

describe("zpm.clouds", function()
  local cwd, home, e

  before_each(function()
    cwd = util.tmpdir()
    home = util.tmpdir()
    e = { HOME = home }
  end)

  describe("search_path", function()
    it("follows openstacksdk's order", function()
      assert.are.same({ ".", home .. "/.config/openstack",
                        "/etc/xdg/openstack", "/etc/openstack" },
                      clouds.search_path(env(e)))
      e.XDG_CONFIG_HOME = "/x"
      assert.are.same({ "/c", "/x/openstack", home .. "/.config/openstack",
                        "/etc/xdg/openstack", "/etc/openstack" },
                      clouds.search_path(env(e), "/c"))
    end)
  end)

  describe("find", function()
    it("takes the first clouds file: the current directory's first",
       function()
      write(home .. "/.config/openstack/clouds.yaml", CLOUDS)
      assert.are.equal(home .. "/.config/openstack/clouds.yaml",
                       (clouds.find(env(e), cwd)))
      write(cwd .. "/clouds.yml", CLOUDS)
      assert.are.equal(cwd .. "/clouds.yml", (clouds.find(env(e), cwd)))
      write(cwd .. "/clouds.yaml", CLOUDS)
      assert.are.equal(cwd .. "/clouds.yaml", (clouds.find(env(e), cwd)))
    end)

    it("puts $OS_CLIENT_CONFIG_FILE first", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      write(home .. "/mine.yaml", CLOUDS)
      e.OS_CLIENT_CONFIG_FILE = home .. "/mine.yaml"
      assert.are.equal(home .. "/mine.yaml", (clouds.find(env(e), cwd)))
    end)

    it("finds secure.yaml on its own, $OS_CLIENT_SECURE_FILE first",
       function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      write(home .. "/.config/openstack/secure.yaml", "clouds: {}\n")
      local path, secure = clouds.find(env(e), cwd)
      assert.are.equal(cwd .. "/clouds.yaml", path)
      assert.are.equal(home .. "/.config/openstack/secure.yaml", secure)
      write(home .. "/s.yaml", "clouds: {}\n")
      e.OS_CLIENT_SECURE_FILE = home .. "/s.yaml"
      assert.are.equal(home .. "/s.yaml", select(2, clouds.find(env(e),
                                                                 cwd)))
    end)
  end)

  describe("cloud", function()
    it("maps a cloud onto the auth settings", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      local s, path = assert(clouds.cloud("dev", env(e), cwd))
      assert.are.equal(cwd .. "/clouds.yaml", path)
      assert.are.same({
        os_auth_url = "http://127.0.0.1:5000/v3", os_username = "alice",
        os_project_name = "demo", os_tenant_name = "demo",
        os_user_domain_name = "Users", os_project_domain_id = "default",
        os_region_name = "RegionOne", os_interface = "internal",
        auth_version = "3" }, s)
    end)

    it("maps application credentials and verify: false", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      local s = assert(clouds.cloud("app", env(e), cwd))
      assert.are.equal("v3applicationcredential", s.os_auth_type)
      assert.are.equal("0123abcd", s.os_application_credential_id)
      assert.are.equal("from-clouds", s.os_application_credential_secret)
      assert.is_true(assert(clouds.cloud("insecure", env(e), cwd)).insecure)
    end)

    -- openstacksdk reads a file with no document as no clouds: an empty
    -- secure.yaml (a placeholder) must not stop the login
    it("reads an empty or comment-only secure.yaml as no clouds",
       function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      for _, text in ipairs({ "", "# passwords go here\n" }) do
        write(home .. "/.config/openstack/secure.yaml", text)
        local s = assert(clouds.cloud("dev", env(e), cwd))
        assert.are.equal("demo", s.os_project_name)
      end
      write(cwd .. "/clouds.yaml", "")
      local s, err, code = clouds.cloud("dev", env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("notfound", code)
      assert.matches("dev", err)
    end)

    it("merges secure.yaml over clouds.yaml", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      write(home .. "/.config/openstack/secure.yaml", [[
clouds:
  dev:
    auth:
      password: s3cret
      username: bob
  app:
    auth:
      application_credential_secret: from-secure
  only-secure:
    auth:
      auth_url: http://127.0.0.1:1/v3
]])
      local s = assert(clouds.cloud("dev", env(e), cwd))
      assert.are.equal("s3cret", s.os_password)
      assert.are.equal("bob", s.os_username)
      assert.are.equal("demo", s.os_project_name)   -- kept
      s = assert(clouds.cloud("app", env(e), cwd))
      assert.are.equal("from-secure", s.os_application_credential_secret)
      s = assert(clouds.cloud("only-secure", env(e), cwd))
      assert.are.equal("http://127.0.0.1:1/v3", s.os_auth_url)
    end)

    it("says which clouds there are when the name is not one", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      local s, err, code = clouds.cloud("prod", env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("notfound", code)
      assert.are.equal("cloud 'prod' not found in " .. cwd
                       .. "/clouds.yaml (clouds: dev, app, insecure)", err)
    end)

    it("says where it looked when there is no clouds.yaml", function()
      local s, err, code = clouds.cloud("dev", env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("notfound", code)
      assert.are.equal("--os-cloud dev: no clouds.yaml (or clouds.yml, "
        .. "clouds.json) in " .. cwd .. ", " .. home .. "/.config/openstack, "
        .. "/etc/xdg/openstack, /etc/openstack", err)
      e.OS_CLIENT_CONFIG_FILE = "/nowhere/c.yaml"
      err = select(2, clouds.cloud("dev", env(e), cwd))
      assert.matches(", and no /nowhere/c%.yaml %(%$OS_CLIENT_CONFIG_FILE%)$",
                     err)
    end)

    it("reports bad YAML at file:line:col", function()
      write(cwd .. "/clouds.yaml", "clouds:\n  dev: [1,\n")
      local s, err, code = clouds.cloud("dev", env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("yaml", code)
      assert.matches("^" .. cwd:gsub("%p", "%%%0")
                     .. "/clouds.yaml:%d+:%d+: ", err)
    end)

    it("reports a value of the wrong type at file:line:col", function()
      write(cwd .. "/clouds.yaml", "clouds:\n  dev:\n    auth:\n"
            .. "      password: [a, b]\n")
      local s, err, code = clouds.cloud("dev", env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("invalid", code)
      assert.are.equal(cwd .. "/clouds.yaml:4:17: auth.password: expected "
                       .. "a string, not a list", err)
      write(cwd .. "/clouds.yaml", "clouds: [dev]\n")
      s, err, code = clouds.cloud("dev", env(e), cwd)
      assert.are.equal("invalid", code)
      assert.matches("clouds.yaml:1:9: 'clouds' must be a mapping", err)
    end)

    it("refuses vendor profiles", function()
      write(cwd .. "/clouds.yaml", "clouds:\n  v:\n    profile: vexxhost\n")
      local s, err, code = clouds.cloud("v", env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("invalid", code)
      assert.matches("clouds.yaml:3:14: cloud 'v': vendor profiles", err)
    end)
  end)

  describe("in zpm.auth.settings", function()
    it("fills what the command line and environment leave", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      e.OS_CLOUD = "dev"
      e.OS_PASSWORD = "env-password"
      e.OS_REGION_NAME = "EnvRegion"
      local s = assert(auth.settings({ os_region_name = "CliRegion",
                                       os_username = "carol" }, env(e),
                                     cwd))
      assert.are.equal("CliRegion", s.os_region_name)    -- command line
      assert.are.equal("carol", s.os_username)           -- command line
      assert.are.equal("env-password", s.os_password)    -- environment
      assert.are.equal("demo", s.os_project_name)        -- clouds.yaml
      assert.are.equal("internal", s.os_interface)       -- clouds.yaml
      assert.are.equal("3.0", auth.version(s))
    end)

    it("does not turn complete settings into the cloud's kind", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      e.OS_CLOUD = "dev"     -- identity_api_version: 3
      local s = assert(auth.settings({ auth = "http://a/auth/v1.0",
        user = "t:u", key = "k" }, env(e), cwd))
      assert.are.equal("1.0", auth.version(s))
      e.OS_CLOUD = "app"     -- auth_type: v3applicationcredential
      e.ST_AUTH, e.ST_USER, e.ST_KEY = "http://a/auth/v1.0", "t:u", "k"
      s = assert(auth.settings({}, env(e), cwd))
      assert.are.equal("1.0", auth.version(s))
      assert.are.equal("password", auth.method(s))
    end)

    it("takes --os-cloud over $OS_CLOUD", function()
      write(cwd .. "/clouds.yaml", CLOUDS)
      e.OS_CLOUD = "dev"
      local s = assert(auth.settings({ os_cloud = "app" }, env(e), cwd))
      assert.are.equal("app", s.os_cloud)
      assert.are.equal("0123abcd", s.os_application_credential_id)
      assert.are.equal("3.0", auth.version(s))
      assert.are.equal("application_credential", auth.method(s))
    end)

    it("passes clouds.yaml's failure on", function()
      local s, err, code = auth.settings({ os_cloud = "dev" }, env(e), cwd)
      assert.is_nil(s)
      assert.are.equal("notfound", code)
      assert.matches("^%-%-os%-cloud dev: no clouds%.yaml ", err)
    end)

    it("reads no file without a cloud name", function()
      write(cwd .. "/clouds.yaml", "clouds: [")
      assert.is_table(auth.settings({}, env(e), cwd))
    end)
  end)
end)

describe("zpm.auth application credentials", function()
  local APP = { os_auth_url = "http://k/v3",
                os_application_credential_id = "id",
                os_application_credential_secret = "s" }

  local function with(t)
    local out = {}
    for k, v in pairs(APP) do out[k] = v end
    for k, v in pairs(t) do out[k] = v or nil end
    return out
  end

  it("are chosen by --os-auth-type or by their settings alone", function()
    assert.are.equal("application_credential", auth.method(APP))
    assert.are.equal("3.0", auth.version(APP))
    assert.are.equal("application_credential", auth.method(with({
      os_auth_type = "v3applicationcredential", os_password = "p" })))
    assert.are.equal("password", auth.method(with({ os_password = "p" })))
    assert.are.equal("3.0", auth.version(with({
      os_application_credential_id = false,
      os_application_credential_name = "n", os_username = "u" })))
  end)

  it("need their settings and Keystone v3", function()
    local v, err, code = auth.version(with({
      os_application_credential_secret = false }))
    assert.is_nil(v)
    assert.are.equal("invalid", code)
    assert.matches("^Application credential auth requires", err)
    v, err, code = auth.version(with({ auth_version = "2" }))
    assert.is_nil(v)
    assert.are.equal("invalid", code)
    assert.matches("need Keystone v3", err)
  end)

  it("refuse an unknown auth type", function()
    local v, err, code = auth.version(with({ os_auth_type = "token" }))
    assert.is_nil(v)
    assert.are.equal("invalid", code)
    assert.matches("^unsupported auth type 'token'", err)
  end)

  it("auth types imply their version", function()
    local V2 = { os_auth_url = "http://k/v2.0", os_username = "u",
                 os_password = "p", os_tenant_name = "t",
                 os_project_name = "p" }
    V2.os_auth_type = "v2password"
    assert.are.equal("2.0", auth.version(V2))
    V2.os_auth_type = "v3password"
    assert.are.equal("3.0", auth.version(V2))
  end)
end)

describe("zpm.auth prompt", function()
  it("asks for the secret the settings need, and it wins", function()
    local asked = {}
    local function prompt(label)
      asked[#asked + 1] = label
      return "typed"
    end
    local s = assert(auth.settings({ os_auth_url = "http://k/v3",
      os_username = "u", os_project_name = "p", prompt = prompt },
      env({ OS_PASSWORD = "env" })))
    assert.are.equal("typed", s.os_password)
    assert.are.equal("3.0", auth.version(s))
    s = assert(auth.settings({ auth = "http://a/auth/v1.0", user = "t:u",
      prompt = prompt }, env({})))
    assert.are.equal("typed", s.key)
    assert.are.equal("1.0", auth.version(s))
    s = assert(auth.settings({ os_auth_url = "http://k/v3",
      os_application_credential_id = "id", prompt = prompt }, env({})))
    assert.are.equal("typed", s.os_application_credential_secret)
    assert.are.same({ "Password", "Key", "Application credential secret" },
                    asked)
  end)

  it("passes the prompt's failure on", function()
    local s, err, code = auth.settings({ prompt = function()
      return nil, "--prompt: no terminal to read the password from",
        "invalid"
    end }, env({}))
    assert.is_nil(s)
    assert.are.equal("invalid", code)
    assert.matches("no terminal", err)
  end)
end)
