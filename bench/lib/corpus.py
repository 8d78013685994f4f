"""Build one shape of the bundle benchmark's corpus (issue 16).

    python3 corpus.py DIR SHAPE

Writes the shape's files under DIR (which must not exist yet) and prints
one line, "files BYTES_TOTAL sha256-of-the-listing", so runs on other
machines can tell whether they bundled the same tree. Real content is
copied from what Debian installs; what cannot be copied is generated from
a fixed seed. Files are copied in sorted order, with a fixed mtime, so the
same packages give the same tree.

Shapes:
  small       10,000 source files under 8 KiB (.py, .pm, .pl, .h, .c,
              .lua, .sh) from python3's dist-packages, /usr/include
              (libc6-dev), perl and lua
  compressed  already-compressed files: /usr/share/doc's .gz, the .png
              under /usr/share and /usr/lib, the .whl of python3-pip-whl,
              the .jar (zip) under /usr/share/java and maven-repo
  random      64 MiB of random bytes (seed 16) in 16 files of 1-8 MiB,
              as encrypted blobs look
  bigtext     one 64 MiB text file: Debian's changelogs (ungzipped) and
              the small shape's sources, concatenated in sorted order and
              repeated
  mix         all of the above in one tree: small, compressed, 24 MiB of
              the random blobs and 16 MiB of big text (the mix of the
              issue: a Python package, a doc tree, random bytes)
"""
import gzip
import hashlib
import os
import random
import sys

MTIME = 1700000000
SMALL_FILES = 10000
SMALL_MAX = 8 * 1024
SMALL_DIRS = ("/usr/lib/python3/dist-packages", "/usr/include",
              "/usr/share/perl", "/usr/share/perl5", "/usr/share/lua",
              "/usr/lib/python3.11", "/usr/lib/x86_64-linux-gnu/perl")
SMALL_EXT = (".py", ".pm", ".pl", ".h", ".c", ".lua", ".sh")
COMPRESSED = (("/usr/share/doc", (".gz",)),
              ("/usr/share", (".png",)),
              ("/usr/lib", (".png",)),
              ("/usr/share/python-wheels", (".whl",)),
              ("/usr/share/java", (".jar", ".zip")),
              ("/usr/share/maven-repo", (".jar", ".zip")))
RANDOM_SEED = 16
RANDOM_MIB = (8, 1, 4, 2, 8, 3, 5, 1, 6, 2, 7, 4, 1, 3, 8, 1)  # 64 MiB
BIGTEXT_MIB = 64
MiB = 1024 * 1024


def walk(top, exts, max_size=None):
    """Regular files (no symlinks) under top ending in exts, sorted."""
    found = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(exts):
                continue
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            if size == 0 or (max_size is not None and size >= max_size):
                continue
            found.append(path)
    return found


def small_sources():
    paths = []
    for top in SMALL_DIRS:
        paths.extend(walk(top, SMALL_EXT, SMALL_MAX))
    if len(paths) < SMALL_FILES:
        sys.exit("corpus: only %d source files under 8 KiB; install "
                 "python3, libc6-dev, perl (apt-get install python3 "
                 "libc6-dev perl)" % len(paths))
    return paths[:SMALL_FILES]


def target(dest, src):
    """dest/<src without its leading '/'>"""
    return os.path.join(dest, src.lstrip("/"))


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    os.utime(dst, (MTIME, MTIME))


def write(dst, data):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as g:
        g.write(data)
    os.utime(dst, (MTIME, MTIME))


def build_small(dest):
    for p in small_sources():
        copy(p, target(dest, p))


def build_compressed(dest):
    seen = set()
    for top, exts in COMPRESSED:
        for p in walk(top, exts):
            if p not in seen:
                seen.add(p)
                copy(p, target(dest, p))
    if not os.path.isdir("/usr/share/python-wheels"):
        sys.exit("corpus: no .whl; apt-get install python3-pip-whl")


def build_random(dest, mib=None):
    rng = random.Random(RANDOM_SEED)
    total = 0
    for i, n in enumerate(RANDOM_MIB):
        if mib is not None and total + n > mib:
            break
        write(os.path.join(dest, "blobs", "blob%02d.bin" % i),
              rng.randbytes(n * MiB))
        total += n


def text_sources():
    """Changelogs, ungzipped, then the small shape's sources."""
    for p in walk("/usr/share/doc", (".gz",)):
        if os.path.basename(p).startswith("changelog"):
            with gzip.open(p, "rb") as f:
                yield f.read()
    for p in small_sources():
        with open(p, "rb") as f:
            yield f.read()


def build_bigtext(dest, mib=BIGTEXT_MIB):
    want = mib * MiB
    parts = []
    have = 0
    while have < want:
        for data in text_sources():
            parts.append(data[:want - have])
            have += len(parts[-1])
            if have >= want:
                break
    write(os.path.join(dest, "text", "big.txt"), b"".join(parts))


def build_mix(dest):
    build_small(dest)
    build_compressed(dest)
    build_random(dest, 24)
    build_bigtext(dest, 16)


SHAPES = {"small": build_small, "compressed": build_compressed,
          "random": build_random, "bigtext": build_bigtext,
          "mix": build_mix}


def listing(dest):
    """File count, bytes and the sha256 of 'path size' lines."""
    h = hashlib.sha256()
    files = 0
    total = 0
    for root, dirs, names in os.walk(dest):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            size = os.path.getsize(path)
            h.update(("%s %d\n" % (os.path.relpath(path, dest), size))
                     .encode())
            files += 1
            total += size
    return files, total, h.hexdigest()[:16]


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in SHAPES:
        sys.exit("usage: corpus.py DIR %s" % "|".join(SHAPES))
    dest, shape = sys.argv[1], sys.argv[2]
    os.makedirs(dest)
    SHAPES[shape](dest)
    print("%d %d %s" % listing(dest))


if __name__ == "__main__":
    main()
