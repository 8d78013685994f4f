"""The WSGI filter in front of a fake proxy that authorizes every request
the way Swift's proxy-server does (environ['swift.authorize'])."""
import io
import json
import logging
import os
import socket
import tarfile
import threading
import time
import unittest

from swift.common.swob import Request, Response, HTTPForbidden, \
    HTTPUnauthorized
from swift.common.utils import split_path

from zerocloud_dev import middleware as mw
from zerocloud_dev import runner

# Swift's get_logger adds a syslog handler (/dev/log, else UDP to
# localhost:514); the tests log to nowhere instead.
mw.get_logger = lambda conf, log_route=None: logging.getLogger('zc-test')
logging.getLogger('zc-test').addHandler(logging.NullHandler())
logging.getLogger('zc-test').propagate = False


def tar_bytes(files, gz=False):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode='w:gz' if gz else 'w') as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type = tarfile.CHRTYPE
                tf.addfile(ti)
                continue
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def authorize(req):
    """tempauth-like: only the account's own user, 401 if anonymous."""
    acct = split_path(req.path, 1, 4, True)[1]
    if not req.remote_user:
        return HTTPUnauthorized(request=req)
    if req.remote_user != acct:
        return HTTPForbidden(request=req)
    return None


class FakeProxy(object):
    def __init__(self):
        self.objects = {}
        self.calls = []

    def __call__(self, env, start_response):
        req = Request(env)
        self.calls.append((req.method, req.path,
                           req.headers.get('X-Auth-Token'),
                           env.get('REMOTE_USER')))
        if 'swift.authorize' in env:
            denied = env['swift.authorize'](req)
            if denied:
                return denied(env, start_response)
        ver, a, c, o = split_path(req.path, 1, 4, True)
        key = '/'.join(x for x in (a, c, o) if x)
        if req.method == 'PUT' and o:
            self.objects[key] = req.body
            resp = Response(status=201)
        elif req.method == 'GET' and o:
            if key not in self.objects:
                resp = Response(status=404)
            else:
                resp = Response(body=self.objects[key])
        elif req.method == 'GET' and c:
            prefix = req.params.get('prefix', '')
            marker = req.params.get('marker', '')
            names = sorted(k.split('/', 2)[2] for k in self.objects
                           if k.startswith(a + '/' + c + '/'))
            names = [n for n in names if n.startswith(prefix) and n > marker]
            resp = Response(body=json.dumps(
                [{'name': n} for n in names[:2]]).encode())
        else:
            resp = Response(status=204, headers={'X-Passed': 'yes'})
        return resp(env, start_response)


class Base(unittest.TestCase):
    conf = {'timeout': '20', 'log_name': 'zc-test'}

    def setUp(self):
        self.proxy = FakeProxy()
        self.app = mw.filter_factory({}, **self.conf)(self.proxy)

    def post(self, body, ctype='application/json', account='AUTH_me',
             user='AUTH_me', headers=None, path=None):
        env = {'swift.authorize': authorize}
        if user:
            env['REMOTE_USER'] = user
        h = {'X-Zerovm-Execute': '1.0', 'Content-Type': ctype,
             'X-Auth-Token': 'tok-' + str(user)}
        h.update(headers or {})
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        req = Request.blank(path or '/v1/' + account, method='POST',
                            environ=env, headers=h, body=body)
        return req.get_response(self.app)


def py(name, code, devices=(), **kw):
    g = {'name': name,
         'exec': {'path': 'file://python3:python3',
                  'args': '-c ' + ''.join(
                      '\\x%02x' % ord(ch) if ch in '\\", \n' else ch
                      for ch in code)},
         'devices': [{'name': 'python3'}] + list(devices)}
    g.update(kw)
    return g


class PassThroughTest(Base):
    def test_other_requests_untouched(self):
        # without X-Zerovm-Execute (and outside /open, /api) Swift answers;
        # with it, never Swift (tests/test_forms.py has the forms)
        for method, path, hdr in (
                ('GET', '/v1/AUTH_me', {}),
                ('POST', '/v1/AUTH_me', {}),
                ('POST', '/v1/AUTH_me/c', {}),
                ('POST', '/v1/AUTH_me/c/o', {'X-Zerovm-Source': 'x'}),
                ('POST', '/info', {})):
            resp = Request.blank(path, method=method, headers=hdr,
                                 body=b'[]').get_response(self.app)
            self.assertEqual(resp.headers.get('X-Passed'), 'yes',
                             (method, path))
        for method, path in (('GET', '/v1/AUTH_me'),
                             ('POST', '/v1/AUTH_me/c'),
                             ('POST', '/info')):
            resp = Request.blank(path, method=method, headers={
                'X-Zerovm-Execute': '1.0'}, body=b'[]').get_response(
                self.app)
            self.assertIn(resp.status_int, (400, 501), (method, path))
            self.assertIsNone(resp.headers.get('X-Passed'), (method, path))


class ErrorsTest(Base):
    def test_malformed(self):
        for body, words in ((b'[{"name"', 'bad JSON'),
                            ({'name': 'x'}, 'JSON list'),
                            ([{'name': 'a'}], 'no exec'),
                            ([py('a', 'pass', connect=['zz'])],
                             'unknown connect target'),
                            ([py('a', 'pass', devices=[{'name': 'tape'}])],
                             'bad device')):
            resp = self.post(body)
            self.assertEqual(resp.status_int, 400, resp.body)
            self.assertIn(words, resp.body.decode())
            self.assertIn(words, resp.headers['X-Nexe-Error'])

    def test_content_type_and_version(self):
        self.assertEqual(self.post(b'[]', ctype='text/plain').status_int,
                         400)
        resp = self.post([py('a', 'pass')], headers={
            'X-Zerovm-Execute': '2.0'})
        self.assertEqual(resp.status_int, 400)
        self.assertIn('X-Zerovm-Execute', resp.body.decode())

    def test_missing_object(self):
        resp = self.post([py('a', 'pass', devices=[
            {'name': 'stdin', 'path': 'swift://./c/nope'}])])
        self.assertEqual(resp.status_int, 404)
        self.assertIn('swift://AUTH_me/c/nope', resp.body.decode())

    def test_image_checks(self):
        resp = self.post(tar_bytes({'x': b'1'}), ctype='application/x-tar')
        self.assertEqual(resp.status_int, 400)
        self.assertIn('boot/system.map', resp.body.decode())
        resp = self.post(tar_bytes({'boot/system.map': b'[]', 'dev/x': None},
                                   gz=True), ctype='application/x-gzip')
        self.assertEqual(resp.status_int, 400)
        self.assertIn('device file', resp.body.decode())
        resp = self.post(b'garbage', ctype='application/x-gzip')
        self.assertEqual(resp.status_int, 400)

    def test_upload_limit(self):
        app = mw.filter_factory({}, max_job_size='10')(self.proxy)
        self.app = app
        self.assertEqual(self.post([py('a', 'pass')]).status_int, 413)


class AuthTest(Base):
    def test_post_needs_authorization(self):
        self.assertEqual(self.post([py('a', 'pass')], user=None).status_int,
                         401)
        self.assertEqual(self.post([py('a', 'pass')],
                                   user='AUTH_other').status_int, 403)

    def test_reading_other_account_denied(self):
        self.proxy.objects['AUTH_other/c/secret'] = b'secret'
        resp = self.post([py('a', 'import sys; print(sys.stdin.read())',
                             devices=[{'name': 'stdin',
                                       'path': 'swift://AUTH_other/c/secret'},
                                      {'name': 'stdout'}])])
        self.assertEqual(resp.status_int, 403)
        self.assertNotIn(b'secret\n', resp.body)
        self.assertIn('swift://AUTH_other/c/secret', resp.body.decode())
        get = [c for c in self.proxy.calls if c[0] == 'GET']
        self.assertEqual(get, [('GET', '/v1/AUTH_other/c/secret',
                                'tok-AUTH_me', 'AUTH_me')])

    def test_listing_other_account_denied(self):
        resp = self.post([py('a', 'pass', devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_other/c/*.txt'}])])
        self.assertEqual(resp.status_int, 403)


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class RunTest(Base):
    def test_hello_from_image_object(self):
        job = [{'name': 'hello',
                'exec': {'path': 'file://python2.7:python',
                         'args': 'hello.py ZeroVM\\x20world',
                         'env': {'GREETING': 'Hello'}},
                'devices': [{'name': 'python2.7'}, {'name': 'stdout'},
                            {'name': 'image',
                             'path': 'swift://AUTH_me/apps/hello.zapp'}]}]
        self.proxy.objects['AUTH_me/apps/hello.zapp'] = tar_bytes({
            'hello.py': b'import os, sys\nprint(os.environ["GREETING"] + '
                        b'", " + " ".join(sys.argv[1:]) + "!")\n',
            'boot/system.map': json.dumps(job).encode()})
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body, b'Hello, ZeroVM world!\n')
        h = resp.headers
        self.assertEqual(h['X-Nexe-System'], 'hello')
        self.assertEqual(h['X-Nexe-Status'], 'ok')
        self.assertEqual(h['X-Nexe-Retcode'], '0')
        self.assertEqual(h['X-Nexe-Etag'], 'disabled')
        self.assertEqual(h['X-Nexe-Validation'], '0')
        self.assertEqual(h['Content-Type'], 'text/plain')
        cdr = [x.strip() for x in h['X-Nexe-Cdr-Line'].split(',')]
        self.assertEqual(len(cdr), 3)
        nums = cdr[2].split()
        self.assertEqual(len(nums), 10)
        self.assertEqual(nums[4:6], ['1', '21'])   # one write, 21 bytes
        self.assertIn(('GET', '/v1/AUTH_me/apps/hello.zapp', 'tok-AUTH_me',
                       'AUTH_me'), self.proxy.calls)
        # the same image POSTed, gzip-compressed
        job[0]['devices'].pop()
        img = tar_bytes({
            'hello.py': b'import sys\nprint("posted", sys.argv[1:])\n',
            'boot/system.map': json.dumps(job).encode()}, gz=True)
        resp = self.post(img, ctype='application/x-gzip')
        self.assertEqual(resp.body, b"posted ['ZeroVM world']\n")

    def test_wordcount_and_outputs(self):
        self.proxy.objects['AUTH_me/d/in1.txt'] = b'a b a'
        self.proxy.objects['AUTH_me/d/in2.txt'] = b'b c'
        self.proxy.objects['AUTH_me/d/in3.txt'] = b'a'
        self.proxy.objects['AUTH_me/d/other'] = b'zzz'
        mapper = ('import sys; w = open("/dev/input").read().split(); '
                  'open("/dev/out/red", "w").write(" ".join(w)); '
                  'sys.stderr.write("mapped %d" % len(w)); sys.exit(2)')
        red = ('import glob; ws = []\n'
               'for f in sorted(glob.glob("/dev/in/*")): '
               'ws += open(f).read().split()\n'
               'print(sorted(ws))')
        job = [py('map', mapper, devices=[
                   {'name': 'input', 'path': 'swift://~/d/in*.txt'},
                   {'name': 'stderr', 'path': 'swift://./out/*.err'}],
                  connect=['red']),
               py('red', red, devices=[{'name': 'stdout',
                                        'content_type': 'text/x-words'}])]
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body,
                         b"['a', 'a', 'a', 'b', 'b', 'c']\n")
        self.assertEqual(resp.headers['Content-Type'], 'text/x-words')
        self.assertEqual(resp.headers['X-Nexe-System'],
                         'map-1,map-2,map-3,red')
        self.assertEqual(resp.headers['X-Nexe-Retcode'], '2,2,2,0')
        self.assertEqual(resp.headers['X-Nexe-Status'], 'ok,ok,ok,ok')
        # the `*` of the output is what the input's `*` matched
        self.assertEqual(self.proxy.objects['AUTH_me/out/2.err'],
                         b'mapped 2')
        puts = [c for c in self.proxy.calls if c[0] == 'PUT']
        self.assertEqual(len(puts), 3)
        self.assertTrue(all(c[2:] == ('tok-AUTH_me', 'AUTH_me')
                            for c in puts))

    def test_several_stdouts_concatenated(self):
        # ZeroCloud's proxy: the nodes' immediate channels one after the
        # other, in node order (tests/test_response.py has the rules)
        resp = self.post([py('a', 'import os; print(os.environ['
                                  '"SCRIPT_NAME"], "one")',
                             devices=[{'name': 'stdout'}], count=2)])
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(resp.headers['Content-Type'], 'text/plain')
        self.assertEqual(resp.body, b'a-1 one\na-2 one\n')

    def test_timeout_status(self):
        self.app = mw.filter_factory({}, timeout='1')(self.proxy)
        resp = self.post([py('s', 'import time; time.sleep(20)')])
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(resp.headers['X-Nexe-Status'], 'Killed by timeout')
        self.assertIn('longer than', resp.headers['X-Nexe-Error'])

    def test_writing_other_account_denied(self):
        resp = self.post([py('w', 'print("x")', devices=[
            {'name': 'stdout', 'path': 'swift://AUTH_other/c/o'}])])
        self.assertEqual(resp.status_int, 403)
        self.assertNotIn('AUTH_other/c/o', self.proxy.objects)
        self.assertEqual(resp.headers['X-Nexe-System'], 'w')


def procs_with(text):
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


class FakeInput(object):
    """eventlet.wsgi.Input as far as the filter cares: the socket."""

    def __init__(self, sock):
        self._sock = sock


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class LimitsTest(Base):
    conf = {'timeout': '20', 'log_name': 'zc-test', 'output_limit': '1000',
            'disk_limit': '1M', 'process_limit': '8'}

    def test_output_limit(self):
        resp = self.post([py('o', 'import sys\nfor i in range(1024): '
                                  'sys.stdout.write("y" * 1024)',
                             devices=[{'name': 'stdout'}])])
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(resp.headers['X-Nexe-Status'],
                         'Killed by output limit')
        self.assertEqual(resp.headers['X-Nexe-Retcode'], '-9')
        self.assertIn('output limit (1000 bytes', resp.headers['X-Nexe-Error'])
        self.assertEqual(resp.body, b'y' * 1000)

    def test_disk_limit_and_accounting(self):
        resp = self.post([py('d', 'open("f", "wb").write(b"x" * 5000000)',
                             devices=[{'name': 'stdout'}]),
                          py('e', 'open("/tmp/f", "wb").write(b"x" * 500000)',
                             devices=[{'name': 'stdout'}])])
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(resp.headers['X-Nexe-Status'],
                         'Killed by disk limit,ok')
        self.assertIn('d: node d wrote more than its disk limit (1048576 '
                      'bytes in / + /tmp + /dev/shm)',
                      resp.headers['X-Nexe-Error'])
        cdr = resp.headers['X-Nexe-Cdr-Line'].split(',')
        dbw_d = int(cdr[2].split()[5])
        dbw_e = int(cdr[4].split()[5])
        self.assertGreaterEqual(dbw_d, 1 << 20)
        self.assertLessEqual(dbw_d, (1 << 20) + 8192)
        self.assertGreaterEqual(dbw_e, 500000)

    def test_process_limit(self):
        resp = self.post([py('p', 'import os\nwhile True:\n'
                                  '    try: os.fork()\n'
                                  '    except OSError: pass')])
        self.assertEqual(resp.headers['X-Nexe-Status'],
                         'Killed by process limit')
        self.assertIn('more than 8 processes', resp.headers['X-Nexe-Error'])

    def test_client_gone(self):
        a, b = socket.socketpair()
        try:
            self.assertFalse(mw.client_gone(a.fileno()))
            b.sendall(b'GET / HTTP/1.1\r\n\r\n')   # pipelined: not gone
            self.assertFalse(mw.client_gone(a.fileno()))
            b.close()
            self.assertTrue(mw.client_gone(a.fileno()))
        finally:
            a.close()
        self.assertEqual(mw.client_fd({}), None)
        s = socket.socket()
        try:
            self.assertEqual(mw.client_fd({'eventlet.input': FakeInput(s)}),
                             s.fileno())
        finally:
            s.close()

    def test_job_stopped_when_the_client_goes(self):
        marker = 'zc-gone-%d' % os.getpid()
        a, b = socket.socketpair()
        closer = threading.Timer(1.5, b.close)
        try:
            env = {'swift.authorize': authorize, 'REMOTE_USER': 'AUTH_me',
                   'eventlet.input': FakeInput(a)}
            job = [py('s', 'import time\ntime.sleep(60)',
                      devices=[{'name': 'stdout'}])]
            job[0]['exec']['args'] += ' ' + marker
            req = Request.blank('/v1/AUTH_me', method='POST', environ=env,
                                headers={'X-Zerovm-Execute': '1.0',
                                         'Content-Type': 'application/json',
                                         'X-Auth-Token': 'tok'},
                                body=json.dumps(job).encode())
            t0 = time.time()
            closer.start()
            resp = req.get_response(self.app)
            self.assertEqual(resp.status_int, 499, resp.body)
            self.assertLess(time.time() - t0, 10)
            self.assertEqual(procs_with(marker), [])
            # nothing was written for the cancelled job
            self.assertEqual([c for c in self.proxy.calls if c[0] == 'PUT'],
                             [])
        finally:
            closer.cancel()
            a.close()


class SweepTest(unittest.TestCase):
    def test_sweep_work_dirs(self):
        import subprocess
        import tempfile
        root = tempfile.mkdtemp()
        try:
            dead = subprocess.Popen(['true'])
            dead.wait()
            old = time.time() - 3600

            def job(name, owner, age=None):
                d = os.path.join(root, name)
                os.makedirs(os.path.join(d, 'n0'))
                if owner is not None:
                    with open(os.path.join(d, mw.OWNER), 'w') as f:
                        f.write('%d\n' % owner)
                if age is not None:
                    os.utime(d, (age, age))
                return d
            gone = job('zc-gone', dead.pid, old)
            live = job('zc-live', os.getpid(), old)
            young = job('zc-young', dead.pid)
            unknown = job('zc-unknown', None, old)
            other = job('other', dead.pid, old)
            mw.sweep_work_dirs(root)
            self.assertFalse(os.path.exists(gone))
            for d in (live, young, unknown, other):
                self.assertTrue(os.path.exists(d), d)
        finally:
            import shutil
            shutil.rmtree(root)


class FactoryTest(unittest.TestCase):
    def test_refuses_without_bwrap(self):
        with self.assertRaises(RuntimeError) as cm:
            mw.filter_factory({}, bwrap='/nonexistent/bwrap')(FakeProxy())
        self.assertIn('bubblewrap', str(cm.exception))
        app = mw.filter_factory({}, bwrap='/nonexistent/bwrap',
                                unsandboxed='true')(FakeProxy())
        self.assertTrue(app.unsandboxed)

    def test_config(self):
        app = mw.filter_factory({}, memory_limit='512M', timeout='5',
                                system_images='py:/usr/bin/python3')(
                                    FakeProxy())
        self.assertEqual(app.memory, 512 << 20)
        self.assertEqual(app.system_images, {'py': '/usr/bin/python3'})
        self.assertEqual(mw.parse_size('1G'), 1 << 30)
        self.assertEqual((app.disk_limit, app.output_limit,
                          app.process_limit), (runner.DISK_LIMIT,
                                               runner.OUTPUT_LIMIT,
                                               runner.PROCESS_LIMIT))
        self.assertEqual((runner.DISK_LIMIT, runner.OUTPUT_LIMIT,
                          runner.PROCESS_LIMIT), (256 << 20, 64 << 20, 64))
        app = mw.filter_factory({}, disk_limit='64M', output_limit='1K',
                                process_limit='5', cgroups='off',
                                mounts='off')(FakeProxy())
        self.assertEqual((app.disk_limit, app.output_limit,
                          app.process_limit, app.cgroups, app.mounts),
                         (64 << 20, 1024, 5, 'off', 'off'))
        # the old name of disk_limit
        app = mw.filter_factory({}, tmp_size='32M')(FakeProxy())
        self.assertEqual(app.disk_limit, 32 << 20)
        app = mw.filter_factory({}, tmp_size='32M', disk_limit='8M')(
            FakeProxy())
        self.assertEqual(app.disk_limit, 8 << 20)
        for bad in ({'process_limit': '0'}, {'output_limit': '-1'},
                    {'cgroups': 'maybe'}, {'disk_limit': 'lots'}):
            with self.assertRaises(ValueError):
                mw.filter_factory({}, **bad)(FakeProxy())
        self.assertEqual(mw.parse_size('64KiB'), 64 << 10)


if __name__ == '__main__':
    unittest.main()
