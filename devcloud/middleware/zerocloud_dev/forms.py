"""Request forms (ZeroCloud's Requests.md, RESTServices.md): which requests
are ours, and how each one becomes a JobRequest.

classify(environ) decides from the method, the path and X-Zerovm-Execute
alone (no I/O): None (not ours: Swift answers), a Form, or FormError (we
answer with its status). Builder turns a Form into a JobRequest, reading
whatever it needs (the body, an X-Zerovm-Source object, the /open object,
a .zvm config template, an /api endpoint) through the proxy as the user.
"""
import io
import json
import os
import re
import tarfile
import time
from urllib.parse import parse_qsl, quote, unquote

from . import cgi as cgimod
from . import tarsafe
from .runner import CHUNK

JOB_TYPES = ('application/json',)
IMAGE_TYPES = ('application/x-tar', 'application/x-gtar',
               'application/x-ustar', 'application/x-gzip')
NEXE_TYPE = 'application/x-nexe'
REST_METHODS = ('GET', 'HEAD', 'POST', 'PUT', 'DELETE')
SWIFT_VERSIONS = ('v1', 'v1.0')
REGISTRY = '.zvm'          # /v1/<account>/.zvm/<content-type>/config
TEMPLATE_TTL = 60.0        # seconds a config template is kept
SYSTEM_MAPS = ('boot/system.map', 'boot/cluster.map')


class FormError(Exception):
    """The request cannot be served as it is: answer `status` with the
    message."""

    def __init__(self, status, msg):
        Exception.__init__(self, msg)
        self.status = status


class JobRequest(object):
    """What a request asks to run (see CONTRACT: used by run_job).

    job: raw list of groups; image: local path of an image tar or None;
    payload: local path of the request body for path-less readable devices
    (or None); payload_type: its Content-Type; cgi: request-based CGI
    variables; source: the X-Zerovm-Source / endpoint / object URL or None.
    """

    def __init__(self, job=None, image=None, payload=None,
                 payload_type=None, cgi=None, source=None, kind='job'):
        self.job = job
        self.image = image
        self.payload = payload
        self.payload_type = payload_type
        self.cgi = cgi if cgi is not None else {}
        self.source = source
        self.kind = kind          # job, image, script, template, nexe

    def __repr__(self):
        return 'JobRequest(%s, source=%r, image=%r, payload=%r)' % (
            self.kind, self.source, self.image, self.payload)


class Form(object):
    """kind: 'post' (X-Zerovm-Execute 1.0 on /v1/...), 'open' (/open/... or
    open/1.0), 'api' (/api/... or api/1.0)."""

    def __init__(self, kind, method, version, account, container=None,
                 obj=None, execute=None):
        self.kind = kind
        self.method = method
        self.version = version
        self.account = account
        self.container = container
        self.obj = obj
        self.execute = execute     # the X-Zerovm-Execute value it runs as

    def __repr__(self):
        return 'Form(%s %s /%s/%s/%s)' % (self.kind, self.method,
                                          self.account, self.container,
                                          self.obj)


def _split(path):
    """'/ver/a/c/rest/of/it' -> [ver, a, c, 'rest/of/it'] (None for the
    missing ones); empty segments before the object are refused."""
    if not path.startswith('/'):
        return None
    parts = path[1:].split('/', 3)
    while len(parts) < 4:
        parts.append(None)
    ver, a, c, o = parts
    if c == '' and o is None:
        c = None                     # '/v1/a/' is the account
    if o == '':
        o = None
    return [ver, a, c, o]


def classify(env):
    """The Form of a request, None when it is not ours, or FormError."""
    path = env.get('PATH_INFO', '')
    method = env.get('REQUEST_METHOD', 'GET')
    execute = env.get('HTTP_X_ZEROVM_EXECUTE')
    parts = _split(path)
    ver = parts[0] if parts else None
    if ver not in ('open', 'api', 'open-with') and execute is None:
        return None
    if execute is not None:
        execute = execute.strip()
    if not parts or not parts[1]:
        raise FormError(400, 'X-Zerovm-Execute needs a path /v1/<account>'
                        '[/<container>/<object>], /open/... or /api/...; '
                        'not %s' % path)
    ver, account, container, obj = parts
    if ver == 'open-with' or (execute or '').startswith('open-with'):
        raise FormError(501, 'open-with is not implemented (ZeroCloud does '
                        'not implement it either)')
    if ver in ('open', 'api'):
        if execute not in (None, '1.0', ver + '/1.0'):
            raise FormError(400, 'X-Zerovm-Execute %r does not go with a '
                            '/%s/... path (leave it out or send %s/1.0)'
                            % (execute, ver, ver))
        kind = ver
    elif ver in SWIFT_VERSIONS:
        if execute == '1.0' or execute == ver + '/1.0':
            kind = 'post'
        elif execute in ('open/1.0', 'api/1.0'):
            kind = execute.split('/')[0]
        else:
            raise FormError(400, 'unsupported X-Zerovm-Execute value %r '
                            '(want 1.0, open/1.0 or api/1.0)' % execute)
    else:
        raise FormError(400, 'X-Zerovm-Execute on a path with version %r: '
                        'want /v1/<account>..., /open/... or /api/...'
                        % ver)
    if kind == 'post':
        if method != 'POST':
            raise FormError(501, 'X-Zerovm-Execute 1.0 runs a job with POST '
                            'only, not %s (for GET use /open/<account>/'
                            '<container>/<object>)' % method)
        if container is not None and obj is None:
            raise FormError(400, 'POST a job, an image or a script to '
                            '/%s/<account>, or a script to /%s/<account>/'
                            '<container>/<object>; not to a container'
                            % (ver, ver))
    elif kind == 'open':
        if container is None or obj is None:
            raise FormError(400, 'open needs /open/<account>/<container>/'
                            '<object> (or open/1.0 on /v1/<account>/'
                            '<container>/<object>)')
    else:
        if container is None:
            raise FormError(400, 'api needs /api/<account>/<container>'
                            '[/<path>] (or api/1.0 on /v1/<account>/'
                            '<container>/...)')
    if kind != 'post' and method not in REST_METHODS:
        raise FormError(400, '%s requests take %s, not %s'
                        % (kind, ', '.join(REST_METHODS), method))
    return Form(kind, method, ver, account, container, obj,
                execute=execute or '%s/1.0' % kind)


def ctype_of(value):
    return (value or '').split(';')[0].strip().lower()


def swift_url(a, c, o=None):
    return 'swift://%s/%s' % (a, c) + ('/' + o if o is not None else '')


def parse_swift_url(url, account):
    """swift://a/c/o -> (a, c, o); '.' and '~' as account mean `account`."""
    if not isinstance(url, str) or not url.startswith('swift://'):
        return None
    parts = url[len('swift://'):].split('/', 2)
    if len(parts) < 3 or not all(parts) or '*' in url:
        return None
    if parts[0] in ('.', '~'):
        parts[0] = account
    return tuple(parts)


# ---- scripts ---------------------------------------------------------------
def escape_word(w):
    """zpm's argument escaping (the job's exec.args is split on spaces)."""
    return ''.join('\\x%02x' % ord(ch) if ch in '\\", \n' else ch
                   for ch in w)


def parse_shebang(head, system_images=None):
    """The first line of a script -> (exec path, [args], system image or
    None). FormError 400 when there is none or it names no interpreter."""
    if not head.startswith(b'#!'):
        raise FormError(400, 'a script must start with a shebang line '
                        '(#! <interpreter> [args]); or POST a job '
                        '(application/json) or an image (application/x-tar, '
                        'x-gtar, x-ustar, x-gzip)')
    line = head.split(b'\n', 1)[0].rstrip(b'\r')
    try:
        line = line[2:].decode('utf-8')
    except UnicodeDecodeError:
        raise FormError(400, 'the shebang line is not UTF-8')
    words = line.split()
    if not words:
        raise FormError(400, 'the shebang line names no interpreter')
    exe, args = words[0], words[1:]
    sysimage = None
    images = system_images or {}
    if exe.startswith('file://'):
        rest = exe[len('file://'):]
        if ':' not in rest or not rest.split(':', 1)[0] or \
                not rest.split(':', 1)[1]:
            raise FormError(400, 'bad interpreter %s: a script\'s shebang '
                            'names a system image, file://<image>:<path>'
                            % exe)
        sysimage = rest.split(':', 1)[0]
        if sysimage == 'image':
            raise FormError(400, 'bad interpreter %s: name a system image, '
                            'not the image (a script has none)' % exe)
    elif exe.startswith('swift://'):
        pass
    elif '://' in exe:
        raise FormError(400, 'bad interpreter %s: want file://<system '
                        'image>:<path>, swift://<account>/<container>/'
                        '<object> or a path' % exe)
    elif exe.startswith('/') and exe in images.values():
        # the host program of a system image (#!/usr/bin/python3)
        sysimage = sorted(k for k, v in images.items() if v == exe)[0]
        exe = 'file://%s:%s' % (sysimage, exe.rsplit('/', 1)[-1])
    elif exe in images:
        # Requests.md's "#! system_python bin/python": an image name and
        # the interpreter's path inside it
        sysimage = exe
        if args and '/' in args[0] and not args[0].startswith('-'):
            exe = 'file://%s:%s' % (sysimage, args.pop(0))
        else:
            exe = 'file://%s:%s' % (sysimage, sysimage)
    if sysimage and images and sysimage not in images:
        raise FormError(400, 'bad interpreter %s: unknown system image %r '
                        '(have: %s)' % (exe, sysimage,
                                        ', '.join(sorted(images))))
    return exe, args, sysimage


def script_job(exe, args, sysimage=None, stdin_url=None,
               stdin_payload=False):
    """The job of a POSTed script: `<interpreter> [args] /script`, stdout
    back as text/plain, the object (if any) on stdin, else, for a script
    read from X-Zerovm-Source (stdin_payload), the POST body."""
    devices = []
    if sysimage:
        devices.append({'name': sysimage})
    if stdin_url:
        devices.append({'name': 'stdin', 'path': stdin_url})
    elif stdin_payload:
        devices.append({'name': 'stdin'})
    devices.append({'name': 'stdout', 'content_type': 'text/plain'})
    return [{'name': 'script',
             'exec': {'path': exe,
                      'args': ' '.join([escape_word(a) for a in args] +
                                       ['/script'])},
             'devices': devices}]


def script_image(script, dest):
    """A tar whose only member is `script` (mode 0755): the node sees it
    at /script."""
    size = os.path.getsize(script)
    with tarfile.open(dest, 'w') as tf, open(script, 'rb') as f:
        ti = tarfile.TarInfo('script')
        ti.size = size
        ti.mode = 0o755
        ti.mtime = int(time.time())
        tf.addfile(ti, f)
    return dest


# ---- templates ---------------------------------------------------------------
def fill_template(template, params, object_url):
    """Substitute `{.name=default}` / `{.name}` (Requests.md, GET with
    version open): a query parameter's value, else the default, else ''.
    `{.object_path}` is the object's swift:// URL. Query values are
    escaped for a JSON string (they cannot add keys or devices), and so is
    the object's URL: its name is the requester's to choose
    (`x", "env": {...}, "y": "` must stay a name)."""
    def sub(m):
        name, default = m.group(1), m.group(2)
        if name == 'object_path':
            return json.dumps(object_url)[1:-1]
        if name in params:
            return json.dumps(params[name])[1:-1]
        return default[1:] if default else ''
    return re.sub(r'\{\.([^=}]+)(=[^}]*)?\}', sub, template)


def query_params(qs):
    out = {}
    for k, v in parse_qsl(qs or '', keep_blank_values=True):
        out[k] = v          # the last one wins, as swob's req.params
    return out


def nexe_job(object_url, params):
    """An application/x-nexe object with no registered application runs
    itself (Requests.md): query `args` and `content_type`."""
    return [{'name': 'executable',
             'exec': {'path': object_url, 'args': params.get('args', '')},
             'devices': [{'name': 'stdout',
                          'content_type': params.get('content_type') or
                          'text/plain'}]}]


class TemplateCache(object):
    """Config templates, kept TEMPLATE_TTL seconds per (config path, who
    asked): a user never gets a template read with someone else's rights."""

    def __init__(self, ttl=TEMPLATE_TTL, size=256, clock=time.time):
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self.items = {}

    def get(self, key):
        item = self.items.get(key)
        if item is None:
            return None
        if self.clock() >= item[0]:
            self.items.pop(key, None)
            return None
        return item[1]

    def put(self, key, value):
        now = self.clock()
        if len(self.items) >= self.size:
            for k in [k for k, v in self.items.items() if v[0] <= now]:
                del self.items[k]
            while len(self.items) >= self.size:
                self.items.pop(next(iter(self.items)))
        self.items[key] = (now + self.ttl, value)


def identity(env):
    """Who is asking, for the template cache's key."""
    return '|'.join(str(env.get(k, '')) for k in (
        'REMOTE_USER', 'HTTP_X_USER_ID', 'HTTP_X_PROJECT_ID', 'HTTP_X_ROLES'))


# ---- reading the request ---------------------------------------------------
def spool(env, dest, limit, what='request body'):
    """The request body into dest (at most limit bytes: 413 beyond)."""
    cl = env.get('CONTENT_LENGTH')
    try:
        cl = int(cl) if cl not in (None, '') else None
    except ValueError:
        raise FormError(400, 'bad Content-Length %r' % cl)
    if cl is not None and cl > limit:
        raise FormError(413, '%s of %d bytes is larger than the limit (%d)'
                        % (what, cl, limit))
    inp = env.get('wsgi.input')
    if cl is None and 'chunked' not in env.get('HTTP_TRANSFER_ENCODING',
                                               '').lower():
        inp = None     # no Content-Length, not chunked: no body (a GET)
    n = 0
    with open(dest, 'wb') as f:
        while inp is not None:
            want = CHUNK if cl is None else min(CHUNK, cl - n)
            if want <= 0:
                break
            b = inp.read(want)
            if not b:
                break
            n += len(b)
            if n > limit:
                raise FormError(413, '%s is larger than the limit (%d)'
                                % (what, limit))
            f.write(b)
    if cl is not None and n < cl:
        raise FormError(499, 'client sent %d of %d bytes' % (n, cl))
    return n


def read_head(path, n=4096):
    with open(path, 'rb') as f:
        return f.read(n)


class Builder(object):
    """Turns one Form into a JobRequest. `mw` is the middleware: its
    subrequests (fetch, _subreq) go through the proxy as the user."""

    def __init__(self, mw, req, form, work):
        self.mw = mw
        self.req = req
        self.env = req.environ
        self.form = form
        self.work = work
        self.images = getattr(mw, 'system_images', {}) or {}

    def path(self, name):
        return os.path.join(self.work, 'form-' + name)

    def build(self):
        f = self.form
        if f.kind == 'post':
            jr = self.post()
        elif f.kind == 'open':
            jr = self.open()
        else:
            jr = self.api()
        jr.cgi = cgimod.request_vars(self.env, f, getattr(
            self.mw, 'timeout', None))
        return jr

    # -- helpers
    def fetch(self, a, c, o, name, what='reading'):
        dest = self.path(name)
        self.mw.fetch(self.req, a, c, o, dest=dest, what=what)
        return dest

    def head(self, a, c, o):
        resp = self.mw._subreq(self.req, 'HEAD', self.mw._opath(a, c, o))
        self.mw._check(resp, 'reading', swift_url(a, c, o))
        return resp

    def payload(self, jr):
        """The request body becomes the payload (an empty file for a
        request without one: a path-less stdin then reads EOF)."""
        dest = self.path('payload')
        spool(self.env, dest, self.mw.max_upload, 'request body')
        jr.payload = dest
        jr.payload_type = ctype_of(self.env.get('CONTENT_TYPE')) or None
        return jr

    def from_file(self, path, ctype, source, stdin_url=None, strict=True):
        """A job, an image or a script by its Content-Type (Requests.md);
        None if strict is False and it is neither a job nor an image."""
        size = os.path.getsize(path)
        if size == 0:
            raise FormError(400, 'empty %s' % (source or 'request body'))
        if ctype in JOB_TYPES:
            if size > self.mw.max_job:
                raise FormError(413, 'job description %s is larger than the '
                                'limit (%d)' % (source or '', self.mw.max_job))
            with open(path, 'rb') as f:
                job = load_json(f.read(), source)
            if not strict and not looks_like_job(job):
                return None
            return JobRequest(job=job, kind='job', source=source)
        if ctype in IMAGE_TYPES:
            data = None
            try:
                tarsafe.check_image(path)
                for name in SYSTEM_MAPS:
                    data = tarsafe.read_member(path, name,
                                               limit=self.mw.max_job)
                    if data is not None:
                        break
            except tarsafe.TarError:
                if strict:
                    raise
                return None
            if data is None:
                if not strict:
                    return None
                raise FormError(400, 'image %shas no boot/system.map' % (
                    source + ' ' if source else ''))
            return JobRequest(job=load_json(data, 'boot/system.map'),
                              image=path, kind='image', source=source)
        if not strict:
            return None
        exe, args, sysimage = parse_shebang(read_head(path), self.images)
        image = script_image(path, self.path('script.tar'))
        # Requests.md: with X-Zerovm-Source the POST body goes to a
        # readable channel; a script's is its stdin (unless an object is)
        job = script_job(exe, args, sysimage, stdin_url,
                         stdin_payload=source is not None)
        return JobRequest(job=job, image=image, kind='script', source=source)

    # -- POST /v1/<account>[/<container>/<object>], X-Zerovm-Execute 1.0
    def post(self):
        f = self.form
        obj_url = swift_url(f.account, f.container, f.obj) if f.obj else None
        src = self.env.get('HTTP_X_ZEROVM_SOURCE')
        if src is not None:
            loc = parse_swift_url(unquote(src.strip()), f.account)
            if loc is None:
                raise FormError(400, 'X-Zerovm-Source %r: want swift://'
                                '<account>/<container>/<object>' % src)
            url = swift_url(*loc)
            resp_ct = self.fetch_typed(loc, 'source')
            jr = self.from_file(self.path('source'), resp_ct, url,
                                stdin_url=obj_url)
            self.need_script_on_object(jr, resp_ct)
            return self.payload(jr)
        ctype = ctype_of(self.env.get('CONTENT_TYPE'))
        if f.obj and (ctype in JOB_TYPES or ctype in IMAGE_TYPES):
            raise FormError(400, 'POST a job or an image to /%s/<account>; '
                            'only a script (any other Content-Type) runs on '
                            'an object, with the object on stdin'
                            % f.version)
        limit = self.mw.max_job if ctype in JOB_TYPES else self.mw.max_upload
        body = self.path('body')
        spool(self.env, body, limit, 'request body')
        return self.from_file(body, ctype, None, stdin_url=obj_url)

    def need_script_on_object(self, jr, ctype):
        if self.form.obj and jr.kind != 'script':
            raise FormError(400, 'X-Zerovm-Source %s is %s: on an object '
                            'path only a script runs (POST to /%s/<account> '
                            'instead)' % (jr.source, ctype, self.form.version))

    def fetch_typed(self, loc, name):
        """Fetch a swift object; its Content-Type."""
        a, c, o = loc
        dest = self.path(name)
        spath = swift_url(a, c, o)
        resp = self.mw._subreq(self.req, 'GET', self.mw._opath(a, c, o))
        self.mw._check(resp, 'reading', spath)
        ct = ctype_of(resp.headers.get('Content-Type'))
        limit = self.mw.max_job if ct in JOB_TYPES else self.mw.max_upload
        n = 0
        try:
            with open(dest, 'wb') as f:
                for chunk in resp.app_iter or []:
                    n += len(chunk)
                    if n > limit:
                        raise FormError(413, '%s is larger than the limit '
                                        '(%d)' % (spath, limit))
                    f.write(chunk)
        finally:
            close = getattr(resp.app_iter, 'close', None)
            if close:
                close()
        return ct

    # -- /open/<account>/<container>/<object>, open/1.0
    def open(self):
        f = self.form
        a, c, o = f.account, f.container, f.obj
        url = swift_url(a, c, o)
        head = self.head(a, c, o)          # read access, as the user
        ct = ctype_of(head.headers.get('Content-Type'))
        if ct in JOB_TYPES or ct in IMAGE_TYPES:
            got = self.fetch_typed((a, c, o), 'source')
            jr = self.from_file(self.path('source'), got, url, strict=False)
            if jr is not None:
                return self.payload(jr)
        if f.method != 'GET':
            raise FormError(501, '%s on /open/...: only a zapp (a tar with '
                            'boot/system.map) or a JSON job answers %s; %s '
                            'is %s, opened by GET only'
                            % (f.method, f.method, url, ct or 'untyped'))
        params = query_params(self.env.get('QUERY_STRING'))
        template = self.template(a, ct) if ct else None
        if template is not None:
            text = fill_template(template, params, url)
            job = load_json(text, 'the config template for %s '
                            '(after substitution)' % ct)
            jr = JobRequest(job=job, kind='template', source=url)
        elif ct == NEXE_TYPE:
            jr = JobRequest(job=nexe_job(url, params), kind='nexe',
                            source=url)
        else:
            raise FormError(404, 'No application registered for %s'
                            % (ct or 'objects without a Content-Type'))
        return self.payload(jr)

    def template(self, account, ct):
        """/v1/<account>/.zvm/<content-type>/config, as the user; cached
        TEMPLATE_TTL seconds."""
        cache = self.mw.templates
        key = '/%s/%s/%s/config\0%s' % (account, REGISTRY, ct,
                                        identity(self.env))
        text = cache.get(key)
        if text is not None:
            return text
        obj = '%s/config' % ct
        resp = self.mw._subreq(self.req, 'GET',
                               self.mw._opath(account, REGISTRY, obj))
        cfg = swift_url(account, REGISTRY, obj)
        if resp.status_int == 404:
            return None
        self.mw._check(resp, 'reading', cfg)
        data = b''
        for chunk in resp.app_iter or []:
            data += chunk
            if len(data) > self.mw.max_job:
                raise FormError(413, 'config template %s is larger than '
                                'the limit (%d)' % (cfg, self.mw.max_job))
        try:
            text = data.decode('utf-8')
        except UnicodeDecodeError:
            raise FormError(400, 'config template %s is not UTF-8' % cfg)
        cache.put(key, text)
        return text

    # -- /api/<account>/<container>/<path>, api/1.0
    def api(self):
        f = self.form
        info = self.container_info(f.account, f.container)
        if not info or info.get('status', 0) // 100 != 2:
            raise FormError(404, 'container swift://%s/%s not found'
                            % (f.account, f.container))
        src = (info.get('meta') or {}).get('rest-endpoint')
        if not src:
            raise FormError(404, 'No API endpoint configured for container '
                            '%s (set X-Container-Meta-Rest-Endpoint: '
                            'swift://<account>/<container>/<zapp>)'
                            % f.container)
        loc = parse_swift_url(unquote(src.strip()), f.account)
        if loc is None:
            raise FormError(400, 'X-Container-Meta-Rest-Endpoint %r of '
                            'container %s: want swift://<account>/'
                            '<container>/<object>' % (src, f.container))
        url = swift_url(*loc)
        ct = self.fetch_typed(loc, 'source')     # read access, as the user
        jr = self.from_file(self.path('source'), ct, url, strict=False)
        if jr is None:
            raise FormError(400, 'REST endpoint %s is %s: want a zapp (a '
                            'tar with boot/system.map) or a JSON job'
                            % (url, ct or 'untyped'))
        return self.payload(jr)

    def container_info(self, a, c):
        """Container metadata (not an authorization: reading the endpoint
        is, as the user)."""
        from swift.proxy.controllers.base import get_container_info
        env = {}
        for k in ('swift.cache', 'swift.infocache', 'swift.trans_id',
                  'HTTP_HOST', 'SERVER_NAME', 'SERVER_PORT',
                  'SERVER_PROTOCOL', 'wsgi.url_scheme'):
            if k in self.env:
                env[k] = self.env[k]
        env['PATH_INFO'] = quote('/v1/%s/%s' % (a, c))
        env['REQUEST_METHOD'] = 'HEAD'
        env['wsgi.input'] = io.BytesIO(b'')
        return get_container_info(env, self.mw.app, swift_source='ZC')


def load_json(data, what=None):
    try:
        if isinstance(data, bytes):
            data = data.decode('utf-8')
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise FormError(400, 'bad JSON in %s: %s' % (
            what or 'job description', e))


def looks_like_job(job):
    return isinstance(job, list) and bool(job) and all(
        isinstance(g, dict) and 'exec' in g for g in job)
