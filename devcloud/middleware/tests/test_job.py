"""Job rules: ZeroCloud's Servlets.md and Url.md as the devcloud applies
them (decisions 2-7 of issue 14). Each test's docstring names the rule."""
import unittest

from zerocloud_dev import job as J

SYS = {'python2.7': '/x', 'python3': '/y'}


def group(name, **kw):
    g = {'name': name, 'exec': {'path': 'file://python2.7:python'}}
    g.update(kw)
    return g


def dev(name, path=None, **kw):
    d = {'name': name}
    if path is not None:
        d['path'] = path
    d.update(kw)
    return d


def listing(names):
    """A lister over one fixed container listing, recording its calls."""
    calls = []

    def ls(a, c, prefix):
        calls.append((a, c, prefix))
        return [n for n in names if n.startswith(prefix)]
    ls.calls = calls
    return ls


class ArgsTest(unittest.TestCase):
    def test_unescape(self):
        """zpm's \\xNN escaping of exec.args words is undone."""
        self.assertEqual(J.unescape_arg(r'foo\x5c\x2c\x20\x5cnbar'),
                         'foo\\, \\nbar')
        self.assertEqual(J.unescape_arg(r'a\x22b\x0ac'), 'a"b\nc')
        self.assertEqual(J.unescape_arg(r'\xZZ\x4'), r'\xZZ\x4')

    def test_split(self):
        """Servlets.md rule 7: args is a command line string."""
        self.assertEqual(J.split_args('mapper.py foo\\x5c\\x2c\\x20\\x5cnbar'),
                         ['mapper.py', 'foo\\, \\nbar'])
        self.assertEqual(J.split_args(''), [])
        self.assertEqual(J.split_args(None), [])
        self.assertEqual(J.split_args('a  b'), ['a', '', 'b'])
        with self.assertRaises(J.JobError):
            J.split_args(['a'])


class PathTest(unittest.TestCase):
    def test_swift(self):
        """Url.md Swift URL: swift://account/container/object; `.`/`~` is
        the requester's account."""
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

    def test_exec_forms(self):
        """Url.md File URL and Servlets.md rule 11 (decision 7): system
        image, user image, swift, plain relative/absolute path."""
        self.assertEqual(J.parse_exec_path('file://python2.7:python', 'A'),
                         ('sysimage', 'python2.7', 'python'))
        self.assertEqual(J.parse_exec_path('file://image:bin/x', 'A'),
                         ('image', 'bin/x'))
        self.assertEqual(J.parse_exec_path('file://image:/bin/x', 'A'),
                         ('image', 'bin/x'))
        self.assertEqual(J.parse_exec_path('file://bin/x', 'A'),
                         ('image', 'bin/x'))
        self.assertEqual(J.parse_exec_path('file:///bin/x:y', 'A'),
                         ('image', 'bin/x:y'))
        self.assertEqual(J.parse_exec_path('file://python', 'A'),
                         ('image', 'python'))
        self.assertEqual(J.parse_exec_path('swift://./c/bin/x', 'A'),
                         ('swift', 'A', 'c', 'bin/x'))
        self.assertEqual(J.parse_exec_path('bin/run.sh', 'A'),
                         ('relative', 'bin/run.sh'))
        self.assertEqual(J.parse_exec_path('./run', 'A'), ('relative', 'run'))
        self.assertEqual(J.parse_exec_path('/bin/sh', 'A'),
                         ('relative', 'bin/sh'))

    def test_exec_bad(self):
        """Servlets.md rule 11: exec.path must name a file (no `..`, no
        wildcard, a known scheme)."""
        for bad in ('../x', 'a/../../x', 'file://:x', 'file://image:',
                    'file://python2.7:', 'ftp://x/y', 'swift://./c/',
                    'swift://./c/*.nexe', '', '/', 'file://image:../x'):
            with self.assertRaises(J.JobError, msg=bad):
                J.parse_exec_path(bad, 'A')

    def test_exec_zvm(self):
        """Url.md Zvm URL / decision 7: zvm:// is not an executable."""
        with self.assertRaises(J.JobError) as cm:
            J.parse_exec_path('zvm://other:stdout', 'A')
        self.assertIn('zvm://', str(cm.exception))

    def test_zvm(self):
        """Url.md Zvm URL: zvm://host:device, device with or without /dev."""
        self.assertEqual(J.parse_zvm_path('zvm://red:stdin'),
                         ('red', '/dev/stdin'))
        self.assertEqual(J.parse_zvm_path('zvm://red:/dev/in/x'),
                         ('red', '/dev/in/x'))
        for bad in ('zvm://red', 'zvm://:stdin', 'zvm://r d:stdin',
                    'zvm://red:', 'zvm://red:../etc', 'zvm://red:/dev/null',
                    'zvm://red:stdout', 'zvm://red:/dev/in'):
            with self.assertRaises(J.JobError, msg=bad):
                J.parse_zvm_path(bad)

    def test_exec_name(self):
        """Servlets.md rule 18 (zpm's default exec.name)."""
        self.assertEqual(J.exec_name('file://python2.7:python'), 'python')
        self.assertEqual(J.exec_name('swift://~/container/path/to/python'),
                         'path/to/python')


class NormalizeTest(unittest.TestCase):
    def test_file_list(self):
        """Servlets.md deprecated keywords / decision 5: file_list ->
        devices, device -> name; the input is not modified."""
        raw = [{'name': 'a', 'exec': {'path': 'x'},
                'file_list': [{'device': 'stdout'}]}]
        job = J.normalize_job(raw)
        self.assertEqual(job[0]['devices'], [{'name': 'stdout'}])
        self.assertNotIn('file_list', job[0])
        self.assertIn('file_list', raw[0])
        self.assertEqual(raw[0]['file_list'], [{'device': 'stdout'}])
        self.assertEqual(J.normalize_job(job), job)    # idempotent
        nodes = J.expand_nodes(raw, 'A')
        self.assertIn('stdout', nodes[0].devices)

    def test_deprecated_conflicts(self):
        """Servlets.md deprecated keywords: both spellings at once -> 400."""
        with self.assertRaises(J.JobError) as cm:
            J.normalize_job([{'name': 'a', 'file_list': [], 'devices': []}])
        self.assertIn("group 'a'", str(cm.exception))
        with self.assertRaises(J.JobError) as cm:
            J.normalize_job([{'name': 'a', 'devices': [
                {'device': 'stdin', 'name': 'stdout'}]}])
        self.assertIn('device', str(cm.exception))
        self.assertEqual(J.normalize_job([{'name': 'a', 'devices': [
            {'device': 'stdin', 'name': 'stdin'}]}])[0]['devices'],
            [{'name': 'stdin'}])

    def test_env_values(self):
        """Servlets.md rule 8 / decision 2: numbers and booleans become
        strings as str() makes them; strings kept."""
        job = J.normalize_job([group('a', exec={'path': 'x', 'env': {
            'N': 5, 'F': 1.5, 'B': True, 'S': 'str', 'Z': False}})])
        self.assertEqual(job[0]['exec']['env'],
                         {'N': '5', 'F': '1.5', 'B': 'True', 'S': 'str',
                          'Z': 'False'})

    def test_env_bad_values(self):
        """Decision 2: null, lists and objects in exec.env -> 400 naming the
        group and the key."""
        for v, kind in ((None, 'null'), ([1], 'a list'), ({}, 'an object')):
            with self.assertRaises(J.JobError) as cm:
                J.validate_job([group('g', exec={'path': 'x',
                                                 'env': {'KEY': v}})])
            msg = str(cm.exception)
            self.assertIn("group 'g'", msg)
            self.assertIn("'KEY'", msg)
            self.assertIn(kind, msg)
            self.assertEqual(cm.exception.status, 400)

    def test_not_a_list(self):
        """Servlets.md: the configuration is a JSON list."""
        with self.assertRaises(J.JobError):
            J.normalize_job({'name': 'a'})


class ValidateTest(unittest.TestCase):
    def bad(self, job, words, payload=False, system_images=SYS):
        with self.assertRaises(J.JobError) as cm:
            J.validate_job(job, system_images=system_images, payload=payload)
        msg = str(cm.exception)
        for w in words:
            self.assertIn(w, msg)
        self.assertNotIn('\n', msg)
        self.assertEqual(cm.exception.status, 400)
        return msg

    def ok(self, job, payload=False):
        return J.validate_job(job, system_images=SYS, payload=payload)

    def test_errors(self):
        """Servlets.md format: name, exec, exec.path required; JSON list."""
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
        self.bad([group('a', devices=['stdin'])], ['bad device'])
        self.bad([group('a', count=0)], ['count'])
        self.bad([group('a', count=True)], ['count'])
        self.bad([group('a', exec={'path': 'x', 'args': ['a']})], ['args'])
        self.bad([group('a', devices=[dev('stdout'), dev('stdout')])],
                 ["'stdout'", 'twice'])

    def test_ok(self):
        """Servlets.md format: a valid job comes back normalized (a copy)."""
        job = [group('a', devices=[dev('python2.7'), dev('stdout')],
                     connect=['b']),
               group('b', count=2)]
        out = J.validate_job(job, SYS)
        self.assertEqual(out, job)
        self.assertIsNot(out, job)

    def test_names(self):
        """Servlets.md format (node name) and Url.md zvm host: names are
        letters, digits, _ . - ; not `.` or `..`; at most 128."""
        for n in ('map', 'a.b', 'a_b-1', 'x' * 128):
            self.ok([group(n)])
        for n in ('a b', 'a/b', '.', '..', '-a', 'x' * 129, 'é', ''):
            with self.assertRaises(J.JobError, msg=n):
                self.ok([group(n)])

    def test_rule1_device_names(self):
        """Servlets.md rule 1: stdin stdout stderr input output image script
        + system images; anything else is a bad device."""
        self.ok([group('a', devices=[
            dev('stdin', 'swift://./c/i'), dev('stdout'), dev('stderr'),
            dev('input', 'swift://./c/j'), dev('output', 'swift://./c/o'),
            dev('image', 'swift://./c/t.zapp'), dev('script', 'swift://./c/s'),
            dev('python2.7'), dev('python3')])])
        msg = self.bad([group('a', devices=[dev('tape')])],
                       ['bad device', "'tape'", "group 'a'"])
        self.assertIn('python2.7', msg)
        # without the list of system images, other names are not checked
        J.validate_job([group('a', devices=[dev('tape')])])

    def test_rule1_debug(self):
        """Servlets.md rules 1, 10 / decision 5: the debug device is refused
        with a clear message."""
        self.bad([group('a', devices=[dev('debug', 'tcp://h:1')])],
                 ["group 'a'", "'debug'", 'not supported'])

    def test_rule2_write_without_path(self):
        """Servlets.md rule 2: stdout and stderr may have no path; output
        without a path -> 400 (decision 6)."""
        self.ok([group('a', devices=[dev('stdout'), dev('stderr')])])
        self.bad([group('a', devices=[dev('output')])],
                 ["'output'", 'immediate response is not available for '
                  'device output'])

    def test_rule2_readable_without_path(self):
        """Servlets.md rule 2 / decision 6: stdin, input and script may lack
        a path only when the request carries a payload."""
        for name in ('stdin', 'input', 'script'):
            self.bad([group('a', devices=[dev(name)])],
                     ["group 'a'", repr(name), 'no path', 'payload'])
            self.ok([group('a', devices=[dev(name)])], payload=True)

    def test_rule2_one_payload_device(self):
        """Servlets.md rule 2: you cannot have several readable devices
        without a path (per group); several groups may each have one."""
        self.bad([group('a', devices=[dev('stdin'), dev('script')])],
                 ["'stdin'", "'script'", 'one readable device'], payload=True)
        self.ok([group('a', devices=[dev('stdin')]),
                 group('b', devices=[dev('input')])], payload=True)

    def test_rule2_system_image_no_path(self):
        """Servlets.md rule 2: a system image's path is predefined."""
        self.bad([group('a', devices=[dev('python2.7', 'swift://./c/x')])],
                 ["'python2.7'", 'system image', 'no path'])

    def test_rule2_image_without_path(self):
        """The devcloud's posted image: `image` may have no path (the
        middleware refuses it when no image was posted)."""
        self.ok([group('a', devices=[dev('image')])])

    def test_rule11_readable_is_swift(self):
        """Servlets.md rule 11 / configparser: readable devices must be
        Swift objects (swift://account/container/object)."""
        for name in ('stdin', 'input', 'image', 'script'):
            self.bad([group('a', devices=[dev(name, 'file:///etc/passwd')])],
                     [repr(name), 'not swift://'])
            self.bad([group('a', devices=[dev(name, 'swift://./c')])],
                     [repr(name), 'names no object'])
            self.bad([group('a', devices=[dev(name, 'swift://./c/')])],
                     [repr(name), 'names no object'])
        self.bad([group('a', devices=[dev('stdout', 'http://x/y')])],
                 ["'stdout'", 'not swift:// or zvm://'])
        self.bad([group('a', devices=[dev('stdin', '')])], ['path'])
        self.bad([group('a', devices=[dev('stdin', 5)])], ['path'])

    def test_url_zvm_write_only(self):
        """Url.md Zvm URL / decision 4: zvm:// only for write devices, to a
        group of the job."""
        self.ok([group('a', devices=[dev('stdout', 'zvm://b:stdin')]),
                 group('b')])
        for name in ('stdin', 'input', 'image', 'script'):
            self.bad([group('a', devices=[dev(name, 'zvm://b:x')]),
                      group('b')], [repr(name), 'zvm:// is for write'])
        self.bad([group('a', devices=[dev('stdout', 'zvm://zz:stdin')])],
                 ["'zz'", 'not a group'])
        self.bad([group('a', devices=[dev('stdout', 'zvm://b:/dev/null')]),
                  group('b')], ['/dev/null', 'reserved'])
        self.bad([group('a', devices=[dev('output', 'zvm://b')]),
                  group('b')], ['zvm://b'])

    def test_rule3_wildcards(self):
        """Servlets.md rule 3 / decision 3: any number of * in a read path
        (object and container part), none in the account."""
        self.ok([group('a', devices=[
            dev('stdin', 'swift://./c*/x*y*z'),
            dev('stdout', 'swift://./out/*-*-*.txt')])])
        self.bad([group('a', devices=[dev('stdin', 'swift://AUTH_*/c/o')])],
                 ['account'])
        self.bad([group('a', devices=[dev('stdout', 'swift://A*/c/o')])],
                 ['account'])

    def test_rule3_one_wildcard_device(self):
        """Decision 3: one read device per group gives the nodes."""
        self.bad([group('a', devices=[dev('stdin', 'swift://./c/a*'),
                                      dev('input', 'swift://./c/b*')])],
                 ['wildcard', 'stdin', 'input'])

    def test_rule3_count_ignored(self):
        """Servlets.md rule 3: with a read wildcard `count` is ignored (not
        an error)."""
        self.ok([group('a', count=3, devices=[dev('stdin', 'swift://./c/*')])])

    def test_rule5_fixed_write_path(self):
        """Servlets.md rule 5 / decision 3: a write path without * on a group
        of several nodes -> 400."""
        msg = self.bad([group('x', count=2, devices=[
            dev('stdout', 'swift://./c/out.txt')])],
            ["'stdout'", 'single path', '2 nodes', "group 'x'",
             'use a wildcard'])
        self.assertIn('swift://./c/out.txt', msg)
        self.ok([group('x', count=2, devices=[dev('stdout'),
                                              dev('stderr')])])

    def test_rule5_more_stars_than_captures(self):
        """Decision 3: more * in the write path than the read wildcard
        captures -> 400."""
        self.bad([group('a', devices=[
            dev('stdin', 'swift://./c/*.dat'),
            dev('output', 'swift://./c/*-*.out')])],
            ["'output'", 'more *'])

    def test_rule6_self_connect(self):
        """Servlets.md rule 6 / decision 4: a node connects to itself only
        if its group has several nodes."""
        self.bad([group('a', connect=['a'])], ["group 'a'", 'one node',
                                               'itself'])
        self.ok([group('a', count=2, connect=['a'])])
        # a wildcard group is checked once expanded
        self.ok([group('a', connect=['a'], devices=[
            dev('stdin', 'swift://./c/*')])])

    def test_rule6_connect_list(self):
        """Servlets.md rule 6: connect lists group names, each once."""
        self.bad([group('a', connect='b'), group('b')], ['connect'])
        self.bad([group('a', connect=['b', 'b']), group('b')],
                 ["'b'", 'twice'])

    def test_rule8_env_keys(self):
        """Servlets.md rule 8: env keys non-empty, without =, whitespace or
        NUL; values without NUL."""
        self.ok([group('a', exec={'path': 'x', 'env': {'A_1': 'v=w x'}})])
        for k in ('', 'A=B', 'A B', 'A\tB', 'A\0', 'A\nB'):
            self.bad([group('a', exec={'path': 'x', 'env': {k: 'v'}})],
                     ["group 'a'", 'exec.env', repr(k)])
        self.bad([group('a', exec={'path': 'x', 'env': {'K': 'a\0b'}})],
                 ["'K'", 'NUL'])
        self.bad([group('a', exec={'path': 'x', 'env': ['A']})],
                 ['exec.env'])

    def test_rule11_exec_path(self):
        """Servlets.md rule 11, Url.md: exec.path forms; zvm:// refused;
        an unknown system image refused (decision 7)."""
        for p in ('file://python3:python3', 'file://image:bin/x',
                  'file://bin/x', '/bin/x', 'bin/x',
                  'swift://./c/exe'):
            self.ok([group('a', exec={'path': p})])
        self.bad([group('a', exec={'path': 'zvm://b:stdout'}), group('b')],
                 ["group 'a'", 'zvm://'])
        self.bad([group('a', exec={'path': 'file://ruby:ruby'})],
                 ["group 'a'", "unknown system image 'ruby'", 'python2.7'])
        self.bad([group('a', exec={'path': '../x'})], ["group 'a'", '../x'])

    def test_rule12_content_type(self):
        """Servlets.md rule 12: content_type is a MIME type string."""
        self.ok([group('a', devices=[dev('stdout', content_type='text/csv')])])
        for ct in (5, '', 'text/plain\r\nX-Evil: 1', None):
            self.bad([group('a', devices=[dev('stdout', content_type=ct)])],
                     ["'stdout'", 'content_type'])

    def test_rule14_meta(self):
        """Servlets.md rule 14: meta is a dict of str -> str, with Swift's
        limits (name <= 128, value <= 256, 90 items, 4096 bytes)."""
        self.ok([group('a', devices=[dev('stdout', meta={
            'Color': 'blue', 'x' * 128: 'v' * 256})])])
        cases = (([], 'meta'), ({'k': 1}, "'k'"),
                 ({'x' * 129: 'v'}, 'longer than 128'),
                 ({'k': 'v' * 257}, 'longer than 256'),
                 ({'a b': 'v'}, "'a b'"), ({'': 'v'}, 'meta name'),
                 ({'a:b': 'v'}, "'a:b'"), ({'k': 'a\r\nb'}, 'control'),
                 ({'k%d' % i: 'v' for i in range(91)}, '91 items'),
                 ({'k%d' % i: 'v' * 250 for i in range(20)}, 'bytes'))
        for meta, word in cases:
            self.bad([group('a', devices=[dev('stdout', meta=meta)])],
                     ["group 'a'", "'stdout'", word])

    def test_rule16_mode(self):
        """Servlets.md rule 16: mode is file, char, pipe or block; what a
        device cannot be on the devcloud is refused, never ignored."""
        for d, m in (('stdout', 'pipe'), ('input', 'file'),
                     ('input', 'block'), ('input', 'pipe'),
                     ('script', 'file'), ('output', 'pipe'),
                     ('output', 'block')):
            path = 'swift://a/c/o' if d in ('input', 'script', 'output') \
                else None
            self.ok([group('a', devices=[dev(d, path, mode=m)])])
        for d, m in (('stdout', 'char'), ('stdin', 'file'),
                     ('output', 'file'), ('script', 'pipe')):
            path = 'swift://a/c/o' if d in ('stdin', 'script', 'output') \
                else None
            self.bad([group('a', devices=[dev(d, path, mode=m)])],
                     ["%r" % d, "mode %r is not supported" % m])
        self.bad([group('a', devices=[dev('stdout', mode='socket')])],
                 ["'stdout'", "mode 'socket'"])

    def test_rule20_min_size(self):
        """Servlets.md rule 20: min_size is an integer >= 0."""
        for n in (0, 1, 10 ** 9):
            self.ok([group('a', devices=[dev('stdout', min_size=n)])])
        for n in (-1, 1.5, '3', True, None):
            self.bad([group('a', devices=[dev('stdout', min_size=n)])],
                     ["'stdout'", 'min_size'])

    def test_rule15_replicate(self):
        """Servlets.md rule 15: replicate 1, 2 and 3 accepted (a node with
        more runs left reruns when its server fails); with a connection
        refused (a rerun cannot replay a stream); anything else
        invalid."""
        for n in (1, 2, 3):
            self.ok([group('a', replicate=n)])
        for job in ([group('a', replicate=2, connect=['b']), group('b')],
                    [group('a', connect=['b']), group('b', replicate=3)]):
            with self.assertRaises(J.JobError) as cm:
                J.connections(J.expand_nodes(J.validate_job(job), 'AUTH_t'))
            self.assertIn('with a connection (a -> b) is not supported',
                          str(cm.exception))
        for n in (0, 4, -1, '2', True, None, 1.5, 2.0):
            self.bad([group('a', replicate=n)],
                     ["group 'a'", 'replicate', 'not valid'])

    def test_rule17_attach(self):
        """Servlets.md rule 17 / decision 5: attach is "default" or a device
        of the group."""
        self.ok([group('a', attach='default')])
        self.ok([group('a', attach='stdout', devices=[dev('stdout')])])
        self.bad([group('a', attach='stdin', devices=[dev('stdout')])],
                 ["group 'a'", "attach 'stdin'"])
        self.bad([group('a', attach=None)], ['attach'])

    def test_rule21_location(self):
        """Servlets.md rule 21: location is a string hint."""
        self.ok([group('a', location='rack1')])
        self.ok([group('a', location='')])
        self.bad([group('a', location=5)], ["group 'a'", 'location'])

    def test_rule18_exec_name(self):
        """Servlets.md rule 18: exec.name is a string."""
        self.ok([group('a', exec={'path': 'x', 'name': 'argv0'})])
        self.bad([group('a', exec={'path': 'x', 'name': 5})], ['exec.name'])

    def test_load_job(self):
        """Decision 6: load_job is lenient about the payload (unknown yet);
        validate_job with the real flag decides."""
        job = J.load_job(b'[{"name": "a", "exec": {"path": "x"}, '
                         b'"file_list": [{"device": "stdin"}]}]')
        self.assertEqual(job[0]['devices'], [{'name': 'stdin'}])
        with self.assertRaises(J.JobError):
            J.validate_job(job, SYS, payload=False)
        with self.assertRaises(J.JobError):
            J.load_job(b'[{"name": "a", "exec": {"path": "x"}, '
                       b'"devices": [{"name": "stdin"}]}]', payload=False)


class NodesTest(unittest.TestCase):
    def test_count_and_connect(self):
        """Servlets.md rules 4, 6: count nodes, connect to each node."""
        job = [group('map', count=2, connect=['red']), group('red'),
               group('one', connect=['map'])]
        nodes = J.expand_nodes(job, 'AUTH_me')
        self.assertEqual([n.name for n in nodes],
                         ['map-1', 'map-2', 'red', 'one'])
        red = nodes[2]
        self.assertEqual([d for d, _ in red.ins], ['map-1', 'map-2'])
        self.assertEqual([d for d, _ in nodes[0].outs], ['red'])
        self.assertEqual([d for d, _ in nodes[3].outs], ['map-1', 'map-2'])
        self.assertEqual([n.index for n in nodes], [1, 2, 1, 1])

    def test_rule4_default_count(self):
        """Servlets.md rule 4: no count and no wildcard -> one node named
        after the group."""
        nodes = J.expand_nodes([group('solo')], 'A')
        self.assertEqual([n.name for n in nodes], ['solo'])

    def test_wildcard(self):
        """Servlets.md rules 3, 5 / decision 3: one node per match in
        listing order; write * = the matched text; listing by prefix."""
        ls = listing(['in1.txt', 'in2.txt', 'inx.dat', 'in3.txt'])
        job = [group('m', devices=[
            dev('input', 'swift://./data/in*.txt'),
            dev('output', 'swift://./res/*.out'),
            dev('stdout')])]
        nodes = J.expand_nodes(job, 'AUTH_me', ls)
        self.assertEqual(ls.calls, [('AUTH_me', 'data', 'in')])
        self.assertEqual([n.name for n in nodes], ['m-1', 'm-2', 'm-3'])
        self.assertEqual(nodes[1].devices['input']['swift'],
                         ('AUTH_me', 'data', 'in2.txt'))
        self.assertEqual(nodes[2].devices['input']['path'],
                         'swift://AUTH_me/data/in3.txt')
        self.assertEqual(nodes[0].devices['output']['swift'],
                         ('AUTH_me', 'res', '1.out'))
        self.assertEqual(nodes[2].devices['output']['path'],
                         'swift://AUTH_me/res/3.out')
        self.assertEqual(nodes[2].wildcards, ['3'])
        self.assertNotIn('swift', nodes[0].devices['stdout'])

    def test_wildcard_other_account_and_none(self):
        """Decision 3: one match still gives <name>-1; no match -> 404
        naming the path."""
        job = [group('m', devices=[dev('stdin', 'swift://AUTH_x/c/*.txt')])]
        nodes = J.expand_nodes(job, 'AUTH_me', lambda a, c, p: ['a.txt'])
        self.assertEqual([n.name for n in nodes], ['m-1'])
        self.assertEqual(nodes[0].devices['stdin']['swift'],
                         ('AUTH_x', 'c', 'a.txt'))
        with self.assertRaises(J.NotFound) as cm:
            J.expand_nodes(job, 'AUTH_me', lambda a, c, p: ['a.dat'])
        self.assertEqual(cm.exception.status, 404)
        self.assertIn('swift://AUTH_x/c/*.txt', str(cm.exception))
        self.assertIn("group 'm'", str(cm.exception))

    def test_servlets_example_sort(self):
        """Servlets.md example "Sort files": binary*.data -> sorted*.data,
        binary_log_345.data gives sorted_log_345.data; stderr without path
        stays immediate."""
        job = J.validate_job([{
            'name': 'sort',
            'exec': {'path': 'swift://my_account/exec/sort.nexe'},
            'devices': [
                {'name': 'stdin',
                 'path': 'swift://my_account/data/binary*.data'},
                {'name': 'stdout',
                 'path': 'swift://my_account/data/sorted*.data'},
                {'name': 'stderr'}],
            'args': '1048576'}])
        ls = listing(['binary_log_345.data', 'binary_log_346.data',
                      'binary_x.txt', 'sorted_log_1.data'])
        nodes = J.expand_nodes(job, 'AUTH_me', ls)
        self.assertEqual(ls.calls, [('my_account', 'data', 'binary')])
        self.assertEqual([n.name for n in nodes], ['sort-1', 'sort-2'])
        self.assertEqual(nodes[0].devices['stdin']['path'],
                         'swift://my_account/data/binary_log_345.data')
        self.assertEqual(nodes[0].devices['stdout']['path'],
                         'swift://my_account/data/sorted_log_345.data')
        self.assertEqual(nodes[1].devices['stdout']['swift'],
                         ('my_account', 'data', 'sorted_log_346.data'))
        self.assertEqual(nodes[0].devices['stderr'], {'name': 'stderr'})
        self.assertEqual(J.parse_exec_path(job[0]['exec']['path'], 'A'),
                         ('swift', 'my_account', 'exec', 'sort.nexe'))

    def test_servlets_example_mapreduce(self):
        """Servlets.md example "map-reduce": mappers connect to each other
        and to the 5 reducers, reducers to the manager; check each node's
        /dev/in and /dev/out names."""
        job = J.validate_job([
            {'name': 'mapper',
             'exec': {'path': 'swift://my_account/exec/maper.nexe'},
             'devices': [{'name': 'stdin',
                          'path': 'swift://my_account/data/binary*.data'},
                         {'name': 'stderr'}],
             'connect': ['mapper', 'reducer']},
            {'name': 'reducer',
             'exec': {'path': 'swift://my_account/exec/reducer.nexe'},
             'connect': ['manager'], 'count': 5},
            {'name': 'manager',
             'exec': {'path': 'swift://my_account/exec/manager.nexe'},
             'devices': [{'name': 'stdout', 'path':
                          'swift://my_account/data/mapred_result.data'},
                         {'name': 'stderr'}]}])
        ls = listing(['binary%d.data' % i for i in range(1, 4)])
        nodes = J.expand_nodes(job, 'A', ls)
        names = [n.name for n in nodes]
        self.assertEqual(names, ['mapper-1', 'mapper-2', 'mapper-3'] +
                         ['reducer-%d' % i for i in range(1, 6)] +
                         ['manager'])
        conns = J.connections(nodes)
        ins = {n: [] for n in names}
        outs = {n: [] for n in names}
        for c in conns:
            outs[c['src']].append(c['src_dev'])
            ins[c['dst']].append(c['dst_dev'])
        reducers_out = ['/dev/out/reducer-%d' % i for i in range(1, 6)]
        for m in (1, 2, 3):
            others = [k for k in (1, 2, 3) if k != m]
            self.assertEqual(ins['mapper-%d' % m],
                             ['/dev/in/mapper-%d' % k for k in others])
            self.assertEqual(outs['mapper-%d' % m],
                             ['/dev/out/mapper-%d' % k for k in others] +
                             reducers_out)
        for r in range(1, 6):
            self.assertEqual(ins['reducer-%d' % r],
                             ['/dev/in/mapper-%d' % k for k in (1, 2, 3)])
            self.assertEqual(outs['reducer-%d' % r], ['/dev/out/manager'])
        self.assertEqual(ins['manager'],
                         ['/dev/in/reducer-%d' % r for r in range(1, 6)])
        self.assertEqual(outs['manager'], [])
        self.assertEqual(len(conns), 3 * 2 + 3 * 5 + 5)
        # the compatibility lists agree
        self.assertEqual([n for n, _ in nodes[0].outs],
                         ['mapper-2', 'mapper-3'] +
                         ['reducer-%d' % i for i in range(1, 6)])
        self.assertEqual([n for n, _ in nodes[-1].ins],
                         ['reducer-%d' % r for r in range(1, 6)])

    def test_rule3_several_stars(self):
        """Servlets.md rule 3 / decision 3: several * in one path; each *
        of the write path takes the next matched text, in order."""
        ls = listing(['a_log_1.data', 'b_log_22.data', 'c_x_3.data'])
        job = [group('s', devices=[
            dev('stdin', 'swift://./d/*_log_*.data'),
            dev('stdout', 'swift://./o/*/*.txt'),
            dev('stderr', 'swift://./o/*.err')])]
        nodes = J.expand_nodes(job, 'A', ls)
        self.assertEqual([n.name for n in nodes], ['s-1', 's-2'])
        self.assertEqual(ls.calls, [('A', 'd', '')])
        self.assertEqual(nodes[1].wildcards, ['b', '22'])
        self.assertEqual(nodes[1].devices['stdout']['swift'],
                         ('A', 'o', 'b/22.txt'))
        self.assertEqual(nodes[0].devices['stderr']['swift'],
                         ('A', 'o', 'a.err'))

    def test_rule3_only_star_is_special(self):
        """Servlets.md rule 3: * is the only wildcard (`?` and `[` are
        plain characters); the whole name must match."""
        ls = listing(['a?1.txt', 'ab1.txt', 'a?1.txt.bak', '[x]a.txt'])
        job = [group('g', devices=[dev('stdin', 'swift://./c/a?*.txt')])]
        nodes = J.expand_nodes(job, 'A', ls)
        self.assertEqual([n.devices['stdin']['swift'][2] for n in nodes],
                         ['a?1.txt'])
        job = [group('g', devices=[dev('stdin', 'swift://./c/[x]*')])]
        nodes = J.expand_nodes(job, 'A', ls)
        self.assertEqual(nodes[0].wildcards, ['a.txt'])

    def test_rule3_capture_with_star(self):
        """Decision 3: a matched text containing `*` is put in the write
        path as is."""
        ls = listing(['x*y.dat'])
        job = [group('g', devices=[dev('stdin', 'swift://./c/*.dat'),
                                   dev('stdout', 'swift://./o/*.txt')])]
        nodes = J.expand_nodes(job, 'A', ls)
        self.assertEqual(nodes[0].devices['stdout']['swift'],
                         ('A', 'o', 'x*y.txt'))

    def test_rule3_empty_capture(self):
        """Decision 3: a write path whose object part resolves to nothing
        -> 400."""
        ls = listing(['.dat'])
        job = [group('g', devices=[dev('stdin', 'swift://./c/*.dat'),
                                   dev('stdout', 'swift://./o/*')])]
        with self.assertRaises(J.JobError) as cm:
            J.expand_nodes(job, 'A', ls)
        self.assertIn('empty', str(cm.exception))

    def test_rule3_count_ignored(self):
        """Servlets.md rule 3: count is ignored when a read wildcard
        exists."""
        job = [group('g', count=7, devices=[
            dev('stdin', 'swift://./c/*.txt')])]
        nodes = J.expand_nodes(job, 'A', listing(['a.txt', 'b.txt']))
        self.assertEqual([n.name for n in nodes], ['g-1', 'g-2'])

    def test_rule3_image_and_script_wildcards(self):
        """Servlets.md rule 5 / decision 3: image and script are read
        devices whose wildcard gives the nodes too."""
        for name in ('image', 'script'):
            job = [group('g', devices=[dev(name, 'swift://./c/*.tar')])]
            nodes = J.expand_nodes(job, 'A', listing(['a.tar', 'b.tar']))
            self.assertEqual([n.devices[name]['swift'][2] for n in nodes],
                             ['a.tar', 'b.tar'])

    def test_container_wildcard(self):
        """Decision 3: * in the container part when a container lister is
        given; captures of the container come first."""
        calls = []

        def clist(a, prefix):
            calls.append((a, prefix))
            return ['logs-2023', 'logs-2024', 'other']

        def olist(a, c, prefix):
            return {'logs-2023': ['jan.txt', 'feb.txt'],
                    'logs-2024': ['mar.txt']}[c]
        job = [group('g', devices=[
            dev('stdin', 'swift://./logs-*/*.txt'),
            dev('stdout', 'swift://./out/*-*.sum')])]
        nodes = J.expand_nodes(job, 'A', olist, clist)
        self.assertEqual(calls, [('A', 'logs-')])
        self.assertEqual([n.devices['stdin']['swift'] for n in nodes],
                         [('A', 'logs-2023', 'jan.txt'),
                          ('A', 'logs-2023', 'feb.txt'),
                          ('A', 'logs-2024', 'mar.txt')])
        self.assertEqual(nodes[2].devices['stdout']['swift'],
                         ('A', 'out', '2024-mar.sum'))
        with self.assertRaises(J.JobError) as cm:
            J.expand_nodes(job, 'A', olist)
        self.assertIn('container', str(cm.exception))

    def test_container_wildcard_fixed_object(self):
        """Decision 3: a container wildcard with a fixed object name: one
        node per container holding that object."""
        job = [group('g', devices=[dev('stdin', 'swift://./c*/data')])]
        nodes = J.expand_nodes(
            job, 'A', lambda a, c, p: {'c1': ['data', 'data2'],
                                       'c2': ['x']}[c],
            lambda a, p: ['c1', 'c2'])
        self.assertEqual([n.devices['stdin']['swift'] for n in nodes],
                         [('A', 'c1', 'data')])

    def test_container_capture_with_slash(self):
        """Decision 3: a matched object text with `/` cannot go in a
        container name."""
        job = [group('g', devices=[dev('stdin', 'swift://./c/*'),
                                   dev('stdout', 'swift://./o*/x')])]
        with self.assertRaises(J.JobError) as cm:
            J.expand_nodes(job, 'A', listing(['a/b']))
        self.assertIn('container', str(cm.exception))

    def test_no_lister(self):
        """Decision 3: wildcards need a lister."""
        job = [group('g', devices=[dev('stdin', 'swift://./c/*')])]
        with self.assertRaises(J.JobError) as cm:
            J.expand_nodes(job, 'A')
        self.assertIn('wildcard', str(cm.exception))

    def test_rule5_fixed_write_on_wildcard_group(self):
        """Servlets.md rule 5 / decision 3: a write path without * on a
        wildcard group of several nodes -> 400; with one match it is the
        node's path."""
        job = [group('x', devices=[dev('stdin', 'swift://./c/*'),
                                   dev('stdout', 'swift://./c/out')])]
        with self.assertRaises(J.JobError) as cm:
            J.expand_nodes(job, 'A', listing(['a', 'b']))
        msg = str(cm.exception)
        self.assertEqual(cm.exception.status, 400)
        for w in ("'stdout'", 'single path', '2 nodes', "group 'x'",
                  'use a wildcard'):
            self.assertIn(w, msg)
        nodes = J.expand_nodes(job, 'A', listing(['a']))
        self.assertEqual(nodes[0].devices['stdout']['swift'],
                         ('A', 'c', 'out'))

    def test_write_star_is_node_name(self):
        """Decision 3: without a read wildcard each * of a write path is the
        node name."""
        nodes = J.expand_nodes([group('m', count=2, devices=[
            dev('stdout', 'swift://./out/*.txt'),
            dev('output', 'swift://./o*/*-*')])], 'A')
        self.assertEqual(nodes[1].devices['stdout']['swift'],
                         ('A', 'out', 'm-2.txt'))
        self.assertEqual(nodes[0].devices['output']['swift'],
                         ('A', 'om-1', 'm-1-m-1'))
        self.assertEqual(nodes[0].wildcards, [])
        nodes = J.expand_nodes([group('solo', devices=[
            dev('stdout', 'swift://./out/*.txt')])], 'A')
        self.assertEqual(nodes[0].devices['stdout']['swift'],
                         ('A', 'out', 'solo.txt'))

    def test_node_attributes(self):
        """Servlets.md rules 2, 15, 17, 21 / decisions 5, 6: attach,
        location, replicate, payload flag, zvm and swift tuples."""
        job = J.validate_job([
            group('a', attach='input', location='here', devices=[
                dev('stdin'), dev('input', 'swift://./c/i'),
                dev('stdout', 'zvm://b:stdin'), dev('image')]),
            group('b')], payload=True)
        nodes = J.expand_nodes(job, 'A')
        a, b = nodes
        self.assertEqual((a.attach, a.location, a.replicate),
                         ('input', 'here', 1))
        self.assertEqual((b.attach, b.location, b.replicate),
                         ('default', None, 1))
        self.assertIs(a.devices['stdin']['payload'], True)
        self.assertNotIn('payload', a.devices['input'])
        self.assertNotIn('payload', a.devices['image'])
        self.assertEqual(a.devices['input']['swift'], ('A', 'c', 'i'))
        self.assertEqual(a.devices['stdout']['zvm'], ('b', '/dev/stdin'))
        self.assertNotIn('swift', a.devices['stdout'])
        self.assertEqual(list(a.devices),
                         ['stdin', 'input', 'stdout', 'image'])
        self.assertEqual(a.group['name'], 'a')
        self.assertEqual((a.index, a.wildcards, a.ins, a.outs),
                         (1, [], [], []))

    def test_node_name_clash(self):
        """Servlets.md format: node names are unique (group 'a' of 2 nodes
        and a group named 'a-1')."""
        with self.assertRaises(J.JobError) as cm:
            J.expand_nodes([group('a', count=2), group('a-1')], 'A')
        self.assertIn("'a-1'", str(cm.exception))


class ConnectionsTest(unittest.TestCase):
    def conns(self, job, names=(), payload=False):
        job = J.validate_job(job, SYS, payload=payload)
        nodes = J.expand_nodes(job, 'A', listing(list(names)))
        return [(c['src'], c['src_dev'], c['dst'], c['dst_dev'])
                for c in J.connections(nodes)]

    def test_rule6_self_connect(self):
        """Servlets.md rule 6 / decision 4: a group of several nodes
        connects to itself: each node to every other node."""
        self.assertEqual(self.conns([group('a', count=3, connect=['a'])]), [
            ('a-1', '/dev/out/a-2', 'a-2', '/dev/in/a-1'),
            ('a-1', '/dev/out/a-3', 'a-3', '/dev/in/a-1'),
            ('a-2', '/dev/out/a-1', 'a-1', '/dev/in/a-2'),
            ('a-2', '/dev/out/a-3', 'a-3', '/dev/in/a-2'),
            ('a-3', '/dev/out/a-1', 'a-1', '/dev/in/a-3'),
            ('a-3', '/dev/out/a-2', 'a-2', '/dev/in/a-3')])

    def test_rule6_self_connect_one_node(self):
        """Servlets.md rule 6 / decision 4: a wildcard group with one match
        cannot connect to itself (400)."""
        job = [group('a', connect=['a'], devices=[
            dev('stdin', 'swift://./c/*')])]
        with self.assertRaises(J.JobError) as cm:
            self.conns(job, ['x'])
        self.assertIn("group 'a' has one node", str(cm.exception))
        self.assertEqual(len(self.conns(job, ['x', 'y'])), 2)

    def test_rule6_one_way(self):
        """Servlets.md rule 6: connect is one-way, source -> destination."""
        self.assertEqual(self.conns([group('a', connect=['b']), group('b')]),
                         [('a', '/dev/out/b', 'b', '/dev/in/a')])

    def test_url_zvm_connection(self):
        """Url.md Zvm URL / decision 4: zvm://host:device connects this
        node's /dev/<device> to host's device, without `connect`."""
        self.assertEqual(self.conns([
            group('a', devices=[dev('stdout', 'zvm://b:stdin'),
                                dev('output', 'zvm://b:/dev/in/data')]),
            group('b')]), [
            ('a', '/dev/stdout', 'b', '/dev/stdin'),
            ('a', '/dev/output', 'b', '/dev/in/data')])

    def test_url_zvm_replaces_default(self):
        """Decision 4 / configparser: with connect to the same group, the
        zvm device replaces the default /dev/out -> /dev/in channel; other
        targets keep the defaults."""
        self.assertEqual(self.conns([
            group('a', connect=['b', 'c'],
                  devices=[dev('stdout', 'zvm://b:stdin')]),
            group('b'), group('c')]), [
            ('a', '/dev/stdout', 'b', '/dev/stdin'),
            ('a', '/dev/out/c', 'c', '/dev/in/a')])

    def test_url_zvm_many_to_one(self):
        """Decision 4: each node of a group to a device of one node: two
        connections arriving at the same device -> 400."""
        job = [group('m', count=2, devices=[
            dev('stderr', 'zvm://log:/dev/in/*')]), group('log')]
        # without captures, * is the destination's name: both arrive at
        # /dev/in/log
        with self.assertRaises(J.JobError) as cm:
            self.conns(job)
        msg = str(cm.exception)
        self.assertIn("node 'log'", msg)
        self.assertIn('/dev/in/log', msg)
        self.assertIn('m-1 -> log', msg)
        self.assertIn('m-2 -> log', msg)
        job = [group('m', count=2, devices=[dev('stdout', 'zvm://r:stdin')]),
               group('r')]
        with self.assertRaises(J.JobError) as cm:
            self.conns(job)
        self.assertIn('/dev/stdin', str(cm.exception))

    def test_url_zvm_wildcard_destination(self):
        """Decision 4: * in the destination device is resolved with the
        destination node's captures."""
        job = [group('src', devices=[dev('stdout', 'zvm://dst:/dev/in/*')]),
               group('dst', devices=[dev('stdin', 'swift://./c/part*.dat'),
                                     dev('stdout')])]
        with self.assertRaises(J.JobError) as cm:
            # src's /dev/stdout would feed two connections
            self.conns(job, ['part1.dat', 'part2.dat'])
        self.assertIn('/dev/stdout', str(cm.exception))
        self.assertEqual(self.conns(job, ['part7.dat']), [
            ('src', '/dev/stdout', 'dst-1', '/dev/in/7')])
        job[1]['count'] = 1
        job[1]['devices'] = [dev('stdout')]
        self.assertEqual(self.conns(job), [
            ('src', '/dev/stdout', 'dst', '/dev/in/dst')])

    def test_url_zvm_wildcard_too_many(self):
        """Decision 4: more * in the destination device than the
        destination's captures -> 400."""
        job = [group('src', devices=[dev('stdout', 'zvm://dst:/dev/*/*')]),
               group('dst', devices=[dev('stdin', 'swift://./c/p*')])]
        with self.assertRaises(J.JobError) as cm:
            self.conns(job, ['p1'])
        self.assertIn('2 *', str(cm.exception))

    def test_url_zvm_self_group(self):
        """Decision 4: zvm:// to its own group of several nodes: to every
        other node; a group of one node -> 400."""
        job = [group('p', count=2, devices=[
            dev('output', 'zvm://p:/dev/in/peer')])]
        self.assertEqual(self.conns(job), [
            ('p-1', '/dev/output', 'p-2', '/dev/in/peer'),
            ('p-2', '/dev/output', 'p-1', '/dev/in/peer')])
        job[0]['count'] = 1
        with self.assertRaises(J.JobError) as cm:
            self.conns(job)
        self.assertIn('itself', str(cm.exception))

    def test_arrives_at_own_device(self):
        """Decision 4: a connection arriving at a device the destination
        node already has (its stdin object) -> 400."""
        job = [group('a', devices=[dev('stdout', 'zvm://b:stdin')]),
               group('b', devices=[dev('stdin', 'swift://./c/x')])]
        with self.assertRaises(J.JobError) as cm:
            self.conns(job)
        self.assertIn("node 'b'", str(cm.exception))
        self.assertIn('already a device', str(cm.exception))

    def test_default_and_zvm_collide(self):
        """Decision 4: a zvm device arriving at /dev/in/<src> while a
        default channel already arrives there -> 400."""
        job = [group('a', connect=['c']),
               group('b', devices=[dev('stdout', 'zvm://c:/dev/in/a')]),
               group('c')]
        with self.assertRaises(J.JobError) as cm:
            self.conns(job)
        self.assertIn('/dev/in/a', str(cm.exception))


class CdrTest(unittest.TestCase):
    def test_format(self):
        """Response.md: X-Nexe-Cdr-Line layout."""
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
