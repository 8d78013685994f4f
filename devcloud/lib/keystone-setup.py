#!/usr/bin/python3
"""Create (idempotently) the users, projects and catalog a devcloud needs,
with plain HTTP calls to Keystone's v3 API (no openstack CLI: too slow).

usage: keystone-setup.py  (settings from the environment, see main())

Prints KEY=VALUE lines (the env of devcloud/keystone-aio) to stdout.
Only ever talks to 127.0.0.1 (proxies from the environment are ignored).
"""
import json
import os
import shlex
import sys
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Api:
    def __init__(self, base):
        self.base = base.rstrip('/')
        self.token = None

    def call(self, method, path, body=None, ok=(200, 201, 204), raw=False):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header('Accept', 'application/json')
        if data is not None:
            req.add_header('Content-Type', 'application/json')
        if self.token:
            req.add_header('X-Auth-Token', self.token)
        try:
            with OPENER.open(req, timeout=30) as resp:
                status, headers, text = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, text = e.code, e.headers, e.read()
        if status not in ok:
            sys.exit('keystone-setup: %s %s -> %d %s'
                     % (method, path, status, text[:500].decode('utf-8', 'replace')))
        if raw:
            return status, headers, text
        return json.loads(text) if text else {}

    def login(self, user, password, project, domain='default'):
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user, 'domain': {'id': domain},
                'password': password}}},
            'scope': {'project': {'name': project,
                                  'domain': {'id': domain}}}}}
        _, headers, text = self.call('POST', '/auth/tokens', body, ok=(201,),
                                     raw=True)
        self.token = headers['X-Subject-Token']
        return json.loads(text)

    def find(self, coll, key, **query):
        q = '&'.join('%s=%s' % (k, urllib.request.quote(v))
                     for k, v in query.items())
        items = self.call('GET', '/%s?%s' % (coll, q))[key]
        return items[0] if items else None

    def ensure(self, coll, key, single, query, body):
        found = self.find(coll, key, **query)
        if found:
            return found
        return self.call('POST', '/' + coll, {single: body})[single]


def main():
    e = os.environ
    url = e['KS_URL']                       # http://127.0.0.1:K/v3
    api = Api(url)
    api.login('admin', e['KS_ADMIN_PASSWORD'], 'admin')

    roles = {}
    for r in ('admin', 'member', 'reader', 'ResellerAdmin'):
        roles[r] = api.ensure('roles', 'roles', 'role', {'name': r},
                              {'name': r})['id']

    def project(name, domain_id):
        return api.ensure('projects', 'projects', 'project',
                          {'name': name, 'domain_id': domain_id},
                          {'name': name, 'domain_id': domain_id,
                           'enabled': True})['id']

    def user(name, domain_id, password, project_id, role):
        u = api.find('users', 'users', name=name, domain_id=domain_id)
        if u:
            # keep the password what the env says, even if it changed
            api.call('PATCH', '/users/' + u['id'],
                     {'user': {'password': password, 'enabled': True}})
        else:
            u = api.call('POST', '/users', {'user': {
                'name': name, 'domain_id': domain_id, 'password': password,
                'enabled': True, 'default_project_id': project_id}})['user']
        api.call('PUT', '/projects/%s/users/%s/roles/%s'
                 % (project_id, u['id'], roles[role]))
        return u['id']

    default = 'default'
    service_pid = project('service', default)
    swift_uid = user(e.get('KS_SWIFT_USER', 'swift'), default,
                     e['KS_SWIFT_PASSWORD'], service_pid, 'admin')

    dom = api.ensure('domains', 'domains', 'domain', {'name': 'zpmdom'},
                     {'name': 'zpmdom', 'enabled': True})['id']
    zpm_pid = project('zpmproj', default)
    zpm_uid = user('zpmuser', default, e['KS_USER_PASSWORD'], zpm_pid,
                   'member')
    dom_pid = project('domproj', dom)
    dom_uid = user('domuser', dom, e['KS_DOM_PASSWORD'], dom_pid, 'member')

    swift_url = e.get('KS_SWIFT_URL', '')
    if swift_url:
        svc = api.ensure('services', 'services', 'service',
                         {'type': 'object-store'},
                         {'type': 'object-store', 'name': 'swift',
                          'enabled': True})['id']
        eps = api.call('GET', '/endpoints?service_id=' + svc)['endpoints']
        have = {ep['interface']: ep for ep in eps}
        for iface in ('public', 'internal', 'admin'):
            ep = have.get(iface)
            if ep is None:
                api.call('POST', '/endpoints', {'endpoint': {
                    'service_id': svc, 'interface': iface, 'url': swift_url,
                    'region_id': 'RegionOne', 'enabled': True}})
            elif ep['url'] != swift_url:
                api.call('PATCH', '/endpoints/' + ep['id'],
                         {'endpoint': {'url': swift_url}})

    out = [
        ('OS_AUTH_URL', url),
        ('OS_USERNAME', 'zpmuser'),
        ('OS_PASSWORD', e['KS_USER_PASSWORD']),
        ('OS_PROJECT_NAME', 'zpmproj'),
        ('OS_USER_DOMAIN_NAME', 'Default'),
        ('OS_PROJECT_DOMAIN_NAME', 'Default'),
        ('OS_REGION_NAME', 'RegionOne'),
        ('KS_USER_ID', zpm_uid),
        ('KS_PROJECT_ID', zpm_pid),
        ('KS_DOM_USERNAME', 'domuser'),
        ('KS_DOM_PASSWORD', e['KS_DOM_PASSWORD']),
        ('KS_DOM_PROJECT_NAME', 'domproj'),
        ('KS_DOM_USER_DOMAIN_NAME', 'zpmdom'),
        ('KS_DOM_PROJECT_DOMAIN_NAME', 'zpmdom'),
        ('KS_DOM_DOMAIN_ID', dom),
        ('KS_DOM_USER_ID', dom_uid),
        ('KS_DOM_PROJECT_ID', dom_pid),
        ('KS_ADMIN_USERNAME', 'admin'),
        ('KS_ADMIN_PASSWORD', e['KS_ADMIN_PASSWORD']),
        ('KS_ADMIN_PROJECT_NAME', 'admin'),
        ('KS_SWIFT_USERNAME', e.get('KS_SWIFT_USER', 'swift')),
        ('KS_SWIFT_PASSWORD', e['KS_SWIFT_PASSWORD']),
        ('KS_SWIFT_USER_ID', swift_uid),
        ('KS_SERVICE_PROJECT_ID', service_pid),
    ]
    if swift_url:
        sub = {'project_id': zpm_pid, 'tenant_id': zpm_pid}
        out.append(('KS_SWIFT_URL_TEMPLATE', swift_url))
        out.append(('KS_STORAGE_URL',
                    swift_url.replace('$(', '%(') % sub))
        sub = {'project_id': dom_pid, 'tenant_id': dom_pid}
        out.append(('KS_DOM_STORAGE_URL',
                    swift_url.replace('$(', '%(') % sub))
    # values a shell would mangle are single-quoted (shlex.quote), so the
    # file can be sourced by sh; plain URLs, ids and names stay bare
    for k, v in out:
        print('%s=%s' % (k, shlex.quote(v)))


if __name__ == '__main__':
    main()
