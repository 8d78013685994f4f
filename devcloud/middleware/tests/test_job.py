import unittest

from zerocloud_dev import job as J


class ArgsTest(unittest.TestCase):
    def test_unescape(self):
        self.assertEqual(J.unescape_arg(r'foo\x5c\x2c\x20\x5cnbar'),
                         'foo\\, \\nbar')
        self.assertEqual(J.unescape_arg(r'a\x22b\x0ac'), 'a"b\nc')
        self.assertEqual(J.unescape_arg(r'\xZZ\x4'), r'\xZZ\x4')

    def test_split(self):
        self.assertEqual(J.split_args('mapper.py foo\\x5c\\x2c\\x20\\x5cnbar'),
                         ['mapper.py', 'foo\\, \\nbar'])
        self.assertEqual(J.split_args(''), [])
        self.assertEqual(J.split_args(None), [])
        self.assertEqual(J.split_args('a  b'), ['a', '', 'b'])
        with self.assertRaises(J.JobError):
            J.split_args(['a'])


class PathTest(unittest.TestCase):
    def test_swift(self):
        self.assertEqual(J.parse_swift_path('swift://./c/o/p.txt', 'AUTH_me'),
                         ('AUTH_me', 'c', 'o/p.txt'))
        self.assertEqual(J.parse_swift_path('swift://~/c/o', 'AUTH_me'),
                         ('AUTH_me', 'c', 'o'))
        self.assertEqual(J.parse_swift_path('swift://AUTH_x/c/*.txt', 'A'),
                         ('AUTH_x', 'c', '*.txt'))
        self.assertEqual(J.parse_swift_path('swift://AUTH_x/c', 'A'),
                         ('AUTH_x', 'c', ''))
        for bad in ('swift://', 'swift://a', 'swift:///c/o', 'http://a/c/o',
                    'swift://a//o'):
            with self.assertRaises(J.JobError, msg=bad):
                J.parse_swift_path(bad, 'A')

    def test_exec(self):
        self.assertEqual(J.parse_exec_path('file://python2.7:python', 'A'),
                         ('sysimage', 'python2.7', 'python'))
        self.assertEqual(J.parse_exec_path('swift://./c/bin/x', 'A'),
                         ('swift', 'A', 'c', 'bin/x'))
        self.assertEqual(J.parse_exec_path('bin/run.sh', 'A'),
                         ('image', 'bin/run.sh'))
        self.assertEqual(J.parse_exec_path('./run', 'A'), ('image', 'run'))
        for bad in ('/bin/sh', '../x', 'a/../../x', 'file://python',
                    'file://:x', 'ftp://x/y', 'swift://./c/', ''):
            with self.assertRaises(J.JobError, msg=bad):
                J.parse_exec_path(bad, 'A')

    def test_exec_name(self):
        self.assertEqual(J.exec_name('file://python2.7:python'), 'python')
        self.assertEqual(J.exec_name('swift://~/container/path/to/python'),
                         'path/to/python')


def group(name, **kw):
    g = {'name': name, 'exec': {'path': 'file://python2.7:python'}}
    g.update(kw)
    return g


class ValidateTest(unittest.TestCase):
    def bad(self, job, words):
        with self.assertRaises(J.JobError) as cm:
            J.validate_job(job, system_images={'python2.7': '/x'})
        for w in words:
            self.assertIn(w, str(cm.exception))

    def test_errors(self):
        with self.assertRaises(J.JobError) as cm:
            J.load_job(b'[{')
        self.assertIn('bad JSON', str(cm.exception))
        self.bad({'name': 'x'}, ['list'])
        self.bad([], ['no groups'])
        self.bad([{'exec': {'path': 'x'}}], ['no name'])
        self.bad([{'name': 'a'}], ["'a'", 'no exec'])
        self.bad([{'name': 'a', 'exec': {}}], ['exec.path'])
        self.bad([group('a'), group('a')], ['twice'])
        self.bad([group('a', connect=['b'])], ['unknown connect target',
                                                "'b'"])
        self.bad([group('a', devices=[{'name': 'disk'}])],
                 ['bad device', 'disk'])
        self.bad([group('a', devices=[{'name': 'stdin'}])],
                 ['bad device', 'no path'])
        self.bad([group('a', devices=[{'name': 'stdin',
                                       'path': 'file:///etc/passwd'}])],
                 ['bad device', 'not swift://'])
        self.bad([group('a', devices=['stdin'])], ['bad device'])
        self.bad([group('a', count=0)], ['count'])
        self.bad([group('a', exec={'path': 'x', 'env': {'A': 1}})], ['env'])
        self.bad([group('a', devices=[
            {'name': 'stdin', 'path': 'swift://./c/a*'},
            {'name': 'input', 'path': 'swift://./c/b*'}])], ['wildcard'])

    def test_ok(self):
        job = [group('a', devices=[{'name': 'python2.7'},
                                   {'name': 'stdout'}], connect=['b']),
               group('b', count=2)]
        self.assertIs(J.validate_job(job, {'python2.7': '/x'}), job)


class NodesTest(unittest.TestCase):
    def test_count_and_connect(self):
        job = [group('map', count=2, connect=['red']), group('red'),
               group('one', connect=['map'])]
        nodes = J.expand_nodes(job, 'AUTH_me')
        self.assertEqual([n.name for n in nodes],
                         ['map-1', 'map-2', 'red', 'one'])
        red = nodes[2]
        self.assertEqual([d for d, _ in red.ins], ['map-1', 'map-2'])
        self.assertEqual([d for d, _ in nodes[0].outs], ['red'])
        self.assertEqual([d for d, _ in nodes[3].outs], ['map-1', 'map-2'])

    def test_wildcard(self):
        calls = []

        def lister(a, c, prefix):
            calls.append((a, c, prefix))
            return ['in1.txt', 'in2.txt', 'inx.dat', 'other.txt', 'in3.txt']
        job = [group('m', devices=[
            {'name': 'input', 'path': 'swift://./data/in*.txt'},
            {'name': 'output', 'path': 'swift://./res/*.out'},
            {'name': 'stdout'}])]
        nodes = J.expand_nodes(job, 'AUTH_me', lister)
        self.assertEqual(calls, [('AUTH_me', 'data', 'in')])
        self.assertEqual([n.name for n in nodes], ['m-1', 'm-2', 'm-3'])
        self.assertEqual(nodes[1].devices['input']['swift'],
                         ('AUTH_me', 'data', 'in2.txt'))
        self.assertEqual(nodes[2].devices['input']['path'],
                         'swift://AUTH_me/data/in3.txt')
        self.assertEqual(nodes[0].devices['output']['swift'],
                         ('AUTH_me', 'res', 'm-1.out'))
        self.assertNotIn('swift', nodes[0].devices['stdout'])

    def test_wildcard_other_account_and_none(self):
        job = [group('m', devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_x/c/*.txt'}])]
        nodes = J.expand_nodes(job, 'AUTH_me', lambda a, c, p: ['a.txt'])
        self.assertEqual([n.name for n in nodes], ['m-1'])
        self.assertEqual(nodes[0].devices['stdin']['swift'],
                         ('AUTH_x', 'c', 'a.txt'))
        with self.assertRaises(J.NotFound):
            J.expand_nodes(job, 'AUTH_me', lambda a, c, p: ['a.dat'])


class CdrTest(unittest.TestCase):
    def test_format(self):
        stats = [dict(wall=4.993, sys=0.13, user=3.84, dr=1025, dbr=75943662,
                      dw=23, dbw=735, nr=8, nbr=399, nw=0, nbw=0),
                 dict(wall=4.511, sys=0.12, user=4.0, dr=1026, dbr=75943758,
                      dw=0, dbw=0, nr=0, nbr=0, nw=1, nbw=11)]
        self.assertEqual(
            J.fmt_cdr(5.121, stats),
            '5.121, 4.993, 0.13 3.84 1025 75943662 23 735 8 399 0 0,'
            '4.511, 0.12 4.00 1026 75943758 0 0 0 0 1 11')
        self.assertEqual(J.fmt_cdr(1, []), '1.000')


if __name__ == '__main__':
    unittest.main()
