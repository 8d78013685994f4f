-- zpm.core.http against spec/support/http_stub.py on 127.0.0.1.
local core = require("zpm.core")
local util = require("support.util")

local http = core.http

local function md5_of_file(path)
  local out = util.sh("md5sum " .. util.quote(path))
  return out:match("^(%x+)")
end

--- What /bytes/N answers: byte i is i % 251.
local function pattern(n)
  local block = {}
  for i = 0, 250 do
    block[#block + 1] = string.char(i)
  end
  local s = table.concat(block)
  return s:rep(n // #s + 1):sub(1, n)
end

describe("zpm.core.http", function()
  local dir, base, pid
  local s

  setup(function()
    dir = util.tmpdir()
    base, pid = util.http_stub(dir)
  end)

  teardown(function()
    if pid then
      os.execute("kill " .. pid)
    end
    util.cleanup()
  end)

  before_each(function()
    s = http.session({ connect_timeout = 5 })
  end)

  after_each(function()
    s:close()
  end)

  it("runs on Lua 5.4", function()
    assert.are.equal("Lua 5.4", _VERSION)
  end)

  describe("session", function()
    it("makes a session userdata", function()
      assert.are.equal("userdata", type(s))
      assert.matches("^zpm.core.HttpSession %(", tostring(s))
    end)

    it("takes every documented option", function()
      local t = http.session({
        connect_timeout = 1.5, low_speed_limit = 10, low_speed_time = 5,
        insecure = true, cacert = "/etc/ssl/certs/ca-certificates.crt",
        user_agent = "spec/1", trace = function() end,
      })
      local resp = assert(t:request({ method = "GET",
                                      url = base .. "/headers" }))
      assert.matches("User%-Agent: spec/1", resp.body)
      t:close()
    end)

    it("sends zpm/<version> as the user agent by default", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/headers" }))
      assert.matches("User%-Agent: zpm/%d+%.%d+", resp.body)
    end)

    it("rejects unknown and mistyped options", function()
      assert.has.error(function() http.session({ timeout = 1 }) end)
      assert.has.error(function() http.session({ insecure = 1 }) end)
      assert.has.error(function() http.session({ trace = "x" }) end)
      assert.has.error(function() http.session({ connect_timeout = -1 }) end)
      assert.has.error(function() http.session("x") end)
    end)
  end)

  describe("close", function()
    it("is idempotent and makes later use raise", function()
      local t = http.session()
      assert.is_true(t:close())
      assert.is_true(t:close())
      assert.matches("closed", tostring(t))
      assert.has.error(function()
        t:request({ method = "GET", url = base .. "/bytes/1" })
      end, "attempt to use a closed HTTP session")
    end)

    it("happens when a to-be-closed variable goes out of scope", function()
      local kept
      do
        local t <close> = http.session()
        kept = t
        assert(t:request({ method = "GET", url = base .. "/bytes/1" }))
      end
      assert.matches("closed", tostring(kept))
    end)

    it("cannot happen from inside the session's own callback", function()
      local resp, msg, code = s:request({
        method = "GET", url = base .. "/bytes/10",
        sink = function() s:close() end,
      })
      assert.is_nil(resp)
      assert.matches("during its request", msg)
      assert.are.equal("callback", code)
      -- The session survived and still works.
      assert(s:request({ method = "GET", url = base .. "/bytes/1" }))
    end)

    it("refuses a nested request on the same session", function()
      local resp, msg, code = s:request({
        method = "GET", url = base .. "/bytes/10",
        sink = function()
          s:request({ method = "GET", url = base .. "/bytes/1" })
        end,
      })
      assert.is_nil(resp)
      assert.matches("busy", msg)
      assert.are.equal("callback", code)
    end)
  end)

  describe("request", function()
    it("collects a 2xx body into resp.body", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/bytes/100000" }))
      assert.are.equal(200, resp.status)
      assert.are.equal("OK", resp.reason)
      assert.are.equal(pattern(100000), resp.body)
      assert.are.equal("100000", resp.headers["content-length"])
      assert.are.equal(100000, resp.received)
      assert.are.equal(0, resp.sent)
      assert.is_nil(resp.md5)
      assert.are.equal(1, resp.attempts)
    end)

    it("fails a collected body over max_body", function()
      local resp, msg, code = s:request({
        method = "GET", url = base .. "/bytes/100000", max_body = 1000 })
      assert.is_nil(resp)
      assert.are.equal("response body larger than 1000 bytes", msg)
      assert.are.equal("io", code)
    end)

    it("answers HEAD without a body", function()
      local resp = assert(s:request({ method = "HEAD",
                                      url = base .. "/bytes/5000" }))
      assert.are.equal(200, resp.status)
      assert.are.equal("5000", resp.headers["content-length"])
      assert.are.equal("", resp.body)
    end)

    it("sends headers with string and number values", function()
      local resp = assert(s:request({
        method = "GET", url = base .. "/headers",
        headers = { ["X-Test"] = "value", ["X-Num"] = 42, ["X-Empty"] = "" },
      }))
      assert.matches("X%-Test: value\n", resp.body)
      assert.matches("X%-Num: 42\n", resp.body)
      assert.matches("X%-Empty: \n", resp.body)
    end)

    it("lower-cases header names and joins repeats", function()
      local resp = assert(s:request({ method = "GET", url = base .. "/dup" }))
      assert.are.equal("a, b", resp.headers["x-dup"])
      assert.are.equal("one=1, two=2", resp.headers["set-cookie"])
      assert.is_nil(resp.headers["X-Dup"])
    end)

    it("returns a non-2xx status as a response with its body", function()
      local called = false
      local resp = assert(s:request({
        method = "GET", url = base .. "/status/404",
        sink = function() called = true end,
      }))
      assert.are.equal(404, resp.status)
      assert.are.equal("Not Found", resp.reason)
      assert.are.equal("status 404", resp.body)
      assert.is_false(called)
    end)

    it("keeps the first 64 KiB of a large error body", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/big-error",
                                      retries = 0 }))
      assert.are.equal(500, resp.status)
      assert.are.equal(65536, #resp.body)
      assert.are.equal(100 * 1024, resp.received)
    end)

    it("reports a refused connection as nil, msg, 'network'", function()
      local resp, msg, code = s:request({
        method = "GET", url = "http://127.0.0.1:1/v1/a?temp_url_sig=x",
        retries = 0 })
      assert.is_nil(resp)
      assert.matches("^GET http://127.0.0.1:1/v1/a: ", msg)
      assert.matches("Couldn't connect", msg)
      assert.is_nil(msg:find("temp_url_sig", 1, true))
      assert.are.equal("network", code)
    end)

    it("times out a slow response with 'timeout'", function()
      local resp, msg, code = s:request({
        method = "GET", url = base .. "/sleep/2", timeout = 0.3,
        retries = 0 })
      assert.is_nil(resp)
      assert.matches("[Tt]imeout", msg)
      assert.are.equal("network", code)
    end)
  end)

  describe("body", function()
    it("sends a string and reports its md5", function()
      local resp = assert(s:request({ method = "PUT", url = base .. "/echo",
                                      body = "abc" }))
      assert.are.equal(200, resp.status)
      assert.are.equal("abc", resp.body)
      assert.are.equal(3, resp.sent)
      assert.are.equal("900150983cd24fb0d6963f7d28e17f72", resp.md5)
      assert.are.equal(resp.md5, resp.headers["x-body-md5"])
      assert.are.equal("no", resp.headers["x-chunked"])
      assert.are.equal("PUT", resp.headers["x-method"])
    end)

    it("sends an empty string body", function()
      local resp = assert(s:request({ method = "POST", url = base .. "/echo",
                                      body = "" }))
      assert.are.equal("0", resp.headers["x-body-length"])
      assert.are.equal("d41d8cd98f00b204e9800998ecf8427e", resp.md5)
    end)

    it("sends a file, or a byte range of it", function()
      local path = dir .. "/data.bin"
      local data = pattern(300000)
      util.write(path, data)
      local resp = assert(s:request({ method = "PUT", url = base .. "/echo",
                                      body = { file = path } }))
      assert.are.equal(data, resp.body)
      assert.are.equal(md5_of_file(path), resp.md5)
      resp = assert(s:request({
        method = "POST", url = base .. "/echo",
        body = { file = path, offset = 1000, length = 5000 } }))
      assert.are.equal(data:sub(1001, 6000), resp.body)
      assert.are.equal(5000, resp.sent)
      assert.are.equal("POST", resp.headers["x-method"])
    end)

    it("sends the gunzipped content of a multi-member .gz", function()
      local a, b = dir .. "/a.txt", dir .. "/b.txt"
      util.write(a, ("alpha "):rep(20000))
      util.write(b, ("beta "):rep(30000))
      local gz = dir .. "/ab.gz"
      local q = util.quote
      local cmd = ("(gzip -c %s > %s; gzip -c %s >> %s)"):format(
        q(a), q(gz), q(b), q(gz))
      assert.are.equal(0, select(3, util.sh(cmd)))
      local resp = assert(s:request({ method = "PUT", url = base .. "/echo",
                                      body = { gunzip = gz } }))
      local want = util.read(a) .. util.read(b)
      assert.are.equal(#want, #resp.body)
      assert.are.equal(want, resp.body)
      assert.are.equal("yes", resp.headers["x-chunked"])
      assert.are.equal(resp.headers["x-body-md5"], resp.md5)
      assert.are.equal(#want, resp.sent)
    end)

    describe("with a tar capture", function()
      local tree, long

      -- a tree with a long (pax/GNU) name, a nested UI and other files
      setup(function()
        tree = dir .. "/tree"
        long = ("d"):rep(120) .. "/" .. ("n"):rep(110) .. ".html"
        local q = util.quote
        assert.are.equal(0, select(3, util.sh(("mkdir -p %s/ui/js %s/%s")
          :format(q(tree), q(tree), q(long:match("^(.*)/"))))))
        util.write(tree .. "/zapp.yaml", "meta: {}\n")
        util.write(tree .. "/ui/index.html", "<p>hi</p>")
        util.write(tree .. "/ui/js/app.js", pattern(70000))
        util.write(tree .. "/big.bin", pattern(300000))
        util.write(tree .. "/" .. long, "long one")
      end)

      -- tar the tree in a format, gzip it in two members; the tar path
      local function make(format)
        local tar, gz = dir .. "/t-" .. format .. ".tar",
          dir .. "/t-" .. format .. ".tar.gz"
        local q = util.quote
        local cmd = ("(tar --format=%s -C %s -cf %s zapp.yaml ui big.bin %s"
          .. " && head -c 10000 %s | gzip -c > %s"
          .. " && tail -c +10001 %s | gzip -c >> %s)"):format(
          format, q(tree), q(tar), q(long), q(tar), q(gz), q(tar), q(gz))
        assert.are.equal(0, select(3, util.sh(cmd)))
        return tar, gz
      end

      for _, format in ipairs({ "pax", "gnu" }) do
        it("returns the matching members of a " .. format .. " tar",
           function()
          local tar, gz = make(format)
          local resp = assert(s:request({
            method = "PUT", url = base .. "/echo",
            body = { gunzip = gz, capture = {
              patterns = { "*.html", "ui/*" } } } }))
          assert.are.equal(200, resp.status)
          assert.are.equal(util.read(tar), resp.body)
          assert.are.equal(resp.headers["x-body-md5"], resp.md5)
          local got = {}
          for i, m in ipairs(resp.captured) do
            got[i] = m.name
            assert.are.equal(util.read(tree .. "/" .. m.name), m.data)
          end
          table.sort(got)
          assert.are.same({ long, "ui/index.html", "ui/js/app.js" }, got)
        end)
      end

      it("captures nothing without a match, and nothing without capture",
         function()
        local _, gz = make("pax")
        local resp = assert(s:request({
          method = "PUT", url = base .. "/echo",
          body = { gunzip = gz, capture = { patterns = { "*.none" } } } }))
        assert.are.same({}, resp.captured)
        resp = assert(s:request({ method = "PUT", url = base .. "/echo",
                                  body = { gunzip = gz } }))
        assert.is_nil(resp.captured)
      end)

      it("restarts the capture when a request is retried", function()
        local _, gz = make("gnu")
        local resp = assert(s:request({
          method = "PUT", url = base .. "/flaky/capture/2", backoff = 0.01,
          body = { gunzip = gz, capture = { patterns = { "ui/*" } } } }))
        assert.are.equal(200, resp.status)
        assert.are.equal(3, resp.attempts)
        assert.are.equal(2, #resp.captured)
      end)

      it("fails with 'limit' past max_member or max_total", function()
        local _, gz = make("pax")
        local resp, msg, code = s:request({
          method = "PUT", url = base .. "/echo", retries = 0,
          body = { gunzip = gz, capture = { patterns = { "*" },
                                            max_member = 100000 } } })
        assert.is_nil(resp)
        assert.are.equal("limit", code)
        assert.matches("big.bin", msg, 1, true)
        assert.matches("100000", msg, 1, true)
        resp, msg, code = s:request({
          method = "PUT", url = base .. "/echo", retries = 0,
          body = { gunzip = gz, capture = { patterns = { "ui/*" },
                                            max_total = 70008 } } })
        assert.is_nil(resp)
        assert.are.equal("limit", code)
        assert.matches("70008", msg, 1, true)
      end)

      it("fails with 'archive' when the body is no tar", function()
        local gz = dir .. "/plain.gz"
        util.write(dir .. "/plain", ("not a tar "):rep(100))
        util.sh(("(gzip -c %s > %s)"):format(util.quote(dir .. "/plain"),
                                             util.quote(gz)))
        local resp, msg, code = s:request({
          method = "PUT", url = base .. "/echo", retries = 0,
          body = { gunzip = gz, capture = { patterns = { "*" } } } })
        assert.is_nil(resp)
        assert.are.equal("archive", code)
        assert.matches("checksum", msg)
      end)
    end)

    it("reports a missing body file as nil, msg, 'io'", function()
      local resp, msg, code = s:request({
        method = "PUT", url = base .. "/echo",
        body = { file = dir .. "/missing" } })
      assert.is_nil(resp)
      assert.matches("missing", msg)
      assert.are.equal("io", code)
      resp, msg, code = s:request({
        method = "PUT", url = base .. "/echo",
        body = { gunzip = dir .. "/missing.gz" } })
      assert.is_nil(resp)
      assert.are.equal("io", code)
    end)

    it("reports a corrupt .gz as an 'io' failure", function()
      local bad = dir .. "/bad.gz"
      util.write(bad, "this is not gzip data at all")
      local resp, msg, code = s:request({
        method = "PUT", url = base .. "/echo", body = { gunzip = bad },
        retries = 0 })
      assert.is_nil(resp)
      assert.matches("gzip", msg)
      assert.are.equal("io", code)
    end)
  end)

  describe("request_many", function()
    it("runs requests in parallel, results in order", function()
      local reqs = {}
      for i = 1, 100 do
        reqs[i] = { method = "PUT", url = base .. "/echo",
                    body = ("x"):rep(i * 37) }
      end
      local results = assert(s:request_many(reqs, { concurrency = 8 }))
      assert.are.equal(100, #results)
      for i, resp in ipairs(results) do
        assert.are.equal(200, resp.status)
        assert.are.equal(("x"):rep(i * 37), resp.body)
        assert.are.equal(resp.headers["x-body-md5"], resp.md5)
      end
    end)

    it("reuses at most `concurrency` connections, across batches", function()
      local reqs = {}
      for i = 1, 60 do
        reqs[i] = { method = "GET", url = base .. "/peer" }
      end
      local peers = {}
      for _ = 1, 2 do
        for _, resp in ipairs(assert(s:request_many(reqs,
                                                    { concurrency = 4 }))) do
          peers[resp.body] = true
        end
      end
      local n = 0
      for _ in pairs(peers) do
        n = n + 1
      end
      assert.is_true(n >= 1 and n <= 4, n .. " connections")
    end)

    it("reports failures per request; stop_on_failure starts no more",
       function()
      local reqs = { { method = "GET", url = base .. "/status/500",
                       retries = 0 } }
      for i = 2, 30 do
        reqs[i] = { method = "GET", url = base .. "/sleep/0.05" }
      end
      local results = assert(s:request_many(reqs, {
        concurrency = 2, stop_on_failure = true }))
      assert.are.equal(500, results[1].status)
      assert.are.equal("status 500", results[1].body)
      assert.are.equal(false, results[30])
      results = assert(s:request_many({
        { method = "GET", url = "http://127.0.0.1:1/", retries = 0 },
        { method = "GET", url = base .. "/bytes/3" } }))
      assert.are.equal("network", results[1].code)
      assert.matches("127.0.0.1:1", results[1].error, 1, true)
      assert.are.equal(200, results[2].status)
    end)

    it("runs more requests than fit on the stack at once", function()
      local reqs = {}
      for i = 1, 700 do
        reqs[i] = { method = "PUT", url = base .. "/echo", body = tostring(i),
                    headers = { ["X-N"] = i } }
      end
      local results = assert(s:request_many(reqs, { concurrency = 16 }))
      assert.are.equal(700, #results)
      for i = 1, 700, 77 do
        assert.are.equal(tostring(i), results[i].body)
      end
    end)

    it("fails a request whose body cannot be opened, and only it",
       function()
      local results = assert(s:request_many({
        { method = "PUT", url = base .. "/echo", body = { file = dir .. "/no" } },
        { method = "PUT", url = base .. "/echo", body = "fine" } }))
      assert.are.equal("io", results[1].code)
      assert.matches("/no", results[1].error, 1, true)
      assert.are.equal("fine", results[2].body)
      results = assert(s:request_many({
        { method = "PUT", url = base .. "/echo", body = { file = dir .. "/no" } },
        { method = "PUT", url = base .. "/echo", body = "fine" } },
        { stop_on_failure = true }))
      assert.are.equal("io", results[1].code)
      assert.are.equal(false, results[2])
    end)

    it("raises for a bad request or option, and runs an empty list",
       function()
      assert.has.error(function()
        s:request_many({ { method = "GET" } })
      end)
      -- checked before any request starts: the first one never runs
      assert.has.error(function()
        s:request_many({ { method = "GET", url = base .. "/bytes/1" },
                         { method = "GET", url = base .. "/x",
                           headers = { ["Bad Name"] = "v" } } })
      end)
      assert.has.error(function()
        s:request_many({}, { concurrency = 0 })
      end)
      assert.has.error(function()
        s:request_many({}, { parallel = 2 })
      end)
      assert.are.same({}, s:request_many({}))
    end)
  end)

  describe("source", function()
    it("is read piece by piece by several requests", function()
      local path = dir .. "/pieces.bin"
      local data = pattern(250000)
      util.write(path, data)
      local src = http.source({ file = path })
      local got = {}
      for _ = 1, 3 do
        local resp = assert(s:request({ method = "PUT", url = base .. "/echo",
          body = { source = src, max = 100000 } }))
        got[#got + 1] = resp.body
        assert.are.equal(resp.headers["x-body-md5"], resp.md5)
      end
      assert.are.equal(100000, #got[1])
      assert.are.equal(50000, #got[3])
      assert.are.equal(data, table.concat(got))
      assert.are.equal(250000, src:offset())
      assert.are.equal(250000, src:position())
      src:close()
    end)

    it("fails a strict piece with more data after it with 'limit'",
       function()
      local path = dir .. "/strict.bin"
      util.write(path, pattern(5000))
      local src = http.source({ file = path })
      local resp, err, code = s:request({ method = "PUT",
        url = base .. "/echo", body = { source = src, max = 4000,
                                        strict = true } })
      assert.is_nil(resp)
      assert.are.equal("limit", code)
      assert.matches("more than 4000 bytes", err, 1, true)
      assert.is_true(src:rewind())
      resp = assert(s:request({ method = "PUT", url = base .. "/echo",
        body = { source = src, max = 5000, strict = true } }))
      assert.are.equal(pattern(5000), resp.body)
      src:close()
      assert.has.error(function() src:offset() end)
    end)

    it("captures tar members of a gunzip source as it is read", function()
      local tree = dir .. "/srctree"
      local q = util.quote
      assert.are.equal(0, select(3, util.sh(("mkdir -p %s/ui && echo hi > "
        .. "%s/ui/a.html && head -c 300000 /dev/urandom > %s/big && tar -C "
        .. "%s -czf %s/src.tar.gz ui big"):format(q(tree), q(tree), q(tree),
        q(tree), q(dir)))))
      local src = http.source({ gunzip = dir .. "/src.tar.gz",
                                capture = { patterns = { "ui/*" } } })
      assert.is_nil(src:captured())
      repeat
        local resp = assert(s:request({ method = "PUT", url = base .. "/echo",
          body = { source = src, max = 65536 } }))
      until resp.sent < 65536
      local captured = src:captured()
      assert.are.equal(1, #captured)
      assert.are.equal("ui/a.html", captured[1].name)
      assert.are.equal("hi\n", captured[1].data)
      src:close()
    end)
  end)

  describe("sink", function()
    it("writes to a file", function()
      local path = dir .. "/out.bin"
      util.write(path, "old content that must go away")
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/bytes/70000",
                                      sink = { file = path } }))
      assert.are.equal(200, resp.status)
      assert.is_nil(resp.body)
      assert.are.equal(pattern(70000), util.read(path))
    end)

    it("writes to a file descriptor", function()
      local script = dir .. "/fd.lua"
      util.write(script, ([[
        local core = require("zpm.core")
        local s = core.http.session()
        local resp = assert(s:request({ method = "GET", url = %q,
                                        sink = { fd = 1 } }))
        io.stderr:write(resp.status, " ", tostring(resp.body))
      ]]):format(base .. "/bytes/3000"))
      local out, err, code = util.sh("lua5.4 " .. util.quote(script), {
        env = { LUA_CPATH = package.cpath } })
      assert.are.equal(0, code)
      assert.are.equal("200 nil", err)
      assert.are.equal(pattern(3000), out)
    end)

    it("calls a function with each chunk", function()
      local chunks = {}
      local resp = assert(s:request({
        method = "GET", url = base .. "/bytes/200000",
        sink = function(chunk) chunks[#chunks + 1] = chunk end,
      }))
      assert.is_nil(resp.body)
      assert.are.equal(pattern(200000), table.concat(chunks))
    end)

    it("turns an error in the function into nil, msg, 'callback'", function()
      local resp, msg, code = s:request({
        method = "GET", url = base .. "/bytes/200000",
        sink = function() error("disk full, says the sink") end,
      })
      assert.is_nil(resp)
      assert.matches("disk full, says the sink", msg)
      assert.are.equal("callback", code)
    end)

    it("reports a file it cannot create as nil, msg, 'io'", function()
      local resp, msg, code = s:request({
        method = "GET", url = base .. "/bytes/10",
        sink = { file = dir .. "/no/such/dir/out" } })
      assert.is_nil(resp)
      assert.matches("no/such/dir", msg)
      assert.are.equal("io", code)
    end)
  end)

  describe("retries", function()
    it("retries 503 with backoff until it succeeds", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/flaky/get/2",
                                      backoff = 0.001 }))
      assert.are.equal(200, resp.status)
      assert.are.equal("ok", resp.body)
      assert.are.equal(3, resp.attempts)
    end)

    it("gives up after 'retries' and returns the last response", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/status/503",
                                      retries = 2, backoff = 0.001 }))
      assert.are.equal(503, resp.status)
      assert.are.equal(3, resp.attempts)
    end)

    it("re-sends the whole body; md5 covers the final attempt", function()
      local path = dir .. "/x.bin"
      util.write(path, ("x"):rep(100000))
      local resp = assert(s:request({ method = "PUT",
                                      url = base .. "/flaky/put/1",
                                      body = { file = path },
                                      backoff = 0.001 }))
      assert.are.equal(200, resp.status)
      assert.are.equal(2, resp.attempts)
      assert.are.equal(100000, resp.sent)
      assert.are.equal(md5_of_file(path), resp.md5)
    end)

    it("honours Retry-After", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/flaky/ra/1?ra=0",
                                      backoff = 5, max_backoff = 10 }))
      -- Retry-After: 0 replaces the 5 s backoff.
      assert.are.equal(200, resp.status)
      assert.are.equal(2, resp.attempts)
    end)

    it("does not retry a POST that sent its body", function()
      local resp = assert(s:request({ method = "POST",
                                      url = base .. "/status/503",
                                      body = "{}", backoff = 0.001 }))
      assert.are.equal(503, resp.status)
      assert.are.equal(1, resp.attempts)
      resp = assert(s:request({ method = "POST", url = base .. "/status/503",
                                body = "{}", backoff = 0.001, retries = 1,
                                idempotent = true }))
      assert.are.equal(2, resp.attempts)
    end)

    it("does not retry 4xx", function()
      local resp = assert(s:request({ method = "GET",
                                      url = base .. "/status/404",
                                      backoff = 0.001 }))
      assert.are.equal(1, resp.attempts)
    end)
  end)

  describe("trace", function()
    it("passes redacted header lines, never bodies", function()
      local lines = {}
      local t = http.session({ trace = function(line)
        lines[#lines + 1] = line
      end })
      assert(t:request({
        method = "PUT", url = base .. "/echo", body = "BODY-TEXT",
        headers = { ["X-Auth-Token"] = "tok-SECRET",
                    ["x-storage-token"] = "sto-SECRET",
                    ["X-Object-Meta-A"] = "visible" },
      }))
      assert(t:request({ method = "GET", url = base .. "/dup" }))
      t:close()
      local text = table.concat(lines, "\n")
      assert.is_nil(text:find("SECRET", 1, true))
      assert.is_nil(text:find("BODY-TEXT", 1, true))
      assert.is_nil(text:find("one=1", 1, true))
      assert.truthy(text:find("> X-Auth-Token: <redacted>", 1, true))
      assert.truthy(text:find("> x-storage-token: <redacted>", 1, true))
      assert.truthy(text:find("< Set-Cookie: <redacted>", 1, true))
      assert.truthy(text:find("> X-Object-Meta-A: visible", 1, true))
      assert.truthy(text:find("> PUT /echo HTTP/1.1", 1, true))
    end)

    it("turns an error in the trace function into 'callback'", function()
      local t = http.session({ trace = function() error("trace broke") end })
      local resp, msg, code = t:request({ method = "GET",
                                          url = base .. "/bytes/10" })
      t:close()
      assert.is_nil(resp)
      assert.matches("trace broke", msg)
      assert.are.equal("callback", code)
    end)
  end)

  describe("argument errors", function()
    local cases = {
      { "no table", nil },
      { "no method", { url = "http://127.0.0.1:1/" } },
      { "no url", { method = "GET" } },
      { "empty method", { method = "", url = "http://127.0.0.1:1/" } },
      { "bad method", { method = "G ET", url = "http://127.0.0.1:1/" } },
      { "unknown field", { method = "GET", url = "http://x/", tiemout = 1 } },
      { "headers not a table", { method = "GET", url = "http://x/",
                                 headers = "X-A: b" } },
      { "header value a table", { method = "GET", url = "http://x/",
                                  headers = { ["X-A"] = {} } } },
      { "header name with a space", { method = "GET", url = "http://x/",
                                      headers = { ["X A"] = "b" } } },
      { "header value with CRLF", { method = "GET", url = "http://x/",
                                    headers = { ["X-A"] = "b\r\nX-B: c" } } },
      { "body a number", { method = "PUT", url = "http://x/", body = 5 } },
      { "body with file and gunzip", { method = "PUT", url = "http://x/",
                                       body = { file = "a", gunzip = "b" } } },
      { "capture with a file body", { method = "PUT", url = "http://x/",
        body = { file = "a", capture = { patterns = {} } } } },
      { "capture not a table", { method = "PUT", url = "http://x/",
        body = { gunzip = "a", capture = "*.html" } } },
      { "capture without patterns", { method = "PUT", url = "http://x/",
        body = { gunzip = "a", capture = {} } } },
      { "capture pattern a number", { method = "PUT", url = "http://x/",
        body = { gunzip = "a", capture = { patterns = { 1 } } } } },
      { "capture with unknown key", { method = "PUT", url = "http://x/",
        body = { gunzip = "a", capture = { patterns = {}, max = 1 } } } },
      { "capture max_member 0", { method = "PUT", url = "http://x/",
        body = { gunzip = "a", capture = { patterns = {},
                                           max_member = 0 } } } },
      { "body with unknown key", { method = "PUT", url = "http://x/",
                                   body = { path = "a" } } },
      { "negative offset", { method = "PUT", url = "http://x/",
                             body = { file = "a", offset = -1 } } },
      { "sink a string", { method = "GET", url = "http://x/", sink = "f" } },
      { "sink with both", { method = "GET", url = "http://x/",
                            sink = { file = "f", fd = 1 } } },
      { "negative retries", { method = "GET", url = "http://x/",
                              retries = -1 } },
      { "backoff a string", { method = "GET", url = "http://x/",
                              backoff = "1" } },
      { "idempotent a number", { method = "GET", url = "http://x/",
                                 idempotent = 1 } },
    }
    for _, case in ipairs(cases) do
      it("raises for " .. case[1], function()
        assert.has.error(function() s:request(case[2]) end)
      end)
    end

    it("raises when not called as a method", function()
      assert.has.error(function()
        s.request({ method = "GET", url = base .. "/bytes/1" })
      end)
    end)
  end)
end)

describe("zpm.core.http defaults", function()
  it("are zpm.swift's: one number each, checked to agree", function()
    local swift = require("zpm.swift")
    assert.are.equal(8, core.http.CONCURRENCY)
    assert.are.equal(swift.CONCURRENCY, core.http.CONCURRENCY)
    assert.are.equal(swift.RETRIES, core.http.RETRIES)
    assert.are.equal(require("zpm.deploy").CONCURRENCY, swift.CONCURRENCY)
    local limits = require("zpm.deploy").CAPTURE_LIMITS
    assert.are.equal(core.http.CAPTURE_MAX_MEMBER, limits.max_member)
    assert.are.equal(core.http.CAPTURE_MAX_TOTAL, limits.max_total)
  end)

  it("is_2xx: 200 to 299", function()
    local swift = require("zpm.swift")
    for status, want in pairs({ [199] = false, [200] = true, [204] = true,
                                [299] = true, [300] = false,
                                [404] = false }) do
      assert.are.equal(want, core.http.is_2xx(status))
      assert.are.equal(want, swift.is_2xx(status))
    end
  end)
end)
