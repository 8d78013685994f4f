"""The WSGI filter: POST /v1/<account> with X-Zerovm-Execute: 1.0.

Every object a job reads or writes goes through the rest of the proxy
pipeline as the requesting user: subrequests carry the original token and
the environ's auth state (REMOTE_USER, swift.authorize, keystone identity
headers), so the proxy-server calls the auth middleware's authorize() for
each of them, exactly as for the user's own requests.
"""
import json
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time

from swift.common.swob import Request, Response, HTTPException
from swift.common.utils import get_logger, config_true_value

from . import job as jobmod
from . import tarsafe
from . import runner as runmod
from . import response as respmod
from . import forms
from . import chain as chainmod

IMAGE_TYPES = ('application/x-tar', 'application/x-gtar',
               'application/x-ustar', 'application/x-gzip')
JOB_TYPES = ('application/json',)
# environ keys that make up "who is asking" (cf. swift.common.wsgi.make_env)
COPY_KEYS = ('REMOTE_USER', 'REMOTE_ADDR', 'swift.authorize', 'swift.cache',
             'swift.infocache', 'swift.trans_id', 'HTTP_HOST', 'SERVER_NAME',
             'SERVER_PORT', 'SERVER_PROTOCOL', 'wsgi.url_scheme',
             'keystone.identity', 'keystone.token_info',
             'keystone.token_auth', 'reseller_request', 'HTTP_ORIGIN',
             'HTTP_REFERER')
COPY_PREFIXES = ('HTTP_X_AUTH_', 'HTTP_X_STORAGE_TOKEN', 'HTTP_X_USER',
                 'HTTP_X_PROJECT', 'HTTP_X_TENANT', 'HTTP_X_DOMAIN',
                 'HTTP_X_ROLE', 'HTTP_X_IDENTITY_STATUS', 'HTTP_X_SERVICE_',
                 'HTTP_X_IS_ADMIN_PROJECT', 'HTTP_X_SYSTEM_SCOPE')


def conn_list(connections):
    """jobmod.connections' channels as the runner takes them (names)."""
    return [{'src': getattr(c['src'], 'name', c['src']),
             'dst': getattr(c['dst'], 'name', c['dst']),
             'src_dev': c.get('src_dev'), 'dst_dev': c.get('dst_dev')}
            for c in connections]


class ClientGone(Exception):
    """The client closed its connection while its job ran."""


def client_fd(environ):
    """The file descriptor of the client's connection, or None: eventlet's
    wsgi.Input keeps the socket as `_sock`."""
    inp = environ.get('eventlet.input') or environ.get('wsgi.input')
    for _ in range(4):
        if inp is None:
            break
        sock = getattr(inp, '_sock', None)
        if sock is not None:
            try:
                fd = sock.fileno()
                return fd if fd >= 0 else None
            except Exception:
                return None
        inp = getattr(inp, 'wsgi_input', None)
    return None


def _real(name):
    try:
        from eventlet import patcher
        return patcher.original(name)
    except ImportError:   # pragma: no cover
        return __import__(name)


def _let_others_run():
    """Yield to the server's other green threads (its health check, other
    requests) during long work of its own."""
    try:
        from eventlet import sleep
    except ImportError:   # pragma: no cover
        return
    sleep(0)


def client_gone(fd):
    """Whether the peer of socket fd has closed (or reset) it. Data waiting
    (a pipelined request) is not a disconnect. Never blocks."""
    select = _real('select')
    try:
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLRDHUP | select.POLLHUP |
                   select.POLLERR)
        events = p.poll(0)
    except (OSError, ValueError):
        return True
    for _, ev in events:
        if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR |
                 select.POLLNVAL):
            return True
    return False


OWNER = 'owner.pid'


def sweep_work_dirs(root, min_age=60):
    """Remove job directories whose proxy died mid-job (a directory names
    its proxy in owner.pid; directories of live proxies, of other
    versions, or younger than min_age seconds stay)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    now = time.time()
    for n in names:
        if not n.startswith('zc-'):
            continue
        d = os.path.join(root, n)
        try:
            with open(os.path.join(d, OWNER)) as f:
                pid = int(f.read().strip())
            if now - os.stat(d).st_mtime < min_age:
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            continue


class SwiftError(Exception):
    """A subrequest failed; answer the client with the proxy's status."""

    def __init__(self, status, msg, headers=None):
        Exception.__init__(self, msg)
        self.status = status
        self.headers = headers or {}


def parse_size(v):
    s = str(v).strip().upper()
    mult = 1
    for suf, m in (('K', 1 << 10), ('M', 1 << 20), ('G', 1 << 30)):
        if s.endswith(suf) or s.endswith(suf + 'B') or \
                s.endswith(suf + 'IB'):
            mult = m
            s = s.rstrip('IB').rstrip(suf)
            break
    return int(float(s) * mult)


def parse_system_images(v):
    out = {}
    for item in str(v).split(','):
        item = item.strip()
        if not item:
            continue
        if ':' not in item:
            raise ValueError('system_images: %r is not NAME:PROGRAM' % item)
        name, prog = item.split(':', 1)
        out[name.strip()] = prog.strip()
    return out


def hval(s):
    """One header item: no commas or line breaks; UTF-8 as a latin-1 WSGI
    str (an object name like `nope\u2603` in X-Nexe-Error made eventlet
    drop the connection instead of answering)."""
    return respmod.wsgi_str(re.sub(r'[\x00-\x1f\x7f]', ' ',
                                   str(s).replace(',', ';')))


class ZeroCloudDev(object):
    def __init__(self, app, conf):
        self.app = app
        self.conf = conf
        self.logger = get_logger(conf, log_route='zerocloud_dev')
        self.timeout = float(conf.get('timeout', 60))
        self.memory = parse_size(conf.get('memory_limit', 1 << 30))
        self.max_upload = parse_size(conf.get('max_upload_size', 1 << 30))
        self.max_job = parse_size(conf.get('max_job_size', 1 << 20))
        self.max_nodes = int(conf.get('max_nodes', 64))
        self.max_unpacked = parse_size(conf.get('max_image_unpacked',
                                                2 << 30))
        # disk_limit replaces tmp_size (which sized /tmp alone); an old
        # config's tmp_size is still read when there is no disk_limit
        self.disk_limit = parse_size(conf.get(
            'disk_limit', conf.get('tmp_size', runmod.DISK_LIMIT)))
        self.output_limit = parse_size(conf.get('output_limit',
                                                runmod.OUTPUT_LIMIT))
        self.process_limit = int(conf.get('process_limit',
                                          runmod.PROCESS_LIMIT))
        for key, v in (('disk_limit', self.disk_limit),
                       ('output_limit', self.output_limit),
                       ('process_limit', self.process_limit),
                       ('memory_limit', self.memory)):
            if v <= 0:
                raise ValueError('zerocloud_dev: %s must be positive, not %r'
                                 % (key, v))
        self.cgroups = conf.get('cgroups', 'auto').strip().lower()
        self.mounts = conf.get('mounts', 'auto').strip().lower()
        for key, v in (('cgroups', self.cgroups), ('mounts', self.mounts)):
            if v not in ('auto', 'off'):
                raise ValueError('zerocloud_dev: %s must be auto or off, '
                                 'not %r' % (key, v))
        self.poll_client = float(conf.get('client_poll_interval', 0.25))
        # issue 18: the proxy half places jobs on the object servers when
        # the object ring has more than one device (placement.py)
        self.placement = None
        if conf.get('secret') or conf.get('secret_file'):
            from . import placement
            self.placement = placement.Placement(conf, self.logger)
        self._forms_conf()
        self.system_images = parse_system_images(conf.get(
            'system_images', 'python2.7:/usr/bin/python3,'
            'python3:/usr/bin/python3'))
        self.work_root = conf.get('work_dir') or tempfile.gettempdir()
        if not runmod.traversable(self.work_root):
            self.logger.warning(
                'zerocloud_dev: work_dir %s is not traversable by other '
                'users (o+x on every directory): nodes run as host root '
                '(owner of root-only files) instead of a uid of their own'
                % self.work_root)
        self.bwrap = conf.get('bwrap', runmod.BWRAP)
        self.python = conf.get('python') or (
            '/usr/bin/python3' if os.path.exists('/usr/bin/python3')
            else sys.executable)
        self.unsandboxed = config_true_value(conf.get('unsandboxed', 'false'))
        if not self.unsandboxed and not runmod.have_bwrap(self.bwrap):
            raise RuntimeError(
                'zerocloud_dev: bubblewrap (%s) is not available; install '
                'the Debian package bubblewrap, or set unsandboxed = true '
                'to run job nodes without a sandbox (NOT SAFE)' % self.bwrap)
        if self.unsandboxed:
            self.logger.warning('zerocloud_dev: running job nodes '
                                'UNSANDBOXED (unsandboxed = true)')
        self.logger.info('zerocloud_dev: timeout %gs, memory %d bytes, '
                         'disk %d bytes, output %d bytes, %d processes, '
                         'system images %r, sandbox %s', self.timeout,
                         self.memory, self.disk_limit, self.output_limit,
                         self.process_limit, self.system_images,
                         'off' if self.unsandboxed else self.bwrap)

    # ---- WSGI ------------------------------------------------------------
    def __call__(self, env, start_response):
        """Requests.md, RESTServices.md: X-Zerovm-Execute (any method, any
        path), /open/... and /api/... are ours, never Swift's; the rest
        goes down the pipeline untouched."""
        try:
            form = forms.classify(env)
        except forms.FormError as e:
            return self._error(e.status, str(e))(env, start_response)
        if form is None:
            return self.app(env, start_response)
        req = Request(env)
        try:
            resp = self.execute(req, form)
        except HTTPException as e:
            resp = e
        return resp(env, start_response)

    def _authorize_exec(self, req, account):
        """Running a job POSTed to /v1/<account>[/...] needs the rights of
        an account POST (the owner's): swift.authorize sees that request."""
        authorize = req.environ.get('swift.authorize')
        if not authorize:
            return None
        env = dict(req.environ)
        env['PATH_INFO'] = '/%s/%s' % (req.environ['PATH_INFO'].split(
            '/')[1], account)
        env['REQUEST_METHOD'] = 'POST'
        env.pop('swift.authorize_override', None)
        areq = Request(env)
        denied = authorize(areq)
        # tempauth and keystoneauth note an owner in the environ
        if areq.environ.get('swift_owner'):
            req.environ['swift_owner'] = True
        return denied

    def execute(self, req, form):
        """One request form -> a JobRequest (forms.py) -> run_job, and the
        jobs its responses chain (chain.py). /open and /api need no rights
        on the account: reading the object, template or endpoint (as the
        user) is their authorization, as are the job's own reads/writes."""
        account = form.account
        if form.kind == 'post':
            denied = self._authorize_exec(req, account)
            if denied:
                return denied
        sweep_work_dirs(self.work_root)
        work = tempfile.mkdtemp(prefix='zc-', dir=self.work_root)
        os.chmod(work, 0o755)
        with open(os.path.join(work, OWNER), 'w') as f:
            f.write('%d\n' % os.getpid())
        try:
            jobreq = forms.Builder(self, req, form, work).build()
            return chainmod.run_chain(self.run_job, req, account, work,
                                      jobreq, self.max_job,
                                      self.chain_timeout, self.logger)
        except forms.FormError as e:
            return self._error(e.status, str(e))
        except (jobmod.JobError, tarsafe.TarError) as e:
            return self._error(e.status, str(e))
        except SwiftError as e:
            return self._error(e.status, str(e), e.headers)
        except ClientGone:
            self.logger.info('zerocloud_dev: the client of %s went away; '
                             'its job was stopped', req.path)
            return self._error(499, 'client disconnected; the job was '
                               'stopped')
        except Exception as e:
            self.logger.exception('zerocloud_dev: job failed')
            return self._error(500, 'internal error: %s' % e)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _forms_conf(self):
        """Settings of the request forms: chain_timeout (Chaining.md) and
        the .zvm config template cache (60 s, Requests.md)."""
        self.chain_timeout = float(self.conf.get('chain_timeout',
                                                 chainmod.CHAIN_TIMEOUT))
        if self.chain_timeout <= 0:
            raise ValueError('zerocloud_dev: chain_timeout must be '
                             'positive, not %r' % self.chain_timeout)
        self.templates = forms.TemplateCache()

    def _error(self, status, msg, headers=None):
        h = {'Content-Type': 'text/plain; charset=utf-8',
             'X-Nexe-Error': hval(msg)[:1024]}
        h.update(headers or {})
        return Response(status=status, body=(msg + '\n').encode('utf-8'),
                        headers=h)

    # ---- subrequests as the user ---------------------------------------
    def _subreq(self, req, method, path, query='', headers=None, body=None):
        env = req.environ
        new = {}
        for k in COPY_KEYS:
            if k in env:
                new[k] = env[k]
        for k, v in env.items():
            if k.startswith(COPY_PREFIXES):
                new[k] = v
        new['HTTP_USER_AGENT'] = (env.get('HTTP_USER_AGENT', '') +
                                  ' zerocloud_dev').strip()
        new['swift.source'] = 'ZC'
        sub = Request.blank(path, environ=new, method=method,
                            headers=headers or {})
        if query:
            sub.environ['QUERY_STRING'] = query
        if body is not None:
            sub.environ['wsgi.input'] = body
        return sub.get_response(self.app)

    @staticmethod
    def _opath(a, c, o=None):
        from urllib.parse import quote
        p = '/v1/%s/%s' % (a, c)
        if o is not None:
            p += '/' + o
        return quote(p)

    def _check(self, resp, what, spath):
        if resp.status_int // 100 == 2:
            return
        body = b''.join(resp.app_iter or [])[:512].decode('utf-8', 'replace')
        if resp.status_int == 404:
            raise SwiftError(404, '%s %s not found' % (what, spath))
        raise SwiftError(resp.status_int, '%s %s: %s %s' % (
            what, spath, resp.status, body.strip()))

    def fetch(self, req, a, c, o, dest, what='reading', headers_out=None):
        spath = 'swift://%s/%s/%s' % (a, c, o)
        resp = self._subreq(req, 'GET', self._opath(a, c, o))
        self._check(resp, what, spath)
        if headers_out is not None:
            headers_out.update(resp.headers)
        n = 0
        with open(dest, 'wb') as f:
            try:
                for chunk in resp.app_iter:
                    f.write(chunk)
                    n += len(chunk)
            finally:
                close = getattr(resp.app_iter, 'close', None)
                if close:
                    close()
        return n

    def store(self, req, a, c, o, src, content_type=None, headers=None,
              offset=0, size=None):
        """PUT src (from offset, size bytes) as the object, as the user;
        headers: Content-Type, X-Object-Meta-*."""
        spath = 'swift://%s/%s/%s' % (a, c, o)
        if size is None:
            size = os.path.getsize(src) - offset
        h = {'Content-Type': content_type or 'application/octet-stream'}
        h.update(headers or {})
        h['Content-Length'] = str(size)
        with open(src, 'rb') as f:
            f.seek(offset)
            resp = self._subreq(req, 'PUT', self._opath(a, c, o), headers=h,
                                body=f)
            self._check(resp, 'writing', spath)

    def _head(self, req, a, c, o):
        """The object's headers (HEAD as the user), None if absent."""
        resp = self._subreq(req, 'HEAD', self._opath(a, c, o))
        if resp.status_int == 404:
            return None
        self._check(resp, 'reading', 'swift://%s/%s/%s' % (a, c, o))
        return dict(resp.headers)

    def _listing(self, req, path, spath, prefix):
        """Names under a listing (an account's containers or a container's
        objects) with this prefix, page by page, as the user."""
        from urllib.parse import urlencode
        names = []
        marker = ''
        while True:
            q = urlencode({'format': 'json', 'prefix': prefix,
                           'marker': marker})
            resp = self._subreq(req, 'GET', path, query=q)
            self._check(resp, 'listing', spath)
            items = json.loads(b''.join(resp.app_iter or []) or b'[]')
            if not items:
                return names
            names.extend(i['name'] for i in items if 'name' in i)
            marker = items[-1].get('name', items[-1].get('subdir'))

    def container_lister(self, req):
        from urllib.parse import quote
        return lambda a, prefix: self._listing(
            req, quote('/v1/%s' % a), 'swift://%s' % a, prefix)

    def lister(self, req):
        return lambda a, c, prefix: self._listing(
            req, self._opath(a, c), 'swift://%s/%s' % (a, c), prefix)

    # ---- the job ---------------------------------------------------------
    def run_job(self, req, account, work, jobreq):
        """Run the job of a JobRequest (.job, .image, .payload, .cgi) in
        the job directory `work` and answer it: the objects written as the
        user, the immediate channels as the body, the X-Nexe-* headers
        (Response.md)."""
        t_start = time.time()
        job = jobmod.normalize_job(jobreq.job)
        jobmod.validate_job(job, system_images=self.system_images,
                            payload=jobreq.payload is not None)
        nodes = jobmod.expand_nodes(
            job, account, self.lister(req),
            container_lister=self.container_lister(req))
        if len(nodes) > self.max_nodes:
            raise jobmod.JobError('job has %d nodes; the limit is %d'
                                  % (len(nodes), self.max_nodes))
        cgi = dict(getattr(jobreq, 'cgi', None) or {})
        placed = self.placement.place(self, req, account, nodes,
                                          jobreq) \
            if self.placement is not None else None
        ran_at = None
        if placed:
            # issue 18: each server runs its nodes next to their data
            results, parts, tails, errors, upload_error = \
                self.placement.run(self, req, account, work, nodes, placed,
                                   cgi)
            ran_at = {i: '%s:%d' % placed.where[i] for i in placed.colo}
        else:
            results, parts, tails, errors, upload_error = self.run_nodes(
                req, account, work, jobreq, nodes, cgi)
        total_time = time.time() - t_start
        headers = {
            'X-Nexe-System': ','.join(n.name for n in nodes),
            'X-Nexe-Status': ','.join(hval(r['status']) for r in results),
            'X-Nexe-Retcode': ','.join(str(r['retcode']) for r in results),
            # aggregating headers: one item per node (Response.md)
            'X-Nexe-Etag': ','.join('disabled' for _ in nodes),
            'X-Nexe-Validation': ','.join('0' for _ in nodes),
            'X-Nexe-Cdr-Line': jobmod.fmt_cdr(total_time, results),
            'X-Nexe-Colocated': respmod.colocated(nodes, ran_at),
            'X-Chain-Total-Time': '%.3f' % total_time,
            'Etag': respmod.time_etag(),
        }
        if any(tails):
            headers['X-Nexe-Stderr'] = respmod.nexe_stderr(results, tails)
        if errors:
            headers['X-Nexe-Error'] = hval('; '.join(errors))[:4096]
        if upload_error is not None:
            return self._error(upload_error.status, str(upload_error),
                               headers)
        status, h, body = respmod.immediate_response(parts)
        headers.update(h)
        headers['Content-Length'] = str(body.length)
        return Response(status=status, app_iter=body, headers=headers)

    def run_nodes(self, req, account, work, jobreq, nodes, cgi,
                  conns=None, remote=None):
        """Prepare, run and store the nodes here (all of a job on one
        server; or, on an object server, those the proxy placed on it,
        with the connections it gives: `conns` between them, `remote`
        with nodes elsewhere, see runner.Runner). Returns (results,
        immediate parts, stderr tails, errors, the first upload error),
        one result and tail per node."""
        images = {}
        specs = []
        for i, node in enumerate(nodes):
            specs.append(self._prepare(req, account, node, i, work, jobreq,
                                       images, cgi))
        if conns is None:
            conns = conn_list(jobmod.connections(nodes))
        total, results = self._run(specs, conns, work, req.environ, remote)
        # the objects, written as the user; per node its first immediate
        # channel for the body
        errors = []
        upload_error = None
        parts = []
        tails = []
        fd = client_fd(req.environ)
        for node, spec, res in zip(nodes, specs, results):
            outs = respmod.node_outputs(node, spec['_files'])
            for o in outs:
                if o.bad_message:
                    self.logger.warning(
                        'zerocloud_dev: %s of node %s is not a parsable %s '
                        '(%s); passed on as it is', o.name, node.name,
                        o.dev.get('content_type'), o.bad_message)
                if o.swift is None:
                    continue
                # a client gone (the proxy gave this server up: its nodes
                # may have rerun elsewhere) gets nothing more written
                if fd is not None and client_gone(fd):
                    raise ClientGone()
                try:
                    self.store(req, *o.swift, src=o.path,
                               headers=o.headers('application/octet-stream'),
                               offset=o.offset, size=o.size)
                except SwiftError as e:
                    errors.append('%s: %s' % (node.name, e))
                    if upload_error is None:
                        upload_error = e
            part = respmod.first_immediate(outs)
            if part is not None:
                parts.append(part)
            if res.get('error'):
                errors.append('%s: %s' % (node.name, res['error']))
            tails.append(respmod.stderr_tail(
                res, spec['_files'].get('stderr'))
                if respmod.failed(res) else b'')
        return results, parts, tails, errors, upload_error

    def _prepare(self, req, account, node, i, work, jobreq, images, cgi):
        """The runner's spec of one node: its root (the image), program,
        argv, environment (CGI variables, exec.env), devices."""
        g = node.group
        ex = g['exec']
        ndir = os.path.join(work, 'n%d' % i)
        root = os.path.join(ndir, 'root')
        os.makedirs(root)
        os.chmod(ndir, 0o755)
        files = {}
        spec = {'name': node.name, 'root': root, 'binds': [],
                'symlinks': [], 'timeout': self.timeout,
                'memory': self.memory, '_files': files}
        # the image: the node's root filesystem
        dev = node.devices.get('image')
        img = None
        if dev is not None and 'swift' in dev:
            key = dev['path']
            if key not in images:
                dest = os.path.join(work, 'image%d' % len(images))
                self.fetch(req, *dev['swift'], dest=dest)
                tarsafe.check_image(dest)
                images[key] = dest
            img = images[key]
        elif getattr(jobreq, 'image', None):
            img = jobreq.image
        elif dev is not None:
            raise jobmod.JobError('group %r: image device has no path and '
                                  'no image was posted' % g['name'])
        if img:
            tarsafe.extract_image(img, root, self.max_unpacked,
                                  tick=_let_others_run)
        # the program
        kind = jobmod.parse_exec_path(ex['path'], account)
        sysimage = None
        if kind[0] == 'relative':
            # Servlets.md rule 11: the user image first, then the system
            # images the node has as devices, in configuration order
            rel = kind[1].lstrip('/')
            if img and tarsafe.is_regular_inside(root, rel):
                kind = ('image', rel)
            else:
                mine = [s for s in self.system_images if s in node.devices]
                if not mine:
                    raise jobmod.JobError(
                        'group %r: exec path %r is not a file in the image '
                        'and the group has no system image device'
                        % (g['name'], ex['path']))
                kind = ('sysimage', mine[0], kind[1])
        env = dict(cgi)
        env['SCRIPT_NAME'] = ex.get('name') or node.name
        env['SCRIPT_FILENAME'] = ex['path']
        if kind[0] == 'sysimage':
            sysimage = kind[1]
            prog = self.system_images.get(sysimage)
            if not prog:
                raise jobmod.JobError('group %r: unknown system image %r '
                                      '(have: %s)' % (
                                          g['name'], sysimage,
                                          ', '.join(sorted(
                                              self.system_images))))
            # argv[0]: exec.name, else the node's name (Servlets.md 18)
            argv0 = ex.get('name') or node.name
            program = prog
            if '/' not in argv0:
                # so that argv[0] resolves to the program through PATH
                spec['symlinks'].append([prog, '/zvm/bin/' + argv0])
                env['PATH'] = '/zvm/bin:' + runmod.DEFAULT_PATH
            spec['host_program'] = prog
        elif kind[0] == 'swift':
            a, c, o = kind[1:]
            exe = os.path.join(ndir, 'exe')
            self.fetch(req, a, c, o, dest=exe)
            os.chmod(exe, 0o755)
            base = os.path.basename(o) or 'exe'
            program = '/zvm/exec/' + base
            spec['binds'].append([exe, program])
            spec['host_program'] = exe
            argv0 = ex.get('name') or node.name
        else:
            rel = kind[1].lstrip('/')
            if not img:
                raise jobmod.JobError('group %r: exec path %r is inside the '
                                      'image but the job has no image'
                                      % (g['name'], ex['path']))
            if not tarsafe.is_regular_inside(root, rel):
                raise jobmod.JobError('group %r: exec path %r is not a file '
                                      'in the image' % (g['name'], ex['path']))
            p = os.path.join(root, rel)
            os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP |
                     stat.S_IXOTH)
            # the image is the root; a top-level name the host's
            # directories shadow there (bin/, lib/, ...) is reached
            # through /zapp, where the whole image is
            top = rel.split('/', 1)[0]
            program = ('/zapp/' if '/' + top in runmod.SHADOWED
                       else '/') + rel
            spec['host_program'] = p
            argv0 = ex.get('name') or node.name
        spec['program'] = program
        spec['argv'] = [argv0] + jobmod.split_args(ex.get('args'))
        # readable devices: an object, or the request's payload
        local = None
        for name, d in node.devices.items():
            if name not in ('stdin', 'input', 'script'):
                continue
            if 'swift' in d:
                dest = os.path.join(ndir, name)
                got = {}
                self.fetch(req, *d['swift'], dest=dest, headers_out=got)
                if local is None or (local[0] == 'script' and
                                     name != 'script'):
                    local = (name, d['swift'], got)
            elif d.get('payload') or (d.get('path') is None and
                                      getattr(jobreq, 'payload', None)):
                if not getattr(jobreq, 'payload', None):
                    raise jobmod.JobError('group %r: device %r has no path '
                                          'and the request has no payload'
                                          % (g['name'], name))
                if name == 'stdin':
                    dest = jobreq.payload    # only read by the runner
                else:
                    dest = os.path.join(ndir, name)
                    try:
                        os.link(jobreq.payload, dest)
                    except OSError:
                        shutil.copyfile(jobreq.payload, dest)
            else:
                continue   # zvm://: a connection
            spec[name] = dest
            if name == 'input':
                # a regular file (random access, Servlets.md rule 9), or a
                # FIFO when the job asks for a pipe (rule 16)
                spec['input_mode'] = 'pipe' if d.get('mode') == 'pipe' \
                    else 'file'
        # the CGI environment's LOCAL_* (CGIEnvironment.md): the attach
        # device, else the first swift:// readable device
        att = getattr(node, 'attach', None) or g.get('attach')
        ad = node.devices.get(att) if att and att != 'default' else None
        if ad is not None and 'swift' in ad:
            if local is None or local[1] != ad['swift']:
                got = self._head(req, *ad['swift'])
                local = (att, ad['swift'], got) if got is not None else None
            else:
                local = (att,) + local[1:]
        if local is not None:
            env.update(respmod.local_vars(local[0], *local[1], local[2]))
        env.update(ex.get('env') or {})
        env.setdefault('PATH', runmod.DEFAULT_PATH)
        env.setdefault('HOME', '/')
        sp = 'lib/%s/site-packages' % sysimage
        if sysimage and 'python' in sysimage and \
                os.path.isdir(os.path.join(root, sp)):
            env.setdefault('PYTHONPATH', '/zapp/' + sp)
        spec['env'] = env
        # writable devices: collected into files (not when the stream
        # feeds a zvm:// connection); a failed node's stderr tail comes
        # from the runner whatever its device
        for name in ('stdout', 'stderr', 'output'):
            d = node.devices.get(name)
            if d is None or str(d.get('path') or '').startswith('zvm://'):
                continue
            dest = os.path.join(ndir, name + '.out')
            open(dest, 'wb').close()
            files[name] = dest
            spec[name] = dest
        return spec

    def _run(self, specs, conns, work, environ=None, remote=None):
        clean = [{k: v for k, v in s.items() if not k.startswith('_')}
                 for s in specs]
        spec_path = os.path.join(work, 'job.json')
        out_path = os.path.join(work, 'result.json')
        err_path = os.path.join(work, 'runner.err')
        # 0600: it holds the stream tokens of the job's connections
        with os.fdopen(os.open(spec_path, os.O_WRONLY | os.O_CREAT |
                               os.O_TRUNC, 0o600), 'w') as f:
            json.dump({'nodes': clean, 'conns': conns, 'remote': remote,
                       'workdir': work,
                       'options': {'sandbox': not self.unsandboxed,
                                   'bwrap': self.bwrap,
                                   'disk_limit': self.disk_limit,
                                   'output_limit': self.output_limit,
                                   'process_limit': self.process_limit,
                                   'cgroups': self.cgroups,
                                   'mounts': self.mounts}}, f)
        pkg_parent = os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))
        env = {'PATH': runmod.DEFAULT_PATH, 'PYTHONPATH': pkg_parent,
               'LANG': 'C.UTF-8'}
        try:
            from eventlet.green import subprocess as gsub
        except ImportError:   # pragma: no cover
            import subprocess as gsub
        fd = client_fd(environ or {})
        with open(err_path, 'wb') as errf:
            p = gsub.Popen([self.python, '-m', 'zerocloud_dev.runner',
                            spec_path, out_path], env=env, cwd=work,
                           stdin=gsub.DEVNULL, stdout=gsub.DEVNULL,
                           stderr=errf)
        # every node has its own time limit; allow for setup and teardown.
        # Meanwhile, watch the client: gone, the job is stopped.
        deadline = time.time() + self.timeout + 60
        while True:
            try:
                p.wait(timeout=self.poll_client)
                break
            except gsub.TimeoutExpired:
                pass
            if fd is not None and client_gone(fd):
                self._stop(p, gsub)
                raise ClientGone()
            if time.time() > deadline:
                self._stop(p, gsub)
                raise SwiftError(500, 'the runner did not finish')
        if p.returncode != 0 or not os.path.exists(out_path):
            with open(err_path, 'rb') as f:
                err = f.read()[-2000:]
            raise SwiftError(500, 'the runner failed: %s' % (
                err.decode('utf-8', 'replace')))
        with open(out_path) as f:
            out = json.load(f)
        mech = out['results'][0].get('mechanisms') if out['results'] else None
        if mech:
            self.logger.debug('zerocloud_dev: limits enforced by %r', mech)
        return out['total'], out['results']

    @staticmethod
    def _stop(p, gsub):
        """SIGTERM: the runner kills every node and cleans up; SIGKILL if
        it takes more than 10 s."""
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
        except gsub.TimeoutExpired:
            p.kill()
            p.wait()
        except OSError:
            pass


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf)
    conf.update(local_conf)

    def factory(app):
        return ZeroCloudDev(app, conf)
    return factory
