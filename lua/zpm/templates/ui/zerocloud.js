// zerocloud.js: runs the zapp deployed next to this page on ZeroCloud.
// It authenticates (auth v1, v2, v3 or none, as the page's auth options
// say), loads boot/system.map from beside the page, appends the form's
// arguments to each group's exec.args, sets the device paths from the
// form, POSTs the job with X-Zerovm-Execute: 1.0 and shows the output
// (class "done"), what failed, each failed node's stderr tail and the
// output when a node failed (class "failed", from the X-Nexe-* headers),
// or the error (class "error"). Job output is only ever set as text.
// Every request gives up after TIMEOUT_MS.
(function () {
  "use strict";

  var TIMEOUT_MS = 60000;

  function authOpts() {
    var node = document.getElementById("auth-opts");
    if (node) {
      return JSON.parse(node.textContent);
    }
    return window.ZAPP_AUTH || { version: "0.0", swiftUrl: "" };
  }

  function needsPassword(auth) {
    return String(auth.version || "0.0") !== "0.0" && !auth.password;
  }

  // exec.args words: backslash, double quote, comma, space and newline
  // become \x5c \x22 \x2c \x20 \x0a (DESIGN.md section 4)
  function escapeArg(word) {
    return word.replace(/[\\", \n]/g, function (c) {
      return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
    });
  }

  function stripSlash(url) {
    return String(url || "").replace(/\/+$/, "");
  }

  // fetch with a time limit covering the body; a non-2xx status, a
  // network failure and the time limit all throw an Error that says what
  // failed
  async function request(what, url, init) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    try {
      var resp = await fetch(url, Object.assign({ cache: "no-store",
        signal: controller.signal }, init || {}));
      var text = await resp.text();
      if (!resp.ok) {
        throw new Error(what + " failed: " + resp.status + " " +
          resp.statusText + (text ? "\n" + text : ""));
      }
      return { status: resp.status, headers: resp.headers, text: text };
    } catch (err) {
      if (err.name === "AbortError") {
        throw new Error(what + " failed: no answer within " +
          TIMEOUT_MS / 1000 + " s");
      }
      if (err instanceof TypeError) {
        throw new Error(what + " failed: " + err.message);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  function postJson(what, url, body) {
    return request(what, url, { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json",
                 "Accept": "application/json" } });
  }

  function domain(id, name) {
    return id ? { id: id } : { name: name || "Default" };
  }

  function catalogEndpoint(catalog, pick) {
    var services = (catalog || []).filter(function (s) {
      return s.type === "object-store";
    });
    for (var i = 0; i < services.length; i++) {
      var url = pick(services[i].endpoints || []);
      if (url) {
        return url;
      }
    }
    throw new Error("authentication failed: no object-store endpoint in " +
      "the service catalog");
  }

  // { url: storage URL, token: token or null }
  async function authenticate(auth, password) {
    var version = String(auth.version || "0.0");
    if (version === "0.0") {
      return { url: auth.swiftUrl, token: null };
    }
    password = password || auth.password || auth.key || "";
    if (!password) {
      throw new Error("enter the password or key");
    }
    if (version.charAt(0) === "1") {
      var r1 = await request("authentication", auth.authUrl, { headers: {
        "X-Auth-User": auth.username, "X-Auth-Key": password } });
      return { url: r1.headers.get("X-Storage-Url"),
               token: r1.headers.get("X-Auth-Token") };
    }
    if (version.charAt(0) === "2") {
      var body2 = { auth: { passwordCredentials: {
        username: auth.username, password: password } } };
      if (auth.tenantId) {
        body2.auth.tenantId = auth.tenantId;
      } else {
        body2.auth.tenantName = auth.tenant;
      }
      var r2 = await postJson("authentication",
        stripSlash(auth.authUrl) + "/tokens", body2);
      var access = JSON.parse(r2.text).access;
      return { token: access.token.id,
        url: catalogEndpoint(access.serviceCatalog, function (eps) {
          var ep = eps.find(function (e) {
            return !auth.region || e.region === auth.region;
          });
          return ep && ep.publicURL;
        }) };
    }
    var user = auth.userId ? { id: auth.userId, password: password }
      : { name: auth.username, password: password,
          domain: domain(auth.userDomainId, auth.userDomainName) };
    var project = auth.projectId ? { id: auth.projectId }
      : { name: auth.projectName,
          domain: domain(auth.projectDomainId, auth.projectDomainName) };
    var r3 = await postJson("authentication",
      stripSlash(auth.authUrl) + "/auth/tokens", { auth: {
        identity: { methods: ["password"], password: { user: user } },
        scope: { project: project } } });
    var iface = auth.interface || "public";
    return { token: r3.headers.get("X-Subject-Token"),
      url: catalogEndpoint(JSON.parse(r3.text).token.catalog,
        function (eps) {
          var ep = eps.find(function (e) {
            return e.interface === iface &&
              (!auth.region || e.region === auth.region ||
               e.region_id === auth.region);
          });
          return ep && ep.url;
        }) };
  }

  // a device field's value: swift://... as is, else container/object of
  // the account behind the storage URL
  function objectPath(value, storageUrl) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      return value;
    }
    var path = new URL(storageUrl, document.baseURI).pathname;
    path = path.replace(/\/+$/, "");
    var m = path.match(/\/v1\/([^/]+)$/) || path.match(/([^/]+)$/);
    return "swift://" + (m ? m[1] : "") + "/" + value.replace(/^\/+/, "");
  }

  // the form's argument words, escaped: a named argument's field is one
  // word (empty: left out), the free "Arguments" field is split at spaces
  function argumentWords() {
    var words = [];
    document.querySelectorAll("input.arg").forEach(function (input) {
      if (input.classList.contains("words")) {
        input.value.split(/\s+/).filter(Boolean).forEach(function (w) {
          words.push(escapeArg(w));
        });
      } else if (input.value !== "") {
        words.push(escapeArg(input.value));
      }
    });
    return words;
  }

  function buildJob(job, storageUrl) {
    var words = argumentWords().join(" ");
    job.forEach(function (group) {
      group.exec = group.exec || {};
      if (words) {
        group.exec.args = group.exec.args ? group.exec.args + " " + words
          : words;
      }
    });
    document.querySelectorAll("input.device").forEach(function (input) {
      var value = input.value.trim();
      if (!value) {
        return;
      }
      job.forEach(function (group) {
        if (group.name !== input.dataset.group) {
          return;
        }
        group.devices = group.devices || [];
        var device = group.devices.find(function (d) {
          return d.name === input.dataset.device;
        });
        if (!device) {
          device = { name: input.dataset.device };
          group.devices.push(device);
        }
        device.path = objectPath(value, storageUrl);
      });
    });
    return job;
  }

  function show(text, className) {
    var out = document.getElementById("output");
    out.className = className || "";
    out.textContent = text;
  }

  // a comma-separated X-Nexe-* header as a list (fetch joins a repeated
  // header with ", "); null when the response has no such header
  function headerList(headers, name) {
    var value = headers.get(name);
    if (value === null) {
      return null;
    }
    return value.split(",").map(function (item) { return item.trim(); });
  }

  // an X-Nexe-Stderr item (percent-encoded bytes) as text: the tail may
  // hold bytes that are not UTF-8, which decodeURIComponent refuses;
  // then each %XX is a byte and the bytes are decoded with U+FFFD for
  // what is not UTF-8 (a "%" without two hex digits stays as it is)
  function decodeStderr(item) {
    try {
      return decodeURIComponent(item);
    } catch (err) {
      var bytes = [];
      var encoder = new TextEncoder();
      for (var i = 0; i < item.length; i++) {
        var hex = item.substr(i + 1, 2);
        if (item.charAt(i) === "%" && /^[0-9a-f]{2}$/i.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 2;
        } else {
          encoder.encode(item.charAt(i)).forEach(function (b) {
            bytes.push(b);
          });
        }
      }
      return new TextDecoder("utf-8").decode(new Uint8Array(bytes));
    }
  }

  // what failed, from the execution headers: one entry per node whose
  // X-Nexe-Status is not "ok" or whose X-Nexe-Retcode is not 0 ({ line,
  // stderr: the tail of its stderr from X-Nexe-Stderr, or "" }), then
  // X-Nexe-Error if there is one; an empty list when all went well, null
  // when the response carries no execution stats
  function failures(headers) {
    var names = headerList(headers, "X-Nexe-System");
    var statuses = headerList(headers, "X-Nexe-Status");
    var retcodes = headerList(headers, "X-Nexe-Retcode");
    if (names === null || statuses === null || retcodes === null) {
      return null;
    }
    var stderrs = headerList(headers, "X-Nexe-Stderr") || [];
    var failed = [];
    names.forEach(function (name, i) {
      var status = i < statuses.length ? statuses[i] : "(not reported)";
      var retcode = i < retcodes.length ? retcodes[i] : "(not reported)";
      if (status !== "ok" || retcode !== "0") {
        failed.push({ line: "node " + name + ": exited with retcode " +
          retcode + " (status: " + status + ")",
          stderr: stderrs[i] ? decodeStderr(stderrs[i]) : "" });
      }
    });
    var error = headers.get("X-Nexe-Error");
    if (error) {
      failed.push({ line: "error: " + error, stderr: "" });
    }
    return failed;
  }

  // a job that ran but failed: what failed, set off (each failed node's
  // line, and under it the tail of its stderr), then its output; all of
  // it as text nodes, so markup in what a job wrote shows as written
  function showFailure(failed, text) {
    var out = document.getElementById("output");
    out.className = "failed";
    out.textContent = "";
    failed.forEach(function (f) {
      var line = document.createElement("strong");
      line.className = "failure";
      line.textContent = f.line + "\n";
      out.appendChild(line);
      if (f.stderr) {
        var tail = document.createElement("span");
        tail.className = "stderr";
        tail.textContent = f.stderr.replace(/\r\n/g, "\n")
          .replace(/\n$/, "") + "\n";
        out.appendChild(tail);
      }
    });
    out.appendChild(document.createTextNode(text ? "\n" + text
      : "\n(no output)"));
  }

  async function run(event) {
    event.preventDefault();
    var button = document.getElementById("execute");
    button.disabled = true;
    show("running...", "running");
    try {
      var auth = authOpts();
      var session = await authenticate(auth,
        document.getElementById("password").value);
      var headers = {};
      if (session.token) {
        headers["X-Auth-Token"] = session.token;
      }
      var map = await request("loading boot/system.map", "boot/system.map",
        { headers: headers });
      var job = buildJob(JSON.parse(map.text), session.url);
      headers["X-Zerovm-Execute"] = "1.0";
      headers["Content-Type"] = "application/json";
      var resp = await request("execution", session.url, { method: "POST",
        headers: headers, body: JSON.stringify(job) });
      var failed = failures(resp.headers);
      if (failed === null) {
        throw new Error("the server did not report execution stats: " +
          "its response has no X-Nexe-* headers (is it ZeroCloud?)");
      }
      if (failed.length > 0) {
        showFailure(failed, resp.text);
      } else {
        show(resp.text, "done");
      }
    } catch (err) {
      show("Error: " + (err && err.message ? err.message : String(err)),
        "error");
    } finally {
      button.disabled = false;
    }
  }

  function init() {
    var auth;
    try {
      auth = authOpts();
    } catch (err) {
      show("Error: the page's auth options are not valid JSON", "error");
      return;
    }
    var field = document.getElementById("auth-field");
    if (field && !needsPassword(auth)) {
      field.hidden = true;
    }
    var user = document.getElementById("auth-user");
    if (user) {
      user.textContent = auth.username || "";
    }
    document.getElementById("job-form").addEventListener("submit", run);
  }

  init();
})();
