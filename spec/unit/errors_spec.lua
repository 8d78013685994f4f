-- One error shape (zpm.errors): a failure is `nil, message, code [,
-- detail]`, the code one of zpm.errors' short strings, for representative
-- failures of each layer: a zapp.yaml, the file system, a project, HTTP
-- answers (spec/support/http_stub.py on 127.0.0.1), a refused
-- connection, an Etag, a deploy target, an interrupt. The doc and the
-- sources are checked against the code list too.
local errors = require("zpm.errors")
local util = require("support.util")
local zpm = require("zpm")

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- the codes of zpm.errors: name -> code
local function codes()
  local out = {}
  for name, value in pairs(errors) do
    if type(value) == "string" and name:match("^[A-Z]+$") then
      out[name] = value
    end
  end
  return out
end

-- assert the failure shape; returns message, code, detail
local function failure(...)
  local n = select("#", ...)
  local value, message, code, detail = ...
  assert.is_nil(value)
  assert.are.equal("string", type(message))
  assert.are.equal("string", type(code), "no code with: " .. message)
  assert.is_true(n <= 4)
  assert.is_true(detail == nil or type(detail) == "table")
  return message, code, detail
end

describe("zpm.errors", function()
  it("fail() is the shape", function()
    local value, message, code, detail = errors.fail(errors.IO, "x: gone",
                                                     { path = "x" })
    assert.is_nil(value)
    assert.are.equal("x: gone", message)
    assert.are.equal("io", code)
    assert.are.same({ path = "x" }, detail)
  end)

  it("http() keeps python-swiftclient's words and the status", function()
    local message, code, detail = failure(errors.http("Object GET",
      { status = 404, reason = "Not Found", body = "<html>\n nope </html>",
        url = "http://h/v1/a/c/o" }))
    assert.are.equal("Object GET failed: http://h/v1/a/c/o 404 Not Found"
      .. "  <html> nope </html>", message)
    assert.are.equal("http", code)
    assert.are.same({ status = 404, reason = "Not Found",
                      url = "http://h/v1/a/c/o" }, detail)
  end)

  it("codes are short lowercase strings, one name each", function()
    local seen = {}
    for name, code in pairs(codes()) do
      assert.matches("^[a-z]+$", code)
      assert.are.equal(name:lower(), code)
      assert.is_nil(seen[code])
      seen[code] = true
    end
    -- the C core's names (zpm_status_name) are among them
    for _, code in ipairs({ "invalid", "memory", "io", "yaml", "limit",
                            "archive", "zlib", "http", "network",
                            "interrupted", "callback" }) do
      assert.is_true(seen[code], code)
    end
  end)

  it("every code is in doc/api.md's Errors section", function()
    local doc = util.read(util.source_dir .. "/doc/api.md")
    local section = doc:match("\n## Errors\n(.-)\n## ")
    assert.is_not_nil(section, "no '## Errors' section in doc/api.md")
    for _, code in pairs(codes()) do
      assert.is_not_nil(section:find("`\"" .. code .. "\"`", 1, true),
                        code .. " is not documented")
    end
  end)

  it("every errors.NAME the sources use exists", function()
    local p = io.popen("grep -rhoE 'errors\\.[A-Z]+' "
      .. util.quote(util.source_dir .. "/lua/zpm"))
    local n = 0
    for name in p:read("a"):gmatch("errors%.([A-Z]+)") do
      assert.is_string(errors[name], "errors." .. name)
      n = n + 1
    end
    p:close()
    assert.is_true(n > 50)
  end)
end)

describe("the error shape of", function()
  local dir

  setup(function()
    dir = util.tmpdir()
  end)

  teardown(function()
    util.cleanup()
  end)

  -- zapp.yaml text -> the code, and a message at file:line:col
  for _, case in ipairs({
    { "invalid: a zapp.yaml that is YAML", "meta:\n  name: 3\n",
      "invalid" },
    { "yaml: one that is not YAML", "a: [1, 2\n", "yaml" },
  }) do
    it(case[1], function()
      local path = dir .. "/zapp.yaml"
      write(path, case[2])
      local message, code = failure(zpm.load_zapp(path))
      assert.are.equal(case[3], code)
      assert.matches("^" .. path:gsub("%p", "%%%0") .. ":%d+:%d+: ",
                     message)
    end)
  end

  it("a missing zapp.yaml: io", function()
    local _, code = failure(zpm.load_zapp(dir .. "/none/zapp.yaml"))
    assert.are.equal("io", code)
  end)

  it("no project root: notfound", function()
    local _, code = failure(zpm.find_project_root("/"))
    assert.are.equal("notfound", code)
  end)

  it("a project over an existing file: conflict, nothing made", function()
    local location = dir .. "/proj"
    assert(zpm.new_project(location))
    local message, code = failure(zpm.new_project(location))
    assert.are.equal("conflict", code)
    assert.matches("already exists!$", message)
  end)

  it("an unknown template: notfound", function()
    local _, code = failure(zpm.new_project(dir .. "/t",
                                            { template = "nosuch" }))
    assert.are.equal("notfound", code)
  end)

  it("a bad deploy target: invalid", function()
    local _, code = failure(require("zpm.deploy").check_target("c/../d"))
    assert.are.equal("invalid", code)
  end)

  it("bad connection settings: invalid", function()
    local _, code = failure(zpm.connect({ auth_version = "7",
                                          os_auth_url = "http://x" }))
    assert.are.equal("invalid", code)
    _, code = failure(zpm.connect({ os_storage_url = "http://x/v1/a",
                                    os_auth_token = "t", retries = -1 }))
    assert.are.equal("invalid", code)
  end)

  it("a 2xx PUT whose Etag is not the MD5 sent: etag, with both",
     function()
    local swift = require("zpm.swift")
    local message, code, detail = failure(swift.check_put({
      status = 201, headers = { etag = '"aaaa"' }, md5 = "bbbb",
      url = "http://h/v1/a/c/o" }))
    assert.are.equal("etag", code)
    assert.matches("does not match", message)
    assert.are.same({ status = 201, url = "http://h/v1/a/c/o",
                      etag = "aaaa", md5 = "bbbb" }, detail)
  end)

  it("a job whose nodes failed: job (the CLI exits 3)", function()
    local summary = require("zpm.summary")
    local headers = { ["x-nexe-system"] = "a", ["x-nexe-status"] = "ok",
                      ["x-nexe-retcode"] = "1" }
    local _, code, detail = failure(require("zpm.cmd.execute").run_and_print(
      { execute = function()
          return { status = 200, headers = headers,
                   failed = summary.failures(headers) }
        end }, { zapp = "x.zapp" }, { summary = false }))
    assert.are.equal("job", code)
    assert.are.equal(1, #detail.lines)
  end)

  describe("HTTP", function()
    local base, pid

    setup(function()
      base, pid = util.http_stub(dir)
    end)

    teardown(function()
      if pid then
        os.execute("kill " .. pid)
      end
    end)

    -- a pre-authenticated connection whose storage URL is url
    local function conn_at(url)
      return assert(zpm.connect({ os_storage_url = url, os_auth_token = "t",
                                  retries = 0 }))
    end

    it("a 404: http, with detail.status", function()
      local conn = conn_at(base .. "/status/404")
      local message, code, detail = failure(conn:get_object("c", "o"))
      assert.are.equal("http", code)
      assert.are.equal(404, detail.status)
      assert.are.equal(base .. "/status/404/c/o", detail.url)
      assert.matches("^Object GET failed: .* 404 ", message)
      local _, lcode, ldetail = failure(conn:list_objects("c"))
      assert.are.equal("http", lcode)
      assert.are.equal(404, ldetail.status)
      conn:close()
    end)

    it("a PUT answered 503: http, with detail.status", function()
      local conn = conn_at(base .. "/status/503")
      local _, code, detail = failure(conn:put_object("c", "o", "data"))
      assert.are.equal("http", code)
      assert.are.equal(503, detail.status)
      conn:close()
    end)

    it("a job answered 500: http, with detail.status", function()
      local conn = conn_at(base .. "/status/500")
      local _, code, detail = failure(conn:execute({ container = "c" }))
      assert.are.equal("http", code)
      assert.are.equal(500, detail.status)
      conn:close()
    end)

    it("a refused connection: network", function()
      local conn = conn_at("http://127.0.0.1:1/v1/a")
      local message, code = failure(conn:head_object("c", "o"))
      assert.are.equal("network", code)
      assert.matches("127.0.0.1:1", message, 1, true)
      conn:close()
    end)

    it("an auth server that says no: http, with detail.status", function()
      local conn = assert(zpm.zerocloud_connection(base .. "/status/401",
        "u", "k", { retries = 0 }))
      local message, code, detail = failure(conn:auth())
      assert.are.equal("http", code)
      assert.are.equal(401, detail.status)
      assert.matches("^Auth GET failed: ", message)
      conn:close()
    end)
  end)

  -- last: the signal stays caught for the rest of this process
  it("an interrupt: interrupted", function()
    local interrupt = require("zpm.interrupt")
    assert(require("zpm.core.interrupt").catch())
    local stat = util.read("/proc/self/stat")
    os.execute("kill -TERM " .. stat:match("^%d+"))
    util.wait_until(interrupt.caught, 2)
    local message, code = failure(interrupt.check())
    assert.are.equal("interrupted", code)
    assert.are.equal("interrupted", message)
    local _, lcode = failure(require("zpm.fs").list(dir))
    assert.are.equal("interrupted", lcode)
  end)
end)
