"""The request forms (ZeroCloud's Requests.md, RESTServices.md, Chaining.md,
CGIEnvironment.md): classification, scripts, X-Zerovm-Source, /open with
.zvm config templates, /api, chaining, the request's CGI variables; the
pure functions, then the filter in front of a fake proxy (jobs really run,
in bubblewrap, like tests/test_middleware.py)."""
import io
import json
import logging
import tarfile
import time
import unittest

from swift.common.swob import Request, Response, HTTPForbidden, \
    HTTPUnauthorized
from swift.common.utils import split_path

from zerocloud_dev import middleware as mw
from zerocloud_dev import forms, chain, cgi, runner

mw.get_logger = lambda conf, log_route=None: logging.getLogger('zc-test')
logging.getLogger('zc-test').addHandler(logging.NullHandler())
logging.getLogger('zc-test').propagate = False

HAVE_BWRAP = runner.have_bwrap(runner.BWRAP)
PUBLIC = ('pub',)      # containers anyone may read (a fake `.r:*`)


def tar_bytes(files, gz=False):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode='w:gz' if gz else 'w') as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o755
            tf.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def authorize(req):
    """tempauth-like: the account's own user; GET/HEAD of objects in a
    PUBLIC container for anyone."""
    _v, acct, cont, obj = split_path(req.path, 1, 4, True)
    if req.remote_user == acct:
        return None
    if req.method in ('GET', 'HEAD') and cont in PUBLIC and obj:
        return None
    if not req.remote_user:
        return HTTPUnauthorized(request=req)
    return HTTPForbidden(request=req)


class FakeSwift(object):
    """Objects with a Content-Type, container metadata, listings."""

    def __init__(self):
        self.objects = {}       # 'a/c/o' -> (body, content type)
        self.meta = {}          # 'a/c' -> {header: value}
        self.calls = []

    def put(self, key, body, ctype='application/octet-stream'):
        self.objects[key] = (body, ctype)

    def __call__(self, env, start_response):
        req = Request(env)
        self.calls.append((req.method, req.path, env.get('REMOTE_USER')))
        if 'swift.authorize' in env and \
                not env.get('swift.authorize_override'):
            denied = env['swift.authorize'](req)
            if denied:
                return denied(env, start_response)
        _v, a, c, o = split_path(req.path, 1, 4, True)
        key = '/'.join(x for x in (a, c, o) if x)
        if o and req.method == 'PUT':
            self.put(key, req.body, req.headers.get('Content-Type'))
            resp = Response(status=201)
        elif o and req.method in ('GET', 'HEAD'):
            if key not in self.objects:
                resp = Response(status=404)
            else:
                body, ct = self.objects[key]
                resp = Response(body=body, headers={
                    'Content-Type': ct, 'Etag': 'e' * 32,
                    'X-Timestamp': '1700000000.00000'})
        elif c and req.method == 'HEAD':
            known = key in self.meta or any(
                k.startswith(key + '/') for k in self.objects)
            resp = Response(status=204 if known else 404,
                            headers=self.meta.get(key, {}))
        elif c and req.method == 'GET':
            prefix = req.params.get('prefix', '')
            marker = req.params.get('marker', '')
            names = sorted(k.split('/', 2)[2] for k in self.objects
                           if k.startswith(key + '/'))
            names = [n for n in names if n.startswith(prefix) and n > marker]
            resp = Response(body=json.dumps(
                [{'name': n} for n in names[:2]]).encode())
        else:
            resp = Response(status=204, headers={'X-Passed': 'yes'})
        return resp(env, start_response)


def pyargs(code):
    return '-c ' + ''.join('\\x%02x' % ord(ch) if ch in '\\", \n' else ch
                           for ch in code)


def pyjob(code, devices=(), name='n'):
    return [{'name': name, 'exec': {'path': 'file://python3:python3',
                                    'args': pyargs(code)},
             'devices': [{'name': 'python3'}] + list(devices)}]


# ---- pure functions ----------------------------------------------------------
def env_of(method, path, execute=None):
    e = {'REQUEST_METHOD': method, 'PATH_INFO': path}
    if execute is not None:
        e['HTTP_X_ZEROVM_EXECUTE'] = execute
    return e


class ClassifyTest(unittest.TestCase):
    def status(self, *a):
        try:
            forms.classify(env_of(*a))
        except forms.FormError as e:
            return e.status
        return 'ok'

    def test_not_ours(self):
        """Requests.md: without X-Zerovm-Execute and outside /open, /api,
        Swift answers."""
        for method, path in (('GET', '/v1/a'), ('POST', '/v1/a/c/o'),
                             ('PUT', '/v1/a/c/o'), ('GET', '/info'),
                             ('GET', '/auth/v1.0'), ('GET', '/opening/a/c')):
            self.assertIsNone(forms.classify(env_of(method, path)), path)

    def test_post_forms(self):
        """Requests.md, POST: X-Zerovm-Execute 1.0 on /version/account
        (job, image, script) or /version/account/container/object (a
        script)."""
        f = forms.classify(env_of('POST', '/v1/AUTH_a', '1.0'))
        self.assertEqual((f.kind, f.account, f.container), ('post', 'AUTH_a',
                                                           None))
        f = forms.classify(env_of('POST', '/v1/AUTH_a/c/d/e.txt', '1.0'))
        self.assertEqual((f.container, f.obj), ('c', 'd/e.txt'))

    def test_open_and_api(self):
        """Requests.md (GET with version open), RESTServices.md (open and
        api requests, and their X-Zerovm-Execute open/1.0, api/1.0)."""
        for method in ('GET', 'HEAD', 'POST', 'PUT', 'DELETE'):
            f = forms.classify(env_of(method, '/open/AUTH_a/c/x/y.zapp'))
            self.assertEqual((f.kind, f.obj, f.execute),
                             ('open', 'x/y.zapp', 'open/1.0'))
        f = forms.classify(env_of('GET', '/v1/AUTH_a/c/o', 'open/1.0'))
        self.assertEqual(f.kind, 'open')
        f = forms.classify(env_of('PUT', '/api/AUTH_a/my-api/some/path'))
        self.assertEqual((f.kind, f.container, f.obj),
                         ('api', 'my-api', 'some/path'))
        f = forms.classify(env_of('GET', '/v1/AUTH_a/my-api', 'api/1.0'))
        self.assertEqual((f.kind, f.obj), ('api', None))

    def test_refused(self):
        """CONTRACT decision 10: everything with X-Zerovm-Execute is ours:
        400 for what is malformed, 501 for what ZeroCloud also leaves
        unimplemented (Requests.md: open-with; GET with 1.0)."""
        cases = [(('POST', '/info', '1.0'), 400),
                 (('POST', '/v1', '1.0'), 400),
                 (('POST', '/v1/a', '2.0'), 400),
                 (('POST', '/v1/a/c', '1.0'), 400),
                 (('GET', '/v1/a', '1.0'), 501),
                 (('DELETE', '/v1/a/c/o', '1.0'), 501),
                 (('GET', '/open-with/a/c/o'), 501),
                 (('GET', '/v1/a/c/o', 'open-with/1.0'), 501),
                 (('GET', '/open/a/c'), 400),
                 (('GET', '/v1/a/c', 'open/1.0'), 400),
                 (('GET', '/api/a'), 400),
                 (('OPTIONS', '/open/a/c/o'), 400),
                 (('GET', '/open/a/c/o', 'api/1.0'), 400),
                 (('GET', '/x2/a/c/o', '1.0'), 400)]
        for args, want in cases:
            self.assertEqual(self.status(*args), want, args)


class ShebangTest(unittest.TestCase):
    images = {'python3': '/usr/bin/python3', 'python2.7': '/usr/bin/python3'}

    def parse(self, line):
        return forms.parse_shebang(line, self.images)

    def test_forms(self):
        """Requests.md, POST any other file: the shebang names a system
        image (file://<image>:<path>, or `<image> <path>`), a swift://
        object or a path."""
        self.assertEqual(self.parse(b'#! file://python3:python3 -u\nx'),
                         ('file://python3:python3', ['-u'], 'python3'))
        self.assertEqual(self.parse(b'#!swift://./bin/awk -f\n'),
                         ('swift://./bin/awk', ['-f'], None))
        self.assertEqual(self.parse(b'#!/bin/sh -e\r\n'),
                         ('/bin/sh', ['-e'], None))
        self.assertEqual(self.parse(b'#! python2.7 bin/python\n'),
                         ('file://python2.7:bin/python', [], 'python2.7'))
        self.assertEqual(self.parse(b'#! python3 -S\n'),
                         ('file://python3:python3', ['-S'], 'python3'))
        # a system image's host program
        self.assertEqual(self.parse(b'#!/usr/bin/python3\n'),
                         ('file://python2.7:python3', [], 'python2.7'))

    def test_bad(self):
        """Requests.md: the script must start with a shebang line; a bad
        interpreter is a 400 (as ZeroCloud's 'Bad interpreter')."""
        for head in (b'print(1)\n', b'#!\n', b'#!   \n',
                     b'#! zvm://x:y\n', b'#! file://nosuch:bin/x\n',
                     b'#! file://image:bin/x\n', b'#! file://python3\n',
                     b'#! http://example/x\n'):
            with self.assertRaises(forms.FormError) as cm:
                self.parse(head)
            self.assertEqual(cm.exception.status, 400, head)

    def test_job(self):
        """Requests.md: `/path/to/interpreter script`, stdout text/plain,
        on an object path the object is stdin."""
        job = forms.script_job('file://python3:python3', ['-u', 'a b'],
                               'python3', 'swift://a/c/o')
        self.assertEqual(job[0]['exec']['args'], '-u a\\x20b /script')
        self.assertEqual(job[0]['devices'], [
            {'name': 'python3'}, {'name': 'stdin', 'path': 'swift://a/c/o'},
            {'name': 'stdout', 'content_type': 'text/plain'}])


class TemplateTest(unittest.TestCase):
    def test_doc_example(self):
        """Requests.md, GET with version open: `{.format=xml}` takes the
        query's value, else the default; `{.object_path}`."""
        t = '{"args": "{.format=xml}", "p": "{.object_path}", "e": "{.x}"}'
        self.assertEqual(json.loads(forms.fill_template(
            t, forms.query_params('attr=val&format=pdf'), 'swift://a/c/o')),
            {'args': 'pdf', 'p': 'swift://a/c/o', 'e': ''})
        self.assertEqual(json.loads(forms.fill_template(
            t, forms.query_params('attr=val'), 'swift://a/c/o'))['args'],
            'xml')

    def test_values_cannot_break_out(self):
        """Query values are escaped for a JSON string: no new keys."""
        t = '{"args": "{.a=}"}'
        out = forms.fill_template(t, {'a': 'x", "evil": "1\\'}, 'u')
        self.assertEqual(json.loads(out), {'args': 'x", "evil": "1\\'})

    def test_cache_60s(self):
        """Requests.md: the template is cached for 60 seconds."""
        now = [1000.0]
        c = forms.TemplateCache(clock=lambda: now[0])
        c.put('k', 'T')
        now[0] += 59.9
        self.assertEqual(c.get('k'), 'T')
        now[0] += 0.2
        self.assertIsNone(c.get('k'))

    def test_nexe_default(self):
        """Requests.md: application/x-nexe runs itself, query args and
        content_type."""
        job = forms.nexe_job('swift://a/c/x.nexe',
                             {'args': '-v 1', 'content_type': 'text/csv'})
        self.assertEqual(job[0]['exec'], {'path': 'swift://a/c/x.nexe',
                                          'args': '-v 1'})
        self.assertEqual(job[0]['devices'][0]['content_type'], 'text/csv')


class SpoolTest(unittest.TestCase):
    def test_no_length_no_body(self):
        """A GET without Content-Length (and not chunked) has no body: the
        socket is not read (it would wait for the client)."""
        import tempfile

        class Blocking(object):
            def read(self, n):
                raise AssertionError('read the socket')
        with tempfile.NamedTemporaryFile() as f:
            self.assertEqual(forms.spool({'wsgi.input': Blocking()},
                                         f.name, 10), 0)
            env = {'wsgi.input': io.BytesIO(b'abc'),
                   'HTTP_TRANSFER_ENCODING': 'chunked'}
            self.assertEqual(forms.spool(env, f.name, 10), 3)
            with self.assertRaises(forms.FormError) as cm:
                forms.spool({'wsgi.input': io.BytesIO(b'x' * 20),
                             'CONTENT_LENGTH': '20'}, f.name, 10)
            self.assertEqual(cm.exception.status, 413)


class CgiTest(unittest.TestCase):
    def test_request_vars(self):
        """CGIEnvironment.md: permanent, request-based and header-based
        vars; credentials never included (CONTRACT decision 11)."""
        env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/open/AUTH_a/c/o',
               'QUERY_STRING': 'a=1&b=2', 'SERVER_NAME': 'h',
               'SERVER_PORT': '8080', 'SERVER_PROTOCOL': 'HTTP/1.1',
               'REMOTE_USER': 'test:tester,test,AUTH_a',
               'HTTP_X_AUTH_TOKEN': 'secret', 'HTTP_X_STORAGE_TOKEN': 's',
               'HTTP_COOKIE': 'c', 'HTTP_AUTHORIZATION': 'Basic x',
               'HTTP_X_SERVICE_TOKEN': 's', 'HTTP_ACCEPT': 'text/html',
               'HTTP_USER_AGENT': 'ua'}
        v = cgi.request_vars(env, forms.classify(env), 60)
        for k, want in (('GATEWAY_INTERFACE', 'CGI/1.1'),
                        ('SERVER_SOFTWARE', 'zerocloud'),
                        ('SERVER_NAME', 'h'), ('SERVER_PORT', '8080'),
                        ('SERVER_PROTOCOL', 'HTTP/1.1'),
                        ('PATH_INFO', '/AUTH_a/c/o'),
                        ('REQUEST_METHOD', 'GET'),
                        ('REQUEST_URI', '/open/AUTH_a/c/o?a=1&b=2'),
                        ('QUERY_STRING', 'a=1&b=2'),
                        ('REMOTE_USER', 'test:tester,test,AUTH_a'),
                        ('HTTP_ACCEPT', 'text/html'),
                        ('HTTP_X_ZEROVM_EXECUTE', 'open/1.0'),
                        ('HTTP_X_ZEROVM_TIMEOUT', '60')):
            self.assertEqual(v.get(k), want, k)
        self.assertFalse([k for k in v if 'secret' in v[k] or k in (
            'HTTP_X_AUTH_TOKEN', 'HTTP_X_STORAGE_TOKEN', 'HTTP_COOKIE',
            'HTTP_AUTHORIZATION', 'HTTP_X_SERVICE_TOKEN')])


class ChainUnitTest(unittest.TestCase):
    """Chaining.md with a fake run_job."""

    def setUp(self):
        import tempfile
        self.work = tempfile.mkdtemp()
        self.addCleanup(__import__('shutil').rmtree, self.work, True)

    def run_chain(self, answers, timeout=20, max_job=1 << 20, clock=None):
        seen = []

        def run(req, account, work, jobreq):
            seen.append(jobreq)
            return answers.pop(0)
        payload = self.work + '/p'
        open(payload, 'wb').write(b'data')
        jr = forms.JobRequest(job=[{'name': 'a', 'devices': [
            {'name': 'stdin'}]}], payload=payload, cgi={'X': '1'})
        kw = {'clock': clock} if clock else {}
        resp = chain.run_chain(run, None, 'AUTH_a', self.work, jr, max_job,
                               timeout, **kw)
        return resp, seen

    @staticmethod
    def job_resp(job):
        return Response(body=json.dumps(job).encode(), headers={
            'Content-Type': 'application/json', 'X-Zerovm-Execute': '1.0'})

    def test_chain_of_three(self):
        """Chaining.md, How to start a chain: a JSON response with
        X-Zerovm-Execute runs as the next job; the last response (no
        X-Zerovm-Execute) answers; the payload went to the first job with
        a path-less stdin, the CGI vars stay."""
        j2 = [{'name': 'b'}]
        j3 = [{'name': 'c', 'devices': [{'name': 'stdin'}]}]
        resp, seen = self.run_chain([self.job_resp(j2), self.job_resp(j3),
                                     Response(body=b'end')])
        self.assertEqual(resp.body, b'end')
        self.assertEqual([s.job for s in seen[1:]], [j2, j3])
        self.assertEqual(open(seen[1].payload, 'rb').read(), b'')
        self.assertEqual(seen[2].cgi, {'X': '1'})
        self.assertIn('X-Chain-Total-Time', resp.headers)

    def test_not_json_ends(self):
        """Chaining.md: no X-Zerovm-Execute, or not application/json: the
        chain ends; X-Chain-Total-Time even for one job."""
        r = Response(body=b'[]', headers={'X-Zerovm-Execute': '1.0',
                                          'Content-Type': 'text/plain'})
        resp, seen = self.run_chain([r])
        self.assertEqual((len(seen), resp.body), (1, b'[]'))
        self.assertRegex(resp.headers['X-Chain-Total-Time'], r'^\d+\.\d{3}$')

    def test_timeout(self):
        """Chaining.md: the chain terminates once chain_timeout has passed
        since the first job; the last response answers; the total time is
        the sum."""
        t = [0.0]

        def clock():
            t[0] += 3
            return t[0]
        loop = [{'name': 'again'}]
        resp, seen = self.run_chain([self.job_resp(loop) for _ in range(9)],
                                    timeout=10, clock=clock)
        self.assertEqual(len(seen), 4)       # 3 s each: 3, 6, 9, 12 >= 10
        self.assertEqual(resp.headers['X-Chain-Total-Time'], '12.000')
        self.assertEqual(json.loads(resp.body), loop)
        self.assertIn('X-Chain-Stopped', resp.headers)

    def test_too_large(self):
        """Chaining.md, zerovm_maxconfig: a job larger than the limit is
        not chained; the client gets the body whole."""
        big = [{'name': 'x' * 100}]
        resp, seen = self.run_chain([self.job_resp(big)], max_job=50)
        self.assertEqual(len(seen), 1)
        self.assertEqual(json.loads(resp.body), big)

    def test_bad_chained_json(self):
        """A chained body that is not JSON: 400 naming the job."""
        r = Response(body=b'[oops', headers={
            'Content-Type': 'application/json', 'X-Zerovm-Execute': '1.0'})
        with self.assertRaises(forms.FormError) as cm:
            self.run_chain([r])
        self.assertIn('job 1 of the chain', str(cm.exception))


# ---- through the filter ----------------------------------------------------
class Base(unittest.TestCase):
    conf = {'timeout': '20', 'log_name': 'zc-test'}

    def setUp(self):
        if not HAVE_BWRAP:
            self.skipTest('bubblewrap (%s) is not installed' % runner.BWRAP)
        self.proxy = FakeSwift()
        self.app = mw.filter_factory({}, **self.conf)(self.proxy)

    def req(self, path, method='POST', body=b'', headers=None,
            user='AUTH_me', execute='1.0', ctype=None):
        env = {'swift.authorize': authorize}
        if user:
            env['REMOTE_USER'] = user
        h = {'X-Auth-Token': 'tok-%s' % user}
        if execute:
            h['X-Zerovm-Execute'] = execute
        if ctype:
            h['Content-Type'] = ctype
        h.update(headers or {})
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        r = Request.blank(path, method=method, environ=env, headers=h,
                          body=body)
        return r.get_response(self.app)

    def swift_saw(self, method, path):
        return any(c[0] == method and c[1] == path for c in self.proxy.calls)


ECHO = pyjob('import os,sys;d=sys.stdin.read();print("got", repr(d), '
             'os.environ.get("REQUEST_METHOD"), os.environ.get("PATH_INFO"),'
             ' os.environ.get("QUERY_STRING"))',
             [{'name': 'stdin'}, {'name': 'stdout'}], name='echo')


class PostTest(Base):
    def test_script_on_account(self):
        """Requests.md, POST any other file, /version/account: the script
        at /script, run by its interpreter, stdout as text/plain."""
        r = self.req('/v1/AUTH_me', body=b'#! file://python3:python3\n'
                     b'import os, sys\nprint(sys.argv, os.getcwd())\n',
                     ctype='text/x-python')
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b"['/script'] /\n")
        self.assertEqual(r.headers['Content-Type'], 'text/plain')

    def test_script_on_object(self):
        """Requests.md, POST any other file,
        /version/account/container/object: the object is stdin."""
        self.proxy.put('AUTH_me/c/in.txt', b'hello object\n', 'text/plain')
        r = self.req('/v1/AUTH_me/c/in.txt', ctype='text/plain',
                     body=b'#!python3 -S\nimport sys\n'
                     b'print(sys.stdin.read().upper(), end="")\n')
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b'HELLO OBJECT\n')
        self.assertFalse(self.swift_saw('POST', '/v1/AUTH_me/c/in.txt'))

    def test_bad_scripts(self):
        """Requests.md: a script must start with #!; a bad interpreter is
        refused (400 with a message), nothing reaches Swift."""
        for body in (b'print(1)\n', b'#!\n', b'#! zvm://a:b\n'):
            r = self.req('/v1/AUTH_me', body=body, ctype='text/plain')
            self.assertEqual(r.status_int, 400, body)
            self.assertTrue(r.body.strip())
        self.assertFalse(self.swift_saw('POST', '/v1/AUTH_me'))

    def test_job_or_image_on_object_refused(self):
        """Requests.md: a job or an image runs only on /version/account;
        on an object path: 400, and the object is untouched."""
        self.proxy.put('AUTH_me/c/o', b'keep', 'text/plain')
        for ct, body in (('application/json', b'[]'),
                         ('application/x-tar', tar_bytes({'a': b'1'}))):
            r = self.req('/v1/AUTH_me/c/o', body=body, ctype=ct)
            self.assertEqual(r.status_int, 400, ct)
            self.assertIn(b'/v1/<account>', r.body)
        self.assertEqual(self.proxy.objects['AUTH_me/c/o'],
                         (b'keep', 'text/plain'))

    def test_never_reaches_swift(self):
        """CONTRACT decision 10 (issue 14): X-Zerovm-Execute on any
        method and path is answered by the filter, never by Swift."""
        self.proxy.put('AUTH_me/c/o', b'keep', 'text/plain')
        for method, path in (('GET', '/v1/AUTH_me'), ('PUT', '/v1/AUTH_me/c/o'),
                             ('DELETE', '/v1/AUTH_me/c/o'),
                             ('HEAD', '/v1/AUTH_me/c'),
                             ('POST', '/v1/AUTH_me/c'), ('POST', '/info')):
            self.proxy.calls = []
            r = self.req(path, method=method, body=b'x', ctype='text/plain')
            self.assertIn(r.status_int, (400, 501), (method, path))
            self.assertNotIn('X-Passed', r.headers)
            self.assertFalse(self.swift_saw(method, path), (method, path))
        self.assertEqual(self.proxy.objects['AUTH_me/c/o'][0], b'keep')

    def test_post_needs_account_rights(self):
        """Authorization: running a POSTed job needs the rights of an
        account POST (401 anonymous, 403 another user)."""
        r = self.req('/v1/AUTH_me', body=b'#!python3\n', ctype='text/plain',
                     user=None)
        self.assertEqual(r.status_int, 401)
        r = self.req('/v1/AUTH_me/c/o', body=b'#!python3\n',
                     ctype='text/plain', user='AUTH_other')
        self.assertEqual(r.status_int, 403)


class SourceTest(Base):
    def test_source_job_payload(self):
        """Requests.md, X-Zerovm-Source: the job is read from the object
        (by its Content-Type); the POST body goes to a path-less stdin."""
        self.proxy.put('AUTH_me/apps/echo.json', json.dumps(ECHO).encode(),
                       'application/json')
        r = self.req('/v1/AUTH_me?q=1', body=b'the payload',
                     ctype='text/plain',
                     headers={'X-Zerovm-Source': 'swift://./apps/echo.json'})
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b"got 'the payload' POST /AUTH_me q=1\n")

    def test_source_image(self):
        """Requests.md, X-Zerovm-Source: an image (tar with
        boot/system.map) read from the object."""
        job = pyjob('print(open("/hello.txt").read(), end="")',
                    [{'name': 'stdout'}])
        self.proxy.put('AUTH_me/apps/h.zapp', tar_bytes({
            'boot/system.map': json.dumps(job).encode(),
            'hello.txt': b'from the image\n'}), 'application/x-tar')
        r = self.req('/v1/AUTH_me', body=b'', headers={
            'X-Zerovm-Source': 'swift://AUTH_me/apps/h.zapp'})
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b'from the image\n')

    def test_source_script(self):
        """Requests.md, X-Zerovm-Source: a script object (any other
        Content-Type)."""
        self.proxy.put('AUTH_me/apps/s.py', b'#!python3\nprint("script")\n',
                       'text/x-python')
        r = self.req('/v1/AUTH_me', headers={
            'X-Zerovm-Source': 'swift://./apps/s.py'})
        self.assertEqual((r.status_int, r.body), (200, b'script\n'))

    def test_source_errors(self):
        """X-Zerovm-Source: not a swift:// URL 400; missing 404 naming it;
        someone else's object: the proxy's 403."""
        r = self.req('/v1/AUTH_me', headers={'X-Zerovm-Source': '/a/b/c'})
        self.assertEqual(r.status_int, 400)
        r = self.req('/v1/AUTH_me', headers={
            'X-Zerovm-Source': 'swift://./apps/nope'})
        self.assertEqual(r.status_int, 404)
        self.assertIn(b'swift://AUTH_me/apps/nope', r.body)
        self.proxy.put('AUTH_x/apps/j.json', b'[]', 'application/json')
        r = self.req('/v1/AUTH_me', headers={
            'X-Zerovm-Source': 'swift://AUTH_x/apps/j.json'})
        self.assertEqual(r.status_int, 403)


class OpenTest(Base):
    def zapp(self, key='AUTH_me/apps/echo.zapp', ctype='application/x-tar'):
        self.proxy.put(key, tar_bytes({
            'boot/system.map': json.dumps(ECHO).encode()}), ctype)

    def test_open_zapp_get_and_post(self):
        """RESTServices.md, Open requests and Handling POST: the zapp's
        boot/system.map runs; a path-less stdin reads the request body;
        CGI REQUEST_METHOD, PATH_INFO, QUERY_STRING."""
        self.zapp()
        r = self.req('/open/AUTH_me/apps/echo.zapp?select=1', method='GET',
                     execute=None)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body,
                         b"got '' GET /AUTH_me/apps/echo.zapp select=1\n")
        r = self.req('/open/AUTH_me/apps/echo.zapp', method='POST',
                     execute=None, body=b'[3, 1, 2]',
                     ctype='application/json')
        self.assertEqual(r.body,
                         b"got '[3, 1, 2]' POST /AUTH_me/apps/echo.zapp \n")

    def test_open_execute_header(self):
        """RESTServices.md: X-Zerovm-Execute open/1.0 on the storage URL
        is the same as /open/..."""
        self.zapp()
        r = self.req('/v1/AUTH_me/apps/echo.zapp', method='PUT',
                     execute='open/1.0', body=b'x')
        self.assertEqual(r.body,
                         b"got 'x' PUT /AUTH_me/apps/echo.zapp \n")
        self.assertFalse(self.swift_saw('PUT', '/v1/AUTH_me/apps/echo.zapp'))

    def test_open_template(self):
        """Requests.md, GET with version open: the object's Content-Type
        names /version/account/.zvm/<content-type>/config, a template
        filled with the query and {.object_path}; cached 60 s."""
        self.proxy.put('AUTH_me/docs/a.pdf', b'%PDF-1.4 abc', 'application/pdf')
        tpl = json.dumps(pyjob(
            'import sys;print(sys.argv[1:], sys.stdin.read())',
            [{'name': 'stdin', 'path': '{.object_path}'},
             {'name': 'stdout', 'content_type': 'text/x-{.fmt=plain}'}]))
        tpl = tpl.replace('-c ', '-c ', 1)
        job = json.loads(tpl)
        job[0]['exec']['args'] += ' {.format=xml}'
        self.proxy.put('AUTH_me/.zvm/application/pdf/config',
                       json.dumps(job).encode(), 'application/json')
        r = self.req('/open/AUTH_me/docs/a.pdf?attr=val&format=pdf',
                     method='GET', execute=None)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b"['pdf'] %PDF-1.4 abc\n")
        self.assertEqual(r.headers['Content-Type'], 'text/x-plain')
        r = self.req('/open/AUTH_me/docs/a.pdf?fmt=csv', method='GET',
                     execute=None)
        self.assertEqual(r.body, b"['xml'] %PDF-1.4 abc\n")
        self.assertEqual(r.headers['Content-Type'], 'text/x-csv')
        cfg = [c for c in self.proxy.calls
               if c[1] == '/v1/AUTH_me/.zvm/application/pdf/config']
        self.assertEqual(len(cfg), 1)     # the second came from the cache

    def test_open_nexe(self):
        """Requests.md: an application/x-nexe object runs itself (here: a
        host executable), query args and content_type."""
        self.proxy.put('AUTH_me/bin/hi.nexe',
                       b'#!/bin/sh\necho "args: $*"\n', 'application/x-nexe')
        r = self.req('/open/AUTH_me/bin/hi.nexe?args=a+b&content_type='
                     'text/csv', method='GET', execute=None)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b'args: a b\n')
        self.assertEqual(r.headers['Content-Type'], 'text/csv')

    def test_open_no_application(self):
        """Requests.md / ZeroCloud: no config and not runnable -> 404 'No
        application registered for <content-type>'; a missing object 404;
        another method than GET on a non-zapp 501."""
        self.proxy.put('AUTH_me/docs/a.pdf', b'%PDF', 'application/pdf')
        r = self.req('/open/AUTH_me/docs/a.pdf', method='GET', execute=None)
        self.assertEqual(r.status_int, 404)
        self.assertIn(b'No application registered for application/pdf',
                      r.body)
        r = self.req('/open/AUTH_me/docs/nope', method='GET', execute=None)
        self.assertEqual(r.status_int, 404)
        r = self.req('/open/AUTH_me/docs/a.pdf', method='POST', execute=None)
        self.assertEqual(r.status_int, 501)
        r = self.req('/open-with/AUTH_me/docs/a.pdf', method='GET',
                     execute=None)
        self.assertEqual(r.status_int, 501)

    def test_open_authorization(self):
        """/open needs read access to the object (as the user): another
        user 403, anonymous 401; anonymous on a public container works."""
        self.zapp()
        r = self.req('/open/AUTH_me/apps/echo.zapp', method='GET',
                     execute=None, user='AUTH_x')
        self.assertEqual(r.status_int, 403)
        r = self.req('/open/AUTH_me/apps/echo.zapp', method='GET',
                     execute=None, user=None)
        self.assertEqual(r.status_int, 401)
        self.zapp('AUTH_me/pub/echo.zapp')
        r = self.req('/open/AUTH_me/pub/echo.zapp', method='GET',
                     execute=None, user=None)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b"got '' GET /AUTH_me/pub/echo.zapp \n")


class ApiTest(Base):
    def test_api_endpoint(self):
        """RESTServices.md, Api requests: the zapp of the container's
        X-Container-Meta-Rest-Endpoint runs; PATH_INFO is
        /<account>/<container>/<path>, QUERY_STRING the query."""
        self.proxy.put('AUTH_me/myapp/app.zapp', tar_bytes({
            'boot/system.map': json.dumps(ECHO).encode()}),
            'application/x-tar')
        self.proxy.meta['AUTH_me/my-api'] = {
            'X-Container-Meta-Rest-Endpoint':
            'swift://AUTH_me/myapp/app.zapp'}
        r = self.req('/api/AUTH_me/my-api/some/path/info?a=1&b=2',
                     method='GET', execute=None)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b"got '' GET /AUTH_me/my-api/some/path/info"
                         b" a=1&b=2\n")
        r = self.req('/v1/AUTH_me/my-api/x', method='DELETE',
                     execute='api/1.0')
        self.assertEqual(r.body, b"got '' DELETE /AUTH_me/my-api/x \n")

    def test_api_json_endpoint(self):
        """RESTServices.md: for api requests a JSON job works too."""
        self.proxy.put('AUTH_me/myapp/echo.json', json.dumps(ECHO).encode(),
                       'application/json')
        self.proxy.meta['AUTH_me/j-api'] = {
            'X-Container-Meta-Rest-Endpoint': 'swift://AUTH_me/myapp/echo.json'}
        r = self.req('/api/AUTH_me/j-api/p', method='PUT', execute=None,
                     body=b'put data')
        self.assertEqual(r.body, b"got 'put data' PUT /AUTH_me/j-api/p \n")

    def test_api_no_endpoint(self):
        """ZeroCloud: no endpoint configured -> 404 naming the container;
        no container 404."""
        self.proxy.put('AUTH_me/plain/o', b'x')
        r = self.req('/api/AUTH_me/plain/x', method='GET', execute=None)
        self.assertEqual(r.status_int, 404)
        self.assertIn(b'No API endpoint configured for container plain',
                      r.body)
        r = self.req('/api/AUTH_me/nocont/x', method='GET', execute=None)
        self.assertEqual(r.status_int, 404)


class ChainTest(Base):
    def test_chain_message_http(self):
        """Chaining.md, message/http: the first job answers a JSON job with
        X-Zerovm-Execute; the second runs and answers; the payload went to
        the job that reads a path-less stdin."""
        child = pyjob('import sys;print("child got", sys.stdin.read())',
                      [{'name': 'stdin'}, {'name': 'stdout'}], name='child')
        body = json.dumps(child)
        code = ('import sys;b=%r;sys.stdout.write("HTTP/1.1 200 OK\\r\\n'
                'Content-Type: application/json\\r\\nX-Zerovm-Execute: 1.0'
                '\\r\\nContent-Length: %%d\\r\\n\\r\\n%%s" %% (len(b), b))'
                % body)
        parent = pyjob(code, [{'name': 'stdout',
                               'content_type': 'message/http'}],
                       name='parent')
        self.proxy.put('AUTH_me/apps/parent.json',
                       json.dumps(parent).encode(), 'application/json')
        r = self.req('/v1/AUTH_me', body=b'payload!', ctype='text/plain',
                     headers={'X-Zerovm-Source': 'swift://./apps/parent.json'})
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(r.body, b'child got payload!\n')
        self.assertEqual(r.headers['X-Nexe-System'], 'child')
        self.assertRegex(r.headers['X-Chain-Total-Time'], r'^\d+\.\d{3}$')

    def test_chain_message_cgi_to_itself_stops(self):
        """Chaining.md: the chain ends after chain_timeout; the last
        response answers."""
        code = ('import os,sys,json;j=json.loads(os.environ["J"]);'
                'j[0]["exec"]["env"]={"J": os.environ["J"]};'
                'sys.stdout.write("Status: 200 OK\\nContent-Type: '
                'application/json\\nX-Zerovm-Execute: 1.0\\n\\n"'
                '+json.dumps(j))')
        job = pyjob(code, [{'name': 'stdout',
                            'content_type': 'message/cgi'}], name='loop')
        job[0]['exec']['env'] = {'J': json.dumps(job)}
        app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                chain_timeout='1.5')(self.proxy)
        self.app = app
        t0 = time.time()
        r = self.req('/v1/AUTH_me', body=job, ctype='application/json')
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(json.loads(r.body)[0]['name'], 'loop')
        self.assertGreaterEqual(float(r.headers['X-Chain-Total-Time']), 1.5)


class CgiEnvTest(Base):
    def test_node_sees_cgi_not_secrets(self):
        """CGIEnvironment.md: the node's environment has the request vars;
        the token does not reach it (CONTRACT decision 11)."""
        job = pyjob('import os,json;print(json.dumps(dict(os.environ)))',
                    [{'name': 'stdout'}])
        r = self.req('/v1/AUTH_me?x=y', body=job, ctype='application/json',
                     headers={'Accept': 'text/html', 'Cookie': 'sess=1'})
        self.assertEqual(r.status_int, 200, r.body)
        env = json.loads(r.body)
        self.assertEqual(env['REQUEST_METHOD'], 'POST')
        self.assertEqual(env['QUERY_STRING'], 'x=y')
        self.assertEqual(env['HTTP_ACCEPT'], 'text/html')
        self.assertEqual(env['SERVER_SOFTWARE'], 'zerocloud')
        self.assertNotIn(b'tok-AUTH_me', r.body)
        self.assertNotIn('HTTP_COOKIE', env)


if __name__ == '__main__':
    unittest.main()
