#!/usr/bin/python3
"""Initialise (if needed) and serve a Keystone on 127.0.0.1, in one process.

usage: KEYSTONE_ADMIN_PASSWORD=PW keystone-server.py DIR PORT

DIR holds keystone.conf (written by devcloud/keystone-aio).  On first
start: fernet and credential key repositories (what `keystone-manage
fernet_setup/credential_setup` write: key files 0 and 1, each a urlsafe
base64 32-byte Fernet key, dir 0700, files 0600), `db_sync`, sqlite WAL
mode, then on every start `bootstrap` (idempotent: it also updates the
identity endpoint URLs when PORT changed, and the admin password).  All
keystone-manage steps run in this process (keystone.cmd.cli.main, with
CONF.clear() between them), which saves ~2.5 s of imports per step; then
the public WSGI application is served with a threaded wsgiref server (what
/usr/bin/keystone-wsgi-public does, single-threaded) on 127.0.0.1:PORT.
"""
import base64
import os
import socket
import socketserver
import sqlite3
import sys
import time
import wsgiref.simple_server as wss


def log(msg):
    sys.stderr.write('keystone-server: %s\n' % msg)
    sys.stderr.flush()


def make_key_repo(path):
    if os.path.isdir(path) and os.listdir(path):
        return
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    for name in ('0', '1'):
        fd = os.open(os.path.join(path, name),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(base64.urlsafe_b64encode(os.urandom(32)).decode())


class ThreadingWSGIServer(socketserver.ThreadingMixIn, wss.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(wss.WSGIRequestHandler):
    def address_string(self):  # no reverse DNS
        return self.client_address[0]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    d = os.path.abspath(sys.argv[1])
    port = int(sys.argv[2])
    password = os.environ.get('KEYSTONE_ADMIN_PASSWORD', '')
    if not password:
        sys.exit('KEYSTONE_ADMIN_PASSWORD is not set')
    conf = os.path.join(d, 'keystone.conf')
    db = os.path.join(d, 'keystone.db')
    url = 'http://127.0.0.1:%d/v3' % port
    t0 = time.time()
    # hold the port through the ~15 s of bootstrap: bound but not listening,
    # so clients are refused at once and no other socket can be given it
    hold = socket.socket()
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        hold.bind(('127.0.0.1', port))
    except OSError as e:
        sys.exit('cannot bind 127.0.0.1:%d: %s' % (port, e))
    os.environ['OS_KEYSTONE_CONFIG_DIR'] = d
    os.environ.pop('OS_KEYSTONE_CONFIG_FILES', None)
    make_key_repo(os.path.join(d, 'fernet-keys'))
    make_key_repo(os.path.join(d, 'credential-keys'))
    from keystone.cmd import cli
    marker = os.path.join(d, 'db_synced')
    if not os.path.exists(marker):
        for f in (db, db + '-wal', db + '-shm'):
            if os.path.exists(f):
                os.unlink(f)
        cli.main(argv=['keystone-manage', '--config-file', conf, 'db_sync'])
        cli.CONF.clear()
        # without WAL, writes under concurrent reads fail: "database is locked"
        c = sqlite3.connect(db)
        mode = c.execute('PRAGMA journal_mode=WAL;').fetchone()[0]
        c.close()
        if mode.lower() != 'wal':
            sys.exit('could not switch %s to WAL (got %s)' % (db, mode))
        open(marker, 'w').close()
        log('db_sync done in %.2f s' % (time.time() - t0))
    cli.main(argv=['keystone-manage', '--config-file', conf, 'bootstrap',
                   '--bootstrap-username', 'admin',
                   '--bootstrap-password', password,
                   '--bootstrap-project-name', 'admin',
                   '--bootstrap-role-name', 'admin',
                   '--bootstrap-service-name', 'keystone',
                   '--bootstrap-region-id', 'RegionOne',
                   '--bootstrap-public-url', url,
                   '--bootstrap-internal-url', url,
                   '--bootstrap-admin-url', url])
    cli.CONF.clear()
    # the WSGI app parses sys.argv itself; keystone-manage's positional
    # `command` option must be gone, or it wants a subcommand
    cli.CONF.unregister_opt(cli.command_opt)
    sys.argv[1:] = []
    # bootstrap loaded the backends and locked the provider registry
    from keystone.common import provider_api
    provider_api.ProviderAPIs._clear_registry_instances()
    log('bootstrap done in %.2f s' % (time.time() - t0))
    from keystone.server.wsgi import initialize_public_application
    app = initialize_public_application()
    hold.close()
    server = wss.make_server('127.0.0.1', port, app,
                             server_class=ThreadingWSGIServer,
                             handler_class=QuietHandler)
    log('serving %s after %.2f s' % (url, time.time() - t0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
