"""The proxy half of computing next to the data (issue 18).

When the object ring has more than one device, the proxy filter does not
run a job's nodes itself: it places each node on an object server
(Servlets.md rule 17: the server holding the first swift:// object the
node reads, `attach` naming another device; rule 21: nodes sharing a
`location` together; nodes without data on the least loaded server),
authorizes the objects a node will read from that server's disk (a HEAD
as the user), and sends each server a signed sub-job (HMAC-SHA256 with
the secret both halves share). The object server's filter (objserver.py)
runs its nodes and stores their outputs through the proxy as the user;
this half assembles the X-Nexe-* response from the per-node results.

Nodes joined by zvm:// connections stay where their data is: a
connection between nodes on two servers is a stream between the servers
(the sender's runner PUTs the bytes, chunked, to
`/zerocloud-stream/<channel>/<expires>` on the receiver's object server,
with a token this half signed; that server's filter writes them into
the FIFO its runner reads for the receiving node). Connected nodes
without data go to the server of the first placed node they are
connected with (pipes there).

A node with `replicate: k` (rule 15; only nodes without connections,
since a rerun cannot replay a stream) runs up to k times: when the
server running it fails (dies, hangs past the job's time, answers 5xx),
it reruns on the next server holding its data (else another live
server), and the rest of the job goes on.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import time

from swift.common.ring import Ring
from swift.common.utils import config_true_value

from . import job as jobmod
from . import response as respmod

SUBJOB_PATH = '/zerocloud-subjob'
STREAM_PATH = '/zerocloud-stream/'
STREAM_RE = re.compile(r'^/zerocloud-stream/([0-9a-f]{32})/([0-9]+)$')
SIG_HEADER = 'X-Zerocloud-Signature'
# on an object server's 4xx: the job's own error, not the server's
JOB_ERROR = 'X-Zerocloud-Job-Error'
READ_ORDER = ('stdin', 'input')
WRITE_ORDER = ('stdout', 'output', 'stderr')
SUBJOB_TTL = 300
HEALTH_MISSES = 3


class JobFailed(Exception):
    """An object server answered the sub-job with the job's own error."""

    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


def read_secret(conf):
    """The shared secret: `secret`, else the contents of `secret_file`."""
    s = conf.get('secret')
    if not s and conf.get('secret_file'):
        with open(conf['secret_file']) as f:
            s = f.read().strip()
    if not s or len(s) < 16:
        raise ValueError('zerocloud_dev: secret (or secret_file) must hold '
                         'at least 16 characters')
    return s.encode('utf-8')


def sign(secret, body):
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret, body, signature):
    """The sub-job's JSON if the signature is right and it is not
    expired, else None."""
    if not signature or not hmac.compare_digest(sign(secret, body),
                                                signature):
        return None
    sub = json.loads(body)
    if float(sub.get('expires', 0)) < time.time():
        return None
    return sub


def _hang_up(conn):
    """Close a sub-job's connection now: the object server sees its
    client gone and stops the sub-job's nodes."""
    import socket
    try:
        if conn.sock is not None:
            conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
    except Exception:
        pass


def stream_token(secret, channel, expires):
    """The token of one stream between servers (runner.RemoteSink sends
    it, objserver checks it)."""
    return sign(secret, ('zerocloud-stream:%s:%d' % (channel, expires))
                .encode('ascii'))


def node_to_json(node):
    devs = {}
    for name, d in node.devices.items():
        devs[name] = {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in d.items()}
    return {'group': node.group, 'name': node.name, 'index': node.index,
            'devices': devs, 'attach': node.attach,
            'location': node.location, 'replicate': node.replicate,
            'wildcards': node.wildcards}


def node_from_json(d):
    devs = {}
    for name, dev in d['devices'].items():
        dev = dict(dev)
        for k in ('swift', 'zvm'):
            if k in dev:
                dev[k] = tuple(dev[k])
        devs[name] = dev
    return jobmod.Node(d['group'], d['name'], d['index'], devs,
                       attach=d.get('attach', 'default'),
                       location=d.get('location'),
                       replicate=d.get('replicate', 1),
                       wildcards=d.get('wildcards'))


def data_device(node):
    """The device whose object the node goes next to (rule 17): `attach`,
    else the first of stdin/input, then stdout/output/stderr, that has a
    swift:// path (script only when it is the only readable one; the
    image is code, not data). None: no data to go to."""
    att = node.attach or 'default'
    if att != 'default':
        d = node.devices.get(att)
        return att if d is not None and 'swift' in d else None
    order = list(READ_ORDER)
    if not any('swift' in node.devices.get(n, {}) for n in order):
        order.append('script')
    for name in order + list(WRITE_ORDER):
        if 'swift' in node.devices.get(name, {}):
            return name
    return None


class Placed(object):
    """Where place() put a job: `where` {node index: (ip, port)}, `colo`
    the indices placed by a co-location request, `spare` {node index:
    [the servers it may rerun on, in order]} for replicated nodes."""

    def __init__(self, where, colo, spare, holders):
        self.where, self.colo, self.spare = where, colo, spare
        self.holders = holders  # {node index: the live servers of its data}


class Placement(object):
    def __init__(self, conf, logger):
        self.logger = logger
        self.secret = read_secret(conf)
        self.swift_dir = conf.get('swift_dir', '/etc/swift')
        self.proxy_url = conf.get('proxy_url') or 'http://%s:%s' % (
            conf.get('bind_ip', '127.0.0.1').replace('0.0.0.0', '127.0.0.1'),
            conf.get('bind_port', '8080'))
        self.conn_timeout = float(conf.get('placement_conn_timeout', 2))
        self.job_timeout = float(conf.get('timeout', 60)) + 120
        self.always = config_true_value(conf.get('placement_always', 'false'))
        # while sub-jobs run, their servers' health is checked this often
        # (0: never); HEALTH_MISSES misses in a row fail the sub-job, so a
        # stopped or hung server is given up in seconds, not job_timeout
        self.health_interval = float(conf.get('placement_health_interval',
                                              5))
        self._ring = None

    def ring(self):
        if self._ring is None:
            self._ring = Ring(self.swift_dir, ring_name='object')
        return self._ring

    def servers(self):
        out = []
        for d in self.ring().devs:
            if d and (d['ip'], d['port']) not in out:
                out.append((d['ip'], d['port']))
        return out

    def _up(self, server, cache, timeout=None):
        """Whether the object server answers GET /healthcheck with 200
        within `timeout` (placement_conn_timeout; a stopped or hung one
        accepts the connection but does not answer: its nodes go
        elsewhere)."""
        if server not in cache:
            from eventlet import Timeout
            from swift.common.bufferedhttp import http_connect_raw
            try:
                with Timeout(timeout or self.conn_timeout):
                    conn = http_connect_raw(server[0], server[1], 'GET',
                                            '/healthcheck')
                    resp = conn.getresponse()
                    resp.read()
                    conn.close()
                    cache[server] = resp.status == 200
            except (Exception, Timeout):
                cache[server] = False
        return cache[server]

    def place(self, mw, req, account, nodes, jobreq):
        """A Placed (where each node runs, which are co-located, where the
        replicated ones may rerun) for a job the object servers can run,
        or None to run it
        here (one object server in the ring; a posted image or payload,
        which only the proxy has). A node is co-located when it went next
        to its data (rule 17), with the nodes of its `location` (rule 21)
        or with a connected node that has data; one placed by load alone
        ran "as usual" (X-Nexe-Colocated 0, Response.md)."""
        servers = self.servers()
        if len(servers) < 2 and not self.always:
            return None
        if getattr(jobreq, 'image', None) or \
                getattr(jobreq, 'payload', None) is not None:
            return None
        up = {}
        live = [s for s in servers if self._up(s, up)]
        if not live:
            return None
        where, load, colo = {}, {s: 0 for s in live}, set()
        by_loc, spare, near = {}, {}, {}
        for i, node in enumerate(nodes):
            loc = respmod._location(node)
            if loc and loc in by_loc:
                where[i] = by_loc[loc]
            else:
                dev = data_device(node)
                if dev is not None:
                    a, c, o = node.devices[dev]['swift']
                    _, prims = self.ring().get_nodes(a, c, o)
                    more = self.ring().get_more_nodes(
                        self.ring().get_part(a, c, o))
                    holders = [(p['ip'], p['port'])
                               for p in list(prims) + list(more)[:2]]
                    ok = [h for h in holders if self._up(h, up)]
                    if ok:
                        where[i], spare[i], near[i] = ok[0], ok[1:], ok
            if loc and i in where:
                by_loc.setdefault(loc, where[i])
            if i in where:
                load[where[i]] = load.get(where[i], 0) + 1
                colo.add(i)
        # the others go where their location went, else where the first
        # placed node connected with them went (pipes there); connected
        # nodes with data stay next to it (streams between the servers).
        # A group (connected, or of one location) with nothing placed
        # goes to the least loaded server, all of it.
        for members in self._components(nodes):
            first = next((i for i in members if i in where), None)
            target = where[first] if first is not None else min(
                load, key=lambda s: (load[s], s))
            for i in members:
                if i in where:
                    continue
                loc = respmod._location(nodes[i])
                where[i] = by_loc.get(loc, target) if loc else target
                if loc:
                    by_loc.setdefault(loc, where[i])
                if loc or first is not None:
                    colo.add(i)
                load[where[i]] = load.get(where[i], 0) + 1
        # a replicated node reruns next to another replica of its data,
        # else (no data) on the least loaded of the other servers
        for i, node in enumerate(nodes):
            if node.replicate > 1:
                rest = sorted((s for s in live if s != where[i]),
                              key=lambda s: (load[s], s))
                spare[i] = spare.get(i) or rest
            else:
                spare.pop(i, None)
        return Placed(where, colo, spare, near)

    @staticmethod
    def _components(nodes):
        idx = {n.name: i for i, n in enumerate(nodes)}
        parent = list(range(len(nodes)))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i
        for c in jobmod.connections(nodes):
            s = idx[getattr(c['src'], 'name', c['src'])]
            d = idx[getattr(c['dst'], 'name', c['dst'])]
            parent[find(s)] = find(d)
        # nodes of one location (rule 21) go together as connected ones do
        first_at = {}
        for i, node in enumerate(nodes):
            loc = respmod._location(node)
            if loc:
                parent[find(i)] = find(first_at.setdefault(loc, i))
        groups = {}
        for i in range(len(nodes)):
            groups.setdefault(find(i), []).append(i)
        return list(groups.values())

    def links(self, nodes, where):
        """The connections of each server: {server: {'conns': [between
        its nodes], 'remote': {'out': [to nodes elsewhere, with the URL
        and token of the stream], 'in': [from nodes elsewhere, with the
        channel]}}}."""
        from .middleware import conn_list
        idx = {n.name: i for i, n in enumerate(nodes)}
        per = {s: {'conns': [], 'remote': {'out': [], 'in': []}}
               for s in set(where.values())}
        expires = int(time.time() + SUBJOB_TTL + self.job_timeout)
        for c in conn_list(jobmod.connections(nodes)):
            a, b = where[idx[c['src']]], where[idx[c['dst']]]
            if a == b:
                per[a]['conns'].append(c)
                continue
            chan = os.urandom(16).hex()
            per[a]['remote']['out'].append(dict(
                c, url='http://%s:%d%s%s/%d' % (b[0], b[1], STREAM_PATH,
                                                 chan, expires),
                token=stream_token(self.secret, chan, expires),
                timeout=self.job_timeout))
            per[b]['remote']['in'].append(dict(c, channel=chan))
        return per

    def subjob(self, mw, req, account, nodes, idxs, server, cgi,
               links=None, heads=None):
        """The signed sub-job of one server: its nodes, the objects they
        may read from its disk (authorized here by a HEAD as the user;
        `heads` keeps the answers for a rerun, whose HEAD could wait for
        the failed server, a replica too)."""
        if heads is None:
            heads = {}
        local = {}
        ring = self.ring()
        for i in idxs:
            for name, d in nodes[i].devices.items():
                if name not in ('stdin', 'input', 'script') or \
                        'swift' not in d:
                    continue
                a, c, o = d['swift']
                part, prims = ring.get_nodes(a, c, o)
                mine = [p for p in prims if (p['ip'], p['port']) == server]
                if not mine:
                    continue
                if (a, c, o) not in heads:
                    heads[(a, c, o)] = mw._head(req, a, c, o)
                if heads[(a, c, o)] is None:
                    continue    # missing: the node's read says so
                local['swift://%s/%s/%s' % (a, c, o)] = {
                    'device': mine[0]['device'], 'partition': part,
                    'headers': heads[(a, c, o)]}
        token = req.headers.get('X-Auth-Token') or \
            req.headers.get('X-Storage-Token')
        sub = {'account': account, 'token': token,
               'proxy_url': self.proxy_url, 'cgi': cgi,
               'expires': time.time() + SUBJOB_TTL,
               'nodes': [node_to_json(nodes[i]) for i in idxs],
               'local': local}
        if links is not None:
            sub['conns'] = links['conns']
            sub['remote'] = links['remote']
        return json.dumps(sub).encode('utf-8')

    def run(self, mw, req, account, work, nodes, placed, cgi):
        """Send each server its sub-job (at once, a green thread each) and
        gather (results, parts, tails, errors, upload_error) in node
        order, as run_nodes gives them. placed.where ends up saying where
        each node ran (a rerun moves a node)."""
        where = placed.where
        per = {}
        for i, s in sorted(where.items()):
            per.setdefault(s, []).append(i)
        links = self.links(nodes, where)
        subs = {}       # sub-job id -> (server, node indices, body)
        heads = {}      # (a, c, o) -> its headers, None: absent
        for s, idxs in per.items():
            subs[len(subs)] = (s, idxs, self.subjob(
                mw, req, account, nodes, idxs, s, cgi, links[s], heads))
        runs = {i: 1 for i in where}

        def rerun(key, why):
            """The sub-jobs that replace a failed one, or None: every node
            of it must have a run left (replicate) and a server to go."""
            failed, idxs, _ = subs[key]
            up, moved, by_loc = {}, {}, {}
            for i in idxs:
                if runs[i] >= nodes[i].replicate:
                    return None
                # the nodes of a location (rule 21) go on together, where
                # the first of them goes
                loc = respmod._location(nodes[i])
                if loc in by_loc:
                    moved[i] = by_loc[loc]
                    continue
                spares = placed.spare.get(i, [])
                while spares and (spares[0] == failed or
                                  not self._up(spares[0], up)):
                    spares.pop(0)
                if not spares:
                    return None
                moved[i] = spares.pop(0)
                if loc:
                    by_loc[loc] = moved[i]
            more = {}
            for s in sorted(set(moved.values())):
                mine = [i for i in idxs if moved[i] == s]
                for i in mine:
                    where[i] = s
                    runs[i] += 1
                    if s not in placed.holders.get(i, (s,)):
                        placed.colo.discard(i)  # away from its data now
                key2 = len(subs)
                subs[key2] = (s, mine, self.subjob(
                    mw, req, account, nodes, mine, s, cgi, heads=heads))
                more[key2] = subs[key2]
                self.logger.warning(
                    'zerocloud_dev: object server %s:%d failed (%s); '
                    'rerunning %s on %s:%d (replicate)', failed[0],
                    failed[1], why, ','.join(nodes[i].name for i in mine),
                    s[0], s[1])
            return more

        answers = self._gather(subs, work, rerun)
        results = [None] * len(nodes)
        tails = [b''] * len(nodes)
        parts_at = {}
        errors, upload_error = [], None
        for key, ans in sorted(answers.items()):
            s, idxs, _ = subs[key]
            # (a failed job's answers are only its failures)
            if isinstance(ans, JobFailed):
                from .middleware import SwiftError
                raise SwiftError(ans.status, ans.message)
            if isinstance(ans, Exception):
                names = ', '.join(nodes[i].name for i in idxs)
                from .middleware import SwiftError
                raise SwiftError(502, 'node(s) %s on object server %s:%d '
                                 'failed: %s' % (names, s[0], s[1], ans))
            head, files = ans
            for k, i in enumerate(idxs):
                results[i] = head['results'][k]
                tails[i] = base64.b64decode(head['tails'][k])
            for p in head['parts']:
                i = idxs[p['node']]
                o = respmod.Output(nodes[i], p['name'],
                                   nodes[i].devices[p['name']],
                                   files[p['file']])
                o.status, o.content_type = p['status'], p['content_type']
                o.meta, o.extra = p['meta'], p['extra']
                parts_at[i] = o
            errors.extend(head['errors'])
            if head.get('upload_error') and upload_error is None:
                from .middleware import SwiftError
                upload_error = SwiftError(*head['upload_error'])
            self.logger.info('zerocloud_dev: ran %s on object server %s:%d',
                             ','.join(nodes[i].name for i in idxs), *s)
        parts = [parts_at[i] for i in sorted(parts_at)]
        return results, parts, tails, errors, upload_error

    def _gather(self, subs, work, rerun=None):
        """{sub-job id: answer}: each sub-job of subs {id: (server, node
        indices, body)} sent at once (a green thread each). A server that
        fails gets its sub-job replaced by those rerun(id, why) adds to
        subs, when it can (replicated nodes); else it ends the wait: the
        other sub-jobs are cancelled (their connections closed, which the
        object servers see as their client gone), since the job fails
        anyway, and only the failed answers are returned."""
        from eventlet import GreenPool
        from eventlet.queue import Queue
        done = Queue()
        live = {}       # sub-job id -> its connection, while it runs
        pool = GreenPool(len(subs) + 64)
        threads, pending = [], set()

        def start(key):
            server, _, body = subs[key]
            pending.add(key)
            threads.append(pool.spawn(lambda: done.put(
                (key, self._send(server, body, work, live, key)))))
        for key in list(subs):
            start(key)
        watcher = None
        if self.health_interval > 0:
            watcher = pool.spawn(self._watch, subs, pending, done)
        try:
            return self._collect(subs, done, pending, live, threads, start,
                                 rerun)
        finally:
            if watcher is not None:
                watcher.kill()

    def _watch(self, subs, pending, done):
        """Every health_interval, the health of the servers of the
        sub-jobs still running: HEALTH_MISSES misses in a row (a stopped
        or hung server: its connection stays open) fail its sub-jobs."""
        from eventlet import sleep
        misses = {}
        while True:
            sleep(self.health_interval)
            cache = {}
            for key in list(pending):
                s = subs[key][0]
                ok = self._up(s, cache, max(self.conn_timeout,
                                            self.health_interval))
                misses[s] = 0 if ok else misses.get(s, 0) + 1
                if misses[s] >= HEALTH_MISSES and key in pending:
                    done.put((key, IOError(
                        'stopped answering: %d health checks in a row '
                        'missed' % HEALTH_MISSES)))

    def _collect(self, subs, done, pending, live, threads, start, rerun):
        answers = {}
        while pending:
            key, ans = done.get()
            if key not in pending:
                continue    # given up already (its health), answered late
            pending.discard(key)
            if isinstance(ans, Exception) and key in live:
                _hang_up(live.pop(key))     # hung: it must not write later
            if isinstance(ans, Exception) and \
                    not isinstance(ans, JobFailed) and rerun is not None:
                more = rerun(key, ans)
                if more:
                    for key2 in more:
                        start(key2)
                    continue
            answers[key] = ans
            if isinstance(ans, Exception):
                for k in pending:
                    if k in live:
                        _hang_up(live[k])
                for t in threads:
                    t.kill()
                return {k: v for k, v in answers.items()
                        if isinstance(v, Exception)}
        return answers

    def _send(self, server, body, work, live=None, key=0):
        """POST the sub-job; -> (head, {file name: local path}) or the
        exception. The answer: a JSON line, then the parts' bytes. The
        connection is in live[key] while it is open."""
        from swift.common.bufferedhttp import http_connect_raw
        from eventlet import Timeout
        try:
            with Timeout(self.job_timeout):
                conn = http_connect_raw(
                    server[0], server[1], 'POST', SUBJOB_PATH,
                    {SIG_HEADER: sign(self.secret, body),
                     'Content-Type': 'application/json',
                     'Content-Length': str(len(body))})
                if live is not None:
                    live[key] = conn
                conn.send(body)
                resp = conn.getresponse()
                if resp.status != 200:
                    text = resp.read(2048).decode('utf-8', 'replace')
                    if resp.getheader(JOB_ERROR) and resp.status < 500:
                        return JobFailed(resp.status, text.strip())
                    raise IOError('%d %s' % (resp.status, text.strip()))
                head = json.loads(resp.read(int(resp.getheader(
                    'X-Zerocloud-Head-Length'))))
                files = {}
                for p in head['parts']:
                    path = os.path.join(work, 'part-%d-%s' % (
                        key, p['file']))
                    left = p['size']
                    with open(path, 'wb') as f:
                        while left > 0:
                            b = resp.read(min(65536, left))
                            if not b:
                                raise IOError('the answer ended early')
                            f.write(b)
                            left -= len(b)
                    files[p['file']] = path
                conn.close()
                return head, files
        except Timeout:
            return IOError('no answer in %g s' % self.job_timeout)
        except Exception as e:
            return e
