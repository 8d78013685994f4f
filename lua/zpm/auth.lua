--- Swift authentication as python-swiftclient users know it: v1
-- (tempauth-style), Keystone v2.0, Keystone v3 (password or application
-- credential), or a pre-authenticated storage URL and token. Settings
-- come from command-line values first, then the environment variables
-- python-swiftclient and python-openstackclient read, then the cloud of
-- `clouds.yaml` named by `os_cloud` (`--os-cloud`, `$OS_CLOUD`; see
-- `zpm.clouds`).
-- @module zpm.auth
local json = require("zpm.json")
local errors = require("zpm.errors")
local log = require("zpm.log")

-- zpm.swift.is_2xx (this module is below zpm.swift); zpm.core.http is
-- looked up when a response is there, so loading this module loads no
-- libcurl.
local function is_2xx(status)
  return require("zpm.core").http.is_2xx(status)
end

local M = {}

--- The message for "no usable auth settings" (python-swiftclient's,
-- extended with v3 and pre-authenticated use).
M.NO_AUTH_MSG = [[
Auth version 1.0 requires ST_AUTH, ST_USER, and ST_KEY environment variables
to be set or overridden with -A, -U, or -K.

Auth version 2.0 requires OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, and
OS_TENANT_NAME OS_TENANT_ID to be set or overridden with --os-auth-url,
--os-username, --os-password, --os-tenant-name or os-tenant-id. Note:
adding "-V 2" is necessary for this.

Auth version 3 requires OS_AUTH_URL, OS_USERNAME (or OS_USER_ID),
OS_PASSWORD, and OS_PROJECT_NAME (or OS_PROJECT_ID) to be set or
overridden with --os-auth-url, --os-username, --os-password and
--os-project-name; domains default to Default (--os-user-domain-name,
--os-project-domain-name). Note: adding "-V 3" selects it explicitly.

An application credential (Keystone v3) is --os-auth-type
v3applicationcredential with --os-auth-url, --os-application-credential-id
and --os-application-credential-secret (OS_AUTH_TYPE, OS_AUTH_URL,
OS_APPLICATION_CREDENTIAL_ID, OS_APPLICATION_CREDENTIAL_SECRET).

A cloud of clouds.yaml can be named with --os-cloud (OS_CLOUD).

A pre-authenticated storage URL and token can be given with
--os-storage-url and --os-auth-token (OS_STORAGE_URL, OS_AUTH_TOKEN).]]

--- Every setting: key, command-line flags, environment variables, help.
M.SETTINGS = {
  { "auth_version", "-V --auth-version",
    { "ST_AUTH_VERSION", "OS_AUTH_VERSION", "OS_IDENTITY_API_VERSION" },
    "Swift auth version: 1, 2 or 3; guessed from the settings if unset" },
  { "auth", "-A --auth", { "ST_AUTH" },
    "(Auth v1.0) URL for obtaining an auth token" },
  { "user", "-U --user", { "ST_USER" },
    "(Auth v1.0) User name for obtaining an auth token" },
  { "key", "-K --key", { "ST_KEY" },
    "(Auth v1.0) Key for obtaining an auth token" },
  { "os_auth_url", "--os-auth-url", { "OS_AUTH_URL" },
    "(Auth v2.0/v3) OpenStack auth URL" },
  { "os_username", "--os-username", { "OS_USERNAME" },
    "(Auth v2.0/v3) OpenStack username" },
  { "os_user_id", "--os-user-id", { "OS_USER_ID" },
    "(Auth v3) OpenStack user ID" },
  { "os_password", "--os-password", { "OS_PASSWORD" },
    "(Auth v2.0/v3) OpenStack password" },
  { "os_tenant_name", "--os-tenant-name", { "OS_TENANT_NAME" },
    "(Auth v2.0) OpenStack tenant name" },
  { "os_tenant_id", "--os-tenant-id", { "OS_TENANT_ID" },
    "(Auth v2.0) OpenStack tenant ID" },
  { "os_project_name", "--os-project-name", { "OS_PROJECT_NAME" },
    "(Auth v3) OpenStack project name" },
  { "os_project_id", "--os-project-id", { "OS_PROJECT_ID" },
    "(Auth v3) OpenStack project ID" },
  { "os_user_domain_name", "--os-user-domain-name",
    { "OS_USER_DOMAIN_NAME" }, "(Auth v3) Domain name of the user" },
  { "os_user_domain_id", "--os-user-domain-id", { "OS_USER_DOMAIN_ID" },
    "(Auth v3) Domain ID of the user" },
  { "os_project_domain_name", "--os-project-domain-name",
    { "OS_PROJECT_DOMAIN_NAME" }, "(Auth v3) Domain name of the project" },
  { "os_project_domain_id", "--os-project-domain-id",
    { "OS_PROJECT_DOMAIN_ID" }, "(Auth v3) Domain ID of the project" },
  { "os_auth_type", "--os-auth-type", { "OS_AUTH_TYPE" },
    "(Auth v2.0/v3) password, or v3applicationcredential" },
  { "os_application_credential_id", "--os-application-credential-id",
    { "OS_APPLICATION_CREDENTIAL_ID" },
    "(Auth v3) Application credential ID" },
  { "os_application_credential_name", "--os-application-credential-name",
    { "OS_APPLICATION_CREDENTIAL_NAME" },
    "(Auth v3) Application credential name (with the user)" },
  { "os_application_credential_secret",
    "--os-application-credential-secret",
    { "OS_APPLICATION_CREDENTIAL_SECRET" },
    "(Auth v3) Application credential secret" },
  { "os_cloud", "--os-cloud", { "OS_CLOUD" },
    "Cloud name in clouds.yaml (settings not given otherwise)" },
  { "os_region_name", "--os-region-name", { "OS_REGION_NAME" },
    "(Auth v2.0/v3) Region of the object-store endpoint" },
  { "os_interface", "--os-interface --os-endpoint-type",
    { "OS_INTERFACE", "OS_ENDPOINT_TYPE" },
    "(Auth v2.0/v3) Endpoint interface: public, internal or admin" },
  { "os_storage_url", "--os-storage-url", { "OS_STORAGE_URL" },
    "Pre-authenticated storage URL (skips auth, with --os-auth-token)" },
  { "os_auth_token", "--os-auth-token", { "OS_AUTH_TOKEN" },
    "Pre-authenticated token (with --os-storage-url)" },
  { "os_cacert", "--os-cacert", { "OS_CACERT" },
    "CA certificate bundle to verify the server with" },
}

--- Connection options beside the auth settings (python-swiftclient's
-- Connection arguments): `insecure`, `retries` (default
-- `zpm.swift.RETRIES`, 5), `starting_backoff` and `max_backoff`
-- (seconds: the wait before the first retry, doubling up to the cap;
-- default 1 and 64), `retry_on_ratelimit`
-- (retry 429 and 498 too; default true), `snet` (use the storage URL's
-- service-net host: "snet-" before its host name, default false) and
-- `ssl_compression` (accepted for compatibility; TLS compression is never
-- used); and zpm's deadlines (seconds, each request with all its retries
-- and waits): `timeout` (every request; default `$ZPM_TIMEOUT`, else
-- `TIMEOUT` for storage requests and `AUTH_TIMEOUT` for auth requests)
-- and `auth_timeout` (auth requests; default `timeout`).
M.CONNECTION_OPTIONS = { "insecure", "retries", "starting_backoff",
                         "max_backoff", "retry_on_ratelimit", "snet",
                         "ssl_compression", "timeout", "auth_timeout" }

--- Connection options that the environment sets when the caller does not.
M.CONNECTION_ENV = { timeout = "ZPM_TIMEOUT" }

--- The deadline of an auth request (seconds, all attempts and waits
-- together) when neither `auth_timeout` nor `timeout` is set: an auth
-- endpoint answers in well under a second, or is broken. Each attempt
-- gets a third of it, so that a hung connection is retried twice.
M.AUTH_TIMEOUT = 30

--- The deadline of a storage request (seconds) when `timeout` is not
-- set: all its attempts and the waits between them together, counting
-- only the time it moves less than `MIN_RATE`. Generous, it is there to
-- end a hung or dripping server, not a slow network; and shorter than the
-- low-speed windows of the default retries (6 x 60 s), so that a hung
-- server ends at it, with its message.
M.TIMEOUT = 300

--- While a storage request moves at least this many bytes/s (body bytes
-- received, or sent and acknowledged), its deadline's clock stops: a
-- large upload going steadily is never cut (a 5 GiB segment at 1 MiB/s
-- takes 85 minutes), while a drip of bytes is.
M.MIN_RATE = 16 * 1024

local V3_HINTS = { "os_project_name", "os_project_id", "os_user_domain_name",
                   "os_user_domain_id", "os_project_domain_name",
                   "os_project_domain_id" }

local function set(v)
  return v ~= nil and v ~= ""
end

--- The auth types of `--os-auth-type` (keystoneauth's plugin names) and
-- the auth version each implies.
M.AUTH_TYPES = { password = false, v2password = "2.0", v3password = "3.0",
                 v3applicationcredential = "3.0" }

--- Merge command-line values over the environment, and both over the
-- cloud of `clouds.yaml` that `os_cloud` names (`zpm.clouds.cloud`).
-- @param values table of setting key -> value (e.g. parsed arguments);
--   `prompt`, a function(label) returning the secret (or nil, a message
--   and a code), is called for the password, the v1 key or the
--   application credential secret, whichever the settings need, and its
--   answer wins over every other source
-- @param getenv function(name) (default os.getenv)
-- @param cwd where `./clouds.yaml` is looked for (default ".")
-- @return settings table, or nil, a message and a code (from
--   `zpm.clouds.cloud`, or the prompt's)
function M.settings(values, getenv, cwd)
  getenv = getenv or os.getenv
  local out = {}
  for _, s in ipairs(M.SETTINGS) do
    local key = s[1]
    local v = values and values[key]
    if not set(v) then
      for _, name in ipairs(s[3]) do
        local e = getenv(name)
        if set(e) then
          v = e
          break
        end
      end
    end
    out[key] = set(v) and v or nil
  end
  for _, key in ipairs(M.CONNECTION_OPTIONS) do
    if values and values[key] ~= nil then
      out[key] = values[key]
    end
  end
  for key, name in pairs(M.CONNECTION_ENV) do
    local e = getenv(name)
    if out[key] == nil and set(e) then
      out[key] = tonumber(e) or e   -- a bad value is refused by connect
    end
  end
  local cloud
  if out.os_cloud then
    local err, code
    cloud, err, code = require("zpm.clouds").cloud(out.os_cloud, getenv,
                                                   cwd)
    if not cloud then
      return nil, err, code
    end
    -- settings complete on the command line or in the environment
    -- (v1 ones, say) are not turned into another kind by the cloud's
    -- version or auth type
    local complete = M.guess_version(values, getenv) ~= nil
    for _, s in ipairs(M.SETTINGS) do
      local key = s[1]
      if out[key] == nil and set(cloud[key]) and not (complete
          and (key == "auth_version" or key == "os_auth_type")) then
        out[key] = cloud[key]
      end
    end
    if out.insecure == nil and cloud.insecure then
      out.insecure = true
    end
  end
  local cli = values
  if values and values.prompt then
    local key, label = M.prompt_target(out)
    local v, err, code = values.prompt(label)
    if not v then
      return nil, err, code
    end
    out[key] = v
    cli = setmetatable({ [key] = v }, { __index = values })
  end
  out.guessed_version = M.guess_version(cli, getenv, cloud)
  return out
end

--- How the settings authenticate with Keystone: "application_credential"
-- when `os_auth_type` says v3applicationcredential, or when no auth type
-- is given and an application credential is, with no password and no
-- complete v1 settings; else "password".
function M.method(s)
  local t = s.os_auth_type
  if t == "v3applicationcredential" then
    return "application_credential"
  end
  if not set(t) and (set(s.os_application_credential_id)
                     or set(s.os_application_credential_name))
      and not set(s.os_password)
      and not (set(s.auth) and set(s.user) and set(s.key)) then
    return "application_credential"
  end
  return "password"
end

--- Which secret `--prompt` asks for.
-- @param s settings (as `settings` makes them, before the prompt)
-- @return the setting key and the prompt's label: the application
--   credential secret, the v1 key (v1 settings: `auth` or `user`, or
--   auth version 1), or else the password
function M.prompt_target(s)
  if M.method(s) == "application_credential" then
    return "os_application_credential_secret",
      "Application credential secret"
  end
  local v = s.auth_version and M.normalize_version(s.auth_version)
  if v == "1.0" or (not v and (set(s.auth) or set(s.user))
                    and not set(s.os_auth_url)) then
    return "key", "Key"
  end
  return "os_password", "Password"
end

--- An auth version as the original zpm normalised it (`str(float(v))`):
-- "1", "1.0" and 1 are "1.0"; likewise "0.0" (no auth), "2.0", "3.0".
-- @return the version text, or nil for anything else
function M.normalize_version(v)
  local n = tonumber(v)
  if n == 0 or n == 1 or n == 2 or n == 3 then
    return ("%d.0"):format(n)
  end
  return nil
end

local function all(s, keys)
  for _, k in ipairs(keys) do
    if not set(s[k]) then
      return false
    end
  end
  return true
end

local function any(s, keys)
  for _, k in ipairs(keys) do
    if set(s[k]) then
      return true
    end
  end
  return false
end

local function v1_complete(s)
  return all(s, { "auth", "user", "key" })
end

local function v2_complete(s)
  return all(s, { "os_auth_url", "os_username", "os_password" })
    and any(s, { "os_tenant_name", "os_tenant_id" })
end

local function v3_complete(s)
  return all(s, { "os_auth_url", "os_password" })
    and any(s, { "os_username", "os_user_id" })
end

-- The version complete settings give: v1 first (python-swiftclient's
-- rule when v1 and v2 are both complete), then v3 when a project or
-- domain is named, then v2.
local function guess(s)
  if v1_complete(s) then
    return "1.0"
  elseif v3_complete(s) and any(s, V3_HINTS) then
    return "3.0"
  elseif v2_complete(s) then
    return "2.0"
  end
  return nil
end

--- Guess the auth version as the original zpm did: from the command
-- line's values alone first, then from the environment's alone
-- (settings split between the two guess nothing here).
-- @param values command-line values by setting key
-- @param getenv function(name) (default os.getenv)
-- @param cloud settings from `clouds.yaml` (`zpm.clouds.cloud`), guessed
--   from last
-- @return "1.0", "2.0", "3.0", or nil
function M.guess_version(values, getenv, cloud)
  getenv = getenv or os.getenv
  local cli, env = {}, {}
  for _, setting in ipairs(M.SETTINGS) do
    local key = setting[1]
    cli[key] = values and values[key]
    for _, name in ipairs(setting[3]) do
      env[key] = env[key] or (set(getenv(name)) and getenv(name) or nil)
    end
  end
  return guess(cli) or guess(env) or (cloud and guess(cloud)) or nil
end

local function appcred_complete(s)
  return all(s, { "os_auth_url", "os_application_credential_secret" })
    and (set(s.os_application_credential_id)
         or (set(s.os_application_credential_name)
             and any(s, { "os_username", "os_user_id" })))
end

--- Which auth to use: the explicit version, else the guess of
-- `guess_version` (kept in `settings` as `guessed_version`), else what
-- the command line and environment together complete.
-- @return "1.0", "2.0", "3.0" or "preauth", or nil, a message and
--   "invalid"
function M.version(s)
  if set(s.os_storage_url) and set(s.os_auth_token) then
    return "preauth"
  end
  local implied = M.AUTH_TYPES[s.os_auth_type or "password"]
  if implied == nil then
    return nil, ("unsupported auth type '%s' (use password, v2password, "
      .. "v3password or v3applicationcredential)"):format(s.os_auth_type),
      errors.INVALID
  end
  local explicit = s.auth_version or implied or nil
  if M.method(s) == "application_credential" then
    if explicit and M.normalize_version(explicit) ~= "3.0" then
      return nil, ("application credentials need Keystone v3, not auth "
        .. "version '%s'"):format(tostring(explicit)), errors.INVALID
    end
    if not appcred_complete(s) then
      return nil, "Application credential auth requires `--os-auth-url`, "
        .. "`--os-application-credential-secret` and "
        .. "`--os-application-credential-id` (or "
        .. "`--os-application-credential-name` with `--os-username`).",
        errors.INVALID
    end
    return "3.0"
  end
  if explicit then
    local v = M.normalize_version(explicit)
    if v == "0.0" then
      v = nil
    end
    if not v then
      return nil, ("unsupported auth version '%s' (use 1, 2 or 3)")
        :format(tostring(explicit)), errors.INVALID
    end
    if v == "1.0" and not v1_complete(s) then
      return nil, "Version 1 auth requires `--auth`, `--user`, and `--key`.",
        errors.INVALID
    elseif v == "2.0" and not v2_complete(s) then
      return nil, "Version 2 auth requires `--os-auth-url`, "
        .. "`--os-username`, `--os-password`, and `--os-tenant-name`.",
        errors.INVALID
    elseif v == "3.0" and not v3_complete(s) then
      return nil, "Version 3 auth requires `--os-auth-url`, "
        .. "`--os-username` (or `--os-user-id`) and `--os-password`.",
        errors.INVALID
    end
    return v
  end
  local guessed = s.guessed_version or guess(s)
  if guessed then
    return guessed
  end
  return nil, M.NO_AUTH_MSG, errors.INVALID
end

local function trim_slash(url)
  return (url:gsub("/+$", ""))
end

-- The time limits of an auth request (session:request fields): the
-- deadline for all attempts, a third of it each, on a wall clock (an
-- auth exchange is small: no rate stops the clock).
local function limits(s)
  local deadline = tonumber(s.auth_timeout) or tonumber(s.timeout)
    or M.AUTH_TIMEOUT
  return deadline, deadline / 3
end


local function auth_v1(session, s)
  local deadline, timeout = limits(s)
  local resp, err, code = session:request({
    method = "GET", url = s.auth,
    headers = { ["X-Auth-User"] = s.user, ["X-Auth-Key"] = s.key },
    retries = s.retries, deadline = deadline, timeout = timeout,
    min_rate = 0 })
  if not resp then
    return nil, err, code
  end
  if not is_2xx(resp.status) then
    return errors.http("Auth GET", resp, s.auth)
  end
  local url = resp.headers["x-storage-url"]
  local token = resp.headers["x-auth-token"] or resp.headers["x-storage-token"]
  if not url or not token then
    return nil, ("Auth GET %s: the response has no X-Storage-Url or "
      .. "X-Auth-Token"):format(s.auth), errors.PROTOCOL
  end
  return { url = url, token = token }
end

local INTERFACE_V2 = { public = "publicURL", internal = "internalURL",
                       admin = "adminURL", publicURL = "publicURL",
                       internalURL = "internalURL", adminURL = "adminURL" }

local function post_json(session, url, body, s)
  local text = assert(json.encode(body))
  local deadline, timeout = limits(s)
  local resp, err, code = session:request({
    method = "POST", url = url, body = text,
    headers = { ["Content-Type"] = "application/json",
                ["Accept"] = "application/json" },
    retries = s.retries, idempotent = true, deadline = deadline,
    timeout = timeout, min_rate = 0 })
  if not resp then
    return nil, err, code
  end
  if not is_2xx(resp.status) then
    return errors.http("Auth POST", resp, url)
  end
  local doc, derr = json.decode(resp.body or "")
  if type(doc) ~= "table" then
    return nil, ("Auth POST %s: the response is not JSON (%s)")
      :format(url, tostring(derr)), errors.PROTOCOL
  end
  return resp, doc
end

local function auth_v2(session, s)
  local url = trim_slash(s.os_auth_url) .. "/tokens"
  local auth = { passwordCredentials = { username = s.os_username,
                                         password = s.os_password } }
  if set(s.os_tenant_id) then
    auth.tenantId = s.os_tenant_id
  else
    auth.tenantName = s.os_tenant_name
  end
  local resp, doc, code, detail = post_json(session, url, { auth = auth },
                                            s)
  if not resp then
    return nil, doc, code, detail
  end
  local access = type(doc.access) == "table" and doc.access or {}
  local token = type(access.token) == "table" and access.token.id
  if type(token) ~= "string" then
    return nil, ("Auth POST %s: no token in the response"):format(url),
      errors.PROTOCOL
  end
  local want = INTERFACE_V2[s.os_interface or "public"] or "publicURL"
  for _, service in ipairs(access.serviceCatalog or {}) do
    if service.type == "object-store" then
      for _, ep in ipairs(service.endpoints or {}) do
        if (not set(s.os_region_name) or ep.region == s.os_region_name)
            and type(ep[want]) == "string" then
          return { url = ep[want], token = token }
        end
      end
    end
  end
  return nil, ("no object-store endpoint (%s%s) in the service catalog")
    :format(want, set(s.os_region_name) and ", region "
            .. s.os_region_name or ""), errors.NOTFOUND
end

local function domain(name, id)
  if set(id) then
    return { id = id }
  elseif set(name) then
    return { name = name }
  end
  return { id = "default" }
end

-- The user of a v3 password or a named application credential.
local function v3_user(s)
  if set(s.os_user_id) then
    return { id = s.os_user_id }
  end
  return { name = s.os_username,
           domain = domain(s.os_user_domain_name, s.os_user_domain_id) }
end

local function auth_v3(session, s)
  local url = trim_slash(s.os_auth_url) .. "/auth/tokens"
  local method = M.method(s)
  log.info("authenticating at %s (Keystone v3, %s)", url, method)
  local auth
  if method == "application_credential" then
    -- scoped by the credential itself: no scope may be asked for
    local cred = { secret = s.os_application_credential_secret }
    if set(s.os_application_credential_id) then
      cred.id = s.os_application_credential_id
    else
      cred.name = s.os_application_credential_name
      cred.user = v3_user(s)
    end
    auth = { identity = { methods = json.array({ "application_credential" }),
                          application_credential = cred } }
  else
    local user = v3_user(s)
    user.password = s.os_password
    auth = { identity = { methods = json.array({ "password" }),
                          password = { user = user } } }
  end
  if method == "application_credential" then
    -- nothing to scope
  elseif set(s.os_project_id) then
    auth.scope = { project = { id = s.os_project_id } }
  elseif set(s.os_project_name) then
    auth.scope = { project = {
      name = s.os_project_name,
      domain = domain(s.os_project_domain_name, s.os_project_domain_id) } }
  end
  local resp, doc, code, detail = post_json(session, url, { auth = auth },
                                            s)
  if not resp then
    return nil, doc, code, detail
  end
  local token = resp.headers["x-subject-token"]
  if not token then
    return nil, ("Auth POST %s: no X-Subject-Token in the response")
      :format(url), errors.PROTOCOL
  end
  local interface = (s.os_interface or "public"):gsub("URL$", "")
  local catalog = type(doc.token) == "table" and doc.token.catalog or {}
  for _, service in ipairs(catalog) do
    if service.type == "object-store" then
      for _, ep in ipairs(service.endpoints or {}) do
        if ep.interface == interface and (not set(s.os_region_name)
            or ep.region == s.os_region_name
            or ep.region_id == s.os_region_name) then
          return { url = ep.url, token = token }
        end
      end
    end
  end
  return nil, ("no object-store endpoint (%s%s) in the service catalog")
    :format(interface, set(s.os_region_name) and ", region "
            .. s.os_region_name or ""), errors.NOTFOUND
end

--- Authenticate.
-- @param session a `zpm.core.http` session
-- @param s settings (from `settings`)
-- @param version from `version`
-- @return { url = storage URL, token = token, version = version },
--   or nil, a message, a code ("http" with detail `status`, `reason`,
--   `url` when the auth server said no; "network"; "protocol" for an
--   answer without a token; "notfound" for no storage endpoint) and
--   detail
function M.authenticate(session, s, version)
  local result, err, code, detail
  if version == "preauth" then
    result = { url = s.os_storage_url, token = s.os_auth_token }
  elseif version == "1.0" then
    result, err, code, detail = auth_v1(session, s)
  elseif version == "2.0" then
    result, err, code, detail = auth_v2(session, s)
  elseif version == "3.0" then
    result, err, code, detail = auth_v3(session, s)
  else
    return nil, ("unknown auth version '%s'"):format(tostring(version)),
      errors.INVALID
  end
  if not result then
    return nil, err, code, detail
  end
  result.version = version
  return result
end

return M
