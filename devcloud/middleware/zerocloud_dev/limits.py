"""What holds a node in: cgroups (memory, processes, CPU time of the whole
process tree) and a size-limited writable area.

cgroups: the runner creates one cgroup per node below its own cgroup, in
every hierarchy that has a controller it needs (cgroup v1: `memory`,
`pids`, `cpuacct`; cgroup v2: `memory`, `pids`, and `cpu.stat`, which every
v2 cgroup has), named `zerocloud-dev-<runner pid>-<n>`. A v1 hierarchy
wins over v2 for a controller (on a hybrid machine the v2 tree usually has
none enabled). Whatever cannot be created is simply not used and the
runner falls back (see runner.py): RLIMIT_AS per process for memory, a
/proc scan for processes, wait4's rusage for CPU.

The writable area: in a private mount namespace of the runner (root
only), a tmpfs of `disk_limit` bytes (plus one page) holds an overlayfs
upper layer over the unpacked image, mounted at <root>.area/zapp and
bound by bwrap at / (the node's root filesystem) and at /zapp, and the
node's /tmp and /dev/shm. Writes beyond the limit fail with ENOSPC; the
runner sees the tmpfs full and stops the node. The mounts vanish with the
runner's mount namespace, whatever happens to it. Without mounts: the
root is the unpacked image on the host's disk, watched by summing its
file sizes, with RLIMIT_FSIZE = disk_limit; /tmp and /dev/shm are bwrap's
`--size` tmpfs.
"""
import ctypes
import errno
import os
import signal
import time

PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096
PREFIX = 'zerocloud-dev-'
CONTROLLERS = ('memory', 'pids', 'cpu')   # what a node cgroup is for

CLONE_NEWNS = 0x00020000
MS_NOSUID = 2
MS_NODEV = 4
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _b(s):
    return s.encode() if isinstance(s, str) else s


def mount(src, target, fstype, flags=0, data=None):
    r = libc().mount(_b(src), _b(target), _b(fstype), ctypes.c_ulong(flags),
                     _b(data))
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), target)


def umount(target):
    if libc().umount2(_b(target), MNT_DETACH) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), target)


def set_subreaper():
    """Orphans of our children (bwrap's init inside the PID namespace,
    left behind when the outer bwrap exits) come to us: wait4 then
    gives their CPU time."""
    try:
        return libc().prctl(36, 1, 0, 0, 0) == 0   # PR_SET_CHILD_SUBREAPER
    except Exception:
        return False


_private_ns = None


def private_mount_namespace():
    """Move this process into its own mount namespace, mounts private, so
    that what the runner mounts is seen by its children only and vanishes
    with it. Must be called before any thread starts. True if done."""
    global _private_ns
    if _private_ns is not None:
        return _private_ns
    _private_ns = False
    if os.geteuid() != 0:
        return False
    try:
        if libc().unshare(CLONE_NEWNS) != 0:
            return False
        mount(None, '/', None, MS_REC | MS_PRIVATE)
        _private_ns = True
    except Exception:
        _private_ns = False
    return _private_ns


# ---- cgroups -------------------------------------------------------------
class Hierarchy(object):
    def __init__(self, version, mountpoint, own, controllers):
        self.version = version          # 1 or 2
        self.mountpoint = mountpoint
        self.own = own                  # host path of our own cgroup in it
        self.controllers = controllers  # set of names usable in children

    def __repr__(self):
        return 'Hierarchy(v%d %s %s)' % (self.version, self.own,
                                         sorted(self.controllers))


def _unescape_mount(path):
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = '', 0
    while i < len(path):
        if path[i] == '\\' and path[i + 1:i + 4].isdigit() and \
                len(path[i + 1:i + 4]) == 3:
            out += chr(int(path[i + 1:i + 4], 8))
            i += 4
        else:
            out += path[i]
            i += 1
    return out


def _read(path):
    with open(path) as f:
        return f.read()


def discover(proc_cgroup='/proc/self/cgroup',
             mountinfo='/proc/self/mountinfo'):
    """The cgroup hierarchies this process is in, with the controllers a
    child of its cgroup can use. [] when there is nothing usable."""
    try:
        mine = {}
        for line in _read(proc_cgroup).splitlines():
            hid, ctrls, path = line.split(':', 2)
            mine[ctrls] = path
        mounts = []
        for line in _read(mountinfo).splitlines():
            left, _, right = line.partition(' - ')
            f = left.split()
            r = right.split()
            if len(f) < 5 or len(r) < 3 or r[0] not in ('cgroup',
                                                          'cgroup2'):
                continue
            mounts.append((r[0], _unescape_mount(f[3]),
                           _unescape_mount(f[4]), r[2].split(',')))
    except (OSError, ValueError):
        return []
    out = []
    for fstype, mroot, mpoint, opts in mounts:
        if fstype == 'cgroup2':
            path = mine.get('')
            ctrls = None
        else:
            ctrls = [o for o in opts if o in ('memory', 'pids', 'cpuacct')]
            if not ctrls:
                continue
            path = None
            for k, v in mine.items():
                if k and set(ctrls) <= set(k.split(',')):
                    path = v
        if path is None:
            continue
        if mroot != '/' and not (path == mroot or
                                 path.startswith(mroot.rstrip('/') + '/')):
            continue      # our cgroup is not under this mount
        rel = path[len(mroot):] if mroot != '/' else path
        own = os.path.join(mpoint, rel.lstrip('/'))
        if not os.path.isdir(own):
            continue
        if fstype == 'cgroup2':
            try:
                avail = set(_read(os.path.join(own, 'cgroup.subtree_control'))
                            .split())
            except OSError:
                continue
            want = {'memory', 'pids'} - avail
            if want:
                try:
                    have = set(_read(os.path.join(
                        own, 'cgroup.controllers')).split())
                    add = ' '.join('+' + c for c in sorted(want & have))
                    if add:
                        with open(os.path.join(own, 'cgroup.subtree_control'),
                                  'w') as f:
                            f.write(add)
                        avail = set(_read(os.path.join(
                            own, 'cgroup.subtree_control')).split())
                except OSError:
                    pass
            c = {x for x in avail if x in ('memory', 'pids')}
            c.add('cpu')            # cpu.stat exists in every v2 cgroup
            out.append(Hierarchy(2, mpoint, own, c))
        else:
            c = {'cpu' if x == 'cpuacct' else x for x in ctrls}
            out.append(Hierarchy(1, mpoint, own, c))
    return out


def sweep(hierarchies):
    """Remove node cgroups that runners which are gone left behind."""
    for h in hierarchies:
        try:
            names = os.listdir(h.own)
        except OSError:
            continue
        for n in names:
            if not n.startswith(PREFIX):
                continue
            try:
                pid = int(n[len(PREFIX):].split('-')[0])
            except ValueError:
                continue
            if pid == os.getpid() or _alive(pid):
                continue
            d = os.path.join(h.own, n)
            _kill_dir(d, h.version)
            _rmdir(d)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except OSError:
        return True


def _procs(d):
    try:
        return [int(x) for x in _read(os.path.join(d, 'cgroup.procs')).split()]
    except (OSError, ValueError):
        return []


def _kill_dir(d, version, wait=5.0):
    """SIGKILL everything in cgroup d until it is empty (or `wait` s)."""
    if version == 2 and os.path.exists(os.path.join(d, 'cgroup.kill')):
        try:
            with open(os.path.join(d, 'cgroup.kill'), 'w') as f:
                f.write('1')
        except OSError:
            pass
    deadline = time.time() + wait
    while True:
        pids = _procs(d)
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.time() > deadline:
            return False
        time.sleep(0.01)


def _rmdir(d, wait=2.0):
    deadline = time.time() + wait
    while True:
        try:
            os.rmdir(d)
            return True
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY or time.time() > deadline:
                return False
            time.sleep(0.02)


def _kv(path):
    out = {}
    try:
        for line in _read(path).splitlines():
            p = line.split()
            if len(p) == 2:
                try:
                    out[p[0]] = int(p[1])
                except ValueError:
                    pass
    except OSError:
        pass
    return out


class NodeCgroup(object):
    """One node's cgroups. `dirs` is what was created: {controller: (dir,
    version)}; a controller missing from it is not enforced by cgroups."""

    def __init__(self, hierarchies, tag, memory=None, pids=None):
        self.dirs = {}
        self.made = []          # (dir, version)
        self.errors = []
        name = '%s%d-%s' % (PREFIX, os.getpid(), tag)
        for ctl in CONTROLLERS:
            for h in hierarchies:
                if ctl not in h.controllers:
                    continue
                d = os.path.join(h.own, name)
                if (d, h.version) not in self.made:
                    try:
                        os.mkdir(d)
                    except FileExistsError:
                        pass
                    except OSError as e:
                        self.errors.append('%s: %s' % (d, e))
                        continue
                    self.made.append((d, h.version))
                self.dirs[ctl] = (d, h.version)
                break
        if memory and 'memory' in self.dirs:
            d, v = self.dirs['memory']
            try:
                if v == 1:
                    self._write(d, 'memory.limit_in_bytes', memory)
                    try:   # no swapping either, where swap is accounted
                        self._write(d, 'memory.memsw.limit_in_bytes', memory)
                    except OSError:
                        pass
                else:
                    self._write(d, 'memory.max', memory)
                    try:
                        self._write(d, 'memory.swap.max', 0)
                    except OSError:
                        pass
            except OSError as e:
                self.errors.append('memory: %s' % e)
                del self.dirs['memory']
        if pids and 'pids' in self.dirs:
            d, v = self.dirs['pids']
            try:
                self._write(d, 'pids.max', pids)
            except OSError as e:
                self.errors.append('pids: %s' % e)
                del self.dirs['pids']

    @staticmethod
    def _write(d, f, value):
        with open(os.path.join(d, f), 'w') as fh:
            fh.write(str(value))

    def has(self, ctl):
        return ctl in self.dirs

    def procs_files(self):
        """Files the child writes its pid to before it execs."""
        return [os.path.join(d, 'cgroup.procs') for d, _ in self.made]

    def procs(self):
        out = set()
        for d, _ in self.made:
            out.update(_procs(d))
        return out

    def kill(self, wait=5.0):
        for d, v in self.made:
            _kill_dir(d, v, wait)

    def oom_kills(self):
        if 'memory' not in self.dirs:
            return 0
        d, v = self.dirs['memory']
        kv = _kv(os.path.join(d, 'memory.oom_control' if v == 1
                              else 'memory.events'))
        return kv.get('oom_kill', 0)

    def pids_refused(self):
        """Forks refused because of pids.max."""
        if 'pids' not in self.dirs:
            return 0
        d, _ = self.dirs['pids']
        return _kv(os.path.join(d, 'pids.events')).get('max', 0)

    def memory_peak(self):
        if 'memory' not in self.dirs:
            return None
        d, v = self.dirs['memory']
        try:
            return int(_read(os.path.join(d, 'memory.max_usage_in_bytes'
                                          if v == 1 else 'memory.peak')))
        except (OSError, ValueError):
            return None

    def cpu(self):
        """(user, sys) seconds of everything that ran in the cgroup, or
        None."""
        if 'cpu' not in self.dirs:
            return None
        d, v = self.dirs['cpu']
        try:
            if v == 1:
                u = int(_read(os.path.join(d, 'cpuacct.usage_user')))
                s = int(_read(os.path.join(d, 'cpuacct.usage_sys')))
                return u / 1e9, s / 1e9
            kv = _kv(os.path.join(d, 'cpu.stat'))
            return kv['user_usec'] / 1e6, kv['system_usec'] / 1e6
        except (OSError, ValueError, KeyError):
            return None

    def remove(self):
        for d, v in self.made:
            _kill_dir(d, v, 2.0)
            _rmdir(d)
        self.made = []
        self.dirs = {}


# ---- the writable area ---------------------------------------------------
def tree_bytes(root):
    """Bytes in the regular files under root (hard links once)."""
    total = 0
    seen = set()
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512 if st.st_blocks else \
                        st.st_size
    return total


def chown_tree(root, uid):
    """Give a node's unpacked image to the uid it runs as."""
    for d, dirs, files in os.walk(root):
        for n in [d] + [os.path.join(d, x) for x in dirs + files]:
            try:
                os.lchown(n, uid, uid)
            except OSError:
                pass


def _opt_path_ok(p):
    return not any(c in p for c in ',:\\\n')


class Area(object):
    """A node's writable area: `zapp` (the root as this process sees it)
    is bound at / and at /zapp, `tmp` and `shm` (or None: bwrap's own
    tmpfs) at /tmp and /dev/shm. `mode` is 'tmpfs' or 'watch'."""

    def __init__(self, root, limit, mounts=True, uid=None):
        self.root = root
        self.uid = uid
        self.limit = -(-int(limit) // PAGE) * PAGE
        self.base = None
        self.mounted = []
        self.peak = 0
        self.mode = 'watch'
        self.zapp = root
        self.tmp = self.shm = None
        self.error = None
        if mounts and _private_ns and _opt_path_ok(root):
            try:
                self._mount()
                self.mode = 'tmpfs'
            except OSError as e:
                self.error = str(e)
                self.close()
                self.zapp, self.tmp, self.shm = root, None, None
        if self.mode == 'watch':
            self.baseline = tree_bytes(root)

    def _mount(self):
        self.base = self.root + '.area'
        fs = os.path.join(self.base, 'fs')
        zapp = os.path.join(self.base, 'zapp')
        os.makedirs(fs, 0o755)
        os.mkdir(zapp, 0o755)
        inodes = max(1024, self.limit // PAGE)
        mount('tmpfs', fs, 'tmpfs', MS_NOSUID | MS_NODEV,
              'size=%d,nr_inodes=%d,mode=0755' % (self.limit + PAGE, inodes))
        self.mounted.append(fs)
        for d, mode in (('upper', 0o755), ('work', 0o700), ('tmp', 0o1777),
                        ('shm', 0o1777)):
            os.mkdir(os.path.join(fs, d))
            os.chmod(os.path.join(fs, d), mode)
        st = os.stat(self.root)
        os.chmod(os.path.join(fs, 'upper'), st.st_mode & 0o7777)
        if self.uid is not None:
            # before the overlay is mounted: overlayfs does not see
            # later changes of its upper root's owner
            self.chown(self.uid, fs)
        mount('overlay', zapp, 'overlay', MS_NOSUID | MS_NODEV,
              'lowerdir=%s,upperdir=%s,workdir=%s' % (
                  self.root, os.path.join(fs, 'upper'),
                  os.path.join(fs, 'work')))
        self.mounted.append(zapp)
        self.fs = fs
        self.zapp = zapp
        self.tmp = os.path.join(fs, 'tmp')
        self.shm = os.path.join(fs, 'shm')
        self.baseline = self._used()[0]

    def drop(self, names):
        """Remove these top-level entries of the root (files or links
        where the sandbox mounts a directory), then count the usage from
        here: what was removed is not room for the node to write."""
        for n in names:
            if not n or '/' in n or n in ('.', '..'):
                continue
            try:
                os.unlink(os.path.join(self.zapp, n))
            except OSError:
                pass
        if names:
            self.baseline = self._used()[0] if self.mode == 'tmpfs' \
                else tree_bytes(self.root)

    def _used(self):
        st = os.statvfs(self.fs)
        return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_ffree

    def chown(self, uid, fs=None):
        """The writable parts of a tmpfs area to uid (the image: see
        chown_tree)."""
        if fs is not None or self.mode == 'tmpfs':
            for d in ('upper', 'tmp', 'shm'):
                os.chown(os.path.join(fs or self.fs, d), uid, uid)

    def watch_tmp(self, path_fn):
        """Watch mode: path_fn() gives the node's root as the host sees it
        (/proc/<its init>/root) while the node runs, to read the usage of
        bwrap's tmpfs at /tmp and /dev/shm."""
        self.tmp_path_fn = path_fn
        self.tmp_used = 0

    def _tmp_used(self):
        fn = getattr(self, 'tmp_path_fn', None)
        if fn is None:
            return 0
        try:
            root = fn()
            if root:
                used = 0
                for d in ('/tmp', '/dev/shm'):
                    st = os.statvfs(root + d)
                    # until bwrap has set the node's root up, this path is
                    # the host's /tmp: only a tmpfs of the node's size counts
                    if st.f_blocks * st.f_frsize > self.limit + 2 * PAGE:
                        return self.tmp_used
                    used += (st.f_blocks - st.f_bfree) * st.f_frsize
                self.tmp_used = used
        except (OSError, ValueError, IndexError):
            pass
        return self.tmp_used

    def usage(self, walk=True):
        """Bytes written into the area so far (now); also tracks the
        peak. walk=False: in watch mode, the last walk of the tree."""
        if self.mode == 'tmpfs':
            try:
                used = self._used()[0] - self.baseline
            except OSError:
                return self.peak
        else:
            if walk or not hasattr(self, 'tree_used'):
                self.tree_used = tree_bytes(self.root) - self.baseline
            used = self.tree_used + self._tmp_used()
        used = max(0, used)
        self.peak = max(self.peak, used)
        return used

    def full(self, walk=True):
        """The node wrote (or tried to write) more than the limit."""
        used = self.usage(walk)
        if used > self.limit:
            return True
        if self.mode == 'tmpfs':
            try:
                st = os.statvfs(self.fs)
                return st.f_bfree == 0 or st.f_ffree == 0
            except OSError:
                return False
        return False

    def close(self):
        for m in reversed(self.mounted):
            try:
                umount(m)
            except OSError:
                pass
        self.mounted = []
        if self.base:
            for d in (os.path.join(self.base, 'zapp'),
                      os.path.join(self.base, 'fs'), self.base):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
