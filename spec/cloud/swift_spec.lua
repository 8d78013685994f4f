-- zpm.swift's Swift protocol (listings with each object's details, the
-- container ACL POST, Static Large Objects: manifests, segmented uploads,
-- deletes with segments) and zpm.deploy's plan, against a real Swift.
-- What zpm stored is read back with python-swiftclient, not with zpm.
local zpm = require("zpm")
local core = require("zpm.core")
local deploy = require("zpm.deploy")
local json = require("zpm.json")
local swift_mod = require("zpm.swift")
local util = require("support.util")
local servers = require("support.servers")

local sw, counter = nil, 0

-- python-swiftclient as the user test:tester
local function swift(args)
  return util.swift_cli(sw, args)
end

local function new_container()
  counter = counter + 1
  return ("swift-%d-%d"):format(os.time(), counter)
end

local function listing(container)
  local out, _, code = swift("list " .. util.quote(container))
  return code == 0 and util.lines(out) or nil
end

local function download(container, object)
  local out, err, code = swift("download " .. util.quote(container) .. " "
    .. util.quote(object) .. " -o -")
  assert(code == 0, err)
  return out
end

local function md5(data)
  local dir = util.tmpdir()
  util.write(dir .. "/d", data)
  return (util.sh("md5sum " .. util.quote(dir .. "/d")):match("^%x+"))
end

-- a literal string as a Lua pattern
local function pat(text)
  return (text:gsub("%p", "%%%0"))
end

-- n bytes of text that differ from block to block
local function data_of(n)
  local parts, i = {}, 0
  while #table.concat(parts) < n do
    i = i + 1
    parts[#parts + 1] = ("%07d\n"):format(i)
  end
  return table.concat(parts):sub(1, n)
end

describe("against a real Swift", function()
  local conn

  setup(function()
    sw = servers.swift()
    conn = assert(zpm.zerocloud_connection(sw.ST_AUTH, sw.ST_USER,
                                           sw.ST_KEY))
    assert(conn:authenticate())
  end)
  teardown(function()
    conn:close()
    util.cleanup()
  end)

  describe("zpm.swift", function()
    describe("conn:list_objects", function()
      it("gives each object's name, hash, bytes, type and date", function()
        local c = new_container()
        assert(conn:put_container(c))
        assert(conn:put_object(c, "b/x.txt", "hello", {
          content_type = "text/plain" }))
        assert(conn:put_object(c, "a.bin", ""))
        local entries = assert(conn:list_objects(c))
        assert.are.equal(2, #entries)
        local a, b = entries[1], entries[2]
        assert.are.same({ "a.bin", "b/x.txt" }, { a.name, b.name })
        assert.are.same({ md5(""), 0, "application/octet-stream" },
                        { a.hash, a.bytes, a.content_type })
        assert.are.same({ md5("hello"), 5, "text/plain" },
                        { b.hash, b.bytes, b.content_type })
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d",
                       b.last_modified)
        -- get_container: the names, as before
        assert.are.same({ "a.bin", "b/x.txt" }, conn:get_container(c))
        -- prefix, marker, limit
        assert.are.same({ "b/x.txt" }, conn:get_container(c,
          { prefix = "b/" }))
        assert.are.same({ "b/x.txt" }, conn:get_container(c,
          { marker = "a.bin" }))
        assert.are.same({ "a.bin" }, conn:get_container(c, { limit = 1 }))
      end)

      it("fails with \"http\" and the status for a missing container",
         function()
        local entries, err, code, detail = conn:list_objects(new_container())
        assert.is_nil(entries)
        assert.matches("^Container GET failed: .* 404 ", err)
        assert.are.equal("http", code)
        assert.are.equal(404, detail.status)
      end)
    end)

    describe("conn:list_many", function()
      it("lists several containers at once, every page when asked",
         function()
        local c = new_container()
        assert(conn:put_container(c))
        for i = 1, 5 do
          assert(conn:put_object(c, ("p/%d"):format(i), "x"))
        end
        assert(conn:put_object(c, "q", "x"))
        assert(conn:put_manifest(c, "slo", { { path = "/" .. c .. "/q" } }))
        local results = assert(conn:list_many({
          { c, opts = { prefix = "p/", limit = 2, all = true } },
          { c, opts = { prefix = "p/", limit = 2 } },
          { c, opts = { prefix = "slo" } },
          { c .. "_none", opts = { all = true } } }))
        local function names(r)
          local out = {}
          for i, e in ipairs(r.entries) do
            out[i] = e.name
          end
          return out
        end
        assert.are.same({ "p/1", "p/2", "p/3", "p/4", "p/5" },
                        names(results[1]))
        assert.are.same({ "p/1", "p/2" }, names(results[2]))
        -- a Static Large Object is marked in the listing
        assert.are.equal("slo", results[3].entries[1].name)
        assert.matches('^"%x+"$', results[3].entries[1].slo_etag)
        assert.is_nil(results[1].entries[1].slo_etag)
        -- a failed listing is a result, as list_objects fails
        assert.are.equal("http", results[4].code)
        assert.are.equal(404, results[4].detail.status)
        assert.matches("^Container GET failed: .* 404 ", results[4].error)
      end)
    end)

    describe("conn:post_container", function()
      it("sets the read ACL", function()
        local c = new_container()
        assert(conn:put_container(c))
        assert.is_true(conn:post_container(c, {
          ["X-Container-Read"] = swift_mod.PUBLIC_READ_ACL }))
        local out = swift("stat " .. util.quote(c))
        assert.matches("Read ACL: %.r:%*,%.rlistings", out)
      end)

      it("fails with \"http\" and the status for a missing container",
         function()
        local ok, err, code, detail = conn:post_container(new_container(),
          { ["X-Container-Read"] = swift_mod.PUBLIC_READ_ACL })
        assert.is_nil(ok)
        assert.matches("^Container POST failed: .* 404 ", err)
        assert.are.equal("http", code)
        assert.are.equal(404, detail.status)
      end)
    end)

    describe("conn:put_manifest and conn:delete_object", function()
      it("make a Static Large Object and delete it with its segments",
         function()
        local c = new_container()
        assert(conn:put_container(c))
        assert(conn:put_object(c, "seg/0", "abc"))
        assert(conn:put_object(c, "seg/1", "de"))
        assert.is_true(conn:put_manifest(c, "big", {
          { path = "/" .. c .. "/seg/0", etag = md5("abc"), size_bytes = 3 },
          { path = "/" .. c .. "/seg/1" } }, { content_type = "text/plain" }))
        assert.are.equal("abcde", download(c, "big"))
        assert.matches("Content Type: text/plain",
                       swift("stat " .. util.quote(c) .. " big"))
        assert.is_true(conn:delete_object(c, "big", { with_segments = true }))
        assert.are.same({}, listing(c))
      end)

      it("refuse a manifest whose Etags do not match", function()
        local c = new_container()
        assert(conn:put_container(c))
        assert(conn:put_object(c, "seg/0", "abc"))
        local ok, err, code, detail = conn:put_manifest(c, "big", {
          { path = "/" .. c .. "/seg/0", etag = md5("abd") } })
        assert.is_nil(ok)
        assert.matches("^SLO manifest PUT failed: .* 400 ", err)
        assert.are.equal("http", code)
        assert.are.equal(400, detail.status)
        assert.are.same({ "seg/0" }, listing(c))
      end)

      it("delete: a plain object with with_segments, a 404 with missing_ok",
         function()
        local c = new_container()
        assert(conn:put_container(c))
        assert(conn:put_object(c, "x", "x"))
        assert.is_true(conn:delete_object(c, "x", { with_segments = true,
                                                    cleanup = true }))
        assert.are.same({}, listing(c))
        local ok, err, code, detail = conn:delete_object(c, "x")
        assert.is_nil(ok)
        assert.matches("^Object DELETE failed: .* 404 ", err)
        assert.are.equal("http", code)
        assert.are.equal(404, detail.status)
        assert.is_true(conn:delete_object(c, "x", { missing_ok = true }))
        assert.is_true(conn:delete_object(c, "x", { missing_ok = true,
                                                    with_segments = true }))
      end)

      -- libcurl removes dot segments from a URL: unencoded, "c/../d/o"
      -- would be d's object o. zpm addresses the object of that name in
      -- c, as python-swiftclient does (an undeploy record naming such a
      -- path must not reach another container).
      it("address names with . and .. segments in their own container",
         function()
        local c, d = new_container(), new_container()
        assert(conn:put_container(c))
        assert(conn:put_container(d))
        assert(conn:put_object(d, "o", "other"))
        local name = "../" .. d .. "/o"
        assert(conn:put_object(c, name, "mine"))
        assert(conn:put_object(c, "a/./b", "dot"))
        local names = listing(c)
        table.sort(names)
        assert.are.same({ name, "a/./b" }, names)
        assert.are.equal("mine", (conn:get_object(c, name)))
        assert.is_true(conn:delete_object(c, name))
        assert.is_true(conn:delete_object(c, "a/./b"))
        assert.are.same({}, listing(c))
        assert.are.same({ "o" }, listing(d))
        assert.are.equal("other", download(d, "o"))
      end)
    end)

    describe("conn:request", function()
      -- deploy sends a bundled zapp's tar with the MD5 its record names:
      -- the connection must hand body_md5 to the session, which then
      -- reports it instead of hashing the body (a lost option costs a
      -- deploy half its CPU and no test would fail otherwise)
      it("passes body_md5 on: the MD5 reported is the one given",
         function()
        local c = new_container()
        assert(conn:put_container(c))
        local given = ("0"):rep(32)
        local resp = assert(conn:request("PUT", c .. "/o",
          { body = "hello", body_md5 = given }))
        assert.are.equal(201, resp.status)
        assert.are.equal(given, resp.md5)
        assert.are.equal(md5("hello"), resp.headers.etag:gsub('"', ""))
        local plain = assert(conn:request("PUT", c .. "/p",
          { body = "hello" }))
        assert.are.equal(md5("hello"), plain.md5)
      end)
    end)

    describe("conn:put_slo", function()
      local function source_of(data)
        local dir = util.tmpdir()
        util.write(dir .. "/data", data)
        return assert(core.http.source({ file = dir .. "/data" }))
      end

      it("uploads segments in <container>_segments, then the manifest",
         function()
        local c = new_container()
        assert(conn:put_container(c))
        local data = data_of(2500)
        local src <close> = source_of(data)
        local n, segments = conn:put_slo(c, "dir/big", src, {
          segment_size = 1024, content_type = "application/x-tar" })
        assert.are.equal(3, n, segments)
        assert.are.equal(3, #segments)
        local names = listing(c .. "_segments")
        assert.are.equal(3, #names)
        for i, name in ipairs(names) do
          assert.are.equal(c .. "_segments/" .. name, segments[i])
          assert.matches("^dir/big/slo/%d+%.%x%x%x%x%x%x%x%x/1024/"
            .. ("%08d"):format(i - 1) .. "$", name)
        end
        assert.are.equal(data, download(c, "dir/big"))
        assert.matches("Content Type: application/x%-tar",
                       swift("stat " .. util.quote(c) .. " dir/big"))
        -- listed with its size; deleted with its segments
        local entries = assert(conn:list_objects(c))
        assert.are.equal(2500, entries[1].bytes)
        assert.is_true(conn:delete_object(c, "dir/big",
                                          { with_segments = true }))
        assert.are.same({}, listing(c .. "_segments"))
      end)

      it("leaves no empty last segment when the data ends on a boundary",
         function()
        local c = new_container()
        assert(conn:put_container(c))
        local data = data_of(2048)
        local src <close> = source_of(data)
        assert.are.equal(2, (conn:put_slo(c, "big", src,
                                          { segment_size = 1024 })))
        assert.are.equal(2, #listing(c .. "_segments"))
        assert.are.equal(data, download(c, "big"))
      end)

      it("stops at max_segments and names the segments stored", function()
        local c = new_container()
        assert(conn:put_container(c))
        local src <close> = source_of(data_of(3000))
        local n, err, code, detail = conn:put_slo(c, "big", src, {
          segment_size = 1024, max_segments = 2, too_many = "too many" })
        assert.is_nil(n)
        assert.are.equal("too many", err)
        assert.are.equal("limit", code)
        assert.are.equal(2, #detail.objects)
        assert.are.equal(2, #listing(c .. "_segments"))
        assert.are.same({}, listing(c))
        -- the generic message
        local src2 <close> = source_of(data_of(3000))
        n, err = conn:put_slo(c, "big2", src2, { segment_size = 1024,
                                                 max_segments = 1 })
        assert.is_nil(n)
        assert.matches("big2 needs more than 1 segments of 1024 bytes", err,
                       1, true)
      end)
    end)
  end)

  describe("zpm.deploy.plan", function()
    -- a zapp with a page, a template and a job
    local function ui_zapp()
      local dir = util.tmpdir()
      assert(os.execute("mkdir -p " .. util.quote(dir .. "/src/boot")))
      util.write(dir .. "/src/zapp.yaml",
                 "meta: {name: app}\nui: [index.html, x.js.tmpl]\n")
      util.write(dir .. "/src/boot/system.map",
                 '[{"name": "app", "exec": {"path": '
                 .. '"file://python2.7:python"}, "devices": '
                 .. '[{"name": "python2.7"}]}]')
      util.write(dir .. "/src/index.html", "<p>hi</p>")
      util.write(dir .. "/src/x.js.tmpl", "var n = '{{ zapp.meta.name }}';")
      local zapp = dir .. "/app.zapp"
      local _, err, code = util.sh(("tar -czf %s -C %s zapp.yaml "
        .. "boot/system.map index.html x.js.tmpl"):format(util.quote(zapp),
        util.quote(dir .. "/src")))
      assert(code == 0, err)
      return zapp
    end

    it("is what deploy writes, in order, the job before the manifest",
       function()
      local zapp = ui_zapp()
      local c = new_container()
      local t = c .. "/dir"
      local plan = assert(deploy.plan(conn, t, zapp, { public = true,
        segment_size = 4096, ui_auth_version = "0.0" }))
      assert.are.equal(t, plan.target)
      assert.are.equal(c, plan.container)
      assert.are.same({ path = zapp, name = "app.zapp",
                        size = #util.read(zapp) }, plan.zapp)
      assert.matches("^" .. pat(t) .. "/%.zapp/%d+T%d+Z%-%x+/app%.zapp$",
                     plan.image)
      assert.are.equal(t .. "/.zapp/deploy.lock", plan.lock)
      assert.are.equal(".r:*,.rlistings", plan.acl)
      assert.is_false(plan.force)
      assert.are.equal(4096, plan.segment_size)
      assert.is_number(plan.limits.max_file_size)
      local roles, paths = {}, {}
      for i, o in ipairs(plan.objects) do
        roles[i], paths[i] = o.role, o.path
      end
      assert.are.same({ "image", "ui", "ui", "job", "manifest" }, roles)
      assert.are.same({ plan.image, t .. "/index.html", t .. "/x.js",
                        t .. "/boot/system.map", t .. "/app.zapp" }, paths)
      local o = plan.objects
      assert.are.same({ gunzip = zapp }, o[1].body)
      assert.is_nil(o[1].size)
      assert.are.same({ "text/html", 9, "<p>hi</p>" },
                      { o[2].content_type, o[2].size, o[2].body })
      assert.are.same({ "application/javascript", "var n = 'app';" },
                      { o[3].content_type, o[3].body })
      assert.are.equal("application/json", o[4].content_type)
      assert.are.equal(#o[4].body, o[4].size)
      local the_job = json.decode(o[4].body)
      assert.are.equal("image", the_job[1].devices[2].name)
      assert.matches(pat(plan.image) .. "$",
                     the_job[1].devices[2].path)
      assert.are.same(the_job, json.decode(json.encode(plan.job)))
      assert.are.same({ { path = "/" .. plan.image } },
                      json.decode(o[5].body))
      assert.are.equal("?multipart-manifest=put", o[5].query)
      -- nothing was written
      assert.is_nil(listing(c))
    end)

    it("fails as deploy does before writing anything", function()
      local zapp = ui_zapp()
      local plan, err = deploy.plan(conn, new_container(), zapp,
        { segment_size = 1e15 })
      assert.is_nil(plan)
      assert.matches("^%-%-segment%-size %d+ is larger than the cluster's "
                     .. "largest object", err)
      plan, err = deploy.plan(conn, "a//b", zapp)
      assert.is_nil(plan)
      assert.matches("empty segment", err)
    end)
  end)
end)
