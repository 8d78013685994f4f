--- zpm: the ZeroVM Package Manager as a Lua library.
-- Everything the `zpm` command does is a call here, with the same
-- behaviour, without printing or exiting: functions return their result,
-- or `nil, message, code [, detail]` (`zpm.errors`: a one-line message, a
-- short code such as "invalid", "io", "http", "network", and a detail
-- table such as { status = 404 }). Log messages go to the handler set
-- with `zpm.log.set_handler`.
--
--    local zpm = require("zpm")
--    local created = assert(zpm.new_project("hello"))
--    local result = assert(zpm.bundle("hello"))
--    print(result.path)
-- @module zpm
local M = {}

--- Version of zpm (semantic versioning).
M.VERSION = "0.4.0"

--- The logger (`zpm.log`).
M.log = require("zpm.log")

--- Where a zapp keeps its job description.
M.SYSTEM_MAP_ZAPP_PATH = "boot/system.map"

-- NO_AUTH_MSG and EXEC_TABLE_HEADER come from their modules on first use
-- (zpm.summary loads the C module: `zpm version` need not).
local LAZY = {
  --- The message for "no usable auth settings" (`zpm.auth.NO_AUTH_MSG`).
  NO_AUTH_MSG = function() return require("zpm.auth").NO_AUTH_MSG end,
  --- The summary table's column titles (`zpm.summary.COLUMNS`).
  EXEC_TABLE_HEADER = function() return require("zpm.summary").COLUMNS end,
}
setmetatable(M, { __index = function(_, key)
  local get = LAZY[key]
  return get and get() or nil
end })

--- Create a project (see `zpm.project.create`).
-- @param location directory (created if missing; default ".")
-- @param opts { template = "python", with_ui = false }
-- @return list of created paths, or nil, message, code
function M.new_project(location, opts)
  return require("zpm.project").create(location, opts)
end

--- Find the project root: the first directory holding zapp.yaml, walking
-- up from start (default: the current directory).
-- @return path, or nil, a message and "notfound"
function M.find_project_root(start)
  return require("zpm.project").find_root(start)
end

--- Load and validate a zapp.yaml file.
-- @return zapp table, or nil, "file:line:col: key.path: message" and
--   "invalid" ("yaml": not YAML; "io": not readable)
function M.load_zapp(path)
  return require("zpm.zapp").load(path)
end

--- The job description (boot/system.map) for a loaded zapp.
-- @return job table and its JSON text, or nil, a message and "invalid"
function M.job(zapp)
  local job = require("zpm.job")
  local the_job, err, code = job.generate(zapp)
  if not the_job then
    return nil, err, code
  end
  return the_job, job.encode(the_job)
end

--- Bundle a project into a zapp.
-- @param root project directory, or nil to search up from the current one
-- @param opts { refresh_deps, output, level, threads, progress (true: a
--   progress bar on stderr) }
-- @return { path, name, members, warnings }, or nil, message, code
function M.bundle(root, opts)
  if root == nil then
    local err, code
    root, err, code = M.find_project_root()
    if not root then
      return nil, err, code
    end
  end
  return require("zpm.bundle").bundle(root, opts)
end

-- The workflow methods of a connection. `zpm.swift` speaks Swift and
-- knows nothing above it; `zpm.deploy` and `zpm.execute` use it. The two
-- layers meet here, where connections are made.
local workflow = {}

--- Deploy a zapp (see `zpm.deploy.deploy`).
-- @return { url, index, image, objects, job, segments }, or nil, a
--   message, a code and detail ({ objects = ..., status = ... })
function workflow:deploy(target, zapp_path, opts)
  return require("zpm.deploy").deploy(self, target, zapp_path, opts)
end

--- The objects a deploy writes (see `zpm.deploy.uploads`; the
-- original's `_generate_uploads`).
-- @return list of { path, body, content_type, query }, or nil,
--   message, code, detail
function workflow:uploads(target, zapp_path, opts)
  return require("zpm.deploy").uploads(self, target, zapp_path, opts)
end

--- What a deploy would write, as data, writing nothing (see
-- `zpm.deploy.plan`; `zpm deploy --dry-run`).
-- @return the plan, or nil, message, code, detail
function workflow:plan(target, zapp_path, opts)
  return require("zpm.deploy").plan(self, target, zapp_path, opts)
end

--- The deployed zapps of a container, or of the account (see
-- `zpm.lifecycle.list`).
-- @return list of { target, zapp, version, bytes, segments, public,
--   last_modified, ... }, or nil, message, code, detail
function workflow:list(container)
  return require("zpm.lifecycle").list(self, container)
end

--- Remove a deployment whole (see `zpm.lifecycle.undeploy`).
-- @return { target, removed, containers, recorded }, or nil, message,
--   code, detail ({ removed, left })
function workflow:undeploy(target)
  return require("zpm.lifecycle").undeploy(self, target)
end

--- Execute a job (see `zpm.execute.execute`).
-- @return { status, reason, headers, body, failed }, or nil, message,
--   code, detail
function workflow:execute(opts)
  return require("zpm.execute").execute(self, opts)
end

-- A `zpm.swift` connection with the workflow methods.
local function connect(settings)
  local swift = require("zpm.swift")
  for name, method in pairs(workflow) do
    swift.Connection[name] = method
  end
  return swift.connect(settings)
end

--- Connect to Swift / ZeroCloud. Nothing is sent until the connection
-- is used; `conn:auth()` authenticates explicitly.
-- @param opts auth settings by their long option names with '_' (auth,
--   user, key, os_auth_url, os_username, os_password, os_tenant_name,
--   os_project_name, os_user_domain_name, ..., os_storage_url,
--   os_auth_token, auth_version, os_auth_type,
--   os_application_credential_id, os_application_credential_secret,
--   os_cloud) plus insecure, retries and `prompt` (see
--   `zpm.auth.settings`); settings not given are read from the
--   environment (ST_AUTH, OS_AUTH_URL, OS_CLOUD, ...), then from the
--   cloud of clouds.yaml that os_cloud names
-- @return connection with `auth()`, `deploy(target, zapp, opts)`,
--   `execute(opts)`, `get_container`, `put_container`, `head_object`,
--   `get_object`, `put_object`, `post_job`; or nil, a message and
--   "invalid" (or clouds.yaml's failure: "notfound", "yaml", "io"; or
--   the prompt's)
function M.connect(opts)
  local auth = require("zpm.auth")
  local settings, err, code = auth.settings(opts or {})
  if not settings then
    return nil, err, code
  end
  return connect(settings)
end

--- A connection as the original's `ZeroCloudConnection(authurl, user,
-- key, ...)` made it: positional credentials, python-swiftclient's
-- keyword arguments in `opts` (`retries`, `preauthurl`, `preauthtoken`,
-- `snet`, `starting_backoff`, `max_backoff`, `tenant_name`, `os_options`
-- (`tenant_id`, `tenant_name`, `project_name`, `project_id`, `user_id`,
-- `user_domain_name`, `user_domain_id`, `project_domain_name`,
-- `project_domain_id`, `region_name`, `endpoint_type`, `interface`,
-- `object_storage_url`, `auth_token`), `auth_version` (default "1"),
-- `cacert`, `insecure`, `ssl_compression`, `retry_on_ratelimit` (default
-- false, as in python-swiftclient)), and, like the original, nothing read
-- from the environment.
-- @return connection (as `connect`'s), or nil, a message and "invalid"
function M.zerocloud_connection(authurl, user, key, opts)
  opts = opts or {}
  local os_options = opts.os_options or {}
  local version = require("zpm.auth").normalize_version(
    opts.auth_version or "1")
  local v = {
    auth_version = version, insecure = opts.insecure,
    retries = opts.retries, starting_backoff = opts.starting_backoff,
    max_backoff = opts.max_backoff, snet = opts.snet,
    ssl_compression = opts.ssl_compression,
    retry_on_ratelimit = opts.retry_on_ratelimit or false,
    os_cacert = opts.cacert,
    os_storage_url = opts.preauthurl or os_options.object_storage_url,
    os_auth_token = opts.preauthtoken or os_options.auth_token,
    os_tenant_name = opts.tenant_name or os_options.tenant_name,
    os_tenant_id = os_options.tenant_id,
    os_project_name = os_options.project_name,
    os_project_id = os_options.project_id,
    os_user_id = os_options.user_id,
    os_user_domain_name = os_options.user_domain_name,
    os_user_domain_id = os_options.user_domain_id,
    os_project_domain_name = os_options.project_domain_name,
    os_project_domain_id = os_options.project_domain_id,
    os_region_name = os_options.region_name,
    os_interface = os_options.interface or os_options.endpoint_type,
  }
  if version == "1.0" then
    v.auth, v.user, v.key = authurl, user, key
  else
    v.os_auth_url, v.os_username, v.os_password = authurl, user, key
  end
  local auth = require("zpm.auth")
  return connect(auth.settings(v, function()
    return nil
  end))
end

--- Guess the auth version from command-line values, then from the
-- environment (the original's `_guess_auth_version`; see
-- `zpm.auth.guess_version`).
-- @param values settings by key (auth, user, key, os_auth_url, ...)
-- @param getenv function(name) (default os.getenv)
-- @return "1.0", "2.0", "3.0", or nil
function M.guess_auth_version(values, getenv)
  return require("zpm.auth").guess_version(values, getenv)
end

--- The auth options of a deployed web page (the original's
-- `_prepare_auth(version, args, conn)`).
-- @param version "0.0" (none), "1.0", "2.0", "3.0"; "1", 1 alike
-- @param settings auth settings by key (auth, user, key, os_auth_url,
--   os_username, os_tenant_name, os_password, ...)
-- @param storage_url the storage URL (for "0.0")
-- @param opts { embed_credentials = bool: add the password or key, as
--   the original always did }
-- @return an ordered table (JSON object), or nil, a message and
--   "invalid"
function M.prepare_auth(version, settings, storage_url, opts)
  return require("zpm.webui").auth_opts(version, settings or {},
                                         storage_url, opts)
end

--- The swift:// URL of a zapp stored under a storage URL (the
-- original's `_get_swift_zapp_url`): `swift://<account>/<zapp_path>`.
function M.swift_zapp_url(storage_url, zapp_path)
  return require("zpm.deploy").swift_path(storage_url, zapp_path)
end

--- A job with the image device `{name = "image", path = zapp_swift_url}`
-- added to every group (the original's `_prepare_job`).
-- @param job a job table, or the path of a .zapp (its boot/system.map)
-- @param zapp_swift_url see `swift_zapp_url`
-- @return the job (a copy when a table was given), or nil, a message
--   and a code ("invalid"; the archive's for a zapp that cannot be read)
function M.prepare_job(job, zapp_swift_url)
  local json = require("zpm.json")
  local the_job, err, code
  if type(job) == "string" then
    the_job, err, code = require("zpm.deploy").read_job(job)
  elseif type(job) == "table" then
    -- a copy, with the key order of an ordered table kept
    local text
    text, err, code = json.encode(job)
    if text then
      the_job, err, code = json.decode_ordered(text)
    end
  else
    return nil, "prepare_job: expected a job table or a zapp path",
      "invalid"
  end
  if type(the_job) ~= "table" then
    return nil, err or "prepare_job: not a job description",
      code or "invalid"
  end
  return require("zpm.job").add_image_device(the_job, zapp_swift_url)
end

--- Add a file (or a directory, or a symbolic link) of a project to an
-- archive writer under its path relative to root (the original's
-- `_add_file_to_tar`).
-- @param root project directory
-- @param path the file, relative to root
-- @param writer a `zpm.core.archive` writer
-- @param arcname the member's name (default: path, normalised)
-- @return true, or nil, a message and a code
function M.add_file_to_tar(root, path, writer, arcname)
  local fs = require("zpm.fs")
  local relative = fs.normalize(path)
  return writer:add_path(fs.join(root, relative), arcname or relative)
end

--- The execution summary of a job response's headers.
-- @param headers response headers (any case)
-- @return { total, rows }, or nil, a message and a code
function M.summary(headers)
  return require("zpm.summary").parse(headers)
end

--- The summary table of a job response's headers (the original's
-- `_get_exec_table`): the prettytable text, and the total time.
-- @return text, total; or nil, a message and a code
function M.summary_table(headers)
  return require("zpm.summary").table(headers)
end

--- Start a devcloud (Swift with the execution middleware on 127.0.0.1),
-- or find it running and restart what is dead, hung or has new settings
-- (see `zpm.devcloud.up`).
-- @param opts { dir, port, unsandboxed, time_limit, memory_limit,
--   disk_limit, output_limit, process_limit, max_file_size, defaults }
-- @return its settings (ST_AUTH, ST_USER, ST_KEY, SWIFT_STORAGE_URL...)
--   and the list of what it did, or nil, a message, a code ("invalid",
--   "command") and detail
function M.devcloud_up(opts)
  return require("zpm.devcloud").up(opts)
end

--- Stop a devcloud (its data stays).
-- @param opts { dir }
-- @return true, or nil, a message and "command"
function M.devcloud_down(opts)
  return require("zpm.devcloud").down(opts)
end

--- How each server of a devcloud does (its health, not only its pid).
-- @param opts { dir }
-- @return text, whether every server is healthy, and the lines of those
--   that are not; or nil, a message and "command"
function M.devcloud_status(opts)
  return require("zpm.devcloud").status(opts)
end

--- The settings of a devcloud (from its last start).
-- @param opts { dir }
-- @return settings table, or nil, a message and "notfound"
function M.devcloud_env(opts)
  return require("zpm.devcloud").env(opts)
end

--- Names of the available project templates.
function M.templates()
  return require("zpm.templates").names()
end

--- Names of the available project-type bundlers.
function M.bundlers()
  return require("zpm.bundlers").names()
end

return M
