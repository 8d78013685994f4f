-- Issue 16, item 3: zpm deploy --skip-identical against the real Swift:
-- what the target holds with the same content is not sent (the proxy's
-- log counts the PUTs), what differs is, and a zapp file that is not the
-- one deployed is sent again.
local util = require("support.util")
local servers = require("support.servers")
local json = require("zpm.json")

local sw, counter = nil, 0

local function new_container()
  counter = counter + 1
  return ("redeploy-%d-%d"):format(os.time(), counter)
end

-- a project with a web UI and 300 KB of random data, bundled
local function bundled_project()
  local dir = util.tmpdir()
  util.zpm({ "new", "-u", "app" }, { cwd = dir })
  local root = dir .. "/app"
  util.write(root .. "/main.py", "print('hi')\n")
  local random = assert(io.open("/dev/urandom", "rb"))
  util.write(root .. "/big.bin", random:read(300000))
  random:close()
  local yaml = util.read(root .. "/zapp.yaml")
  yaml = yaml:gsub('%- "%*%.py"', '- "*.py"\n- big.bin')
  util.write(root .. "/zapp.yaml", yaml)
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root .. "/app.zapp", root
end

local PROXY_LOG

-- deploy, and the PUTs the proxy saw for the container meanwhile
-- (object names, the lock and the record left out)
local function deploy(args)
  local start = #util.read(PROXY_LOG)
  local argv = { "deploy", "--json" }
  table.move(args, 1, #args, 3, argv)
  local out, err, code = util.zpm(argv, { env = util.v1_env(sw) })
  assert(code == 0, err)
  local result = assert(json.decode(out))
  local c = args[#args - 1]:match("^[^/]+")
  local record = c .. "/.zapp/deploy.json"
  local puts = {}
  util.wait_until(function()
    return util.read(PROXY_LOG):find(" PUT /v1/AUTH_test/" .. record, start,
                                     true)
  end, 10)
  local seen = util.read(PROXY_LOG):sub(start + 1)
  for path in seen:gmatch(" PUT /v1/AUTH_test/([^ ?]+)") do
    if path ~= record and path ~= c .. "/.zapp/deploy.lock"
       and path:find("^" .. c:gsub("%-", "%%-")) then
      puts[#puts + 1] = path
    end
  end
  return result, puts, err
end

local function skipped(result)
  local paths = {}
  for _, s in ipairs(result.skipped or {}) do
    paths[s.path] = s.bytes
  end
  return paths
end

describe("zpm deploy --skip-identical (issue 16, item 3)", function()
  local zapp, root
  setup(function()
    sw = servers.swift()
    PROXY_LOG = sw.SWIFT_DIR .. "/log/proxy.log"
    zapp, root = bundled_project()
  end)
  teardown(util.cleanup)

  for _, case in ipairs({ { name = "one object", args = {} },
      { name = "a Static Large Object",
        args = { "--segment-size", "100K" } } }) do
    it("sends nothing the target holds: " .. case.name, function()
      local c = new_container()
      local args = { table.unpack(case.args) }
      table.move({ c, zapp }, 1, 2, #args + 1, args)
      local first, puts1 = deploy(args)
      assert.is_nil(first.skipped)
      assert.is_true(#puts1 >= 4, table.concat(puts1, " "))
      -- unchanged: nothing but the lock and the record is sent
      table.insert(args, 1, "--skip-identical")
      table.insert(args, 1, "--force")
      local again, puts2 = deploy(args)
      assert.are.same({}, puts2)
      assert.are.equal(first.image, again.image)
      -- a reused Static Large Object keeps its count of segments
      assert.are.equal(first.segments, again.segments)
      local s = skipped(again)
      assert.is_not_nil(s[first.image])
      assert.is_not_nil(s[c .. "/boot/system.map"])
      assert.is_not_nil(s[c .. "/index.html"])
      assert.is_not_nil(s[c .. "/app.zapp"])
      -- the image, index.html, style.css, zerocloud.js, the job, the
      -- manifest
      assert.are.equal(6, #again.skipped)
      -- the job still runs the image, the record still names it
      local _, _, code = util.swift_cli(sw, "stat " .. c .. " "
        .. util.quote(first.image:sub(#c + 2)))
      assert.are.equal(0, code)
      local record = json.decode(util.swift_cli(sw, "download -o - " .. c
        .. " .zapp/deploy.json"))
      assert.are.equal(first.image, record.image)
      assert.are.equal(first.segments or json.null, record.segments)
      -- the text output says what was skipped
      local argv = { "deploy", table.unpack(args) }
      local _, err, code = util.zpm(argv, { env = util.v1_env(sw) })
      assert.are.equal(0, code, err)
      assert.matches("%(%-%-skip%-identical: 6 objects the target holds "
        .. "already were not sent, %d+ bytes; 1 sent%)", err)
    end)
  end

  it("sends a UI file the target holds with other content, same size",
     function()
    local c = new_container()
    local first = deploy({ c, zapp })
    local css
    for _, path in ipairs(first.objects) do
      if path:match("%.css$") or path:match("%.js$") then
        css = path
        break
      end
    end
    assert.is_not_nil(css, table.concat(first.objects, " "))
    local body = util.swift_cli(sw, "download -o - " .. c .. " "
                                .. util.quote(css:sub(#c + 2)))
    local other = util.tmpdir() .. "/other"
    util.write(other, ("x"):rep(#body))
    local _, err, code = util.swift_cli(sw, "upload --object-name "
      .. util.quote(css:sub(#c + 2)) .. " " .. c .. " " .. other)
    assert.are.equal(0, code, err)
    local again, puts = deploy({ "--force", "--skip-identical", c, zapp })
    assert.are.same({ css }, puts)
    assert.is_nil(skipped(again)[css])
    assert.are.equal(first.image, again.image)
    assert.are.equal(body, util.swift_cli(sw, "download -o - " .. c .. " "
                                          .. util.quote(css:sub(#c + 2))))
  end)

  it("knows the tar from the zapp's record, even from another file",
     function()
    local c = new_container()
    local first = deploy({ c, zapp })
    -- another file (another inode, no deploy record of it), the same
    -- record of the tar's MD5: not sent
    local copy = util.tmpdir() .. "/copy.zapp"
    util.sh("cp " .. util.quote(zapp) .. " " .. util.quote(copy))
    local again, puts = deploy({ "--force", "--skip-identical", c, copy })
    assert.are.equal(first.image, again.image)
    assert.is_not_nil(skipped(again)[first.image])
    for _, p in ipairs(puts) do
      assert.are_not.equal(first.image, p)
    end
  end)

  -- the image found by the tar's MD5 is not the record's (a later copy,
  -- say one a deploy killed before its job left): app.zapp must name it,
  -- since the record's image goes once the job is in place
  it("names the image it reuses, not the one the record names",
     function()
    local c = new_container()
    local first = deploy({ c, zapp })
    local tar = util.tmpdir() .. "/app.tar"
    util.sh("sh -c " .. util.quote("gzip -dc " .. util.quote(zapp) .. " > "
            .. util.quote(tar)))
    local later = ".zapp/29991231T000000Z-0badcafe/app.zapp"
    local _, err, code = util.swift_cli(sw, "upload --object-name "
      .. util.quote(later) .. " " .. c .. " " .. util.quote(tar))
    assert.are.equal(0, code, err)
    local copy = util.tmpdir() .. "/app.zapp"
    util.sh("cp " .. util.quote(zapp) .. " " .. util.quote(copy))
    local again = deploy({ "--force", "--skip-identical", c, copy })
    assert.are.equal(c .. "/" .. later, again.image)
    assert.is_not_nil(skipped(again)[again.image])
    -- a GET of app.zapp gives the tar: its manifest names the reused one
    local got = util.tmpdir() .. "/got.tar"
    _, err, code = util.swift_cli(sw, "download -o " .. util.quote(got)
      .. " " .. c .. " app.zapp")
    assert.are.equal(0, code, err)
    assert.are.equal(util.read(tar), util.read(got))
    local _, _, gone = util.swift_cli(sw, "stat " .. c .. " "
      .. util.quote(first.image:sub(#c + 2)))
    assert.are_not.equal(0, gone)
  end)

  it("refuses a zapp whose record is not its tar's, leaving no job",
     function()
    local c = new_container()
    -- one bit of the recorded MD5 flipped: still a valid gzip and tar
    local data = util.read(zapp)
    local at = #data - 51 + 18
    local bad = util.tmpdir() .. "/bad.zapp"
    util.write(bad, data:sub(1, at - 1)
      .. string.char(data:byte(at) ~ 1) .. data:sub(at + 1))
    assert.are.equal(0, select(3, util.sh("gzip -t " .. util.quote(bad))))
    local _, err, code = util.zpm({ "deploy", c, bad },
                                  { env = util.v1_env(sw) })
    assert.are_not.equal(0, code)
    assert.matches("bad%.zapp: its tar does not have the MD5 the zapp "
      .. "records %(%x+; Swift refused it: 422%)", err)
    local listing = util.swift_cli(sw, "list " .. c)
    assert.is_nil(listing:find("system.map", 1, true), listing)
    assert.is_nil(listing:find(".zapp/2", 1, true), listing)
  end)

  it("sends a zapp that is not the one deployed", function()
    local c = new_container()
    -- a zapp without the record (gzipped again by another tool)
    local plain = util.tmpdir() .. "/plain.zapp"
    util.sh("sh -c " .. util.quote("gzip -dc " .. util.quote(zapp)
            .. " | gzip > " .. util.quote(plain)))
    local first = deploy({ c, plain })
    -- the same file touched: not sure, so sent
    util.sh("touch -d '+2 seconds' " .. util.quote(plain))
    local again, puts = deploy({ "--force", "--skip-identical", c, plain })
    assert.are_not.equal(first.image, again.image)
    assert.is_nil(skipped(again)[first.image])
    local sent_image = false
    for _, p in ipairs(puts) do
      sent_image = sent_image or p == again.image
    end
    assert.is_true(sent_image, table.concat(puts, " "))
    -- the UI files are the same: not sent
    assert.is_not_nil(skipped(again)[c .. "/index.html"])
    -- rebuilt with other content
    local random = assert(io.open("/dev/urandom", "rb"))
    util.write(root .. "/big.bin", random:read(300000))
    random:close()
    assert.are.equal(0, select(3, util.zpm({ "bundle" }, { cwd = root })))
    local third = deploy({ "--force", "--skip-identical", c, zapp })
    assert.are_not.equal(again.image, third.image)
    assert.is_nil(skipped(third)[again.image])
    local _, _, code = util.swift_cli(sw, "stat " .. c .. " "
      .. util.quote(again.image:sub(#c + 2)))
    assert.are_not.equal(0, code)   -- the old image is gone
  end)
end)
