"""limits.py against fake cgroup trees and /proc files (no root needed)."""
import os
import shutil
import tempfile
import unittest

from zerocloud_dev import limits

# this machine's kind: cgroup v1 controllers plus an empty v2 tree
HYBRID_CGROUP = """9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
"""
HYBRID_MOUNTS = """30 25 0:26 / {r}/pids rw,relatime - cgroup cgroup rw,pids
31 25 0:27 / {r}/memory rw,relatime - cgroup cgroup rw,memory
32 25 0:28 / {r}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 25 0:29 / {r}/cpu rw,relatime - cgroup cgroup rw,cpu
34 25 0:30 / {r}/systemd rw,relatime - cgroup cgroup rw,name=systemd
35 25 0:31 / {r}/unified rw,relatime - cgroup2 cgroup2 rw
"""
V2_CGROUP = "0::/system.slice/proxy.service\n"
V2_MOUNTS = "40 25 0:40 / {r} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


class Base(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.r = os.path.join(self.d, 'cg')

    def tearDown(self):
        shutil.rmtree(self.d)

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    def discover(self, cgroup, mounts):
        pc = os.path.join(self.d, 'cgroup')
        mi = os.path.join(self.d, 'mountinfo')
        self.write(pc, cgroup)
        self.write(mi, mounts.format(r=self.r))
        return limits.discover(pc, mi)

    def read(self, *p):
        with open(os.path.join(self.r, *p)) as f:
            return f.read()


class DiscoverTest(Base):
    def hybrid(self):
        for d in ('pids', 'memory/process_api/abc', 'cpuacct', 'cpu',
                  'systemd'):
            os.makedirs(os.path.join(self.r, d))
        self.write(os.path.join(self.r, 'unified', 'cgroup.subtree_control'),
                   '')
        self.write(os.path.join(self.r, 'unified', 'cgroup.controllers'),
                   'hugetlb\n')
        return self.discover(HYBRID_CGROUP, HYBRID_MOUNTS)

    def test_hybrid_v1(self):
        hs = self.hybrid()
        by = {(h.version, h.own[len(self.r):]): h.controllers for h in hs}
        self.assertEqual(by, {
            (1, '/pids/'): {'pids'},
            (1, '/memory/process_api/abc'): {'memory'},
            (1, '/cpuacct/'): {'cpu'},
            (2, '/unified/'): {'cpu'}})

    def test_node_cgroup_v1(self):
        hs = self.hybrid()
        cg = limits.NodeCgroup(hs, '0', memory=256 << 20, pids=66)
        name = '%s%d-0' % (limits.PREFIX, os.getpid())
        mem = ('memory', 'process_api', 'abc', name)
        self.assertEqual(self.read(*mem, 'memory.limit_in_bytes'),
                         str(256 << 20))
        self.assertEqual(self.read('pids', name, 'pids.max'), '66')
        # v1 cpuacct wins over the v2 tree for CPU time
        self.assertEqual(cg.dirs['cpu'][1], 1)
        self.write(os.path.join(self.r, 'cpuacct', name,
                                'cpuacct.usage_user'), '1500000000\n')
        self.write(os.path.join(self.r, 'cpuacct', name,
                                'cpuacct.usage_sys'), '250000000\n')
        self.assertEqual(cg.cpu(), (1.5, 0.25))
        self.write(os.path.join(self.r, *mem, 'memory.oom_control'),
                   'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n')
        self.assertEqual(cg.oom_kills(), 2)
        self.write(os.path.join(self.r, 'pids', name, 'pids.events'),
                   'max 7\n')
        self.assertEqual(cg.pids_refused(), 7)
        self.assertEqual(len(cg.procs_files()), 3)   # not the v2 tree
        self.assertTrue(all(f.endswith('/cgroup.procs')
                            for f in cg.procs_files()))

    def test_pure_v2(self):
        own = os.path.join(self.r, 'system.slice', 'proxy.service')
        self.write(os.path.join(own, 'cgroup.subtree_control'),
                   'memory pids\n')
        self.write(os.path.join(own, 'cgroup.controllers'),
                   'cpu memory pids io\n')
        hs = self.discover(V2_CGROUP, V2_MOUNTS)
        self.assertEqual(len(hs), 1)
        self.assertEqual((hs[0].version, hs[0].own), (2, own))
        self.assertEqual(hs[0].controllers, {'memory', 'pids', 'cpu'})
        cg = limits.NodeCgroup(hs, '3', memory=1 << 30, pids=10)
        d = cg.dirs['memory'][0]
        self.assertEqual(os.path.dirname(d), own)
        with open(os.path.join(d, 'memory.max')) as f:
            self.assertEqual(f.read(), str(1 << 30))
        with open(os.path.join(d, 'memory.swap.max')) as f:
            self.assertEqual(f.read(), '0')
        with open(os.path.join(d, 'pids.max')) as f:
            self.assertEqual(f.read(), '10')
        self.write(os.path.join(d, 'cpu.stat'),
                   'usage_usec 3000000\nuser_usec 2000000\n'
                   'system_usec 1000000\n')
        self.assertEqual(cg.cpu(), (2.0, 1.0))
        self.write(os.path.join(d, 'memory.events'),
                   'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n')
        self.assertEqual(cg.oom_kills(), 1)
        # one directory for all three controllers
        self.assertEqual(len(cg.made), 1)

    def test_v2_without_controllers_gives_cpu_only(self):
        own = os.path.join(self.r, 'system.slice', 'proxy.service')
        self.write(os.path.join(own, 'cgroup.subtree_control'), '')
        self.write(os.path.join(own, 'cgroup.controllers'), '')
        hs = self.discover(V2_CGROUP, V2_MOUNTS)
        self.assertEqual(hs[0].controllers, {'cpu'})
        cg = limits.NodeCgroup(hs, '0', memory=1 << 20, pids=5)
        self.assertFalse(cg.has('memory'))
        self.assertFalse(cg.has('pids'))
        self.assertTrue(cg.has('cpu'))

    def test_mount_of_a_subtree(self):
        # a container: the cgroup2 mount's root is our own cgroup
        own_path = '/docker/xyz'
        self.write(os.path.join(self.r, 'cgroup.subtree_control'), 'pids')
        self.write(os.path.join(self.r, 'cgroup.controllers'), 'pids')
        hs = self.discover('0::%s\n' % own_path,
                           '40 25 0:40 %s {r} rw - cgroup2 cgroup2 rw\n'
                           % own_path)
        self.assertEqual([h.own.rstrip('/') for h in hs], [self.r])

    def test_nothing_usable(self):
        self.assertEqual(self.discover('0::/\n', ''), [])
        self.assertEqual(limits.discover('/nonexistent', '/nonexistent'),
                         [])

    def test_sweep_removes_what_dead_runners_left(self):
        hs = self.hybrid()
        pids_dir = os.path.join(self.r, 'pids')
        dead = os.path.join(pids_dir, limits.PREFIX + '999999999-0')
        mine = os.path.join(pids_dir, limits.PREFIX + '%d-0' % os.getpid())
        other = os.path.join(pids_dir, 'someone-else')
        for d in (dead, mine, other):
            os.makedirs(d)
        limits.sweep(hs)
        self.assertFalse(os.path.exists(dead))
        self.assertTrue(os.path.exists(mine))
        self.assertTrue(os.path.exists(other))


class TreeTest(unittest.TestCase):
    def test_tree_bytes(self):
        d = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(d, 'a', 'b'))
            with open(os.path.join(d, 'a', 'b', 'f'), 'wb') as f:
                f.write(b'x' * 100000)
            os.link(os.path.join(d, 'a', 'b', 'f'), os.path.join(d, 'g'))
            os.symlink('/etc/passwd', os.path.join(d, 'l'))
            n = limits.tree_bytes(d)
            self.assertGreaterEqual(n, 100000)
            self.assertLess(n, 200000)   # the hard link once
        finally:
            shutil.rmtree(d)

    def test_area_without_mounts_watches_the_tree(self):
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, 'image.bin'), 'wb') as f:
                f.write(b'i' * 50000)
            a = limits.Area(d, 100000, mounts=False)
            self.assertEqual((a.mode, a.zapp, a.tmp), ('watch', d, None))
            self.assertEqual(a.usage(), 0)
            with open(os.path.join(d, 'new.bin'), 'wb') as f:
                f.write(b'n' * 90000)
            self.assertFalse(a.full())
            with open(os.path.join(d, 'more.bin'), 'wb') as f:
                f.write(b'm' * 20000)
            self.assertTrue(a.full())
            self.assertGreaterEqual(a.peak, 110000)
            a.close()
            self.assertTrue(os.path.exists(os.path.join(d, 'new.bin')))
        finally:
            shutil.rmtree(d)

    def test_area_drop_counts_from_there(self):
        """What the sandbox mounts over is removed before the node runs;
        the room it took is not room for the node to write."""
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, 'usr'), 'wb') as f:
                f.write(b'u' * 50000)
            os.symlink('/nowhere', os.path.join(d, 'lib'))
            os.mkdir(os.path.join(d, 'etc'))
            a = limits.Area(d, 100000, mounts=False)
            a.drop(['usr', 'lib', '..', 'a/b'])
            self.assertEqual(sorted(os.listdir(d)), ['etc'])
            self.assertEqual(a.usage(), 0)
            with open(os.path.join(d, 'new.bin'), 'wb') as f:
                f.write(b'n' * 110000)
            self.assertTrue(a.full())
        finally:
            shutil.rmtree(d)


if __name__ == '__main__':
    unittest.main()
