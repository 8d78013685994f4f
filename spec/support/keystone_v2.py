#!/usr/bin/python3
"""A minimal Keystone v2.0 token service for zpm's tests.

Keystone v2.0 is gone from every Debian Keystone, but zpm still speaks it.
This server answers POST /v2.0/tokens the way Keystone v2.0 did, backed by
a real Swift tempauth: tenant T, user U, password P become the tempauth
user "T:U" with key P. The token and the object-store endpoint in the
catalog are the ones tempauth returns, so a v2 client ends up doing real
Swift operations.

Usage: keystone_v2.py PORT ST_AUTH  (binds 127.0.0.1 only)
"""
import json
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    st_auth = None

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.rstrip("/") in ("", "/v2.0"):
            self.reply(200, {"version": {"id": "v2.0", "status": "stable"}})
        else:
            self.reply(404, {"error": {"code": 404, "message": "not found"}})

    def do_POST(self):
        if self.path.rstrip("/") != "/v2.0/tokens":
            self.reply(404, {"error": {"code": 404, "message": "not found"}})
            return
        length = int(self.headers.get("Content-Length", "0"))
        try:
            auth = json.loads(self.rfile.read(length))["auth"]
            creds = auth["passwordCredentials"]
            tenant = auth.get("tenantName") or auth.get("tenantId")
            user, password = creds["username"], creds["password"]
        except (ValueError, KeyError, TypeError):
            self.reply(400, {"error": {"code": 400,
                                       "message": "malformed request"}})
            return
        req = urllib.request.Request(self.st_auth, headers={
            "X-Auth-User": "%s:%s" % (tenant, user),
            "X-Auth-Key": password})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                token = resp.headers["X-Auth-Token"]
                url = resp.headers["X-Storage-Url"]
        except urllib.error.HTTPError:
            self.reply(401, {"error": {"code": 401,
                                       "message": "Invalid user / password",
                                       "title": "Unauthorized"}})
            return
        endpoint = {"region": "RegionOne", "publicURL": url,
                    "internalURL": url, "adminURL": url}
        self.reply(200, {"access": {
            "token": {"id": token, "expires": "2099-01-01T00:00:00Z",
                      "tenant": {"id": tenant, "name": tenant}},
            "serviceCatalog": [
                {"type": "identity", "name": "keystone", "endpoints": []},
                {"type": "object-store", "name": "swift",
                 "endpoints": [endpoint]}],
            "user": {"id": user, "name": user, "roles": []}}})


def main():
    port, st_auth = int(sys.argv[1]), sys.argv[2]
    Handler.st_auth = st_auth
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
