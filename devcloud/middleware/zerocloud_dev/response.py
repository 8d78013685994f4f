"""What a job's nodes wrote, and the answer built from it.

Servlets.md rules 12-14 and 20 (content_type, message/http and message/cgi,
meta, min_size), Response.md (the X-Nexe-* headers, X-Nexe-Colocated,
Etag) and ZeroCloud's proxy semantics for the body: each node contributes
its first immediate channel (stdout or stderr without a path, in device
order), the nodes' parts are concatenated in node order, the Content-Type
is the first part's. X-Nexe-Stderr (ours) carries a failed node's stderr
tail, whatever its stderr device was.

Pure functions over files and dicts (no Swift, no processes).
"""
import hashlib
import hmac
import os
import re
import time
from urllib.parse import quote

from .runner import CHUNK

MESSAGE_TYPES = ('message/http', 'message/cgi')
# bytes read looking for the end of a message's header block
HEAD_LIMIT = 64 << 10
STDERR_ITEM = 1024          # bytes of a failed node's stderr tail
STDERR_HEADER = 16 << 10    # the whole X-Nexe-Stderr header at most
WRITE_DEVICES = ('stdout', 'stderr', 'output')
IMMEDIATE_DEVICES = ('stdout', 'stderr')
META_PREFIX = 'x-object-meta-'
# headers of a message that become response headers for an immediate
# channel (X-Zerovm-Execute and the real Content-Length let a chained job
# be recognised, Chaining.md)
CHAIN_HEADERS = ('x-zerovm-execute',)
_STATUS_LINE = re.compile(r'^HTTP/\d+(?:\.\d+)?[ \t]+(\d{3})(?:[ \t]+(.*))?$')
_CGI_STATUS = re.compile(r'^(\d{3})(?:[ \t]+(.*))?$')
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CTL = re.compile(br'[\x00-\x08\x0a-\x1f\x7f]')
# statuses whose response has no body (RFC 9110): a body sent with one
# would be read as the start of the connection's next response
NO_BODY = (204, 304)


def wsgi_str(s):
    """A header value as WSGI wants it: UTF-8 bytes as a latin-1 str.
    A job's meta or content_type (`"sn\u2603w"`) passed on as it is made
    eventlet drop the connection (a header must be latin-1) and Swift
    refuse it."""
    return str(s).encode('utf-8', 'surrogateescape').decode('latin-1')


class BadMessage(ValueError):
    """The channel is not a parsable HTTP (nph) or CGI response."""


def _reason(code):
    try:
        from http import HTTPStatus
        return HTTPStatus(code).phrase
    except ValueError:
        return 'Unknown'


def parse_message(path, nph):
    """Parse the header block of a message/http (nph=True: a status line
    first) or message/cgi (a `Status:` header, default 200) file.

    -> (status 'NNN reason', [(name, value)], offset of the body).
    Raises BadMessage when the head is not a response head.
    """
    with open(path, 'rb') as f:
        head = f.read(HEAD_LIMIT + 1)
    pos = 0
    lines = []
    ended = False
    while True:
        nl = head.find(b'\n', pos)
        if nl < 0:
            if len(head) > HEAD_LIMIT:
                raise BadMessage('no end of headers in the first %d bytes'
                                 % HEAD_LIMIT)
            rest = head[pos:]
            if rest.strip():
                lines.append(rest)   # the last header, at EOF
            pos = len(head)
            break
        line = head[pos:nl]
        pos = nl + 1
        if line.endswith(b'\r'):
            line = line[:-1]
        if not line:
            ended = True
            break
        lines.append(line)
    if not ended and pos < len(head):
        raise BadMessage('no end of headers')
    # control characters (a bare CR, NUL, ...) in the head: not a head.
    # Passed on, a CR ends a header line for some clients (a node could
    # add Set-Cookie or forge X-Nexe-Status), a NUL breaks the response
    for ln in lines:
        if _CTL.search(ln):
            raise BadMessage('control character in the header line %r'
                             % ln[:60])
    text = [ln.decode('latin-1') for ln in lines]
    status = None
    if nph:
        if not text:
            raise BadMessage('no status line')
        m = _STATUS_LINE.match(text.pop(0).strip())
        if not m:
            raise BadMessage('bad status line')
        code = int(m.group(1))
        status = '%d %s' % (code, (m.group(2) or '').strip() or
                            _reason(code))
    headers = []
    for ln in text:
        if ln[:1] in (' ', '\t') and headers:
            k, v = headers[-1]
            headers[-1] = (k, v + ' ' + ln.strip())
            continue
        if ':' not in ln:
            raise BadMessage('bad header line %r' % ln[:60])
        k, v = ln.split(':', 1)
        if not _TOKEN.match(k):
            raise BadMessage('bad header name %r' % k[:60])
        headers.append((k, v.strip()))
    if not nph:
        if not headers and not ended:
            raise BadMessage('no CGI header block')
        status = '200 OK'
        for k, v in headers:
            if k.lower() == 'status':
                m = _CGI_STATUS.match(v)
                if not m:
                    raise BadMessage('bad Status header %r' % v[:60])
                code = int(m.group(1))
                status = '%d %s' % (code, (m.group(2) or '').strip() or
                                    _reason(code))
        headers = [(k, v) for k, v in headers if k.lower() != 'status']
    if not 200 <= int(status.split()[0]) <= 599:
        raise BadMessage('status %r is not a final response' % status)
    return status, headers, pos


class Output(object):
    """One write channel of a node after the run."""

    def __init__(self, node, name, dev, path):
        self.node = node
        self.name = name
        self.dev = dev
        self.path = path            # host file with what the node wrote
        self.offset = 0             # where the body starts (after a head)
        self.size = os.path.getsize(path)
        self.swift = dev.get('swift')
        self.status = None          # 'NNN reason' from a parsed message
        self.extra = {}             # chaining headers from the message
        ct = dev.get('content_type')
        if not ct and name == 'stdout' and not self.swift:
            # older jobs put the response type on exec or the group
            g = node.group
            ct = g.get('exec', {}).get('content_type') or \
                g.get('content_type')
        # from the job (unicode): as WSGI header strings; what a message
        # head gives (parse) is latin-1 already
        self.content_type = wsgi_str(ct) if ct else ct
        self.meta = {}
        for k, v in (dev.get('meta') or {}).items():
            self.meta[str(k).lower()] = wsgi_str(v)
        self.bad_message = None

    @property
    def immediate(self):
        return self.swift is None and self.name in IMMEDIATE_DEVICES

    def parse(self):
        """message/http, message/cgi: the head becomes status, type, meta.
        An unparsable message stays as it is (bad_message says why)."""
        ct = (self.content_type or '').split(';')[0].strip().lower()
        if ct not in MESSAGE_TYPES:
            return
        try:
            status, headers, offset = parse_message(
                self.path, nph=(ct == 'message/http'))
        except (BadMessage, OSError) as e:
            self.bad_message = str(e)
            return
        self.status = status
        self.offset = offset
        self.size = max(0, self.size - offset)
        self.content_type = None
        for k, v in headers:
            lk = k.lower()
            if lk == 'content-type':
                self.content_type = v
            elif lk.startswith(META_PREFIX) and len(lk) > len(META_PREFIX):
                self.meta[lk[len(META_PREFIX):]] = v
            elif lk in CHAIN_HEADERS:
                self.extra['-'.join(w.capitalize() for w in lk.split('-'))] = v

    def headers(self, default_type):
        h = {'Content-Type': self.content_type or default_type}
        for k, v in self.meta.items():
            h['X-Object-Meta-' + k] = v
        return h

    def open(self):
        f = open(self.path, 'rb')
        f.seek(self.offset)
        return f


def node_outputs(node, files):
    """The node's write channels that produced a file, in device order."""
    out = []
    for name, dev in node.devices.items():
        if name in WRITE_DEVICES and files.get(name) and \
                os.path.exists(files[name]):
            o = Output(node, name, dev, files[name])
            o.parse()
            if o.size < _int(dev.get('min_size')):
                continue   # Servlets.md rule 20: neither stored nor sent
            out.append(o)
    return out


def _int(v):
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def first_immediate(outputs):
    for o in outputs:
        if o.immediate:
            return o
    return None


def failed(result):
    return result.get('status') != 'ok' or result.get('retcode') != 0


def stderr_tail(result, stderr_file=None):
    """The last STDERR_ITEM bytes the node wrote to stderr: the runner's
    stderr_tail, else the end of the collected stderr file."""
    t = result.get('stderr_tail')
    if t is not None:
        if isinstance(t, str):
            t = t.encode('utf-8', 'surrogateescape')
        return _from_char(t[-STDERR_ITEM:], len(t) > STDERR_ITEM)
    if stderr_file and os.path.exists(stderr_file):
        with open(stderr_file, 'rb') as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - STDERR_ITEM))
            return _from_char(f.read(), size > STDERR_ITEM)
    return b''


def _from_char(b, cut):
    """A tail cut inside a UTF-8 sequence starts at the next character."""
    if cut:
        k = 0
        while k < 3 and k < len(b) and 0x80 <= b[k] < 0xc0:
            k += 1
        b = b[k:]
    return b


def nexe_stderr(results, tails):
    """X-Nexe-Stderr: one item per node, empty unless it failed, its stderr
    tail percent-encoded; the header at most STDERR_HEADER characters
    (failed nodes' items are cut from the front, evenly)."""
    items = []
    for r, t in zip(results, tails):
        items.append(quote(t, safe='') if failed(r) and t else '')
    room = STDERR_HEADER - max(0, len(items) - 1)
    if sum(len(i) for i in items) > room:
        long_items = [k for k, i in enumerate(items) if i]
        share = room // max(1, len(long_items))
        for k in long_items:
            if len(items[k]) > share:
                items[k] = _cut_front(items[k], share)
    return ','.join(items)


def _cut_front(enc, n):
    """The last n characters or fewer of a percent-encoded string, not
    starting inside an escape."""
    if n <= 0:
        return ''
    s = len(enc) - n
    for back in (1, 2):
        if s - back >= 0 and enc[s - back] == '%':
            s += 3 - back
            break
    return enc[s:]


def colocated(nodes, ran_at=None):
    """X-Nexe-Colocated (Response.md): one code per node, `0` for a node
    that ran "as usual", else a hex hash of the server it ran on, the
    same for all the nodes co-located there. ran_at: {node index: server
    address} of the co-located nodes (placement); without it (the proxy
    runs the whole job) the nodes with a `location` (rule 21). As
    ZeroCloud did, the hash is an HMAC-SHA1 of the address with a salt
    new for each job: it tells which nodes shared a server, never the
    server."""
    if ran_at is None:
        ran_at = {i: 'proxy' for i, n in enumerate(nodes) if _location(n)}
    salt = os.urandom(16)
    return ','.join(
        hmac.new(salt, ran_at[i].encode('utf-8'), hashlib.sha1).hexdigest()
        if i in ran_at else '0' for i in range(len(nodes)))


def _location(node):
    loc = getattr(node, 'location', None)
    if loc is None:
        loc = node.group.get('location')
    return loc if isinstance(loc, str) and loc else None


def time_etag():
    """Response.md: the job's Etag is the md5 of the current time (no
    cache between a client and its job's answer)."""
    return hashlib.md5(repr(time.time()).encode('ascii')).hexdigest()


def local_vars(dev_name, a, c, o, headers):
    """CGIEnvironment.md's LOCAL_* variables for an object attached to the
    node (headers: its HEAD/GET response headers)."""
    env = {'LOCAL_OBJECT': 'on',
           'LOCAL_PATH_INFO': '/%s/%s/%s' % (a, c, o),
           'LOCAL_DOCUMENT_ROOT': '/dev/' + dev_name}
    for h, var in (('Content-Length', 'LOCAL_CONTENT_LENGTH'),
                   ('Content-Type', 'LOCAL_CONTENT_TYPE'),
                   ('Etag', 'LOCAL_HTTP_ETAG'),
                   ('X-Timestamp', 'LOCAL_HTTP_X_TIMESTAMP')):
        v = headers.get(h)
        if v is not None:
            env[var] = str(v).strip('"') if h == 'Etag' else str(v)
    for k, v in headers.items():
        if k.lower().startswith(META_PREFIX):
            env['LOCAL_HTTP_' + k.upper().replace('-', '_')] = str(v)
    return env


class Body(object):
    """The response body: the immediate parts, one after the other (each
    file opened before the job directory goes; closed as it is done)."""

    def __init__(self, parts):
        self.files = [(o.open(), o.size) for o in parts]
        self.length = sum(size for _, size in self.files)

    def __iter__(self):
        for f, size in self.files:
            left = size
            try:
                while left > 0:
                    b = f.read(min(CHUNK, left))
                    if not b:
                        break
                    left -= len(b)
                    yield b
            finally:
                f.close()

    def close(self):
        for f, _ in self.files:
            f.close()


def immediate_response(parts):
    """-> (status, headers, Body) for the nodes' immediate parts (in node
    order): the highest status a parsed message gave (else 200), the first
    part's Content-Type, the parts' X-Object-Meta-* and chaining headers
    (an earlier node's value wins)."""
    status = '200 OK'
    headers = {}
    if parts:
        headers['Content-Type'] = parts[0].content_type or 'text/plain'
    else:
        headers['Content-Type'] = 'text/plain'
    best = None
    for o in parts:
        if o.status and (best is None or int(o.status[:3]) > best):
            best = int(o.status[:3])
            status = o.status
        for k, v in list(o.headers('text/plain').items()) + \
                list(o.extra.items()):
            if k.lower() != 'content-type':
                headers.setdefault(k, v)
    if int(status[:3]) in NO_BODY:
        # a node's 204/304 with a body would smuggle a second response
        # into a keep-alive connection: the body is dropped
        return status, headers, Body([])
    return status, headers, Body(parts)
