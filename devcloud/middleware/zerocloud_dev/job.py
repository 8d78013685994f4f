"""Job descriptions (ZeroCloud servlet format): parsing, validation, nodes.

Pure functions, no Swift and no processes: everything here is unit-tested.
The rules are those of ZeroCloud's Servlets.md and Url.md, as decided for
the devcloud (one server, no ZeroVM): see devcloud/middleware/README.md.

    job = validate_job(raw, system_images, payload)   # normalized copy
    nodes = expand_nodes(job, account, lister, container_lister)
    conns = connections(nodes)
"""
import json
import re

# readable devices; the first three take the request payload when they
# have no path (and the request carries one)
PAYLOAD_DEVICES = ('stdin', 'input', 'script')
READ_DEVICES = ('image',) + PAYLOAD_DEVICES
WRITE_DEVICES = ('stdout', 'stderr', 'output')
STD_DEVICES = READ_DEVICES + WRITE_DEVICES
KNOWN_DEVICES = STD_DEVICES + ('debug',)
MODES = ('file', 'char', 'pipe', 'block')
# Servlets.md rule 16: the stat() type of a device. What the devcloud can
# give each device (the first is its default): standard streams are
# pipes; input and script are regular files (random access: `block`, the
# ZeroCloud default, is served as a file) and input may be a FIFO instead;
# output is a FIFO the runner drains (`block`, its ZeroCloud default, is
# served as one). A mode outside these is refused, never ignored.
DEVICE_MODES = {'stdin': ('pipe',), 'stdout': ('pipe',),
                'stderr': ('pipe',), 'input': ('file', 'block', 'pipe'),
                'script': ('file', 'block'), 'output': ('pipe', 'block')}
MAX_COUNT = 1000
NAME_RE = re.compile(r'^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$')
# Swift's constraints on object metadata (swift/common/constraints.py)
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")   # an HTTP token
CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')
# /dev entries a connection may not arrive at (the node's own streams and
# what the sandbox's /dev provides)
RESERVED_DEV = ('/dev/stdout', '/dev/stderr', '/dev/null', '/dev/zero',
                '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty',
                '/dev/ptmx', '/dev/console', '/dev/in', '/dev/out',
                '/dev/shm', '/dev/pts', '/dev/fd', '/dev/mqueue')


class JobError(Exception):
    """A problem with the job that the client must fix (HTTP 400)."""

    status = 400


class NotFound(JobError):
    status = 404


def unescape_arg(word):
    """Undo zpm's escaping: \\xNN (two hex digits) becomes that character."""
    return re.sub(r'\\x([0-9a-fA-F]{2})',
                  lambda m: chr(int(m.group(1), 16)), word)


def split_args(args):
    """exec.args: words split on single spaces, each unescaped."""
    if args is None or args == '':
        return []
    if not isinstance(args, str):
        raise JobError('exec.args must be a string')
    return [unescape_arg(w) for w in args.split(' ')]


# ---- URLs (Url.md) -------------------------------------------------------

def parse_swift_path(path, account):
    """swift://account/container/object -> (account, container, object).

    `.` or `~` as account means `account` (the requester's). The object
    may be empty (a container, for listings) only if allowed by the caller.
    """
    if not isinstance(path, str) or not path.startswith('swift://'):
        raise JobError('not a swift:// path: %r' % (path,))
    rest = path[len('swift://'):]
    parts = rest.split('/', 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise JobError('bad swift path %r: want swift://account/container/'
                       'object' % path)
    acct, cont = parts[0], parts[1]
    obj = parts[2] if len(parts) > 2 else ''
    if acct in ('.', '~'):
        acct = account
    return acct, cont, obj


def parse_zvm_path(path):
    """zvm://<host>:<device> -> (host, '/dev/<device>')."""
    rest = path[len('zvm://'):]
    if ':' not in rest:
        raise JobError('bad zvm path %r: want zvm://node:device' % path)
    host, dev = rest.split(':', 1)
    if not host or not NAME_RE.match(host):
        raise JobError('bad zvm path %r: %r is not a node name'
                       % (path, host))
    if not dev.startswith('/dev/'):
        dev = '/dev/' + dev.lstrip('/')
    _check_dev_path(dev, 'bad zvm path %r' % path)
    return host, dev


def _check_dev_path(dev, what):
    parts = dev[len('/dev/'):].split('/')
    if not dev.startswith('/dev/') or any(
            p in ('', '.', '..') for p in parts) or CONTROL_RE.search(dev):
        raise JobError('%s: device %r is not a plain path under /dev'
                       % (what, dev))
    for r in RESERVED_DEV:
        # /dev/in/<x> and /dev/out/<x> are fine, the directories are not
        below = dev.startswith(r + '/') and r not in ('/dev/in', '/dev/out')
        if dev == r or below:
            raise JobError('%s: %s is reserved (a connection cannot '
                           'arrive there)' % (what, dev))


def _safe_rel(rel, path):
    if rel.startswith('./'):
        rel = rel[2:]
    rel = rel.lstrip('/')
    if not rel or '..' in rel.split('/') or '\0' in rel:
        raise JobError('bad exec path %r: want a file inside the image'
                       % path)
    return rel


def parse_exec_path(path, account):
    """exec.path (Url.md, Servlets.md rule 11) ->

    ('sysimage', image, program)   file://<system image>:<path>
    ('image', rel)                 file://image:<path>, file://<path>
    ('swift', a, c, o)             swift://account/container/object
    ('relative', rel)              a plain path, relative or absolute: the
                                   user image first, then the system images
    """
    if not isinstance(path, str) or not path:
        raise JobError('exec.path must be a non-empty string')
    if path.startswith('file://'):
        rest = path[len('file://'):]
        head, sep, tail = rest.partition(':')
        if sep and '/' not in head:
            if not head or not tail:
                raise JobError('bad exec path %r: want file://image:path or '
                               'file://path' % path)
            if head == 'image':
                return ('image', _safe_rel(tail, path))
            return ('sysimage', head, tail)
        return ('image', _safe_rel(rest, path))
    if path.startswith('swift://'):
        a, c, o = parse_swift_path(path, account)
        if not o or '*' in path:
            raise JobError('bad exec path %r: want swift://account/'
                           'container/object, no wildcard' % path)
        return ('swift', a, c, o)
    if path.startswith('zvm://'):
        raise JobError('bad exec path %r: zvm:// names a device of another '
                       'node, not an executable' % path)
    if '://' in path:
        raise JobError('bad exec path %r: unknown scheme' % path)
    return ('relative', _safe_rel(path, path))


def exec_name(path):
    """Default argv[0], as zpm computes exec.name."""
    if path.startswith('file://'):
        return path.rsplit(':', 1)[-1]
    if path.startswith('swift://'):
        return path.split('/', 4)[-1] if path.count('/') >= 4 else path
    return path


# ---- normalization -------------------------------------------------------

def _gwhere(g, i):
    name = g.get('name') if isinstance(g, dict) else None
    if isinstance(name, str) and name:
        return 'group %r' % name
    return 'group %d' % (i + 1)


def _env_value(where, key, v):
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)):
        return str(v)
    kind = 'null' if v is None else 'a list' if isinstance(v, list) else \
        'an object' if isinstance(v, dict) else type(v).__name__
    raise JobError('%s: exec.env %r is %s: values must be strings, numbers '
                   'or booleans' % (where, key, kind))


def normalize_job(job):
    """A new list with ZeroCloud's deprecated spellings translated:
    `file_list` -> `devices`, a device's `device` -> `name`; `exec.env`
    values as strings (numbers and booleans as str() makes them; null,
    lists and objects are a JobError naming the key). Idempotent."""
    if not isinstance(job, list):
        raise JobError('job description must be a JSON list of groups')
    out = []
    for i, g in enumerate(job):
        if not isinstance(g, dict):
            out.append(g)
            continue
        g = dict(g)
        where = _gwhere(g, i)
        if 'file_list' in g:
            if g.get('devices') is not None:
                raise JobError('%s: both "file_list" (deprecated) and '
                               '"devices"' % where)
            g['devices'] = g.pop('file_list')
        for key in ('devices', 'connect'):
            if key in g and g[key] is None:
                del g[key]
        if isinstance(g.get('devices'), list):
            devs = []
            for d in g['devices']:
                if isinstance(d, dict):
                    d = dict(d)
                    if 'device' in d:
                        old = d.pop('device')
                        if 'name' in d and d['name'] != old:
                            raise JobError('%s: device has both "device" '
                                           '%r (deprecated) and "name" %r'
                                           % (where, old, d['name']))
                        d['name'] = old
                devs.append(d)
            g['devices'] = devs
        if isinstance(g.get('exec'), dict):
            ex = dict(g['exec'])
            if ex.get('env') is None:
                ex.pop('env', None)
            elif isinstance(ex['env'], dict):
                ex['env'] = {k: _env_value(where, k, v)
                             for k, v in ex['env'].items()}
            g['exec'] = ex
        out.append(g)
    return out


def load_job(data, system_images=None, payload=True):
    """bytes/str of JSON -> list of groups (normalized and validated).

    `payload` defaults to True (lenient) because the caller may not know
    yet whether the request carries one: validate again with the real
    flag before running."""
    try:
        if isinstance(data, bytes):
            data = data.decode('utf-8')
        job = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise JobError('bad JSON in job description: %s' % e)
    return validate_job(job, system_images=system_images, payload=payload)


# ---- validation ----------------------------------------------------------

def _dev_kind(path):
    """'swift', 'zvm', None (no path) or the offending scheme."""
    if path is None:
        return None
    if path.startswith('swift://'):
        return 'swift'
    if path.startswith('zvm://'):
        return 'zvm'
    return path.split('://', 1)[0] if '://' in path else path


def _check_meta(where, meta):
    if not isinstance(meta, dict):
        raise JobError('%s: meta must be an object of names to strings'
                       % where)
    if len(meta) > MAX_META_COUNT:
        raise JobError('%s: meta has %d items; the limit is %d'
                       % (where, len(meta), MAX_META_COUNT))
    size = 0
    for k, v in meta.items():
        if not k or not TOKEN_RE.match(k):
            raise JobError('%s: meta name %r is not allowed (letters, '
                           'digits and -_.!#$%%&\'*+^`|~)' % (where, k))
        if len(k) > MAX_META_NAME_LENGTH:
            raise JobError('%s: meta name %r is longer than %d'
                           % (where, k[:32] + '...', MAX_META_NAME_LENGTH))
        if not isinstance(v, str):
            raise JobError('%s: meta %r must be a string' % (where, k))
        if len(v) > MAX_META_VALUE_LENGTH:
            raise JobError('%s: meta %r: value longer than %d'
                           % (where, k, MAX_META_VALUE_LENGTH))
        if CONTROL_RE.search(v.replace('\t', ' ')):
            raise JobError('%s: meta %r: control characters in the value'
                           % (where, k))
        size += len(k) + len(v)
    if size > MAX_META_OVERALL_SIZE:
        raise JobError('%s: meta is %d bytes; the limit is %d'
                       % (where, size, MAX_META_OVERALL_SIZE))


def _check_device(where, d, system_images):
    """One device's own rules; returns its name."""
    if not isinstance(d, dict) or not isinstance(d.get('name'), str) \
            or not d.get('name'):
        raise JobError('%s: bad device %r (want {"name": ..., "path": ...})'
                       % (where, d))
    dn = d['name']
    dw = '%s: device %r' % (where, dn)
    if dn == 'debug':
        raise JobError('%s: the debug device (a network debug channel) is '
                       'not supported by the devcloud' % dw)
    sysimage = dn not in KNOWN_DEVICES
    if sysimage and system_images is not None and dn not in system_images:
        raise JobError('%s: bad device %r (unknown name; allowed: %s)' % (
            where, dn, ', '.join(list(STD_DEVICES) + sorted(system_images))))
    if 'content_type' in d:
        ct = d['content_type']
        if not isinstance(ct, str) or not ct or len(ct) > 256 or \
                CONTROL_RE.search(ct):
            raise JobError('%s: content_type must be a MIME type (a '
                           'one-line string)' % dw)
    if 'meta' in d and d['meta'] is not None:
        _check_meta(dw, d['meta'])
    if 'mode' in d and d['mode'] not in MODES:
        raise JobError('%s: mode %r is not one of %s'
                       % (dw, d['mode'], ', '.join(MODES)))
    if d.get('mode') is not None and dn in DEVICE_MODES and \
            d['mode'] not in DEVICE_MODES[dn]:
        raise JobError('%s: mode %r is not supported by the devcloud (this '
                       'device can be: %s)' % (dw, d['mode'],
                                              ', '.join(DEVICE_MODES[dn])))
    if 'min_size' in d:
        ms = d['min_size']
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            raise JobError('%s: min_size must be an integer >= 0' % dw)
    p = d.get('path')
    if p is not None and (not isinstance(p, str) or not p):
        raise JobError('%s: path must be a non-empty string' % dw)
    if sysimage:
        if p is not None:
            raise JobError('%s: a system image takes no path' % dw)
        return dn
    kind = _dev_kind(p)
    if dn in READ_DEVICES and kind not in (None, 'swift'):
        if kind == 'zvm':
            raise JobError('%s: zvm:// is for write devices (stdout, '
                           'stderr, output), not %s' % (dw, dn))
        raise JobError('%s: path %r is not swift:// (a readable device must '
                       'be a Swift object)' % (dw, p))
    if dn in WRITE_DEVICES and kind not in (None, 'swift', 'zvm'):
        raise JobError('%s: path %r is not swift:// or zvm://' % (dw, p))
    if dn == 'output' and p is None:
        raise JobError('%s: immediate response is not available for device '
                       'output (give it a swift:// path)' % dw)
    if kind == 'swift':
        try:
            a, c, o = parse_swift_path(p, 'account')
        except JobError as e:
            raise JobError('%s: %s' % (dw, e))
        if not o:
            raise JobError('%s: path %r names no object' % (dw, p))
        if '*' in a:
            raise JobError('%s: path %r: no wildcard in account names'
                           % (dw, p))
    elif kind == 'zvm':
        try:
            parse_zvm_path(p)
        except JobError as e:
            raise JobError('%s: %s' % (dw, e))
    return dn


def _read_wildcard(where, devs):
    """The group's read device whose path has `*` (one at most)."""
    wild = [d for d in devs if d['name'] in READ_DEVICES and
            '*' in (d.get('path') or '')]
    if len(wild) > 1:
        raise JobError('%s: only one read device may have a wildcard (%s)'
                       % (where, ', '.join(d['name'] for d in wild)))
    return wild[0] if wild else None


def _check_group(g, i, names, system_images, payload):
    where = 'group %d' % (i + 1)
    if not isinstance(g, dict):
        raise JobError('%s is not an object' % where)
    name = g.get('name')
    if not isinstance(name, str) or not name:
        raise JobError('%s has no name' % where)
    if not NAME_RE.match(name) or name.strip('.') == '':
        raise JobError('group name %r is not allowed (letters, digits, '
                       '_ . -, at most 128)' % name)
    where = 'group %r' % name
    if name in names:
        raise JobError('%s appears twice' % where)
    names.add(name)
    # exec
    ex = g.get('exec')
    if not isinstance(ex, dict):
        raise JobError('%s has no exec' % where)
    if not isinstance(ex.get('path'), str) or not ex.get('path'):
        raise JobError('%s has no exec.path' % where)
    try:
        kind = parse_exec_path(ex['path'], 'account')
        split_args(ex.get('args'))
    except JobError as e:
        raise JobError('%s: %s' % (where, e))
    if kind[0] == 'sysimage' and system_images is not None and \
            kind[1] not in system_images:
        raise JobError('%s: exec.path %r: unknown system image %r (have: '
                       '%s)' % (where, ex['path'], kind[1],
                                ', '.join(sorted(system_images)) or 'none'))
    if 'name' in ex and not isinstance(ex['name'], str):
        raise JobError('%s: exec.name must be a string' % where)
    env = ex.get('env')
    if env is not None:
        if not isinstance(env, dict):
            raise JobError('%s: exec.env must be an object' % where)
        for k, v in env.items():
            if not k or '=' in k or '\0' in k or re.search(r'\s', k):
                raise JobError('%s: exec.env name %r is not allowed (empty, '
                               'or has =, a space or NUL)' % (where, k))
            if '\0' in v:
                raise JobError('%s: exec.env %r: NUL in the value'
                               % (where, k))
    # count, replicate, attach, location
    count = g.get('count', 1)
    if not isinstance(count, int) or isinstance(count, bool) or \
            count < 1 or count > MAX_COUNT:
        raise JobError('%s: count must be an integer from 1 to %d'
                       % (where, MAX_COUNT))
    rep = g.get('replicate', 1)
    if type(rep) is not int or rep not in (1, 2, 3):
        raise JobError('%s: replicate %r is not valid (1, 2 or 3)'
                       % (where, rep))
    loc = g.get('location')
    if loc is not None and not isinstance(loc, str):
        raise JobError('%s: location must be a string' % where)
    # devices
    devs = g.get('devices', [])
    if not isinstance(devs, list):
        raise JobError('%s: devices must be a list' % where)
    seen = []
    for d in devs:
        dn = _check_device(where, d, system_images)
        if dn in seen:
            raise JobError('%s: device %r appears twice' % (where, dn))
        seen.append(dn)
    pathless = [d['name'] for d in devs
                if d['name'] in PAYLOAD_DEVICES and d.get('path') is None]
    if pathless and not payload:
        raise JobError('%s: device %r has no path (allowed only when the '
                       'request carries a payload, e.g. X-Zerovm-Source)'
                       % (where, pathless[0]))
    if len(pathless) > 1:
        raise JobError('%s: devices %s have no path: the payload goes to '
                       'one readable device only' % (
                           where, ' and '.join(repr(p) for p in pathless)))
    attach = g.get('attach', 'default')
    if attach != 'default' and attach not in seen:
        raise JobError('%s: attach %r is neither "default" nor a device of '
                       'the group' % (where, attach))
    # wildcards: captures of the read wildcard (or the node name) fill the
    # write paths' `*`
    wd = _read_wildcard(where, devs)
    ncap = wd['path'].count('*') if wd else None
    for d in devs:
        p = d.get('path')
        if d['name'] not in WRITE_DEVICES or _dev_kind(p) != 'swift':
            continue
        if wd is None and '*' not in p and count > 1:
            raise JobError('%s: device %r: single path %r for %d nodes of '
                           'group %r: use a wildcard' % (
                               where, d['name'], p, count, name))
        if ncap is not None and p.count('*') > ncap:
            raise JobError('%s: device %r: path %r has more * than the %d '
                           'that %r matches in %s' % (
                               where, d['name'], p, ncap, wd['name'],
                               wd['path']))
    # connect
    conn = g.get('connect', [])
    if not isinstance(conn, list) or not all(
            isinstance(c, str) for c in conn):
        raise JobError('%s: connect must be a list of group names' % where)
    for c in conn:
        if conn.count(c) > 1:
            raise JobError('%s: connects to %r twice' % (where, c))
    if name in conn and count == 1 and wd is None:
        raise JobError('%s has one node: it cannot connect to itself (give '
                       'it a count > 1)' % where)


def validate_job(job, system_images=None, payload=False):
    """Check a job against Servlets.md/Url.md as the devcloud applies them.

    system_images: names of the system images (None: not checked);
    payload: the request carries a payload, so stdin/input/script may have
    no path (one of them per group). Returns the normalized job (a new
    list); raises JobError (400) naming the group, device or path.
    """
    job = normalize_job(job)
    if not job:
        raise JobError('job description has no groups')
    names = set()
    for i, g in enumerate(job):
        _check_group(g, i, names, system_images, payload)
    for g in job:
        for c in g.get('connect', []):
            if c not in names:
                raise JobError('group %r: unknown connect target %r'
                               % (g['name'], c))
        for d in g.get('devices', []):
            if _dev_kind(d.get('path')) == 'zvm':
                host, _ = parse_zvm_path(d['path'])
                if host not in names:
                    raise JobError('group %r: device %r: %r is not a group '
                                   'of the job' % (g['name'], d['name'],
                                                   host))
    return job


# ---- nodes ---------------------------------------------------------------

def _wild_re(text):
    return re.compile(re.escape(text).replace('\\*', '(.*)'), re.DOTALL)


def _find_matches(where, d, account, lister, container_lister):
    """[(a, c, o, captures)] for a read path with `*`, listing order."""
    a, c, o = parse_swift_path(d['path'], account)
    dw = '%s: device %r' % (where, d['name'])
    if '*' in c:
        if container_lister is None:
            raise JobError('%s: path %r: a wildcard in the container name is '
                           'not supported here' % (dw, d['path']))
        crx = _wild_re(c)
        conts = []
        for name in container_lister(a, c.split('*', 1)[0]):
            m = crx.fullmatch(name)
            if m:
                conts.append((name, list(m.groups())))
    else:
        conts = [(c, [])]
    if lister is None:
        raise JobError('%s: path %r: wildcards are not supported here'
                       % (dw, d['path']))
    orx = _wild_re(o)
    found = []
    for cont, ccaps in conts:
        for name in lister(a, cont, o.split('*', 1)[0]):
            m = orx.fullmatch(name)
            if m:
                found.append((a, cont, name, ccaps + list(m.groups())))
    if not found:
        raise NotFound('%s: no object matches %s' % (dw, d['path']))
    return found


def _fill(text, fills, what):
    """Replace each `*` of text, in order, by the next of fills."""
    n = text.count('*')
    if n > len(fills):
        raise JobError('%s: %d * but only %d matched text(s) to put there'
                       % (what, n, len(fills)))
    parts = text.split('*')
    out = parts[0]
    for f, rest in zip(fills, parts[1:]):
        out += f + rest
    return out


def _fill_parts(c, o, fills, what):
    nc = c.count('*')
    c2 = _fill(c, fills, what)
    o2 = _fill(o, fills[nc:], what)
    if '/' in c2 or not c2:
        raise JobError('%s: the container part resolves to %r' % (what, c2))
    if not o2:
        raise JobError('%s: the object part resolves to an empty name'
                       % what)
    return c2, o2


class Node(object):
    """One process of the job.

    devices: device name -> dict(the device, path=resolved,
    swift=(a, c, o) for swift:// paths, zvm=(group, '/dev/...') for
    zvm:// paths, payload=True for a path-less stdin/input/script).
    wildcards: the texts the group's read wildcard matched (in order).
    ins/outs: (node name, node) of the `connect` connections that use the
    default devices /dev/in/<src> and /dev/out/<dst> (compatibility; see
    connections() for all of them).
    """

    def __init__(self, group, name, index, devices, attach='default',
                 location=None, replicate=1, wildcards=None):
        self.group = group
        self.name = name
        self.index = index        # 1-based within its group
        self.devices = devices
        self.attach = attach
        self.location = location
        self.replicate = replicate
        self.wildcards = list(wildcards or [])
        self.ins = []
        self.outs = []

    def __repr__(self):
        return 'Node(%r)' % self.name


def expand_nodes(job, account, lister=None, container_lister=None):
    """Groups (validated by validate_job) -> nodes, in group order.

    lister(account, container, prefix) -> object names in listing order;
    container_lister(account, prefix) -> container names. A read device
    whose path has `*` gives one node per match, `<name>-<i>`; otherwise
    `count` nodes (`<name>` when 1). Each `*` of a write path becomes the
    next text the read wildcard matched, or else the node name.
    """
    job = normalize_job(job)
    nodes = []
    seen = set()
    for gi, g in enumerate(job):
        gname = g['name']
        where = 'group %r' % gname
        devs = g.get('devices', [])
        wd = _read_wildcard(where, devs)
        matches = None
        if wd is not None:
            matches = _find_matches(where, wd, account, lister,
                                    container_lister)
            n = len(matches)
        else:
            n = g.get('count', 1)
        for i in range(1, n + 1):
            name = gname if (n == 1 and wd is None) else '%s-%d' % (gname, i)
            if name in seen:
                raise JobError('%s: node name %r is taken by another group'
                               % (where, name))
            seen.add(name)
            caps = matches[i - 1][3] if matches else []
            nd = {}
            for d in devs:
                d2 = dict(d)
                p = d.get('path')
                kind = _dev_kind(p) if p is not None else None
                dw = '%s: device %r: path %r' % (where, d['name'], p)
                if kind == 'swift':
                    if d is wd:
                        a, c, o = matches[i - 1][:3]
                    else:
                        a, c, o = parse_swift_path(p, account)
                        if d['name'] in WRITE_DEVICES:
                            if '*' not in p and n > 1:
                                raise JobError(
                                    '%s: single path for %d nodes of group '
                                    '%r: use a wildcard' % (dw, n, gname))
                            c, o = _fill_parts(c, o, caps or [name] *
                                               (c + o).count('*'), dw)
                    d2['path'] = 'swift://%s/%s/%s' % (a, c, o)
                    d2['swift'] = (a, c, o)
                elif kind == 'zvm':
                    d2['zvm'] = parse_zvm_path(p)
                elif p is None and d['name'] in PAYLOAD_DEVICES:
                    d2['payload'] = True
                nd[d['name']] = d2
            nodes.append(Node(g, name, i, nd,
                              attach=g.get('attach', 'default'),
                              location=g.get('location'),
                              replicate=g.get('replicate', 1),
                              wildcards=caps))
    by_name = {n.name: n for n in nodes}
    for c in connections(nodes):
        if c['src_dev'] == '/dev/out/' + c['dst'] and \
                c['dst_dev'] == '/dev/in/' + c['src']:
            by_name[c['src']].outs.append((c['dst'], by_name[c['dst']]))
            by_name[c['dst']].ins.append((c['src'], by_name[c['src']]))
    return nodes


def _resolve_dst(dev, node, what):
    """`*` in a zvm:// destination device: the destination node's
    captures, else its name."""
    if '*' not in dev:
        return dev
    fills = node.wildcards or [node.name] * dev.count('*')
    dev = _fill(dev, fills, what)
    _check_dev_path(dev, what)
    return dev


def connections(nodes):
    """All channels between nodes:

    [{'src': node name, 'dst': node name, 'src_dev': ..., 'dst_dev': ...}]

    `connect: [g]` joins each node of the group to each node of g (but not
    to itself: a group of several nodes may connect to itself, each node to
    every other one) with /dev/out/<dst> -> /dev/in/<src>. A write device
    with path zvm://g:dev is a connection from /dev/<device> to each node
    of g, arriving at dev (it replaces the default devices towards g, and
    needs no `connect`). A device path used twice on one node: JobError.
    """
    by_group = {}
    order = []
    for n in nodes:
        gname = n.group['name']
        if gname not in by_group:
            by_group[gname] = []
            order.append(gname)
        by_group[gname].append(n)
    conns = []
    for gname in order:
        members = by_group[gname]
        g = members[0].group
        where = 'group %r' % gname
        zdevs = {}
        targets = list(g.get('connect', []))
        for d in g.get('devices', []):
            if _dev_kind(d.get('path')) == 'zvm':
                host, dev = parse_zvm_path(d['path'])
                zdevs.setdefault(host, []).append((d['name'], dev))
                if host not in targets:
                    targets.append(host)
        for t in targets:
            if t not in by_group:
                raise JobError('%s: unknown connect target %r' % (where, t))
            if t == gname and len(members) == 1:
                raise JobError('%s has one node: it cannot connect to '
                               'itself' % where)
        for s in members:
            for t in targets:
                for d in by_group[t]:
                    if d is s:
                        continue
                    if t in zdevs:
                        for devname, dev in zdevs[t]:
                            what = '%s: device %r (zvm://%s)' % (
                                where, devname, t)
                            conns.append({
                                'src': s.name, 'dst': d.name,
                                'src_dev': '/dev/' + devname,
                                'dst_dev': _resolve_dst(dev, d, what)})
                    else:
                        conns.append({'src': s.name, 'dst': d.name,
                                      'src_dev': '/dev/out/' + d.name,
                                      'dst_dev': '/dev/in/' + s.name})
    # each device path of a node serves one connection end
    used = {}
    by_name = {n.name: n for n in nodes}
    for c in conns:
        for n in (c['src'], c['dst']):
            if by_name[n].replicate > 1:
                raise JobError(
                    'group %r: replicate %d with a connection (%s -> %s) '
                    'is not supported by the devcloud: a rerun cannot '
                    'replay a stream' % (by_name[n].group['name'],
                                         by_name[n].replicate, c['src'],
                                         c['dst']))
    for c in conns:
        for end, node in (('src_dev', c['src']), ('dst_dev', c['dst'])):
            dev = c[end]
            label = '%s -> %s' % (c['src'], c['dst'])
            key = (node, dev)
            if key in used:
                raise JobError('node %r: %s would serve two connections '
                               '(%s and %s)' % (node, dev, used[key], label))
            used[key] = label
            if end == 'dst_dev' and dev.startswith('/dev/') and \
                    dev[len('/dev/'):] in by_name[node].devices:
                raise JobError('node %r: connection %s arrives at %s, which '
                               'is already a device of the node'
                               % (node, label, dev))
    return conns


def fmt_cdr(total, stats):
    """X-Nexe-Cdr-Line: 'total, node1time, ten numbers,node2time, ...'.

    stats: list of dicts with keys wall, sys, user, dr, dbr, dw, dbw,
    nr, nbr, nw, nbw.
    """
    items = ['%.3f' % total]
    for s in stats:
        items.append('%.3f' % s['wall'])
        items.append('%.2f %.2f %d %d %d %d %d %d %d %d' % (
            s['sys'], s['user'], s['dr'], s['dbr'], s['dw'], s['dbw'],
            s['nr'], s['nbr'], s['nw'], s['nbw']))
    # ZeroCloud's layout: ', ' after the total and inside a node, ','
    # between nodes.
    out = items[0]
    for k in range(len(stats)):
        out += (', ' if k == 0 else ',') + items[1 + 2 * k] + ', ' + \
            items[2 + 2 * k]
    return out
