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

  it("sends a zapp that is not the one deployed", function()
    local c = new_container()
    local first = deploy({ c, zapp })
    -- the same file touched: not sure, so sent
    util.sh("touch -d '+2 seconds' " .. util.quote(zapp))
    local again, puts = deploy({ "--force", "--skip-identical", c, zapp })
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
