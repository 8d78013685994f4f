"""Run the nodes of a job as sandboxed host processes and measure them.

Plain threads and blocking I/O, no eventlet: the middleware runs this
module as a separate process (`python3 -m zerocloud_dev.runner SPEC OUT`),
the unit tests call run_job() directly.

Node spec (a dict, JSON-serialisable):
  name        node name
  program     path of the program as seen inside the sandbox
  argv        [argv0, args...]
  env         environment (PATH is added if missing)
  root        host directory bound read-write at /zapp (cwd)
  binds       [[host path, sandbox path], ...] bound read-only
  symlinks    [[target, sandbox path], ...]
  stdin, input            host files fed to the node (or None)
  stdout, stderr, output  host files the node's data is written to
                          (None: stdout/stderr discarded, output absent)
  timeout     seconds; memory: bytes (RLIMIT_AS)
Connections: [{"src": node name, "dst": node name}]: src writes
/dev/out/<dst>, dst reads /dev/in/<src>; the bytes go through this process
(so they are counted).

Accounting per node:
  dr/dbr  chunks (one read() of ours, up to 64 KiB) and bytes fed to the
          node from its stdin and input files
  dw/dbw  chunks and bytes received from its stdout, stderr and output
  nr/nbr  chunks and bytes delivered to the node on /dev/in/*
  nw/nbw  chunks and bytes received from the node on /dev/out/*
  sys/user  CPU seconds of the sandbox's process tree (os.wait4)
  wall    seconds from spawn to exit
"""
import errno
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

CHUNK = 1 << 16
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
SYSTEM_DIRS = ('/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64',
               '/libx32', '/etc')
HIDE_FILES = ('/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-',
              '/etc/sudoers', '/etc/ssl/private')
HIDE_DIRS = ('/etc/swift', '/etc/keystone', '/etc/ssh', '/etc/ssl/private',
             '/etc/sudoers.d', '/etc/credstore', '/etc/credstore.encrypted')
DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'


def have_bwrap(path=BWRAP):
    return os.access(path, os.X_OK)


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


class Runner(object):
    def __init__(self, nodes, conns, workdir, sandbox=True, bwrap=BWRAP,
                 tmp_size=256 << 20, uid=65534):
        self.nodes = nodes
        self.conns = conns
        self.workdir = workdir
        self.sandbox = sandbox
        self.bwrap = bwrap
        self.tmp_size = tmp_size
        self.uid = uid
        self.done = {}        # name -> threading.Event (process exited)
        self.counters = {}
        self.threads = []
        self.pokes = {}       # node name -> [(thread, fifo, flags, event)]
        self.tails = {}

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

    def _drain_fd(self, fd, dest, counter, tailkey):
        out = open(dest, 'ab') if dest else None
        tail = b''
        try:
            while True:
                b = os.read(fd, CHUNK)
                if not b:
                    break
                counter.add(('dw', 'dbw'), len(b))
                if out:
                    out.write(b)
                if tailkey:
                    tail = (tail + b)[-4096:]
        except OSError:
            pass
        finally:
            os.close(fd)
            if out:
                out.close()
            if tailkey:
                self.tails[tailkey] = tail

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
        try:
            while True:
                try:
                    fd = os.open(fifo, os.O_RDONLY)
                except OSError:
                    return
                try:
                    while True:
                        b = os.read(fd, CHUNK)
                        if not b:
                            break
                        counter.add(kind, len(b))
                        if out:
                            out.write(b)
                finally:
                    os.close(fd)
                if self.done[node].is_set():
                    return
        finally:
            if out:
                out.close()

    def _proxy(self, src_fifo, src_node, dst_fifo, dst_node, released):
        """src writes /dev/out/<dst> -> us -> dst reads /dev/in/<src>."""
        csrc = self.counters[src_node]
        cdst = self.counters[dst_node]
        state = {'fd': None, 'dead': False}

        def deliver(b):
            if state['dead']:
                return
            try:
                if state['fd'] is None:
                    state['fd'] = os.open(dst_fifo, os.O_WRONLY)
                view = memoryview(b)
                while view:
                    n = os.write(state['fd'], view)
                    view = view[n:]
                cdst.add(('nr', 'nbr'), len(b))
            except OSError:
                state['dead'] = True
        try:
            while True:
                try:
                    fd = os.open(src_fifo, os.O_RDONLY)
                except OSError:
                    break
                try:
                    while True:
                        b = os.read(fd, CHUNK)
                        if not b:
                            break
                        csrc.add(('nw', 'nbw'), len(b))
                        deliver(b)
                finally:
                    os.close(fd)
                if self.done[src_node].is_set():
                    break
            released.set()
            if state['fd'] is None and not state['dead']:
                # give the reader its EOF even if nothing was written
                try:
                    state['fd'] = os.open(dst_fifo, os.O_WRONLY)
                except OSError:
                    pass
        finally:
            if state['fd'] is not None:
                os.close(state['fd'])

    # ---- processes ---------------------------------------------------------
    def _sandbox_args(self, spec, devbinds):
        a = [self.bwrap, '--unshare-all', '--unshare-user',
             '--uid', str(self.uid), '--gid', str(self.uid),
             '--die-with-parent', '--new-session', '--clearenv']
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                a += ['--symlink', os.readlink(d), d]
            elif os.path.isdir(d):
                a += ['--ro-bind', d, d]
        for d in HIDE_DIRS:
            if os.path.isdir(d) and not os.path.islink(d):
                a += ['--tmpfs', d, '--remount-ro', d]
        for f in HIDE_FILES:
            if os.path.isfile(f) and not os.path.islink(f):
                a += ['--ro-bind', '/dev/null', f]
        a += ['--size', str(self.tmp_size), '--tmpfs', '/tmp',
              '--dev', '/dev', '--proc', '/proc',
              '--bind', spec['root'], '/zapp', '--chdir', '/zapp']
        for src, dst in spec.get('binds', []):
            a += ['--ro-bind', src, dst]
        for tgt, dst in spec.get('symlinks', []):
            a += ['--symlink', tgt, dst]
        for src, dst in devbinds:
            a += ['--bind', src, dst]
        env = dict(spec.get('env') or {})
        env.setdefault('PATH', DEFAULT_PATH)
        for k, v in env.items():
            a += ['--setenv', k, v]
        a += ['--', PERL, '-e', LAUNCHER, spec['program']] + spec['argv']
        return a

    def run(self):
        os.makedirs(self.workdir, exist_ok=True)
        specs = self.nodes
        fifodir = tempfile.mkdtemp(prefix='fifo', dir=self.workdir)
        os.chmod(fifodir, 0o755)
        fifos = []
        devbinds = {s['name']: [] for s in specs}
        for s in specs:
            self.done[s['name']] = threading.Event()
            self.counters[s['name']] = Counter()
        if not self.sandbox:
            for s in specs:
                if s.get('input') or s.get('output'):
                    raise ValueError('node %s: input/output devices need the '
                                     'sandbox' % s['name'])
            if self.conns:
                raise ValueError('connected nodes need the sandbox')

        def mkfifo():
            p = os.path.join(fifodir, 'f%d' % len(fifos))
            os.mkfifo(p, 0o666)
            fifos.append(p)
            return p
        post = []   # thread starters that need FIFOs
        for c in self.conns:
            a, b = c['src'], c['dst']
            fo = mkfifo()
            fi = mkfifo()
            devbinds[a].append((fo, '/dev/out/' + b))
            devbinds[b].append((fi, '/dev/in/' + a))
            ev = threading.Event()
            post.append((self._proxy, (fo, a, fi, b, ev),
                         [(a, fo, os.O_WRONLY, ev),
                          (b, fi, os.O_RDONLY, None)]))
        for s in specs:
            n = s['name']
            if s.get('input'):
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
            w.join()
        for s in specs:
            self._release(s['name'])
        for t in self.threads:
            t.join()
        total = time.time() - t0
        return total, [results[s['name']] for s in specs]

    def _run_node(self, spec, devbinds, results):
        name = spec['name']
        counter = self.counters[name]
        r = dict(name=name, status='ok', retcode=0, wall=0.0, sys=0.0,
                 user=0.0, error=None)
        timeout = float(spec.get('timeout') or 60)
        memory = int(spec.get('memory') or (1 << 30))
        try:
            if self.sandbox:
                args = self._sandbox_args(spec, devbinds)
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
            if spec.get('stdin'):
                rfd, wfd = os.pipe()
                stdin = rfd
                pipes.append(('in', rfd, wfd))
            rfd, wfd = os.pipe()
            pipes.append(('out', rfd, wfd))
            erfd, ewfd = os.pipe()
            pipes.append(('err', erfd, ewfd))

            def limits():
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            start = time.time()
            try:
                p = subprocess.Popen(args, executable=executable, cwd=cwd,
                                     env=env, stdin=stdin, stdout=wfd,
                                     stderr=ewfd, preexec_fn=limits,
                                     close_fds=True, start_new_session=True)
            finally:
                for kind, a, b in pipes:
                    os.close(a if kind == 'in' else b)
            for kind, a, b in pipes:
                if kind == 'in':
                    threading.Thread(target=self._feed_fd,
                                     args=(spec['stdin'], b, counter),
                                     daemon=True).start()
                elif kind == 'out':
                    t = threading.Thread(target=self._drain_fd,
                                         args=(a, spec.get('stdout'),
                                               counter, None), daemon=True)
                    t.start()
                    outt = t
                else:
                    t = threading.Thread(target=self._drain_fd,
                                         args=(a, spec.get('stderr'),
                                               counter, name), daemon=True)
                    t.start()
                    errt = t
            killed = []

            def kill():
                killed.append(True)
                for f in (lambda: os.killpg(p.pid, signal.SIGKILL),
                          lambda: os.kill(p.pid, signal.SIGKILL)):
                    try:
                        f()
                    except OSError:
                        pass
            timer = threading.Timer(timeout, kill)
            timer.daemon = True
            timer.start()
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
            timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
            r['wall'] = time.time() - start
            r['sys'] = ru.ru_stime
            r['user'] = ru.ru_utime
            self.done[name].set()
            self._release(name)
            outt.join()
            errt.join()
            rc = p.returncode
            r['retcode'] = rc
            tail = self.tails.get(name, b'')
            if killed:
                r['status'] = 'Killed by timeout'
                r['error'] = 'node %s ran longer than %g s' % (name, timeout)
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
                r['status'] = 'Killed by memory limit'
                r['error'] = 'node %s exceeded its memory limit (%d bytes)' \
                    % (name, memory)
        except Exception as e:  # spawn failures of bwrap itself
            r['status'] = ('Spawn error: %s' % e).replace(',', ';')
            r['retcode'] = -1
            r['error'] = r['status']
            self.done[name].set()
        r.update(counter.v)
        results[name] = r


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
    with open(argv[1]) as f:
        spec = json.load(f)
    # die with the proxy that started us
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    total, results = run_job(spec['nodes'], spec['conns'], spec['workdir'],
                             **spec.get('options', {}))
    tmp = argv[2] + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'total': total, 'results': results}, f)
    os.rename(tmp, argv[2])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
