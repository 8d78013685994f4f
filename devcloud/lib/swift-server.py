#!/usr/bin/python3
"""Start one Swift server with swift.conf read from a chosen directory.

usage: swift-server.py SWIFT_DIR KIND CONF_FILE

KIND is proxy, account, container, object (WSGI servers) or
container-updater.  Debian's swift-*-server scripts always read
/etc/swift/swift.conf (swift.common.utils.SWIFT_CONF_FILE is a constant;
only swift-recon has a --swift-dir switch), so this launcher points
SWIFT_CONF_FILE at SWIFT_DIR/swift.conf *before* the modules that parse it
at import time (storage_policy, constraints) are imported.  Logging goes to
stderr only (the servers' syslog handler is silenced).
"""
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    swift_dir, kind, conf_file = sys.argv[1:]
    from swift.common import utils
    utils.SWIFT_CONF_FILE = os.path.join(swift_dir, 'swift.conf')
    utils.HASH_PATH_PREFIX = b''
    utils.HASH_PATH_SUFFIX = b''
    utils.validate_configuration()
    # only stderr (-v): no syslog traffic from a throwaway cloud
    utils.ThreadSafeSysLogHandler.emit = lambda self, record: None
    from swift.common import storage_policy, constraints
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()
    if kind in ('proxy', 'account', 'container', 'object'):
        from swift.common.wsgi import run_wsgi
        return run_wsgi(conf_file, kind + '-server', verbose=True)
    if kind == 'container-updater':
        from swift.common.daemon import run_daemon
        return run_daemon(changed_only_updater(), conf_file,
                          section_name='container-updater', verbose=True)
    sys.exit('unknown server kind: %s' % kind)


def changed_only_updater():
    """A ContainerUpdater whose sweep reads only the changed databases.

    Swift's own run_forever forks a process for every partition directory
    that holds a container (hundreds after a few hundred deploys), four
    at a time, each of which patches eventlet anew and opens every
    database it holds: a sweep then took more CPU than its interval, and
    the four processes kept both cores busy (issue 16, item 6).  This one
    sweeps in its own process and hands a database to Swift's
    process_container (which reports its counts to the account when they
    changed) only when the database or its .pending file changed since
    the last sweep: an idle sweep is a walk of the disk and a stat per
    file.  A report that failed, or a sweep while an account is
    suppressed after failures, leaves the database unmarked, so the next
    sweep tries again, as Swift's does.
    """
    import time
    from eventlet import Timeout
    from swift.common.utils import dump_recon_cache, eventlet_monkey_patch
    from swift.container.updater import ContainerUpdater

    def signature(path):
        sig = []
        for p in (path, path + '.pending'):
            try:
                st = os.stat(p)
                sig.append((st.st_mtime_ns, st.st_size))
            except OSError:
                sig.append(None)
        return tuple(sig)

    class ChangedOnlyUpdater(ContainerUpdater):
        def run_forever(self, *args, **kwargs):
            eventlet_monkey_patch()
            seen = {}
            while True:
                begin = time.time()
                for account, until in list(
                        self.account_suppressions.items()):
                    if until < begin:
                        del self.account_suppressions[account]
                self.get_account_ring().get_nodes('')
                now, changed = {}, 0
                for db in self.databases():
                    sig = signature(db)
                    if seen.get(db) != sig:
                        changed += 1
                        if not self.update(db):
                            continue
                        self.rate_limiter.wait()
                    # the signature from before: our own write (the
                    # reported counts) shows as a change once, then none
                    now[db] = sig
                seen = now
                elapsed = time.time() - begin
                if changed:
                    self.logger.info('Container update sweep: %d of %d '
                                     'databases changed, %.02fs',
                                     changed, len(seen), elapsed)
                    dump_recon_cache({'container_updater_sweep': elapsed},
                                     self.rcache, self.logger)
                if elapsed < self.interval:
                    time.sleep(self.interval - elapsed)

        def databases(self):
            for path in self.get_paths():
                for root, _dirs, files in os.walk(path):
                    for name in files:
                        if name.endswith('.db'):
                            yield os.path.join(root, name)

        def update(self, db):
            """process_container; False if it must be tried again"""
            failures = self.failures
            try:
                self.process_container(db)
            except (Exception, Timeout) as e:
                self.logger.exception('Error processing container %s: %s',
                                      db, e)
                return False
            return self.failures == failures and not self.account_suppressions
    return ChangedOnlyUpdater


if __name__ == '__main__':
    sys.exit(main())
