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

    def _up(self, server, cache):
        """Whether the object server answers GET /healthcheck with 200
        within placement_conn_timeout (a stopped or hung one accepts the
        connection but does not answer: its nodes go elsewhere)."""
        if server not in cache:
            from eventlet import Timeout
            from swift.common.bufferedhttp import http_connect_raw
            try:
                with Timeout(self.conn_timeout):
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
        """{node index: (ip, port)} for a job the object servers can run,
        or None to run it here (one object server in the ring; a posted
        image or payload, which only the proxy has)."""
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
        where, load = {}, {s: 0 for s in live}
        by_loc = {}
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
                    for p in list(prims) + list(more)[:2]:
                        if self._up((p['ip'], p['port']), up):
                            where[i] = (p['ip'], p['port'])
                            break
            if loc and i in where:
                by_loc.setdefault(loc, where[i])
            if i in where:
                load[where[i]] = load.get(where[i], 0) + 1
        # connected nodes without data go where the first placed node of
        # theirs went (pipes there); the others stay next to their data
        # (streams between the servers)
        comp = self._components(nodes)
        for members in comp:
            first = next((i for i in members if i in where), None)
            target = where[first] if first is not None else min(
                load, key=lambda s: (load[s], s))
            for i in members:
                if i not in where:
                    where[i] = target
                    load[target] = load.get(target, 0) + 1
        return where

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
               links=None):
        """The signed sub-job of one server: its nodes, the objects they
        may read from its disk (authorized here by a HEAD as the user)."""
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
                heads = mw._head(req, a, c, o)
                if heads is None:
                    continue    # missing: the node's read says so
                local['swift://%s/%s/%s' % (a, c, o)] = {
                    'device': mine[0]['device'], 'partition': part,
                    'headers': heads}
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

    def run(self, mw, req, account, work, nodes, where, cgi):
        """Send each server its sub-job (at once, a green thread each) and
        gather (results, parts, tails, errors, upload_error) in node
        order, as run_nodes gives them."""
        per = {}
        for i, s in sorted(where.items()):
            per.setdefault(s, []).append(i)
        links = self.links(nodes, where)
        bodies = {s: self.subjob(mw, req, account, nodes, idxs, s, cgi,
                                 links[s])
                  for s, idxs in per.items()}
        answers = self._gather(per, bodies, work)
        results = [None] * len(nodes)
        tails = [b''] * len(nodes)
        parts_at = {}
        errors, upload_error = [], None
        if len(answers) < len(per):     # one failed, the rest cancelled
            per = {s: per[s] for s in answers}
        for s, idxs in per.items():
            ans = answers[s]
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

    def _gather(self, per, bodies, work):
        """{server: answer}: each server's sub-job sent at once (a green
        thread each). The first server that fails ends the wait: the
        others' sub-jobs are cancelled (their connections closed, which
        the object servers see as their client gone), since the job
        fails anyway; the failed servers' answers are returned."""
        from eventlet import GreenPool
        from eventlet.queue import Queue
        done = Queue()
        live = {}       # server -> its connection, while it runs
        pool = GreenPool(len(per))
        threads = [pool.spawn(lambda s=s: done.put(
            (s, self._send(s, bodies[s], work, live)))) for s in per]
        answers = {}
        while len(answers) < len(per):
            s, ans = done.get()
            answers[s] = ans
            if isinstance(ans, Exception):
                for k, conn in list(live.items()):
                    if k not in answers:
                        _hang_up(conn)
                for t in threads:
                    t.kill()
                return {k: v for k, v in answers.items()
                        if isinstance(v, Exception)}
        return answers

    def _send(self, server, body, work, live=None):
        """POST the sub-job; -> (head, {file name: local path}) or the
        exception. The answer: a JSON line, then the parts' bytes. The
        connection is in live[server] while it is open."""
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
                    live[server] = conn
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
                    path = os.path.join(work, 'part-%s-%s-%s' % (
                        server[0], server[1], p['file']))
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
