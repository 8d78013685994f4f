--- zpm: the ZeroVM Package Manager as a Lua library.
-- Everything the `zpm` command does is a call here, with the same
-- behaviour, without printing or exiting: functions return their result,
-- or nil and a one-line message. Log messages go to the handler set with
-- `zpm.log.set_handler`.
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

--- Create a project (see `zpm.project.create`).
-- @param location directory (created if missing; default ".")
-- @param opts { template = "python", with_ui = false }
-- @return list of created paths, or nil and a message
function M.new_project(location, opts)
  return require("zpm.project").create(location, opts)
end

--- Find the project root: the first directory holding zapp.yaml, walking
-- up from start (default: the current directory).
-- @return path, or nil and a message
function M.find_project_root(start)
  return require("zpm.project").find_root(start)
end

--- Load and validate a zapp.yaml file.
-- @return zapp table, or nil and "file:line:col: key.path: message"
function M.load_zapp(path)
  return require("zpm.zapp").load(path)
end

--- The job description (boot/system.map) for a loaded zapp.
-- @return job table and its JSON text, or nil and a message
function M.job(zapp)
  local job = require("zpm.job")
  local the_job, err = job.generate(zapp)
  if not the_job then
    return nil, err
  end
  return the_job, job.encode(the_job)
end

--- Bundle a project into a zapp.
-- @param root project directory, or nil to search up from the current one
-- @param opts { refresh_deps, output, level, threads, progress (true: a
--   progress bar on stderr) }
-- @return { path, name, members, warnings }, or nil and a message
function M.bundle(root, opts)
  if root == nil then
    local err
    root, err = M.find_project_root()
    if not root then
      return nil, err
    end
  end
  return require("zpm.bundle").bundle(root, opts)
end

--- Connect to Swift / ZeroCloud. Nothing is sent until the connection
-- is used; `conn:auth()` authenticates explicitly.
-- @param opts auth settings by their long option names with '_' (auth,
--   user, key, os_auth_url, os_username, os_password, os_tenant_name,
--   os_project_name, os_user_domain_name, ..., os_storage_url,
--   os_auth_token, auth_version) plus insecure, retries; settings not
--   given are read from the environment (ST_AUTH, OS_AUTH_URL, ...)
-- @return connection with `auth()`, `deploy(target, zapp, opts)`,
--   `execute(opts)`, `get_container`, `put_container`, `head_object`,
--   `get_object`, `put_object`, `post_job`; or nil and a message
function M.connect(opts)
  local auth = require("zpm.auth")
  return require("zpm.swift").connect(auth.settings(opts or {}))
end

--- The execution summary of a job response's headers.
-- @param headers response headers (any case)
-- @return { total, rows }, or nil and a message
function M.summary(headers)
  return require("zpm.summary").parse(headers)
end

--- Start a devcloud (Swift with the execution middleware on 127.0.0.1).
-- @param opts { dir, port, unsandboxed, time_limit, memory_limit,
--   max_file_size }
-- @return its settings (ST_AUTH, ST_USER, ST_KEY, SWIFT_STORAGE_URL...),
--   or nil and a message
function M.devcloud_up(opts)
  return require("zpm.devcloud").up(opts)
end

--- Stop a devcloud (its data stays).
-- @param opts { dir }
-- @return true, or nil and a message
function M.devcloud_down(opts)
  return require("zpm.devcloud").down(opts)
end

--- What of a devcloud runs.
-- @param opts { dir }
-- @return text and whether everything runs, or nil and a message
function M.devcloud_status(opts)
  return require("zpm.devcloud").status(opts)
end

--- The settings of a devcloud (from its last start).
-- @param opts { dir }
-- @return settings table, or nil and a message
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
