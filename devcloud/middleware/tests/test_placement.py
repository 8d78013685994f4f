"""Issue 18: the sub-job signature, which device a node goes next to,
connected nodes, the streams between servers (placement.py), the node's
JSON form, and the object-server filter's refusals (objserver.py)."""
import json
import logging
import time
import unittest

from swift.common.swob import Request, Response

from zerocloud_dev import middleware as mw
from zerocloud_dev import placement as pl
from zerocloud_dev import job as jobmod

mw.get_logger = lambda conf, log_route=None: logging.getLogger('zc-test')
logging.getLogger('zc-test').addHandler(logging.NullHandler())
logging.getLogger('zc-test').propagate = False

SECRET = b'0123456789abcdef0123'


def nodes_of(job):
    def lister(a, c, prefix):
        return ['in1', 'in2']
    return jobmod.expand_nodes(job, 'AUTH_t', lister=lister)


class SignatureTest(unittest.TestCase):
    def body(self, **kw):
        sub = {'expires': time.time() + 60, 'nodes': []}
        sub.update(kw)
        return json.dumps(sub).encode()

    def test_good(self):
        b = self.body()
        self.assertIsNotNone(pl.verify(SECRET, b, pl.sign(SECRET, b)))

    def test_bad_signature_wrong_secret_expired(self):
        b = self.body()
        self.assertIsNone(pl.verify(SECRET, b, 'x' * 64))
        self.assertIsNone(pl.verify(SECRET, b, None))
        self.assertIsNone(pl.verify(b'another secret!!!', b,
                                    pl.sign(SECRET, b)))
        old = self.body(expires=time.time() - 1)
        self.assertIsNone(pl.verify(SECRET, old, pl.sign(SECRET, old)))

    def test_changed_body(self):
        b = self.body(account='AUTH_a')
        sig = pl.sign(SECRET, b)
        self.assertIsNone(pl.verify(SECRET, b.replace(b'AUTH_a', b'AUTH_b'),
                                    sig))

    def test_short_secret_refused(self):
        with self.assertRaises(ValueError):
            pl.read_secret({'secret': 'short'})


class DataDeviceTest(unittest.TestCase):
    def node(self, devices, attach='default'):
        g = {'name': 'g', 'exec': {'path': 'file://python3:python'},
             'devices': devices}
        if attach != 'default':
            g['attach'] = attach
        return nodes_of([g])[0]

    def test_stdin_before_script_and_writes(self):
        n = self.node([{'name': 'python3'},
                       {'name': 'stdout', 'path': 'swift://AUTH_t/c/out'},
                       {'name': 'script', 'path': 'swift://AUTH_t/c/s.py'},
                       {'name': 'stdin', 'path': 'swift://AUTH_t/c/in'}])
        self.assertEqual('stdin', pl.data_device(n))

    def test_script_only_when_the_only_readable(self):
        n = self.node([{'name': 'python3'},
                       {'name': 'script', 'path': 'swift://AUTH_t/c/s.py'},
                       {'name': 'stdout', 'path': 'swift://AUTH_t/c/out'}])
        self.assertEqual('script', pl.data_device(n))

    def test_attach(self):
        n = self.node([{'name': 'python3'},
                       {'name': 'stdin', 'path': 'swift://AUTH_t/c/in'},
                       {'name': 'stdout', 'path': 'swift://AUTH_t/c/out'}],
                      attach='stdout')
        self.assertEqual('stdout', pl.data_device(n))

    def test_no_data(self):
        n = self.node([{'name': 'python3'}, {'name': 'stdout'}])
        self.assertIsNone(pl.data_device(n))


class NodeJsonTest(unittest.TestCase):
    def test_round_trip(self):
        job = [{'name': 'map', 'exec': {'path': 'file://python3:python'},
                'devices': [{'name': 'python3'},
                            {'name': 'stdin', 'path': 'swift://AUTH_t/c/in*'},
                            {'name': 'stdout',
                             'path': 'swift://AUTH_t/o/*.out'}]}]
        for n in nodes_of(job):
            back = pl.node_from_json(json.loads(json.dumps(
                pl.node_to_json(n))))
            self.assertEqual(n.name, back.name)
            self.assertEqual(n.devices, back.devices)
            self.assertEqual(n.wildcards, back.wildcards)

    def test_connected_nodes_together(self):
        job = [{'name': 'a', 'exec': {'path': 'file://python3:python'},
                'devices': [{'name': 'python3'}], 'connect': ['b']},
               {'name': 'b', 'exec': {'path': 'file://python3:python'},
                'devices': [{'name': 'python3'}]},
               {'name': 'c', 'exec': {'path': 'file://python3:python'},
                'devices': [{'name': 'python3'}]}]
        comps = sorted(pl.Placement._components(nodes_of(job)))
        self.assertEqual([[0, 1], [2]], comps)


    def test_links_between_servers(self):
        """A connection within a server stays a pipe; across servers it
        is a stream: the sender's entry names the receiver's server, the
        channel and a token signed for it, the receiver's the channel."""
        job = [{'name': 'm', 'exec': {'path': 'file://python3:python'},
                'devices': [{'name': 'python3'}], 'count': 3,
                'connect': ['r']},
               {'name': 'r', 'exec': {'path': 'file://python3:python'},
                'devices': [{'name': 'python3'}]}]
        nodes = nodes_of(job)
        p = pl.Placement.__new__(pl.Placement)
        p.secret, p.job_timeout = SECRET, 180.0
        s1, s2 = ('127.0.0.2', 6200), ('127.0.0.3', 6200)
        links = p.links(nodes, {0: s1, 1: s2, 2: s2, 3: s2})
        self.assertEqual(['m-2', 'm-3'],
                         [c['src'] for c in links[s2]['conns']])
        self.assertEqual([], links[s1]['conns'])
        out, = links[s1]['remote']['out']
        inn, = links[s2]['remote']['in']
        self.assertEqual(('m-1', 'r'), (out['src'], out['dst']))
        self.assertEqual(('m-1', 'r'), (inn['src'], inn['dst']))
        m = pl.STREAM_RE.match(out['url'][len('http://127.0.0.3:6200'):])
        self.assertTrue(out['url'].startswith('http://127.0.0.3:6200/'))
        self.assertEqual(inn['channel'], m.group(1))
        self.assertEqual(out['token'], pl.stream_token(
            SECRET, m.group(1), int(m.group(2))))
        self.assertEqual([], links[s1]['remote']['in'])
        self.assertEqual([], links[s2]['remote']['out'])


class ObjectServerHalfTest(unittest.TestCase):
    def setUp(self):
        from zerocloud_dev import objserver
        self.seen = []

        def app(env, sr):
            self.seen.append(env['PATH_INFO'])
            return Response(body=b'object server')(env, sr)
        self.f = objserver.filter_factory(
            {}, secret=SECRET.decode(), unsandboxed='true')(app)

    def test_other_requests_pass(self):
        resp = Request.blank('/d1/1/a/c/o').get_response(self.f)
        self.assertEqual(b'object server', resp.body)

    def test_unsigned_refused(self):
        body = json.dumps({'expires': time.time() + 60}).encode()
        resp = Request.blank(pl.SUBJOB_PATH, method='POST', body=body,
                             headers={pl.SIG_HEADER: 'f' * 64}
                             ).get_response(self.f)
        self.assertEqual(403, resp.status_int)
        self.assertEqual([], self.seen)

    def test_stream_refusals(self):
        chan, expires = 'a' * 32, int(time.time()) + 60
        good = pl.stream_token(SECRET, chan, expires)
        path = '%s%s/%d' % (pl.STREAM_PATH, chan, expires)
        for method, p, token, status in (
                ('POST', path, good, 400),
                ('PUT', pl.STREAM_PATH + 'x/1', good, 400),
                ('PUT', path, 'f' * 64, 403),
                ('PUT', '%s%s/%d' % (pl.STREAM_PATH, chan, expires - 120),
                 pl.stream_token(SECRET, chan, expires - 120), 403)):
            resp = Request.blank(p, method=method, body=b'x', headers={
                'X-Zerocloud-Stream-Token': token}).get_response(self.f)
            self.assertEqual(status, resp.status_int, (method, p))
        self.assertEqual([], self.seen)

    def test_stream_to_a_finished_or_taken_channel(self):
        """A stream for a sub-job that is over: 410 at once; a second
        stream for a channel being received: 409 (one per channel)."""
        import os
        import tempfile
        from zerocloud_dev import objserver
        root = tempfile.mkdtemp()
        f = objserver.filter_factory(
            {}, secret=SECRET.decode(), unsandboxed='true',
            work_dir=root)(lambda env, sr: [])
        expires = int(time.time()) + 60

        def put(chan):
            t0 = time.time()
            resp = Request.blank('%s%s/%d' % (pl.STREAM_PATH, chan, expires),
                                 method='PUT', body=b'x', headers={
                'X-Zerocloud-Stream-Token':
                    pl.stream_token(SECRET, chan, expires)}).get_response(f)
            return resp.status_int, time.time() - t0
        done = 'b' * 32
        f._channels_done([{'channel': done}])
        status, took = put(done)
        self.assertEqual(410, status)
        self.assertLess(took, 1)
        taken = 'c' * 32
        os.makedirs(os.path.join(root, 'zc-test', 'streams'))
        fifo = os.path.join(root, 'zc-test', 'streams', taken)
        os.mkfifo(fifo)
        open(fifo + '.claimed', 'w').close()
        self.assertEqual(409, put(taken)[0])


if __name__ == '__main__':
    unittest.main()
