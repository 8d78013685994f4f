"""Generate a deterministic project of mixed text and binary files.

    python3 gen_project.py DIR SIZE_MIB

About 55% source/English-like text, 30% compressible binary (records of
small integers, repeated tables with noise), 15% random bytes, in files
of 1 KiB to 4 MiB spread over nested directories.
"""
import os
import random
import struct
import sys

WORDS = ("the of and to in is that for it as was with be by on not he "
         "this are or his from at which but have an they you were her "
         "all she there would their we him been has when who will more "
         "archive bundle deploy zapp swift object container token node "
         "channel stdin stdout image python execute summary").split()
CODE = ["local {a} = require(\"{b}\")",
        "function M.{a}({b}, {c})",
        "  if {a} == nil then return nil, \"{b} {c}\" end",
        "  for i = 1, #{a} do {b}[i] = {c}[i] end",
        "def {a}(self, {b}, {c}=None):",
        "    return self.{a}.get({b}, {c})",
        "static int {a}(struct {b} *{c}, size_t len)",
        "  {a}->{b} = {c}; /* {a} {b} */",
        "end", "}}", "", "    pass"]


def text_pool(rng, n):
    lines = []
    for _ in range(n):
        if rng.random() < 0.5:
            k = rng.randint(3, 14)
            lines.append(" ".join(rng.choice(WORDS) for _ in range(k))
                         .capitalize() + ".")
        else:
            a, b, c = (rng.choice(WORDS) + str(rng.randint(0, 99))
                       for _ in range(3))
            lines.append(rng.choice(CODE).format(a=a, b=b, c=c))
    return lines


def text_data(rng, pool, size):
    out = []
    total = 0
    while total < size:
        chunk = "\n".join(rng.choices(pool, k=512)) + "\n"
        out.append(chunk)
        total += len(chunk)
    return "".join(out).encode()[:size]


def binary_data(rng, size):
    out = bytearray()
    table = bytes(rng.getrandbits(8) for _ in range(4096))
    while len(out) < size:
        if rng.random() < 0.5:
            base = rng.randint(0, 1 << 20)
            out += struct.pack("<256I", *(base + rng.randint(0, 300)
                                          for _ in range(256)))
        else:
            noisy = bytearray(table)
            for _ in range(64):
                noisy[rng.randrange(4096)] = rng.getrandbits(8)
            out += noisy
    return bytes(out[:size])


def main():
    root, mib = sys.argv[1], int(sys.argv[2])
    rng = random.Random(mib * 7919)
    pool = text_pool(rng, 20000)
    budget = mib * 1024 * 1024
    written = 0
    n = 0
    while written < budget:
        kind = rng.random()
        size = min(int(rng.lognormvariate(11.0, 1.4)) + 1024, 4 << 20,
                   budget - written)
        d = os.path.join(root, "dir%02d" % rng.randrange(12),
                         "sub%d" % rng.randrange(4))
        os.makedirs(d, exist_ok=True)
        if kind < 0.55:
            name, data = "file%05d.txt" % n, text_data(rng, pool, size)
        elif kind < 0.85:
            name, data = "data%05d.bin" % n, binary_data(rng, size)
        else:
            name, data = "blob%05d.dat" % n, rng.randbytes(size)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        written += size
        n += 1
    print("%s: %d files, %d bytes" % (root, n, written))


main()
