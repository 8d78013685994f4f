#!/usr/bin/python3
"""Inputs of bench/zerocloud: a small zapp image, the jobs, the input parts.

    zerocloud_jobs.py DIR NODES

writes into DIR:
  image/                 the image's files: boot/system.map, hello.py and
                         lib/data.bin (64 KiB), so that each node has a
                         real (small) image to unpack and mount
  hello.tar              that image as an uncompressed tar (what
                         `zpm deploy` stores), deployed as
                         swift://~/zc-bench/hello.zapp
  hello.json             1 node: file://python3:python3 -c 'print("hello")'
                         with the image
  mapreduce.json         NODES mappers (one per in/part-NN.txt, wildcard
                         input, each with the image) connected to 1 reducer
                         that sums what arrives on /dev/in/*
  mapreduce-noimage.json the same without the image device
  parts/part-NN.txt      the inputs: part NN holds the number NN
  zapp/                  a project for `zpm bundle` (the hello job as
                         zapp.yaml), for `zpm execute` of a local zapp
  expected-*.txt         what each job prints

The programs are `-c` code of the python3 system image: they read nothing
from the image and name no path in it, so the same jobs run whether the
image is mounted at /zapp or is the node's root.
"""
import io
import json
import os
import sys
import tarfile

IMAGE_PATH = 'swift://~/zc-bench/hello.zapp'
INPUT_PATH = 'swift://~/zc-bench/in/part-*.txt'


def esc(word):
    """zpm's escaping of one argument: backslash, quote, comma, space,
    newline as \\xNN (the middleware splits args on single spaces)."""
    return ''.join('\\x%02x' % ord(c) if c in '\\", \n' else c
                   for c in word)


def args(*words):
    return ' '.join(esc(w) for w in words)


HELLO = 'print("hello")'
MAP = ('s=sum(int(w) for w in open("/dev/input").read().split())\n'
       'open("/dev/out/reducer","w").write("%d\\n"%s)')
REDUCE = ('import glob\n'
          'f=sorted(glob.glob("/dev/in/*"))\n'
          'print("sum=%d parts=%d"%(sum(int(open(p).read()) for p in f),'
          'len(f)))')


def image_dev():
    return {'name': 'image', 'path': IMAGE_PATH}


def hello_job():
    return [{'name': 'hello',
             'exec': {'path': 'file://python3:python3',
                      'args': args('-c', HELLO)},
             'devices': [{'name': 'python3'}, {'name': 'stdout'},
                         image_dev()]}]


def mapreduce_job(with_image):
    extra = [image_dev()] if with_image else []
    return [{'name': 'mapper',
             'exec': {'path': 'file://python3:python3',
                      'args': args('-c', MAP)},
             'devices': [{'name': 'python3'},
                         {'name': 'input', 'path': INPUT_PATH}] + extra,
             'connect': ['reducer']},
            {'name': 'reducer',
             'exec': {'path': 'file://python3:python3',
                      'args': args('-c', REDUCE)},
             'devices': [{'name': 'python3'}, {'name': 'stdout'}] + extra}]


def main():
    out, nodes = sys.argv[1], int(sys.argv[2])
    os.makedirs(os.path.join(out, 'parts'), exist_ok=True)
    files = {
        'boot/system.map': json.dumps(hello_job(), indent=1).encode(),
        'hello.py': b'print("hello")\n',
        # fixed pseudo-random bytes: some content to unpack per node
        'lib/data.bin': bytes((i * 2654435761 >> 13) & 0xff
                              for i in range(65536)),
    }
    with tarfile.open(os.path.join(out, 'hello.tar'), 'w',
                      format=tarfile.USTAR_FORMAT) as tar:
        for name in ('boot', 'lib'):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    jobs = {'hello.json': hello_job(),
            'mapreduce.json': mapreduce_job(True),
            'mapreduce-noimage.json': mapreduce_job(False)}
    for name, job in jobs.items():
        with open(os.path.join(out, name), 'w') as f:
            json.dump(job, f)
    for i in range(1, nodes + 1):
        with open(os.path.join(out, 'parts', 'part-%02d.txt' % i), 'w') as f:
            f.write('%d\n' % i)
    with open(os.path.join(out, 'expected-hello.txt'), 'w') as f:
        f.write('hello\n')
    with open(os.path.join(out, 'expected-mapreduce.txt'), 'w') as f:
        f.write('sum=%d parts=%d\n' % (nodes * (nodes + 1) // 2, nodes))
    # the hello job as a project: `zpm bundle` then `zpm execute hello.zapp`
    # (the zapp is POSTed with the request and is every node's image)
    zapp = os.path.join(out, 'zapp')
    os.makedirs(os.path.join(zapp, 'lib'), exist_ok=True)
    for name in ('hello.py', 'lib/data.bin'):
        with open(os.path.join(zapp, name), 'wb') as f:
            f.write(files[name])
    with open(os.path.join(zapp, 'zapp.yaml'), 'w') as f:
        f.write('execution:\n'
                '  groups:\n'
                '  - name: hello\n'
                '    path: file://python3:python3\n'
                '    args: -c \'%s\'\n'
                '    devices:\n'
                '    - name: python3\n'
                '    - name: stdout\n'
                'meta: {name: hello}\n'
                'bundling: [hello.py, lib]\n' % HELLO)


if __name__ == '__main__':
    main()
