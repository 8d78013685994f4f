"""Checking and unpacking zapp images (tar, possibly gzip-compressed).

Refused (TarError, HTTP 400): absolute member names, `..` components,
symlinks whose target is absolute or leaves the image, hard links to
names outside the image, device files and FIFOs, and members whose
parent path runs through a symlink (so nothing is ever written through
a link).
"""
import os
import posixpath
import shutil
import stat
import tarfile


class TarError(Exception):
    status = 400


def _norm(name):
    n = name
    while n.startswith('./'):
        n = n[2:]
    return n.rstrip('/')


def check_member(m):
    """Raise TarError if member m (TarInfo) is unsafe; return its clean
    relative name ('' for the root itself)."""
    name = m.name
    if name.startswith('/') or (len(name) > 1 and name[1] == ':'):
        raise TarError('unsafe image: absolute member name %r' % name)
    if '\\' in name or '\0' in name:
        raise TarError('unsafe image: bad member name %r' % name)
    parts = [p for p in name.split('/') if p not in ('', '.')]
    if '..' in parts:
        raise TarError('unsafe image: member %r contains ..' % name)
    clean = '/'.join(parts)
    if m.ischr() or m.isblk():
        raise TarError('unsafe image: device file %r' % name)
    if m.isfifo():
        raise TarError('unsafe image: FIFO %r' % name)
    if m.issym():
        t = m.linkname
        if not t or t.startswith('/'):
            raise TarError('unsafe image: symlink %r points outside the '
                           'image (%r)' % (name, t))
        target = posixpath.normpath(
            posixpath.join(posixpath.dirname(clean), t))
        if target == '..' or target.startswith('../'):
            raise TarError('unsafe image: symlink %r points outside the '
                           'image (%r)' % (name, t))
    elif m.islnk():
        t = m.linkname
        tparts = [p for p in t.split('/') if p not in ('', '.')]
        if not t or t.startswith('/') or '..' in tparts:
            raise TarError('unsafe image: hard link %r points outside the '
                           'image (%r)' % (name, t))
    elif not (m.isfile() or m.isdir()):
        raise TarError('unsafe image: member %r has an unsupported type'
                       % name)
    return clean


def open_image(path):
    try:
        return tarfile.open(path, 'r:*')
    except (tarfile.TarError, OSError, EOFError) as e:
        raise TarError('image is not a (gzip) tar: %s' % e)


def read_member(path, wanted, limit=16 << 20):
    """Bytes of member `wanted` (e.g. boot/system.map) or None."""
    with open_image(path) as tf:
        try:
            for m in tf:
                if _norm(m.name) == wanted and m.isfile():
                    if m.size > limit:
                        raise TarError('%s is too large' % wanted)
                    return tf.extractfile(m).read()
        except (tarfile.TarError, EOFError, OSError) as e:
            raise TarError('broken image: %s' % e)
    return None


def _parent_has_link(root, clean):
    cur = root
    for p in clean.split('/')[:-1]:
        cur = os.path.join(cur, p)
        if os.path.islink(cur):
            return True
        if os.path.exists(cur) and not os.path.isdir(cur):
            return True
    return False


def check_image(path, max_members=100000):
    """Check every member without unpacking."""
    n = 0
    with open_image(path) as tf:
        try:
            for m in tf:
                check_member(m)
                n += 1
                if n > max_members:
                    raise TarError('image has too many members')
        except (tarfile.TarError, EOFError, OSError) as e:
            raise TarError('broken image: %s' % e)
    return n


def extract_image(path, root, max_bytes=None, tick=None):
    """Unpack the image at `path` into directory `root` safely; tick(), if
    given, is called every 64 members (a server lets its other requests
    run: an image of 20,000 files takes seconds)."""
    os.makedirs(root, exist_ok=True)
    total = 0
    with open_image(path) as tf:
        try:
            for k, m in enumerate(tf):
                if tick is not None and k % 64 == 63:
                    tick()
                clean = check_member(m)
                if not clean:
                    continue
                if _parent_has_link(root, clean):
                    raise TarError('unsafe image: member %r is below a '
                                   'symlink or a file' % m.name)
                dest = os.path.join(root, clean)
                parent = os.path.dirname(dest)
                os.makedirs(parent, exist_ok=True)
                if os.path.islink(dest) or (os.path.exists(dest) and
                                            not os.path.isdir(dest)):
                    os.unlink(dest)
                if m.isdir():
                    os.makedirs(dest, exist_ok=True)
                    os.chmod(dest, 0o755 | (m.mode & 0o777))
                elif m.issym():
                    os.symlink(m.linkname, dest)
                elif m.islnk():
                    src = os.path.join(root, _norm(m.linkname))
                    if os.path.islink(src) or not os.path.isfile(src) or \
                            _parent_has_link(root, _norm(m.linkname)):
                        raise TarError('unsafe image: hard link %r to %r, '
                                       'which is not a file unpacked before'
                                       % (m.name, m.linkname))
                    # a hard link is unpacked as a copy: it counts (else
                    # one big file linked 10000 times, a few KiB of tar,
                    # fills the host's disk past max_image_unpacked)
                    total += os.path.getsize(src)
                    if max_bytes is not None and total > max_bytes:
                        raise TarError('image unpacks to more than %d bytes'
                                       % max_bytes)
                    shutil.copyfile(src, dest)
                    os.chmod(dest, os.stat(src).st_mode & 0o777)
                else:
                    total += m.size
                    if max_bytes is not None and total > max_bytes:
                        raise TarError('image unpacks to more than %d bytes'
                                       % max_bytes)
                    fsrc = tf.extractfile(m)
                    fd = os.open(dest, os.O_WRONLY | os.O_CREAT |
                                 os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                    with os.fdopen(fd, 'wb') as out:
                        shutil.copyfileobj(fsrc, out, 1 << 16)
                    os.chmod(dest, (m.mode & 0o755) | 0o600)
        except (tarfile.TarError, EOFError) as e:
            raise TarError('broken image: %s' % e)
    return total


def is_regular_inside(root, rel):
    """True if root/rel is a regular file reached without symlinks."""
    if _parent_has_link(root, rel):
        return False
    p = os.path.join(root, rel)
    try:
        st = os.lstat(p)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode)
