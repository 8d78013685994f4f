"""A small HTTP/1.1 stub for the zpm.core.http specs.

Usage: http_stub.py PORTFILE -- listens on 127.0.0.1 on a free port and
writes the port number to PORTFILE once it accepts connections.

Routes (any method unless noted):
  /bytes/N            200 with N bytes: i % 251 for byte i
  /echo               200 echoing the request body; X-Body-Md5,
                      X-Body-Length, X-Method, X-Chunked describe it
  /headers            200, body: the request headers, "Name: value" lines
  /status/NNN         status NNN, body "status NNN"
  /flaky/KEY/N[?ra=S] 503 (with Retry-After: S) for the first N requests
                      with that KEY, then 200 "ok"
  /dup                200 with X-Dup twice and two Set-Cookie headers
  /big-error          500 with a 100 KiB body
  /sleep/S            waits S seconds, then 200
"""
import hashlib
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

FLAKY = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts), True
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length), False

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        body, chunked = self.read_body()
        route = parts[0]
        if route == "bytes":
            n = int(parts[1])
            block = bytes(i % 251 for i in range(251 * 64))
            data = (block * (n // len(block) + 1))[:n]
            self.reply(200, data)
        elif route == "echo":
            self.reply(200, body, [
                ("X-Body-Md5", hashlib.md5(body).hexdigest()),
                ("X-Body-Length", str(len(body))),
                ("X-Method", self.command),
                ("X-Chunked", "yes" if chunked else "no")])
        elif route == "headers":
            text = "".join("%s: %s\n" % kv for kv in self.headers.items())
            self.reply(200, text.encode())
        elif route == "status":
            code = int(parts[1])
            self.reply(code, ("status %d" % code).encode())
        elif route == "flaky":
            key, n = parts[1], int(parts[2])
            with LOCK:
                seen = FLAKY.get(key, 0)
                FLAKY[key] = seen + 1
            if seen < n:
                extra = [("Retry-After", query["ra"][0])] if "ra" in query \
                    else []
                self.reply(503, b"busy", extra)
            else:
                self.reply(200, b"ok")
        elif route == "dup":
            self.reply(200, b"dup", [
                ("X-Dup", "a"), ("X-Dup", "b"),
                ("Set-Cookie", "one=1"), ("Set-Cookie", "two=2")])
        elif route == "big-error":
            self.reply(500, b"E" * (100 * 1024))
        elif route == "peer":
            # the client's port: which connection carried the request
            self.reply(200, str(self.client_address[1]).encode())
        elif route == "sleep":
            time.sleep(float(parts[1]))
            self.reply(200, b"slept")
        else:
            self.reply(404, b"no such route")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
