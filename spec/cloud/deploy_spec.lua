-- zpm deploy and execute against a real Swift (no ZeroCloud middleware):
-- every object is checked with an independent client (python-swiftclient).
local util = require("support.util")
local servers = require("support.servers")
local json = require("zpm.json")

local sw, counter = nil, 0

local function v1_env()
  return { ST_AUTH = sw.ST_AUTH, ST_USER = sw.ST_USER, ST_KEY = sw.ST_KEY,
           OS_AUTH_URL = "", OS_USERNAME = "", OS_PASSWORD = "",
           OS_STORAGE_URL = "", OS_AUTH_TOKEN = "", OS_AUTH_VERSION = "" }
end

-- python-swiftclient as the user test:tester
local function swift(args)
  return util.sh("/usr/bin/swift -A " .. util.quote(sw.ST_AUTH) .. " -U "
    .. util.quote(sw.ST_USER) .. " -K " .. util.quote(sw.ST_KEY) .. " "
    .. args, { env = { OS_AUTH_URL = "", OS_USERNAME = "" } })
end

local function new_container()
  counter = counter + 1
  return ("deploy-%d-%d"):format(os.time(), counter)
end

-- a project with a UI, bundled
local function bundled_project()
  local dir = util.tmpdir()
  util.zpm({ "new", "-u", "app" }, { cwd = dir })
  util.write(dir .. "/app/main.py", "print('hi')\n")
  local _, err, code = util.zpm({ "bundle" }, { cwd = dir .. "/app" })
  assert(code == 0, err)
  return dir .. "/app/app.zapp"
end

local function download(container, object)
  local out, err, code = swift("download " .. util.quote(container) .. " "
    .. util.quote(object) .. " -o -")
  assert(code == 0, err)
  return out
end

local function stat(container, object)
  local out = swift("stat " .. util.quote(container) .. " "
    .. util.quote(object))
  return out
end

describe("zpm deploy", function()
  setup(function()
    sw = servers.swift()
  end)
  teardown(util.cleanup)

  it("uploads the tar, the UI and the job to a new container", function()
    local zapp = bundled_project()
    local c = new_container()
    local out, err, code = util.zpm({ "deploy", c, zapp }, { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.are.equal(("app deployed to\n  %s/%s/index.html\n")
      :format(sw.SWIFT_STORAGE_URL, c), out)
    local listing = swift("list " .. c)
    local version = listing:match("^%.zapp/(%d+T%d+Z%-%x+)/app%.zapp\n")
    assert.is_truthy(version, listing)
    assert.are.equal((".zapp/%s/app.zapp\napp.zapp\nboot/system.map\n"
      .. "index.html\nstyle.css\nzerocloud.js\n"):format(version), listing)
    -- the image is the uncompressed tar; app.zapp names it (an SLO
    -- manifest), so both give the tar
    local tar = util.sh("gzip -dc " .. util.quote(zapp))
    local image = ".zapp/" .. version .. "/app.zapp"
    assert.are.equal(tar, download(c, image))
    assert.are.equal(tar, download(c, "app.zapp"))
    assert.matches("Content Type: application/x%-tar", stat(c, image))
    assert.matches("Content Type: application/x%-tar", stat(c, "app.zapp"))
    assert.matches("Content Type: text/html", stat(c, "index.html"))
    assert.matches("Content Type: text/css", stat(c, "style.css"))
    assert.matches("Content Type: application/javascript",
                   stat(c, "zerocloud.js"))
    assert.matches("Content Type: application/json",
                   stat(c, "boot/system.map"))
    -- the job carries the image device
    local job = json.decode(download(c, "boot/system.map"))
    local account = sw.SWIFT_STORAGE_URL:match("/v1/(.*)$")
    local devices = job[1].devices
    assert.are.same({ name = "image", path = ("swift://%s/%s/%s")
                      :format(account, c, image) }, devices[#devices])
    -- the page is rendered, names the zapp, carries no key
    local page = download(c, "index.html")
    assert.matches("<title>app</title>", page)
    assert.is_nil(page:find(sw.ST_KEY, 1, true))
    assert.matches('"version": "1.0"', page)
  end)

  it("deploys under a pseudo-directory", function()
    local zapp = bundled_project()
    local c = new_container()
    local out, err, code = util.zpm({ "deploy", c .. "/v1", zapp },
                                    { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.truthy(out:find("/" .. c .. "/v1/index.html\n", 1, true))
    local job = json.decode(download(c, "v1/boot/system.map"))
    local image = job[1].devices[#job[1].devices].path
    assert.matches("/" .. c:gsub("%p", "%%%0")
                   .. "/v1/%.zapp/%d+T%d+Z%-%x+/app%.zapp$", image)
  end)

  it("refuses a non-empty container unless forced", function()
    local zapp = bundled_project()
    local c = new_container()
    assert.are.equal(0, select(3, swift("post " .. c)))
    local tmp = util.tmpdir() .. "/other.txt"
    util.write(tmp, "x")
    assert.are.equal(0, select(3, swift("upload --object-name other.txt "
      .. c .. " " .. util.quote(tmp))))
    local out, err, code = util.zpm({ "deploy", c, zapp }, { env = v1_env() })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal(("Error: Target container ('%s') is not empty.\n"
      .. "Deploying to a non-empty container can cause consistency problems "
      .. "with overwritten objects.\nSpecify the flag `--force/-f` to "
      .. "overwrite anyway.\n"):format(c), err)
    assert.are.equal("other.txt\n", swift("list " .. c))
    _, err, code = util.zpm({ "deploy", "-f", c, zapp }, { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.matches("app.zapp", swift("list " .. c))
  end)

  it("gives the page no auth with --no-ui-auth", function()
    local zapp = bundled_project()
    local c = new_container()
    local _, err, code = util.zpm({ "deploy", "--no-ui-auth", c, zapp },
                                  { env = v1_env() })
    assert.are.equal(0, code, err)
    local page = download(c, "index.html")
    assert.matches('"version": "0.0"', page)
    assert.matches('"swiftUrl": "' .. sw.SWIFT_STORAGE_URL:gsub("%p", "%%%0"),
                   page)
  end)

  it("reports 401 and 403 without creating anything", function()
    local zapp = bundled_project()
    local c = new_container()
    -- a bad token, pre-authenticated: 401 and no re-auth possible
    local _, err, code = util.zpm({ "deploy", c, zapp, "--os-storage-url",
      sw.SWIFT_STORAGE_URL, "--os-auth-token", "AUTH_tkbad" },
      { env = v1_env() })
    assert.are.equal(1, code)
    assert.matches("^Error: Container GET failed: .* 401 ", err)
    -- another user's valid token on this account: 403
    local out2 = util.zpm({ "auth", "-A", sw.ST_AUTH, "-U", sw.ST_USER2,
      "-K", sw.ST_KEY2 }, { env = v1_env() })
    local token2 = out2:match("Auth token: (%S+)")
    _, err, code = util.zpm({ "deploy", c, zapp, "--os-storage-url",
      sw.SWIFT_STORAGE_URL, "--os-auth-token", token2 }, { env = v1_env() })
    assert.are.equal(1, code)
    assert.matches("^Error: Container GET failed: .* 403 ", err)
    assert.are_not.equal(0, select(3, swift("stat " .. c)))
  end)

  it("refuses a file that is not a zapp before touching Swift", function()
    local dir = util.tmpdir()
    util.write(dir .. "/x.zapp", "not a tar")
    local c = new_container()
    local _, err, code = util.zpm({ "deploy", c, dir .. "/x.zapp" },
                                  { env = v1_env() })
    assert.are.equal(1, code)
    assert.matches("^Error: .*x%.zapp", err)
    assert.are_not.equal(0, select(3, swift("stat " .. c)))
  end)

  it("never logs the key or the token, even at debug level", function()
    local zapp = bundled_project()
    local c = new_container()
    local out, err, code = util.zpm({ "deploy", "-l", "debug", c, zapp },
                                    { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.matches("DEBUG: http: ", err)
    local auth_out = util.zpm({ "auth", "-A", sw.ST_AUTH, "-U", sw.ST_USER,
                                "-K", sw.ST_KEY }, { env = v1_env() })
    local token = auth_out:match("Auth token: (%S+)")
    for _, secret in ipairs({ sw.ST_KEY, token }) do
      assert.is_nil(err:find(secret, 1, true), "secret in stderr")
      assert.is_nil(out:find(secret, 1, true), "secret in stdout")
    end
    _, err = util.zpm({ "execute", "-l", "debug", "--container", c, "x" },
                      { env = v1_env() })
    for _, secret in ipairs({ sw.ST_KEY, token }) do
      assert.is_nil(err:find(secret, 1, true), "secret in execute's log")
    end
  end)

  it("shows progress bars on a terminal, none with --quiet", function()
    local zapp = bundled_project()
    local env = v1_env()
    local c = new_container()
    local tty, out, code = util.zpm_on_tty({ "deploy", c, zapp }, nil, 120,
                                            env)
    assert.are.equal(0, code, tty)
    assert.matches("^app deployed to\n", out)
    local lines = util.drawn(tty)
    local size = tonumber(util.sh("stat -c %s " .. util.quote(zapp))
      :match("%d+"))
    local zapp_bytes = ("%.1f KiB"):format(size / 1024):gsub("%.", "%%.")
    local final_zapp, final_ui
    for _, line in ipairs(lines) do
      if line:match("^uploading app%.zapp .* in %d+:%d%d$") then
        final_zapp = line
      elseif line:match("^uploading 3 web UI files .* in %d+:%d%d$") then
        final_ui = line
      end
    end
    assert.is_string(final_zapp, tty)
    assert.matches(zapp_bytes .. " / " .. zapp_bytes .. " +100%%", final_zapp)
    assert.is_string(final_ui, tty)
    assert.matches("100%", final_ui, 1, true)
    tty, out, code = util.zpm_on_tty({ "deploy", "-q", "-f", c, zapp }, nil,
                                     120, env)
    assert.are.equal(0, code, tty)
    assert.matches("^app deployed to\n", out)
    assert.is_nil(tty:find("uploading", 1, true), tty)
  end)

  it("uploads web UI files in parallel, each checked, in any number",
     function()
    -- 120 UI files: more than the connections, all stored as they were
    local dir = util.tmpdir() .. "/many"
    os.execute("mkdir -p " .. util.quote(dir .. "/ui/d"))
    util.write(dir .. "/zapp.yaml", "execution:\n  groups:\n  - {name: a, "
      .. "path: 'file://python3:python', args: a.py}\nmeta: {name: many}\n"
      .. "bundling: [a.py]\nui: ['ui/*']\n")
    util.write(dir .. "/a.py", "print(1)\n")
    for i = 1, 120 do
      util.write(("%s/ui/d/f%03d.txt"):format(dir, i), (i .. " "):rep(i))
    end
    local _, err, code = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(0, code, err)
    local c = new_container()
    local out
    out, err, code = util.zpm({ "deploy", "--concurrency", "5", c,
      dir .. "/many.zapp" }, { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.matches("app deployed to", out)
    local listing = swift("list " .. c .. " --prefix ui/d/")
    local n = select(2, listing:gsub("\n", ""))
    assert.are.equal(120, n)
    assert.are.equal(util.read(dir .. "/ui/d/f077.txt"),
                     download(c, "ui/d/f077.txt"))
    _, err, code = util.zpm({ "deploy", "--concurrency", "0", c,
      dir .. "/many.zapp" }, { env = v1_env() })
    assert.are.equal(2, code)
    assert.matches("--concurrency: '0' is not a positive integer", err, 1,
                   true)
  end)

  it("works from Lua without printing", function()
    local zapp = bundled_project()
    local c = new_container()
    local script = ([[
      package.path = %q .. package.path
      package.cpath = %q .. package.cpath
      local zpm = require("zpm")
      local conn = assert(zpm.connect({ auth = %q, user = %q, key = %q }))
      local result = assert(conn:deploy(%q, %q))
      io.stderr:write(result.index, " ", #result.objects, "\n")
    ]]):format(util.source_dir .. "/lua/?.lua;" .. util.source_dir
      .. "/lua/?/init.lua;", util.build_dir .. "/?.so;", sw.ST_AUTH,
      sw.ST_USER, sw.ST_KEY, c, zapp)
    local out, err, code = util.sh("lua5.4 -e " .. util.quote(script))
    assert.are.equal(0, code, err)
    assert.are.equal("", out)
    -- three UI files, the image, the job and app.zapp
    assert.are.equal(c .. "/index.html 6\n", err)
  end)

  describe("execute on plain Swift", function()
    it("says the server is not ZeroCloud (--container)", function()
      local zapp = bundled_project()
      local c = new_container()
      assert.are.equal(0, select(3, util.zpm({ "deploy", c, zapp },
                                             { env = v1_env() })))
      local out, err, code = util.zpm({ "execute", "--container", c, "app" },
                                      { env = v1_env() })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: " .. require("zpm.execute").NOT_ZEROCLOUD
                       .. "\n", err)
    end)

    it("says the server is not ZeroCloud (zapp file)", function()
      local zapp = bundled_project()
      local _, err, code = util.zpm({ "execute", zapp }, { env = v1_env() })
      assert.are.equal(1, code)
      assert.matches("is it ZeroCloud%?", err)
    end)

    it("reports a missing deployment", function()
      local _, err, code = util.zpm({ "execute", "--container",
        "nothing-here-" .. os.time(), "x" }, { env = v1_env() })
      assert.are.equal(1, code)
      assert.matches("^Error: Could not find nothing%-here%-%d+/boot/"
                     .. "system%.map\n$", err)
    end)
  end)

  describe("with Keystone v3", function()
    it("deploys through the keystone proxy", function()
      local ks = servers.swift({ keystone = true })
      local zapp = bundled_project()
      local c = new_container()
      local out, err, code = util.zpm({ "deploy", c, zapp, "--os-auth-url",
        ks.OS_AUTH_URL, "--os-username", ks.OS_USERNAME, "--os-password",
        ks.OS_PASSWORD, "--os-project-name", ks.OS_PROJECT_NAME },
        { env = { ST_AUTH = "", ST_USER = "", ST_KEY = "" } })
      assert.are.equal(0, code, err)
      assert.truthy(out:find("AUTH_" .. ks.KS_PROJECT_ID .. "/" .. c, 1,
                             true))
      local auth_out = util.zpm({ "auth", "--os-auth-url", ks.OS_AUTH_URL,
        "--os-username", ks.OS_USERNAME, "--os-password", ks.OS_PASSWORD,
        "--os-project-name", ks.OS_PROJECT_NAME },
        { env = { ST_AUTH = "", ST_USER = "", ST_KEY = "" } })
      local token, url = auth_out:match(
        "^Auth token: (%S+)\nStorage URL: (%S+)\n$")
      local listing = util.sh(("/usr/bin/swift --os-storage-url %s "
        .. "--os-auth-token %s list %s"):format(util.quote(url),
        util.quote(token), c), { env = { ST_AUTH = "", OS_AUTH_URL = "" } })
      assert.matches("app%.zapp\n", listing)
    end)
  end)
end)
