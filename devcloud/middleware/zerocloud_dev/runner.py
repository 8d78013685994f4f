"""Run the nodes of a job as sandboxed host processes and measure them.

Plain threads and blocking I/O, no eventlet: the middleware runs this
module as a separate process (`python3 -m zerocloud_dev.runner SPEC OUT`),
the unit tests call run_job() directly.

Node spec (a dict, JSON-serialisable):
  name        node name
  program     path of the program as seen inside the sandbox
  argv        [argv0, args...]
  env         environment (PATH is added if missing; HOME=/ too, in the
              sandbox)
  root        host directory of the unpacked image (may be empty): the
              node's root filesystem, writable (an overlay when mounts are
              allowed), bound at / and at /zapp; the host's /usr, /etc,
              /bin, /lib, /lib64, /sbin read-only over it; cwd /
  binds       [[host path, sandbox path], ...] bound read-only
  symlinks    [[target, sandbox path], ...]
  stdin, input            host files fed to the node (or None)
  stdout, stderr, output  host files the node's data is written to
                          (None: stdout/stderr discarded, output absent)
  script      host file bound read-only at /dev/script (or None)
  input_mode  'file' (default): the input file is bound read-only at
              /dev/input, a regular file the node may seek in (Servlets.md
              rule 9: input is random access); 'pipe': a FIFO the runner
              feeds (a sequential stream)
  timeout     seconds; memory: bytes (the node's cgroup, else RLIMIT_AS
              per process)
Job options (Runner keyword arguments): disk_limit (bytes the node may
write into its root (/ and /zapp), /tmp and /dev/shm together),
output_limit (bytes on stdout, stderr and /dev/output together),
process_limit (processes and threads at once), cgroups and mounts ('auto'
or 'off': 'off' forces the fallbacks); see limits.py for the mechanisms.
Connections: [{"src": node name, "dst": node name, "src_dev": path,
"dst_dev": path}]: src writes src_dev (default /dev/out/<dst>), dst reads
dst_dev (default /dev/in/<src>); the bytes go through this process (so
they are counted). src_dev /dev/stdout or /dev/stderr: that stream of src
feeds the connection (it still counts against the output limit, and is
not written to the stdout/stderr file); dst_dev /dev/stdin: dst's stdin
is the connection (dst must have no stdin file); any other path under
/dev is a FIFO bound there. Several connections from one src device
receive the same bytes; several into one dst device are merged (EOF when
every source is done).

Result per node: name, status, retcode, error, wall, sys, user, the
counters below, disk_peak, mem_peak, stderr_tail (the last 4096 bytes the
node wrote to stderr, whatever became of them, decoded as UTF-8 with
replacement characters).

Accounting per node:
  dr/dbr  chunks (one read() of ours, up to 64 KiB) and bytes fed to the
          node from its stdin and a piped input; the size of a script
          and of an input bound as a file (and that / 64 KiB, rounded
          up, as chunks)
  dw/dbw  chunks and bytes received from its stdout, stderr and output
          (not those that feed a connection),
          plus the peak number of bytes it had written into its writable
          area (/ alias /zapp, /tmp, /dev/shm; sampled every 50 ms and at
          exit) and that many bytes / 64 KiB (rounded up) as chunks
  nr/nbr  chunks and bytes delivered to the node by connections
  nw/nbw  chunks and bytes received from the node for connections
  sys/user  CPU seconds of the node's whole process tree: its cgroup's
          cpuacct/cpu.stat; without one, os.wait4's rusage of bwrap plus
          that of bwrap's init in the PID namespace (which the outer bwrap
          does not wait for; the runner is a child subreaper and reaps it)
  wall    seconds from spawn to exit
"""
import http.client
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

from . import limits

CHUNK = 1 << 16
# a stream between object servers: the token the proxy signed for it
STREAM_TOKEN_HEADER = 'X-Zerocloud-Stream-Token'
BWRAP = '/usr/bin/bwrap'
PERL = '/usr/bin/perl'
SPAWN_MARK = 'zerocloud-dev: cannot run'
# perl's exec {prog} @argv sets argv[0] freely and leaves the environment
# alone (bwrap 0.8 has no --argv0); exit 127 with a marker if exec fails.
LAUNCHER = ('my $p = shift; exec {$p} @ARGV; '
            'print STDERR "' + SPAWN_MARK + ' $p: $!\\n"; exit 127;')
MEMORY_PATTERNS = re.compile(
    br'MemoryError|Cannot allocate memory|[Oo]ut of memory|bad_alloc|'
    br'memory exhausted|failed to allocate|ENOMEM')
# what shells and Python say when a fork is refused (EAGAIN): the sign
# that a node reached RLIMIT_NPROC (the fallback without a pids cgroup)
FORK_PATTERNS = re.compile(
    br'[Cc]annot fork|can.t fork|fork: retry|fork: Resource temporarily|'
    br'fork\(\)[^\n]*\n(?:[^\n]*\n){0,3}[^\n]*\[Errno 11\]')
SYSTEM_DIRS = ('/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64',
               '/libx32', '/etc')
HIDE_FILES = ('/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-',
              '/etc/sudoers', '/etc/ssl/private')
HIDE_DIRS = ('/etc/swift', '/etc/keystone', '/etc/ssh', '/etc/ssl/private',
             '/etc/sudoers.d', '/etc/credstore', '/etc/credstore.encrypted')
# names the sandbox mounts on at the top of the node's root (the image),
# besides SYSTEM_DIRS: a directory of the image there is shadowed (still
# seen under /zapp); anything else is removed first (a directory cannot
# be mounted on it)
ROOT_MOUNTS = ('tmp', 'dev', 'proc', 'zapp')
# top-level paths of the node's root that are not the image's (the image
# is whole under /zapp): a program there is run through /zapp
SHADOWED = frozenset(SYSTEM_DIRS + tuple('/' + n for n in ROOT_MOUNTS) +
                     ('/zvm',))
DEV_STREAMS = ('/dev/stdin', '/dev/stdout', '/dev/stderr')
# what bwrap's --dev (and we) put in /dev: no connection is bound there
DEV_RESERVED = frozenset((
    'null', 'zero', 'full', 'random', 'urandom', 'tty', 'console', 'ptmx',
    'pts', 'shm', 'fd', 'stdin', 'stdout', 'stderr', 'core', 'mqueue',
    'hugepages', 'log'))
DEV_COMPONENT = re.compile(r'[A-Za-z0-9_.:+=@-]{1,64}$')
TAIL = 4096
DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'
DISK_LIMIT = 256 << 20
OUTPUT_LIMIT = 64 << 20
PROCESS_LIMIT = 64
# processes of bwrap itself in a node's process tree: the outer bwrap and
# its init (PID 1) in the node's PID namespace
BWRAP_PROCS = 2
POLL = 0.05
# Without a pids cgroup each node's sandbox runs as a host uid of its own
# from this range, under RLIMIT_NPROC (see setup_limits)
NPROC_UID_BASE = 1900000000
NPROC_UID_SPAN = 100000000
STATUS = {
    'timeout': 'Killed by timeout',
    'memory': 'Killed by memory limit',
    'disk': 'Killed by disk limit',
    'output': 'Killed by output limit',
    'process': 'Killed by process limit',
    'aborted': 'Killed: job cancelled',
    'stream': 'Stream between servers broken',
}


def have_bwrap(path=BWRAP):
    return os.access(path, os.X_OK)


def dev_path_error(path):
    """Why `path` cannot be a connection's device in a node's /dev (a
    FIFO bound there), or None."""
    if not isinstance(path, str) or not path.startswith('/dev/'):
        return 'not under /dev'
    parts = path[len('/dev/'):].split('/')
    if len(path) > 200 or any(x in ('.', '..') or not DEV_COMPONENT.match(x)
                              for x in parts):
        return 'not a safe path'
    if parts[0] in DEV_RESERVED:
        return 'reserved by the sandbox'
    return None


def _pump(fd, each):
    """Read fd to its end, each(chunk) for every chunk; fd is closed."""
    try:
        while True:
            b = os.read(fd, CHUNK)
            if not b:
                break
            each(b)
    finally:
        os.close(fd)


def _nonblock_poke(path, flags):
    try:
        fd = os.open(path, flags | os.O_NONBLOCK)
        os.close(fd)
        return True
    except OSError:
        return False


class Counter(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.v = dict(dr=0, dbr=0, dw=0, dbw=0, nr=0, nbr=0, nw=0, nbw=0)

    def add(self, kind, nbytes):
        with self.lock:
            self.v[kind[0]] += 1
            self.v[kind[1]] += nbytes


class Sink(object):
    """Where connections arrive at a node: a FIFO bound in its /dev
    (opened when the first bytes come, or at the end to give the node its
    EOF) or the write end of its stdin pipe (fd). Bytes of several sources
    are merged; the last source done closes it."""

    def __init__(self, counter, path=None, fd=None):
        self.lock = threading.Lock()      # one writer at a time
        self.state = threading.Lock()     # gone/opening, never held long
        self.counter = counter
        self.path = path
        self.fd = fd
        self.sources = 0
        self.dead = False      # the node will not read any more
        self.closed = False
        self.gone = False      # the node exited
        self.opening = False

    def _open(self):
        if self.fd is not None or self.dead or self.path is None:
            return
        with self.state:
            if self.gone:
                self.dead = True
                return
            self.opening = True
        try:
            self.fd = os.open(self.path, os.O_WRONLY)
        except OSError:
            self.dead = True
        finally:
            with self.state:
                self.opening = False

    def write(self, b):
        with self.lock:
            if self.closed:
                return
            self._open()
            if self.dead or self.fd is None:
                return
            try:
                view = memoryview(b)
                while view:
                    n = os.write(self.fd, view)
                    view = view[n:]
                self.counter.add(('nr', 'nbr'), len(b))
            except OSError:
                self.dead = True

    def finish(self):
        """One source is done; after the last one the node gets EOF."""
        with self.lock:
            self.sources -= 1
            if self.sources > 0 or self.closed:
                return
            self.closed = True
            self._open()
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None

    def release(self):
        """The node exited: unblock an open() that waits for it."""
        with self.state:
            self.gone = True
        while True:
            with self.state:
                if not self.opening:
                    return
            _nonblock_poke(self.path, os.O_RDONLY)
            time.sleep(0.005)


class Fanout(object):
    """The sinks one source device feeds (each gets every byte)."""

    def __init__(self):
        self.sinks = []
        self.lock = threading.Lock()
        self.finished = False

    def write(self, b):
        for s in self.sinks:
            s.write(b)

    def finish(self):
        with self.lock:
            if self.finished:
                return
            self.finished = True
        for s in self.sinks:
            s.finish()


class RemoteSink(object):
    """A connection to a node on another object server (issue 18): the
    bytes go there as the body of a chunked PUT <url> (its filter writes
    them into the FIFO that server's runner reads for the node); the end
    of the body is the node's EOF. An error other than the receiving node
    having exited (410, as a local sink of a node that is gone drops what
    comes) fails the sending node (Runner.stream_errors)."""

    def __init__(self, entry):
        self.url = entry['url']
        self.token = entry['token']
        self.dst = entry['dst']
        self.timeout = float(entry.get('timeout') or 180)
        self.conn = None
        self.error = None
        self.gone = False
        self.finished = False
        self.lock = threading.Lock()

    def _connect(self):
        u = urlsplit(self.url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port,
                                               timeout=self.timeout)
        self.conn.putrequest('PUT', u.path, skip_accept_encoding=True)
        self.conn.putheader('Transfer-Encoding', 'chunked')
        self.conn.putheader(STREAM_TOKEN_HEADER, self.token)
        self.conn.endheaders()

    def _fail(self, e):
        if self.error is None and not self.gone:
            self.error = 'stream to %s (%s): %s' % (self.dst, self.url, e)

    def write(self, b):
        with self.lock:
            if self.error or self.gone or self.finished:
                return
            try:
                if self.conn is None:
                    self._connect()
                self.conn.send(b'%x\r\n' % len(b) + bytes(b) + b'\r\n')
            except (OSError, http.client.HTTPException) as e:
                self._answer_or(e)

    def _answer_or(self, e):
        """A send failed: the server may have answered already (410)."""
        try:
            resp = self.conn.getresponse()
            if resp.status == 410:
                self.gone = True
                return
            e = '%d %s' % (resp.status, resp.read(512).decode(
                'utf-8', 'replace').strip())
        except Exception:
            pass
        self._fail(e)

    def finish(self):
        with self.lock:
            if self.finished:
                return
            self.finished = True
            if self.error or self.gone:
                self._close()
                return
            try:
                if self.conn is None:
                    self._connect()
                self.conn.send(b'0\r\n\r\n')
                resp = self.conn.getresponse()
                body = resp.read(512)
                if resp.status == 410:
                    self.gone = True
                elif resp.status != 201:
                    self._fail('%d %s' % (resp.status, body.decode(
                        'utf-8', 'replace').strip()))
            except (OSError, http.client.HTTPException) as e:
                self._fail(e)
            finally:
                self._close()

    def _close(self):
        if self.conn is not None:
            self.conn.close()


class Runner(object):
    def __init__(self, nodes, conns, workdir, sandbox=True, bwrap=BWRAP,
                 tmp_size=None, uid=65534, disk_limit=None,
                 output_limit=OUTPUT_LIMIT, process_limit=PROCESS_LIMIT,
                 cgroups='auto', mounts='auto', remote=None):
        self.nodes = nodes
        self.conns = conns
        # connections with a node on another object server (issue 18):
        # {'out': [{src, dst, src_dev, dst_dev, url, token, timeout}],
        #  'in': [{src, dst, src_dev, dst_dev, fifo}]}
        self.remote = remote or {'out': [], 'in': []}
        self.remote_sinks = []    # [(src node, RemoteSink)]
        self.remote_sources = []  # [(dst node, fifo, Sink, state)]
        self.workdir = workdir
        self.sandbox = sandbox
        self.bwrap = bwrap
        # tmp_size: the old name of disk_limit (it sized /tmp alone)
        self.disk_limit = int(disk_limit or tmp_size or DISK_LIMIT)
        self.output_limit = int(output_limit)
        self.process_limit = int(process_limit)
        self.cgroups = cgroups
        self.mounts = mounts
        self.uid = uid
        self.done = {}        # name -> threading.Event (process exited)
        self.counters = {}
        self.budgets = {}     # name -> output Budget
        self.guards = {}      # name -> Guard
        self.threads = []
        self.pokes = {}       # node name -> [(thread, fifo, flags, event)]
        self.tails = {}
        self.sinks = {}       # node name -> [Sink] arriving at it
        self.streams = {}     # (node name, 'stdout'|'stderr') -> Fanout
        self.stdin_pipes = {}  # node name -> read end of its stdin pipe
        self.hierarchies = []
        self.mechanisms = {}
        self.aborted = False
        self.nproc = False
        self.own_uid = False

    # ---- channel threads -------------------------------------------------
    def _spawn_thread(self, fn, args, pokes):
        """pokes: [(node, fifo path, open flags, event or None)]: when
        `node` exits, the FIFO is opened and closed (non-blocking) until
        the event is set or the thread ends, so that the thread never stays
        blocked in open() on a FIFO whose other side is gone."""
        t = threading.Thread(target=fn, args=args, daemon=True)
        for node, path, flags, ev in pokes:
            self.pokes.setdefault(node, []).append((t, path, flags, ev))
        self.threads.append(t)
        return t

    def _release(self, node):
        for sink in self.sinks.get(node, []):
            sink.release()
        for t, path, flags, ev in self.pokes.get(node, []):
            while t.is_alive() and not (ev is not None and ev.is_set()):
                _nonblock_poke(path, flags)
                t.join(0.01)

    def _feed_fd(self, src, fd, counter):
        try:
            with open(src, 'rb') as f:
                while True:
                    b = f.read(CHUNK)
                    if not b:
                        break
                    view = memoryview(b)
                    while view:
                        n = os.write(fd, view)
                        view = view[n:]
                    counter.add(('dr', 'dbr'), len(b))
        except OSError:
            pass
        finally:
            os.close(fd)

    def _drain_fd(self, fd, dest, counter, tailkey, budget, fan=None):
        """The node's stdout or stderr: to the file dest (or nowhere),
        or to the connections of fan. Either way it counts against the
        output limit."""
        out = open(dest, 'ab') if dest and fan is None else None
        kind = ('nw', 'nbw') if fan is not None else ('dw', 'dbw')
        tail = b''
        try:
            while True:
                b = os.read(fd, CHUNK)
                if not b:
                    break
                counter.add(kind, len(b))
                k = budget.take(len(b))
                if out and k:
                    out.write(b[:k])
                if fan is not None and k:
                    fan.write(b[:k])
                if tailkey:
                    tail = (tail + b)[-TAIL:]
                    self.tails[tailkey] = tail
                    if self.nproc and FORK_PATTERNS.search(tail):
                        self.guards[tailkey].trip('process')
        except OSError:
            pass
        finally:
            os.close(fd)
            if out:
                out.close()
            if tailkey:
                self.tails[tailkey] = tail
            if fan is not None:
                fan.finish()

    def _feed_fifo(self, src, fifo, counter, kind):
        """Open the FIFO for writing (blocks until the node opens it) and
        copy src into it. Unblocked by a poke when the node exits."""
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except OSError:
            return
        self._feed_fd(src, fd, _Relabel(counter, kind))

    def _drain_fifo(self, fifo, dest, counter, kind, node):
        """Read whatever the node writes to the FIFO, re-opening it after
        each close while the node runs."""
        out = open(dest, 'ab') if dest else None
        budget = self.budgets[node]
        try:
            while True:
                try:
                    fd = os.open(fifo, os.O_RDONLY)
                except OSError:
                    return
                def each(b):
                    counter.add(kind, len(b))
                    k = budget.take(len(b))
                    if out and k:
                        out.write(b[:k])
                _pump(fd, each)
                if self.done[node].is_set():
                    return
        finally:
            if out:
                out.close()

    def _remote_source(self, fifo, sink, state):
        """Bytes from a node on another object server: that server's
        filter writes the body of the sender's PUT into the FIFO and, if
        the body was cut short, `<fifo>.broken` (the reason) before it
        closes. EOF is the sender's end. Unblocked by a poke when the
        receiving node exits."""
        try:
            try:
                fd = os.open(fifo, os.O_RDONLY)
            except OSError:
                return
            _pump(fd, sink.write)
            try:
                with open(fifo + '.broken') as f:
                    state['error'] = 'stream from %s broke: %s' % (
                        state['src'], f.read().strip())
            except OSError:
                pass
        finally:
            sink.finish()

    def _source_fifo(self, fifo, node, fan, released):
        """The node writes a connection's FIFO (e.g. /dev/out/<dst>) -> us
        -> the sinks. The node closing it ends the stream (the readers get
        EOF then, as a ZeroVM channel's close does, not only when the node
        exits: nodes that write, close and then read each other depend on
        it). A channel is meant to be opened once: a later re-open is
        drained and counted so that the node does not block, and what it
        writes is dropped, unless the node re-opened before this thread
        saw the close (a FIFO shows no close while a writer is back)."""
        counter = self.counters[node]
        try:
            while True:
                try:
                    fd = os.open(fifo, os.O_RDONLY)
                except OSError:
                    break
                try:
                    while True:
                        b = os.read(fd, CHUNK)
                        if not b:
                            break
                        counter.add(('nw', 'nbw'), len(b))
                        fan.write(b)
                finally:
                    os.close(fd)
                fan.finish()
                if self.done[node].is_set():
                    break
        finally:
            released.set()
            # gives the readers their EOF even if nothing was written
            fan.finish()

    # ---- processes ---------------------------------------------------------
    @staticmethod
    def _root_layout(spec, root):
        """-> (bwrap arguments for the host's system directories over the
        node's root, top-level names of the root to remove first). `root`
        is the root as this process sees it (the overlay, or the host
        directory). A directory of the image named like a host system
        directory is shadowed by the host's (a usrmerge symlink's target
        is bound over it); anything else there is removed, as are
        non-directories where the sandbox mounts (/tmp, /dev, /proc,
        /zapp, the first component of the spec's binds and symlinks)."""
        args, drop = [], []

        def kind(name):
            p = os.path.join(root, name)
            if os.path.islink(p):
                return 'link'
            if os.path.isdir(p):
                return 'dir'
            return 'other' if os.path.lexists(p) else None
        for d in SYSTEM_DIRS:
            name = d[1:]
            k = kind(name)
            if os.path.islink(d):
                target = os.readlink(d)
                real = os.path.realpath(d)
                if k == 'dir':
                    if os.path.isdir(real):
                        args += ['--ro-bind', real, d]
                    continue
                if k == 'link' and os.readlink(
                        os.path.join(root, name)) == target:
                    continue    # the same link already (bwrap 0.8 fails)
                if k:
                    drop.append(name)
                args += ['--symlink', target, d]
            elif os.path.isdir(d):
                if k not in (None, 'dir'):
                    drop.append(name)
                args += ['--ro-bind', d, d]
        names = set(ROOT_MOUNTS)
        for _, dst in list(spec.get('binds') or []) + \
                list(spec.get('symlinks') or []):
            parts = dst.strip('/').split('/')
            if len(parts) > 1:
                names.add(parts[0])
        for name in sorted(names):
            if kind(name) not in (None, 'dir') and name not in drop:
                drop.append(name)
        return args, drop

    def _sandbox_args(self, spec, devbinds, area, sysargs, info_fd=None):
        a = [self.bwrap, '--unshare-all', '--unshare-user',
             '--uid', str(self.uid), '--gid', str(self.uid),
             '--die-with-parent', '--new-session', '--clearenv']
        if info_fd is not None:
            a += ['--info-fd', str(info_fd)]
        # the node's writable root (the image), also at /zapp; the host's
        # system directories read-only over it
        a += ['--bind', area.zapp, '/', '--bind', area.zapp, '/zapp']
        a += sysargs
        for d in HIDE_DIRS:
            if os.path.isdir(d) and not os.path.islink(d):
                a += ['--tmpfs', d, '--remount-ro', d]
        for f in HIDE_FILES:
            if os.path.isfile(f) and not os.path.islink(f):
                a += ['--ro-bind', '/dev/null', f]
        if area.tmp:
            a += ['--bind', area.tmp, '/tmp']
        else:
            a += ['--size', str(area.limit + limits.PAGE),
                  '--tmpfs', '/tmp']
        a += ['--dev', '/dev', '--proc', '/proc']
        # /dev/shm (POSIX shared memory) is writable too: in the area
        if area.shm:
            a += ['--bind', area.shm, '/dev/shm']
        else:
            a += ['--size', str(area.limit + limits.PAGE),
                  '--tmpfs', '/dev/shm']
        for src, dst in spec.get('binds', []):
            a += ['--ro-bind', src, dst]
        for tgt, dst in spec.get('symlinks', []):
            a += ['--symlink', tgt, dst]
        if spec.get('script'):
            a += ['--ro-bind', spec['script'], '/dev/script']
        if spec.get('input') and spec.get('input_mode') != 'pipe':
            a += ['--ro-bind', spec['input'], '/dev/input']
        for src, dst in devbinds:
            a += ['--bind', src, dst]
        # bwrap's own tmpfs at /dev would take any amount of writes (RAM,
        # outside every limit): read-only once set up; the mounts on it
        # (/dev/shm, /dev/pts, the FIFOs) stay as they are. What bwrap
        # created in the root (mount points) is in the area.
        a += ['--remount-ro', '/dev', '--chdir', '/']
        env = dict(spec.get('env') or {})
        env.setdefault('PATH', DEFAULT_PATH)
        env.setdefault('HOME', '/')
        for k, v in env.items():
            a += ['--setenv', k, v]
        a += ['--', PERL, '-e', LAUNCHER, spec['program']] + spec['argv']
        return a

    def setup_limits(self):
        """Mount namespace, subreaper, cgroups: before any thread starts."""
        mounts = self.sandbox and self.mounts != 'off' and \
            limits.private_mount_namespace()
        limits.set_subreaper()
        if self.cgroups != 'off':
            self.hierarchies = limits.discover()
            limits.sweep(self.hierarchies)
        ctl = {c for h in self.hierarchies for c in h.controllers}
        # No pids cgroup: RLIMIT_NPROC, which the kernel enforces only for
        # a uid other than root, counted per uid (and per user namespace,
        # up the chain). So each node's bwrap runs unprivileged as a uid of
        # its own, if this machine lets unprivileged users make user
        # namespaces; else the node's processes are only counted.
        # Each node's bwrap runs as a host uid of its own whenever this
        # machine lets unprivileged users make user namespaces (issue 14,
        # attack "host files"): bwrap started by root maps the node's uid
        # 65534 to host uid 0, which owns every root-only file the sandbox
        # shows (/etc/dbconfig-common/config, /etc/security/opasswd, ...:
        # readable by owner) and would own (and could make setuid) what a
        # node writes into a host-disk area. With a pids cgroup this is
        # only that; without one RLIMIT_NPROC also applies (self.nproc).
        # (bwrap then opens the node's files as that uid: a work_dir that
        # others cannot traverse keeps the old way, bwrap as root)
        self.own_uid = self.sandbox and os.geteuid() == 0 and \
            traversable(self.workdir) and self._probe_unprivileged()
        self.nproc = 'pids' not in ctl and self.own_uid
        self.mechanisms = {
            'memory': 'cgroup' if 'memory' in ctl else 'RLIMIT_AS',
            'process': 'cgroup' if 'pids' in ctl else
                       'RLIMIT_NPROC' if self.nproc else 'proc scan',
            'cpu': 'cgroup' if 'cpu' in ctl else 'rusage',
            'disk': 'tmpfs' if mounts else 'watch'}

    def node_uid(self, idx):
        return NPROC_UID_BASE + (os.getpid() * 64 + idx) % NPROC_UID_SPAN

    def _probe_unprivileged(self):
        uid = self.node_uid(63)

        def become():
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        try:
            return subprocess.run(
                [self.bwrap, '--unshare-all', '--unshare-user', '--uid',
                 str(self.uid), '--gid', str(self.uid), '--ro-bind', '/', '/',
                 '--proc', '/proc', '--dev', '/dev', '--', '/bin/true'],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=become, cwd='/',
                timeout=20).returncode == 0
        except Exception:
            return False

    def abort(self):
        """Stop every node (the job was cancelled)."""
        self.aborted = True
        for g in list(self.guards.values()):
            g.trip('aborted')

    def run(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.setup_limits()
        specs = self.nodes
        fifodir = tempfile.mkdtemp(prefix='fifo', dir=self.workdir)
        os.chmod(fifodir, 0o755)
        fifos = []
        devbinds = {s['name']: [] for s in specs}
        for s in specs:
            self.done[s['name']] = threading.Event()
            self.counters[s['name']] = Counter()
            g = self.guards[s['name']] = Guard()
            if self.aborted:
                g.trip('aborted')
            self.budgets[s['name']] = Budget(
                self.output_limit, lambda g=g: g.trip('output'))
        if not self.sandbox:
            for s in specs:
                if s.get('input') or s.get('output') or s.get('script'):
                    raise ValueError('node %s: input/output/script devices '
                                     'need the sandbox' % s['name'])
            if self.conns:
                raise ValueError('connected nodes need the sandbox')

        def mkfifo():
            p = os.path.join(fifodir, 'f%d' % len(fifos))
            os.mkfifo(p, 0o666)
            os.chmod(p, 0o666)    # whatever the umask: nodes may run as
                                  # another uid (RLIMIT_NPROC fallback)
            fifos.append(p)
            return p
        post = []   # thread starters that need FIFOs
        plan = self._plan_conns(specs)
        for (n, dev), fan in plan['sources'].items():
            if dev in ('/dev/stdout', '/dev/stderr'):
                self.streams[(n, dev[len('/dev/'):])] = fan
                continue
            fo = mkfifo()
            devbinds[n].append((fo, dev))
            ev = threading.Event()
            post.append((self._source_fifo, (fo, n, fan, ev),
                         [(n, fo, os.O_WRONLY, ev)]))
        for (n, dev), sink in plan['sinks'].items():
            if dev == '/dev/stdin':
                rfd, sink.fd = os.pipe()
                self.stdin_pipes[n] = rfd
            else:
                sink.path = mkfifo()
                devbinds[n].append((sink.path, dev))
            self.sinks.setdefault(n, []).append(sink)
        for n, fifo, sink, state in self.remote_sources:
            os.mkfifo(fifo, 0o600)
            post.append((self._remote_source, (fifo, sink, state),
                         [(n, fifo, os.O_WRONLY, None)]))
        for s in specs:
            n = s['name']
            if s.get('input') and s.get('input_mode') == 'pipe':
                f = mkfifo()
                devbinds[n].append((f, '/dev/input'))
                post.append((self._feed_fifo,
                             (s['input'], f, self.counters[n], ('dr', 'dbr')),
                             [(n, f, os.O_RDONLY, None)]))
            if s.get('output'):
                f = mkfifo()
                devbinds[n].append((f, '/dev/output'))
                post.append((self._drain_fifo,
                             (f, s['output'], self.counters[n],
                              ('dw', 'dbw'), n),
                             [(n, f, os.O_WRONLY, None)]))
        for fn, args, pokes in post:
            self._spawn_thread(fn, args, pokes)
        for t in self.threads:
            t.start()

        results = {}
        waiters = []
        t0 = time.time()
        for s in specs:
            w = threading.Thread(target=self._run_node,
                                 args=(s, devbinds[s['name']], results),
                                 daemon=True)
            w.start()
            waiters.append(w)
        for w in waiters:
            # timed: Python runs a signal handler (SIGTERM: abort) in the
            # main thread only, and the kernel may deliver the signal to
            # another thread, which does not wake an untimed join
            while w.is_alive():
                w.join(0.1)
        for s in specs:
            self._release(s['name'])
        for t in self.threads:
            t.join()
        total = time.time() - t0
        for rs in [r for _, r in self.remote_sinks]:
            rs.finish()     # a source that never started (the node failed)
        self._stream_errors(results)
        return total, [results[s['name']] for s in specs]

    def _stream_errors(self, results):
        """A stream between servers that broke fails its node: the
        sender's when its bytes did not all arrive, the receiver's when
        what arrived was cut short (never a partial input taken for a
        whole one)."""
        broken = [(n, rs.error) for n, rs in self.remote_sinks if rs.error]
        broken += [(n, st['error']) for n, _, _, st in self.remote_sources
                   if st.get('error')]
        for n, fifo, _, _ in self.remote_sources:
            for p in (fifo, fifo + '.broken', fifo + '.claimed'):
                try:
                    os.unlink(p)
                except OSError:
                    pass
        for n, error in broken:
            r = results[n]
            if r['status'] == 'ok':
                r['status'] = STATUS['stream']
                if r['retcode'] == 0:
                    r['retcode'] = -1
            r['error'] = '; '.join(e for e in (r.get('error'),
                                               'node %s: %s' % (n, error))
                                   if e)

    def _plan_conns(self, specs):
        """Check the connections -> {'sources': {(node, device): Fanout},
        'sinks': {(node, device): Sink}} (the Fanouts hold their Sinks).
        ValueError for a bad device or one used twice in a node."""
        byname = {s['name']: s for s in specs}
        sources, sinks, seen = {}, {}, set()
        used = {n: {} for n in byname}     # node -> {device: role}
        for n, s in byname.items():
            for key, dev in (('input', '/dev/input'),
                             ('output', '/dev/output'),
                             ('script', '/dev/script')):
                if s.get(key):
                    used[n][dev] = key
        conns = [(c, None) for c in self.conns] + \
            [(c, 'out') for c in self.remote.get('out', [])] + \
            [(c, 'in') for c in self.remote.get('in', [])]
        for c, remote in conns:
            a, b = c.get('src'), c.get('dst')
            if (a not in byname and remote != 'in') or \
                    (b not in byname and remote != 'out'):
                raise ValueError('connection %r -> %r: no such node'
                                 % (a, b))
            sd = c.get('src_dev') or '/dev/out/' + b
            dd = c.get('dst_dev') or '/dev/in/' + a
            if (a, sd, b, dd) in seen:
                continue
            seen.add((a, sd, b, dd))
            for n, dev, role, streams in (
                    (a, sd, 'src', ('/dev/stdout', '/dev/stderr')),
                    (b, dd, 'dst', ('/dev/stdin',))):
                if n not in byname:     # on another server
                    continue
                if dev in DEV_STREAMS:
                    if dev not in streams:
                        raise ValueError('connection %s -> %s: %s cannot be '
                                         'its %s device' % (a, b, dev, role))
                else:
                    why = dev_path_error(dev)
                    if why:
                        raise ValueError('connection %s -> %s: device %r: %s'
                                         % (a, b, dev, why))
                if used[n].setdefault(dev, role) != role:
                    raise ValueError('node %s: %s is used twice' % (n, dev))
            if remote == 'out':
                rs = RemoteSink(c)
                self.remote_sinks.append((a, rs))
                sources.setdefault((a, sd), Fanout()).sinks.append(rs)
                continue
            if dd == '/dev/stdin' and byname[b].get('stdin'):
                raise ValueError('node %s: its stdin is an object and '
                                 'connection %s -> %s' % (b, a, b))
            sink = sinks.get((b, dd))
            if sink is None:
                sink = sinks[(b, dd)] = Sink(self.counters[b])
            sink.sources += 1
            if remote == 'in':
                self.remote_sources.append((b, c['fifo'], sink,
                                            {'src': a}))
                continue
            sources.setdefault((a, sd), Fanout()).sinks.append(sink)
        for n, devs in used.items():
            for p in devs:
                for q in devs:
                    if q.startswith(p + '/'):
                        raise ValueError('node %s: %s and %s both used'
                                         % (n, p, q))
        return {'sources': sources, 'sinks': sinks}

    def _run_node(self, spec, devbinds, results):
        name = spec['name']
        idx = self.nodes.index(spec)
        counter = self.counters[name]
        guard = self.guards[name]
        r = dict(name=name, status='ok', retcode=0, wall=0.0, sys=0.0,
                 user=0.0, error=None)
        timeout = float(spec.get('timeout') or 60)
        memory = int(spec.get('memory') or (1 << 30))
        cg = area = None
        extra = BWRAP_PROCS if self.sandbox else 0
        try:
            cg = limits.NodeCgroup(self.hierarchies, str(idx), memory=memory,
                                   pids=self.process_limit + extra)
            uid = nproc = None
            if self.own_uid:
                # the image to the node's uid before the overlay is
                # mounted over it (overlayfs caches its root's owner)
                uid = self.node_uid(idx)
                limits.chown_tree(spec['root'], uid)
            area = limits.Area(spec['root'], self.disk_limit,
                               mounts=self.mechanisms.get('disk') == 'tmpfs',
                               uid=uid)
            for key in ('script', 'input'):
                if not spec.get(key) or (key == 'input' and
                                         spec.get('input_mode') == 'pipe'):
                    continue
                size = os.path.getsize(spec[key])
                with counter.lock:
                    counter.v['dr'] += -(-size // CHUNK)
                    counter.v['dbr'] += size
            info_r = info_w = None
            pass_fds = ()
            if self.sandbox:
                sysargs, drop = self._root_layout(spec, area.zapp)
                area.drop(drop)
                info_r, info_w = os.pipe()
                pass_fds = (info_w,)
                args = self._sandbox_args(spec, devbinds, area, sysargs,
                                          info_w)
                cwd = self.workdir
                env = {'PATH': DEFAULT_PATH}
                executable = None
            else:
                args = list(spec['argv'])
                executable = spec['host_program']
                cwd = spec['root']
                env = dict(spec.get('env') or {})
                env.setdefault('PATH', DEFAULT_PATH)
            pipes = []
            stdin = subprocess.DEVNULL
            if name in self.stdin_pipes:     # a connection
                stdin = self.stdin_pipes[name]
            elif spec.get('stdin'):
                rfd, wfd = os.pipe()
                stdin = rfd
                pipes.append(('in', rfd, wfd))
            rfd, wfd = os.pipe()
            pipes.append(('out', rfd, wfd))
            erfd, ewfd = os.pipe()
            pipes.append(('err', erfd, ewfd))
            procs_files = [f.encode() for f in cg.procs_files()]
            if uid is not None:
                area.chown(uid)
                # a pipe's inode belongs to its maker (root, mode 0600):
                # the node re-opening its own stream by path
                # (/dev/stdin -> /proc/self/fd/0) needs to own it
                for fd in [p[1] for p in pipes] + (
                        [stdin] if isinstance(stdin, int) and
                        stdin >= 0 else []):
                    os.fchown(fd, uid, uid)
            if self.nproc:
                # outer bwrap + its init + the node's processes
                nproc = self.process_limit + extra
            rlimit_as = not cg.has('memory')
            # a page more than the limit: a file that reaches it is seen
            # as over the limit
            fsize = area.limit + limits.PAGE if area.mode == 'watch' \
                else None

            def setup():
                # in the child, before exec: all it runs is in the cgroups
                me = str(os.getpid()).encode()
                for f in procs_files:
                    fd = os.open(f, os.O_WRONLY)
                    try:
                        os.write(fd, me)
                    finally:
                        os.close(fd)
                if rlimit_as:
                    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                if fsize:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                if nproc is not None:
                    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
                if uid is not None:
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)
            start = time.time()
            try:
                p = subprocess.Popen(args, executable=executable, cwd=cwd,
                                     env=env, stdin=stdin, stdout=wfd,
                                     stderr=ewfd, preexec_fn=setup,
                                     close_fds=True, pass_fds=pass_fds,
                                     start_new_session=True)
            finally:
                for kind, a, b in pipes:
                    os.close(a if kind == 'in' else b)
                if info_w is not None:
                    os.close(info_w)
                self._close_stdin_pipe(name)
            budget = self.budgets[name]
            for kind, a, b in pipes:
                if kind == 'in':
                    threading.Thread(target=self._feed_fd,
                                     args=(spec['stdin'], b, counter),
                                     daemon=True).start()
                elif kind == 'out':
                    t = threading.Thread(target=self._drain_fd,
                                         args=(a, spec.get('stdout'),
                                               counter, None, budget,
                                               self._stream(name, 'stdout')),
                                         daemon=True)
                    t.start()
                    outt = t
                else:
                    t = threading.Thread(target=self._drain_fd,
                                         args=(a, spec.get('stderr'),
                                               counter, name, budget,
                                               self._stream(name, 'stderr')),
                                         daemon=True)
                    t.start()
                    errt = t

            exited = threading.Event()

            def kill():
                if not exited.is_set():   # else p.pid may be reused
                    # bwrap first: its init and PID namespace go with it
                    for f in (lambda: os.kill(p.pid, signal.SIGKILL),
                              lambda: os.killpg(p.pid, signal.SIGKILL)):
                        try:
                            f()
                        except OSError:
                            pass
                    if not self.sandbox:
                        for pid in tree_pids(p.pid, p.pid):
                            try:
                                os.kill(pid, signal.SIGKILL)
                            except OSError:
                                pass
                cg.kill(wait=1.0)
            guard.set_killer(kill)
            if area.mode == 'watch' and self.sandbox:
                area.watch_tmp(lambda: '/proc/%d/root' % ns_init(p.pid)
                               if not exited.is_set() else None)
            watch = threading.Thread(
                target=self._watch, args=(p, cg, area, guard, start, timeout,
                                          exited), daemon=True)
            watch.start()
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
            p.returncode = os.waitstatus_to_exitcode(status)
            r['wall'] = time.time() - start
            exited.set()
            watch.join()
            # stragglers (nothing should be left: bwrap's PID namespace
            # goes with its init), then bwrap's init, for its rusage
            cg.kill(wait=2.0)
            init_ru = self._reap_init(info_r)
            info_r = None
            self.done[name].set()
            self._release(name)
            outt.join()
            errt.join()
            cpu = cg.cpu()
            if cpu is not None:
                r['user'], r['sys'] = cpu
            else:
                r['user'] = ru.ru_utime + (init_ru.ru_utime if init_ru else 0)
                r['sys'] = ru.ru_stime + (init_ru.ru_stime if init_ru else 0)
            rc = p.returncode
            r['retcode'] = rc
            tail = self.tails.get(name, b'')
            # limits the node reached on its own before the watchdog saw it
            if cg.oom_kills():
                guard.note('memory')
            if cg.pids_refused() or (self.nproc and
                                     FORK_PATTERNS.search(tail)):
                guard.note('process')
            # (the host-disk fallback cannot read bwrap's /tmp and /dev/shm
            # once the node is gone: what the node said then)
            if area.full() or (area.mode == 'watch' and (
                    rc == -signal.SIGXFSZ or (rc != 0 and (
                        b'No space left on device' in tail or
                        b'File too large' in tail)))):
                guard.note('disk')
            r['disk_peak'] = area.peak
            r['mem_peak'] = cg.memory_peak()
            reason = guard.reason()
            if reason:
                r['status'] = STATUS[reason]
                r['error'] = self._limit_error(reason, name, timeout, memory)
                if rc >= 0 and reason != 'aborted' and guard.killed:
                    r['retcode'] = -9
            elif rc == 127 and SPAWN_MARK.encode() in tail:
                msg = tail[tail.rfind(SPAWN_MARK.encode()):].decode(
                    'utf-8', 'replace').strip()
                r['status'] = 'Spawn error: ' + msg.replace(
                    SPAWN_MARK + ' ', 'cannot run ').replace(',', ';')
                r['error'] = r['status']
            elif rc == 1 and tail.startswith(b'bwrap: '):
                msg = tail.decode('utf-8', 'replace').strip().splitlines()[0]
                r['status'] = 'Spawn error: ' + msg.replace(',', ';')
                r['error'] = r['status']
            elif rc != 0 and MEMORY_PATTERNS.search(tail):
                r['status'] = STATUS['memory']
                r['error'] = self._limit_error('memory', name, timeout,
                                               memory)
        except Exception as e:  # spawn failures of bwrap itself
            r['status'] = ('Spawn error: %s' % e).replace(',', ';')
            r['retcode'] = -1
            r['error'] = r['status']
            self.done[name].set()
            # its connections end here (no hang of the peers)
            self._close_stdin_pipe(name)
            for st in ('stdout', 'stderr'):
                fan = self._stream(name, st)
                if fan is not None:
                    fan.finish()
            self._release(name)
        finally:
            if area is not None:
                area.close()
            if cg is not None:
                cg.remove()
        r['stderr_tail'] = self.tails.get(name, b'').decode('utf-8',
                                                           'replace')
        r.update(counter.v)
        peak = r.get('disk_peak') or 0
        r['dbw'] += peak
        r['dw'] += -(-peak // CHUNK)
        results[name] = r

    def _stream(self, name, which):
        return self.streams.get((name, which))

    def _close_stdin_pipe(self, name):
        fd = self.stdin_pipes.pop(name, None)
        if fd is not None:
            os.close(fd)

    def _limit_error(self, reason, name, timeout, memory):
        if reason == 'timeout':
            return 'node %s ran longer than %g s' % (name, timeout)
        if reason == 'memory':
            return ('node %s used more than its memory limit (%d bytes%s)'
                    % (name, memory, ' for all its processes together'
                       if self.mechanisms.get('memory') == 'cgroup'
                       else ' in one process'))
        if reason == 'disk':
            return ('node %s wrote more than its disk limit (%d bytes in '
                    '/ + /tmp + /dev/shm)' % (name, self.disk_limit))
        if reason == 'output':
            return ('node %s wrote more than its output limit (%d bytes on '
                    'stdout + stderr + /dev/output)'
                    % (name, self.output_limit))
        if reason == 'process':
            return ('node %s tried to run more than %d processes'
                    % (name, self.process_limit))
        return 'node %s was stopped: the job was cancelled' % name

    def _watch(self, p, cg, area, guard, start, timeout, exited):
        """Poll the node's limits until it exits."""
        n = 0
        while not exited.wait(POLL):
            n += 1
            for check in (
                    lambda: time.time() - start > timeout and 'timeout',
                    lambda: cg.has('memory') and cg.oom_kills() and 'memory',
                    lambda: self._over_processes(p, cg) and 'process',
                    # the host-disk fallback walks the tree: every 0.25 s
                    lambda: area.full(walk=n % 5 == 0) and 'disk'):
                try:
                    reason = check()
                except Exception:   # never let the watchdog die
                    reason = None
                if reason:
                    guard.trip(reason)

    def _over_processes(self, p, cg):
        if cg.has('pids'):
            return cg.pids_refused() > 0
        # RLIMIT_NPROC stops the node at the limit: reaching it is the
        # sign (a refused fork leaves no other trace); a mere count must
        # see it go past
        return count_procs(p.pid, self.sandbox) >= \
            self.process_limit + (0 if self.nproc else 1)

    @staticmethod
    def _reap_init(info_r):
        """bwrap's init in the node's PID namespace is not waited for by
        the outer bwrap; as a child subreaper we get it: reap it (its
        rusage has the CPU time of everything it reaped)."""
        if info_r is None:
            return None
        try:
            os.set_blocking(info_r, False)
            data = os.read(info_r, 4096)
        except OSError:
            data = b''
        finally:
            os.close(info_r)
        m = re.search(br'"child-pid"\s*:\s*(\d+)', data)
        if not m:
            return None
        pid = int(m.group(1))
        deadline = time.time() + 5
        while True:
            try:
                got, _, ru = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                return None
            except InterruptedError:
                continue
            if got:
                return ru
            if time.time() > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                deadline = time.time() + 5
            time.sleep(0.01)


def traversable(path):
    """Whether any user may reach what is below path (o+x all the way
    down)."""
    path = os.path.abspath(path)
    while True:
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        if path == '/':
            return True
        path = os.path.dirname(path)


def ns_init(pid):
    """The host pid of bwrap's init (PID 1 of the node's namespace): the
    outer bwrap's child. OSError if there is none (yet, or any more)."""
    with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
        kids = f.read().split()
    if not kids:
        raise OSError('bwrap %d has no child' % pid)
    return int(kids[0])


def count_procs(pid, sandbox):
    """The node's processes, without a pids cgroup. In the sandbox: what
    the node's own /proc (its PID namespace) lists, less bwrap's init;
    a listing is cheap enough to keep up with a fork bomb, unlike reading
    every /proc/N/stat of the host."""
    if sandbox:
        try:
            init = ns_init(pid)
            nsproc = '/proc/%d/root/proc' % init
            # until bwrap has mounted the node's /proc (and pivoted), this
            # is the host's: nothing of the node to count yet
            if os.stat(nsproc).st_dev == os.stat('/proc').st_dev:
                return 0
            n = sum(1 for x in os.listdir(nsproc) if x.isdigit())
            return max(0, n - 1)
        except (OSError, ValueError, IndexError):
            pass
    return len(tree_pids(pid, pid)) + (0 if sandbox else 1) - \
        (BWRAP_PROCS - 1 if sandbox else 0)


def tree_pids(root, sid=None):
    """Pids of root's descendants (not root) and of the processes in
    session sid, from /proc."""
    parent = {}
    sess = set()
    try:
        names = os.listdir('/proc')
    except OSError:
        return set()
    for n in names:
        if not n.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % n, 'rb') as f:
                st = f.read()
        except OSError:
            continue
        f = st[st.rfind(b')') + 2:].split()
        try:
            pid = int(n)
            parent[pid] = int(f[1])
            if sid is not None and int(f[3]) == sid:
                sess.add(pid)
        except (IndexError, ValueError):
            continue
    out = set()
    for pid in parent:
        q, seen = pid, 0
        while q in parent and seen < 4096:
            q = parent[q]
            seen += 1
            if q == root:
                out.add(pid)
                break
            if q <= 1:
                break
    out |= sess
    out.discard(root)
    return out


class Guard(object):
    """Why a node was stopped: the first limit it hit wins."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reasons = []
        self.kill_fn = None
        self.killed = False

    def set_killer(self, fn):
        with self.lock:
            self.kill_fn = fn
            pending = bool(self.reasons)
        if pending:
            self.killed = True
            fn()

    def note(self, reason):
        """A limit the node reached, without being killed for it."""
        with self.lock:
            if reason not in self.reasons:
                self.reasons.append(reason)

    def trip(self, reason):
        with self.lock:
            first = not self.reasons
            if reason not in self.reasons:
                self.reasons.append(reason)
            fn = self.kill_fn
        if first and fn:
            self.killed = True
            fn()

    def reason(self):
        with self.lock:
            return self.reasons[0] if self.reasons else None


class Budget(object):
    """Bytes of output a node may still write; past it, on_exceed()."""

    def __init__(self, limit, on_exceed):
        self.lock = threading.Lock()
        self.left = limit
        self.on_exceed = on_exceed
        self.exceeded = False

    def take(self, n):
        """-> how many of n bytes may be kept."""
        with self.lock:
            k = max(0, min(n, self.left))
            self.left -= n
            trip = self.left < 0 and not self.exceeded
            if trip:
                self.exceeded = True
        if trip:
            self.on_exceed()
        return k


class _Relabel(object):
    """A counter whose add() ignores the kind it is given."""
    def __init__(self, counter, kind):
        self.counter = counter
        self.kind = kind

    def add(self, kind, n):
        self.counter.add(self.kind, n)


def run_job(nodes, conns, workdir, **kw):
    """-> (total seconds, [result dict per node, in node order])."""
    return Runner(nodes, conns, workdir, **kw).run()


def main(argv):
    parent = os.getppid()
    with open(argv[1]) as f:
        spec = json.load(f)
    runner = Runner(spec['nodes'], spec['conns'], spec['workdir'],
                    remote=spec.get('remote'), **spec.get('options', {}))
    # SIGTERM (the middleware cancelling the job, e.g. its client went
    # away, or the proxy dying: PR_SET_PDEATHSIG) stops every node; the
    # results are still written
    signal.signal(signal.SIGTERM, lambda *a: runner.abort())
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    total, results = runner.run()
    if os.getppid() != parent:
        # the middleware (the proxy) died: nobody reads the results, and
        # nobody else would remove the job's directory
        import shutil
        shutil.rmtree(spec['workdir'], ignore_errors=True)
        return 0
    results = [dict(r, mechanisms=runner.mechanisms) for r in results]
    tmp = argv[2] + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'total': total, 'results': results}, f)
    os.rename(tmp, argv[2])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
