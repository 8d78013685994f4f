"""The execution side and the answer of a job, one test per documented rule.

Each test names the document and section it checks: ZeroCloud's
doc/Servlets.md, Response.md, CGIEnvironment.md, Chaining.md, and the
original zpm's doc/zapp-yaml.rst. The filter runs in front of a fake proxy
(objects with their headers, listings, HEAD) and the nodes are real bwrap
runs.
"""
import hashlib
import json
import os
import tempfile
import time
import types
import unittest
from urllib.parse import unquote

from swift.common.swob import Request, Response
from swift.common.utils import split_path

from zerocloud_dev import response as R
from zerocloud_dev import runner

from tests.test_middleware import Base, authorize, py, tar_bytes


class ObjectProxy(object):
    """Swift as far as a job needs it: objects with Content-Type, Etag,
    X-Timestamp and X-Object-Meta-*, GET/HEAD/PUT, container and account
    listings; every request authorized like proxy-server does."""

    def __init__(self):
        self.objects = {}    # 'a/c/o' -> (body, headers)
        self.calls = []

    def put(self, key, body, ctype='application/octet-stream', **meta):
        h = {'Content-Type': ctype,
             'Etag': hashlib.md5(body).hexdigest(),
             'X-Timestamp': '%.5f' % time.time()}
        for k, v in meta.items():
            h['X-Object-Meta-' + k] = v
        self.objects[key] = (body, h)

    def body(self, key):
        return self.objects[key][0]

    def __call__(self, env, start_response):
        req = Request(env)
        self.calls.append((req.method, req.path))
        if 'swift.authorize' in env:
            denied = env['swift.authorize'](req)
            if denied:
                return denied(env, start_response)
        ver, a, c, o = split_path(req.path, 1, 4, True)
        key = '/'.join(x for x in (a, c, o) if x)
        if req.method == 'PUT' and o:
            h = {k: v for k, v in req.headers.items()
                 if k.lower() == 'content-type' or
                 k.lower().startswith('x-object-meta-')}
            body = req.body
            h['Etag'] = hashlib.md5(body).hexdigest()
            h['X-Timestamp'] = '%.5f' % time.time()
            self.objects[key] = (body, h)
            resp = Response(status=201)
        elif req.method in ('GET', 'HEAD') and o:
            if key not in self.objects:
                resp = Response(status=404)
            else:
                body, h = self.objects[key]
                resp = Response(body=body, headers=h)
        elif req.method == 'GET':
            prefix = req.params.get('prefix', '')
            marker = req.params.get('marker', '')
            if c:
                names = sorted(k.split('/', 2)[2] for k in self.objects
                               if k.startswith(a + '/' + c + '/'))
            else:
                names = sorted(set(k.split('/')[1] for k in self.objects
                                   if k.startswith(a + '/')))
            names = [n for n in names if n.startswith(prefix) and n > marker]
            resp = Response(body=json.dumps(
                [{'name': n} for n in names[:2]]).encode())
        else:
            resp = Response(status=204)
        return resp(env, start_response)


class JobBase(Base):
    conf = {'timeout': '20', 'log_name': 'zc-test'}

    def setUp(self):
        Base.setUp(self)
        self.proxy = ObjectProxy()
        from zerocloud_dev import middleware as mw
        self.app = mw.filter_factory({}, **self.conf)(self.proxy)

    def run_jobreq(self, job, payload=None, image=None, cgi=None):
        """run_job as the request forms call it, with a JobRequest."""
        work = tempfile.mkdtemp(prefix='zc-', dir=self.app.work_root)
        try:
            pl = None
            if payload is not None:
                pl = os.path.join(work, 'payload')
                with open(pl, 'wb') as f:
                    f.write(payload)
            jr = types.SimpleNamespace(job=job, image=image, payload=pl,
                                       payload_type='text/plain',
                                       cgi=cgi or {}, source=None)
            req = Request.blank('/v1/AUTH_me', method='POST', environ={
                'swift.authorize': authorize, 'REMOTE_USER': 'AUTH_me'},
                headers={'X-Auth-Token': 'tok'})
            resp = self.app.run_job(req, 'AUTH_me', work, jr)
            resp.body   # read before the job directory goes
            return resp
        finally:
            import shutil
            shutil.rmtree(work, ignore_errors=True)


def stderr_items(resp):
    return [unquote(i) for i in resp.headers['X-Nexe-Stderr'].split(',')]


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class ImageAndExecTest(JobBase):
    def test_zpm_hello_image_at_root(self):
        """zpm doc/zapp-yaml.rst, "The zapp.yaml File": the hello example
        (path file://python2.7:python, args /hello.py) finds /hello.py:
        the image is the node's root filesystem (Servlets.md, device
        `image`); /zapp still reaches the same tree."""
        job = [{'name': 'hello',
                'exec': {'path': 'file://python2.7:python',
                         'args': '/hello.py ZeroVM'},
                'devices': [{'name': 'python2.7'}, {'name': 'stdout'}]}]
        img = tar_bytes({
            'hello.py': b'import os, sys\n'
                        b'print("Hello, %s! cwd=%s same=%s" % (sys.argv[1], '
                        b'os.getcwd(), os.path.samefile("/hello.py", '
                        b'"/zapp/hello.py")))\n',
            'boot/system.map': json.dumps(job).encode()})
        resp = self.post(img, ctype='application/x-tar')
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.headers['X-Nexe-Status'], 'ok',
                         resp.headers.get('X-Nexe-Stderr'))
        self.assertEqual(resp.body, b'Hello, ZeroVM! cwd=/ same=True\n')
        self.assertNotIn('X-Nexe-Stderr', resp.headers)

    def test_relative_exec_path_user_image_first(self):
        """Servlets.md rule 11: a relative exec path is looked up in the
        `image` device first (then the system images): `prog` runs as
        /prog, from the image's root."""
        job = [{'name': 'r', 'exec': {'path': 'prog', 'args': 'x'},
                'devices': [{'name': 'stdout'}]}]
        img = tar_bytes({'prog': b'#!/bin/sh\necho "run as $0 with $1"\n',
                         'boot/system.map': json.dumps(job).encode()})
        resp = self.post(img, ctype='application/x-tar')
        self.assertEqual(resp.status_int, 200, resp.body)
        # (a #! script's $0 is the path the kernel ran: the image root)
        self.assertEqual(resp.body, b'run as /prog with x\n')

    def test_relative_exec_path_then_system_images(self):
        """Servlets.md rule 11: a relative exec path the image does not have
        is run from the node's system image device."""
        job = [{'name': 's', 'exec': {'path': 'python3',
                                      'args': '-c print(42)'},
                'devices': [{'name': 'python3'}, {'name': 'stdout'}]}]
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body, b'42\n')

    def test_env_number_accepted(self):
        """Servlets.md rule 8 (exec.env) as zpm writes it: `env: {BAZ: 5}`
        runs, the node sees the string "5"; HOME is / (the image root)."""
        job = [py('e', 'import os; print(os.environ["BAZ"], '
                       'os.environ["HOME"])', devices=[{'name': 'stdout'}])]
        job[0]['exec']['env'] = {'BAZ': 5}
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body, b'5 /\n')


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class StderrTest(JobBase):
    def test_failed_node_stderr_tail(self):
        """Response.md (X-Nexe-Retcode; stderr without a path "sent in the
        HTTP response", Servlets.md's sort example): X-Nexe-Stderr carries,
        per node, the tail of a failed node's stderr percent-encoded,
        whatever its stderr device: none, no path, or a path. Nodes that
        succeeded have an empty item."""
        boom = ('import sys, traceback\n'
                'def inner(): return {}["missing"]\n'
                'try: inner()\n'
                'except KeyError:\n'
                '    traceback.print_exc(); sys.exit(2)')
        job = [py('ok', 'print("fine")', devices=[{'name': 'stdout'}]),
               py('nodev', boom),
               py('stored', boom, devices=[
                   {'name': 'stderr', 'path': 'swift://./logs/err'}]),
               py('nopath', boom, devices=[{'name': 'stderr'}])]
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.headers['X-Nexe-Retcode'], '0,2,2,2')
        items = stderr_items(resp)
        self.assertEqual(len(items), 4)
        self.assertEqual(items[0], '')
        for it in items[1:]:
            self.assertTrue(it.startswith('Traceback (most recent call '
                                          'last):'), it)
            self.assertIn('in inner', it)
            self.assertTrue(it.endswith("KeyError: 'missing'\n"), it)
        self.assertIn(b'KeyError', self.proxy.body('AUTH_me/logs/err'))
        # nopath's stderr is also its immediate channel
        self.assertTrue(resp.body.startswith(b'fine\nTraceback'))
        self.assertTrue(resp.body.endswith(b"KeyError: 'missing'\n"))

    def test_stderr_only_immediate_channel(self):
        """Servlets.md rule 2 and the sort example ("errors will be sent in
        HTTP response"): stderr without a path is the node's immediate
        channel when it is its first one."""
        resp = self.post([py('e', 'import sys; sys.stderr.write("oops")',
                             devices=[{'name': 'stderr'}])])
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body, b'oops')
        self.assertNotIn('X-Nexe-Stderr', resp.headers)   # it succeeded


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class WildcardTest(JobBase):
    SORT = 'import sys; sys.stdout.write("".join(sorted(sys.stdin)))'

    def test_sort_example_output_naming(self):
        """Servlets.md, Examples, "Sort files in /data/binary*.data": each
        output object gets the characters the input's `*` matched
        (binary_log_345.data -> sorted_log_345.data); stderr without a path
        comes back in the response."""
        for k, data in (('_log_345', b'b\na\n'), ('_x', b'z\ny\n')):
            self.proxy.put('AUTH_me/data/binary%s.data' % k, data)
        self.proxy.put('AUTH_me/data/other', b'no')
        job = [py('sort', self.SORT, devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_me/data/binary*.data'},
            {'name': 'stdout', 'path': 'swift://AUTH_me/data/sorted*.data'},
            {'name': 'stderr'}])]
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.headers['X-Nexe-System'], 'sort-1,sort-2')
        self.assertEqual(self.proxy.body('AUTH_me/data/sorted_log_345.data'),
                         b'a\nb\n')
        self.assertEqual(self.proxy.body('AUTH_me/data/sorted_x.data'),
                         b'y\nz\n')

    def test_fixed_output_under_wildcard_refused(self):
        """Servlets.md rule 5: with a wildcard in stdin's path, stdout must
        have one too (or no path): a fixed path is refused (400), nothing
        runs or is written."""
        self.proxy.put('AUTH_me/data/binary1.data', b'1')
        self.proxy.put('AUTH_me/data/binary2.data', b'2')
        resp = self.post([py('sort', self.SORT, devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_me/data/binary*.data'},
            {'name': 'stdout', 'path': 'swift://AUTH_me/data/one.out'}])])
        self.assertEqual(resp.status_int, 400, resp.body)
        self.assertIn('wildcard', resp.body.decode())
        self.assertNotIn('AUTH_me/data/one.out', self.proxy.objects)


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class OutputsTest(JobBase):
    def test_message_cgi_immediate_response(self):
        """Servlets.md rule 13 (message/cgi, no path): the CGI head is
        parsed: `Status: 201` is the response status, its Content-Type and
        X-Object-Meta-* are response headers, the rest is the body."""
        out = ('import sys; sys.stdout.write("Status: 201 Created\\r\\n'
               'Content-Type: text/html\\r\\nX-Object-Meta-Foo: bar\\r\\n'
               '\\r\\n<p>made</p>")')
        resp = self.post([py('cgi', out, devices=[
            {'name': 'stdout', 'content_type': 'message/cgi'}])])
        self.assertEqual(resp.status_int, 201, resp.body)
        self.assertEqual(resp.headers['Content-Type'], 'text/html')
        self.assertEqual(resp.headers['X-Object-Meta-Foo'], 'bar')
        self.assertEqual(resp.body, b'<p>made</p>')
        self.assertEqual(resp.headers['Content-Length'], '11')

    def test_chaining_headers_visible(self):
        """Chaining.md, "How to start a chain?": a message/http immediate
        channel's X-Zerovm-Execute and Content-Type reach the response
        (with the payload's Content-Length) so that the chain sees them."""
        out = ('import sys; j = "[]"; sys.stdout.write("HTTP/1.1 200 OK\\n'
               'Content-Type: application/json\\nX-Zerovm-Execute: 1.0\\n'
               'Content-Length: 2\\n\\n" + j)')
        resp = self.run_jobreq([py('parent', out, devices=[
            {'name': 'stdout', 'content_type': 'message/http'}])])
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.headers['X-Zerovm-Execute'], '1.0')
        self.assertEqual(resp.headers['Content-Type'], 'application/json')
        self.assertEqual(resp.headers['Content-Length'], '2')
        self.assertEqual(resp.body, b'[]')

    def test_message_http_stored_object(self):
        """Servlets.md rule 13 (message/http with a path): the status line
        and head are parsed; the object is stored with the head's
        Content-Type and X-Object-Meta-*, without the head."""
        out = ('import sys; sys.stdout.write("HTTP/1.1 200 OK\\n'
               'Content-Type: text/csv\\nX-Object-Meta-Rows: 2\\n\\na,1\\nb,2\\n")')
        resp = self.post([py('nph', out, devices=[
            {'name': 'stdout', 'path': 'swift://./res/t.csv',
             'content_type': 'message/http'}])])
        self.assertEqual(resp.status_int, 200, resp.body)
        body, h = self.proxy.objects['AUTH_me/res/t.csv']
        self.assertEqual(body, b'a,1\nb,2\n')
        self.assertEqual(h['Content-Type'], 'text/csv')
        self.assertEqual(h['X-Object-Meta-Rows'], '2')

    def test_unparsable_message_sent_as_is(self):
        """Servlets.md rule 13, ZeroCloud's objectquery (an invalid
        message/http is logged and used as it is)."""
        resp = self.post([py('bad', 'print("no head here")', devices=[
            {'name': 'stdout', 'content_type': 'message/http'}])])
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(resp.body, b'no head here\n')

    def test_meta_and_content_type_on_stored_objects(self):
        """Servlets.md rules 12 and 14: a write device's content_type and
        meta go with the object's PUT."""
        resp = self.post([py('m', 'print("data")', devices=[
            {'name': 'stdout', 'path': 'swift://./res/m.txt',
             'content_type': 'text/x-mine',
             'meta': {'Author': 'me', 'n': '1'}}])])
        self.assertEqual(resp.status_int, 200, resp.body)
        body, h = self.proxy.objects['AUTH_me/res/m.txt']
        self.assertEqual(body, b'data\n')
        self.assertEqual(h['Content-Type'], 'text/x-mine')
        self.assertEqual(h['X-Object-Meta-Author'], 'me')
        self.assertEqual(h['X-Object-Meta-N'], '1')

    def test_meta_on_immediate_response(self):
        """Servlets.md rule 14: meta of a device without a path is sent
        with the HTTP response."""
        resp = self.post([py('m', 'print("x")', devices=[
            {'name': 'stdout', 'meta': {'kind': 'test'}}])])
        self.assertEqual(resp.headers["X-Object-Meta-Kind"], "test")
        self.assertEqual(resp.body, b"x\n")

    def test_min_size(self):
        """Servlets.md rule 20: a write channel with fewer bytes than
        min_size is neither stored nor returned."""
        resp = self.post([
            py('a', 'print("short")', devices=[
                {'name': 'stdout', 'path': 'swift://./res/a',
                 'min_size': 100}]),
            py('b', 'print("short")', devices=[
                {'name': 'stdout', 'min_size': 100}]),
            py('c', 'print("long enough")', devices=[
                {'name': 'stdout', 'path': 'swift://./res/c',
                 'min_size': 5}])])
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertNotIn('AUTH_me/res/a', self.proxy.objects)
        self.assertEqual(self.proxy.body('AUTH_me/res/c'), b'long enough\n')
        self.assertEqual(resp.body, b'')

    def test_concatenated_stdouts(self):
        """ZeroCloud's proxy (create_final_response) and Servlets.md rule
        12: the immediate channels of several nodes are concatenated in
        node order, with the first part's Content-Type (no tar)."""
        resp = self.post([py('a', 'import os; print(os.environ["SCRIPT_NAME"'
                                  '])', devices=[
                                      {'name': 'stdout',
                                       'content_type': 'text/x-first'}],
                             count=3)])
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body, b'a-1\na-2\na-3\n')
        self.assertEqual(resp.headers['Content-Type'], 'text/x-first')

    def test_first_immediate_channel_per_node(self):
        """ZeroCloud's proxy (process_server_response): a node's first
        channel without a path (device order) is its part; a later one is
        not sent."""
        resp = self.post([py('t', 'import sys; print("out"); '
                                  'sys.stderr.write("err")', devices=[
                                      {'name': 'stderr'},
                                      {'name': 'stdout'}])])
        self.assertEqual(resp.body, b'err')

    def test_response_headers(self):
        """Response.md: Etag is the md5 of the time (a new one per job);
        X-Nexe-Colocated is 0 per node, the same hex hash for nodes
        sharing a `location` (Servlets.md rule 21)."""
        job = [py('a', 'pass', location='rack'), py('b', 'pass'),
               py('c', 'pass', location='rack')]
        r1 = self.post(job)
        r2 = self.post(job)
        r2.body
        self.assertEqual(r1.status_int, 200, r1.body)
        self.assertRegex(r1.headers['Etag'].strip('"'), '^[0-9a-f]{32}$')
        self.assertNotEqual(r1.headers['Etag'], r2.headers['Etag'])
        col = r1.headers['X-Nexe-Colocated'].split(',')
        self.assertEqual(col[1], '0')
        self.assertEqual(col[0], col[2])
        self.assertRegex(col[0], '^[0-9a-f]{40}$')


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class CgiEnvTest(JobBase):
    SHOW = ('import os, json; print(json.dumps({k: v for k, v in '
            'os.environ.items() if k.startswith(("LOCAL_", "SCRIPT_", '
            '"REQUEST_"))}))')

    def test_local_vars(self):
        """CGIEnvironment.md, "Non-standard local file vars": LOCAL_* for
        the node's first swift:// readable device; SCRIPT_NAME and
        SCRIPT_FILENAME ("Request-based vars"); exec.env wins."""
        self.proxy.put('AUTH_me/c/in.txt', b'12345', 'text/x-in',
                       Color='red')
        job = [py('l', self.SHOW, devices=[
            {'name': 'stdin', 'path': 'swift://./c/in.txt'},
            {'name': 'stdout'}])]
        job[0]['exec']['env'] = {'LOCAL_CONTENT_TYPE': 'mine'}
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        env = json.loads(resp.body)
        h = self.proxy.objects['AUTH_me/c/in.txt'][1]
        self.assertEqual(env['LOCAL_OBJECT'], 'on')
        self.assertEqual(env['LOCAL_PATH_INFO'], '/AUTH_me/c/in.txt')
        self.assertEqual(env['LOCAL_CONTENT_LENGTH'], '5')
        self.assertEqual(env['LOCAL_CONTENT_TYPE'], 'mine')
        self.assertEqual(env['LOCAL_HTTP_ETAG'], h['Etag'])
        self.assertEqual(env['LOCAL_HTTP_X_TIMESTAMP'], h['X-Timestamp'])
        self.assertEqual(env['LOCAL_DOCUMENT_ROOT'], '/dev/stdin')
        self.assertEqual(env['LOCAL_HTTP_X_OBJECT_META_COLOR'], 'red')
        self.assertEqual(env['SCRIPT_NAME'], 'l')
        self.assertEqual(env['SCRIPT_FILENAME'], 'file://python3:python3')

    def test_attach_device_local_vars(self):
        """Servlets.md rule 17 (attach) and CGIEnvironment.md: with
        `attach: <device>`, LOCAL_* describe that device's object."""
        self.proxy.put('AUTH_me/c/a', b'a')
        self.proxy.put('AUTH_me/c/out', b'old', 'text/x-old')
        job = [py('l', self.SHOW, devices=[
            {'name': 'stdin', 'path': 'swift://./c/a'},
            {'name': 'output', 'path': 'swift://./c/out'},
            {'name': 'stdout'}], attach='output')]
        resp = self.post(job)
        self.assertEqual(resp.status_int, 200, resp.body)
        env = json.loads(resp.body)
        self.assertEqual(env['LOCAL_PATH_INFO'], '/AUTH_me/c/out')
        self.assertEqual(env['LOCAL_CONTENT_TYPE'], 'text/x-old')
        self.assertEqual(env['LOCAL_DOCUMENT_ROOT'], '/dev/output')

    def test_request_vars_passed(self):
        """CGIEnvironment.md, "Request-based vars": the request's variables
        (built by the request forms) reach every node."""
        resp = self.run_jobreq([py('v', self.SHOW, devices=[
            {'name': 'stdout'}])], cgi={'REQUEST_METHOD': 'POST',
                                        'REQUEST_URI': '/v1/AUTH_me'})
        self.assertEqual(resp.status_int, 200, resp.body)
        env = json.loads(resp.body)
        self.assertEqual(env['REQUEST_METHOD'], 'POST')
        self.assertEqual(env['REQUEST_URI'], '/v1/AUTH_me')


@unittest.skipUnless(runner.have_bwrap(), 'bubblewrap is not installed')
class PayloadTest(JobBase):
    def test_payload_attached_to_pathless_readable_devices(self):
        """Servlets.md rule 2: stdin, input or script without a path gets
        the request's payload (X-Zerovm-Source); the same payload goes to
        every node that has such a device; script is a file at
        /dev/script."""
        resp = self.run_jobreq([
            py('s', 'import sys; print("s", sys.stdin.read())', devices=[
                {'name': 'stdin'}, {'name': 'stdout'}], count=2),
            py('i', 'print("i", open("/dev/input").read())', devices=[
                {'name': 'input'}, {'name': 'stdout'}]),
            py('c', 'import os, stat; print("c", open("/dev/script").read(),'
                    ' stat.S_ISREG(os.stat("/dev/script").st_mode))',
               devices=[{'name': 'script'}, {'name': 'stdout'}])],
            payload=b'the body')
        self.assertEqual(resp.status_int, 200, resp.body)
        self.assertEqual(resp.body, b's the body\ns the body\ni the body\n'
                                    b'c the body True\n')


class PureTest(unittest.TestCase):
    def write(self, data):
        fd, p = tempfile.mkstemp()
        os.write(fd, data)
        os.close(fd)
        self.addCleanup(os.unlink, p)
        return p

    def test_parse_message(self):
        """Servlets.md rule 13: message/http has a status line,
        message/cgi a `Status:` header (default 200 OK); LF or CRLF."""
        st, h, off = R.parse_message(self.write(
            b'HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno'),
            nph=True)
        self.assertEqual(st, '404 Not Found')
        self.assertEqual(h, [('Content-Type', 'text/plain')])
        self.assertEqual(off, len(b'HTTP/1.0 404 Not Found\r\nContent-Type:'
                                  b' text/plain\r\n\r\n'))
        st, h, off = R.parse_message(self.write(
            b'Content-Type: a/b\nX-Zerovm-Execute: 1.0\n\n[]'), nph=False)
        self.assertEqual(st, '200 OK')
        self.assertEqual(off, len(b'Content-Type: a/b\nX-Zerovm-Execute: '
                                  b'1.0\n\n'))
        st, h, off = R.parse_message(self.write(b'Status: 302\n\n'),
                                     nph=False)
        self.assertEqual(st, '302 Found')
        self.assertEqual(h, [])
        for data, nph in ((b'hello world\n', True), (b'hello world\n', False),
                          (b'HTTP/1.1 abc\n\n', True),
                          (b'Status: x\n\n', False),
                          (b'Status: 100 Continue\n\n', False),
                          (b'Bad Header: 1\n\n', False)):
            with self.assertRaises(R.BadMessage, msg=data):
                R.parse_message(self.write(data), nph)

    def test_nexe_stderr_cap(self):
        """X-Nexe-Stderr (ours, see README): one item per node, empty for
        nodes that succeeded, at most 16 KiB in all, items cut from their
        front, never inside a %XX escape."""
        ok = {'status': 'ok', 'retcode': 0}
        bad = {'status': 'ok', 'retcode': 1}
        tails = [b'x', b'\xff' * 1024, b'a,b\n']
        h = R.nexe_stderr([ok, bad, bad], tails)
        items = h.split(',')
        self.assertEqual(items[0], '')
        self.assertEqual(unquote(items[2]), 'a,b\n')
        self.assertEqual(len(items[1]), 3 * 1024)
        h = R.nexe_stderr([bad] * 30, [b'\xff' * 1024] * 30)
        self.assertLessEqual(len(h), R.STDERR_HEADER)
        for it in h.split(','):
            self.assertTrue(it.startswith('%FF'), it[:6])
        self.assertEqual(R.stderr_tail({'stderr_tail': 'abc' * 1000}),
                         (b'abc' * 1000)[-1024:])
        # the runner's tail is text: cut at a character
        self.assertEqual(R.stderr_tail({'stderr_tail': 'x\u00e9' * 1000}),
                         ('x\u00e9' * 1000).encode()[-1023:])
