"""Real runs of tiny jobs through the runner, sandboxed with bubblewrap."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
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
        self.assertEqual(env['HOME'], '/')
        self.assertNotIn('SWIFT_DIR', env)
        self.assertEqual(lines[2], '/')
        self.assertEqual(lines[3], 'from the image')
        self.assertEqual(r['dw'], 1)
        self.assertEqual(r['dbw'], len(self.out('a')))
        self.assertGreaterEqual(r['wall'], 0)
        self.assertGreater(r['sys'] + r['user'], 0)
        self.assertEqual(r['stderr_tail'], '')
        # exec.env's HOME wins
        n = self.node('h', 'import os; print(os.environ["HOME"])',
                      env={'HOME': '/home/me'})
        r, = self.run_job([n])
        self.assertEqual(self.out('h'), '/home/me\n')

    def write(self, root, rel, text):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'w') as f:
            f.write(text)

    def test_image_is_the_root(self):
        """The image is /: a script at /hello.py, cwd /, writes to /
        (also seen at /zapp), the host's python from /usr."""
        n = self.node('r', '')
        n['argv'] = ['python', '/hello.py']
        self.write(n['root'], 'hello.py',
                   'import os, subprocess\n'
                   'print(os.getcwd(), open("data.txt").read())\n'
                   'open("/out.txt", "w").write("written to /")\n'
                   'print(open("/zapp/out.txt").read())\n'
                   'open("/zapp/z.txt", "w").write("and to /zapp")\n'
                   'print(open("/z.txt").read())\n'
                   'print(sorted(x for x in os.listdir("/zapp") '
                   'if x.endswith((".py", ".txt"))))\n'
                   'import sys; sys.stdout.flush()\n'
                   'subprocess.run(["/usr/bin/python3", "-c", '
                   '"print(6 * 7)"], check=True)\n')
        self.write(n['root'], 'data.txt', 'the data')
        r, = self.run_job([n])
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('r').splitlines(), [
            '/ the data', 'written to /', 'and to /zapp',
            "['data.txt', 'hello.py', 'out.txt', 'z.txt']", '42'])
        if r['mechanisms']['disk'] == 'tmpfs':
            # the overlay: the image directory on the host is untouched
            self.assertEqual(sorted(os.listdir(n['root'])),
                             ['data.txt', 'hello.py'])

    def test_empty_root(self):
        """A node without an image (a system image's program): an empty
        root with the host's system directories."""
        n = self.node('e', 'import os; print(os.getcwd(), sorted(x for x in '
                      'os.listdir("/") if x not in ("bin", "lib", "lib32", '
                      '"lib64", "libx32", "sbin")))')
        r, = self.run_job([n])
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('e'), "/ ['dev', 'etc', 'proc', 'tmp', "
                         "'usr', 'zapp']\n")

    def test_image_with_system_names(self):
        """The image's own etc/, lib/, usr/, tmp/, dev/, proc/: the
        host's win at /, the image's are under /zapp; a file or foreign
        link where the host has a directory is dropped."""
        n = self.node('s', '')
        root = n['root']
        for rel in ('etc/mine.conf', 'lib/mylib.py', 'usr/x', 'tmp/x',
                    'dev/x', 'proc/x', 'zapp/x'):
            self.write(root, rel, 'image ' + rel)
        self.write(root, 'sbin', 'a file named sbin')
        os.symlink('/nowhere', os.path.join(root, 'lib64'))
        n['argv'] = ['python', '-c', (
            'import os, sys\n'
            'for p in ("/etc/mine.conf", "/usr/x", "/tmp/x", "/dev/x", '
            '"/proc/x", "/zapp/etc/mine.conf", "/zapp/lib/mylib.py", '
            '"/zapp/usr/x", "/zapp/tmp/x", "/zapp/dev/x", "/zapp/proc/x"):\n'
            '    print(p, os.path.exists(p))\n'
            'print(os.path.isfile("/etc/passwd"), '
            'os.path.isfile("/lib/mylib.py"), os.path.isdir("/sbin"), '
            'os.path.exists("/zapp/sbin"))\n'
            'import json; print(json.dumps([1]))\n')]
        r, = self.run_job([n])
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('s').splitlines(), [
            '/etc/mine.conf False', '/usr/x False', '/tmp/x False',
            '/dev/x False', '/proc/x False', '/zapp/etc/mine.conf True',
            '/zapp/lib/mylib.py True', '/zapp/usr/x True',
            '/zapp/tmp/x True', '/zapp/dev/x True', '/zapp/proc/x True',
            'True False %s False' % os.path.isdir('/sbin'), '[1]'])

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

    def test_stdout_to_stdin(self):
        """A's stdout is B's stdin (and C's): counted as network bytes
        and against A's output limit, not collected to A's stdout file."""
        a = self.node('A', 'print("ping " * 1000)')
        b = self.node('B', 'import sys; d = sys.stdin.read(); '
                           'print(len(d), d[:10])')
        c = self.node('C', 'import sys; print(len(sys.stdin.read()))')
        conns = [{'src': 'A', 'dst': x, 'src_dev': '/dev/stdout',
                  'dst_dev': '/dev/stdin'} for x in ('B', 'C')]
        ra, rb, rc = self.run_job([a, b, c], conns)
        self.assertEqual((ra['status'], rb['status'], rc['status']),
                         ('ok', 'ok', 'ok'))
        self.assertEqual(self.out('B'), '5001 ping ping \n')
        self.assertEqual(self.out('C'), '5001\n')
        self.assertFalse(os.path.exists(os.path.join(self.d, 'A.out')))
        self.assertEqual((ra['nbw'], rb['nbr'], rc['nbr']),
                         (5001, 5001, 5001))
        self.assertEqual(ra['dbw'], 0)
        # A's output limit holds for a connected stdout too
        a = self.node('A', 'import sys\nfor i in range(100): '
                           'sys.stdout.write("y" * 65536)')
        ra, rb = self.run_job([a, b], conns[:1], output_limit=100000)
        self.assertEqual(ra['status'], 'Killed by output limit', ra)
        self.assertEqual(rb['status'], 'ok', rb)
        self.assertLessEqual(rb['nbr'], 100000)

    def test_custom_devices(self):
        """A connection arriving at /dev/input; one from stderr; the
        peers' other channels."""
        a = self.node('A', 'import sys; open("/dev/out/B", "w").write("a" * '
                           '70000); sys.stderr.write("from stderr")')
        b = self.node('B', 'print(len(open("/dev/input").read()), '
                           'open("/dev/in/A").read())')
        ra, rb = self.run_job([a, b], [
            {'src': 'A', 'dst': 'B', 'dst_dev': '/dev/input'},
            {'src': 'A', 'dst': 'B', 'src_dev': '/dev/stderr'}])
        self.assertEqual((ra['status'], rb['status']), ('ok', 'ok'))
        self.assertEqual(self.out('B'), '70000 from stderr\n')
        self.assertEqual((ra['nbw'], rb['nbr']), (70011, 70011))
        self.assertEqual(ra['stderr_tail'], 'from stderr')

    def test_connected_peer_exits_early(self):
        """No hang: a reader that never reads, a writer that never
        writes, a node that cannot start."""
        a = self.node('A', 'import sys; sys.stdout.write("x" * (1 << 22))')
        b = self.node('B', 'print("b")')
        c = self.node('C', 'print("c")')
        d = self.node('D', 'import sys; print(len(sys.stdin.read()))')
        e = self.node('E', '')
        e['program'] = '/missing'
        f = self.node('F', 'print(repr(open("/dev/input").read()))')
        conns = [{'src': 'A', 'dst': 'B', 'src_dev': '/dev/stdout',
                  'dst_dev': '/dev/stdin'},
                 {'src': 'C', 'dst': 'D', 'dst_dev': '/dev/stdin'},
                 {'src': 'E', 'dst': 'F', 'src_dev': '/dev/stdout',
                  'dst_dev': '/dev/input'}]
        t0 = time.time()
        res = self.run_job([a, b, c, d, e, f], conns)
        self.assertLess(time.time() - t0, 15)
        self.assertEqual([r['status'] for r in res[:4]] + [res[5]['status']],
                         ['ok'] * 5)
        self.assertTrue(res[4]['status'].startswith('Spawn error'), res[4])
        self.assertEqual(self.out('B') + self.out('C') + self.out('D') +
                         self.out('F'), "b\nc\n0\n''\n")

    def test_streams_by_path(self):
        """The node re-opens its own streams by path (/dev/stdin is
        /proc/self/fd/0): they are its own even when it runs as a host
        uid of its own (the runner, root, makes the pipes)."""
        src = os.path.join(self.d, 'in.txt')
        with open(src, 'w') as f:
            f.write('from stdin')
        n = self.node('p', 'import sys\n'
                      'data = open("/dev/stdin").read()\n'
                      'open("/dev/stdout", "w").write(data.upper())\n'
                      'open("/dev/stderr", "w").write("err")\n'
                      'sys.exit(5)\n', stdin=src)
        r, = self.run_job([n])
        self.assertEqual((r['status'], r['retcode']), ('ok', 5), r)
        self.assertEqual(self.out('p'), 'FROM STDIN')
        self.assertEqual(r['stderr_tail'], 'err')

    def test_close_ends_the_stream(self):
        """Servlets.md's map-reduce example: nodes of a group connected to
        itself write to each other, close, then read each other to EOF.
        A close is the end of the stream (as a ZeroVM channel's), not only
        the writer's exit."""
        code = ('import glob, os\n'
                'me = os.environ["ME"]\n'
                'for o in ("M1", "M2", "M3"):\n'
                '    if o != me:\n'
                '        with open("/dev/out/" + o, "w") as f:\n'
                '            f.write(me + ">" + o)\n'
                'got = sorted(open(p).read() for p in glob.glob("/dev/in/*"))\n'
                'print(" ".join(got))\n')
        names = ('M1', 'M2', 'M3')
        nodes = [self.node(n, code, env={'ME': n}) for n in names]
        conns = [{'src': a, 'dst': b} for a in names for b in names
                 if a != b]
        t0 = time.time()
        res = self.run_job(nodes, conns)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual([r['status'] for r in res], ['ok'] * 3)
        self.assertEqual(self.out('M1'), 'M2>M1 M3>M1\n')
        self.assertEqual(self.out('M3'), 'M1>M3 M2>M3\n')

    def test_bad_connections(self):
        r = runner.Runner([], [], self.d)

        def plan(conns, **spec):
            nodes = [dict(name='A'), dict(name='B', **spec)]
            r.conns = conns
            r.counters = {'A': runner.Counter(), 'B': runner.Counter()}
            return r._plan_conns(nodes)
        ok = plan([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/input'},
                   {'src': 'A', 'dst': 'B', 'dst_dev': '/dev/input'}])
        self.assertEqual(list(ok['sinks']), [('B', '/dev/input')])
        self.assertEqual(ok['sinks'][('B', '/dev/input')].sources, 1)
        for conns, spec, msg in (
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/stdin'}],
                 {'stdin': '/x'}, 'stdin is an object'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/input'}],
                 {'input': '/x'}, '/dev/input is used twice'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/stdout'}], {},
                 'cannot be its dst'),
                ([{'src': 'A', 'dst': 'B', 'src_dev': '/dev/stdin'}], {},
                 'cannot be its src'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/../etc/x'}], {},
                 'not a safe path'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/etc/x'}], {},
                 'not under /dev'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/null'}], {},
                 'reserved'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/shm/x'}], {},
                 'reserved'),
                ([{'src': 'A', 'dst': 'B', 'dst_dev': '/dev/in'},
                  {'src': 'B', 'dst': 'A'}, {'src': 'A', 'dst': 'B'}], {},
                 'both used'),
                ([{'src': 'A', 'dst': 'X'}], {}, 'no such node')):
            with self.assertRaises(ValueError) as cm:
                plan(conns, **spec)
            self.assertIn(msg, str(cm.exception))

    def test_script_device(self):
        script = os.path.join(self.d, 'script.py')
        with open(script, 'w') as f:
            f.write('print("from the script")\n')
        n = self.node('sc', 'exec(open("/dev/script").read())\n'
                      'try:\n    open("/dev/script", "w")\n'
                      'except OSError as e:\n    print("read-only")\n',
                      script=script)
        r, = self.run_job([n])
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('sc'), 'from the script\nread-only\n')
        self.assertEqual((r['dr'], r['dbr']), (1, 25))

    def test_stderr_tail(self):
        code = ('import sys\nsys.stderr.write("e" * 5000)\n'
                'sys.stderr.write("\\nlast words \\xe9\\n")\nsys.exit(2)')
        for stderr in (None, os.path.join(self.d, 'err.txt')):
            n = self.node('t', code, stderr=stderr)
            r, = self.run_job([n])
            self.assertEqual(r['retcode'], 2)
            tail = r['stderr_tail']
            self.assertTrue(tail.endswith('\nlast words \xe9\n'), tail)
            self.assertEqual(len(tail.encode()), 4096)
        with open(stderr) as f:
            self.assertEqual(len(f.read()), 5000 + 14)

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



class LayoutTest(unittest.TestCase):
    """Which host directories go over the image, what of it is removed
    (no bwrap needed)."""

    def test_root_layout(self):
        d = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(d, 'lib'))
            os.makedirs(os.path.join(d, 'etc'))
            os.makedirs(os.path.join(d, 'zvm'))
            for name in ('sbin', 'tmp', 'proc', 'usr'):
                with open(os.path.join(d, name), 'w') as f:
                    f.write('a file')
            os.symlink('/nowhere', os.path.join(d, 'lib64'))
            if os.path.islink('/bin'):
                os.symlink(os.readlink('/bin'), os.path.join(d, 'bin'))
            spec = {'binds': [['/x', '/zvm/exec/x']],
                    'symlinks': [['/usr/bin/python3', '/opt2/bin/p']]}
            with open(os.path.join(d, 'opt2'), 'w') as f:
                f.write('in the way')
            args, drop = runner.Runner._root_layout(spec, d)
            self.assertEqual(sorted(drop), sorted(
                ['sbin', 'tmp', 'proc', 'usr', 'lib64', 'opt2']))
            pairs = list(zip(args[::3], args[1::3], args[2::3]))
            self.assertIn(('--ro-bind', '/usr', '/usr'), pairs)
            self.assertIn(('--ro-bind', '/etc', '/etc'), pairs)
            if os.path.islink('/lib'):
                # usrmerge: the image's real lib/ gets the host's target
                self.assertIn(('--ro-bind', os.path.realpath('/lib'),
                               '/lib'), pairs)
                self.assertIn(('--symlink', os.readlink('/lib64'), '/lib64'),
                              pairs)
            if os.path.islink('/bin'):
                # the same link already there: kept (bwrap 0.8 would fail)
                self.assertNotIn('/bin', args)
        finally:
            shutil.rmtree(d)


def procs_with(text):
    """Host pids whose command line contains text."""
    out = []
    for n in os.listdir('/proc'):
        if n.isdigit():
            try:
                with open('/proc/%s/cmdline' % n, 'rb') as f:
                    if text.encode() in f.read():
                        out.append(int(n))
            except OSError:
                pass
    return out


@unittest.skipUnless(runner.have_bwrap(),
                     'bubblewrap (/usr/bin/bwrap) is not installed: the '
                     'limits are not tested')
class LimitsTest(RunnerTest):
    """Each limit stops a node that goes past it, and the status says
    which. The mechanisms are what this machine allows (see the
    `mechanisms` of each result); FallbackTest forces the others."""
    options = {}

    def script(self, name, code, **kw):
        n = self.node(name, '', **kw)
        n['argv'] = ['python', 'm.py'] + list(kw.pop('args', []))
        n['stderr'] = os.path.join(self.d, name + '.err')
        with open(os.path.join(n['root'], 'm.py'), 'w') as f:
            f.write(code)
        return n

    def run1(self, node, **options):
        opts = dict(self.options)
        opts.update(options)
        r, = self.run_job([node], **opts)
        return r

    def mech(self, r, what):
        return r['mechanisms'][what]

    WRITE = ('import sys\nn = 0\ntry:\n'
             '    with open(sys.argv[1], "wb") as f:\n'
             '        for i in range(400):\n'
             '            f.write(b"x" * (1 << 20)); f.flush(); n += 1\n'
             'except OSError as e:\n'
             '    print("stopped at", n, e.errno, flush=True)\n'
             'import time; time.sleep(5)\n')

    def test_disk_limit_in_root_zapp_and_tmp(self):
        for target in ('/big.bin', 'big.bin', '/zapp/big.bin',
                       '/tmp/big.bin'):
            n = self.script('d', self.WRITE, args=[target])
            if os.path.exists(os.path.join(n['root'], 'big.bin')):
                # the host-disk fallback: the last run's file is there
                os.unlink(os.path.join(n['root'], 'big.bin'))
            r = self.run1(n, disk_limit=32 << 20)
            self.assertEqual(r['status'], 'Killed by disk limit',
                             (target, r, self.out('d')))
            self.assertEqual(r['retcode'], -9)
            self.assertIn('disk limit (33554432 bytes', r['error'])
            self.assertLess(r['wall'], 4)
            # the bytes it wrote (up to the limit, and a page) are counted
            self.assertGreaterEqual(r['dbw'], 32 << 20)
            self.assertLessEqual(r['dbw'], (32 << 20) + 8192 + 100)
            if self.mech(r, 'disk') == 'tmpfs':
                self.assertIn('stopped at 32 28', self.out('d'))
                # nothing on the host: the image directory is as it was
                self.assertEqual(sorted(os.listdir(n['root'])), ['m.py'])
                self.assertFalse(os.path.exists(n['root'] + '.area'))

    def test_disk_written_is_counted(self):
        code = ('open("/a.bin", "wb").write(b"a" * 3000000)\n'
                'open("/tmp/b.bin", "wb").write(b"b" * 1000000)\n'
                'import time; time.sleep(0.6)  # sampled every 0.25 s\n'
                'print("ok")\n')
        r = self.run1(self.script('w', code))
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertGreaterEqual(r['dbw'], 4000000 + 3)
        self.assertLess(r['dbw'], 4000000 + 3 + 65536)
        self.assertGreaterEqual(r['dw'], 1 + 4000000 // 65536)

    def test_only_the_area_is_writable(self):
        """bwrap's own tmpfs at /dev would hold any amount outside every
        limit: read-only, as are the host's directories. / is the area,
        and so is /dev/shm."""
        code = ('import errno, time\n'
                'for p in ("/x", "/dev/x", "/usr/x", "/etc/x", "/bin/x", '
                '"/proc/x"):\n'
                '    try:\n'
                '        open(p, "wb").write(b"a")\n'
                '        print(p, "written")\n'
                '    except OSError as e:\n'
                '        print(p, errno.errorcode[e.errno])\n'
                'open("/dev/shm/s", "wb").write(b"s" * 2000000)\n'
                'import multiprocessing as mp\n'
                'with mp.Pool(2) as pool: print(pool.map(abs, [-1, -2]))\n'
                'time.sleep(0.6)\n')
        r = self.run1(self.script('ro', code))
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('ro'), '/x written\n/dev/x EROFS\n'
                         '/usr/x EROFS\n/etc/x EROFS\n/bin/x EROFS\n'
                         '/proc/x ENOENT\n[1, 2]\n')
        self.assertGreaterEqual(r['dbw'], 2000000)
        code = 'open("/dev/shm/s", "wb").write(b"s" * (40 << 20))\n'
        r = self.run1(self.script('shm', code), disk_limit=32 << 20)
        self.assertEqual(r['status'], 'Killed by disk limit', r)

    def test_output_limit(self):
        code = ('import sys\nc = b"y" * (1 << 20)\n'
                'for i in range(1024):\n    sys.stdout.buffer.write(c)\n')
        r = self.run1(self.script('o', code), output_limit=1 << 20)
        self.assertEqual(r['status'], 'Killed by output limit', r)
        self.assertEqual(r['retcode'], -9)
        self.assertIn('output limit (1048576 bytes', r['error'])
        self.assertLess(r['wall'], 5)
        # nothing beyond the limit was kept
        self.assertEqual(os.path.getsize(os.path.join(self.d, 'o.out')),
                         1 << 20)

    def test_output_limit_counts_stderr_and_output(self):
        outp = os.path.join(self.d, 'output.bin')
        code = ('import sys\nsys.stderr.write("e" * 600)\n'
                'sys.stderr.flush()\nprint("o" * 299)\n'
                'open("/dev/output", "w").write("z" * 200)\n')
        r = self.run1(self.script('s', code, output=outp), output_limit=1000)
        self.assertEqual(r['status'], 'Killed by output limit', r)
        kept = sum(os.path.getsize(p) for p in (
            os.path.join(self.d, 's.out'), os.path.join(self.d, 's.err'),
            outp))
        self.assertEqual(kept, 1000)
        # exactly at the limit is fine
        r = self.run1(self.script('s', code, output=outp), output_limit=1100)
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)

    FORKS = ('import os, sys, time\nkids = []\n'
             'for i in range(int(sys.argv[1])):\n'
             '    pid = os.fork()\n'
             '    if pid == 0:\n        time.sleep(1); os._exit(0)\n'
             '    kids.append(pid)\n'
             'for k in kids: os.waitpid(k, 0)\n'
             'print("forked", len(kids))\n')

    def test_process_limit_is_exact(self):
        # the node's first process and 9 children: 10
        r = self.run1(self.script('f', self.FORKS, args=['9']),
                      process_limit=10)
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('f'), 'forked 9\n')
        r = self.run1(self.script('f', self.FORKS, args=['10']),
                      process_limit=10)
        self.assertEqual(r['status'], 'Killed by process limit', r)
        self.assertIn('more than 10 processes', r['error'])

    def check_bomb(self, node, marker):
        t0 = time.time()
        node['timeout'] = 30
        r = self.run1(node, process_limit=20)
        self.assertEqual(r['status'], 'Killed by process limit', r)
        # killed (-9), or it gave up first when a fork failed
        self.assertNotEqual(r['retcode'], 0)
        self.assertLess(r['wall'], 10)
        self.assertLess(time.time() - t0, 20)
        self.assertEqual(procs_with(marker), [])

    def test_shell_fork_bomb(self):
        marker = 'zc-bomb-%d' % os.getpid()
        n = self.node('b', '')
        n.update(program='/bin/bash',
                 argv=['bash', '-c', ':(){ :|:& };:; sleep 20', marker])
        self.check_bomb(n, marker)
        n.update(program='/bin/sh',
                 argv=['sh', '-c', 'b(){ b|b& };b; sleep 20', marker])
        self.check_bomb(n, marker)

    def test_python_fork_loop(self):
        marker = 'zc-pybomb-%d' % os.getpid()
        code = ('import os\nwhile True:\n    try:\n        os.fork()\n'
                '    except OSError:\n        pass\n')
        self.check_bomb(self.script('p', code, args=[marker]), marker)

    SIX = ('import os, time\nkids = []\n'
           'for i in range(6):\n'
           '    pid = os.fork()\n'
           '    if pid == 0:\n'
           '        x = bytearray(200 << 20)\n'
           '        print("child", i, "holds 200 MiB", flush=True)\n'
           '        time.sleep(3); os._exit(0)\n'
           '    kids.append(pid)\n'
           'for k in kids: os.waitpid(k, 0)\n'
           'print("all done")\n')

    def test_memory_of_all_processes_together(self):
        r = self.run1(self.script('m', self.SIX, memory=256 << 20))
        if self.mech(r, 'memory') != 'cgroup':
            self.skipTest('no memory cgroup here: RLIMIT_AS per process')
        self.assertEqual(r['status'], 'Killed by memory limit', r)
        self.assertEqual(r['retcode'], -9)
        self.assertIn('all its processes together', r['error'])
        self.assertNotIn('all done', self.out('m'))
        self.assertLess(self.out('m').count('holds'), 2)

    def test_cpu_of_children(self):
        code = ('import subprocess\nsubprocess.run(["/usr/bin/python3", '
                '"-c", "import time\\nwhile time.process_time() < 2: '
                'pass"])\nprint("child done")\n')
        r = self.run1(self.script('c', code))
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('c'), 'child done\n')
        self.assertGreaterEqual(r['user'] + r['sys'], 1.5, r)
        self.assertLess(r['user'] + r['sys'], 4, r)

    def test_no_cgroup_left(self):
        r = self.run1(self.script('z', 'print(1)\n'))
        self.assertEqual(r['status'], 'ok')
        from zerocloud_dev import limits
        for h in limits.discover():
            # (runners still alive are other jobs', e.g. a devcloud's)
            left = [n for n in os.listdir(h.own)
                    if n.startswith(limits.PREFIX) and not limits._alive(
                        int(n[len(limits.PREFIX):].split('-')[0]))]
            self.assertEqual(left, [], h)

    def test_cancel(self):
        """SIGTERM to the runner (the middleware cancelling the job): every
        node is killed, the results still written."""
        marker = 'zc-cancel-%d' % os.getpid()
        n = self.script('k', 'import time\ntime.sleep(60)\n',
                        args=[marker])
        work = os.path.join(self.d, 'work')
        os.makedirs(work)
        spec = os.path.join(work, 'spec.json')
        out = os.path.join(work, 'result.json')
        with open(spec, 'w') as f:
            json.dump({'nodes': [n], 'conns': [], 'workdir': work,
                       'options': self.options}, f)
        p = subprocess.Popen([PY, '-m', 'zerocloud_dev.runner', spec, out],
                             env={'PATH': runner.DEFAULT_PATH,
                                  'PYTHONPATH': PKG})
        deadline = time.time() + 10
        while not procs_with(marker) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(procs_with(marker), 'the node never ran')
        t0 = time.time()
        p.terminate()
        self.assertEqual(p.wait(20), 0)
        # well before the node's 60 s; not 5 s: ctest -j2 runs this next
        # to a build (CI measured 5.1 s once)
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(procs_with(marker), [])
        with open(out) as f:
            r, = json.load(f)['results']
        self.assertEqual(r['status'], 'Killed: job cancelled')


    def test_parent_dies(self):
        """The proxy dies mid-job: the runner (SIGTERM, PR_SET_PDEATHSIG)
        stops the nodes and removes the job's directory itself."""
        marker = 'zc-orphan-%d' % os.getpid()
        n = self.script('k', 'import time\ntime.sleep(60)\n',
                        args=[marker])
        work = os.path.join(self.d, 'work')
        os.makedirs(work)
        spec = os.path.join(work, 'spec.json')
        with open(spec, 'w') as f:
            json.dump({'nodes': [n], 'conns': [], 'workdir': work,
                       'options': self.options}, f)
        # a parent that leaves 2 s after starting the runner
        p = subprocess.Popen(
            ['/bin/sh', '-c', '"$0" -m zerocloud_dev.runner "$1" "$2" & '
             'sleep 2', PY, spec, os.path.join(work, 'result.json')],
            env={'PATH': runner.DEFAULT_PATH, 'PYTHONPATH': PKG})
        self.assertEqual(p.wait(10), 0)
        deadline = time.time() + 10
        while (procs_with(marker) or os.path.exists(work)) and \
                time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(procs_with(marker), [])
        self.assertFalse(os.path.exists(work))


class FallbackTest(LimitsTest):
    """The same without cgroups and without the runner's own mounts: what
    a machine that allows neither gets (RLIMIT_AS per process, a /proc
    count, rusage, a watched host directory with RLIMIT_FSIZE)."""
    options = {'cgroups': 'off', 'mounts': 'off'}

    def test_process_limit_is_exact(self):
        # RLIMIT_NPROC: the kernel refuses the fork that would make 10;
        # a node that reaches the limit is stopped
        r = self.run1(self.script('f', self.FORKS, args=['8']),
                      process_limit=10)
        self.assertEqual((r['status'], r['retcode']), ('ok', 0), r)
        self.assertEqual(self.out('f'), 'forked 8\n')
        r = self.run1(self.script('g', self.FORKS, args=['12']),
                      process_limit=10)
        self.assertEqual(r['status'], 'Killed by process limit', r)
        self.assertIn('more than 10 processes', r['error'])
        self.assertNotIn('forked', self.out('g'))

    def test_mechanisms(self):
        r = self.run1(self.script('x', 'print(1)\n'))
        self.assertEqual(r['mechanisms'], {
            'memory': 'RLIMIT_AS', 'process': 'RLIMIT_NPROC', 'cpu': 'rusage',
            'disk': 'watch'})


if __name__ == '__main__':
    unittest.main()
