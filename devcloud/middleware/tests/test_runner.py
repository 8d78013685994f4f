"""Real runs of tiny jobs through the runner, sandboxed with bubblewrap."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

from zerocloud_dev import runner

PY = '/usr/bin/python3'
PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_out_of_process(nodes, conns, workdir, **options):
    """As the middleware runs it: `python3 -m zerocloud_dev.runner`. Not
    in this process: once swift.common.utils is imported (test_middleware)
    logging's lock is an eventlet one, and a fork from a runner thread can
    hang on it."""
    os.makedirs(workdir, exist_ok=True)
    spec = os.path.join(workdir, 'spec.json')
    out = os.path.join(workdir, 'result.json')
    with open(spec, 'w') as f:
        json.dump({'nodes': nodes, 'conns': conns, 'workdir': workdir,
                   'options': options}, f)
    p = subprocess.run([PY, '-m', 'zerocloud_dev.runner', spec, out],
                       env={'PATH': runner.DEFAULT_PATH, 'PYTHONPATH': PKG},
                       stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        raise AssertionError('runner failed: %s' % p.stderr.decode())
    with open(out) as f:
        r = json.load(f)
    return r['total'], r['results']


@unittest.skipUnless(runner.have_bwrap(),
                     'bubblewrap (/usr/bin/bwrap, Debian package bubblewrap) '
                     'is not installed: sandboxed runs not tested')
@unittest.skipUnless(os.path.exists(PY), '/usr/bin/python3 is missing')
class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        os.chmod(self.d, 0o755)

    def tearDown(self):
        shutil.rmtree(self.d)

    def node(self, name, code, *args, **kw):
        root = os.path.join(self.d, name + '.root')
        os.makedirs(root, exist_ok=True)
        out = os.path.join(self.d, name + '.out')
        spec = dict(name=name, program=PY, root=root, stdout=out,
                    argv=['python', '-c', code] + list(args), timeout=20)
        spec.update(kw)
        return spec

    def run_job(self, nodes, conns=(), **options):
        total, res = run_out_of_process(nodes, list(conns),
                                        os.path.join(self.d, 'work'),
                                        **options)
        self.assertGreater(total, 0)
        return res

    def out(self, name):
        with open(os.path.join(self.d, name + '.out')) as f:
            return f.read()

    def test_args_env_and_retcode(self):
        code = ('import os, sys; print(repr(sys.argv[1:])); '
                'print(sorted(os.environ.items())); print(os.getcwd()); '
                'print(open("data.txt").read()); sys.exit(3)')
        n = self.node('a', code, 'x y', 'a,b', env={'GREETING': 'hi there'})
        with open(os.path.join(n['root'], 'data.txt'), 'w') as f:
            f.write('from the image')
        r, = self.run_job([n])
        self.assertEqual(r['status'], 'ok')
        self.assertEqual(r['retcode'], 3)
        lines = self.out('a').splitlines()
        self.assertEqual(lines[0], repr(['x y', 'a,b']))
        env = dict(eval(lines[1]))
        self.assertEqual(env['GREETING'], 'hi there')
        self.assertEqual(env['PATH'], runner.DEFAULT_PATH)
        self.assertNotIn('HOME', env)
        self.assertNotIn('SWIFT_DIR', env)
        self.assertEqual(lines[2], '/zapp')
        self.assertEqual(lines[3], 'from the image')
        self.assertEqual(r['dw'], 1)
        self.assertEqual(r['dbw'], len(self.out('a')))
        self.assertGreaterEqual(r['wall'], 0)
        self.assertGreater(r['sys'] + r['user'], 0)

    def test_stdin_input_output(self):
        src = os.path.join(self.d, 'in.txt')
        with open(src, 'w') as f:
            f.write('hello input\n')
        code = ('import sys; d = sys.stdin.read(); '
                'i = open("/dev/input").read(); '
                'open("/dev/output", "w").write(i.upper()); print(d + "!")')
        outp = os.path.join(self.d, 'o.txt')
        n = self.node('io', code, stdin=src, input=src, output=outp)
        r, = self.run_job([n])
        self.assertEqual((r['status'], r['retcode']), ('ok', 0))
        self.assertEqual(self.out('io'), 'hello input\n!\n')
        with open(outp) as f:
            self.assertEqual(f.read(), 'HELLO INPUT\n')
        self.assertEqual(r['dbr'], 24)
        self.assertEqual(r['dr'], 2)
        self.assertEqual(r['dbw'], 12 + 14)

    def test_timeout(self):
        n = self.node('slow', 'import time; time.sleep(30)', timeout=1)
        r, = self.run_job([n])
        self.assertEqual(r['status'], 'Killed by timeout')
        self.assertLess(r['wall'], 10)

    def test_memory_limit(self):
        n = self.node('fat', 'x = bytearray(400 << 20); print(len(x))',
                      memory=200 << 20)
        r, = self.run_job([n])
        self.assertEqual(r['status'], 'Killed by memory limit')
        self.assertNotEqual(r['retcode'], 0)
        self.assertEqual(self.out('fat'), '')

    def test_no_network(self):
        srv = socket.socket()
        srv.bind(('127.0.0.1', 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        try:
            code = ('import socket\ntry:\n'
                    ' socket.create_connection(("127.0.0.1", %d), timeout=3)\n'
                    ' print("connected")\n'
                    'except OSError as e:\n print("refused", e)\n' % port)
            r, = self.run_job([self.node('net', code)])
        finally:
            srv.close()
        self.assertEqual(r['status'], 'ok')
        self.assertTrue(self.out('net').startswith('refused'),
                        self.out('net'))

    def test_no_host_secrets(self):
        code = ('import os\nfor p in ("/etc/shadow", "/root", "/home", '
                '"/work", "/srv", "/etc/swift/swift.conf"):\n'
                ' try:\n  open(p).read(1) if os.path.isfile(p) else '
                'os.listdir(p); print(p, "readable")\n'
                ' except OSError: print(p, "hidden")\n')
        r, = self.run_job([self.node('sec', code)])
        self.assertEqual(r['status'], 'ok')
        self.assertNotIn('readable', self.out('sec'))

    def test_connected(self):
        a = self.node('A', 'open("/dev/out/B", "w").write("ping " * 1000)')
        b = self.node('B', 'd = open("/dev/in/A").read(); print(len(d), '
                           'd[:10])')
        ra, rb = self.run_job([a, b], [{'src': 'A', 'dst': 'B'}])
        self.assertEqual((ra['status'], rb['status']), ('ok', 'ok'))
        self.assertEqual(self.out('B'), '5000 ping ping \n')
        self.assertEqual(ra['nbw'], 5000)
        self.assertGreaterEqual(ra['nw'], 1)
        self.assertEqual(rb['nbr'], 5000)
        self.assertEqual((ra['nbr'], rb['nbw']), (0, 0))

    def test_unused_channels_do_not_hang(self):
        src = os.path.join(self.d, 'big.txt')
        with open(src, 'wb') as f:
            f.write(b'x' * (1 << 20))
        a = self.node('A', 'print("a")', input=src, stdin=src,
                      output=os.path.join(self.d, 'unused'))
        b = self.node('B', 'print("b")')
        ra, rb = self.run_job([a, b], [{'src': 'A', 'dst': 'B'},
                                       {'src': 'B', 'dst': 'A'}])
        self.assertEqual((ra['status'], rb['status']), ('ok', 'ok'))
        self.assertEqual(self.out('A') + self.out('B'), 'a\nb\n')

    def test_spawn_error(self):
        n = self.node('x', '')
        n['program'] = '/zapp/missing'
        r, = self.run_job([n])
        self.assertTrue(r['status'].startswith('Spawn error'), r['status'])
        self.assertIn('/zapp/missing', r['status'])


if __name__ == '__main__':
    unittest.main()
