--- The web UI files `zpm new --with-ui` writes: a page that runs the
-- deployed job from the browser. Plain HTML, CSS and JavaScript with no
-- external resources, so the page works offline.
local M = {}

local INDEX = [[
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ zapp.meta.name }}</title>
  <link rel="stylesheet" href="style.css">
</head>
<body>
  <h1>{{ zapp.meta.name }}</h1>
  <form id="job-form">
    <label>Password or key
      <input type="password" id="password" autocomplete="current-password">
    </label>
    <label>Arguments
      <input type="text" id="args" placeholder="extra arguments">
    </label>
    <button type="submit" id="execute">Execute</button>
  </form>
  <pre id="output"></pre>
  <script>var ZAPP_AUTH = {{ auth_opts }};</script>
  <script src="zerocloud.js"></script>
</body>
</html>
]]

local CSS = [[
body { font-family: sans-serif; margin: 2em auto; max-width: 50em; }
form { display: flex; flex-wrap: wrap; gap: 1em; align-items: end; }
label { display: flex; flex-direction: column; font-size: 0.9em; }
pre { background: #f4f4f4; padding: 1em; min-height: 3em;
      white-space: pre-wrap; }
.error { color: #a00; }
]]

local JS = [[
// Runs the zapp deployed next to this page on ZeroCloud: authenticates
// (auth v1, or none when the page is public), loads boot/system.map,
// appends the form's arguments and POSTs the job.
(function () {
  "use strict";

  function escapeArg(s) {
    return s.replace(/[\\", \n]/g, function (c) {
      return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
    });
  }

  async function authenticate(auth, password) {
    if (auth.version === "0.0") {
      return { url: auth.swiftUrl, token: null };
    }
    var resp = await fetch(auth.authUrl, { headers: {
      "X-Auth-User": auth.username,
      "X-Auth-Key": password || auth.password || "" } });
    if (!resp.ok) {
      throw new Error("authentication failed: " + resp.status);
    }
    return { url: resp.headers.get("X-Storage-Url"),
             token: resp.headers.get("X-Auth-Token") };
  }

  async function run(event) {
    event.preventDefault();
    var out = document.getElementById("output");
    out.className = "";
    out.textContent = "running...";
    try {
      var session = await authenticate(window.ZAPP_AUTH,
        document.getElementById("password").value);
      var headers = {};
      if (session.token) {
        headers["X-Auth-Token"] = session.token;
      }
      var jobResp = await fetch("boot/system.map", { headers: headers });
      if (!jobResp.ok) {
        throw new Error("cannot load boot/system.map: " + jobResp.status);
      }
      var job = await jobResp.json();
      var extra = document.getElementById("args").value.trim();
      if (extra) {
        var words = extra.split(/\s+/).map(escapeArg).join(" ");
        job.forEach(function (group) {
          group.exec.args = (group.exec.args ? group.exec.args + " " : "") +
            words;
        });
      }
      headers["X-Zerovm-Execute"] = "1.0";
      headers["Content-Type"] = "application/json";
      var resp = await fetch(session.url, { method: "POST",
        headers: headers, body: JSON.stringify(job) });
      var text = await resp.text();
      if (!resp.ok) {
        throw new Error(resp.status + " " + text);
      }
      out.textContent = text;
    } catch (err) {
      out.className = "error";
      out.textContent = String(err.message || err);
    }
  }

  document.getElementById("job-form").addEventListener("submit", run);
})();
]]

--- The files, in the order they are created.
M.FILES = {
  { name = "index.html.tmpl", content = INDEX },
  { name = "zerocloud.js", content = JS },
  { name = "style.css", content = CSS },
}

return M
