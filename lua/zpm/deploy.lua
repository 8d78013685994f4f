--- Deploying a zapp to Swift (DESIGN.md section 6): the uncompressed tar,
-- the web UI files (templates rendered), and `boot/system.map` with the
-- image device added. system.map goes last: until every other object is
-- in place, the target cannot be executed half-deployed.
-- @module zpm.deploy
local core = require("zpm.core")
local fs = require("zpm.fs")
local job = require("zpm.job")
local json = require("zpm.json")
local log = require("zpm.log")
local swift = require("zpm.swift")
local webui = require("zpm.webui")
local zapp_model = require("zpm.zapp")

local M = {}

local SYSTEM_MAP = "boot/system.map"
local MAX_MEMBER = 16 * 1024 * 1024
local MAX_UI = 64 * 1024 * 1024     -- all the UI members together

--- How many web UI files are uploaded at once by default.
M.CONCURRENCY = 8

--- The container read ACL `public` sets: anyone may read objects and
-- list the container.
M.PUBLIC_ACL = ".r:*,.rlistings"

--- The swift:// path of an object of the account behind storage_url:
-- the account is the URL path's component after "v1" (so /v1/AUTH_x,
-- /swift/v1/AUTH_x and trailing slashes all work).
function M.swift_path(storage_url, object_path)
  local path = storage_url:match("^%a[%w+.-]*://[^/]*(/.*)$") or ""
  path = path:gsub("[?#].*$", ""):gsub("/+$", "")
  local account = path:match("/v1/([^/]+)$") or path:match("([^/]+)$")
  return ("swift://%s/%s"):format(account or "", object_path)
end

local function unsafe(name)
  return name:sub(1, 1) == "/" or name == ".." or name:find("^%.%./")
    or name:find("/%.%./") or name:find("/%.%.$")
end

-- The head of the zapp: zapp.yaml and boot/system.map. Our bundles put
-- them first, so the walk stops after a few blocks; a zapp that has them
-- late is read further, and only then. The UI members are captured later,
-- while the tar is uploaded: the zapp is inflated once, not twice.
local function read_head(path)
  local found = {}
  local perr
  local ok, err = core.archive.scan(path, function(entry, read)
    if entry.type == "file" and (entry.name == "zapp.yaml"
                                 or entry.name == SYSTEM_MAP) then
      local data, rerr = read(MAX_MEMBER)
      if not data then
        perr = rerr
        return false
      end
      found[entry.name] = data
      return not (found["zapp.yaml"] and found[SYSTEM_MAP])
    end
    return true
  end)
  if not ok or perr then
    return nil, perr or ("%s: %s"):format(path, err)
  end
  if not found["zapp.yaml"] then
    return nil, ("%s: not a zapp (no zapp.yaml)"):format(path)
  end
  local zapp, zerr = zapp_model.parse(found["zapp.yaml"],
                                      path .. ":zapp.yaml",
                                      { deployed = true })
  if not zapp then
    return nil, zerr
  end
  found.zapp = zapp
  return found
end

--- The job of a zapp: its boot/system.map, decoded (key order kept).
-- @return job table, or nil and a message
function M.read_job(zapp_path)
  local text, perr
  local ok, err = core.archive.scan(zapp_path, function(entry, read)
    if entry.type == "file" and entry.name == SYSTEM_MAP then
      text, perr = read(MAX_MEMBER)
      return false
    end
    return true
  end)
  if not ok or perr then
    return nil, perr or ("%s: %s"):format(zapp_path, err)
  end
  if not text then
    return nil, ("%s: not a zapp (no %s)"):format(zapp_path, SYSTEM_MAP)
  end
  local the_job, jerr = json.decode_ordered(text)
  if type(the_job) ~= "table" then
    return nil, ("%s:%s: %s"):format(zapp_path, SYSTEM_MAP,
                                     jerr or "not a job description")
  end
  return the_job
end

-- "4.0 MiB (4194304 bytes)"
local function human(n)
  local units = { "KiB", "MiB", "GiB", "TiB" }
  local v, unit = n, nil
  for _, u in ipairs(units) do
    if v < 1024 then
      break
    end
    v, unit = v / 1024, u
  end
  return unit and ("%.1f %s (%d bytes)"):format(v, unit, n)
    or ("%d bytes"):format(n)
end

local check_put = swift.check_put

-- Upload the tar from src as a Static Large Object: segments of at most
-- segment_size bytes in <container>_segments, then the manifest at
-- object. Each segment's Etag is checked; the manifest lists them with
-- their MD5 and size, so Swift checks them again.
-- @return the number of segments, or nil, message, { written objects }
local function put_slo(conn, object, src, segment_size, progress)
  local written = {}
  local container, name = object:match("^([^/]+)/(.+)$")
  local segments = container .. "_segments"
  local ok, err = conn:put_container(segments)
  if not ok then
    return nil, err, written
  end
  -- python-swiftclient's layout, with a random part instead of the
  -- size (unknown until the end) so that redeploys never share segments
  local prefix = ("%s/slo/%d.%08x/%d/"):format(name, os.time(),
    math.random(0, 0x7fffffff), segment_size)
  local manifest = {}
  while true do
    local segment = ("%s/%s%08d"):format(segments, prefix, #manifest)
    local resp, rerr = conn:request("PUT", segment, {
      body = { source = src, max = segment_size }, progress = progress,
      headers = { ["Content-Type"] = "application/octet-stream" } })
    local stored, perr, anyway = check_put(resp, rerr)
    if stored or anyway then
      written[#written + 1] = segment
    end
    if not stored then
      return nil, perr, written
    end
    if resp.sent == 0 then
      -- the data ended on a segment boundary: this one is empty
      written[#written] = nil
      local c, o = segment:match("^([^/]+)/(.+)$")
      local deleted, derr = conn:delete_object(c, o)
      if not deleted then
        log.info("could not delete %s: %s", segment, derr)
        written[#written + 1] = segment
      end
      break
    end
    manifest[#manifest + 1] = { path = "/" .. segment, etag = resp.md5,
                                size_bytes = resp.sent }
    if resp.sent < segment_size then
      break
    end
  end
  local resp, rerr = conn:request("PUT", object, {
    query = "?multipart-manifest=put", body = json.encode(manifest),
    headers = { ["Content-Type"] = "application/x-tar" } })
  if not resp then
    return nil, rerr, written
  end
  if resp.status < 200 or resp.status >= 300 then
    return nil, swift.failure("SLO manifest PUT", resp), written
  end
  written[#written + 1] = object
  return #manifest, nil, written
end

-- PUT the gunzipped zapp as object, capturing the members that match
-- patterns on the way (a tar capture on the body source), Etag checked.
-- A tar larger than the cluster's object limit (or than
-- opts.segment_size) goes as a Static Large Object instead (put_slo).
-- @return the captured members { { name, data }, ... } and, for a Static
--   Large Object, { segments = n, objects = the segments' paths }; or
--   nil, message and the objects stored anyway (a 2xx whose Etag does
--   not match, segments...)
local function put_tar(conn, object, zapp_path, patterns, opts)
  local limit, lerr = conn:max_file_size()
  if not limit then
    return nil, lerr, {}
  end
  local segment_size = opts.segment_size or limit
  if segment_size > limit then
    return nil, ("--segment-size %d is larger than the cluster's largest "
      .. "object (%d bytes, from /info)"):format(segment_size, limit), {}
  end
  local src <close>, serr = core.http.source({ gunzip = zapp_path,
    capture = { patterns = patterns, max_member = MAX_MEMBER,
                max_total = MAX_UI } })
  if not src then
    return nil, serr, {}
  end
  local zapp_size = fs.size(zapp_path)
  local progress <close> = opts.progress and core.progress.new(
    "uploading " .. fs.basename(zapp_path), zapp_size or 0) or nil
  local slo
  -- gzip never shrinks data that much: a zapp file larger than the limit
  -- holds a larger tar; one that is smaller may still unpack to more,
  -- which the strict body finds out before the PUT completes
  if zapp_size and zapp_size <= segment_size then
    log.info("uploading %s (%s)", object, "application/x-tar")
    local resp, err, code = conn:request("PUT", object, {
      body = { source = src, max = segment_size, strict = true },
      progress = progress,
      headers = { ["Content-Type"] = "application/x-tar" } })
    -- past the strict end, the source was read one byte further than
    -- segment_size (a "limit" from the tar capture happens before)
    if resp or code ~= "limit" or src:offset() <= segment_size then
      local stored, perr, anyway = check_put(resp, err)
      if not stored then
        return nil, perr, anyway and { object } or {}
      end
      slo = false
    else
      local rewound, rerr = src:rewind()
      if not rewound then
        return nil, rerr, {}
      end
    end
  end
  if slo == nil then
    log.warning("the zapp's tar is larger than %s: uploading it as a "
      .. "Static Large Object in segments of up to %s", human(segment_size),
      human(segment_size))
    local n, perr, written = put_slo(conn, object, src, segment_size,
                                     progress)
    if not n then
      return nil, perr, written
    end
    written[#written] = nil     -- the manifest: the caller adds it
    slo = { segments = n, objects = written }
  end
  if progress then
    progress:finish()
  end
  local captured = src:captured()
  if not captured then
    return nil, ("Object PUT %s: the zapp was not read to its end")
      :format(object), { object }
  end
  return captured, slo or nil
end

-- The web UI objects of captured members ({ name, data }): each under
-- target, `.tmpl` members rendered with vars and named without the
-- extension, content types from the name. zapp.yaml and system.map are
-- not UI files.
-- @return files { { object, data, content_type } }, the index object
--   (target/.../index.html, else "target/"); or nil, a message and
--   whether a member name leaves the target
local function ui_files(members, target, vars, zapp_path)
  local files, index = {}, target .. "/"
  for _, e in ipairs(members) do
    if e.name ~= "zapp.yaml" and e.name ~= SYSTEM_MAP then
      if unsafe(e.name) then
        return nil, ("%s: refusing member '%s': it leaves the target")
          :format(zapp_path, e.name), true
      end
      local name, data = e.name, e.data
      if name:sub(-5) == ".tmpl" then
        name = name:sub(1, -6)
        local rerr
        data, rerr = webui.render(e.name, data, vars)
        if not data then
          return nil, rerr, false
        end
      end
      local object = target .. "/" .. name
      files[#files + 1] = { object = object, data = data,
                            content_type = webui.content_type(name) }
      if object:sub(-11) == "/index.html" then
        index = object
      end
    end
  end
  return files, index
end

-- The head of a zapp for deploy: zapp.yaml (as a deployed zapp's) and
-- its job, from boot/system.map.
-- @return found (from read_head) with .job, or nil and a message
local function read_zapp(zapp_path)
  if not fs.isfile(zapp_path) then
    return nil, ("%s: no such file"):format(zapp_path)
  end
  local found, err = read_head(zapp_path)
  if not found then
    return nil, err
  end
  if not found[SYSTEM_MAP] then
    return nil, ("%s: not a zapp (no %s)"):format(zapp_path, SYSTEM_MAP)
  end
  local the_job, jerr = json.decode_ordered(found[SYSTEM_MAP])
  if type(the_job) ~= "table" then
    return nil, ("%s:%s: %s"):format(zapp_path, SYSTEM_MAP,
                                     jerr or "not a job description")
  end
  found.job = the_job
  return found
end

--- The objects a deploy writes, in the order it writes them (the
-- original's `_generate_uploads`): the zapp's tar, the web UI files
-- (templates rendered), then `boot/system.map` with the image device.
-- Nothing is sent but an authentication, when the connection has none
-- yet (the storage URL names the image).
-- @param conn a `zpm.swift` connection
-- @param target "container" or "container/dir"
-- @param zapp_path the .zapp file
-- @param opts as for `deploy` (ui_auth_version, settings,
--   ui_embed_credentials, auth_opts)
-- @return list of `{ path = "container/object", body = ..., content_type
--   = ... }`, where body is `{ gunzip = zapp_path }` for the tar (stream
--   it with `conn:put_object`) and a string otherwise; or nil and a
--   message
function M.uploads(conn, target, zapp_path, opts)
  opts = opts or {}
  target = target:gsub("^/+", ""):gsub("/+$", "")
  local found, err = read_zapp(zapp_path)
  if not found then
    return nil, err
  end
  local url, aerr = conn:auth()
  if not url then
    return nil, aerr
  end
  local auth_opts = opts.auth_opts
  if auth_opts == nil then
    auth_opts, aerr = M.auth_opts(conn, opts)
    if not auth_opts then
      return nil, aerr
    end
  end
  -- the UI members, bounded as deploy bounds them
  local patterns = zapp_model.list(found.zapp, "ui")
  local members, total, perr = {}, 0, nil
  local ok, serr = core.archive.scan(zapp_path, function(entry, read)
    if entry.type ~= "file" then
      return true
    end
    for _, pattern in ipairs(patterns) do
      if webui.fnmatch(entry.name, pattern) then
        local data, rerr = read(MAX_MEMBER)
        total = total + #(data or "")
        if not data or total > MAX_UI then
          perr = rerr or ("%s: the web UI files are larger than %d bytes")
            :format(zapp_path, MAX_UI)
          return false
        end
        members[#members + 1] = { name = entry.name, data = data }
        break
      end
    end
    return true
  end)
  if not ok or perr then
    return nil, perr or serr
  end
  table.sort(members, function(a, b) return a.name < b.name end)
  local files, ferr = ui_files(members, target,
    { zapp = found.zapp, auth_opts = auth_opts }, zapp_path)
  if not files then
    return nil, ferr
  end
  local remote_zapp = target .. "/" .. fs.basename(zapp_path)
  local list = { { path = remote_zapp, body = { gunzip = zapp_path },
                   content_type = "application/x-tar" } }
  for _, f in ipairs(files) do
    list[#list + 1] = { path = f.object, body = f.data,
                        content_type = f.content_type }
  end
  job.add_image_device(found.job, M.swift_path(url, remote_zapp))
  list[#list + 1] = { path = target .. "/" .. SYSTEM_MAP,
                      body = assert(json.encode(found.job)),
                      content_type = "application/json" }
  return list
end

--- The auth options a deployed page gets (the original's
-- `_prepare_auth`): for `opts.ui_auth_version` (default: the
-- connection's; "0.0" for none; "1", 1 and "1.0" alike), from
-- `opts.settings` (default: the connection's), with the password or key
-- only when `opts.ui_embed_credentials`.
-- @return an ordered JSON object (see `zpm.webui.auth_opts`), or nil and
--   a message (an unknown version; a failed authentication)
function M.auth_opts(conn, opts)
  opts = opts or {}
  local url, err = conn:auth()
  if not url then
    return nil, err
  end
  return webui.auth_opts(opts.ui_auth_version or conn.version,
    opts.settings or conn.settings, url,
    { embed_credentials = opts.ui_embed_credentials })
end

--- Deploy a zapp.
-- @param conn a `zpm.swift` connection
-- @param target "container" or "container/dir"
-- @param zapp_path the .zapp file
-- @param opts { force = bool, ui_auth_version = version for the page
--   ("0.0" = none; "1", 1, "1.0" alike), settings = auth settings for
--   the page, auth_opts = the page's `auth_opts` as they are (a table:
--   the original's `_deploy_zapp` argument; ui_auth_version, settings
--   and ui_embed_credentials are then unused),
--   ui_embed_credentials = bool (put the password or key in the page's
--   auth_opts; logs a warning), public = bool (give the container the
--   read ACL `.r:*,.rlistings`, so a browser loads the page and the
--   objects without a token), concurrency = how many web UI files are
--   uploaded at once (default `zpm.deploy.CONCURRENCY`, 8),
--   segment_size = bytes (a tar larger than this, or than the cluster's
--   max_file_size from /info, goes as a Static Large Object in segments
--   of this size in container `<container>_segments`; default and
--   maximum: max_file_size), progress = bool (progress meters on stderr
--   for the zapp and the web UI uploads) }
-- @return { url = URL to print, index = object path, objects = list,
--   job = job table, segments = number of segments of the zapp's SLO or
--   nil }, or nil, a message and { objects = list of the objects written
--   before the failure (container/object) }
function M.deploy(conn, target, zapp_path, opts)
  opts = opts or {}
  target = target:gsub("^/+", ""):gsub("/+$", "")
  local container = target:match("^[^/]+")
  if not container then
    return nil, "the deploy target needs a container name"
  end
  -- read the zapp's head first: a bad zapp must not touch the cloud
  local found, err = read_zapp(zapp_path)
  if not found then
    return nil, err
  end
  local zapp, the_job = found.zapp, found.job

  local url, aerr = conn:auth()
  if not url then
    return nil, aerr
  end
  -- the page's auth options: a bad version fails before any upload
  local auth_opts = opts.auth_opts
  if auth_opts == nil then
    local aoerr
    auth_opts, aoerr = M.auth_opts(conn, opts)
    if not auth_opts then
      return nil, aoerr
    end
    if opts.ui_embed_credentials and auth_opts.password then
      log.warning("the web UI embeds the password or key: anyone who can "
        .. "read %s/index.html can use these credentials", target)
    end
  end

  -- the container: empty (or --force), or created
  local names, lerr, status = conn:get_container(container, { limit = 1 })
  if names then
    if #names > 0 and not opts.force then
      return nil, ("Target container ('%s') is not empty.\nDeploying to a "
        .. "non-empty container can cause consistency problems with "
        .. "overwritten objects.\nSpecify the flag `--force/-f` to "
        .. "overwrite anyway."):format(container)
    end
  elseif status == 404 then
    log.info("Container '%s' not found. Creating it...", container)
    local ok, perr = conn:put_container(container,
      opts.public and { ["X-Container-Read"] = M.PUBLIC_ACL } or nil)
    if not ok then
      return nil, perr
    end
  else
    return nil, lerr
  end
  if names and opts.public then
    log.info("setting the read ACL of '%s' to %s", container, M.PUBLIC_ACL)
    local resp, perr = conn:request("POST", container, {
      headers = { ["X-Container-Read"] = M.PUBLIC_ACL } })
    if not resp then
      return nil, perr
    end
    if resp.status < 200 or resp.status >= 300 then
      return nil, swift.failure("Container POST", resp), resp.status
    end
  end

  local written = {}
  -- a failure once objects exist names them, and hands them to the
  -- caller (which may remove them); system.map is never among them
  local function fail(message)
    if #written > 0 then
      message = message .. "; objects written before the failure: "
        .. table.concat(written, ", ")
    end
    return nil, message, { objects = written }
  end
  local function upload(object, body, content_type)
    local c, o = object:match("^([^/]+)/(.+)$")
    log.info("uploading %s (%s)", object, content_type)
    local ok, perr, status = conn:put_object(c, o, body,
                                             { content_type = content_type })
    if not ok then
      if status and status >= 200 and status < 300 then
        -- stored, but not as sent; a system.map that is not what was
        -- sent must not make the target runnable: take it back
        local deleted = object:sub(-#SYSTEM_MAP) == SYSTEM_MAP
          and conn:delete_object(c, o)
        if not deleted then
          written[#written + 1] = object
        end
      end
      return fail(perr)
    end
    written[#written + 1] = object
    return true
  end

  -- the UI files, in parallel on up to opts.concurrency connections; the
  -- first failure starts no more of them
  local function upload_many(files)
    if #files == 0 then
      return true
    end
    log.info("uploading %d web UI files (%d at a time)", #files,
             opts.concurrency or M.CONCURRENCY)
    local reqs, total = {}, 0
    for i, f in ipairs(files) do
      reqs[i] = { method = "PUT", path = f.object, body = f.data,
                  headers = { ["Content-Type"] = f.content_type } }
      total = total + #f.data
    end
    local progress <close> = opts.progress and core.progress.new(
      ("uploading %d web UI files"):format(#files), total) or nil
    local results, rerr = conn:request_many(reqs, {
      concurrency = opts.concurrency or M.CONCURRENCY,
      stop_on_failure = true, progress = progress })
    if progress then
      progress:finish()
    end
    if not results then
      return fail(rerr)
    end
    local first
    for i, resp in ipairs(results) do
      if resp then    -- false: never started
        local stored, problem, anyway
        if resp.error then
          problem = resp.error
        else
          stored, problem, anyway = check_put(resp)
        end
        if stored or anyway then
          written[#written + 1] = files[i].object
        end
        first = first or problem
      end
    end
    if first then
      return fail(first)
    end
    return true
  end

  local zapp_name = fs.basename(zapp_path)
  local remote_zapp = target .. "/" .. zapp_name
  local captured, uerr, stored = put_tar(conn, remote_zapp, zapp_path,
    zapp_model.list(zapp, "ui"), opts)
  if not captured then
    for _, object in ipairs(stored) do
      written[#written + 1] = object
    end
    return fail(uerr)
  end
  local slo = uerr     -- on success, the SLO's details (or nil)
  for _, object in ipairs(slo and slo.objects or {}) do
    written[#written + 1] = object
  end
  written[#written + 1] = remote_zapp
  local files, index, leaves = ui_files(captured, target,
    { zapp = zapp, auth_opts = auth_opts }, zapp_path)
  if not files then
    if leaves then
      -- nothing else was written yet: take the tar back (an SLO with
      -- its segments)
      local resp, derr = conn:request("DELETE", remote_zapp, {
        query = slo and "?multipart-manifest=delete" or nil })
      if not resp or resp.status < 200 or resp.status >= 300 then
        log.info("could not delete %s: %s", remote_zapp,
                 derr or swift.failure("Object DELETE", resp))
      end
      return nil, index
    end
    return fail(index)
  end
  local ok
  ok, uerr = upload_many(files)
  if not ok then
    return ok, uerr, { objects = written }
  end

  job.add_image_device(the_job, M.swift_path(url, remote_zapp))
  local text = assert(json.encode(the_job))
  ok, uerr = upload(target .. "/" .. SYSTEM_MAP, text, "application/json")
  if not ok then
    return ok, uerr, { objects = written }
  end
  return { url = conn:url_for(""):gsub("/+$", "") .. "/" .. index,
           index = index, objects = written, job = the_job,
           segments = slo and slo.segments or nil }
end

return M
