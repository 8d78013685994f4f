local webui = require("zpm.webui")
local deploy = require("zpm.deploy")
local json = require("zpm.json")

describe("deploy helpers", function()
  describe("swift_path", function()
    local cases = {
      { "http://h:8080/v1/AUTH_x", "swift://AUTH_x/c/a.zapp" },
      { "http://h:8080/v1/AUTH_x/", "swift://AUTH_x/c/a.zapp" },
      { "https://h/swift/v1/AUTH_x", "swift://AUTH_x/c/a.zapp" },
      { "http://h/v1/AUTH_469a9cd2", "swift://AUTH_469a9cd2/c/a.zapp" },
      { "http://h/object/AUTH_y", "swift://AUTH_y/c/a.zapp" },
    }
    for _, case in ipairs(cases) do
      it("maps " .. case[1], function()
        assert.are.equal(case[2], deploy.swift_path(case[1], "c/a.zapp"))
      end)
    end
  end)

  describe("content_type", function()
    local cases = { { "index.html", "text/html" }, { "a/b.CSS", "text/css" },
                    { "z.js", "application/javascript" },
                    { "noext", "application/octet-stream" } }
    for _, case in ipairs(cases) do
      it("of " .. case[1], function()
        assert.are.equal(case[2], webui.content_type(case[1]))
      end)
    end
  end)

  it("matches ui patterns like fnmatch, '/' included", function()
    assert.is_true(webui.fnmatch("ui/a/b.css", "ui/*"))
    assert.is_true(webui.fnmatch("index.html.tmpl", "*.tmpl"))
    assert.is_false(webui.fnmatch("index.html", "*.tmpl"))
  end)

  describe("auth_opts", function()
    it("never carries a password or key", function()
      for _, v in ipairs({ "1.0", "2.0", "3.0" }) do
        local text = json.encode(webui.auth_opts(v, {
          auth = "A", user = "U", key = "SECRETKEY", os_auth_url = "O",
          os_username = "N", os_password = "SECRETPW",
          os_tenant_name = "T", os_project_name = "P" }, "http://s"))
        assert.is_nil(text:find("SECRET"), text)
      end
    end)

    it("embeds the password or key only when asked", function()
      local text = json.encode(webui.auth_opts("1.0", { auth = "A",
        user = "U", key = "SECRETKEY" }, "http://s",
        { embed_credentials = true }))
      assert.truthy(text:find("SECRETKEY", 1, true))
    end)

    it("is version 0.0 with the storage URL without auth", function()
      assert.are.equal('{"version": "0.0", "swiftUrl": "http://s/v1/A"}',
        json.encode(webui.auth_opts("0.0", {}, "http://s/v1/A")))
    end)
  end)

  describe("render", function()
    local vars = { zapp = { meta = { name = "<b>x</b>" },
                            help = { args = { { "who", "Who" },
                                              { "n", "Count" } } } },
                   auth_opts = { version = "0.0", swiftUrl = "</script>" } }

    it("escapes values in .html.tmpl files", function()
      assert.are.equal("<h1>&lt;b&gt;x&lt;/b&gt;</h1>",
        webui.render("i.html.tmpl", "<h1>{{ zapp.meta.name }}</h1>", vars))
    end)

    it("does not escape other templates", function()
      assert.are.equal("<b>x</b>",
        webui.render("a.js.tmpl", "{{ zapp.meta.name }}", vars))
    end)

    it("writes auth_opts as script-safe JSON", function()
      local out = webui.render("i.html.tmpl", "{{auth_opts}}", vars)
      assert.is_nil(out:find("</script>", 1, true))
      assert.are.same(vars.auth_opts, json.decode(out))
    end)

    it("loops over help.args pairs", function()
      assert.are.equal("who=Who;n=Count;",
        webui.render("f.html.tmpl", "{% for a, b in zapp.help.args %}"
          .. "{{ a }}={{ b }};{% endfor %}", vars))
    end)

    it("names what is undefined, with the line", function()
      local out, err = webui.render("i.tmpl", "ok\n{{ nope.x }}", vars)
      assert.is_nil(out)
      assert.matches("^i%.tmpl:2: .*'nope' is undefined", err)
    end)
  end)
end)
