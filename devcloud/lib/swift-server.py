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
        from swift.container.updater import ContainerUpdater
        return run_daemon(ContainerUpdater, conf_file, verbose=True)
    sys.exit('unknown server kind: %s' % kind)


if __name__ == '__main__':
    sys.exit(main())
