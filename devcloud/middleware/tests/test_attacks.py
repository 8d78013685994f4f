"""Regression tests of attacks on the request forms, the sandbox with the
image as the root, chaining, CGI variables and message/http parsing
(issue 14). Each docstring names the attack; the pure functions first,
then the filter in front of test_forms' fake proxy (real bwrap runs)."""
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
import unittest
from urllib.parse import quote

from zerocloud_dev import middleware as mw
from zerocloud_dev import forms, cgi, runner, tarsafe, response as respmod

from tests.test_forms import Base, pyjob


def tar_of(members):
    """members: [(name, kind, data_or_link, mode)]."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode='w') as tf:
        for name, kind, x, mode in members:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            if kind == 'file':
                ti.size = len(x)
                tf.addfile(ti, io.BytesIO(x))
                continue
            ti.type = {'sym': tarfile.SYMTYPE, 'hard': tarfile.LNKTYPE,
                       'dir': tarfile.DIRTYPE}[kind]
            ti.linkname = x or ''
            tf.addfile(ti)
    return bio.getvalue()


class PureAttackTest(unittest.TestCase):
    def test_template_object_path_is_json_escaped(self):
        """Attack: /open of an object named `x", "env": {"X": "pwn"}, "y": "`
        must not add keys to the config template's job ({.object_path} was
        inserted raw)."""
        tpl = ('[{"name": "t", "exec": {"path": "p", "args": '
               '"{.object_path}"}}]')
        url = 'swift://a/c/x", "env": {"X": "pwn"}, "y": "\\'
        job = json.loads(forms.fill_template(tpl, {}, url))
        self.assertEqual(job[0]['exec'], {'path': 'p', 'args': url})

    def test_template_query_values_cannot_inject(self):
        """Attack: query values with quotes, braces, backslashes, unicode
        and `{.object_path}` stay the one string they are put in."""
        tpl = '{"a": "{.v=d}", "b": "{.object_path}"}'
        for v in ('"}, {"x": 1', '\\', '\\"', '{.object_path}', '\u2603\n',
                  '{.v}', '\x00'):
            out = json.loads(forms.fill_template(tpl, {'v': v}, 'swift://a/c/o'))
            self.assertEqual(out, {'a': v, 'b': 'swift://a/c/o'}, v)

    def test_template_cache_key_is_per_user(self):
        """Attack: a template read by one user is not served from the cache
        to another (the key holds who asked)."""
        a = forms.identity({'REMOTE_USER': 'AUTH_a'})
        b = forms.identity({'REMOTE_USER': 'AUTH_b'})
        k = forms.identity({'HTTP_X_USER_ID': 'u', 'HTTP_X_PROJECT_ID': 'p'})
        self.assertEqual(len({a, b, k, forms.identity({})}), 4)

    def test_hard_links_count_against_unpacked_limit(self):
        """Attack: one file hard-linked many times (a few KiB of tar) is
        unpacked as copies: it counts against max_image_unpacked, else it
        fills the host's disk."""
        big = b'\0' * (1 << 20)
        members = [('big', 'file', big, 0o644)] + [
            ('l%d' % i, 'hard', 'big', 0o644) for i in range(20)]
        d = tempfile.mkdtemp()
        try:
            img = os.path.join(d, 'img.tar')
            with open(img, 'wb') as f:
                f.write(tar_of(members))
            with self.assertRaisesRegex(tarsafe.TarError, 'more than'):
                tarsafe.extract_image(img, os.path.join(d, 'root'),
                                      max_bytes=5 << 20)
            self.assertLess(sum(os.path.getsize(os.path.join(d, 'root', n))
                                for n in os.listdir(os.path.join(d, 'root'))),
                            7 << 20)
        finally:
            shutil.rmtree(d)

    def test_setuid_bits_dropped(self):
        """Attack: a setuid/setgid file in the image is unpacked without
        those bits."""
        d = tempfile.mkdtemp()
        try:
            img = os.path.join(d, 'img.tar')
            with open(img, 'wb') as f:
                f.write(tar_of([('s', 'file', b'x', 0o6755)]))
            tarsafe.extract_image(img, os.path.join(d, 'root'))
            mode = os.stat(os.path.join(d, 'root', 's')).st_mode
            self.assertFalse(mode & (stat.S_ISUID | stat.S_ISGID))
        finally:
            shutil.rmtree(d)

    def write(self, data):
        fd, p = tempfile.mkstemp()
        os.write(fd, data)
        os.close(fd)
        self.addCleanup(os.unlink, p)
        return p

    def test_message_head_with_control_characters_is_not_a_head(self):
        """Attack: message/http output smuggling headers with a bare CR
        (`Content-Type: text/html\\rSet-Cookie: x`, `X-Object-Meta-A:
        v\\rX-Nexe-Status: forged`) or a NUL in the status line or a
        header: the head does not parse and is kept as data."""
        for head in (b'HTTP/1.1 200 OK\rSet-Cookie: e=1\r\n\r\n',
                     b'HTTP/1.1 200 OK\r\nContent-Type: a\rSet-Cookie: e\r\n\r\n',
                     b'HTTP/1.1 200 OK\r\nX-Object-Meta-A: v\rX-Nexe-Status: f'
                     b'\r\n\r\n',
                     b'HTTP/1.1 200 OK\r\nX-Object-Meta-B: v\x00z\r\n\r\n'):
            with self.assertRaises(respmod.BadMessage, msg=head):
                respmod.parse_message(self.write(head + b'body'), nph=True)
        with self.assertRaises(respmod.BadMessage):
            respmod.parse_message(self.write(b'Status: 200\x0bx\n\nb'),
                                  nph=False)
        # a tab inside a value is fine
        st, h, _ = respmod.parse_message(
            self.write(b'HTTP/1.1 200 OK\r\nX-A: a\tb\r\n\r\n'), nph=True)
        self.assertEqual(h, [('X-A', 'a\tb')])

    def test_invalid_status_is_not_a_head(self):
        """Attack: message/http with a status outside 200-599 or no number
        is kept as data."""
        for head in (b'HTTP/1.1 999 X\r\n\r\n', b'HTTP/1.1 101 Up\r\n\r\n',
                     b'HTTP/1.1 abc\r\n\r\n', b'HTTP/1.1 20\r\n\r\n'):
            with self.assertRaises(respmod.BadMessage, msg=head):
                respmod.parse_message(self.write(head), nph=True)

    def test_cgi_vars_never_carry_credentials(self):
        """Attack: the token (X-Auth-Token, X-Storage-Token), Cookie,
        Authorization, X-Service-Token and the keystone identity headers
        never reach a node's environment; REMOTE_USER is passed as the
        auth middleware set it."""
        secret = 'S3CRET'
        env = {'PATH_INFO': '/v1/AUTH_a', 'REQUEST_METHOD': 'POST',
               'REMOTE_USER': 'test,test:tester,AUTH_test'}
        for h in ('X_AUTH_TOKEN', 'X_STORAGE_TOKEN', 'COOKIE',
                  'AUTHORIZATION', 'PROXY_AUTHORIZATION', 'X_SERVICE_TOKEN',
                  'X_SUBJECT_TOKEN', 'X_USER_ID', 'X_USER_NAME',
                  'X_USER_DOMAIN_ID', 'X_PROJECT_ID', 'X_PROJECT_NAME',
                  'X_PROJECT_DOMAIN_NAME', 'X_TENANT_ID', 'X_TENANT_NAME',
                  'X_TENANT', 'X_ROLES', 'X_ROLE', 'X_SERVICE_ROLES',
                  'X_SERVICE_CATALOG', 'X_IDENTITY_STATUS',
                  'X_SERVICE_IDENTITY_STATUS', 'X_DOMAIN_ID',
                  'X_IS_ADMIN_PROJECT', 'X_SYSTEM_SCOPE', 'X_TRUST_ID',
                  'X_BACKEND_STORAGE_POLICY_INDEX',
                  'X_ACCOUNT_SYSMETA_X', 'X_OBJECT_SYSMETA_X'):
            env['HTTP_' + h] = secret
        env['keystone.token_info'] = {'token': secret}
        out = cgi.request_vars(env, forms.classify(dict(
            env, HTTP_X_ZEROVM_EXECUTE='1.0')))
        self.assertNotIn(secret, json.dumps(out))
        self.assertEqual(out['REMOTE_USER'], 'test,test:tester,AUTH_test')

    def test_header_values_are_latin1(self):
        """Attack: an object name with non-Latin-1 characters in an error
        (X-Nexe-Error), a job's unicode meta or content_type: eventlet
        dropped the connection (a header must be a latin-1 str); now the
        UTF-8 bytes go out, without line breaks."""
        v = mw.hval('reading swift://a/c/nope\u2603,x\r\nSet-Cookie: y')
        v.encode('latin-1')
        self.assertNotIn('\n', v)
        self.assertNotIn('\r', v)
        self.assertEqual(v.encode('latin-1').decode('utf-8'),
                         'reading swift://a/c/nope\u2603;x  Set-Cookie: y')


class FakeNode(object):
    def __init__(self, devices):
        self.devices = devices
        self.group = {'exec': {}}
        self.name = 'n'


class BodylessStatusTest(unittest.TestCase):
    def test_204_and_304_send_no_body(self):
        """Attack: message/http `HTTP/1.1 204` followed by a whole second
        response (`HTTP/1.1 200 OK ... smuggled`): a 204/304 carries no
        body, else a keep-alive client reads it as its next response."""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        for code in (204, 304):
            p = os.path.join(d, 'out%d' % code)
            with open(p, 'wb') as f:
                f.write(b'HTTP/1.1 %d X\r\n\r\nHTTP/1.1 200 OK\r\n'
                        b'Content-Length: 5\r\n\r\nsmugg' % code)
            node = FakeNode({'stdout': {'content_type': 'message/http'}})
            outs = respmod.node_outputs(node, {'stdout': p})
            status, h, body = respmod.immediate_response(outs)
            self.assertEqual(int(status[:3]), code)
            self.assertEqual(body.length, 0)
            self.assertEqual(b''.join(body), b'')

    def test_unicode_job_meta_is_wsgi(self):
        """Attack: a job's meta value `sn\u2603w` on an immediate stdout:
        the response header is its UTF-8 bytes as a latin-1 str."""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        p = os.path.join(d, 'o')
        open(p, 'wb').close()
        node = FakeNode({'stdout': {'meta': {'k': 'sn\u2603w'},
                                    'content_type': 'text/plain; x=\u2603'}})
        status, h, body = respmod.immediate_response(
            respmod.node_outputs(node, {'stdout': p}))
        for v in h.values():
            v.encode('latin-1')
        self.assertEqual(h['X-Object-Meta-k'].encode('latin-1'),
                         'sn\u2603w'.encode('utf-8'))


# ---- through the filter ----------------------------------------------------
def root_only_host_files():
    """Files under /etc that only their owner root may read (and the
    sandbox does not hide by name)."""
    found = []
    for d, dirs, files in os.walk('/etc'):
        if d.startswith(tuple(runner.HIDE_DIRS)):
            continue
        for n in files:
            p = os.path.join(d, n)
            if p in runner.HIDE_FILES:
                continue
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_uid == 0 and \
                    st.st_mode & stat.S_IRUSR and \
                    not st.st_mode & (stat.S_IROTH | stat.S_IRGRP):
                found.append(p)
    return found


class SandboxAttackTest(Base):
    def run_probe(self, code, image=None):
        job = pyjob(code, [{'name': 'stdout'}])
        if image is None:
            return self.req('/v1/AUTH_me', body=job, ctype='application/json')
        files = dict(image)
        files['boot/system.map'] = json.dumps(job).encode()
        return self.req('/v1/AUTH_me', body=tar_of(
            [(k, 'file', v, 0o644) if isinstance(v, bytes) else (k,) + v
             for k, v in files.items()]), ctype='application/x-tar')

    def test_root_only_host_files_stay_unreadable(self):
        """Attack: read host files only root may read (e.g.
        /etc/dbconfig-common/config, /etc/security/opasswd): bwrap started
        by root made the node host uid 0, their owner. Each node now runs
        as a host uid of its own."""
        if os.geteuid() != 0:
            self.skipTest('needs root (the runner as the proxy runs it)')
        if not runner.Runner([], [], tempfile.gettempdir()
                             )._probe_unprivileged():
            self.skipTest('no unprivileged user namespaces here')
        files = root_only_host_files()[:40]
        if not files:
            self.skipTest('no root-only file under /etc on this machine')
        r = self.run_probe(
            'import json\nout={}\nfor f in %r:\n    try:\n        '
            'open(f,"rb").read(1); out[f]="READ"\n    except OSError as e:\n'
            '        out[f]=type(e).__name__\nprint(json.dumps(out))' % files)
        self.assertEqual(r.status_int, 200, r.body)
        got = json.loads(r.body)
        self.assertEqual([f for f, v in got.items() if v == 'READ'], [])

    def test_image_with_hostile_top_level_names(self):
        """Attack: an image whose top level has `etc -> usr`, `usr -> tmp`,
        `proc -> .`, `dev -> zapp`, `tmp` a file, `zapp` a symlink, `bin`
        a file, `zvm/exec/x`, a hard link, a setuid file, an escaping
        chain `y -> .`, `esc -> y/..`: the node still sees the host's
        read-only /usr and /etc, its own /tmp, /proc, /dev; it can write
        only its root, /tmp and /dev/shm; nothing is setuid."""
        image = {
            'etc': ('sym', 'usr', 0o777), 'usr': ('sym', 'tmp', 0o777),
            'proc': ('sym', '.', 0o777), 'dev': ('sym', 'zapp', 0o777),
            'tmp': b'a file', 'zapp': ('sym', 'boot', 0o777),
            'bin': b'not a dir', 'zvm/exec/x': b'#!/bin/sh\n',
            'suid': ('file', b'#!/bin/sh\nid\n', 0o4755),
            'hl': ('hard', 'suid', 0o644), 'y': ('sym', '.', 0o777),
            'esc': ('sym', 'y/..', 0o777)}
        code = '\n'.join([
            'import os, json, stat',
            'def w(p):',
            '    try:',
            '        open(p, "a").close(); return "W"',
            '    except OSError as e: return type(e).__name__',
            'r = {p: w(p) for p in ("/x", "/zapp/x2", "/tmp/x", "/dev/shm/x",',
            '     "/etc/x", "/usr/x", "/bin/x", "/proc/x", "/dev/x",',
            '     "/esc/x", "/zapp/esc/x")}',
            'r["links"] = [os.path.islink(p) for p in ("/etc", "/usr", '
            '"/proc", "/dev", "/zapp", "/tmp")]',
            'r["usr"] = os.path.isfile("/usr/bin/python3")',
            'r["etc"] = os.path.isfile("/etc/passwd")',
            'r["proc"] = os.path.isdir("/proc/self")',
            'r["suid"] = [oct(os.stat(p).st_mode) for p in ("/zapp/suid", '
            '"/zapp/hl")]',
            'print(json.dumps(r))'])
        r = self.run_probe(code, image)
        self.assertEqual(r.status_int, 200, r.body)
        got = json.loads(r.body)
        for p in ('/x', '/zapp/x2', '/tmp/x', '/dev/shm/x', '/esc/x',
                  '/zapp/esc/x'):
            self.assertEqual(got[p], 'W', p)
        for p in ('/etc/x', '/usr/x', '/bin/x', '/proc/x', '/dev/x'):
            self.assertNotEqual(got[p], 'W', p)
        self.assertEqual(got['links'], [False] * 6)
        self.assertTrue(got['usr'] and got['etc'] and got['proc'])
        for m in got['suid']:
            self.assertFalse(int(m, 8) & (stat.S_ISUID | stat.S_ISGID), m)

    def test_disk_limit_holds_for_root(self):
        """Attack: write past disk_limit into / (the image root)."""
        self.app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                     disk_limit='8M')(self.proxy)
        r = self.run_probe('f=open("/big","wb")\nfor i in range(64): '
                           'f.write(b"x"*(1<<20))', {'a': b'x'})
        self.assertEqual(r.headers['X-Nexe-Status'], 'Killed by disk limit')


    def test_untraversable_work_dir_still_runs(self):
        """Attack side effect: a work_dir others cannot traverse (0700)
        keeps bwrap as root rather than failing every node."""
        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work, True)
        self.app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                     work_dir=work)(self.proxy)
        r = self.run_probe('print("ok")')
        self.assertEqual((r.status_int, r.body), (200, b'ok\n'),
                         r.headers.get('X-Nexe-Error'))


class FormAttackTest(Base):
    def test_open_object_name_cannot_inject_into_template(self):
        """Attack: /open of an object whose name closes the template's
        string and adds `env` to the job."""
        tpl = pyjob('import os,sys;print(os.environ.get("X","-"));'
                    'print(sys.argv[1:])', [{'name': 'stdout'}])
        tpl[0]['exec']['args'] += ' {.object_path}'
        self.proxy.put('AUTH_me/.zvm/text/x-foo/config',
                       json.dumps(tpl).encode(), 'application/json')
        name = 'x", "env": {"X": "pwn"}, "y": "'
        from urllib.parse import quote
        self.proxy.put('AUTH_me/docs/' + quote(name), b'd', 'text/x-foo')
        r = self.req('/open/AUTH_me/docs/' + quote(name), method='GET',
                     execute=None)
        self.assertEqual(r.status_int, 200, r.body)
        self.assertTrue(r.body.startswith(b'-\n'), r.body)

    def test_template_cache_not_shared_across_users(self):
        """Attack: a template cached for its owner is not handed to another
        user who may read the object (public container) but not the
        template: that one is read again, as them, and refused."""
        tpl = pyjob('print("ran")', [{'name': 'stdout'}])
        self.proxy.put('AUTH_me/.zvm/text/x-foo/config',
                       json.dumps(tpl).encode(), 'application/json')
        self.proxy.put('AUTH_me/pub/doc', b'd', 'text/x-foo')
        r = self.req('/open/AUTH_me/pub/doc', method='GET', execute=None)
        self.assertEqual(r.body, b'ran\n')
        for user in ('AUTH_other', None):
            r = self.req('/open/AUTH_me/pub/doc', method='GET',
                         execute=None, user=user)
            self.assertIn(r.status_int, (401, 403), (user, r.body))
            self.assertIn(b'.zvm/text/x-foo/config', r.body)

    def test_huge_or_bad_template(self):
        """Attack: a config template larger than max_job_size (413), not
        JSON (400), not UTF-8 (400)."""
        self.app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                     max_job_size='1K')(self.proxy)
        self.proxy.put('AUTH_me/pub/doc', b'd', 'text/x-foo')
        for body, status in ((b'[' + b' ' * 4096 + b']', 413),
                             (b'{not json', 400), (b'\xff\xfe', 400)):
            self.app.templates.items.clear()
            self.proxy.put('AUTH_me/.zvm/text/x-foo/config', body,
                           'application/json')
            r = self.req('/open/AUTH_me/pub/doc', method='GET', execute=None)
            self.assertEqual(r.status_int, status, r.body)

    def test_source_other_account_container_huge(self):
        """Attack: X-Zerovm-Source at another account's object (403), at a
        container (400), at an object over max_upload_size (413)."""
        self.proxy.put('AUTH_other/priv/job.json', json.dumps(
            pyjob('print(1)', [{'name': 'stdout'}])).encode(),
            'application/json')
        r = self.req('/v1/AUTH_me', headers={
            'X-Zerovm-Source': 'swift://AUTH_other/priv/job.json'})
        self.assertEqual(r.status_int, 403, r.body)
        for src in ('swift://AUTH_me/priv', 'swift://AUTH_me/priv/',
                    'swift://AUTH_me'):
            r = self.req('/v1/AUTH_me', headers={'X-Zerovm-Source': src})
            self.assertEqual(r.status_int, 400, (src, r.body))
        self.app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                     max_upload_size='1K')(self.proxy)
        self.proxy.put('AUTH_me/apps/big', b'#!/usr/bin/python3\n' +
                       b'#' * 4096, 'text/plain')
        r = self.req('/v1/AUTH_me', headers={
            'X-Zerovm-Source': 'swift://AUTH_me/apps/big'})
        self.assertEqual(r.status_int, 413, r.body)

    def test_execute_header_leaves_objects_alone(self):
        """Attack: X-Zerovm-Execute (1.0, open/1.0, api/1.0, 2.0, empty)
        on PUT/DELETE/COPY/GET/HEAD/POST of an existing object or
        container: Swift never sees a write, the object is unchanged."""
        self.proxy.put('AUTH_me/c/o', b'orig', 'text/x-orig')
        before = dict(self.proxy.objects)
        for method in ('PUT', 'DELETE', 'COPY', 'GET', 'HEAD', 'POST',
                       'OPTIONS'):
            for ex in ('1.0', 'open/1.0', 'api/1.0', '2.0', ' ', ''):
                for path in ('/v1/AUTH_me/c/o', '/v1/AUTH_me/c'):
                    r = self.req(path, method=method, body=b'new',
                                 ctype='application/json', execute=None,
                                 headers={'X-Zerovm-Execute': ex,
                                          'Destination': 'c/o2',
                                          'X-Object-Meta-K': 'x'})
                    self.assertGreaterEqual(r.status_int, 200)
        self.assertEqual(self.proxy.objects, before)
        self.assertFalse([c for c in self.proxy.calls
                          if c[0] in ('PUT', 'DELETE', 'COPY', 'POST')])

    def test_odd_object_names(self):
        """Attack: objects with spaces, unicode, `%`, a literal `*` (a
        wildcard: it matches as a pattern, within the same container, as
        the user), a 1100-character name: read exactly (or 404), never
        another account's; an error naming a unicode object answers."""
        names = ['a b', 'sn\u2603w', '50%', '50%25', 'st-a', 'st-other']
        for n in names:
            self.proxy.put('AUTH_me/odd/' + quote(n), ('data:' + n).encode())
        self.proxy.put('AUTH_other/odd/st-x', b'other')
        names.append('st*')
        got = {}
        for n in names + ['nope\u2603', 'x' * 1100]:
            job = pyjob('import sys;print(sys.stdin.read())',
                        [{'name': 'stdin', 'path': 'swift://./odd/' + n},
                         {'name': 'stdout'}])
            r = self.req('/v1/AUTH_me', body=job, ctype='application/json')
            for v in r.headers.values():
                v.encode('latin-1')
            got[n] = (r.status_int, r.body)
        for n in ('a b', 'sn\u2603w', '50%', '50%25'):
            self.assertEqual(got[n], (200, ('data:%s\n' % n).encode()), n)
        self.assertEqual(got['st*'][1], b'data:st-a\ndata:st-other\n')
        self.assertEqual(got['nope\u2603'][0], 404)
        self.assertIn('nope\u2603'.encode('utf-8'), got['nope\u2603'][1])
        self.assertEqual(got['x' * 1100][0], 404)


class ChainAttackTest(Base):
    def loop_job(self):
        code = ('import os,sys,json;j=json.loads(os.environ["J"]);'
                'j[0]["exec"]["env"]={"J": os.environ["J"]};'
                'sys.stdout.write("Status: 200 OK\\nContent-Type: '
                'application/json\\nX-Zerovm-Execute: 1.0\\n\\n"'
                '+json.dumps(j))')
        job = pyjob(code, [{'name': 'stdout',
                            'content_type': 'message/cgi'}], name='loop')
        job[0]['exec']['env'] = {'J': json.dumps(job)}
        return job

    def test_infinite_chain_stops_and_cleans_up(self):
        """Attack: a job that answers itself forever: stopped at
        chain_timeout with X-Chain-Stopped; no work directory or runner
        left."""
        work = tempfile.mkdtemp()
        os.chmod(work, 0o755)
        self.addCleanup(shutil.rmtree, work, True)
        self.app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                     chain_timeout='1', work_dir=work
                                     )(self.proxy)
        t0 = time.time()
        r = self.req('/v1/AUTH_me', body=self.loop_job(),
                     ctype='application/json')
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(r.status_int, 200, (r.headers, r.body))
        self.assertIn('chain_timeout', r.headers.get('X-Chain-Stopped', ''),
                      (r.headers, r.body))
        self.assertEqual(os.listdir(work), [])
        left = []
        for pid in os.listdir('/proc'):
            try:
                with open('/proc/%s/cmdline' % pid, 'rb') as f:
                    if work.encode() in f.read():
                        left.append(pid)
            except (OSError, ValueError):
                pass
        self.assertEqual(left, [])

    def test_chain_cannot_escalate_to_another_account(self):
        """Attack: a chained job that reads another account's object runs
        as the same user: 403."""
        self.proxy.put('AUTH_other/priv/secret', b'secret')
        child = pyjob('import sys;print(sys.stdin.read())',
                      [{'name': 'stdin',
                        'path': 'swift://AUTH_other/priv/secret'},
                       {'name': 'stdout'}], name='child')
        code = ('import sys;sys.stdout.write("Status: 200\\nContent-Type: '
                'application/json\\nX-Zerovm-Execute: 1.0\\n\\n" + %r)'
                % json.dumps(child))
        parent = pyjob(code, [{'name': 'stdout',
                               'content_type': 'message/cgi'}])
        r = self.req('/v1/AUTH_me', body=parent, ctype='application/json')
        self.assertEqual(r.status_int, 403, r.body)
        self.assertNotIn(b'secret\n', r.body)

    def test_chained_body_over_max_job_size_is_returned(self):
        """Attack: a chained job body larger than max_job_size is not run;
        the client gets it as it is."""
        self.app = mw.filter_factory({}, timeout='20', log_name='zc-test',
                                     max_job_size='2K')(self.proxy)
        code = ('import sys;sys.stdout.write("Status: 200\\nContent-Type: '
                'application/json\\nX-Zerovm-Execute: 1.0\\n\\n[" + '
                '" "*5000 + "]")')
        r = self.req('/v1/AUTH_me', body=pyjob(
            code, [{'name': 'stdout', 'content_type': 'message/cgi'}]),
            ctype='application/json')
        self.assertEqual(r.status_int, 200, r.body)
        self.assertEqual(len(r.body), 5002)
        self.assertEqual(r.headers['X-Nexe-System'], 'n')


class MessageAttackTest(Base):
    def test_crlf_and_204_through_the_filter(self):
        """Attack: a node's message/http with `\\r`-smuggled Set-Cookie and
        X-Nexe-Status (kept as data, the device's type), and a 204 with a
        smuggled second response (no body sent)."""
        code = ('import sys;sys.stdout.write("HTTP/1.1 200 OK\\r\\n'
                'Content-Type: text/html\\rSet-Cookie: e=1\\r\\n\\r\\nbody")')
        r = self.req('/v1/AUTH_me', body=pyjob(
            code, [{'name': 'stdout', 'content_type': 'message/http'}]),
            ctype='application/json')
        self.assertEqual(r.status_int, 200)
        self.assertNotIn('Set-Cookie', r.headers)
        self.assertEqual(r.headers['Content-Type'], 'message/http')
        self.assertEqual(r.headers['X-Nexe-Status'], 'ok')
        code = ('import sys;sys.stdout.write("HTTP/1.1 204 No Content\\r\\n'
                '\\r\\nHTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\n'
                'smugg")')
        r = self.req('/v1/AUTH_me', body=pyjob(
            code, [{'name': 'stdout', 'content_type': 'message/http'}]),
            ctype='application/json')
        self.assertEqual(r.status_int, 204)
        self.assertEqual(r.body, b'')
        self.assertEqual(r.headers['Content-Length'], '0')


if __name__ == '__main__':
    unittest.main()
