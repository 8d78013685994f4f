"""Job descriptions (ZeroCloud servlet format): parsing, validation, nodes.

Pure functions, no Swift and no processes: everything here is unit-tested.
"""
import fnmatch
import json
import re

READ_DEVICES = ('image', 'stdin', 'input')
WRITE_DEVICES = ('stdout', 'stderr', 'output')
STD_DEVICES = READ_DEVICES + WRITE_DEVICES
NAME_RE = re.compile(r'^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$')


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


def parse_exec_path(path, account):
    """exec.path -> ('sysimage', image, program) | ('swift', a, c, o)
    | ('image', relative path)."""
    if not isinstance(path, str) or not path:
        raise JobError('exec.path must be a non-empty string')
    if path.startswith('file://'):
        rest = path[len('file://'):]
        if ':' not in rest:
            raise JobError('bad exec path %r: want file://image:program'
                           % path)
        image, prog = rest.split(':', 1)
        if not image or not prog:
            raise JobError('bad exec path %r: want file://image:program'
                           % path)
        return ('sysimage', image, prog)
    if path.startswith('swift://'):
        a, c, o = parse_swift_path(path, account)
        if not o or '*' in o:
            raise JobError('bad exec path %r: no object' % path)
        return ('swift', a, c, o)
    if '://' in path:
        raise JobError('bad exec path %r: unknown scheme' % path)
    rel = path[2:] if path.startswith('./') else path
    if rel.startswith('/') or '..' in rel.split('/') or not rel:
        raise JobError('bad exec path %r: must be relative, inside the '
                       'image' % path)
    return ('image', rel)


def exec_name(path):
    """Default argv[0], as zpm computes exec.name."""
    if path.startswith('file://'):
        return path.rsplit(':', 1)[-1]
    if path.startswith('swift://'):
        return path.split('/', 4)[-1] if path.count('/') >= 4 else path
    return path


def load_job(data):
    """bytes/str of JSON -> list of groups (validated)."""
    try:
        if isinstance(data, bytes):
            data = data.decode('utf-8')
        job = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise JobError('bad JSON in job description: %s' % e)
    return validate_job(job)


def validate_job(job, system_images=None):
    if not isinstance(job, list):
        raise JobError('job description must be a JSON list of groups')
    if not job:
        raise JobError('job description has no groups')
    names = set()
    for i, g in enumerate(job):
        where = 'group %d' % (i + 1)
        if not isinstance(g, dict):
            raise JobError('%s is not an object' % where)
        name = g.get('name')
        if not isinstance(name, str) or not name:
            raise JobError('%s has no name' % where)
        if not NAME_RE.match(name):
            raise JobError('group name %r is not allowed' % name)
        where = 'group %r' % name
        if name in names:
            raise JobError('%s appears twice' % where)
        names.add(name)
        ex = g.get('exec')
        if not isinstance(ex, dict):
            raise JobError('%s has no exec' % where)
        if not isinstance(ex.get('path'), str) or not ex.get('path'):
            raise JobError('%s has no exec.path' % where)
        split_args(ex.get('args'))
        env = ex.get('env')
        if env is not None:
            if not isinstance(env, dict) or not all(
                    isinstance(k, str) and k and '=' not in k and
                    isinstance(v, str) for k, v in env.items()):
                raise JobError('%s: exec.env must map names to strings'
                               % where)
        if 'name' in ex and not isinstance(ex['name'], str):
            raise JobError('%s: exec.name must be a string' % where)
        count = g.get('count', 1)
        if not isinstance(count, int) or isinstance(count, bool) or \
                count < 1 or count > 1000:
            raise JobError('%s: count must be an integer from 1 to 1000'
                           % where)
        devs = g.get('devices', [])
        if not isinstance(devs, list):
            raise JobError('%s: devices must be a list' % where)
        seen = set()
        wild = 0
        for d in devs:
            if not isinstance(d, dict) or not isinstance(d.get('name'), str) \
                    or not d.get('name'):
                raise JobError('%s: bad device %r (want {"name": ..., '
                               '"path": ...})' % (where, d))
            dn = d['name']
            if dn in seen:
                raise JobError('%s: device %r appears twice' % (where, dn))
            seen.add(dn)
            p = d.get('path')
            if dn not in STD_DEVICES:
                if system_images is not None and dn not in system_images:
                    raise JobError('%s: bad device %r (unknown name)'
                                   % (where, dn))
                continue
            if p is None:
                if dn in ('stdin', 'input', 'output'):
                    raise JobError('%s: bad device %r: no path'
                                   % (where, dn))
                continue
            if not isinstance(p, str) or not p.startswith('swift://'):
                raise JobError('%s: bad device %r: path %r is not swift://'
                               % (where, dn, p))
            a, c, o = parse_swift_path(p, 'x')
            if not o:
                raise JobError('%s: bad device %r: path %r names no object'
                               % (where, dn, p))
            if '*' in c:
                raise JobError('%s: bad device %r: no wildcard in container '
                               'names' % (where, dn))
            if '*' in o and dn in READ_DEVICES:
                wild += 1
        if wild > 1:
            raise JobError('%s: only one device may have a wildcard' % where)
        if wild and count != 1:
            raise JobError('%s: count and a wildcard device together'
                           % where)
        conn = g.get('connect', [])
        if not isinstance(conn, list) or not all(
                isinstance(c, str) for c in conn):
            raise JobError('%s: connect must be a list of group names'
                           % where)
    for g in job:
        for c in g.get('connect', []):
            if c not in names:
                raise JobError('group %r: unknown connect target %r'
                               % (g['name'], c))
            if c == g['name']:
                raise JobError('group %r connects to itself' % c)
    return job


def wildcard_device(group):
    for d in group.get('devices', []):
        p = d.get('path')
        if d['name'] in READ_DEVICES and isinstance(p, str) and '*' in p:
            return d
    return None


def match_listing(pattern, names):
    """Object names (listing order) matching a pattern with `*`."""
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def listing_prefix(pattern):
    return pattern.split('*', 1)[0]


class Node(object):
    def __init__(self, group, name, index, devices):
        self.group = group
        self.name = name
        self.index = index        # 1-based within its group
        self.devices = devices    # name -> device dict (path resolved)
        self.ins = []             # (dev name under /dev/in, source node)
        self.outs = []            # (dev name under /dev/out, dest node)

    def __repr__(self):
        return 'Node(%r)' % self.name


def expand_nodes(job, account, lister=None):
    """Groups -> nodes, in group order.

    lister(account, container, prefix) -> object names in listing order;
    used for device paths with `*`. Write devices with `*` get it replaced
    by the node name.
    """
    nodes = []
    by_group = {}
    for g in job:
        devs = g.get('devices', [])
        wd = wildcard_device(g)
        matches = None
        if wd is not None:
            a, c, o = parse_swift_path(wd['path'], account)
            if lister is None:
                raise JobError('wildcards are not supported here')
            matches = match_listing(o, lister(a, c, listing_prefix(o)))
            if not matches:
                raise NotFound('no object matches %s' % wd['path'])
            n = len(matches)
        else:
            n = g.get('count', 1)
        group_nodes = []
        for i in range(1, n + 1):
            name = g['name'] if (n == 1 and matches is None) \
                else '%s-%d' % (g['name'], i)
            nd = {}
            for d in devs:
                d2 = dict(d)
                p = d.get('path')
                if isinstance(p, str) and p.startswith('swift://'):
                    a, c, o = parse_swift_path(p, account)
                    if d is wd:
                        o = matches[i - 1]
                    elif '*' in o:
                        o = o.replace('*', name)
                    d2['path'] = 'swift://%s/%s/%s' % (a, c, o)
                    d2['swift'] = (a, c, o)
                nd[d['name']] = d2
            node = Node(g, name, i, nd)
            group_nodes.append(node)
        by_group[g['name']] = group_nodes
        nodes.extend(group_nodes)
    for g in job:
        for target in g.get('connect', []):
            srcs = by_group[g['name']]
            dsts = by_group[target]
            for s in srcs:
                for d in dsts:
                    s.outs.append((d.name, d))
                    d.ins.append((s.name, s))
    return nodes


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
