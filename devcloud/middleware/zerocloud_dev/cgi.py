"""Request-based CGI variables (ZeroCloud's CGIEnvironment.md): built once
per request, the same for every node of its job (and of a chain). The
per-node ones (SCRIPT_NAME, SCRIPT_FILENAME, LOCAL_*) are added where the
nodes are prepared; exec.env wins over all of them.

Credentials never reach a node: X-Auth-*, X-Storage-*, X-Service-Token,
X-Subject-Token, Authorization, Proxy-Authorization and Cookie are left
out, and so are what the auth middleware and the proxy add about the
identity (X-Service-Catalog, X-Identity-Status, ..., X-Backend-*, sysmeta).
"""
from urllib.parse import quote

SECRET_HEADERS = ('HTTP_AUTHORIZATION', 'HTTP_PROXY_AUTHORIZATION',
                  'HTTP_COOKIE', 'HTTP_X_SERVICE_TOKEN',
                  'HTTP_X_SUBJECT_TOKEN', 'HTTP_X_SERVICE_CATALOG',
                  'HTTP_X_IDENTITY_STATUS', 'HTTP_X_SERVICE_IDENTITY_STATUS')
SECRET_PREFIXES = ('HTTP_X_AUTH_', 'HTTP_X_STORAGE_', 'HTTP_X_BACKEND_',
                   'HTTP_X_ACCOUNT_SYSMETA_', 'HTTP_X_CONTAINER_SYSMETA_',
                   'HTTP_X_OBJECT_SYSMETA_', 'HTTP_X_OBJECT_TRANSIENT_SYSMETA_',
                   'HTTP_X_SERVICE_', 'HTTP_X_USER', 'HTTP_X_PROJECT',
                   'HTTP_X_TENANT', 'HTTP_X_DOMAIN', 'HTTP_X_ROLE',
                   'HTTP_X_IS_ADMIN_PROJECT', 'HTTP_X_SYSTEM_SCOPE',
                   'HTTP_X_TRUST', 'HTTP_X_APP_CRED')


def header_vars(env):
    """HTTP_* of the request's headers, secrets left out."""
    out = {}
    for k, v in env.items():
        if not k.startswith('HTTP_') or not isinstance(v, str):
            continue
        if k in SECRET_HEADERS or k.startswith(SECRET_PREFIXES):
            continue
        out[k] = v
    return out


def request_vars(env, form, timeout=None):
    """The CGI variables of one request (form: a forms.Form)."""
    out = header_vars(env)
    # the execute version the request runs as (ZeroCloud sets it for
    # /open and /api requests that did not send it)
    out['HTTP_X_ZEROVM_EXECUTE'] = env.get('HTTP_X_ZEROVM_EXECUTE') or \
        form.execute
    if timeout is not None:
        out['HTTP_X_ZEROVM_TIMEOUT'] = '%g' % timeout
    host = env.get('HTTP_HOST', '')
    name, port = host, ''
    if ':' in host and not host.endswith(']'):
        name, port = host.rsplit(':', 1)
    out['GATEWAY_INTERFACE'] = 'CGI/1.1'
    out['SERVER_NAME'] = env.get('SERVER_NAME') or name or 'localhost'
    out['SERVER_PORT'] = str(env.get('SERVER_PORT') or port or '80')
    out['SERVER_PROTOCOL'] = env.get('SERVER_PROTOCOL') or 'HTTP/1.0'
    out['SERVER_SOFTWARE'] = 'zerocloud'
    # PATH_INFO: the request's path without its version ('/open', '/api',
    # '/v1'), as ZeroCloud's proxy hands it on
    path = env.get('PATH_INFO', '')
    rest = path.split('/', 2)
    out['PATH_INFO'] = '/' + rest[2] if len(rest) > 2 else '/'
    out['REMOTE_USER'] = env.get('REMOTE_USER') or ''
    out['REQUEST_METHOD'] = env.get('REQUEST_METHOD', 'GET')
    qs = env.get('QUERY_STRING', '')
    uri = env.get('RAW_PATH_INFO') or quote(
        env.get('SCRIPT_NAME', '') + path)
    out['REQUEST_URI'] = uri + ('?' + qs if qs else '')
    out['QUERY_STRING'] = qs
    if env.get('CONTENT_TYPE'):
        out['CONTENT_TYPE'] = env['CONTENT_TYPE']
    if env.get('CONTENT_LENGTH') not in (None, ''):
        out['CONTENT_LENGTH'] = str(env['CONTENT_LENGTH'])
    return out
