"""A Swift proxy filter for spec/cloud/bulk_spec.lua: faults of the bulk
middleware's work that a real Swift cannot be made to show on demand.

In the pipeline after the auth middleware (swift-aio --filter), so it sees
the object PUTs the bulk middleware makes for each tar member (their
swift.source is "EA") as well as the client's own:

- a PUT from the bulk middleware of an object whose name holds
  "fail-in-bulk" gets 503 (the same object PUT by itself is stored);
- any PUT of an object whose name holds "fail-always" gets 400;
- GET /info leaves out "bulk_upload" while the file named by the
  filter's `hide_bulk_file` setting exists (the cluster then announces no
  bulk middleware, though it still has one).
"""
import json
import os


class BulkFault(object):
    def __init__(self, app, conf):
        self.app = app
        self.hide_bulk_file = conf.get("hide_bulk_file", "")

    def _answer(self, start_response, status, text):
        body = text.encode("utf-8")
        start_response(status, [("Content-Type", "text/plain"),
                                ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, env, start_response):
        path = env.get("PATH_INFO", "")
        method = env.get("REQUEST_METHOD", "")
        if method == "PUT" and path.count("/") >= 4:
            if "fail-always" in path:
                return self._answer(start_response, "400 Bad Request",
                                    "refused by bulk_fault")
            if "fail-in-bulk" in path and env.get("swift.source") == "EA":
                return self._answer(start_response,
                                    "503 Service Unavailable",
                                    "bulk_fault: not from a bulk request")
        if (path == "/info" and self.hide_bulk_file
                and os.path.exists(self.hide_bulk_file)):
            return self._info_without_bulk(env, start_response)
        return self.app(env, start_response)

    def _info_without_bulk(self, env, start_response):
        got = {}

        def capture(status, headers, exc_info=None):
            got["status"], got["headers"] = status, headers

        body = b"".join(self.app(env, capture))
        if got["status"].startswith("200"):
            info = json.loads(body)
            info.pop("bulk_upload", None)
            body = json.dumps(info).encode("utf-8")
        headers = [(k, v) for k, v in got["headers"]
                   if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(got["status"], headers)
        return [body]


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf, **local_conf)

    def factory(app):
        return BulkFault(app, conf)
    return factory
