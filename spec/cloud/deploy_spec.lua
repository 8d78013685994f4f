-- zpm deploy and execute against a real Swift (no ZeroCloud middleware):
-- every object is checked with an independent client (python-swiftclient).
local util = require("support.util")
local servers = require("support.servers")
local json = require("zpm.json")

local sw, counter = nil, 0

local function v1_env()
  return util.v1_env(sw)
end

-- python-swiftclient as the user test:tester
local function swift(args)
  return util.swift_cli(sw, args)
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
    assert.are.equal((".zapp/%s/app.zapp\n.zapp/deploy.json\napp.zapp\n"
      .. "boot/system.map\nindex.html\nstyle.css\nzerocloud.js\n")
      :format(version), listing)
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
    -- three UI files, the image, the job, app.zapp and the record
    assert.are.equal(c .. "/index.html 7\n", err)
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

-- What a deploy changes, it changes whole: the job and the image it names
-- move together, or not at all.
describe("all or nothing", function()
  setup(function()
    sw = servers.swift()
  end)
  teardown(util.cleanup)

  -- a literal string as a Lua pattern
  local function pat(s)
    return (s:gsub("%p", "%%%0"))
  end

  -- a project of our own: zapp.yaml with `yaml_extra`, main.py and
  -- `files` ({ [path] = content }); bundled, returns the zapp's path
  local function project(dir, name, files, yaml_extra)
    local root = dir .. "/" .. name
    assert(os.execute("mkdir -p " .. util.quote(root)))
    util.write(root .. "/zapp.yaml", ("execution:\n  groups:\n"
      .. "  - {name: %s, path: 'file://python3:python', args: main.py}\n"
      .. "meta: {name: %s}\nbundling: [main.py%s]\n%s"):format(name, name,
      files and files["data.bin"] and ", data.bin" or "", yaml_extra or ""))
    util.write(root .. "/main.py", ("print(%q)\n"):format(name))
    for path, content in pairs(files or {}) do
      assert(os.execute("mkdir -p " .. util.quote((root .. "/" .. path)
                                                  :match("^(.*)/"))))
      util.write(root .. "/" .. path, content)
    end
    local _, err, code = util.zpm({ "bundle" }, { cwd = root })
    assert(code == 0, err)
    return root .. "/" .. name .. ".zapp"
  end

  local function tar_of(zapp)
    return util.sh("gzip -dc " .. util.quote(zapp))
  end

  -- the one image under a target's .zapp/ in a listing (relative names;
  -- the record, .zapp/deploy.json, aside)
  local function image_in(listing, name)
    local images = {}
    for line in listing:gmatch("[^\n]+") do
      if line:find("^%.zapp/") and line ~= ".zapp/deploy.json" then
        images[#images + 1] = line
      end
    end
    assert.are.equal(1, #images, listing)
    assert.matches("^%.zapp/%d+T%d+Z%-%x+/" .. pat(name) .. "$", images[1])
    return images[1]
  end

  -- what a deploy of `names` (UI files and the like, relative) and zapp
  -- `name` leaves in a container: the image, the job, the zapp's name,
  -- those, sorted as Swift lists them
  local function expected_listing(image, name, names)
    local all = { image, ".zapp/deploy.json", "boot/system.map", name }
    for _, n in ipairs(names) do
      all[#all + 1] = n
    end
    table.sort(all)
    return table.concat(all, "\n") .. "\n"
  end

  -- the job of container c names image (relative to c)
  local function job_names(c, image)
    local job = json.decode(download(c, "boot/system.map"))
    local devices = job[1].devices
    assert.are.same({ name = "image", path = ("swift://%s/%s/%s"):format(
      sw.SWIFT_STORAGE_URL:match("/v1/([^/]+)$"), c, image) },
      devices[#devices])
  end

  it("a --force redeploy that fails midway leaves the old version running",
     function()
    local zapp = bundled_project()
    local dir = zapp:match("^(.*)/app%.zapp$")
    local c = new_container()
    local _, err, code = util.zpm({ "deploy", c, zapp }, { env = v1_env() })
    assert.are.equal(0, code, err)
    local before = swift("list " .. c)
    local image = image_in(before, "app.zapp")
    assert.are.equal(expected_listing(image, "app.zapp",
      { "index.html", "style.css", "zerocloud.js" }), before)
    local old_map, old_tar = download(c, "boot/system.map"), tar_of(zapp)
    local old_page = download(c, "index.html")
    -- version 2: another program, and a page template that cannot render
    -- (found once the tar is uploaded: the new image is in Swift then)
    util.write(dir .. "/main.py", "print('version 2')\n")
    util.write(dir .. "/index.html.tmpl", "{% for x in %}")
    local _, berr, bcode = util.zpm({ "bundle" }, { cwd = dir })
    assert.are.equal(0, bcode, berr)
    assert.are_not.equal(old_tar, tar_of(zapp))
    local out
    out, err, code = util.zpm({ "deploy", "-f", c, zapp }, { env = v1_env() })
    assert.are.equal(1, code, err)
    assert.are.equal("", out)
    -- nothing was left to name: the new image was taken back
    assert.matches("^Error: index%.html%.tmpl:1: [^\n]+\n$", err)
    assert.is_nil(err:find("objects written", 1, true))
    -- the target is exactly as it was: the old job naming the old image,
    -- which holds the old tar, and no other image
    assert.are.equal(before, swift("list " .. c))
    assert.are.equal(old_map, download(c, "boot/system.map"))
    job_names(c, image)
    assert.are.equal(old_tar, download(c, image))
    assert.are.equal(old_tar, download(c, "app.zapp"))
    assert.are.equal(old_page, download(c, "index.html"))
  end)

  it("two deploys to one new container at once: one wins, whole",
     function()
    local dir = util.tmpdir()
    local page = "<title>{{ zapp.meta.name }}</title>"
    local zapps = {
      one = project(dir, "one", { ["index.html.tmpl"] = page },
                    "ui: [index.html.tmpl]\n"),
      two = project(dir, "two", { ["index.html.tmpl"] = page },
                    "ui: [index.html.tmpl]\n"),
    }
    -- one round on a new container: nil, or what went wrong
    local function round()
      local c = new_container()
      local h = {}
      for _, name in ipairs({ "one", "two" }) do
        h[name] = util.zpm_background({ "deploy", "-q", c, zapps[name] },
                                      { env = v1_env() })
      end
      local results, winners = {}, {}
      for _, name in ipairs({ "one", "two" }) do
        local out, err, code = util.finish(h[name], 60)
        results[name] = { out = out, err = err, code = code }
        if code == 0 then
          winners[#winners + 1] = name
        end
      end
      local ok, problem = pcall(function()
        assert.are.equal(1, #winners, "exit codes " .. results.one.code
          .. " and " .. results.two.code .. "; " .. results.one.err
          .. results.two.err)
        local won = winners[1]
        local loser = results[won == "one" and "two" or "one"]
        assert.are.equal(1, loser.code, loser.err)
        assert.are.equal("", loser.out)
        local busy = loser.err:match("^Error: another deploy to '" .. pat(c)
          .. "' is in progress %(it holds " .. pat(c)
          .. "/%.zapp/deploy%.lock since [^)]+%); try again [^\n]+\n$")
        local full = loser.err:match("^Error: Target container %('"
          .. pat(c) .. "'%) is not empty%.\n")
        -- both lock PUTs passed If-None-Match: the later one's content
        -- won, and the other deploy found out before writing
        local taken = loser.err:match("^Error: another deploy to '"
          .. pat(c) .. "' took its lock while this one ran %(both started "
          .. "at once%); this one gives up\n$")
        assert.is_truthy(busy or full or taken, loser.err)
        -- the survivor's objects, and only those, all its own
        local listing = swift("list " .. c)
        local image = image_in(listing, won .. ".zapp")
        assert.are.equal(expected_listing(image, won .. ".zapp",
                                          { "index.html" }), listing)
        local tar = tar_of(zapps[won])
        assert.are.equal(tar, download(c, image))
        assert.are.equal(tar, download(c, won .. ".zapp"))
        job_names(c, image)
        assert.are.equal("<title>" .. won .. "</title>",
                         download(c, "index.html"))
      end)
      return not ok and (c .. ": " .. tostring(problem)) or nil
    end
    -- a race: several rounds, every one checked
    local problems = {}
    for _ = 1, 8 do
      problems[#problems + 1] = round()
    end
    assert.are.same({}, problems)
  end)

  it("refuses targets with empty, '.' or '..' segments or too long a "
     .. "container name, before any request", function()
    local zapp = bundled_project()
    local stamp = new_container()
    -- a victim the '..' would reach
    local victim = stamp .. "-victim"
    local tmp = util.tmpdir() .. "/file.txt"
    util.write(tmp, "victim's")
    assert.are.equal(0, select(3, swift("upload --object-name file.txt "
      .. victim .. " " .. util.quote(tmp))))
    local long = ("c"):rep(257)
    local cases = {
      { stamp .. "-x/../" .. victim, "has a '..' segment" },
      { stamp .. "-x/../" .. victim .. "/app", "has a '..' segment" },
      { stamp .. "-c2/./.", "has a '.' segment" },
      { stamp .. "-a//b", "has an empty segment" },
      { ".", "has a '.' segment" },
      { "..", "has a '..' segment" },
      { long, "container name '" .. long .. "' is 257 bytes long; the "
        .. "cluster takes at most 256" },
    }
    for _, case in ipairs(cases) do
      local out, err, code = util.zpm({ "deploy", "-f", "-l", "debug",
                                        case[1], zapp }, { env = v1_env() })
      assert.are.equal(1, code, case[1] .. ": " .. err)
      assert.are.equal("", out)
      -- not even an authentication: the debug log shows no HTTP
      assert.is_nil(err:find("http:", 1, true), err)
      local message = err:match("\nError: ([^\n]+)\n$")
      assert.is_string(message, err)
      assert.are.equal(1, select(2, err:gsub("Error: ", "")), err)
      assert.are.equal(1, message:find("deploy target '" .. case[1] .. "'",
                                       1, true), message)
      assert.truthy(message:find(case[2], 1, true), message)
    end
    assert.are.equal("file.txt\n", swift("list " .. victim))
    assert.are.equal("victim's", download(victim, "file.txt"))
    for _, c in ipairs({ stamp .. "-x", stamp .. "-c2", stamp .. "-a" }) do
      assert.are_not.equal(0, select(3, swift("stat " .. c)), c)
    end
    -- the limit itself is a name Swift takes
    local c = stamp .. "-" .. ("m"):rep(256 - #stamp - 1)
    assert.are.equal(256, #c)
    local _, err, code = util.zpm({ "deploy", c, zapp }, { env = v1_env() })
    assert.are.equal(0, code, err)
    assert.matches("\napp%.zapp\n", swift("list " .. c))
  end)

  it("deploys every file of a ui directory", function()
    local dir = util.tmpdir()
    local zapp = project(dir, "uidir", { ["ui/a.html"] = "<p>a</p>\n",
      ["ui/b.js"] = "var b = 1;\n" }, "ui: [ui]\n")
    local c = new_container()
    local out, err, code = util.zpm({ "deploy", c, zapp }, { env = v1_env() })
    assert.are.equal(0, code, err)
    -- no index.html: the page is the target
    assert.are.equal(("app deployed to\n  %s/%s/\n"):format(
      sw.SWIFT_STORAGE_URL, c), out)
    local listing = swift("list " .. c)
    local image = image_in(listing, "uidir.zapp")
    assert.are.equal(expected_listing(image, "uidir.zapp",
                                      { "ui/a.html", "ui/b.js" }), listing)
    assert.are.equal("<p>a</p>\n", download(c, "ui/a.html"))
    assert.are.equal("var b = 1;\n", download(c, "ui/b.js"))
    assert.matches("Content Type: text/html", stat(c, "ui/a.html"))
    assert.matches("Content Type: application/javascript",
                   stat(c, "ui/b.js"))
    assert.are.equal(tar_of(zapp), download(c, image))
  end)

  it("reads the zapp it opened, even when it is rebuilt meanwhile",
     function()
    -- two versions of one zapp, 64 MB each: the upload takes a while
    local dir = util.tmpdir()
    local function version(sub, word)
      assert(os.execute("mkdir -p " .. util.quote(dir .. "/" .. sub)))
      return project(dir .. "/" .. sub, "swap", {
        ["data.bin"] = util.sh("head -c 64000000 /dev/urandom"),
        ["index.html.tmpl"] = "<p>" .. word .. "</p>",
      }, "ui: [index.html.tmpl]\n")
    end
    local zapp, other = version("v1", "one"), version("v2", "two")
    local original = util.tmpdir() .. "/swap.zapp"
    assert(os.execute(("cp %s %s"):format(util.quote(zapp),
                                          util.quote(original))))
    local c = new_container()
    local h = util.zpm_background({ "deploy", "-q", c, zapp },
                                  { env = v1_env() })
    -- once deploy has read some of it (the tar's PUT is under way),
    -- version 2 is renamed over the path, as `zpm bundle` does
    local reading = util.wait_until(function()
      local n = util.bytes_read(h.pid)
      return n and n > 8 * 1024 * 1024 or util.exited(h) and "exited first"
    end, 30, 0.01)
    assert(os.rename(other, zapp))
    local swapped_while_running = not util.exited(h)
    local out, err, code = util.finish(h, 60)
    assert.are.equal(true, reading, "deploy never read the zapp: " .. err)
    assert.is_true(swapped_while_running, "deploy was done before the swap")
    assert.are.equal(0, code, err)
    assert.matches("^app deployed to\n", out)
    -- everything deployed is version 1's: the image, the job, the page
    local listing = swift("list " .. c)
    local image = image_in(listing, "swap.zapp")
    local tar = util.sh("gzip -dc " .. util.quote(original)
                        .. " | md5sum"):match("^%x+")
    assert.are.equal(tar, util.sh(("/usr/bin/swift -A %s -U %s -K %s "
      .. "download %s %s -o - | md5sum"):format(util.quote(sw.ST_AUTH),
      util.quote(sw.ST_USER), util.quote(sw.ST_KEY), util.quote(c),
      util.quote(image)), { env = { OS_AUTH_URL = "", OS_USERNAME = "" } })
      :match("^%x+"))
    assert.are_not.equal(tar, util.sh("gzip -dc " .. util.quote(zapp)
                                      .. " | md5sum"):match("^%x+"))
    assert.are.equal("<p>one</p>", download(c, "index.html"))
    local job = json.decode(download(c, "boot/system.map"))
    assert.are.same(json.decode(util.member(original, "boot/system.map"))[1]
                    .exec, job[1].exec)
    job_names(c, image)
  end)

  it("refuses a Static Large Object of more segments than the cluster "
     .. "takes, before uploading one", function()
    local info = json.decode((util.sh("curl -sf "
      .. util.quote(sw.SWIFT_PROXY_URL .. "/info"))))
    local limit = info.slo.max_manifest_segments
    assert.are.equal("number", type(limit))
    -- random data: the zapp is as large as its tar, over limit * 1 KiB
    local dir = util.tmpdir()
    local zapp = project(dir, "slotoo", { ["data.bin"] =
      util.sh(("head -c %d /dev/urandom"):format((limit + 100) * 1024)) })
    local c = new_container()
    local out, err, code = util.zpm({ "deploy", "--segment-size", "1K", c,
                                      zapp }, { env = v1_env() })
    assert.are.equal(1, code, err)
    assert.are.equal("", out)
    assert.matches(("^Error: %s needs at least %%d+ segments of 1%%.0 KiB "
      .. "%%(1024 bytes%%), more than one Static Large Object may have "
      .. "%%(%d, max_manifest_segments in /info%%): deploy with a larger "
      .. "%%-%%-segment%%-size\n$"):format(pat(zapp), limit), err)
    local n = tonumber(err:match("needs at least (%d+) segments"))
    assert.is_true(n > limit)
    -- no segment, no image, no job: not even the segments' container
    assert.are_not.equal(0, select(3, swift("stat " .. c .. "_segments")))
    assert.are.equal("", swift("list " .. c))
  end)
end)
