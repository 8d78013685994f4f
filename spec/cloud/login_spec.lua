-- Logging in as OpenStack users do (issue 17, item 4), against the
-- devcloud's real Keystone (devcloud/keystone-aio) and Swift behind its
-- keystone proxy: clouds.yaml (--os-cloud, $OS_CLOUD, secure.yaml),
-- application credentials made with the openstack CLI, --prompt on a
-- terminal, the global options before the command name; and no secret
-- in any output, even with --debug.
local util = require("support.util")
local servers = require("support.servers")

local sw, cred

-- nothing inherited that could pick an auth version behind the test's
-- back
local CLEAN = { "ST_AUTH", "ST_USER", "ST_KEY", "OS_AUTH_URL", "OS_USERNAME",
                "OS_PASSWORD", "OS_TENANT_NAME", "OS_PROJECT_NAME",
                "OS_STORAGE_URL", "OS_AUTH_TOKEN", "OS_AUTH_VERSION",
                "ST_AUTH_VERSION", "OS_IDENTITY_API_VERSION", "OS_CLOUD",
                "OS_AUTH_TYPE", "OS_APPLICATION_CREDENTIAL_ID",
                "OS_APPLICATION_CREDENTIAL_SECRET", "OS_CLIENT_CONFIG_FILE",
                "OS_CLIENT_SECURE_FILE", "OS_USER_DOMAIN_NAME",
                "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME" }

local function env(extra)
  local e = { HOME = "/nonexistent" }
  for _, k in ipairs(CLEAN) do e[k] = "" end
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

local function parse(out)
  return out:match("^Auth token: (%S+)\nStorage URL: (%S+)\n$")
end

local function swift(url, token, args)
  return util.sh(("/usr/bin/swift --os-storage-url %s --os-auth-token %s "
    .. "%s"):format(util.quote(url), util.quote(token), args),
    { env = env() })
end

local function swift_ok(url, token)
  local _, _, code = swift(url, token, "stat")
  return code == 0
end

local function bundled_project()
  local dir = util.tmpdir()
  util.zpm({ "new", "-u", "app" }, { cwd = dir })
  util.write(dir .. "/app/main.py", "print('hi')\n")
  local _, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/app" })
  assert(code == 0, err)
  return dir .. "/app/app.zapp"
end

local function app_flags()
  return { "--os-auth-type", "v3applicationcredential", "--os-auth-url",
           sw.OS_AUTH_URL, "--os-application-credential-id", cred.id,
           "--os-application-credential-secret", cred.secret }
end

local function concat(...)
  local out = {}
  for _, t in ipairs({ ... }) do
    table.move(t, 1, #t, #out + 1, out)
  end
  return out
end

describe("logging in", function()
  setup(function()
    sw = servers.swift({ keystone = true })
    -- an application credential of zpmuser on zpmproj, made by an
    -- independent client: python-openstackclient
    local name = ("zpm-spec-%d-%d"):format(os.time(), math.random(1e6))
    local out, err, code = util.sh("/usr/bin/openstack application "
      .. "credential create -f json " .. name, { env = env({
        OS_AUTH_URL = sw.OS_AUTH_URL, OS_USERNAME = sw.OS_USERNAME,
        OS_PASSWORD = sw.OS_PASSWORD, OS_PROJECT_NAME = sw.OS_PROJECT_NAME,
        OS_USER_DOMAIN_NAME = "Default", OS_PROJECT_DOMAIN_NAME = "Default",
        OS_IDENTITY_API_VERSION = "3" }) })
    assert(code == 0, err)
    cred = require("cjson").decode(out)
    assert(cred.id and cred.secret, out)
    cred.name = name
  end)
  teardown(util.cleanup)

  describe("with an application credential", function()
    it("from the command line", function()
      local out, err, code = util.zpm(concat({ "auth" }, app_flags()),
                                      { env = env() })
      assert.are.equal(0, code, err)
      local token, url = parse(out)
      assert.matches("/v1/AUTH_" .. sw.KS_PROJECT_ID .. "$", url)
      assert.is_true(swift_ok(url, token))
    end)

    it("from the environment: deploys, and the zapp is listed", function()
      local e = env({ OS_AUTH_TYPE = "v3applicationcredential",
        OS_AUTH_URL = sw.OS_AUTH_URL,
        OS_APPLICATION_CREDENTIAL_ID = cred.id,
        OS_APPLICATION_CREDENTIAL_SECRET = cred.secret })
      local c = ("appcred-%d-%d"):format(os.time(), math.random(1e6))
      local _, err, code = util.zpm({ "deploy", c, bundled_project() },
                                    { env = e })
      assert.are.equal(0, code, err)
      local token, url = parse((util.zpm({ "auth" }, { env = e })))
      local listing, lerr, lcode = swift(url, token, "list " .. c)
      assert.are.equal(0, lcode, lerr)
      assert.matches("app%.zapp\n", listing)
      -- and zpm list, logged in the same way
      local out, zerr, zcode = util.zpm({ "list", c }, { env = e })
      assert.are.equal(0, zcode, zerr)
      local lines = util.lines(out)
      assert.are.equal(2, #lines, out)
      assert.matches("^" .. c:gsub("%-", "%%-") .. " +app +", lines[2])
    end)

    it("by its name, with the user's", function()
      local out, err, code = util.zpm({ "auth", "--os-auth-url",
        sw.OS_AUTH_URL, "--os-application-credential-name", cred.name,
        "--os-username", sw.OS_USERNAME,
        "--os-application-credential-secret", cred.secret },
        { env = env() })
      assert.are.equal(0, code, err)
      local token, url = parse(out)
      assert.is_true(swift_ok(url, token))
    end)

    it("with a wrong secret fails clearly", function()
      local flags = app_flags()
      flags[#flags] = "wrong"
      local out, err, code = util.zpm(concat({ "auth" }, flags),
                                      { env = env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^Error: Auth POST failed: .*/auth/tokens 401", err)
    end)
  end)

  describe("with clouds.yaml", function()
    local dir

    before_each(function()
      dir = util.tmpdir()
      util.write(dir .. "/clouds.yaml", ([[
clouds:
  devcloud:
    auth:
      auth_url: %s
      username: %s
      project_name: %s
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  devcloud-app:
    auth_type: v3applicationcredential
    auth:
      auth_url: %s
      application_credential_id: %s
]]):format(sw.OS_AUTH_URL, sw.OS_USERNAME, sw.OS_PROJECT_NAME,
           sw.OS_AUTH_URL, cred.id))
      -- the secrets in secure.yaml, in the user's config directory
      os.execute("mkdir -p " .. util.quote(dir .. "/home/.config/openstack"))
      util.write(dir .. "/home/.config/openstack/secure.yaml", ([[
clouds:
  devcloud:
    auth:
      password: '%s'
  devcloud-app:
    auth:
      application_credential_secret: '%s'
]]):format(sw.OS_PASSWORD, cred.secret))
    end)

    it("logs in with --os-cloud, secure.yaml merged", function()
      local out, err, code = util.zpm({ "auth", "--os-cloud", "devcloud" },
        { cwd = dir, env = env({ HOME = dir .. "/home" }) })
      assert.are.equal(0, code, err)
      local token, url = parse(out)
      assert.matches("/v1/AUTH_" .. sw.KS_PROJECT_ID .. "$", url)
      assert.is_true(swift_ok(url, token))
    end)

    it("logs in with $OS_CLOUD and an application credential", function()
      local out, err, code = util.zpm({ "auth" }, { cwd = dir,
        env = env({ HOME = dir .. "/home", OS_CLOUD = "devcloud-app" }) })
      assert.are.equal(0, code, err)
      local token, url = parse(out)
      assert.is_true(swift_ok(url, token))
    end)

    it("reads $OS_CLIENT_CONFIG_FILE from anywhere", function()
      local out, err, code = util.zpm({ "auth", "--os-cloud", "devcloud" },
        { env = env({ HOME = dir .. "/home",
                      OS_CLIENT_CONFIG_FILE = dir .. "/clouds.yaml" }) })
      assert.are.equal(0, code, err)
      local token, url = parse(out)
      assert.is_true(swift_ok(url, token))
    end)

    it("lets the command line win over clouds.yaml", function()
      local _, err, code = util.zpm({ "auth", "--os-cloud", "devcloud",
        "--os-password", "not-the-password" }, { cwd = dir,
        env = env({ HOME = dir .. "/home" }) })
      assert.are.equal(1, code)
      assert.matches("^Error: Auth POST failed: .*/auth/tokens 401", err)
    end)

    it("names the cloud it cannot find", function()
      local out, err, code = util.zpm({ "auth", "--os-cloud", "prod" },
        { cwd = dir, env = env({ HOME = dir .. "/home" }) })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: cloud 'prod' not found in ./clouds.yaml "
                       .. "(clouds: devcloud, devcloud-app)\n", err)
    end)
  end)

  describe("global options before the command name", function()
    it("zpm -A URL -U u -K k auth", function()
      local out, err, code = util.zpm({ "-A", sw.ST_AUTH, "-U", sw.ST_USER,
        "-K", sw.ST_KEY, "auth" }, { env = env() })
      assert.are.equal(0, code, err)
      assert.are.equal(sw.SWIFT_STORAGE_URL, select(2, parse(out)))
    end)

    it("zpm --os-cloud NAME -v auth, and the command's own win", function()
      local dir = util.tmpdir()
      util.write(dir .. "/clouds.yaml", ([[
clouds:
  app:
    auth_type: v3applicationcredential
    auth: {auth_url: '%s', application_credential_id: '%s',
           application_credential_secret: '%s'}
]]):format(sw.OS_AUTH_URL, cred.id, cred.secret))
      local out, err, code = util.zpm({ "--os-cloud", "nothing", "-v",
        "auth", "--os-cloud", "app" }, { cwd = dir, env = env() })
      assert.are.equal(0, code, err)
      assert.truthy(parse(out))
      assert.matches("INFO: authenticating at .* %(Keystone v3, "
                     .. "application_credential%)", err)
    end)
  end)

  describe("--prompt", function()
    local function on_pty(answer, args, prompt)
      local words = { "/usr/bin/python3", util.source_dir
        .. "/spec/support/pty_run.py", prompt or "Password: ", answer, "--",
        util.zpm_bin }
      table.move(args, 1, #args, #words + 1, words)
      for i, w in ipairs(words) do words[i] = util.quote(w) end
      local out, err, code = util.sh(table.concat(words, " "),
                                     { env = env() })
      assert(code == 0, err)
      return require("cjson").decode(out)
    end

    local FLAGS = { "auth", "--prompt", "--os-auth-url", nil, "--os-username",
                    nil, "--os-project-name", nil }

    local function flags()
      local f = { table.unpack(FLAGS, 1, 8) }
      f[4], f[6], f[8] = sw.OS_AUTH_URL, sw.OS_USERNAME, sw.OS_PROJECT_NAME
      return f
    end

    it("reads the password without echoing it", function()
      local r = on_pty(sw.OS_PASSWORD, flags())
      assert.are.equal(0, r.code, r.output)
      assert.matches("^Password: \r?\nAuth token: ", r.output)
      assert.is_nil(r.output:find(sw.OS_PASSWORD, 1, true), r.output)
      assert.is_true(r.echo)
    end)

    it("reads an application credential secret", function()
      local r = on_pty(cred.secret, { "auth", "--prompt", "--os-auth-type",
        "v3applicationcredential", "--os-auth-url", sw.OS_AUTH_URL,
        "--os-application-credential-id", cred.id },
        "Application credential secret: ")
      assert.are.equal(0, r.code, r.output)
      assert.matches("^Application credential secret: \r?\nAuth token: ",
                     r.output)
      assert.is_nil(r.output:find(cred.secret, 1, true), r.output)
    end)

    it("restores the terminal on ^C", function()
      local r = on_pty("^C", flags())
      assert.are.equal(130, r.code, r.output)
      assert.matches("interrupted", r.output)
      assert.is_true(r.echo, "echo left off")
    end)

    it("refuses without a terminal", function()
      local args = flags()
      for i, w in ipairs(args) do args[i] = util.quote(w) end
      local out, err, code = util.sh("setsid -w " .. util.quote(util.zpm_bin)
        .. " " .. table.concat(args, " ") .. " </dev/null", { env = env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: --prompt: no terminal to read the password "
                       .. "from\n", err)
    end)
  end)

  it("shows no secret with --debug, whatever the way in", function()
    local dir = util.tmpdir()
    util.write(dir .. "/clouds.yaml", ([[
clouds:
  devcloud:
    auth: {auth_url: '%s', username: '%s', password: '%s',
           project_name: '%s'}
]]):format(sw.OS_AUTH_URL, sw.OS_USERNAME, sw.OS_PASSWORD,
           sw.OS_PROJECT_NAME))
    local zapp = bundled_project()
    local runs = {
      { concat({ "--debug", "auth" }, app_flags()), env() },
      { { "--debug", "deploy", "dbg-" .. os.time(), zapp }, env({
        OS_AUTH_TYPE = "v3applicationcredential",
        OS_AUTH_URL = sw.OS_AUTH_URL, OS_APPLICATION_CREDENTIAL_ID = cred.id,
        OS_APPLICATION_CREDENTIAL_SECRET = cred.secret }) },
      { { "auth", "--debug", "--os-cloud", "devcloud" }, env() },
      { { "-A", sw.ST_AUTH, "-U", sw.ST_USER, "-K", sw.ST_KEY, "--debug",
          "auth" }, env() },
    }
    for _, run in ipairs(runs) do
      local out, err, code = util.zpm(run[1], { cwd = dir, env = run[2] })
      assert.are.equal(0, code, err)
      assert.matches("DEBUG: http: ", err)
      local all = out .. err
      for _, secret in ipairs({ cred.secret, sw.OS_PASSWORD, sw.ST_KEY }) do
        assert.is_nil(all:find(secret, 1, true), "a secret in the output")
      end
      -- auth prints its token on stdout, as asked; never on stderr
      local token = out:match("Auth token: (%S+)")
      if token then
        assert.is_nil(err:find(token, 1, true), "the token on stderr")
      end
      -- every token header the trace shows is redacted (a deploy's token
      -- is known only to it)
      local shown = 0
      for line in err:gmatch("[^\n]+") do
        local value = line:match("^DEBUG: http: [<>] [Xx]%-[%w-]*[Tt]oken: "
                                 .. "(.*)$")
        if value then
          shown = shown + 1
          assert.are.equal("<redacted>", value)
        end
      end
      assert.is_true(shown > 0, err)
    end
  end)
end)
