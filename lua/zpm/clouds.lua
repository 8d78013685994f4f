--- OpenStack's `clouds.yaml`, as openstacksdk (and so python-openstackclient)
-- reads it: the first `clouds.yaml` (or `clouds.yml`, `clouds.json`) found
-- in `$OS_CLIENT_CONFIG_FILE`, the current directory,
-- `$XDG_CONFIG_HOME/openstack` (default `~/.config/openstack`),
-- `/etc/xdg/openstack` and `/etc/openstack`; the first `secure.yaml` found
-- in `$OS_CLIENT_SECURE_FILE` and the same directories is merged over it
-- (its values win, mappings merged key by key). A cloud's settings are
-- mapped onto zpm's auth settings (`zpm.auth.SETTINGS` keys).
-- @module zpm.clouds
local yaml = require("zpm.yaml")
local errors = require("zpm.errors")

local M = {}

--- File name endings tried in each directory, in order.
M.SUFFIXES = { ".yaml", ".yml", ".json" }

--- Where a cloud's `auth` keys go (zpm.auth setting keys).
M.AUTH_KEYS = {
  auth_url = "os_auth_url",
  username = "os_username",
  user_id = "os_user_id",
  password = "os_password",
  project_name = "os_project_name",
  project_id = "os_project_id",
  tenant_name = "os_tenant_name",
  tenant_id = "os_tenant_id",
  user_domain_name = "os_user_domain_name",
  user_domain_id = "os_user_domain_id",
  project_domain_name = "os_project_domain_name",
  project_domain_id = "os_project_domain_id",
  application_credential_id = "os_application_credential_id",
  application_credential_secret = "os_application_credential_secret",
  application_credential_name = "os_application_credential_name",
  token = "os_auth_token",
}

--- Where a cloud's own keys go, in order (the first of two for one
-- setting wins).
M.CLOUD_KEYS = {
  { "auth_type", "os_auth_type" },
  { "region_name", "os_region_name" },
  { "interface", "os_interface" },
  { "endpoint_type", "os_interface" },
  { "identity_api_version", "auth_version" },
  { "cacert", "os_cacert" },
}

local function set(v)
  return v ~= nil and v ~= ""
end

--- The directories searched, in order.
-- @param getenv function(name) (default os.getenv)
-- @param cwd the current directory (default ".": messages then say
--   `./clouds.yaml`)
-- @return list of directory paths
function M.search_path(getenv, cwd)
  getenv = getenv or os.getenv
  local dirs = { cwd or "." }
  local home = getenv("HOME")
  local xdg = getenv("XDG_CONFIG_HOME")
  if set(xdg) then
    dirs[#dirs + 1] = xdg .. "/openstack"
  end
  if set(home) and (home .. "/.config") ~= xdg then
    dirs[#dirs + 1] = home .. "/.config/openstack"
  end
  dirs[#dirs + 1] = "/etc/xdg/openstack"
  dirs[#dirs + 1] = "/etc/openstack"
  return dirs
end

local function exists(path)
  local f = io.open(path, "r")
  if f then
    f:close()
    return true
  end
  return false
end

-- The first existing file: `env`'s file, then base..suffix in each
-- directory. Returns the path and the list of paths looked at.
local function first(base, env, getenv, cwd)
  local tried = {}
  local candidates = {}
  local named = getenv(env)
  if set(named) then
    candidates[1] = named
  end
  for _, dir in ipairs(M.search_path(getenv, cwd)) do
    for _, suffix in ipairs(M.SUFFIXES) do
      candidates[#candidates + 1] = dir .. "/" .. base .. suffix
    end
  end
  for _, path in ipairs(candidates) do
    tried[#tried + 1] = path
    if exists(path) then
      return path, tried
    end
  end
  return nil, tried
end

--- The files openstacksdk would read.
-- @param getenv function(name) (default os.getenv)
-- @param cwd the current directory (default ".")
-- @return clouds file path or nil, secure file path or nil, and the list
--   of clouds file paths looked at
function M.find(getenv, cwd)
  getenv = getenv or os.getenv
  local clouds, tried = first("clouds", "OS_CLIENT_CONFIG_FILE", getenv, cwd)
  local secure = first("secure", "OS_CLIENT_SECURE_FILE", getenv, cwd)
  return clouds, secure, tried
end

-- "path:line:col: " for member k of t (or t itself), or "path: ".
local function where(path, t, k)
  local line, col = yaml.position(t, k)
  if line then
    return ("%s:%d:%d: "):format(path, line, col)
  end
  return path .. ": "
end

-- Load one file and check its top: a mapping whose `clouds` is a
-- mapping of mappings. A file with no document (empty, or comments
-- only) holds no clouds, as openstacksdk reads it.
local function load(path)
  local doc, err, code = yaml.load_file(path)
  if doc == nil then
    return nil, err, code or errors.YAML
  end
  if doc == yaml.null then
    return { clouds = {} }
  end
  if not yaml.is_mapping(doc) then
    return nil, where(path, doc) .. "expected a mapping with 'clouds'",
      errors.INVALID
  end
  local clouds = doc.clouds
  if clouds == nil then
    return { clouds = {} }
  end
  if not yaml.is_mapping(clouds) then
    return nil, where(path, doc, "clouds") .. "'clouds' must be a mapping, "
      .. "not a " .. yaml.type_name(clouds), errors.INVALID
  end
  return doc
end

-- b merged over a (mappings key by key; b's other values win); each
-- value remembers its file and position for messages, in `origin`.
local function merge(a, b, path, origin, prefix)
  for _, k in ipairs(yaml.keys(b)) do
    local v = b[k]
    local key = prefix .. tostring(k)
    if yaml.is_mapping(v) then
      if not yaml.is_mapping(a[k]) then
        a[k] = {}
      end
      origin[key] = origin[key] or where(path, b, k)
      merge(a[k], v, path, origin, key .. ".")
    else
      a[k] = v
      origin[key] = where(path, b, k)
    end
  end
end

local function copy(t, path, origin, prefix)
  local out = {}
  merge(out, t, path, origin, prefix)
  return out
end

-- A scalar setting as a string (YAML numbers, as identity_api_version: 3,
-- are fine), or nil and a message.
local function scalar(v, at, name)
  if type(v) == "string" or type(v) == "number" then
    return tostring(v)
  end
  return nil, ("%s%s: expected a string, not a %s"):format(at or "", name,
                                                           yaml.type_name(v))
end

--- The zpm auth settings of one cloud.
-- @param name the cloud's name (`--os-cloud`, `$OS_CLOUD`)
-- @param getenv function(name) (default os.getenv)
-- @param cwd the current directory (default ".")
-- @return settings by `zpm.auth` key (strings; `insecure` true when the
--   cloud says `verify: false`), and the path of the clouds file read;
--   or nil, a message and a code: "notfound" (no clouds file, or no
--   such cloud in it), "yaml" (`path:line:col: ...`), "io" or "invalid"
--   (a value of the wrong type, at its file:line:col)
function M.cloud(name, getenv, cwd)
  getenv = getenv or os.getenv
  local path, secure = M.find(getenv, cwd)
  if not path then
    local named = getenv("OS_CLIENT_CONFIG_FILE")
    return nil, ("--os-cloud %s: no clouds.yaml (or clouds.yml, "
      .. "clouds.json) in %s%s"):format(name,
        table.concat(M.search_path(getenv, cwd), ", "),
        set(named) and (", and no %s ($OS_CLIENT_CONFIG_FILE)")
          :format(named) or ""), errors.NOTFOUND
  end
  local doc, err, code = load(path)
  if not doc then
    return nil, err, code
  end
  local origin = {}
  local entry = doc.clouds[name]
  local cloud
  if entry ~= nil then
    if not yaml.is_mapping(entry) then
      return nil, where(path, doc.clouds, name) .. ("cloud '%s' must be a "
        .. "mapping, not a %s"):format(name, yaml.type_name(entry)),
        errors.INVALID
    end
    cloud = copy(entry, path, origin, "")
  end
  if secure then
    local sdoc, serr, scode = load(secure)
    if not sdoc then
      return nil, serr, scode
    end
    local sentry = sdoc.clouds[name]
    if sentry ~= nil then
      if not yaml.is_mapping(sentry) then
        return nil, where(secure, sdoc.clouds, name) .. ("cloud '%s' must "
          .. "be a mapping, not a %s"):format(name, yaml.type_name(sentry)),
          errors.INVALID
      end
      cloud = cloud or {}
      merge(cloud, sentry, secure, origin, "")
    end
  end
  if not cloud then
    local names = yaml.keys(doc.clouds)
    for i, n in ipairs(names) do
      names[i] = tostring(n)
    end
    return nil, ("cloud '%s' not found in %s (clouds: %s)"):format(name,
      path, #names > 0 and table.concat(names, ", ") or "none"),
      errors.NOTFOUND
  end
  if cloud.profile ~= nil or cloud.cloud ~= nil then
    return nil, (origin.profile or origin.cloud or "") .. ("cloud '%s': "
      .. "vendor profiles ('profile', 'cloud') are not supported; give "
      .. "its auth_url in 'auth'"):format(name), errors.INVALID
  end
  local out = {}
  for _, pair in ipairs(M.CLOUD_KEYS) do
    local key, target = pair[1], pair[2]
    if cloud[key] ~= nil and out[target] == nil then
      local v, verr = scalar(cloud[key], origin[key], key)
      if not v then
        return nil, verr, errors.INVALID
      end
      out[target] = v
    end
  end
  if cloud.verify == false then
    out.insecure = true
  elseif type(cloud.verify) == "string" and out.os_cacert == nil then
    out.os_cacert = cloud.verify
  end
  local auth = cloud.auth
  if auth ~= nil and not yaml.is_mapping(auth) then
    return nil, (origin.auth or "") .. ("cloud '%s': 'auth' must be a "
      .. "mapping, not a %s"):format(name, yaml.type_name(auth)),
      errors.INVALID
  end
  for key, target in pairs(M.AUTH_KEYS) do
    if auth and auth[key] ~= nil then
      local v, verr = scalar(auth[key], origin["auth." .. key],
                             "auth." .. key)
      if not v then
        return nil, verr, errors.INVALID
      end
      out[target] = v
    end
  end
  -- Keystone v2 calls a project a tenant
  out.os_tenant_name = out.os_tenant_name or out.os_project_name
  out.os_tenant_id = out.os_tenant_id or out.os_project_id
  return out, path
end

return M
