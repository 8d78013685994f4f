-- Deadlines (issue 13): every request ends by an overall deadline, all
-- its attempts and waits together, besides the low-speed window. Servers
-- that accept a connection and never answer, or answer a byte now and
-- then, are a stub's doing (a real server cannot be made to hang so);
-- the slow but steady upload goes to the real Swift through a throttling
-- proxy.
local util = require("support.util")
local servers = require("support.servers")

-- An HTTP/1.1 stub on 127.0.0.1:PORT (argv[1]); prints "ready" once it
-- listens. Routes, by the first path segment:
--   /hang/...           read the request head, answer nothing, ever
--   /drip/...           read the request, then a 200 whose 1 MB body
--                       comes a byte every 0.5 s
--   /dripput/...        GET and HEAD: 404, DELETE: 204; others as /drip
--   /flaky/KEY/N/REST   503 to the first N requests of KEY, then as /ok/REST
--   /ok/...             .../auth/v1.0: 200 with X-Storage-Url (/ok/v1/...)
--                       and X-Auth-Token; PUT: 201 with the body's Etag;
--                       POST: 200; others: 404
--   /slow/RATE/...      a PUT body read at RATE bytes/s, then 201 + Etag
--   /count/KEY          200, body: how many requests KEY has had
local STUB = [==[
import hashlib, socket, sys, threading, time

PORT = int(sys.argv[1])
COUNTS = {}
LOCK = threading.Lock()


def head(f):
    line = f.readline()
    if not line:
        return None
    method, path = line.decode("latin-1").split()[:2]
    headers = {}
    while True:
        h = f.readline().decode("latin-1")
        if h in ("\r\n", "\n", ""):
            break
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    return method, path, headers


def body(f, headers, rate=0):
    out = hashlib.md5()
    n = 0
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            out.update(f.read(size))
            n += size
            f.readline()
        return out.hexdigest(), n
    left = int(headers.get("content-length") or 0)
    while left > 0:
        block = f.read(min(left, 4096 if rate else 65536))
        if not block:
            break
        out.update(block)
        n += len(block)
        left -= len(block)
        if rate:
            time.sleep(len(block) / rate)
    return out.hexdigest(), n


def reply(conn, status, reason, extra=(), data=b""):
    text = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (status, reason,
                                                           len(data))
    for k, v in extra:
        text += "%s: %s\r\n" % (k, v)
    conn.sendall(text.encode() + b"\r\n" + data)


def drip(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while True:
        time.sleep(0.5)
        conn.sendall(b"x")


def serve(conn):
    f = conn.makefile("rb")
    while True:
        req = head(f)
        if req is None:
            return
        method, path, headers = req
        parts = path.split("?")[0].strip("/").split("/")
        route = parts[0]
        if route == "hang":
            while conn.recv(65536):
                pass
            return
        if headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        rate = int(parts[1]) if route == "slow" else 0
        md5, _ = body(f, headers, rate)
        if route == "count":
            with LOCK:
                n = COUNTS.get(parts[1], 0)
            reply(conn, 200, "OK", data=str(n).encode())
            continue
        if route == "flaky":
            key, n = parts[1], int(parts[2])
            with LOCK:
                COUNTS[key] = COUNTS.get(key, 0) + 1
                seen = COUNTS[key]
            if seen <= n:
                reply(conn, 503, "Service Unavailable", data=b"busy")
                continue
            route = "ok"
        if route == "dripput" and method in ("GET", "HEAD"):
            reply(conn, 404, "Not Found")
            continue
        if route == "dripput" and method == "DELETE":
            reply(conn, 204, "No Content")
            continue
        if route in ("drip", "dripput"):
            return drip(conn)
        if path.endswith("/auth/v1.0"):
            reply(conn, 200, "OK", [
                ("X-Storage-Url",
                 "http://127.0.0.1:%d/ok/v1/AUTH_test" % PORT),
                ("X-Auth-Token", "tok"), ("X-Storage-Token", "tok")])
        elif method == "PUT":
            reply(conn, 201, "Created", [("Etag", md5)])
        elif method == "POST":
            reply(conn, 200, "OK", data=b"ran")
        else:
            reply(conn, 404, "Not Found")


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # small buffers, so that a body read slowly moves slowly (loopback
    # would otherwise take megabytes into its buffers at once)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
    s.bind(("127.0.0.1", PORT))
    s.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()
        t = threading.Thread(target=guarded, args=(conn,), daemon=True)
        t.start()


def guarded(conn):
    try:
        serve(conn)
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


main()
]==]

-- A TCP proxy on 127.0.0.1:PORT (argv[1]) to HOST:PORT (argv[2]) that
-- passes what the client sends at RATE bytes/s (argv[3]), the answers at
-- full speed: a slow but steady uplink.
local THROTTLE = [==[
import socket, sys, threading, time

PORT, UP, RATE = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
host, _, up_port = UP.rpartition(":")


def pipe(src, dst, rate):
    try:
        while True:
            data = src.recv(4096 if rate else 65536)
            if not data:
                break
            dst.sendall(data)
            if rate:
                time.sleep(len(data) / rate)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
    s.bind(("127.0.0.1", PORT))
    s.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        u = socket.create_connection((host, int(up_port)))
        threading.Thread(target=pipe, args=(c, u, RATE), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c, 0), daemon=True).start()


main()
]==]

local NO_ENV = { ST_AUTH = "", ST_USER = "", ST_KEY = "", OS_AUTH_URL = "",
                 OS_USERNAME = "", OS_PASSWORD = "", OS_STORAGE_URL = "",
                 OS_AUTH_TOKEN = "", OS_AUTH_VERSION = "",
                 ZPM_LOW_SPEED_TIME = "", ZPM_TIMEOUT = "" }

local function env(extra)
  local e = {}
  for k, v in pairs(NO_ENV) do
    e[k] = v
  end
  for k, v in pairs(extra or {}) do
    e[k] = v
  end
  return e
end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- zpm args with env extra: stdout, stderr, exit code, seconds taken
local function timed(args, extra, cwd)
  local t0 = now()
  local out, err, code = util.zpm(args, { env = env(extra), cwd = cwd })
  return out, err, code, now() - t0
end

local function within(t, lo, hi)
  assert(t >= lo and t < hi, ("took %.2f s, expected %.1f to %.1f s")
    :format(t, lo, hi))
end

-- The one line an expected error prints.
local function one_line(err)
  assert.matches("^Error: [^\n]*\n$", err)
end

local stub_pid, port, base, dir, zapp

describe("deadlines", function()
  setup(function()
    dir = util.tmpdir()
    util.write(dir .. "/stub.py", STUB)
    util.write(dir .. "/throttle.py", THROTTLE)
    port = util.free_port()
    stub_pid = util.spawn({ "/usr/bin/python3", dir .. "/stub.py",
                            tostring(port) })
    base = "http://127.0.0.1:" .. port
    local _, nerr, ncode = util.zpm({ "new", "app" }, { cwd = dir })
    assert(ncode == 0, nerr)
    local _, berr, bcode = util.zpm({ "bundle" }, { cwd = dir .. "/app" })
    assert(bcode == 0, berr)
    zapp = dir .. "/app/app.zapp"
  end)

  teardown(function()
    util.kill(stub_pid)
    util.cleanup()
  end)

  local function auth_args(route, ...)
    return { "auth", "-A", base .. "/" .. route .. "/auth/v1.0", "-U", "u",
             "-K", "k", ... }
  end

  local function preauth(route)
    return "--os-storage-url=" .. base .. "/" .. route .. "/v1/AUTH_test",
           "--os-auth-token=tok"
  end

  describe("auth", function()
    it("an endpoint that never answers: given up on at 30 s, one line",
       function()
      local out, err, code, t = timed(auth_args("hang"))
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: GET " .. base .. "/hang/auth/v1.0: no answer "
        .. "within 30 s (deadline; 3 attempts; --timeout)\n", err)
      within(t, 29.9, 33)
      print(("\n  hung auth endpoint, defaults: %.2f s"):format(t))
    end)

    it("--timeout 3 and ZPM_TIMEOUT=3 change it; the flag wins", function()
      local want = "Error: GET " .. base .. "/hang/auth/v1.0: no answer "
        .. "within 3 s (deadline; 2 attempts; --timeout)\n"
      local _, err, code, t = timed(auth_args("hang", "--timeout", "3"))
      assert.are.equal(1, code)
      assert.are.equal(want, err)
      within(t, 2.9, 4.5)
      print(("\n  hung auth endpoint, --timeout 3: %.2f s"):format(t))
      _, err, code, t = timed(auth_args("hang"), { ZPM_TIMEOUT = "3" })
      assert.are.equal(1, code)
      assert.are.equal(want, err)
      within(t, 2.9, 4.5)
      _, err, code, t = timed(auth_args("hang", "--timeout", "2"),
                              { ZPM_TIMEOUT = "60" })
      assert.are.equal(1, code)
      assert.matches("no answer within 2 s %(deadline", err)
      within(t, 1.9, 3.5)
    end)

    it("a bad --timeout is a usage error, a bad ZPM_TIMEOUT an error",
       function()
      local _, err, code = timed(auth_args("hang", "--timeout", "0"))
      assert.are.equal(2, code)
      assert.matches("zpm: error: %-%-timeout: '0' is not a number of "
        .. "seconds > 0", err)
      _, err, code = timed(auth_args("hang"), { ZPM_TIMEOUT = "soon" })
      assert.are.equal(1, code)
      one_line(err)
      assert.matches("ZPM_TIMEOUT.*'soon'", err)
    end)

    it("an endpoint dripping a byte every 0.5 s ends at the deadline",
       function()
      local out, err, code, t = timed(auth_args("drip", "--timeout", "3"))
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: GET " .. base .. "/drip/auth/v1.0: no "
        .. "complete answer within 3 s (deadline; --timeout)\n", err)
      within(t, 2.9, 4.5)
      print(("\n  dripping auth endpoint, --timeout 3: %.2f s"):format(t))
    end)

    it("retries show at -l info", function()
      local out, err, code = timed(auth_args("flaky/a1/2", "-l", "info"))
      assert.are.equal(0, code, err)
      assert.matches("Auth token: tok", out)
      local url = base .. "/flaky/a1/2/auth/v1.0"
      assert.are.same({
        "INFO: retrying GET " .. url .. " in 1 s (attempt 2 of 6): 503 "
          .. "Service Unavailable",
        "INFO: retrying GET " .. url .. " in 2 s (attempt 3 of 6): 503 "
          .. "Service Unavailable",
        "INFO: authenticated (auth 1.0); storage URL " .. base
          .. "/ok/v1/AUTH_test" }, util.lines(err))
      -- and an attempt timeout
      _, err = timed(auth_args("hang", "--timeout", "3", "-l", "info"))
      assert.are.same({
        "INFO: retrying GET " .. base .. "/hang/auth/v1.0 in 1 s (attempt "
          .. "2 of 6): no answer within 1 s (attempt timeout)",
        "Error: GET " .. base .. "/hang/auth/v1.0: no answer within 3 s "
          .. "(deadline; 2 attempts; --timeout)" }, util.lines(err))
    end)
  end)

  describe("storage", function()
    it("a GET of a dripping server ends at the deadline", function()
      local a, b = preauth("drip")
      local out, err, code, t = timed({ "execute", "app", "--container",
        "c", a, b, "--timeout", "3" })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal("Error: GET " .. base .. "/drip/v1/AUTH_test/c/boot/"
        .. "system.map: no complete answer within 3 s (deadline; "
        .. "--timeout)\n", err)
      within(t, 2.9, 4.5)
      print(("\n  dripping GET, --timeout 3: %.2f s"):format(t))
    end)

    it("a PUT to a dripping server ends at the deadline", function()
      local a, b = preauth("dripput")
      local out, err, code, t = timed({ "deploy", "c", zapp, a, b,
        "--timeout", "3" }, nil, dir)
      assert.are.equal(1, code)
      assert.are.equal("", out)
      one_line(err)
      assert.matches("PUT " .. base:gsub("%p", "%%%0")
        .. "/dripput/v1/AUTH_test/c[^ ]*: no complete answer within 3 s "
        .. "%(deadline; %-%-timeout%)", err)
      within(t, 2.9, 6)
      print(("\n  dripping PUT (deploy), --timeout 3: %.2f s"):format(t))

      -- and through the API, with a body
      local conn = assert(require("zpm").connect({
        os_storage_url = base .. "/drip/v1/AUTH_test", os_auth_token = "t",
        timeout = 2 }))
      local t0 = now()
      local ok, perr = conn:put_object("c", "o", ("x"):rep(200000))
      t = now() - t0
      conn:close()
      assert.is_nil(ok)
      assert.are.equal("PUT " .. base .. "/drip/v1/AUTH_test/c/o: no "
        .. "complete answer within 2 s (deadline; --timeout)", perr)
      within(t, 1.9, 3.5)
    end)

    it("a job POST is never retried once its body was sent", function()
      local a, b = preauth("flaky/j1/3")
      local _, err, code = timed({ "execute", zapp, a, b, "-l", "info" })
      assert.are.equal(1, code)
      assert.is_nil(err:find("retrying", 1, true))
      assert.matches("503 Service Unavailable", err)
      local count = util.sh("curl -s " .. base .. "/count/j1")
      assert.are.equal("1", count)
    end)

    it("a retried PUT is logged at info", function()
      local log = require("zpm.log")
      local lines = {}
      log.set_level("info")
      log.set_handler(function(line)
        if line:find("retrying", 1, true) then
          lines[#lines + 1] = line
        end
      end)
      local conn = assert(require("zpm").connect({
        os_storage_url = base .. "/flaky/p1/1/v1/AUTH_test",
        os_auth_token = "t", starting_backoff = 0.1 }))
      local ok, err = conn:put_object("c", "x.tar", "data")
      conn:close()
      log.set_handler(nil)
      log.set_level("warning")
      assert.is_truthy(ok, err)
      assert.are.same({ "INFO: retrying PUT " .. base .. "/flaky/p1/1/v1/"
        .. "AUTH_test/c/x.tar in 0.1 s (attempt 2 of 6): 503 Service "
        .. "Unavailable" }, lines)
    end)

    it("a slow but steady upload is not cut, however long it takes",
       function()
      -- 6 MiB read at 1 MiB/s: three times the deadline
      local path = dir .. "/random"
      util.sh("dd if=/dev/urandom of=" .. util.quote(path)
              .. " bs=1M count=6 status=none")
      local conn = assert(require("zpm").connect({
        os_storage_url = base .. "/slow/1048576/v1/AUTH_test",
        os_auth_token = "t", timeout = 2 }))
      local t0 = now()
      local ok, err = conn:put_object("c", "big", { file = path })
      local t = now() - t0
      conn:close()
      assert.is_truthy(ok, err)
      within(t, 5, 20)
      print(("\n  6 MiB upload at 1 MiB/s, timeout 2 s: %.2f s, not cut")
        :format(t))
    end)

    it("a deploy to the real Swift on a slow uplink is not cut", function()
      local sw = servers.swift()
      local out, err, code = util.zpm({ "auth", "-A", sw.ST_AUTH, "-U",
        sw.ST_USER, "-K", sw.ST_KEY }, { env = env() })
      assert(code == 0, err)
      local token = out:match("Auth token: (%S+)")
      -- a project whose tar is 4 MiB of random data (bundled as *.py)
      util.zpm({ "new", "big" }, { cwd = dir })
      util.sh("sh -c " .. util.quote("head -c 3145728 /dev/urandom | "
              .. "base64 -w 76 > " .. util.quote(dir .. "/big/data.py")))
      local _, berr, bcode = util.zpm({ "bundle" }, { cwd = dir .. "/big" })
      assert(bcode == 0, berr)
      local upstream, path = sw.SWIFT_STORAGE_URL:match("^%a+://([^/]+)(.*)$")
      local pport = util.free_port()
      local pid = util.spawn({ "/usr/bin/python3", dir .. "/throttle.py",
                               tostring(pport), upstream, "1048576" })
      local c = ("deadline-%d"):format(os.time())
      local _, derr, dcode, t = timed({ "deploy", c, dir .. "/big/big.zapp",
        "--os-storage-url", "http://127.0.0.1:" .. pport .. path,
        "--os-auth-token", token, "--timeout", "2" })
      util.kill(pid)
      assert.are.equal(0, dcode, derr)
      within(t, 3, 30)
      print(("\n  deploy of a 4 MiB tar at 1 MiB/s, --timeout 2: %.2f s, "
        .. "not cut"):format(t))
    end)
  end)
end)
