import io
import os
import shutil
import tarfile
import tempfile
import unittest

from zerocloud_dev import tarsafe


def make_tar(path, members, gz=False):
    """members: (name, kind, data or linkname)."""
    with tarfile.open(path, 'w:gz' if gz else 'w') as tf:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind == 'file':
                ti.size = len(data)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {'dir': tarfile.DIRTYPE, 'sym': tarfile.SYMTYPE,
                       'lnk': tarfile.LNKTYPE, 'chr': tarfile.CHRTYPE,
                       'blk': tarfile.BLKTYPE, 'fifo': tarfile.FIFOTYPE}[kind]
            if kind in ('sym', 'lnk'):
                ti.linkname = data
            tf.addfile(ti)


class TarSafeTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.tar = os.path.join(self.d, 'i.tar')
        self.root = os.path.join(self.d, 'root')

    def tearDown(self):
        shutil.rmtree(self.d)

    def refused(self, members, words):
        make_tar(self.tar, members)
        with self.assertRaises(tarsafe.TarError) as cm:
            tarsafe.extract_image(self.tar, self.root)
        for w in words:
            self.assertIn(w, str(cm.exception))
        return cm.exception

    def test_unsafe(self):
        self.refused([('/etc/x', 'file', b'x')], ['absolute'])
        self.refused([('a/../../x', 'file', b'x')], ['..'])
        self.refused([('../x', 'file', b'x')], ['..'])
        self.refused([('l', 'sym', '/etc/passwd')], ['symlink', 'outside'])
        self.refused([('a/l', 'sym', '../../x')], ['symlink', 'outside'])
        self.refused([('h', 'lnk', '/etc/passwd')], ['hard link'])
        self.refused([('h', 'lnk', '../x')], ['hard link'])
        self.refused([('d', 'chr', '')], ['device'])
        self.refused([('d', 'blk', '')], ['device'])
        self.refused([('f', 'fifo', '')], ['FIFO'])
        # lexically inside, but written through a link to the root
        self.refused([('d', 'sym', '.'), ('d/e/l', 'sym', '../..')],
                     ['below a symlink'])
        self.refused([('d', 'sym', 'sub'), ('d/x', 'file', b'x')],
                     ['below a symlink'])
        self.assertEqual(self.refused([('a', 'chr', '')], []).status, 400)

    def test_check_image_and_not_a_tar(self):
        make_tar(self.tar, [('x', 'chr', '')])
        with self.assertRaises(tarsafe.TarError):
            tarsafe.check_image(self.tar)
        with open(self.tar, 'wb') as f:
            f.write(b'not a tar at all' * 100)
        with self.assertRaises(tarsafe.TarError) as cm:
            tarsafe.check_image(self.tar)
        self.assertIn('not a (gzip) tar', str(cm.exception))

    def test_extract_ok(self):
        make_tar(self.tar, [('./boot/', 'dir', None),
                            ('./boot/system.map', 'file', b'[]'),
                            ('bin/run', 'file', b'#!/bin/sh\n'),
                            ('bin/link', 'sym', 'run'),
                            ('top', 'sym', 'bin/../boot'),
                            ('hard', 'lnk', 'bin/run')], gz=True)
        tarsafe.check_image(self.tar)
        self.assertEqual(tarsafe.read_member(self.tar, 'boot/system.map'),
                         b'[]')
        self.assertIsNone(tarsafe.read_member(self.tar, 'nope'))
        tarsafe.extract_image(self.tar, self.root)
        with open(os.path.join(self.root, 'boot/system.map')) as f:
            self.assertEqual(f.read(), '[]')
        self.assertEqual(os.readlink(os.path.join(self.root, 'bin/link')),
                         'run')
        self.assertTrue(tarsafe.is_regular_inside(self.root, 'hard'))
        self.assertTrue(tarsafe.is_regular_inside(self.root, 'bin/run'))
        self.assertFalse(tarsafe.is_regular_inside(self.root, 'bin/link'))
        self.assertFalse(tarsafe.is_regular_inside(self.root, 'top/system.map'))

    def test_size_limit(self):
        make_tar(self.tar, [('a', 'file', b'x' * 1000)])
        with self.assertRaises(tarsafe.TarError):
            tarsafe.extract_image(self.tar, self.root, max_bytes=100)


if __name__ == '__main__':
    unittest.main()
