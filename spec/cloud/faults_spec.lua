-- Fault injection between zpm and a real Swift: spec/support/fault_proxy.py
-- sits in front of the Swift proxy and is scripted per test; what each
-- fault leaves in Swift is checked with python-swiftclient, straight
-- against the real Swift.
local util = require("support.util")
local servers = require("support.servers")
local json = require("zpm.json")

local sw, token, zapp, tar
local proxy_pid, port, control
local counter = 0

local NO_ENV = { ST_AUTH = "", ST_USER = "", ST_KEY = "", OS_AUTH_URL = "",
                 OS_USERNAME = "", OS_PASSWORD = "", OS_STORAGE_URL = "",
                 OS_AUTH_TOKEN = "", OS_AUTH_VERSION = "",
                 ZPM_LOW_SPEED_TIME = "" }

local function env(extra)
  local e = {}
  for k, v in pairs(NO_ENV) do
    e[k] = v
  end
  for k, v in pairs(extra or {}) do
    e[k] = v
  end
  return e
end

-- python-swiftclient as test:tester, against the real Swift
local function swift(args)
  return util.sh("/usr/bin/swift -A " .. util.quote(sw.ST_AUTH) .. " -U "
    .. util.quote(sw.ST_USER) .. " -K " .. util.quote(sw.ST_KEY) .. " "
    .. args, { env = { OS_AUTH_URL = "", OS_USERNAME = "" } })
end

-- Every test deploys to a pseudo-directory of one container, C, and
-- registers what it expects to be left there; the last test checks them
-- all with one python-swiftclient download of C (each call costs seconds).
local C
local checks = {}

-- What Swift holds under target "C/dir": { names = "a\nb\n" (sorted,
-- relative to the target), data = { name = content } }, or nil if nothing.
local function snapshot_all()
  local dir = util.tmpdir()
  local _, err, code = swift("download " .. util.quote(C) .. " -D "
                             .. util.quote(dir))
  assert(code == 0, err)
  local names = util.sh("cd " .. util.quote(dir) .. " && find . -type f "
    .. "| sed 's|^\\./||' | LC_ALL=C sort")
  local by_target = {}
  for name in names:gmatch("[^\n]+") do
    local sub, rest = name:match("^([^/]+)/(.+)$")
    local target = C .. "/" .. sub
    local snap = by_target[target] or { names = "", data = {} }
    by_target[target] = snap
    snap.names = snap.names .. rest .. "\n"
    snap.data[rest] = util.read(dir .. "/" .. name)
  end
  return by_target
end

-- check(snapshot or nil) runs in the last test, on what is left under c
local function later(c, check)
  checks[#checks + 1] = { target = c, check = check }
end

-- the proxy's control endpoint
local function ctl(method, path, value)
  return util.fault_control(control, method, path, value)
end

local function faults(rules)
  ctl("POST", "/rules", rules)
end

-- the requests the proxy saw, as "METHOD path [fault]" lines
local function seen()
  local lines = {}
  for _, e in ipairs(ctl("GET", "/log")) do
    lines[#lines + 1] = ("%s %s%s"):format(e.method or "-",
      e.path or "-", e.fault ~= json.null and e.fault
                     and " [" .. e.fault .. "]" or "")
  end
  return lines
end

local function count(lines, pattern)
  local n = 0
  for _, l in ipairs(lines) do
    if l:find(pattern) then
      n = n + 1
    end
  end
  return n
end

local function new_container()
  counter = counter + 1
  return ("%s/t%d"):format(C, counter)
end

local function proxy_url()
  return ("http://127.0.0.1:%d%s"):format(port,
    sw.SWIFT_STORAGE_URL:match("^%a+://[^/]+(/.*)$"))
end

-- zpm deploy through the proxy, pre-authenticated with a real token
local function deploy(c, retries, extra_env, more, storage_url)
  local args = { "deploy", "-f", "-R", tostring(retries), "--os-storage-url",
                 storage_url or proxy_url(), "--os-auth-token", token }
  for _, a in ipairs(more or {}) do
    args[#args + 1] = a
  end
  args[#args + 1] = c
  args[#args + 1] = zapp
  return util.zpm(args, { env = env(extra_env) })
end

-- the start of a URL through the proxy, up to the container
local PROXIED = "http://127%.0%.0%.1:%d+/v1/[^/]+/"

-- a literal string as a Lua pattern
local function pat(s)
  return (s:gsub("%p", "%%%0"))
end

local function one_error_line(err)
  assert.matches("^Error: [^\n]+\n$", err)
  assert.is_nil(err:find("traceback", 1, true))
end

-- a deploy's image object (the tar), relative to its target: as a Lua
-- pattern, and as the proxy's (Python) regular expression
local IMAGE = "%.zapp/%d+T%d+Z%-%x+/app%.zapp"
local IMAGE_RE = "/\\.zapp/[0-9]+T[0-9]+Z-[0-9a-f]+/app\\.zapp$"

-- every object of a deploy reported as successful is complete: one
-- image (no lock left), the job naming it, app.zapp (a manifest naming
-- the image) and the page; both the image and app.zapp read as the tar
local function complete(snap, c)
  assert.is_table(snap)
  local image = snap.names:match("^(" .. IMAGE .. ")\n")
  assert.is_string(image, snap.names)
  -- the record (.zapp/deploy.json) is written once the deploy is in
  -- place; a fault there leaves the deploy complete, without it
  assert.are.equal(image .. "\napp.zapp\nboot/system.map\nindex.html\n"
                   .. "style.css\nzerocloud.js\n",
                   (snap.names:gsub("\n%.zapp/deploy%.json\n", "\n", 1)))
  assert.are.equal(tar, snap.data[image])
  assert.are.equal(tar, snap.data["app.zapp"])
  local job = json.decode(snap.data["boot/system.map"])
  assert.are.equal("table", type(job))
  local devices = job[1].devices
  assert.are.same({ name = "image", path = ("swift://%s/%s/%s"):format(
    sw.SWIFT_STORAGE_URL:match("/v1/([^/]+)$"), c, image) },
    devices[#devices])
  assert.matches("<title>app</title>", snap.data["index.html"])
end

local function assert_complete(c)
  later(c, function(snap)
    complete(snap, c)
  end)
end

local function nothing(snap)
  assert.is_nil(snap)
end

-- the objects a failed deploy's message names (sorted), or {}
local function named(err)
  local list = {}
  local text = err:match("; objects written before the failure: (.-)\n$")
  for object in (text or ""):gmatch("[^, ]+") do
    list[#list + 1] = object
  end
  table.sort(list)
  return list
end

-- a failure before the job is in place: the web UI files stay, and the
-- message names exactly those; the new image was removed (HEAD, then
-- DELETE, once each), the lock released
local function undone(err, c, log)
  assert.are.same({ c .. "/index.html", c .. "/style.css",
                    c .. "/zerocloud.js" }, named(err))
  assert.is_nil(err:find("/.zapp/", 1, true))
  assert.are.equal(1, count(log, "^PUT .*/" .. pat(c) .. "/" .. IMAGE
                            .. "$"))
  assert.are.equal(1, count(log, "^HEAD .*/" .. pat(c) .. "/" .. IMAGE
                            .. "$"))
  assert.are.equal(1, count(log, "^DELETE .*/" .. pat(c) .. "/" .. IMAGE
                            .. "$"))
  assert.are.equal(1, count(log, "^DELETE .*/" .. pat(c)
                            .. "/%.zapp/deploy%.lock$"))
  assert.are.equal(0, count(log, "multipart%-manifest"))
  later(c, function(snap)
    assert.is_table(snap)
    assert.are.equal("index.html\nstyle.css\nzerocloud.js\n", snap.names)
    assert.matches("<title>app</title>", snap.data["index.html"])
  end)
end

describe("zpm against a faulty network in front of Swift", function()
  setup(function()
    sw = servers.swift()
    C = ("faults-%d"):format(os.time())
    local out, err, code = util.zpm({ "auth", "-A", sw.ST_AUTH, "-U",
      sw.ST_USER, "-K", sw.ST_KEY }, { env = env() })
    assert(code == 0, err)
    token = out:match("Auth token: (%S+)")
    -- a project with a UI and a 1 MiB source file: the tar upload takes
    -- many blocks, so a reset can land in its middle
    local dir = util.tmpdir()
    util.zpm({ "new", "-u", "app" }, { cwd = dir })
    local lines = {}
    for i = 1, 16384 do
      lines[i] = ("# %08x %08x %08x %08x %08x %08x %08x\n"):format(i,
        math.random(0, 0x7fffffff), math.random(0, 0x7fffffff),
        math.random(0, 0x7fffffff), math.random(0, 0x7fffffff),
        math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
    end
    util.write(dir .. "/app/data.py", table.concat(lines))
    util.write(dir .. "/app/main.py", "print('hi')\n")
    local _, berr, bcode = util.zpm({ "bundle" }, { cwd = dir .. "/app" })
    assert(bcode == 0, berr)
    zapp = dir .. "/app/app.zapp"
    tar = util.sh("gzip -dc " .. util.quote(zapp))
    assert(#tar > 1000000, "the tar is smaller than expected")
    port, control = util.free_port(), util.free_port()
    local upstream = sw.SWIFT_STORAGE_URL:match("^%a+://([^/]+)")
    proxy_pid = util.spawn({ "/usr/bin/python3", util.source_dir
      .. "/spec/support/fault_proxy.py", "--upstream", upstream, "--port",
      tostring(port), "--control-port", tostring(control) })
  end)

  teardown(function()
    util.kill(proxy_pid)
    util.cleanup()
  end)

  before_each(function()
    ctl("DELETE", "/rules")
    ctl("DELETE", "/log")
  end)

  it("passes a deploy through unchanged (no fault)", function()
    local c = new_container()
    local _, err, code = deploy(c, 0)
    assert.are.equal(0, code, err)
    assert_complete(c)
    -- every request, in order (a table: requests sent at once, in any
    -- order): /info, the container (404: created), the lock, the job
    -- deployed now (none) and the record (none), the image, the lock
    -- read back, the web UI files (one bulk extract-archive request:
    -- /info announces bulk_upload), the lock read back, the job,
    -- app.zapp naming the image, the listings (the images and app.zapp
    -- for the record and the images to remove, none; the segments of
    -- killed deploys, none: the segments container is not there), the
    -- record, the lock read back and released
    local log = seen()
    local t = pat(c:match("/(.+)$"))
    local account = "/v1/" .. pat(sw.SWIFT_STORAGE_URL:match("/v1/([^/]+)$"))
    local under = account .. "/" .. pat(C) .. "/" .. t .. "/"
    local lock = under .. "%.zapp/deploy%.lock$"
    local expected = {
      "^GET /info$",
      "^GET " .. account .. "/" .. pat(C) .. "%?format=json&limit=1$",
      "^PUT " .. account .. "/" .. pat(C) .. "$",
      "^PUT " .. lock,
      { "^GET " .. under .. "boot/system%.map$",
        "^GET " .. under .. "%.zapp/deploy%.json$" },
      "^PUT " .. under .. IMAGE .. "$",
      "^GET " .. lock,
      "^PUT " .. account .. "/" .. pat(C) .. "%?extract%-archive=tar$",
      "^GET " .. lock,
      "^PUT " .. under .. "boot/system%.map$",
      "^PUT " .. under .. "app%.zapp%?multipart%-manifest=put$",
      { "^GET " .. account .. "/" .. pat(C) .. "%?format=json&limit=%d+&"
          .. "prefix=" .. t .. "%%2F%.zapp%%2F$",
        "^GET " .. account .. "/" .. pat(C) .. "%?format=json&limit=1&"
          .. "prefix=" .. t .. "%%2Fapp%.zapp$",
        "^GET " .. account .. "/" .. pat(C) .. "_segments%?format=json&"
          .. "limit=%d+&prefix=" .. t .. "%%2F%.zapp%%2F$" },
      "^PUT " .. under .. "%.zapp/deploy%.json$",
      "^GET " .. lock,
      "^DELETE " .. lock,
    }
    local i = 0
    for _, step in ipairs(expected) do
      local set = type(step) == "table" and step or { step }
      local got = {}
      for k = 1, #set do
        got[k] = log[i + k] or ""
      end
      -- each request of the step matches one pattern of it
      for _, p in ipairs(set) do
        local found
        for k, line in ipairs(got) do
          if line:match(p) then
            found = k
            break
          end
        end
        assert(found, ("request %d..%d: none matches %s\n%s"):format(i + 1,
          i + #set, p, table.concat(log, "\n")))
        table.remove(got, found)
      end
      i = i + #set
    end
    assert.are.equal(i, #log, table.concat(log, "\n"))
  end)

  it("connection refused: the deploy fails cleanly, nothing made", function()
    faults({ fault = "refuse", close = true })
    local c = new_container()
    local out, err, code = deploy(c, 1)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: GET " .. PROXIED
      .. pat(C)
      .. ": Failed to connect to 127%.0%.0%.1 port %d+.*"
      .. "%(after 2 attempts%)\n$", err)
    later(c, nothing)
  end)

  it("connection reset at accept once: the retry succeeds", function()
    faults({ fault = "refuse", count = 1 })
    local c = new_container()
    local _, err, code = deploy(c, 2)
    assert.are.equal(0, code, err)
    assert_complete(c)
    assert.are.equal(1, count(seen(), "%[refuse%]"))
  end)

  it("reset in the middle of the tar upload: retried, object intact",
     function()
    faults({ fault = "reset_after_bytes", method = "PUT",
             path = IMAGE_RE, bytes = 400000 })
    local c = new_container()
    local _, err, code = deploy(c, 2)
    assert.are.equal(0, code, err)
    local log = seen()
    assert.are.equal(1, count(log, "^PUT .*/" .. IMAGE
                              .. " %[reset_after_bytes%]$"))
    assert.are.equal(2, count(log, "^PUT .*/" .. IMAGE))
    -- app.zapp is the manifest naming the image, written once, after
    assert.are.equal(1, count(log, "^PUT .*/" .. pat(c)
                              .. "/app%.zapp%?multipart%-manifest=put$"))
    assert_complete(c)
  end)

  it("reset in the middle of a Static Large Object segment: that segment "
     .. "is sent again, the object reads back whole", function()
    faults({ fault = "reset_after_bytes", method = "PUT",
             path = "/slo/.*/00000002$", bytes = 100000 })
    local c = new_container()
    local _, err, code = deploy(c, 2, nil, { "--segment-size", "256K" })
    assert.are.equal(0, code, err)
    assert.matches("Static Large Object", err)
    local log = seen()
    assert.are.equal(1, count(log, "^PUT .*/00000002 %[reset_after_bytes%]"))
    assert.are.equal(2, count(log, "^PUT .*/00000002"))
    assert.are.equal(1, count(log, "^PUT .*/00000003$"))
    assert_complete(c)
  end)

  it("503 on web UI files uploaded in parallel: each retried alone",
     function()
    faults({ fault = "status", status = 503, method = "PUT",
             path = "/(index\\.html|style\\.css)$", count = 2 })
    local c = new_container()
    local _, err, code = deploy(c, 2, nil, { "--ui-upload", "parallel" })
    assert.are.equal(0, code, err)
    local log = seen()
    assert.are.equal(2, count(log, "%[status%]"))
    assert.are.equal(1, count(log, "^PUT .*/zerocloud%.js$"))
    assert_complete(c)
  end)

  it("503 on the bulk request of the web UI files: sent again whole",
     function()
    faults({ fault = "status", status = 503, method = "PUT",
             path = "\\?extract-archive=tar$", count = 1 })
    local c = new_container()
    local _, err, code = deploy(c, 2)
    assert.are.equal(0, code, err)
    local log = seen()
    assert.are.equal(1, count(log, "%?extract%-archive=tar %[status%]$"))
    assert.are.equal(2, count(log, "^PUT .*%?extract%-archive=tar"))
    assert.are.equal(0, count(log, "^PUT .*/index%.html$"))
    assert_complete(c)
  end)

  it("the bulk request's answer lost, then a file's own PUT refused: the "
     .. "message names every web UI file, stored by the bulk request",
     function()
    faults({ { fault = "truncate_response", method = "PUT", keep = 0,
               path = "\\?extract-archive=tar$", count = 1 },
             { fault = "status", status = 500, method = "PUT",
               path = "/index\\.html$", count = 50 } })
    local c = new_container()
    local out, err, code = deploy(c, 0)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: Object PUT failed: " .. PROXIED .. pat(c)
      .. "/index%.html 500 ", err)
    local log = seen()
    assert.are.equal(1, count(log, "%?extract%-archive=tar %[truncate"))
    -- the three were stored by the bulk request: index.html is named
    -- though its own PUT failed
    undone(err, c, log)
  end)

  it("503 twice, then success", function()
    faults({ fault = "status", status = 503, method = "PUT",
             path = IMAGE_RE, count = 2 })
    local c = new_container()
    local _, err, code = deploy(c, 2)
    assert.are.equal(0, code, err)
    local log = seen()
    assert.are.equal(2, count(log, "^PUT .*/" .. IMAGE .. " %[status%]$"))
    assert.are.equal(3, count(log, "^PUT .*/" .. IMAGE))
    assert.are.equal(1, count(log, "^PUT .*/" .. pat(c)
                              .. "/app%.zapp%?multipart%-manifest=put$"))
    assert_complete(c)
  end)

  it("a 500 storm beyond the retries: fails, names the status and the "
     .. "objects written; no system.map", function()
    faults({ fault = "status", status = 500, method = "PUT",
             path = "/boot/system\\.map$", count = 50 })
    local c = new_container()
    local out, err, code = deploy(c, 1)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: Object PUT failed: " .. PROXIED
      .. pat(c) .. "/boot/system%.map 500 ", err)
    local log = seen()
    assert.are.equal(2, count(log, "^PUT .*/boot/system%.map %[status%]"))
    assert.are.equal(2, count(log, "^PUT .*/boot/system%.map"))
    -- what the message names is what Swift holds, and nothing runnable
    undone(err, c, log)
  end)

  it("401 after v1 auth: authenticates again once and succeeds", function()
    faults({ fault = "status", status = 401, method = "GET",
             path = "^/v1/", count = 1 })
    local c = new_container()
    local _, err, code = util.zpm({ "deploy", "-R", "0", "-A",
      ("http://127.0.0.1:%d/auth/v1.0"):format(port), "-U", sw.ST_USER,
      "-K", sw.ST_KEY, "-f", c, zapp }, { env = env() })
    assert.are.equal(0, code, err)
    local log = seen()
    assert.matches("^GET /auth/v1%.0$", log[1])
    assert.matches("^GET /info$", log[2])
    assert.matches("^GET /v1/.*%?format=json.* %[status%]$", log[3])
    assert.matches("^GET /auth/v1%.0$", log[4])
    assert.matches("^GET /v1/.*%?format=json", log[5])
    assert.are.equal(2, count(log, "^GET /auth/v1%.0"))
    assert.are.equal(1, count(log, "^GET /info$"))
    assert_complete(c)
  end)

  it("a 401 that persists after re-auth is an error, not a loop", function()
    faults({ fault = "status", status = 401, method = "GET",
             path = "^/v1/", count = 5 })
    local c = new_container()
    local _, err, code = util.zpm({ "deploy", "-R", "0", "-A",
      ("http://127.0.0.1:%d/auth/v1.0"):format(port), "-U", sw.ST_USER,
      "-K", sw.ST_KEY, "-f", c, zapp }, { env = env() })
    assert.are.equal(1, code)
    one_error_line(err)
    assert.matches("^Error: Container GET failed: .* 401 ", err)
    assert.are.equal(2, count(seen(), "^GET /auth/v1%.0"))
    later(c, nothing)
  end)

  it("a stall trips the low-speed timeout; the retry succeeds", function()
    faults({ fault = "stall", seconds = 6, method = "GET",
             path = "format=json", count = 1 })
    local c = new_container()
    local t0 = os.time()
    local _, err, code = deploy(c, 1, { ZPM_LOW_SPEED_TIME = "2" })
    assert.are.equal(0, code, err)
    assert.is_true(os.time() - t0 < 6, "the stall was waited out")
    assert.are.equal(1, count(seen(), "%[stall%]"))
    assert_complete(c)
  end)

  it("a stall on every try: fails with the timeout, nothing made",
     function()
    faults({ fault = "stall", seconds = 6, method = "GET",
             path = "format=json", count = 2 })
    local c = new_container()
    local out, err, code = deploy(c, 1, { ZPM_LOW_SPEED_TIME = "2" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: GET " .. PROXIED
      .. pat(C)
      .. ": Timeout was reached.*%(after 2 attempts%)\n$",
      err)
    later(c, nothing)
  end)

  it("a truncated container listing: a clear error, nothing made",
     function()
    -- a complete deployment already there (straight to Swift), so the
    -- listing has a body to cut
    local c = new_container()
    local _, derr, dcode = deploy(c, 0, nil, nil, sw.SWIFT_STORAGE_URL)
    assert.are.equal(0, dcode, derr)
    faults({ fault = "truncate_response", method = "GET",
             path = "format=json", count = 10 })
    local out, err, code = deploy(c, 1, nil, { "-f" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: GET " .. PROXIED .. pat(C)
      .. ": Transferred a partial file", err)
    -- untouched
    assert.are.equal(0, count(seen(), "^PUT "))
    assert_complete(c)
  end)

  it("a truncated boot/system.map on execute: a clear error", function()
    local c = new_container()
    local _, err, code = deploy(c, 0, nil, nil, sw.SWIFT_STORAGE_URL)
    assert.are.equal(0, code, err)
    faults({ fault = "truncate_response", method = "GET",
             path = "/boot/system\\.map$", count = 10 })
    local out
    out, err, code = util.zpm({ "execute", "-R", "1", "--os-storage-url",
      proxy_url(), "--os-auth-token", token, "--container", c, "app" },
      { env = env() })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: GET " .. PROXIED
      .. pat(c)
      .. "/boot/system%.map: Transferred a partial file", err)
    assert.are.equal(1, count(seen(), "%[truncate_response%]"))
  end)

  it("a wrong Etag on the tar upload: fails, names the object; no "
     .. "system.map", function()
    faults({ fault = "bad_etag", method = "PUT", path = IMAGE_RE })
    local c = new_container()
    local out, err, code = deploy(c, 2)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    -- Swift did store it: the deploy takes it back, so nothing is left
    -- to name (no UI file was written yet)
    assert.matches("^Error: Object PUT " .. PROXIED
      .. pat(c) .. "/" .. IMAGE .. ": Etag 0+ does not match the MD5 of "
      .. "the data sent %(%x+%)\n$", err)
    local log = seen()
    assert.are.equal(1, count(log, "^PUT .*/" .. IMAGE .. " %[bad_etag%]$"))
    assert.are.equal(1, count(log, "^DELETE .*/" .. pat(c) .. "/" .. IMAGE
                              .. "$"))
    assert.are.equal(0, count(log, "^PUT .*/index%.html$"))
    assert.are.equal(0, count(log, "^PUT .*/boot/system%.map$"))
    assert.are.equal(1, count(log, "^DELETE .*/%.zapp/deploy%.lock$"))
    later(c, nothing)
  end)
  it("a wrong Etag on boot/system.map: fails, and system.map is taken "
     .. "back", function()
    faults({ fault = "bad_etag", method = "PUT",
             path = "/boot/system\\.map$" })
    local c = new_container()
    local out, err, code = deploy(c, 2)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    one_error_line(err)
    assert.matches("^Error: Object PUT " .. PROXIED
      .. pat(c)
      .. "/boot/system%.map: Etag 0+ does not match", err)
    assert.is_nil(err:find("system.map,", 1, true))
    local log = seen()
    assert.are.equal(1, count(log, "^DELETE .*/boot/system%.map$"))
    undone(err, c, log)
  end)

  it("a deploy held up between its empty check and its lock does not "
     .. "overwrite one that ran meanwhile", function()
    -- B finds the new container empty (creates it), then its lock PUT
    -- stalls; A deploys to it whole meanwhile (straight to Swift); B's
    -- lock PUT is retried once A is done
    local c = C .. "-late"
    faults({ fault = "stall", seconds = 30, method = "PUT",
             path = "/\\.zapp/deploy\\.lock$", count = 1 })
    local h = util.zpm_background({ "deploy", "-R", "1", "--os-storage-url",
      proxy_url(), "--os-auth-token", token, c, zapp },
      { env = env({ ZPM_LOW_SPEED_TIME = "5" }) })
    local stalled = util.wait_until(function()
      return count(seen(), "^PUT .*/deploy%.lock %[stall%]$") == 1
        or util.exited(h) and "exited first"
    end, 15, 0.05)
    assert.are.equal(true, stalled, "B's lock PUT never stalled")
    local _, aerr, acode = util.zpm({ "deploy", "-R", "0",
      "--os-storage-url", sw.SWIFT_STORAGE_URL, "--os-auth-token", token,
      c, zapp }, { env = env() })
    assert.are.equal(0, acode, aerr)
    local retried = not util.exited(h)
    local a_listing = swift("list " .. c)
    local a_image = a_listing:match("^(" .. IMAGE .. ")\n")
    assert.is_string(a_image, a_listing)
    local out, err, code = util.finish(h, 60)
    assert.is_true(retried, "B was done before A: " .. err)
    assert.are.equal(1, count(seen(), "^PUT .*/deploy%.lock$"))
    -- B was not forced: it must not replace what A deployed
    assert.are.equal(1, code, "B (not forced) deployed over A: " .. out
                     .. err)
    assert.are.equal(a_listing, swift("list " .. c))
    local job = json.decode(select(1, swift("download " .. util.quote(c)
      .. " boot/system.map -o -")))
    local devices = job[1].devices
    assert.matches("/" .. pat(c) .. "/" .. pat(a_image) .. "$",
                   devices[#devices].path)
  end)

  it("leaves in Swift what each case expects (python-swiftclient)",
     function()
    assert.is_true(#checks > 0)
    local left = snapshot_all()
    for _, c in ipairs(checks) do
      local ok, err = pcall(c.check, left[c.target])
      assert(ok, c.target .. ": " .. tostring(err))
    end
  end)
end)
