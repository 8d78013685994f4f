"""An HTTP-aware fault-injecting TCP proxy for the zpm fault specs.

Usage: fault_proxy.py --upstream HOST:PORT --port P --control-port C

Listens on 127.0.0.1:P and forwards each HTTP/1.1 request to the upstream
(the real Swift proxy) on a fresh upstream connection, streaming bodies
both ways in 64 KiB blocks (nothing is buffered whole). Client connections
are kept alive. Prints "ready P C" on stdout once both ports listen.

The upstream's host:port in the response headers X-Storage-Url and
Location is rewritten to the proxy's, so a v1 auth through the proxy
sends the following storage requests through it too.

Control endpoint, 127.0.0.1:C (JSON bodies):
  POST   /rules   a rule or a list of rules, appended (see below)
  DELETE /rules   drop every rule and reopen the listener if it was closed
  GET    /rules   the rules still pending
  GET    /log     every request seen: [{method, path, fault}] (fault is
                  null when the request was passed through)
  DELETE /log     clear the log

A rule: {"fault": F, "method": "PUT" (default any), "path": a Python
regular expression searched in the request target (default any),
"count": N (default 1; the rule applies to the next N matching requests,
then is dropped), and the fault's arguments}. The first pending rule that
matches a request applies. Faults:
  refuse             reset each of the next N connections right after
                     accept (method and path are not known yet: they are
                     ignored); with "close": true, close the listening
                     socket instead (connection refused) until
                     DELETE /rules
  reset_after_bytes  forward the request, and reset the client connection
                     after "bytes" request-body bytes (payload bytes;
                     chunk framing is not counted)
  status             answer "status" (503, 500, 401...) without forwarding;
                     "retry_after" adds a Retry-After header
  stall              read the request, send nothing for "seconds", close
  truncate_response  forward, send the response headers unchanged
                     (Content-Length kept), then only "keep" body bytes
                     (default: half), then close
  bad_etag           forward, replacing the response's Etag with "etag"
                     (default 32 zeros)
"""
import argparse
import json
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = 64 * 1024
LOCK = threading.Lock()
RULES = []
LOG = []
STATE = {"listener": None, "closed": False}
ARGS = None


class Closed(Exception):
    """The client went away: stop serving this connection."""


def take_rule(method, path, at_accept=False):
    """The first pending rule matching, consumed once (or None)."""
    with LOCK:
        for rule in RULES:
            if at_accept != (rule["fault"] == "refuse"):
                continue
            if not at_accept:
                if rule.get("method") not in (None, "*", method):
                    continue
                if not re.search(rule.get("path") or "", path):
                    continue
            rule["count"] = rule.get("count", 1) - 1
            if rule["count"] <= 0:
                RULES.remove(rule)
            return dict(rule)
    return None


def log(method, path, fault):
    with LOCK:
        LOG.append({"method": method, "path": path, "fault": fault})


def reset(sock):
    """Close with RST (SO_LINGER 0) rather than FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class Reader:
    """Buffered reads on a socket: lines and counted blocks."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(BLOCK)
        if not data:
            raise Closed()
        self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > BLOCK:
                raise Closed()
            self.fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def some(self, limit):
        if not self.buf:
            self.fill()
        out, self.buf = self.buf[:limit], self.buf[limit:]
        return out

    def head(self):
        """Start line and header list [(name, value)], or None at EOF."""
        try:
            start = self.line()
        except Closed:
            return None
        while start in (b"\r\n", b"\n"):
            start = self.line()
        headers = []
        while True:
            line = self.line()
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        return start.decode("latin-1").rstrip("\r\n"), headers


def get(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def without(headers, *names):
    low = [n.lower() for n in names]
    return [(k, v) for k, v in headers if k.lower() not in low]


def encode_head(start, headers):
    lines = [start] + ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def body_pieces(reader, headers, until_eof=False):
    """Yield (raw bytes, payload byte count) of a message body, read as
    framed by its headers."""
    if (get(headers, "Transfer-Encoding") or "").lower() == "chunked":
        while True:
            size_line = reader.line()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            yield size_line, 0
            if size == 0:
                while True:
                    trailer = reader.line()
                    yield trailer, 0
                    if trailer in (b"\r\n", b"\n"):
                        return
            left = size
            while left > 0:
                data = reader.some(min(left, BLOCK))
                left -= len(data)
                yield data, len(data)
            yield reader.line(), 0
    elif get(headers, "Content-Length") is not None:
        left = int(get(headers, "Content-Length"))
        while left > 0:
            data = reader.some(min(left, BLOCK))
            left -= len(data)
            yield data, len(data)
    elif until_eof:
        while True:
            try:
                data = reader.some(BLOCK)
            except Closed:
                return
            yield data, len(data)


def rewrite_location(headers):
    """Point X-Storage-Url and Location at the proxy, not the upstream."""
    up = "%s:%d" % ARGS.upstream_addr
    me = "127.0.0.1:%d" % ARGS.port
    out = []
    for k, v in headers:
        if k.lower() in ("x-storage-url", "location"):
            v = v.replace("//" + up + "/", "//" + me + "/")
        out.append((k, v))
    return out


def send_status(client, reader, method, headers, status, extra=()):
    """Answer status without forwarding; drain the body unless the
    client waits for 100-continue (then close instead)."""
    expect = (get(headers, "Expect") or "").lower() == "100-continue"
    has_body = (get(headers, "Content-Length") not in (None, "0")
                or get(headers, "Transfer-Encoding") is not None)
    if has_body and not expect:
        for _ in body_pieces(reader, headers):
            pass
    body = ("fault proxy: %d\n" % status).encode()
    reply = [("Content-Length", str(len(body))),
             ("Content-Type", "text/plain")] + list(extra)
    close = has_body and expect
    if close:
        reply.append(("Connection", "close"))
    reason = {401: "Unauthorized", 500: "Internal Server Error",
              503: "Service Unavailable"}.get(status, "Fault")
    client.sendall(encode_head("HTTP/1.1 %d %s" % (status, reason), reply)
                   + (b"" if method == "HEAD" else body))
    if close:
        raise Closed()


def forward(client, reader, method, target, version, headers, rule):
    """Forward one request upstream and relay the response; applies the
    reset_after_bytes, truncate_response and bad_etag faults."""
    fault = rule["fault"] if rule else None
    upstream = socket.create_connection(ARGS.upstream_addr)
    try:
        up_reader = Reader(upstream)
        expect = (get(headers, "Expect") or "").lower() == "100-continue"
        out = without(headers, "Expect", "Connection", "Keep-Alive",
                      "Proxy-Connection")
        out.append(("Connection", "close"))
        upstream.sendall(encode_head("%s %s %s" % (method, target, version),
                                     out))
        if expect:
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        sent = 0
        for raw, n in body_pieces(reader, headers):
            if fault == "reset_after_bytes" and sent + n >= rule["bytes"]:
                upstream.sendall(raw[:max(0, rule["bytes"] - sent)])
                reset(client)
                raise Closed()
            upstream.sendall(raw)
            sent += n
        while True:
            head = up_reader.head()
            if head is None:
                raise Closed()
            start, rheaders = head
            code = int(start.split()[1])
            if code >= 200 or code == 101:
                break
            # an interim response of the upstream's own: not relayed
        rheaders = rewrite_location(rheaders)
        if fault == "bad_etag":
            rheaders = [(k, rule.get("etag", "0" * 32)
                         if k.lower() == "etag" else v) for k, v in rheaders]
        no_body = method == "HEAD" or code in (204, 304)
        framed = (get(rheaders, "Content-Length") is not None
                  or (get(rheaders, "Transfer-Encoding") or "").lower()
                  == "chunked")
        client.sendall(encode_head(start, without(
            rheaders, "Connection", "Keep-Alive")
            + ([] if framed or no_body else [("Connection", "close")])))
        if no_body:
            return True
        keep = None
        if fault == "truncate_response":
            length = get(rheaders, "Content-Length")
            keep = rule.get("keep", int(length) // 2 if length else 0)
        given = 0
        for raw, n in body_pieces(up_reader, rheaders, until_eof=True):
            if keep is not None and given + len(raw) >= keep:
                client.sendall(raw[:keep - given])
                raise Closed()
            client.sendall(raw)
            given += len(raw)
        if keep is not None:
            raise Closed()
        return framed
    finally:
        upstream.close()


def serve(client):
    reader = Reader(client)
    try:
        while True:
            head = reader.head()
            if head is None:
                return
            start, headers = head
            method, target, version = start.split(" ", 2)
            rule = take_rule(method, target)
            fault = rule["fault"] if rule else None
            log(method, target, fault)
            if fault == "status":
                extra = []
                if rule.get("retry_after") is not None:
                    extra.append(("Retry-After", str(rule["retry_after"])))
                send_status(client, reader, method, headers,
                            int(rule["status"]), extra)
                continue
            if fault == "stall":
                time.sleep(float(rule.get("seconds", 10)))
                return
            if not forward(client, reader, method, target, version, headers,
                           rule):
                return
            if (get(headers, "Connection") or "").lower() == "close":
                return
    except (Closed, OSError, ValueError, IndexError):
        return
    finally:
        try:
            client.close()
        except OSError:
            pass


def listen():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", ARGS.port))
    sock.listen(64)
    return sock


def accept_loop():
    while True:
        sock = STATE["listener"]
        if sock is None:
            time.sleep(0.05)
            continue
        try:
            client, _ = sock.accept()
        except OSError:
            continue        # closed by a "refuse"/"close" rule
        rule = take_rule(None, None, at_accept=True)
        if rule is not None:
            log(None, None, "refuse")
            reset(client)
            continue
        threading.Thread(target=serve, args=(client,), daemon=True).start()


def close_listener():
    with LOCK:
        sock, STATE["listener"] = STATE["listener"], None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, value=None):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            if self.path == "/rules":
                return self.reply(200, RULES)
            if self.path == "/log":
                return self.reply(200, LOG)
        self.reply(404, "no such path")

    def do_POST(self):
        if self.path != "/rules":
            return self.reply(404, "no such path")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            rules = json.loads(self.rfile.read(length))
        except ValueError as e:
            return self.reply(400, str(e))
        if isinstance(rules, dict):
            rules = [rules]
        closing = False
        with LOCK:
            for rule in rules:
                if rule.get("fault") == "refuse" and rule.get("close"):
                    closing = True
                else:
                    rule.setdefault("count", 1)
                    RULES.append(rule)
        if closing:
            close_listener()
        self.reply(200, True)

    def do_DELETE(self):
        if self.path == "/rules":
            with LOCK:
                del RULES[:]
            if STATE["listener"] is None:
                STATE["listener"] = listen()
            return self.reply(200, True)
        if self.path == "/log":
            with LOCK:
                del LOG[:]
            return self.reply(200, True)
        self.reply(404, "no such path")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True, help="HOST:PORT")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control-port", type=int, required=True)
    ARGS = p.parse_args()
    host, _, port = ARGS.upstream.rpartition(":")
    ARGS.upstream_addr = (host, int(port))
    STATE["listener"] = listen()
    control = ThreadingHTTPServer(("127.0.0.1", ARGS.control_port), Control)
    control.daemon_threads = True
    threading.Thread(target=accept_loop, daemon=True).start()
    print("ready %d %d" % (ARGS.port, ARGS.control_port), flush=True)
    control.serve_forever()


if __name__ == "__main__":
    main()
