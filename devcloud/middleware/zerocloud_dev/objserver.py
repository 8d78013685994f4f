"""The object-server half of computing next to the data (issue 18).

A WSGI filter for an object server's pipeline. It answers only
`POST /zerocloud-subjob` (placement.SUBJOB_PATH) carrying a sub-job the
proxy half signed (X-Zerocloud-Signature: HMAC-SHA256 of the body with
the shared secret; expired after 5 minutes); everything else goes to the
object server untouched. It runs the sub-job's nodes as the proxy filter
runs a whole job (runner.py, the same sandbox and limits), except that:

- an object the proxy authorized for reading here (the sub-job's `local`:
  the proxy did a HEAD as the user) is read straight from this server's
  disk with Swift's DiskFile API (the partition from this server's ring);
- every other read, and every write of an output, is a request to the
  proxy (`proxy_url` in the sub-job) with the user's token, so Swift's
  authorization applies to them as to the user's own requests.

The answer: 200, header X-Zerocloud-Head-Length: N, then N bytes of JSON
(per node: result, stderr tail; the immediate parts and errors) and the
immediate parts' bytes one after the other.

It also answers `PUT /zerocloud-stream/<channel>/<expires>`: a
connection from a node on another object server to one of its nodes
(the sub-job's `remote.in`), the body chunked as the sending node writes
it, with the token the proxy signed for that channel. The body goes into
the FIFO the runner made for the channel (under the sub-job's work
directory); a body cut short leaves `<fifo>.broken`, which fails the
receiving node. 201 when all of it was delivered; 410 when the receiving
node has exited (its runner removed the FIFO, as a local connection to a
node that is gone drops what comes) or its sub-job is over; 409 for a
second PUT on a channel (one stream per channel).
"""
import base64
import errno
import glob
import hmac
import json
import os
import shutil
import tempfile
import time
from urllib.parse import quote, urlsplit

from swift.common.swob import Request, Response

from . import middleware as mwmod
from . import placement as placemod

CHUNK = 65536


class SubJobRequest(object):
    """The jobreq of a sub-job: no posted image, no payload."""
    image = None
    payload = None

    def __init__(self, cgi):
        self.cgi = cgi


class ObjectServerHalf(mwmod.ZeroCloudDev):
    def __init__(self, app, conf):
        conf = dict(conf)
        # the object server's half never places jobs itself
        secret = placemod.read_secret(conf)
        conf.pop('secret', None)
        conf.pop('secret_file', None)
        super(ObjectServerHalf, self).__init__(app, conf)
        self.secret = secret
        self.devices = conf.get('devices', '/srv/node')
        self.swift_dir = conf.get('swift_dir', '/etc/swift')
        self._router = None
        self._ring = None

    def __call__(self, env, start_response):
        path = env.get('PATH_INFO') or ''
        if path.startswith(placemod.STREAM_PATH):
            return self.stream(env)(env, start_response)
        if path != placemod.SUBJOB_PATH:
            return self.app(env, start_response)
        req = Request(env)
        if req.method != 'POST':
            return self._error(405, 'POST only')(env, start_response)
        body = req.body
        sub = placemod.verify(self.secret, body,
                              req.headers.get(placemod.SIG_HEADER))
        if sub is None:
            self.logger.warning('zerocloud_dev: refused a sub-job with a '
                                'bad or expired signature')
            return self._error(403, 'bad or expired sub-job signature')(
                env, start_response)
        return self.run_subjob(req, sub)(env, start_response)

    def run_subjob(self, req, sub):
        mwmod.sweep_work_dirs(self.work_root)
        work = tempfile.mkdtemp(prefix='zc-', dir=self.work_root)
        os.chmod(work, 0o755)
        with open(os.path.join(work, mwmod.OWNER), 'w') as f:
            f.write('%d\n' % os.getpid())
        req.environ['zerocloud.subjob'] = sub
        nodes = [placemod.node_from_json(n) for n in sub['nodes']]
        self.logger.info('zerocloud_dev: running %s here (local objects: '
                         '%s)', ','.join(n.name for n in nodes),
                         ','.join(sorted(sub['local'])) or 'none')
        remote = None
        if 'remote' in sub:
            streams = os.path.join(work, 'streams')
            os.mkdir(streams, 0o700)
            remote = {'out': sub['remote']['out'],
                      'in': [dict(c, fifo=os.path.join(streams,
                                                       c['channel']))
                             for c in sub['remote']['in']]}
        try:
            results, parts, tails, errors, upload_error = self.run_nodes(
                req, sub['account'], work, SubJobRequest(sub['cgi']),
                nodes, sub['cgi'], conns=sub.get('conns'), remote=remote)
            return self._answer(nodes, results, parts, tails, errors,
                                upload_error)
        except mwmod.ClientGone:
            return self._error(499, 'the proxy went away')
        except Exception as e:
            status = getattr(e, 'status', 500)
            if status == 500:
                self.logger.exception('zerocloud_dev: sub-job failed')
            # a job's error (4xx: a missing object, a bad exec path)
            # is the job's answer, as when the proxy runs it
            return self._error(status if isinstance(status, int) else 500,
                               str(e), {placemod.JOB_ERROR: 'yes'})
        finally:
            # a stream that comes for a channel of this sub-job from now
            # on is answered 410 at once, not left waiting for a FIFO
            self._channels_done(sub.get('remote', {}).get('in', []))
            # a big work directory takes minutes to delete on a slow disk:
            # in a thread, not in the server's loop
            from eventlet import tpool
            tpool.execute(shutil.rmtree, work, True)

    # ---- streams from nodes on other servers ------------------------------
    def stream(self, env):
        req = Request(env)
        m = placemod.STREAM_RE.match(env.get('PATH_INFO') or '')
        if req.method != 'PUT' or m is None:
            return self._error(400, 'PUT /zerocloud-stream/<channel>/'
                               '<expires> only')
        chan, expires = m.group(1), int(m.group(2))
        token = req.headers.get('X-Zerocloud-Stream-Token') or ''
        if expires < time.time() or not hmac.compare_digest(
                placemod.stream_token(self.secret, chan, expires), token):
            self.logger.warning('zerocloud_dev: refused a stream with a bad '
                                'or expired token')
            return self._error(403, 'bad or expired stream token')
        fd = self._open_stream(chan, expires)
        if fd == 'claimed':
            return self._error(409, 'the stream of this channel is taken')
        if fd is None:
            return self._error(410, 'the receiving node is gone')
        fifo = fd[1]
        fd = fd[0]
        inp = env['wsgi.input']
        try:
            while True:
                try:
                    b = inp.read(CHUNK)
                except Exception as e:
                    self._broken(fifo, 'the sender\'s body ended early: %s'
                                 % (e or type(e).__name__))
                    return self._error(400, 'stream cut short')
                if not b:
                    return Response(status=201)
                if not self._write_all(fd, b):
                    # the node exited: what comes is dropped, as locally
                    return self._error(410, 'the receiving node is gone')
        finally:
            os.close(fd)

    def _done_dir(self):
        return os.path.join(self.work_root, 'zc-streams-done')

    def _channels_done(self, entries):
        """Mark the channels of a finished sub-job (files named after
        them, removed an hour later)."""
        if not entries:
            return
        d = self._done_dir()
        try:
            os.makedirs(d, 0o700, exist_ok=True)
            for c in entries:
                open(os.path.join(d, c['channel']), 'w').close()
            now = time.time()
            for n in os.listdir(d):
                p = os.path.join(d, n)
                if now - os.stat(p).st_mtime > 3600:
                    os.unlink(p)
        except OSError:
            pass

    def _open_stream(self, chan, expires):
        """(fd, path) of the channel's FIFO opened for writing, once the
        receiving runner has made it and opened it; None when the
        receiving sub-job is over (or never came before the stream
        expired); 'claimed' when another PUT has the channel (one stream
        per channel: a token seen elsewhere cannot add to it)."""
        from eventlet import sleep
        pattern = os.path.join(self.work_root, 'zc-*', 'streams', chan)
        done = os.path.join(self._done_dir(), chan)
        path = None
        while time.time() < expires:
            if os.path.exists(done):
                return None
            if path is None:
                found = glob.glob(pattern)
                path = found[0] if found else None
                if path is not None:
                    try:
                        os.close(os.open(path + '.claimed', os.O_WRONLY |
                                         os.O_CREAT | os.O_EXCL, 0o600))
                    except FileExistsError:
                        return 'claimed'
                    except OSError:
                        return None
            if path is not None:
                try:
                    return os.open(path, os.O_WRONLY | os.O_NONBLOCK), path
                except OSError as e:
                    if e.errno != errno.ENXIO:    # removed: the node ended
                        return None
            sleep(0.02)
        return None

    @staticmethod
    def _write_all(fd, b):
        """Write b to the non-blocking FIFO, waiting (green) while it is
        full; False when the reader has gone (EPIPE)."""
        from eventlet.hubs import trampoline
        view = memoryview(b)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                trampoline(fd, write=True)
            except BrokenPipeError:
                return False
        return True

    @staticmethod
    def _broken(fifo, why):
        try:
            with open(fifo + '.broken', 'w') as f:
                f.write(why)
        except OSError:
            pass

    def _answer(self, nodes, results, parts, tails, errors, upload_error):
        index = {id(n): k for k, n in enumerate(nodes)}
        blobs, plist = [], []
        for k, o in enumerate(parts):
            with o.open() as f:
                data = f.read(o.size)
            blobs.append(data)
            plist.append({'node': index[id(o.node)], 'name': o.name,
                          'file': str(k), 'size': len(data),
                          'status': o.status,
                          'content_type': o.content_type,
                          'meta': o.meta, 'extra': o.extra})
        head = json.dumps({
            'results': results,
            'tails': [base64.b64encode(t).decode('ascii') for t in tails],
            'parts': plist, 'errors': errors,
            'upload_error': [upload_error.status, str(upload_error)]
            if upload_error is not None else None}).encode('utf-8')
        body = head + b''.join(blobs)
        return Response(status=200, body=body, headers={
            'Content-Type': 'application/octet-stream',
            'X-Zerocloud-Head-Length': str(len(head))})

    # ---- reads from this disk ---------------------------------------------
    def _local(self, req, a, c, o):
        sub = req.environ.get('zerocloud.subjob') or {}
        return (sub.get('local') or {}).get('swift://%s/%s/%s' % (a, c, o))

    def _diskfile(self, a, c, o, device):
        from swift.obj.diskfile import DiskFileRouter
        from swift.common.storage_policy import POLICIES
        from swift.common.ring import Ring
        if self._router is None:
            self._router = DiskFileRouter(self.conf, self.logger)
            self._ring = Ring(self.swift_dir, ring_name='object')
        policy = POLICIES.default
        part = self._ring.get_part(a, c, o)
        return self._router[policy].get_diskfile(device, part, a, c, o,
                                                 policy=policy)

    def fetch(self, req, a, c, o, dest, what='reading', headers_out=None):
        loc = self._local(req, a, c, o)
        if loc is not None and os.path.isdir(os.path.join(
                self.devices, loc['device'])):
            try:
                return self._fetch_local(a, c, o, loc, dest, headers_out)
            except Exception as e:
                self.logger.warning('zerocloud_dev: swift://%s/%s/%s not '
                                    'readable on %s (%s): through the proxy',
                                    a, c, o, loc['device'], e)
        return self._fetch_proxy(req, a, c, o, dest, what, headers_out)

    def _fetch_local(self, a, c, o, loc, dest, headers_out):
        df = self._diskfile(a, c, o, loc['device'])
        n = 0
        with df.open():
            reader = df.reader()
            with open(dest, 'wb') as f:
                for k, chunk in enumerate(reader):
                    f.write(chunk)
                    n += len(chunk)
                    if k % 16 == 15:    # 48 x 200 MB took this server's
                        mwmod._let_others_run()     # health check away
        if headers_out is not None:
            headers_out.update(loc.get('headers') or {})
        self.logger.info('zerocloud_dev: read swift://%s/%s/%s from local '
                         'device %s (%d bytes)', a, c, o, loc['device'], n)
        return n

    # ---- everything else through the proxy, as the user -------------------
    def _proxy(self, req, method, a, c, o, headers=None, body=None,
               size=0):
        from swift.common.bufferedhttp import http_connect_raw
        sub = req.environ['zerocloud.subjob']
        u = urlsplit(sub['proxy_url'])
        h = {'X-Auth-Token': sub.get('token') or '',
             'User-Agent': 'zerocloud_dev objserver'}
        h.update(headers or {})
        path = quote('/v1/%s/%s/%s' % (a, c, o))
        conn = http_connect_raw(u.hostname, u.port or 80, method, path, h)
        if body is not None:
            # the proxy that sent the sub-job gone (it gave this server up
            # and may have rerun its nodes elsewhere): the object is cut
            # short, so Swift never stores it (checked before each chunk,
            # the last included)
            fd = mwmod.client_fd(req.environ)
            left = size
            while left > 0:
                b = body.read(min(CHUNK, left))
                if not b:
                    break
                if fd is not None and mwmod.client_gone(fd):
                    conn.close()
                    raise mwmod.ClientGone()
                conn.send(b)
                left -= len(b)
        return conn.getresponse()

    def _check_http(self, resp, what, spath):
        if resp.status // 100 == 2:
            return
        text = resp.read(512).decode('utf-8', 'replace').strip()
        if resp.status == 404:
            raise mwmod.SwiftError(404, '%s %s not found' % (what, spath))
        raise mwmod.SwiftError(resp.status, '%s %s: %d %s %s' % (
            what, spath, resp.status, resp.reason, text))

    def _fetch_proxy(self, req, a, c, o, dest, what, headers_out):
        spath = 'swift://%s/%s/%s' % (a, c, o)
        resp = self._proxy(req, 'GET', a, c, o)
        self._check_http(resp, what, spath)
        if headers_out is not None:
            headers_out.update(dict(resp.getheaders()))
        n = 0
        with open(dest, 'wb') as f:
            while True:
                b = resp.read(CHUNK)
                if not b:
                    break
                f.write(b)
                n += len(b)
        return n

    def store(self, req, a, c, o, src, content_type=None, headers=None,
              offset=0, size=None):
        spath = 'swift://%s/%s/%s' % (a, c, o)
        if size is None:
            size = os.path.getsize(src) - offset
        h = {'Content-Type': content_type or 'application/octet-stream'}
        h.update(headers or {})
        h['Content-Length'] = str(size)
        with open(src, 'rb') as f:
            f.seek(offset)
            resp = self._proxy(req, 'PUT', a, c, o, headers=h, body=f,
                               size=size)
            self._check_http(resp, 'writing', spath)
            resp.read()

    def _head(self, req, a, c, o):
        resp = self._proxy(req, 'HEAD', a, c, o)
        resp.read()
        if resp.status == 404:
            return None
        self._check_http(resp, 'reading', 'swift://%s/%s/%s' % (a, c, o))
        return dict(resp.getheaders())


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf)
    conf.update(local_conf)

    def factory(app):
        return ObjectServerHalf(app, conf)
    return factory
