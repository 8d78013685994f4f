--- Headless Chromium driven through chromedriver's W3C WebDriver HTTP
-- API, for the web UI specs. Everything stays on 127.0.0.1: chromedriver
-- listens on a free loopback port, Chromium runs with background
-- networking, updates, sync and QUIC off.
local cjson = require("cjson")
local core = require("zpm.core")
local util = require("support.util")

local M = {}

M.CHROMIUM = "/usr/bin/chromium"
M.CHROMEDRIVER = "/usr/bin/chromedriver"
-- the launcher script adds nothing we need; run the binary itself
local BINARY = "/usr/lib/chromium/chromium"

local ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

--- Are Chromium and chromedriver installed?
function M.available()
  return util.exists(M.CHROMIUM) and util.exists(M.CHROMEDRIVER)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64_decode(text)
  local values = {}
  for i = 1, #B64 do
    values[B64:byte(i)] = i - 1
  end
  local out, bits, nbits = {}, 0, 0
  for i = 1, #text do
    local v = values[text:byte(i)]
    if v then
      bits = (bits << 6) | v
      nbits = nbits + 6
      if nbits >= 8 then
        nbits = nbits - 8
        out[#out + 1] = string.char((bits >> nbits) & 0xFF)
      end
    end
  end
  return table.concat(out)
end

local Browser = {}
Browser.__index = Browser

-- one WebDriver command; raises with the driver's error on failure
function Browser:call(method, path, body)
  local resp, err = self.http:request({
    method = method, url = self.base .. path, timeout = 60,
    headers = { ["Content-Type"] = "application/json" },
    body = type(body) == "table" and cjson.encode(body) or body,
  })
  assert(resp, err)
  local doc = resp.body ~= "" and cjson.decode(resp.body) or {}
  if resp.status >= 300 then
    local v = type(doc.value) == "table" and doc.value or {}
    error(("WebDriver %s %s: %d %s: %s"):format(method, path, resp.status,
      tostring(v.error), tostring(v.message)), 2)
  end
  return doc.value
end

function Browser:session_call(method, path, body)
  return self:call(method, "/session/" .. self.id .. path, body)
end

--- Open a URL (waits for the page load).
function Browser:navigate(url)
  return self:session_call("POST", "/url", { url = url })
end

--- The element matching a CSS selector (raises if none).
function Browser:find(css)
  local v = self:session_call("POST", "/element",
    { using = "css selector", value = css })
  return v[ELEMENT]
end

--- All elements matching a CSS selector (ids).
function Browser:find_all(css)
  local ids = {}
  for i, v in ipairs(self:session_call("POST", "/elements",
                                       { using = "css selector", value = css })) do
    ids[i] = v[ELEMENT]
  end
  return ids
end

function Browser:type(css, text)
  return self:session_call("POST", "/element/" .. self:find(css)
    .. "/value", { text = text })
end

function Browser:click(css)
  return self:session_call("POST", "/element/" .. self:find(css)
    .. "/click", {})
end

--- Visible text of an element.
function Browser:text(css)
  return self:session_call("GET", "/element/" .. self:find(css) .. "/text")
end

--- Run a synchronous script in the page; returns its value.
function Browser:execute(script, args)
  -- cjson writes an empty table as {}, and WebDriver wants a list
  local body = cjson.encode({ script = script, args = args or {} })
  if not args or #args == 0 then
    body = cjson.encode({ script = script }):sub(1, -2) .. ',"args":[]}'
  end
  return self:session_call("POST", "/execute/sync", body)
end

--- The page's source as the browser holds it.
function Browser:source()
  return self:session_call("GET", "/source")
end

--- Is a JavaScript dialog (alert) open?
function Browser:alert_open()
  local resp = assert(self.http:request({ method = "GET",
    url = self.base .. "/session/" .. self.id .. "/alert/text",
    timeout = 30 }))
  return resp.status == 200
end

--- Poll fn() every 0.2 s until it returns a true value or `seconds` pass.
-- @return fn's value, or nil on time-out
function Browser:wait_for(fn, seconds)
  local deadline = os.time() + (seconds or 30)
  repeat
    local v = fn()
    if v then
      return v
    end
    os.execute("sleep 0.2")
  until os.time() > deadline
  return nil
end

--- Save a screenshot (PNG) of the viewport.
function Browser:screenshot(path)
  local data = base64_decode(self:session_call("GET", "/screenshot"))
  util.write(path, data)
  return path
end

--- End the session and stop chromedriver (idempotent).
function Browser:quit()
  if self.id then
    pcall(self.session_call, self, "DELETE", "")
    self.id = nil
  end
  if self.pid then
    util.kill(self.pid)
    self.pid = nil
  end
  if self.profile then
    os.execute("rm -rf " .. util.quote(self.profile))
    self.profile = nil
  end
end

--- Start chromedriver and a headless Chromium session.
-- @param opts { width = px, height = px }
-- @return a Browser (call :quit() when done)
function M.start(opts)
  opts = opts or {}
  local port = util.free_port()
  local self = setmetatable({ http = core.http.session({
    connect_timeout = 5 }), base = "http://127.0.0.1:" .. port },
    Browser)
  self.pid = util.spawn({ M.CHROMEDRIVER, "--port=" .. port,
                          "--allowed-ips=127.0.0.1" })
  local ready = self:wait_for(function()
    local resp = self.http:request({ method = "GET",
      url = self.base .. "/status", timeout = 5, retries = 0 })
    return resp and resp.status == 200
  end, 15)
  if not ready then
    self:quit()
    error("chromedriver did not start on port " .. port)
  end
  local p = io.popen("mktemp -d /tmp/zpm-chromium-XXXXXX")
  self.profile = p:read("l")
  p:close()
  local ok, value = pcall(self.call, self, "POST", "/session", {
    capabilities = { alwaysMatch = { browserName = "chrome",
      ["goog:chromeOptions"] = {
        binary = util.exists(BINARY) and BINARY or M.CHROMIUM,
        args = { "--headless", "--no-sandbox", "--disable-gpu",
          "--disable-background-networking", "--disable-component-update",
          "--disable-sync", "--no-first-run", "--disable-quic",
          "--no-proxy-server", "--disable-dev-shm-usage",
          ("--window-size=%d,%d"):format(opts.width or 1000,
                                         opts.height or 700),
          "--user-data-dir=" .. self.profile } } } } })
  if not ok then
    self:quit()
    error(value)
  end
  self.id = value.sessionId
  return self
end

return M
