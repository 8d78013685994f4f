-- zpm.jinja: Jinja2-compatible templates. The table-driven cases live in
-- spec/fixtures/jinja/cases.lua (expected outputs follow Jinja2 3.1).
local jinja = require("zpm.jinja")
local json = require("zpm.json")
local yaml = require("zpm.yaml")

local fixtures = (os.getenv("ZPM_SOURCE_DIR") or ".")
  .. "/spec/fixtures/jinja/"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local cases = dofile(fixtures .. "cases.lua")({
  obj = json.object, list = json.array, null = json.null,
  markup = jinja.markup,
})

describe("zpm.jinja", function()
  describe("cases", function()
    for i, case in ipairs(cases) do
      local text, vars = case[1], case[2]
      local name = case.name or "x.txt"
      it(("#%d %q"):format(i, text), function()
        local out, err = jinja.render(text, name, vars or {})
        if case.err then
          assert.is_nil(out)
          assert.are.equal(case.err, err)
        else
          assert.is_nil(err)
          assert.are.equal(case[3], out)
        end
      end)
    end

    it("are numerous enough to cover the features", function()
      assert.is_true(#cases >= 80)
    end)
  end)

  describe("compile", function()
    it("compiles once and renders many times", function()
      local tmpl = assert(jinja.compile("{{ a }}-{{ b|upper }}", "t"))
      assert.are.equal("1-X", tmpl:render({ a = 1, b = "x" }))
      assert.are.equal("2-Y", tmpl:render({ a = 2, b = "y" }))
      assert.are.equal("-", tmpl:render())
    end)

    it("reports syntax errors at compile time", function()
      local tmpl, err = jinja.compile("ok\n{% if x %}", "index.html.tmpl")
      assert.is_nil(tmpl)
      assert.are.equal("index.html.tmpl:2: expected 'endif', found end of "
        .. "template (the 'if' on line 2 is not closed)", err)
    end)

    it("reports runtime errors when rendering", function()
      local tmpl = assert(jinja.compile("a\nb {{ x.y }}", "r.tmpl"))
      local out, err = tmpl:render({})
      assert.is_nil(out)
      assert.are.equal("r.tmpl:2: 'x' is undefined", err)
    end)

    it("names templates <template> by default", function()
      local out, err = jinja.render("{{ 1 + }}")
      assert.is_nil(out)
      assert.are.equal("<template>:1: unexpected end of print statement",
                       err)
    end)

    it("autoescapes by name unless told otherwise", function()
      local vars = { s = "<&>" }
      assert.are.equal("&lt;&amp;&gt;",
                       jinja.render("{{ s }}", "a.html.tmpl", vars))
      assert.are.equal("<&>",
                       jinja.render("{{ s }}", "a.js.tmpl", vars))
      assert.are.equal("<&>", jinja.render("{{ s }}", "a.html.tmpl", vars,
                                              { autoescape = false }))
      assert.are.equal("&lt;&amp;&gt;", jinja.render(
        "{{ s }}", "a.txt", vars, { autoescape = true }))
      assert.is_true(jinja.autoescape_for("INDEX.HTML.TMPL"))
      assert.is_true(jinja.autoescape_for("feed.xml.tmpl"))
      assert.is_false(jinja.autoescape_for("style.css.tmpl"))
    end)

    it("keeps the trailing newline when asked", function()
      assert.are.equal("x\n", jinja.render("x\n", "t", {},
                                              { keep_trailing_newline = true }))
      assert.are.equal("x", jinja.render("x\n", "t", {}))
    end)

    it("raises on programming errors", function()
      assert.has.error(function() jinja.compile(42, "t") end)
      assert.has.error(function() jinja.markup(42) end)
      local tmpl = assert(jinja.compile("x", "t"))
      assert.has.error(function() tmpl:render("vars") end)
    end)
  end)

  describe("values", function()
    it("marks strings safe with markup/safe", function()
      local m = jinja.safe("<b>")
      assert.is_true(jinja.is_markup(m))
      assert.is_false(jinja.is_markup("<b>"))
      assert.are.equal("<b>&lt;b&gt;", jinja.render(
        "{{ m }}{{ s }}", "x.html", { m = m, s = "<b>" }))
    end)

    it("escapes as markupsafe does", function()
      assert.are.equal("&amp;&lt;&gt;&#34;&#39;x", jinja.escape("&<>\"'x"))
    end)

    it("does not change the caller's variables", function()
      local vars = { x = 1 }
      assert.are.equal("2", jinja.render("{% set x = 2 %}{{ x }}", "t",
                                            vars))
      assert.are.equal(1, vars.x)
    end)

    it("starts every render with fresh namespaces", function()
      local tmpl = assert(jinja.compile(
        "{% set ns = namespace(n=0) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}"))
      assert.are.equal("1", tmpl:render())
      assert.are.equal("1", tmpl:render())
    end)

    it("reads YAML mappings in file order and sequences 0-based", function()
      local doc = assert(yaml.load("z: 1\na: 2\nm: 3\nl: [x, y]\n"))
      assert.are.equal("z=1 a=2 m=3 l=['x', 'y'] |x", jinja.render(
        "{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}|{{ d.l.0 }}",
        "t", { d = doc }))
      assert.are.equal('{"z": 1, "a": 2, "m": 3, "l": ["x", "y"]}',
                       jinja.render("{{ d|tojson }}", "t", { d = doc }))
    end)

    it("prints YAML null as None and floats as Python does", function()
      local doc = assert(yaml.load("a: ~\nb: 1.50\nc: 1.0e+100\nd: 7\n"))
      assert.are.equal("None 1.5 1e+100 7", jinja.render(
        "{{ d.a }} {{ d.b }} {{ d.c }} {{ d.d }}", "t", { d = doc }))
    end)
  end)

  describe("a zapp web UI page", function()
    it("renders like Jinja2 does", function()
      local zapp = assert(yaml.load_file(fixtures .. "zapp.yaml"))
      local auth_opts = json.object({ "version", "authUrl", "username" }, {
        version = "1.0", authUrl = "http://127.0.0.1:8080/auth/v1.0",
        username = "test:tester" })
      local out, err = jinja.render(read(fixtures .. "index.html.tmpl"),
        "index.html.tmpl", {
          zapp = zapp,
          auth_opts = jinja.markup(assert(json.encode(auth_opts))),
        })
      assert.is_nil(err)
      assert.are.equal(read(fixtures .. "index.html"), out)
    end)
  end)
end)
