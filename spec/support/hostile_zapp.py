#!/usr/bin/env python3
"""Write a zapp (a .tar.gz) with one hostile member, for the specs.

Usage: hostile_zapp.py OUT KIND
KIND: dotdot (../escape.txt), absolute (/tmp/abs.txt), symlink (a link to
/etc/passwd), device (a character device), hugesize (a header declaring
far more data than the archive holds).
"""
import io
import json
import sys
import tarfile

JOB = [{"name": "main", "exec": {"path": "file://python3:python",
                                 "args": "main.py"},
        "devices": [{"name": "python3"}, {"name": "stdout"}]}]
ZAPP_YAML = ("execution:\n  groups:\n  - {name: main, path: "
             "'file://python3:python', args: main.py}\nmeta: {name: evil}\n"
             "ui: ['*']\n")


def add(tar, name, data=b"", **attrs):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def main():
    out, kind = sys.argv[1], sys.argv[2]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "boot/system.map", json.dumps(JOB).encode())
        add(tar, "zapp.yaml", ZAPP_YAML.encode())
        add(tar, "main.py", b"print('ran')\n")
        if kind == "dotdot":
            add(tar, "../escape.txt", b"escaped\n")
        elif kind == "absolute":
            add(tar, "/tmp/abs.txt", b"absolute\n")
        elif kind == "symlink":
            add(tar, "passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        elif kind == "device":
            add(tar, "null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        end = tar.offset            # where the end-of-archive blocks go
    data = bytearray(raw.getvalue())
    if kind == "hugesize":
        # a last member whose header claims 8 GiB that are not there
        info = tarfile.TarInfo("huge.bin")
        info.size = 8 << 30
        header = info.tobuf(format=tarfile.GNU_FORMAT)
        data[end:end] = header
    import gzip
    with open(out, "wb") as f:
        f.write(gzip.compress(bytes(data), mtime=0))


if __name__ == "__main__":
    main()
