#!/usr/bin/env python3
"""Write a minimal pure-Python wheel, for offline dependency tests.

Usage: make_wheel.py OUTDIR DIST VERSION FILE=CONTENT...
e.g.   make_wheel.py /tmp/w demo-pkg 1.0 demopkg/__init__.py='X = 1'
"""
import base64
import hashlib
import os
import sys
import zipfile


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def main():
    outdir, dist, version = sys.argv[1:4]
    files = dict(arg.split("=", 1) for arg in sys.argv[4:])
    name = dist.replace("-", "_")
    info = "%s-%s.dist-info" % (name, version)
    files[info + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\n"
                                 "Version: %s\n" % (dist, version))
    files[info + "/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: zpm-tests\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n")
    path = os.path.join(outdir, "%s-%s-py3-none-any.whl" % (name, version))
    record = []
    with zipfile.ZipFile(path, "w") as whl:
        for member, text in sorted(files.items()):
            data = text.encode()
            whl.writestr(member, data)
            record.append("%s,%s,%d" % (member, record_hash(data), len(data)))
        record.append(info + "/RECORD,,")
        whl.writestr(info + "/RECORD", "\n".join(record) + "\n")
    print(path)


if __name__ == "__main__":
    main()
