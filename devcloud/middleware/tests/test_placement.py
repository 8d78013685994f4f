"""Issue 18: the sub-job signature, which device a node goes next to,
connected nodes, the streams between servers (placement.py), the node's
JSON form, and the object-server filter's refusals (objserver.py)."""
import hashlib
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


class FakeRing(object):
    """An object ring of three servers; an object's replicas are listed
    from the server its name's digit gives (in1: s2, s3, s1)."""
    SERVERS = [('127.0.0.%d' % k, 6200) for k in (2, 3, 4)]

    def __init__(self):
        self.devs = [{'ip': ip, 'port': port, 'device': 'd%d' % k}
                     for k, (ip, port) in enumerate(self.SERVERS)]

    def get_part(self, a, c, o):
        return int(o[-1]) % len(self.devs)

    def get_nodes(self, a, c, o):
        part = self.get_part(a, c, o)
        return part, self.devs[part:] + self.devs[:part]

    def get_more_nodes(self, part):
        return []


class PlaceTest(unittest.TestCase):
    """Where place() puts each node, and which nodes it reports as
    co-located (X-Nexe-Colocated: a hash of the server, else 0)."""
    S1, S2, S3 = FakeRing.SERVERS

    def place(self, job, down=()):
        p = pl.Placement.__new__(pl.Placement)
        p._ring, p.always = FakeRing(), False
        p._up = lambda server, cache: server not in down
        placed = p.place(None, None, 'AUTH_t', nodes_of(job), object())
        return placed.where, placed.colo

    @staticmethod
    def tool(name, devices=(), **kw):
        g = {'name': name, 'exec': {'path': 'file://python3:python'},
             'devices': [{'name': 'python3'}] + list(devices)}
        g.update(kw)
        return g

    def test_map_reduce(self):
        """Maps go next to their input, the reducer where the first map
        went; all of them are co-located; a lone node without data goes
        to the least loaded server and ran "as usual"."""
        where, colo = self.place([
            self.tool('map', [{'name': 'stdin',
                               'path': 'swift://AUTH_t/c/in*'}],
                      connect=['red']),
            self.tool('red'), self.tool('lone')])
        self.assertEqual({0: self.S2, 1: self.S3, 2: self.S2,
                          3: self.S1}, where)
        self.assertEqual({0, 1, 2}, colo)

    def test_down_server_next_replica(self):
        where, colo = self.place([self.tool('m', [
            {'name': 'stdin', 'path': 'swift://AUTH_t/c/in1'}])],
            down=(self.S2,))
        self.assertEqual({0: self.S3}, where)
        self.assertEqual({0}, colo)

    def test_location_without_data_stays_together(self):
        """Rule 21: nodes of one location go to one server even when none
        of them has data or a connection (they were spread by load)."""
        where, colo = self.place([self.tool('a', location='here'),
                                  self.tool('b', location='here'),
                                  self.tool('c')])
        self.assertEqual(where[0], where[1])
        self.assertNotEqual(where[0], where[2])
        self.assertEqual({0, 1}, colo)

    def test_location_follows_a_later_member_with_data(self):
        where, colo = self.place([
            self.tool('a', location='here'),
            self.tool('b', [{'name': 'stdin',
                             'path': 'swift://AUTH_t/c/in2'}],
                      location='here')])
        self.assertEqual({0: self.S3, 1: self.S3}, where)
        self.assertEqual({0, 1}, colo)

    def test_codes(self):
        """One code per node: the same hash for the nodes that ran on one
        server, another for another server, 0 for the others; a new salt
        for each job."""
        ran_at = {0: '127.0.0.2:6200', 1: '127.0.0.3:6200',
                  2: '127.0.0.2:6200'}
        c = mw.respmod.colocated([None] * 4, ran_at).split(',')
        self.assertRegex(c[0], '^[0-9a-f]{40}$')
        self.assertEqual(c[0], c[2])
        self.assertNotEqual(c[0], c[1])
        self.assertEqual('0', c[3])
        self.assertNotEqual(c[0], mw.respmod.colocated(
            [None] * 4, ran_at).split(',')[0])
        # not a plain hash of the address (which anyone could compute)
        self.assertNotEqual(c[0], hashlib.sha1(b'127.0.0.2:6200').hexdigest())


class RerunTest(unittest.TestCase):
    """Rule 15 as the devcloud has it: a replicated node whose server fails
    reruns on the next server holding its data; the others fail the job
    (502 naming the nodes). The servers here are fakes of _send: one that
    is "dying" fails its sub-job as a reset connection does."""
    S1, S2, S3 = FakeRing.SERVERS

    def run_job(self, job, dying=(), stopped=()):
        p = pl.Placement.__new__(pl.Placement)
        p._ring, p.always, p.secret, p.job_timeout = \
            FakeRing(), False, SECRET, 180.0
        p.conn_timeout, p.health_interval = 0.01, 0.02
        p.logger = logging.getLogger('zc-test')
        # a stopped server was up at placement; then it stops answering
        placing = [True]
        p._up = lambda server, cache, timeout=None: \
            placing[0] or server not in stopped
        nodes = nodes_of(job)
        sent = []

        def subjob(mw_, req, account, nodes_, idxs, server, cgi,
                   links=None, heads=None):
            return json.dumps(idxs).encode()

        def send(server, body, work, live=None, key=0):
            idxs = json.loads(body)
            sent.append((server, [nodes[i].name for i in idxs]))
            if server in dying:
                return ConnectionResetError('connection reset by peer')
            if server in stopped:   # never answers: only its health says
                import eventlet
                eventlet.sleep(60)
            return ({'results': [{'name': nodes[i].name, 'status': 'ok',
                                  'retcode': 0} for i in idxs],
                     'tails': ['' for _ in idxs], 'parts': [],
                     'errors': []}, {})
        p.subjob, p._send = subjob, send
        placed = p.place(None, None, 'AUTH_t', nodes, object())
        placing[0] = False
        out = p.run(None, None, 'AUTH_t', '/nowhere', nodes, placed, {})
        return out, placed, sent

    @staticmethod
    def node(name, obj, **kw):
        return PlaceTest.tool(name, [{'name': 'stdin',
                                      'path': 'swift://AUTH_t/c/' + obj}],
                              **kw)

    def test_rerun_next_to_another_replica(self):
        (results, _, _, _, _), placed, sent = self.run_job(
            [self.node('a', 'in1', replicate=2), self.node('b', 'in2')],
            dying=(self.S2,))
        self.assertEqual(['ok', 'ok'], [r['status'] for r in results])
        self.assertEqual([(self.S2, ['a']), (self.S3, ['b']),
                          (self.S3, ['a'])], sent)
        self.assertEqual(self.S3, placed.where[0])
        self.assertIn(0, placed.colo)   # S3 holds in1 too

    def test_not_replicated_fails_the_job(self):
        with self.assertRaises(mw.SwiftError) as cm:
            self.run_job([self.node('a', 'in1')], dying=(self.S2,))
        self.assertEqual(502, cm.exception.status)
        self.assertIn('node(s) a on object server 127.0.0.3:6200 failed',
                      str(cm.exception))

    def test_runs_used_up(self):
        """replicate 2: two runs; the second server failing too fails the
        job, naming it."""
        with self.assertRaises(mw.SwiftError) as cm:
            self.run_job([self.node('a', 'in1', replicate=2)],
                         dying=(self.S2, self.S3))
        self.assertIn('node(s) a on object server 127.0.0.4:6200 failed',
                      str(cm.exception))
        _, _, sent = self.run_job([self.node('a', 'in1', replicate=3)],
                                  dying=(self.S2, self.S3))[0:3]
        self.assertEqual([self.S2, self.S3, self.S1], [s for s, _ in sent])

    def test_a_stopped_server_is_given_up_by_its_health(self):
        """A server that accepts the sub-job and never answers (SIGSTOP)
        misses its health checks: its replicated node reruns elsewhere
        within a few intervals, not job_timeout; another fails the job."""
        t0 = time.time()
        (results, _, _, _, _), placed, sent = self.run_job(
            [self.node('a', 'in1', replicate=2)], stopped=(self.S2,))
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(['ok'], [r['status'] for r in results])
        self.assertEqual([self.S2, self.S3], [s for s, _ in sent])
        with self.assertRaises(mw.SwiftError) as cm:
            self.run_job([self.node('a', 'in1')], stopped=(self.S2,))
        self.assertIn('stopped answering', str(cm.exception))

    def test_a_location_reruns_together(self):
        """Rule 21 after a rerun too: the nodes of a location go on to one
        server (the next holder of the first one's data)."""
        (results, _, _, _, _), placed, sent = self.run_job(
            [self.node('a', 'in1', replicate=2, location='L'),
             PlaceTest.tool('b', replicate=2, location='L')],
            dying=(self.S2,))
        self.assertEqual([(self.S2, ['a', 'b']), (self.S3, ['a', 'b'])],
                         sent)
        self.assertEqual(placed.where[0], placed.where[1])

    def test_a_server_with_an_unreplicated_node_fails(self):
        """No half rerun: a failed sub-job with a node that has no run
        left fails the job, even if the other could rerun."""
        with self.assertRaises(mw.SwiftError):
            self.run_job([self.node('a', 'in1', replicate=2),
                          self.node('b', 'in1')], dying=(self.S2,))


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
