-- The deployed web UI in a real browser: headless Chromium, driven through
-- chromedriver, against a devcloud (`zpm devcloud up` in a temporary
-- directory). examples/hello-ui is deployed with --public (auth v1, no
-- password in the page); the page is filled in and run like a user would.
local util = require("support.util")
local browser = require("support.browser")
local core = require("zpm.core")

local available = browser.available()
local dir, env, b, page_url
local shots = util.build_dir .. "/test-output/webui"

local function zpm(args, opts)
  opts = opts or {}
  local e = { ST_AUTH = env.ST_AUTH, ST_USER = env.ST_USER,
              ST_KEY = env.ST_KEY, OS_AUTH_URL = "", OS_USERNAME = "",
              OS_STORAGE_URL = "", OS_AUTH_TOKEN = "", OS_AUTH_VERSION = "",
              ST_AUTH_VERSION = "" }
  return util.zpm(args, { cwd = opts.cwd, env = e })
end

-- a bundled copy of examples/hello-ui; `hello_py`, when given, replaces
-- hello.py
local function hello_ui(hello_py)
  local root = util.tmpdir() .. "/hello-ui"
  os.execute("cp -r " .. util.source_dir .. "/examples/hello-ui " .. root)
  if hello_py then
    util.write(root .. "/hello.py", hello_py)
  end
  local _, err, code = util.zpm({ "bundle" }, { cwd = root })
  assert(code == 0, err)
  return root, root .. "/hello-ui.zapp"
end

local counter = 0
local function container()
  counter = counter + 1
  return ("webui-%d-%d"):format(os.time(), counter)
end

-- GET without any token
local function get(url)
  local s = core.http.session({ connect_timeout = 5 })
  return assert(s:request({ method = "GET", url = url, timeout = 10 }))
end

local function output_state()
  return b:execute([[
    var pre = document.getElementById("output");
    return { text: pre.textContent, cls: pre.className };]])
end

-- waits until the <pre> holds a result (done, failed) or an error:
-- never longer than 30 s, so a hanging page fails the test instead of
-- the suite
local function wait_output()
  return b:wait_for(function()
    local st = output_state()
    return (st.cls == "done" or st.cls == "failed" or st.cls == "error")
      and st
  end, 30) or output_state()
end

local function screenshot(name)
  os.execute("mkdir -p " .. util.quote(shots))
  return b:screenshot(shots .. "/" .. name .. ".png")
end

describe("web UI in a browser", function()
  if not available then
    -- a missing tool is a failure, never a skip: CI must not go green
    -- on a machine that cannot run this
    it("finds Chromium", function()
      error("Chromium is not installed (" .. browser.CHROMIUM .. "): "
        .. "apt-get install chromium chromium-driver, or run ./dev test")
    end)
    return
  end

  setup(function()
    dir = util.tmpdir()
    local out, err, code = util.zpm({ "devcloud", "up", "--dir", dir,
      "--time-limit", "10" })
    assert(code == 0, err)
    env = {}
    for k, v in out:gmatch("(ST_%w+)='([^']*)'") do env[k] = v end
    b = browser.start()
  end)

  teardown(function()
    if b then b:quit() end
    if dir then util.zpm({ "devcloud", "down", "--dir", dir }) end
    util.cleanup()
  end)

  it("runs hello-ui with the password typed in and an argument", function()
    local _, zapp = hello_ui()
    local c = container()
    local out, err, code = zpm({ "deploy", "--public", c, zapp })
    assert.are.equal(0, code, err)
    page_url = out:match("^app deployed to\n  (%S+/index%.html)\n$")
    assert.is_string(page_url, out)
    assert.is_nil(err:find("needs a token", 1, true), err)
    -- public: the page loads without a token, and holds no key
    local resp = get(page_url)
    assert.are.equal(200, resp.status)
    assert.is_nil(resp.body:find(env.ST_KEY, 1, true))
    assert.matches('"username": "' .. env.ST_USER:gsub("%p", "%%%0"),
                   resp.body)

    b:navigate(page_url)
    assert.are.equal("hello-ui", b:text("h1"))
    assert.is_true(b:execute(
      'return !document.getElementById("auth-field").hidden'))
    b:type("#password", env.ST_KEY)
    b:type("#arg-1", "Ada Lovelace")
    b:click("#execute")
    local st = wait_output()
    screenshot("hello-ui")
    -- done, not an error: the page read the X-Nexe-* headers through
    -- Swift (a response without them shows as an error)
    assert.are.equal("done", st.cls, st.text)
    assert.are.equal("Hello, Ada Lovelace!\n", st.text)
  end)

  it("shows a job whose node exits non-zero as failed", function()
    local _, zapp = hello_ui(table.concat({
      "import sys",
      "sys.stdout.write('Half done for %s\\n' % ' '.join(sys.argv[1:]))",
      "sys.stdout.flush()",
      "sys.exit(3)", "" }, "\n"))
    local out, err, code = zpm({ "deploy", "--public", container(), zapp })
    assert.are.equal(0, code, err)
    local url = out:match("^app deployed to\n  (%S+/index%.html)\n$")
    assert.is_string(url, out)

    b:navigate(url)
    b:type("#password", env.ST_KEY)
    b:type("#arg-1", "Ada")
    b:click("#execute")
    local st = wait_output()
    screenshot("failed-job")
    assert.are.equal("failed", st.cls, st.text)
    assert.are.equal("node hello: exited with retcode 3 (status: ok)\n"
      .. "\nHalf done for Ada\n", st.text)
    -- the failure is set off: the summary in red, the box red-bordered
    local look = b:execute([[
      var pre = document.getElementById("output");
      var summary = pre.querySelector(".failure");
      return { border: getComputedStyle(pre).borderTopColor,
               color: summary && getComputedStyle(summary).color,
               summary: summary && summary.textContent };]])
    assert.are.equal("rgb(204, 0, 0)", look.border)
    assert.are.equal("rgb(170, 0, 0)", look.color)
    assert.are.equal("node hello: exited with retcode 3 (status: ok)\n",
                     look.summary)
  end)

  it("shows a failed node's stderr tail under its line, as text", function()
    -- the tail comes in X-Nexe-Stderr, percent-encoded: markup, a comma
    -- (%2C, not an item separator), "%" and a byte that is not UTF-8
    -- (decodeURIComponent refuses it: U+FFFD) all show as written
    local _, zapp = hello_ui(table.concat({
      "import sys",
      "sys.stdout.write('Half done for %s\\n' % ' '.join(sys.argv[1:]))",
      "sys.stdout.flush()",
      "sys.stderr.write('Traceback (most recent call last):\\n')",
      "sys.stderr.write('ValueError: bad <b>x</b>, 50% & <script>"
        .. "alert(1)</script>\\n')",
      "sys.stderr.flush()",
      "sys.stderr.buffer.write(b'bytes \\xff end\\n')",
      "sys.stderr.flush()",
      "sys.exit(2)", "" }, "\n"))
    local out, err, code = zpm({ "deploy", "--public", container(), zapp })
    assert.are.equal(0, code, err)
    local url = out:match("^app deployed to\n  (%S+/index%.html)\n$")
    assert.is_string(url, out)

    b:navigate(url)
    b:type("#password", env.ST_KEY)
    b:type("#arg-1", "Ada")
    b:click("#execute")
    local st = wait_output()
    screenshot("failed-job-stderr")
    local tail = "Traceback (most recent call last):\n"
      .. "ValueError: bad <b>x</b>, 50% & <script>alert(1)</script>\n"
      .. "bytes \u{FFFD} end\n"
    assert.are.equal("failed", st.cls, st.text)
    assert.are.equal("node hello: exited with retcode 2 (status: ok)\n"
      .. tail .. "\nHalf done for Ada\n", st.text)
    local look = b:execute([[
      var pre = document.getElementById("output");
      var line = pre.querySelector(".failure");
      var tail = pre.querySelector(".stderr");
      return { line: line && line.textContent,
               tail: tail && tail.textContent,
               after: !!(line && tail &&
                 line.compareDocumentPosition(tail) &
                 Node.DOCUMENT_POSITION_FOLLOWING),
               children: tail && tail.children.length,
               markup: pre.querySelectorAll("b, script").length,
               border: tail && getComputedStyle(tail).borderLeftStyle,
               shown: tail && tail.innerText,
               boxBorder: getComputedStyle(pre).borderTopColor };]])
    assert.are.equal("node hello: exited with retcode 2 (status: ok)\n",
                     look.line)
    assert.are.equal(tail, look.tail)
    assert.is_true(look.after)
    -- text, never markup: no element inside the tail or the box, and the
    -- tail is rendered as the characters the node wrote
    assert.are.equal(0, look.children)
    assert.are.equal(0, look.markup)
    assert.matches("<b>x</b>, 50% & <script>alert(1)</script>", look.shown,
                   1, true)
    assert.is_false(b:alert_open())
    assert.are.equal("solid", look.border)
    assert.are.equal("rgb(204, 0, 0)", look.boxBorder)
  end)

  it("says so when the response has no execution stats", function()
    -- a real ZeroCloud always sends the X-Nexe-* headers: to see the
    -- page without them, its fetch drops them from the real response
    assert.is_string(page_url, "needs the first case's deployment")
    b:navigate(page_url)
    b:execute([[
      var real = window.fetch;
      window.fetch = async function (url, init) {
        var resp = await real(url, init);
        var headers = new Headers();
        resp.headers.forEach(function (value, name) {
          if (!/^x-nexe-/i.test(name)) { headers.set(name, value); }
        });
        return new Response(await resp.text(), { status: resp.status,
          statusText: resp.statusText, headers: headers });
      };]])
    b:type("#password", env.ST_KEY)
    b:type("#arg-1", "nobody")
    b:click("#execute")
    local st = wait_output()
    assert.are.equal("error", st.cls, st.text)
    assert.are.equal("Error: the server did not report execution stats: "
      .. "its response has no X-Nexe-* headers (is it ZeroCloud?)", st.text)
  end)

  it("shows an error for a wrong password, without hanging", function()
    assert.is_string(page_url, "needs the first case's deployment")
    b:navigate(page_url)
    b:type("#password", "not-the-key")
    b:type("#arg-1", "nobody")
    local t0 = os.time()
    b:click("#execute")
    local st = wait_output()
    screenshot("wrong-password")
    assert.are.equal("error", st.cls, st.text)
    assert.matches("^Error: authentication failed: 401", st.text)
    assert.is_true(os.time() - t0 < 20)
  end)

  it("escapes markup in zapp.yaml and runs with embedded credentials", function()
    -- markup in meta.name, help.description and an argument's label
    -- (meta.name cannot hold '/', so no </script> there: zpm.zapp
    -- refuses it as a file name; the description carries one). The tar
    -- is rebuilt with the changed zapp.yaml: bundle names the zapp after
    -- meta.name.
    local root, zapp = hello_ui()
    local name = "<img src=x onerror=alert(1)>"
    local x = root .. "/x"
    os.execute("mkdir -p " .. util.quote(x))
    assert.are.equal(0, select(3, util.sh("tar -xzf " .. util.quote(zapp)
      .. " -C " .. util.quote(x))))
    local yaml = util.read(x .. "/zapp.yaml")
    yaml = yaml:gsub("name: hello%-ui", "name: '" .. name .. "'")
      :gsub("description: [^\n]*",
            "description: '<script>alert(2)</script>'")
      :gsub("%[name, Who to greet%]",
            "[name, '</label><script>alert(3)</script>Who']")
    util.write(x .. "/zapp.yaml", yaml)
    local evil = root .. "/evil.zapp"
    local _, terr, tcode = util.sh("tar -czf " .. util.quote(evil)
      .. " boot zapp.yaml hello.py index.html.tmpl zerocloud.js style.css",
      { cwd = x })
    assert.are.equal(0, tcode, terr)

    local c = container()
    local out, err, code = zpm({ "deploy", "--public",
                                 "--ui-embed-credentials", c, evil })
    assert.are.equal(0, code, err)
    assert.matches("WARNING: the web UI embeds the password or key", err)
    local url = out:match("\n  (%S+/index%.html)\n$")
    local source = get(url).body
    assert.truthy(source:find("<h1 id=\"title\">&lt;img src=x "
      .. "onerror=alert(1)&gt;</h1>", 1, true), source)
    assert.truthy(source:find("&lt;script&gt;alert(2)&lt;/script&gt;", 1,
                              true), source)
    assert.truthy(source:find("&lt;/label&gt;&lt;script&gt;alert(3)", 1,
                              true), source)
    assert.are.equal(2, select(2, source:gsub("<script", "")))

    b:navigate(url)
    assert.is_false(b:alert_open())
    assert.are.equal(name, b:execute("return document.title"))
    assert.are.equal(name, b:text("h1"))
    assert.are.equal(2, #b:find_all("script"))
    assert.are.equal(0, #b:find_all("img"))
    assert.are.equal("</label><script>alert(3)</script>Who",
                     b:text("label[for=arg-1]"))
    -- credentials embedded: no password field, the job runs as is;
    -- the argument's special characters survive the exec.args escaping
    assert.is_true(b:execute(
      'return document.getElementById("auth-field").hidden'))
    b:type("#arg-1", 'a,b "c"\\ d')
    b:click("#execute")
    local st = wait_output()
    screenshot("embedded-credentials")
    assert.are.equal("done", st.cls, st.text)
    assert.are.equal('Hello, a,b "c"\\ d!\n', st.text)
  end)

  it("says a private page needs a token", function()
    local _, zapp = hello_ui()
    local out, err, code = zpm({ "deploy", container(), zapp })
    assert.are.equal(0, code, err)
    assert.matches("^app deployed to\n  %S+/index%.html\n$", out)
    assert.matches("needs a token", err)
    local url = out:match("\n  (%S+)\n$")
    assert.are.equal(401, get(url).status)
  end)
end)
