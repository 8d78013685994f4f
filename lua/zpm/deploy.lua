--- Deploying a zapp to Swift (DESIGN.md section 6): the uncompressed tar
-- at a new image object, the web UI files (templates rendered), then
-- `boot/system.map` naming the image. The job goes last of what runs:
-- until every other object is in place, the target runs its previous
-- version whole, never a half-deployed one.
--
-- A deploy is a plan and the steps that run it. `plan` (the one function
-- that decides what is written: the objects, their order, names, types
-- and sizes, checked against the cluster's limits) is data, what a dry
-- run prints; `deploy` builds the same plan, then runs it step by step
-- under the target's lock, each step a small function below. The Swift
-- protocol (listings, ACLs, Static Large Objects, deletes with segments)
-- is `zpm.swift`'s; this module orchestrates.
-- @module zpm.deploy
local core = require("zpm.core")
local fs = require("zpm.fs")
local lfs = require("lfs")
local job = require("zpm.job")
local json = require("zpm.json")
local log = require("zpm.log")
local errors = require("zpm.errors")
local swift = require("zpm.swift")
local webui = require("zpm.webui")
local zapp_model = require("zpm.zapp")

local M = {}

local SYSTEM_MAP = "boot/system.map"
-- The capture's own defaults (`zpm.core.http.CAPTURE_MAX_MEMBER` and
-- `CAPTURE_MAX_TOTAL`, not read here so that loading this module loads
-- no libcurl; spec unit/http checks they agree).
local MAX_MEMBER = 16 * 1024 * 1024
local MAX_UI = 64 * 1024 * 1024     -- all the UI members together
M.CAPTURE_LIMITS = { max_member = MAX_MEMBER, max_total = MAX_UI }

--- How many web UI files are uploaded at once by default
-- (`zpm.swift.CONCURRENCY`, 8).
M.CONCURRENCY = swift.CONCURRENCY

--- The container read ACL `public` sets: anyone may read objects and
-- list the container (`zpm.swift.PUBLIC_READ_ACL`).
M.PUBLIC_ACL = swift.PUBLIC_READ_ACL

--- Where a deploy keeps its images and its lock, under the target.
M.IMAGES = ".zapp"

-- container/object -> container, object
local function split_path(path)
  return path:match("^([^/]+)/(.+)$")
end

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
local function read_head(zapp)
  local path = zapp.path
  local found = {}
  local perr, pcode
  local ok, err, code = core.archive.scan(zapp.file, function(entry, read)
    if entry.type == "file" and (entry.name == "zapp.yaml"
                                 or entry.name == SYSTEM_MAP) then
      local data, rerr, rcode = read(MAX_MEMBER)
      if not data then
        perr, pcode = rerr, rcode
        return false
      end
      found[entry.name] = data
      return not (found["zapp.yaml"] and found[SYSTEM_MAP])
    end
    return true
  end, path)
  if not ok or perr then
    return nil, perr or err, pcode or code
  end
  if not found["zapp.yaml"] then
    return nil, ("%s: not a zapp (no zapp.yaml)"):format(path),
      errors.INVALID
  end
  local model, zerr, zcode = zapp_model.parse(found["zapp.yaml"],
                                              path .. ":zapp.yaml",
                                              { deployed = true })
  if not model then
    return nil, zerr, zcode
  end
  found.zapp = model
  return found
end

--- The job of a zapp: its boot/system.map, decoded (key order kept).
-- @return job table, or nil, a message and a code (the archive's, or
--   "invalid")
function M.read_job(zapp_path)
  local text, perr, pcode
  local ok, err, code = core.archive.scan(zapp_path, function(entry, read)
    if entry.type == "file" and entry.name == SYSTEM_MAP then
      text, perr, pcode = read(MAX_MEMBER)
      return false
    end
    return true
  end)
  if not ok or perr then
    return nil, perr or ("%s: %s"):format(zapp_path, err), pcode or code
  end
  if not text then
    return nil, ("%s: not a zapp (no %s)"):format(zapp_path, SYSTEM_MAP),
      errors.INVALID
  end
  local the_job, jerr = json.decode_ordered(text)
  if type(the_job) ~= "table" then
    return nil, ("%s:%s: %s"):format(zapp_path, SYSTEM_MAP,
      jerr or "not a job description"), errors.INVALID
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

-- The rest of the tar, from where src stands, as a Static Large Object
-- at the plan's image (`conn:put_slo`).
-- @return { segments = n, objects = the segments' paths }, or nil, a
--   message, a code and detail (`objects`: stored anyway)
local function put_tar_slo(conn, plan, src, progress)
  local segment_size = plan.segment_size
  local max = plan.limits.max_manifest_segments
  log.warning("the zapp's tar is larger than %s: uploading it as a "
    .. "Static Large Object in segments of up to %s", human(segment_size),
    human(segment_size))
  local container, name = split_path(plan.image)
  local n, segments, code, detail = conn:put_slo(container, name, src, {
    segment_size = segment_size, max_segments = max,
    progress = progress, content_type = "application/x-tar",
    too_many = ("the zapp's tar needs more than %d segments of %s, the "
      .. "most one Static Large Object may have (max_manifest_segments "
      .. "in /info): deploy with a larger --segment-size"):format(max,
      human(segment_size)) })
  if not n then
    return nil, segments, code, detail
  end
  return { segments = n, objects = segments }
end

-- PUT the gunzipped zapp at the plan's image, capturing the web UI
-- members on the way (a tar capture on the body source), Etag checked:
-- with the zapp's record (`zpm.core.archive.record`), its MD5 goes as
-- the ETag header and Swift checks it, so that the tar is not hashed
-- here (half of deploy's CPU otherwise). A tar larger than
-- plan.segment_size (the cluster's object limit, or --segment-size)
-- goes as a Static Large Object instead (`conn:put_slo`).
-- @return the captured members { { name, data }, ... } and, for a Static
--   Large Object, { segments = n, objects = the segments' paths }; or
--   nil, message, code and detail whose `objects` are stored anyway (a
--   2xx whose Etag does not match, segments...)
local function put_tar(conn, plan, zapp, opts)
  local object, segment_size = plan.image, plan.segment_size
  local record = zapp.record
  local whole = record and record.length <= segment_size
  local src <close>, serr, scode = core.http.source({ gunzip = zapp.file,
    name = zapp.path, capture = { patterns = plan.ui_patterns,
    max_member = MAX_MEMBER, max_total = MAX_UI }, md5 = not whole })
  if not src then
    return nil, serr, scode, { objects = {} }
  end
  local progress <close> = opts.progress and core.progress.new(
    "uploading " .. fs.basename(zapp.path), zapp.size) or nil
  local slo
  -- gzip never shrinks data that much: a zapp file larger than the limit
  -- holds a larger tar; one that is smaller may still unpack to more,
  -- which the strict body finds out before the PUT completes
  if zapp.size <= segment_size and (not record or whole) then
    log.info("uploading %s (%s)", object, "application/x-tar")
    local resp, err, code, detail = conn:request("PUT", object, {
      body = { source = src, max = segment_size, strict = true },
      progress = progress, body_md5 = whole and record.md5 or nil,
      headers = { ["Content-Type"] = "application/x-tar",
                  ETag = whole and record.md5 or nil } })
    if whole and resp and resp.status == 422 then
      return nil, ("%s: its tar does not have the MD5 the zapp records "
        .. "(%s; Swift refused it: 422): the file was changed after it was "
        .. "bundled; bundle it again"):format(zapp.path, record.md5),
        errors.INVALID, { status = 422, url = resp.url, objects = {} }
    end
    -- past the strict end, the source was read one byte further than
    -- segment_size (a "limit" from the tar capture happens before)
    if resp or code ~= "limit" or src:offset() <= segment_size then
      local stored, perr, pcode, pdetail = check_put(resp, err, code,
                                                     detail)
      if not stored then
        return nil, perr, pcode, errors.with_objects(pdetail,
          (pcode == errors.ETAG or not resp) and { object } or {})
      end
      slo = false
    else
      local rewound, rerr, rcode = src:rewind()
      if not rewound then
        return nil, rerr, rcode, { objects = {} }
      end
    end
  end
  if slo == nil then
    local err, code, detail
    slo, err, code, detail = put_tar_slo(conn, plan, src, progress)
    if not slo then
      return nil, err, code, detail
    end
  end
  if progress then
    progress:finish()
  end
  local captured = src:captured()
  if not captured then
    return nil, ("Object PUT %s: the zapp was not read to its end")
      :format(object), errors.IO, { objects = { object } }
  end
  return captured, slo or nil
end

-- The web UI objects of captured members ({ name, data }): each under
-- target, `.tmpl` members rendered with vars and named without the
-- extension, content types from the name. zapp.yaml and system.map are
-- not UI files.
-- @return files { { object, data, content_type } }, the index object
--   (target/.../index.html, else "target/"); or nil, a message and a
--   code ("invalid": a member name leaves the target)
local function ui_files(members, target, vars, zapp_path)
  local files, index = {}, target .. "/"
  for _, e in ipairs(members) do
    if e.name ~= "zapp.yaml" and e.name ~= SYSTEM_MAP then
      if unsafe(e.name) then
        return nil, ("%s: refusing member '%s': it leaves the target")
          :format(zapp_path, e.name), errors.INVALID
      end
      if e.name == M.IMAGES or e.name:sub(1, #M.IMAGES + 1) == M.IMAGES .. "/"
      then
        return nil, ("%s: refusing member '%s': '%s/' under the target "
          .. "holds zpm's deployed images"):format(zapp_path, e.name,
          M.IMAGES), errors.INVALID
      end
      local name, data = e.name, e.data
      if name:sub(-5) == ".tmpl" then
        name = name:sub(1, -6)
        local rerr, rcode
        data, rerr, rcode = webui.render(e.name, data, vars)
        if not data then
          return nil, rerr, rcode
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

-- How many bytes of the zapp's end `fingerprint` hashes: its last gzip
-- members' trailers (CRC-32 and size of what they hold) and more.
local TAIL = 64 * 1024

-- The zapp file as a deploy's record keeps it (`--skip-identical`): what
-- tells, without reading it whole, that the file is the one an earlier
-- deploy uploaded: device, inode, size, modification and change times,
-- and the MD5 of its last TAIL bytes. Taken twice, around the read: a
-- file changed meanwhile has none.
-- @return a string, or nil
local function fingerprint(path)
  local function stat()
    local a = lfs.attributes(path)
    return a and a.mode == "file" and ("%s:%s:%s:%s:%s"):format(a.dev,
      a.ino, a.size, a.modification, a.change), a and a.size
  end
  local before, size = stat()
  local file = before and io.open(path, "rb")
  if not file then
    return nil
  end
  file:seek("set", math.max(0, size - TAIL))
  local tail = file:read(TAIL) or ""
  file:close()
  if stat() ~= before then
    return nil
  end
  return before .. ":" .. core.md5(tail)
end

-- A zapp open for one deploy: every read goes through this descriptor,
-- so a zapp rebuilt meanwhile (renamed over the path) cannot mix in.
-- @return { file, path, size } (a to-be-closed value), or nil, message,
--   "io"
local function open_zapp(path)
  if not fs.isfile(path) then
    return nil, ("%s: no such file"):format(path), errors.IO
  end
  local before = fingerprint(path)
  local file, err = io.open(path, "rb")
  if not file then
    return nil, err, errors.IO
  end
  local after = fingerprint(path)
  local size = file:seek("end")
  local record, rerr, rcode = core.archive.record(file, path)
  if record == nil then
    file:close()
    return nil, rerr, rcode
  end
  return setmetatable({ file = file, path = path, size = size or 0,
                        fingerprint = before == after and after or nil,
                        record = record or nil },
    { __close = function(z) z.file:close() end })
end

-- The head of a zapp for deploy: zapp.yaml (as a deployed zapp's) and
-- its job, from boot/system.map.
-- @param zapp from open_zapp
-- @return found (from read_head) with .job, or nil, message, code
local function read_zapp(zapp)
  local found, err, code = read_head(zapp)
  if not found then
    return nil, err, code
  end
  if not found[SYSTEM_MAP] then
    return nil, ("%s: not a zapp (no %s)"):format(zapp.path, SYSTEM_MAP),
      errors.INVALID
  end
  local the_job, jerr = json.decode_ordered(found[SYSTEM_MAP])
  if type(the_job) ~= "table" then
    return nil, ("%s:%s: %s"):format(zapp.path, SYSTEM_MAP,
      jerr or "not a job description"), errors.INVALID
  end
  found.job = the_job
  return found
end

--- Split a deploy target (`container` or `container/dir/...`) after
-- dropping its leading and trailing slashes; nothing else is checked.
-- @return the target (normalised), its container (nil for none) and its
--   dir ("" for none)
function M.split_target(target)
  local t = target:gsub("^/+", ""):gsub("/+$", "")
  local container, dir = t:match("^([^/]+)/?(.*)$")
  return t, container, dir
end

--- Check a deploy target: `container` or `container/dir/...`, without
-- empty, `.` or `..` segments (a URL would collapse them onto another
-- target), with names Swift can store (`zpm.swift.check_container_name`
-- and `check_object_name`, under `limits` when given). Leading and
-- trailing slashes are dropped.
-- @return the target (normalised), its container and its dir ("" for
--   none); or nil, a message and "invalid"
function M.check_target(target, limits)
  limits = limits or swift.DEFAULT_LIMITS
  if type(target) ~= "string" then
    return nil, "the deploy target must be a string", errors.INVALID
  end
  local t, container, dir = M.split_target(target)
  if t == "" then
    return nil, ("deploy target '%s' has no container name"):format(target),
      errors.INVALID
  end
  for segment in (t .. "/"):gmatch("([^/]*)/") do
    if segment == "" or segment == "." or segment == ".." then
      return nil, ("deploy target '%s' has a%s segment: give the "
        .. "container (and directory) by name, as 'container' or "
        .. "'container/dir'"):format(target,
        segment == "" and "n empty" or (" '" .. segment .. "'")),
        errors.INVALID
    end
  end
  local ok, err = swift.check_container_name(container,
    limits.max_container_name_length)
  if not ok then
    return nil, ("deploy target '%s': %s"):format(target, err),
      errors.INVALID
  end
  if dir ~= "" then
    ok, err = swift.check_object_name(dir, limits.max_object_name_length)
    if not ok then
      return nil, ("deploy target '%s': %s"):format(target, err),
        errors.INVALID
    end
  end
  return t, container, dir
end

-- The ui patterns as the tar capture takes them: a pattern that names a
-- directory takes what is below it too, as the bundle stored it.
local function ui_patterns(zapp)
  local patterns = {}
  for _, p in ipairs(zapp_model.list(zapp, "ui")) do
    patterns[#patterns + 1] = p
    patterns[#patterns + 1] = (p:gsub("/+$", "")) .. "/*"
  end
  return patterns
end

-- A new image name: unique to this deploy, sorting by time.
local function new_version()
  return ("%s-%06x"):format(os.date("!%Y%m%dT%H%M%SZ"),
                            math.random(0, 0xffffff))
end

--- The object a deploy stores a zapp's tar at: `<target>/.zapp/<version>/
-- <zapp name>`, a name of its own for each deploy, which the job written
-- last points at (see `deploy`).
function M.image_path(target, version, zapp_name)
  return ("%s/%s/%s/%s"):format(target, M.IMAGES, version, zapp_name)
end

-- The image objects a previous job points at, under this target.
local function images_of(job_table, account_prefix, target)
  local images = {}
  if type(job_table) ~= "table" then
    return images
  end
  local under = target .. "/" .. M.IMAGES .. "/"
  for _, group in ipairs(job_table) do
    for _, device in ipairs(type(group) == "table"
                            and type(group.devices) == "table"
                            and group.devices or {}) do
      local path = type(device) == "table" and device.name == "image"
        and type(device.path) == "string" and device.path
      local object = path and path:sub(1, #account_prefix) == account_prefix
        and path:sub(#account_prefix + 1)
      if object and object:sub(1, #under) == under then
        images[object] = true
      end
    end
  end
  return images
end

-- What `uploads` and `deploy` do first: check the target, open the zapp
-- and read its head (a bad zapp must not touch the cloud), then get the
-- storage URL and the page's auth options (a bad version fails before
-- any upload). The caller closes the zapp.
-- @return { target, zapp, found, url, auth_opts }, or nil, message,
--   code, detail
local function prepare(conn, target, zapp_path, opts)
  local t, terr, tcode = M.check_target(target)
  if not t then
    return nil, terr, tcode
  end
  local zapp, zerr, zcode = open_zapp(zapp_path)
  if not zapp then
    return nil, zerr, zcode
  end
  local found, err, code, detail = read_zapp(zapp)
  local url, auth_opts
  if found then
    url, err, code, detail = conn:auth()
  end
  if url then
    auth_opts = opts.auth_opts
    if auth_opts == nil then
      auth_opts, err, code, detail = M.auth_opts(conn, opts)
    end
  end
  if not auth_opts then
    zapp.file:close()
    return nil, err, code, detail
  end
  return { target = t, zapp = zapp, found = found, url = url,
           auth_opts = auth_opts }
end

--- The auth options a deployed page gets (the original's
-- `_prepare_auth`): for `opts.ui_auth_version` (default: the
-- connection's; "0.0" for none; "1", 1 and "1.0" alike), from
-- `opts.settings` (default: the connection's), with the password or key
-- only when `opts.ui_embed_credentials`.
-- @return an ordered JSON object (see `zpm.webui.auth_opts`), or nil, a
--   message, a code and detail (an unknown version: "invalid"; a failed
--   authentication)
function M.auth_opts(conn, opts)
  opts = opts or {}
  local url, err, code, detail = conn:auth()
  if not url then
    return nil, err, code, detail
  end
  return webui.auth_opts(opts.ui_auth_version or conn.version,
    opts.settings or conn.settings, url,
    { embed_credentials = opts.ui_embed_credentials })
end

--- The lock object of a target: created with `If-None-Match: *` before
-- a deploy writes anything, removed after; it expires by itself after
-- `LOCK_SECONDS` (a deploy killed with SIGKILL cannot remove it).
M.LOCK_SECONDS = 3600

local function lock_path(t)
  return t .. "/" .. M.IMAGES .. "/deploy.lock"
end
M.lock_path = lock_path

--- The record of a target's deployment, `<target>/.zapp/deploy.json`,
-- written once the deploy is in place: the zapp's name and version (from
-- its zapp.yaml), its file name, the image, the names of its `help.args`,
-- when, the segments of the image, and every object deploys to this
-- target wrote (those of earlier deploys kept), which `zpm undeploy`
-- removes.
function M.record_path(t)
  return t .. "/" .. M.IMAGES .. "/deploy.json"
end

--- Whether an object name under a target's `.zapp/` is an image
-- (`<version>/<zapp file name>`), not the lock or the record.
-- @param rest the name after `<target>/.zapp/`
-- @return the version and the zapp file name, or nil
function M.image_name(rest)
  return rest:match("^(%d+T%d+Z%-%x+)/([^/]+)$")
end

-- The lock's content as a GET of it answered: who holds it, since when,
-- and a token of its own; false where there is none.
local function lock_of(resp, err, code, detail)
  if not resp then
    return nil, err, code, detail
  end
  if resp.status == 404 then
    return false
  end
  if not swift.is_2xx(resp.status) then
    return errors.http("Object GET", resp)
  end
  local held = json.decode(resp.body or "")
  return type(held) == "table" and held or {}
end

local function read_lock(conn, t, cleanup)
  return lock_of(conn:request("GET", lock_path(t), { cleanup = cleanup }))
end

-- This process as a lock names it: the host, the process id and its
-- start time (Linux's /proc), so that a deploy on the same host can tell
-- that the deploy holding a lock is gone (killed with SIGKILL, or the
-- machine rebooted). nil where /proc does not tell.
local function first_line(path)
  local text = fs.read(path)
  return text and text:match("^[^\n]*")
end

-- A process's start time (field 22 of /proc/<pid>/stat, after the
-- command name in parentheses), or nil if there is no such process.
local function process_start(pid)
  local stat = first_line(("/proc/%s/stat"):format(pid))
  local after = stat and stat:match("^.*%) (.*)$")
  if not after then
    return nil
  end
  local fields = {}
  for field in after:gmatch("%S+") do
    fields[#fields + 1] = field
  end
  return fields[20]
end

local function this_process()
  local stat = first_line("/proc/self/stat")
  local pid = stat and stat:match("^(%d+) ")
  return first_line("/proc/sys/kernel/hostname"), pid and tonumber(pid),
    pid and process_start(pid)
end

-- Whether a lock's holder ran on this host and is gone.
local function holder_gone(held)
  local host = this_process()
  local pid = type(held) == "table" and math.tointeger(held.pid)
  if not pid or not host or held.host ~= host
     or type(held.started) ~= "string" then
    return false
  end
  return process_start(pid) ~= held.started
end

-- Take the lock: a PUT with If-None-Match: *. Swift checks that header
-- when each PUT starts, so two deploys that start at the same moment may
-- both succeed, the later one's content winning: each deploy therefore
-- reads the lock again (`check_lock`) before it changes anything that
-- the other could see, and the one whose token is not there gives up.
-- A lock whose holder ran on this host and is gone is removed and taken
-- again once; so is any lock with `break_lock` (`--break-lock`).
-- @return the lock's token, or nil, a message, a code ("conflict": held
--   by another deploy) and detail
local function acquire_lock(conn, t, break_lock, again)
  local path = lock_path(t)
  local token = ("%s-%08x%08x"):format(os.date("!%Y%m%dT%H%M%SZ"),
    math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  local host, pid, started = this_process()
  local resp, err, code, detail = conn:request("PUT", path, {
    body = json.encode(json.object({ "deploy", "since", "token", "host",
                                     "pid", "started" },
      { deploy = t, since = os.date("!%Y-%m-%dT%H:%M:%SZ"),
        token = token, host = host or json.null, pid = pid or json.null,
        started = started or json.null })),
    headers = { ["If-None-Match"] = "*", ["Content-Type"] =
                "application/json",
                ["X-Delete-After"] = tostring(M.LOCK_SECONDS) } })
  if not resp then
    return nil, err, code, detail
  end
  if resp.status == 412 then
    local held = read_lock(conn, t)
    local since = type(held) == "table" and held.since or "?"
    local gone = holder_gone(held)
    if (gone or break_lock) and not again then
      log.warning("%s: removing the lock taken %s by %s", path, since,
        gone and ("a deploy that is gone (process %d on this host)")
          :format(math.tointeger(held.pid)) or "another deploy "
          .. "(--break-lock)")
      local c, o = split_path(path)
      local ok, derr, dcode, ddetail = conn:delete_object(c, o,
                                                          { missing_ok = true })
      if not ok then
        return nil, derr, dcode, ddetail
      end
      return acquire_lock(conn, t, break_lock, true)
    end
    -- break_lock is nil where there is no --break-lock (undeploy)
    return nil, ("another deploy to '%s' is in progress (it holds %s "
      .. "since %s); try again when it is done (a lock left by a deploy "
      .. "killed on another machine expires %d s after it was taken; "
      .. "%s)"):format(t, path, since, M.LOCK_SECONDS,
        break_lock == nil and "or delete that object"
        or "--break-lock removes it now"), errors.CONFLICT,
      { status = resp.status, url = resp.url }
  end
  if not swift.is_2xx(resp.status) then
    return errors.http("Object PUT", resp)
  end
  return token
end

-- Whether the lock is still ours.
-- @return true, or nil, a message and a code ("conflict": it is not)
local function check_lock(conn, t, token)
  local held, err, code, detail = read_lock(conn, t)
  if held == nil then
    return nil, err, code, detail
  end
  if not held or held.token ~= token then
    return nil, ("another deploy to '%s' took its lock while this one ran "
      .. "(both started at once); this one gives up"):format(t),
      errors.CONFLICT
  end
  return true
end

-- Remove the lock if it is still ours (on the cleanup session: this also
-- runs after an interrupt). `held`: the lock as read just before, if it
-- was (`lock_of`; else it is read now).
local function release_lock(conn, t, token, held)
  if held == nil then
    held = read_lock(conn, t, true)
  end
  if type(held) == "table" and held.token ~= token then
    return
  end
  local resp, err = conn:request("DELETE", lock_path(t), { cleanup = true })
  if not resp or (resp.status >= 300 and resp.status ~= 404) then
    log.warning("could not remove the deploy lock %s: %s", lock_path(t),
                err or errors.http_message("Object DELETE", resp))
  end
end

--- Take a target's deploy lock (`<target>/.zapp/deploy.lock`, with
-- `If-None-Match: *`), as a deploy does; `zpm undeploy` takes it too.
-- @return the lock's token, or nil, a message, a code ("conflict": held
--   by another deploy) and detail
M.acquire_lock = acquire_lock

--- Release a target's lock taken with `acquire_lock` (if still ours).
M.release_lock = release_lock

-- Delete an image: a Static Large Object with its segments, or an
-- object. On the cleanup session: it also runs after an interrupt.
-- @return true, or nil and a message
local function delete_image(conn, path)
  local c, o = split_path(path)
  return conn:delete_object(c, o, { with_segments = true, missing_ok = true,
                                    cleanup = true })
end

-- The web UI members of a zapp, read now (deploy captures them while the
-- tar uploads instead: the zapp is inflated once), bounded as the
-- capture bounds them.
-- @return list of { name, data }, or nil, a message and a code
local function scan_ui(zapp, patterns)
  local zapp_path = zapp.path
  local members, total, perr, pcode = {}, 0, nil, nil
  local ok, serr, scode = core.archive.scan(zapp.file, function(entry, read)
    if entry.type ~= "file" then
      return true
    end
    for _, pattern in ipairs(patterns) do
      if webui.fnmatch(entry.name, pattern) then
        local data, rerr, rcode = read(MAX_MEMBER)
        total = total + #(data or "")
        if not data or total > MAX_UI then
          perr = rerr or ("%s: the web UI files are larger than %d bytes")
            :format(zapp_path, MAX_UI)
          pcode = rcode or errors.LIMIT
          return false
        end
        members[#members + 1] = { name = entry.name, data = data }
        break
      end
    end
    return true
  end, zapp_path)
  if not ok or perr then
    return nil, perr or serr, pcode or scode
  end
  return members
end

-- Check a plan against the cluster's limits (`conn:limits()`, from its
-- /info) before anything is written: the target's and the objects'
-- names, the segment size, and the segments the tar needs at least.
-- @return true (plan.limits and plan.segment_size set), or nil, a
--   message, a code ("invalid", "limit", or authentication's) and detail
local function check_limits(conn, plan, opts)
  local limits, lerr, lcode, ldetail = conn:limits()
  if not limits then
    return nil, lerr, lcode, ldetail
  end
  local t, terr, tcode = M.check_target(plan.target, limits)
  if not t then
    return nil, terr, tcode
  end
  for _, path in ipairs({ plan.image, t .. "/" .. plan.zapp.name }) do
    local ok, nerr, ncode = swift.check_object_name(select(2,
      split_path(path)), limits.max_object_name_length)
    if not ok then
      return nil, nerr, ncode
    end
  end
  local segment_size = opts.segment_size or limits.max_file_size
  if segment_size > limits.max_file_size then
    return nil, ("--segment-size %d is larger than the cluster's largest "
      .. "object (%d bytes, from /info)"):format(segment_size,
      limits.max_file_size), errors.INVALID
  end
  -- gzip never shrinks data this little: past this many segments of
  -- the zapp file's size, the tar needs more
  local at_least = plan.zapp.size // segment_size
  if at_least > limits.max_manifest_segments then
    return nil, ("%s needs at least %d segments of %s, more than one "
      .. "Static Large Object may have (%d, max_manifest_segments in "
      .. "/info): deploy with a larger --segment-size"):format(
      plan.zapp.path, at_least, human(segment_size),
      limits.max_manifest_segments), errors.LIMIT
  end
  plan.limits, plan.segment_size = limits, segment_size
  return true
end

-- The plan of a deploy (see `plan`), from what `prepare` found.
-- @param how { limits = check the cluster's limits, ui = list the web UI
--   files now }
-- @return the plan, or nil, message, code, detail
local function plan_of(conn, p, opts, how)
  local t, zapp, found = p.target, p.zapp, p.found
  local zapp_name = fs.basename(zapp.path)
  local plan = {
    target = t, container = t:match("^[^/]+"), url = p.url,
    zapp = { path = zapp.path, name = zapp_name, size = zapp.size },
    image = M.image_path(t, new_version(), zapp_name),
    lock = lock_path(t), record = M.record_path(t),
    force = opts.force and true or false,
    break_lock = opts.break_lock and true or false,
    acl = opts.public and M.PUBLIC_ACL or nil,
    ui_patterns = ui_patterns(found.zapp), app = found.zapp,
    auth_opts = p.auth_opts, job = found.job,
    job_source = found[SYSTEM_MAP],
  }
  if how.limits then
    local ok, err, code, detail = check_limits(conn, plan, opts)
    if not ok then
      return nil, err, code, detail
    end
  end
  local objects = { { role = "image", path = plan.image,
                      content_type = "application/x-tar",
                      body = { gunzip = zapp.path } } }
  if how.ui then
    local members, err, code = scan_ui(zapp, plan.ui_patterns)
    local files, ferr, fcode
    if members then
      files, ferr, fcode = ui_files(members, t,
        { zapp = found.zapp, auth_opts = p.auth_opts }, zapp.path)
    end
    if not files then
      return nil, err or ferr, code or fcode
    end
    for _, f in ipairs(files) do
      objects[#objects + 1] = { role = "ui", path = f.object,
        content_type = f.content_type, size = #f.data, body = f.data }
    end
  end
  job.add_image_device(found.job, M.swift_path(p.url, plan.image))
  local text = assert(json.encode(found.job))
  objects[#objects + 1] = { role = "job", path = t .. "/" .. SYSTEM_MAP,
    content_type = "application/json", size = #text, body = text }
  local manifest = assert(json.encode({ { path = "/" .. plan.image } }))
  objects[#objects + 1] = { role = "manifest",
    path = t .. "/" .. zapp_name, query = "?multipart-manifest=put",
    content_type = "application/x-tar", size = #manifest, body = manifest }
  plan.objects = objects
  return plan
end

-- Build the plan of a deploy and open its zapp: the one place that
-- decides what a deploy writes (`plan`, `uploads` and `deploy` all come
-- here).
-- @return the plan and the open zapp (the caller closes it), or nil, a
--   message, a code and detail
local function build(conn, target, zapp_path, opts, how)
  local p, err, code, detail = prepare(conn, target, zapp_path, opts)
  if not p then
    return nil, err, code, detail
  end
  local plan, perr, pcode, pdetail = plan_of(conn, p, opts, how)
  if not plan then
    p.zapp.file:close()
    return nil, perr, pcode, pdetail
  end
  return plan, p.zapp
end

-- The planned object of a role ("image", "job", "manifest").
local function planned(plan, role)
  for _, object in ipairs(plan.objects) do
    if object.role == role then
      return object
    end
  end
end

--- What a deploy would do, as data (what `zpm deploy --dry-run` would
-- print); nothing is written. The zapp is read whole (its web UI files
-- rendered, as `uploads` does); authenticates and asks /info if the
-- connection has not yet.
-- @param conn a `zpm.swift` connection
-- @param target "container" or "container/dir"
-- @param zapp_path the .zapp file
-- @param opts as for `deploy` (force, public, segment_size,
--   ui_auth_version, settings, ui_embed_credentials, auth_opts)
-- @return { target, container, url (storage URL), zapp = { path, name,
--   size }, image (the new image object), lock (the lock object), force,
--   acl (the read ACL `public` sets, or nil), limits (the cluster's),
--   segment_size (a tar larger goes as a Static Large Object), job (the
--   job table written, naming the image), objects = { { role, path,
--   content_type, size, body, query }, ... } in the order written:
--   "image" (the tar; body { gunzip = zapp_path }, size nil: known once
--   sent), each "ui" file, "job" (boot/system.map: what changes what the
--   target runs), "manifest" (<target>/<zapp name>, naming the image) };
--   or nil, message, code, detail (as `deploy` fails before writing
--   anything)
function M.plan(conn, target, zapp_path, opts)
  local plan, zapp, code, detail = build(conn, target, zapp_path,
    opts or {}, { limits = true, ui = true })
  if not plan then
    return nil, zapp, code, detail
  end
  zapp.file:close()
  return plan
end

--- The objects a deploy writes, in the order it writes them (the
-- original's `_generate_uploads`; `plan`'s objects, without the checks
-- against the cluster's limits): the zapp's tar (at a new image name,
-- see `image_path`), the web UI files (templates rendered),
-- `boot/system.map` with the image device, then `<target>/<zapp name>`,
-- a Static Large Object manifest naming the image. Nothing is sent but
-- an authentication and /info, when the connection has none yet.
-- @param conn a `zpm.swift` connection
-- @param target "container" or "container/dir"
-- @param zapp_path the .zapp file
-- @param opts as for `deploy` (ui_auth_version, settings,
--   ui_embed_credentials, auth_opts)
-- @return list of `{ path = "container/object", body = ..., content_type
--   = ..., query = ... }`, where body is `{ gunzip = zapp_path }` for the
--   tar (stream it with `conn:put_object`) and a string otherwise; or
--   nil, message, code, detail
function M.uploads(conn, target, zapp_path, opts)
  -- as before `plan`: the cluster's limits are deploy's to check
  local plan, zapp, code, detail = build(conn, target, zapp_path,
    opts or {}, { ui = true })
  if not plan then
    return nil, zapp, code, detail
  end
  zapp.file:close()
  local list = {}
  for i, o in ipairs(plan.objects) do
    list[i] = { path = o.path, body = o.body, content_type = o.content_type,
                query = o.query }
  end
  return list
end

-- A count read back from JSON (`zpm.json` gives every number as a
-- float): the integer, or nil.
local function count_of(v)
  return type(v) == "number" and math.tointeger(v) or nil
end

-- The segments of the image this deploy leaves in place: its own SLO's,
-- or, reused, those the record gave it; nil for one object.
local function segments_of(run)
  local record = run.old_record
  return run.slo and run.slo.segments or run.reuse
    and run.plan.image == record.image and count_of(record.segments) or nil
end

-- Point a plan at another image (`--skip-identical`: the one in place
-- holds the same tar): the job and the manifest name it.
local function set_image(plan, image)
  local the_job = assert(json.decode_ordered(plan.job_source))
  job.add_image_device(the_job, M.swift_path(plan.url, image))
  plan.image, plan.job = image, the_job
  for _, o in ipairs(plan.objects) do
    if o.role == "image" then
      o.path = image
    elseif o.role == "job" then
      o.body = assert(json.encode(the_job))
      o.size = #o.body
    elseif o.role == "manifest" then
      o.body = assert(json.encode({ { path = "/" .. image } }))
      o.size = #o.body
    end
  end
end

-- The steps of a deploy. Each takes the connection and the run (the
-- plan, the open zapp, the lock's token, deploy's opts, and what the
-- steps found and wrote so far) and returns true, or nil, a message, a
-- code and detail.

-- A failure before the job is in place takes the new image back; the
-- message names what stays (web UI files overwritten).
local function abandon(conn, run, message, code, detail)
  local written = run.written
  for _, path in ipairs(run.image_stored) do
    local ok, derr = delete_image(conn, path)
    if not ok then
      log.warning("could not remove the new image %s: %s", path, derr)
      written[#written + 1] = path
    end
  end
  if #written > 0 then
    message = message .. "; objects written before the failure: "
      .. table.concat(written, ", ")
  end
  return nil, message, code, errors.with_objects(detail, written)
end

-- The job deployed now, if any: its image is removed once ours is in;
-- and the record of that deployment. Both GETs at once.
local function read_previous_job(conn, run)
  local t = run.plan.target
  local resps, err, code, detail = conn:request_many({
    { method = "GET", path = t .. "/" .. SYSTEM_MAP },
    { method = "GET", path = M.record_path(t) } })
  if not resps then
    return nil, err, code, detail
  end
  local old = resps[1]
  if old.error then
    return nil, old.error, old.code
  elseif old.status ~= 404 and not swift.is_2xx(old.status) then
    return errors.http("Object GET", old)
  end
  local old_text = old.status ~= 404 and old.body or nil
  run.old_job = old_text
  run.previous = old_text and images_of(json.decode(old_text),
    M.swift_path(run.plan.url, ""), t) or {}
  -- the record as a table whatever the object holds ({} where none)
  local resp = resps[2]
  local record = resp.status and swift.is_2xx(resp.status)
    and json.decode(resp.body or "")
  run.old_record = type(record) == "table" and record or {}
  return true
end

-- What the target holds under it: container/object -> listing entry
-- ({ name, hash, bytes, ... }), all pages.
local function target_listing(conn, plan)
  local c = plan.container
  local dir = plan.target:match("^[^/]+/(.+)$")
  local held, marker = {}, nil
  repeat
    local entries, err, code, detail = conn:list_objects(c, {
      prefix = dir and dir .. "/" or nil, marker = marker })
    if not entries then
      return nil, err, code, detail
    end
    for _, e in ipairs(entries) do
      held[c .. "/" .. e.name], marker = e, e.name
    end
  until #entries == 0 or not marker
    or #entries < 10000
  return held
end

-- An object not sent: the target holds the same content.
local function skip(run, path, bytes)
  run.skipped[#run.skipped + 1] = { path = path, bytes = bytes }
end

-- --skip-identical: what the target holds, and whether its image is the
-- zapp's tar. The record of the deployment in place keeps the zapp
-- file's `fingerprint` and the image's hash and size as Swift listed
-- them after the upload: the same file, and that image still listed with
-- that hash (an Etag: MD5 of the content, or of the segments' Etags), is
-- the same tar. Else the zapp's record (`zpm.core.archive.record`) of
-- its tar's MD5 and length finds any image held as one object with
-- them. Anything else, and the tar is sent.
local function find_identical(conn, run)
  if not run.opts.skip_identical then
    return true
  end
  local plan = run.plan
  local held, err, code, detail = target_listing(conn, plan)
  if not held then
    return nil, err, code, detail
  end
  run.held, run.skipped = held, {}
  local record = run.old_record
  local source = type(record.source) == "table" and record.source or {}
  local image = type(record.image) == "string" and record.image
  local images = plan.target .. "/" .. M.IMAGES .. "/"
  local entry = image and image:sub(1, #images) == images and held[image]
  local same = entry and run.zapp.fingerprint
    and source.fingerprint == run.zapp.fingerprint
    and type(source.hash) == "string" and source.hash == entry.hash
    and source.bytes == entry.bytes
  local tar = run.zapp.record
  if not same and tar then
    -- the zapp's record: an image held with the tar's MD5 and length,
    -- even one this machine did not deploy (the newest, if several)
    entry, image = nil, nil
    for path, e in pairs(held) do
      if path:sub(1, #images) == images
         and path:find("^[^/]+/[^/]+$", #images + 1)
         and e.hash == tar.md5 and e.bytes == tar.length
         and (not image or path > image) then
        entry, image = e, path
      end
    end
    same = entry ~= nil
  end
  if same then
    log.info("--skip-identical: %s holds this zapp's tar (%s)", image,
             human(entry.bytes))
    set_image(plan, image)
    run.reuse = true
    skip(run, image, entry.bytes)
  end
  return true
end

-- 1. The tar, at the new image name; its web UI members are captured on
-- the way (not when `find_identical` found it in place).
local function upload_image(conn, run)
  if run.reuse then
    return true
  end
  local captured, uerr, code, detail = put_tar(conn, run.plan, run.zapp,
                                               run.opts)
  run.image_stored = captured and { run.plan.image } or detail.objects
  if not captured then
    -- a deploy that took the lock meanwhile removes segments whose
    -- manifest is not stored yet (ours): say that, not what it broke
    if code == errors.HTTP then
      local mine, lerr, lcode = check_lock(conn, run.plan.target, run.token)
      if not mine and lcode == errors.CONFLICT then
        return nil, lerr, lcode, detail
      end
    end
    return nil, uerr, code, detail
  end
  run.captured, run.slo = captured, uerr
  return true
end

-- Before anything another deploy could see: is the lock still ours?
local function lock_still_ours(conn, run)
  return check_lock(conn, run.plan.target, run.token)
end

-- Again before the job, if web UI files were sent since (else the
-- answer is the one just read).
local function lock_still_ours_after_ui(conn, run)
  if not run.ui_sent then
    return true
  end
  return lock_still_ours(conn, run)
end

-- PUT the web UI files, `opts.concurrency` at a time.
local function put_files(conn, run, files)
  local opts, written = run.opts, run.written
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
  local results, rerr, rcode, rdetail = conn:request_many(reqs, {
    concurrency = opts.concurrency or M.CONCURRENCY,
    stop_on_failure = true, progress = progress })
  if progress then
    progress:finish()
  end
  if not results then
    return nil, rerr, rcode, rdetail
  end
  local first
  for i, resp in ipairs(results) do
    if resp then    -- false: never started
      local failed = resp.error
        and { nil, resp.error, resp.code } or { check_put(resp) }
      if failed[1] or failed[3] == errors.ETAG then
        written[#written + 1] = files[i].object
      end
      if not failed[1] and not first then
        first = failed
      end
    end
  end
  if first then
    return nil, first[2], first[3], first[4]
  end
  return true
end

--- How `deploy` uploads the web UI files (`opts.ui_upload`): "auto"
-- (the default: one bulk request when the cluster's /info announces
-- `bulk_upload` and there are at least `BULK_MIN_FILES` files to send,
-- else parallel PUTs), "bulk" (one request whenever the cluster has the
-- middleware) or "parallel" (one PUT per file, `concurrency` at a time).
M.UI_UPLOAD = { auto = true, bulk = true, parallel = true }
M.BULK_MIN_FILES = 2

-- Whether to send these web UI files in one bulk request.
local function use_bulk(run, files)
  local mode = run.opts.ui_upload or "auto"
  if mode == "parallel" then
    return false
  end
  if not run.plan.limits.bulk_upload then
    log.info("the cluster's /info announces no bulk_upload: the web UI "
      .. "files go one PUT each")
    return false
  end
  return mode == "bulk" or #files >= M.BULK_MIN_FILES
end

-- Send web UI files in bulk requests (Swift's bulk middleware): those
-- stored go into run.written; the others (those it refused or did not
-- try, those whose names it would not keep as they are, all of them
-- when the request failed) are returned, to go one PUT each, and so are
-- the objects of requests that got no answer (perhaps stored).
local function put_bulk(conn, run, files)
  local container = run.plan.container
  local bulk, rest = {}, {}
  for _, f in ipairs(files) do
    local name = select(2, split_path(f.object))
    if swift.extractable_name(name) then
      bulk[#bulk + 1] = { name = name, data = f.data,
                          content_type = f.content_type, file = f }
    else
      rest[#rest + 1] = f
    end
  end
  if #bulk == 0 then
    return rest, {}
  end
  local opts = run.opts
  local n = swift.bulk_requests(#bulk, opts.concurrency)
  log.info("uploading %d web UI files in %s (Swift's bulk "
    .. "extract-archive)", #bulk, n == 1 and "one request"
    or ("%d requests at once"):format(n))
  local outcome, err, unanswered = conn:extract_archive(container, bulk, {
    concurrency = opts.concurrency,
    progress = opts.progress and function(bytes)
      return core.progress.new(("uploading %d web UI files (%d tar%s)")
        :format(#bulk, n, n == 1 and "" or "s"), bytes)
    end or nil })
  if not outcome then
    log.info("the bulk upload failed (%s): sending its files one PUT each",
      err)
    for _, b in ipairs(bulk) do
      rest[#rest + 1] = b.file
    end
    return rest, {}
  end
  local written, again, perhaps = run.written, 0, {}
  for i, b in ipairs(bulk) do
    if outcome[i] == true then
      written[#written + 1] = b.file.object
    else
      log.info("%s: %s in the bulk upload; sending it by itself",
               b.file.object, outcome[i])
      rest[#rest + 1] = b.file
      again = again + 1
      if unanswered[i] then
        perhaps[#perhaps + 1] = b.file.object
      end
    end
  end
  if again > 0 then
    log.info("bulk upload: %d of %d files stored", #bulk - again, #bulk)
  end
  return rest, perhaps
end

-- The web UI files to send: in one bulk request where the cluster and
-- `opts.ui_upload` allow, and what that did not store (or all) one PUT
-- each.
local function send_ui(conn, run, files)
  local perhaps = {}
  if use_bulk(run, files) then
    files, perhaps = put_bulk(conn, run, files)
    if #files == 0 then
      return true
    end
  end
  local ok, err, code, detail = put_files(conn, run, files)
  if not ok then
    -- what a bulk request without an answer may have stored, and its
    -- own PUT did not: left too, as far as anyone knows
    local seen, written = {}, run.written
    for _, path in ipairs(written) do
      seen[path] = true
    end
    for _, path in ipairs(perhaps) do
      if not seen[path] then
        written[#written + 1] = path
      end
    end
    return nil, err, code, detail
  end
  return true
end

-- What the web UI files' content depends on besides the zapp: the page's
-- auth options; nil when they hold a secret or come as a table of the
-- caller's (the UI is then compared file by file).
local function ui_fingerprint(run)
  local opts = run.opts
  if opts.ui_embed_credentials or opts.auth_opts ~= nil then
    return nil
  end
  local text = json.encode(run.plan.auth_opts)
  return text and core.md5(text) or nil
end

-- --skip-identical with the image in place: the record's web UI files
-- (object, MD5), rendered from this zapp with the same auth options, all
-- held with that MD5? Then none is read or sent.
local function ui_unchanged(run)
  local record, fp = run.old_record, ui_fingerprint(run)
  if not fp or record.ui_fingerprint ~= fp or type(record.ui) ~= "table"
     or type(record.index) ~= "string" then
    return false
  end
  for _, pair in ipairs(record.ui) do
    local entry = type(pair) == "table" and type(pair[1]) == "string"
      and run.held[pair[1]]
    if not (entry and entry.hash == pair[2]) then
      return false
    end
  end
  for _, pair in ipairs(record.ui) do
    skip(run, pair[1], run.held[pair[1]].bytes)
  end
  run.ui, run.index = record.ui, record.index
  return true
end

-- 2. The web UI files, from the captured members (templates rendered);
-- with --skip-identical, those the target holds with the same MD5 are
-- not sent.
local function upload_ui(conn, run)
  local plan = run.plan
  if run.reuse then
    if ui_unchanged(run) then
      return true
    end
    local members, serr, scode = scan_ui(run.zapp, plan.ui_patterns)
    if not members then
      return nil, serr, scode
    end
    run.captured = members
  end
  local files, index, code = ui_files(run.captured, plan.target,
    { zapp = plan.app, auth_opts = plan.auth_opts }, run.zapp.path)
  if not files then
    return nil, index, code
  end
  for _, f in ipairs(files) do
    local ok, nerr, ncode = swift.check_object_name(select(2,
      split_path(f.object)), plan.limits.max_object_name_length)
    if not ok then
      return nil, nerr, ncode
    end
  end
  run.index, run.ui = index, {}
  local send = {}
  for _, f in ipairs(files) do
    local md5 = core.md5(f.data)
    run.ui[#run.ui + 1] = { f.object, md5 }
    local entry = run.held and run.held[f.object]
    if entry and entry.hash == md5 and entry.bytes == #f.data then
      skip(run, f.object, #f.data)
    else
      send[#send + 1] = f
    end
  end
  if #send == 0 then
    return true
  end
  run.ui_sent = true
  return send_ui(conn, run, send)
end

-- 3. The job, pointing at the new image: the one step that changes what
-- the target runs. A first deploy takes the name only if it is still
-- free.
local function put_job(conn, run)
  local the_job = planned(run.plan, "job")
  local path = the_job.path
  local c, o = split_path(path)
  if run.reuse and run.old_job == the_job.body then
    skip(run, path, #the_job.body)
    return true
  end
  log.info("uploading %s (application/json)", path)
  local stored, perr, code, detail = conn:put_object(c, o, the_job.body, {
    content_type = the_job.content_type,
    headers = { ["If-None-Match"] = not run.old_job and "*" or nil } })
  if code == errors.HTTP and detail.status == 412 then
    return nil, ("%s appeared while this deploy ran: another deploy "
      .. "wrote it; this one is undone"):format(path), errors.CONFLICT,
      detail
  end
  if not stored then
    if code ~= errors.HTTP then
      -- stored, perhaps, but not as sent: it must not make the target
      -- run the new image; the previous job goes back (or none)
      local restore = run.old_job and conn:request("PUT", path, {
        cleanup = true, body = run.old_job,
        headers = { ["Content-Type"] = "application/json" } })
      if not (restore and swift.is_2xx(restore.status)) then
        conn:delete_object(c, o, { cleanup = true })
      end
    end
    return nil, perr, code, detail
  end
  run.image_stored = {}
  run.written[#run.written + 1] = run.plan.image
  run.written[#run.written + 1] = path
  return true
end

-- The steps up to the job, in order: a failure in any takes the new
-- image back (`abandon`), and the target runs its previous version.
local UNTIL_JOB = { read_previous_job, find_identical, upload_image,
                    lock_still_ours, upload_ui, lock_still_ours_after_ui,
                    put_job }

-- 4. <target>/<zapp name>: a manifest naming the image, for whoever
-- fetches the zapp by that name.
local function name_image(conn, run)
  local manifest = planned(run.plan, "manifest")
  local c, o = split_path(manifest.path)
  -- as listed when the record in place was written: it names the image
  -- (the record's image only: one found by its MD5 is named anew)
  local record = run.old_record
  local source = type(record.source) == "table" and record.source or {}
  local held = run.reuse and run.plan.image == record.image
    and run.held[manifest.path]
  if held and held.hash == source.manifest_hash then
    skip(run, manifest.path, #manifest.body)
    return true
  end
  local ok, err, code, detail = conn:put_manifest(c, o,
    { { path = "/" .. run.plan.image } },
    { content_type = manifest.content_type })
  if not ok then
    return nil, ("the new version is deployed and runs, but %s could not "
      .. "be made to name it: %s"):format(manifest.path, err), code, detail
  end
  run.written[#run.written + 1] = manifest.path
  return true
end

-- After the job, what the target holds, listed at once (`list_many`):
-- every object under `<target>/.zapp/` (the new image as Swift lists
-- it, for the record; the images to remove), the manifest (for the
-- record) and, unless `opts.leave_segments`, the segments under
-- `<target>/.zapp/` in the segments container (those of deploys killed
-- before their image's manifest was stored go). A listing that fails is
-- left out (logged): the record then says less, and less is removed.
local function survey(conn, run)
  local plan = run.plan
  local c, prefix = split_path(plan.target .. "/" .. M.IMAGES .. "/")
  local mc, mo = split_path(planned(plan, "manifest").path)
  local lists = { images = { c, opts = { prefix = prefix, all = true } },
                  manifest = { mc, opts = { prefix = mo, limit = 1 } } }
  local order = { "images", "manifest" }
  if not run.opts.leave_segments then
    lists.segments = { swift.segment_container(c),
                       opts = { prefix = prefix, all = true } }
    order[#order + 1] = "segments"
  end
  local batch = {}
  for i, key in ipairs(order) do
    batch[i] = lists[key]
  end
  run.survey = { container = c, prefix = prefix }
  local results, err = conn:list_many(batch)
  for i, key in ipairs(order) do
    local r = results and results[i] or { error = err }
    local missing = r.code == errors.HTTP and r.detail
      and r.detail.status == 404
    if r.entries then
      run.survey[key] = r.entries
    elseif not (key == "segments" and missing) then
      log.warning("could not list %s: %s", batch[i][1], r.error)
    end
  end
  local manifest = run.survey.manifest and run.survey.manifest[1]
  run.survey.manifest = manifest and manifest.name == mo and manifest or nil
end

-- The entry of an object in a listing of the survey, or nil.
local function listed(entries, object)
  for _, e in ipairs(entries or {}) do
    if e.name == object then
      return e
    end
  end
end

-- What `--skip-identical` needs of the image in the record: the zapp
-- file's fingerprint and the image's hash and size as Swift lists them
-- (`survey`), or the earlier record's when its image was reused.
-- @return a JSON object, or nil (nothing sure to say)
local function image_source(run)
  local record = run.old_record
  if run.reuse and run.plan.image == record.image
     and type(record.source) == "table" then
    local source = record.source
    source.bytes = count_of(source.bytes) or source.bytes
    return source
  end
  local fp = run.zapp.fingerprint
  local entry = fp and listed(run.survey.images,
                              select(2, split_path(run.plan.image)))
  if not entry then
    return nil
  end
  local manifest = run.survey.manifest
  return json.object({ "fingerprint", "hash", "bytes", "manifest_hash" },
    { fingerprint = fp, hash = entry.hash, bytes = entry.bytes,
      manifest_hash = manifest and manifest.hash or json.null })
end

-- 5. The record of the deployment (`record_path`): what `zpm list`
-- shows and `zpm undeploy` removes. The objects of earlier deploys'
-- records stay in it (a web UI file this version no longer has is still
-- the deployment's).
local function write_record(conn, run)
  local plan = run.plan
  local objects, seen = {}, {}
  local function add(path)
    if not seen[path] and path ~= plan.image then
      seen[path] = true
      objects[#objects + 1] = path
    end
  end
  for _, path in ipairs(run.written) do
    add(path)
  end
  for _, s in ipairs(run.skipped or {}) do
    add(s.path)
  end
  local old = run.old_record.objects
  local under, images = plan.target .. "/", plan.target .. "/"
    .. M.IMAGES .. "/"
  for _, path in ipairs(type(old) == "table" and old or {}) do
    if type(path) == "string" and path:sub(1, #under) == under
       and path:sub(1, #images) ~= images then
      add(path)
    end
  end
  local app = plan.app or {}
  local meta = type(app.meta) == "table" and app.meta or {}
  local args = {}
  local help = type(app.help) == "table" and app.help or {}
  for i, pair in ipairs(type(help.args) == "table" and help.args or {}) do
    args[i] = pair[1]
  end
  local ui = json.array()
  for i, pair in ipairs(run.ui or {}) do
    ui[i] = json.array({ pair[1], pair[2] })
  end
  local record = json.object({ "zapp", "version", "file", "image",
    "segments", "deployed", "args", "objects", "source", "index",
    "ui_fingerprint", "ui" }, {
    zapp = meta.name or json.null,
    -- the template's `Version` (the original zpm's), or `version`
    version = (meta.Version ~= nil and meta.Version ~= "")
      and tostring(meta.Version) or (meta.version ~= nil
      and meta.version ~= "") and tostring(meta.version) or json.null,
    file = plan.zapp.name, image = plan.image,
    segments = segments_of(run) or json.null,
    deployed = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    args = json.array(args), objects = json.array(objects),
    source = image_source(run) or json.null,
    index = run.index or json.null,
    ui_fingerprint = ui_fingerprint(run) or json.null, ui = ui })
  local c, o = split_path(M.record_path(plan.target))
  local ok, err = conn:put_object(c, o, assert(json.encode(record)),
    { content_type = "application/json" })
  if not ok then
    log.warning("could not write %s (zpm list and zpm undeploy read it): "
      .. "%s", M.record_path(plan.target), err)
    return
  end
  run.written[#run.written + 1] = M.record_path(plan.target)
end

-- Whether an old image is a Static Large Object (its segments go with
-- it): true, false, or nil (a HEAD tells). A listing with `slo_etag`
-- says so; where the manifest's listing has one, Swift marks every Static
-- Large Object so; else the record of the deployment it was, if any.
local function old_image_is_slo(run, path, entry)
  if entry and entry.slo_etag then
    return true
  elseif entry and run.survey.manifest and run.survey.manifest.slo_etag then
    return false
  end
  local record = run.old_record
  if record.image == path then
    return count_of(record.segments) ~= nil
  end
  return nil
end

-- The images to remove: the survey's other than ours, and those the
-- previous job named, each once; and for each whether it is a Static
-- Large Object (false with `opts.leave_segments`: it goes alone; "?":
-- unknown yet).
-- @return list of paths, and path -> true, false or "?"
local function old_images(run)
  local plan, survey = run.plan, run.survey
  local leave = run.opts.leave_segments
  local slo, paths = {}, {}
  local function add(path, entry)
    if path ~= plan.image and slo[path] == nil then
      paths[#paths + 1] = path
      slo[path] = not leave and old_image_is_slo(run, path, entry)
      if slo[path] == nil then
        slo[path] = "?"
      end
    end
  end
  for _, e in ipairs(survey.images or {}) do
    if M.image_name(e.name:sub(#survey.prefix + 1)) then
      add(survey.container .. "/" .. e.name, e)
    end
  end
  local previous = {}
  for path in pairs(run.previous) do
    previous[#previous + 1] = path
  end
  table.sort(previous)
  for _, path in ipairs(previous) do
    add(path)
  end
  return paths, slo
end

-- HEAD the images whose kind is unknown ("?" in slo), at once: true or
-- false then, or nil (not to be removed: gone already, or the HEAD failed,
-- logged).
local function ask_slo(conn, paths, slo)
  local heads, asked = {}, {}
  for _, path in ipairs(paths) do
    if slo[path] == "?" then
      heads[#heads + 1] = { method = "HEAD", path = path }
      asked[#asked + 1] = path
    end
  end
  if #heads == 0 then
    return
  end
  local answers, err = conn:request_many(heads, { cleanup = true })
  for i, path in ipairs(asked) do
    local resp = answers and answers[i] or { error = err }
    if resp.status == 404 then
      slo[path] = nil -- gone already
    elseif swift.is_2xx(resp.status or 0) then
      slo[path] = ((resp.headers or {})["x-static-large-object"] or "")
        :lower() == "true"
    else
      slo[path] = nil
      log.warning("could not remove the old image %s: %s", path,
        resp.error or errors.http_message("Object HEAD", resp))
    end
  end
end

-- The segments under `<target>/.zapp/` whose image is not listed: those
-- of deploys killed before their image's manifest was stored (an
-- image's own segments go with it). Never ours.
-- @return list of container/object paths
local function orphan_segments(run)
  local survey, out = run.survey, {}
  if not (survey.segments and survey.images) then
    return out
  end
  local held, c = {}, survey.container
  local sc = swift.segment_container(c)
  for _, e in ipairs(survey.images) do
    held[e.name] = true
  end
  for _, e in ipairs(survey.segments) do
    local image = e.name:match("^(.-)/slo/")
    if image and not held[image] and c .. "/" .. image ~= run.plan.image
       and M.image_name(image:sub(#survey.prefix + 1)) then
      out[#out + 1] = sc .. "/" .. e.name
    end
  end
  return out
end

-- 6. The images of earlier versions and of deploys that died, with
-- their segments unless `opts.leave_segments`, and the orphan segments
-- (unless `opts.leave_segments`: the survey did not list them), with the
-- lock read back for `release_lock`: all at once. Under the lock no
-- other deploy writes there. Best effort: what fails is logged and stays
-- for the next deploy or `zpm undeploy`. On the cleanup session: it also
-- runs after an interrupt.
local function remove_old_images(conn, run)
  local paths, slo = old_images(run)
  ask_slo(conn, paths, slo)
  local reqs, what = {}, {}
  for _, path in ipairs(paths) do
    if slo[path] ~= nil then
      reqs[#reqs + 1] = { method = "DELETE", path = path,
                          query = slo[path] and "?multipart-manifest=delete"
                            or nil }
      what[#reqs] = "the old image " .. path
    end
  end
  for _, path in ipairs(orphan_segments(run)) do
    reqs[#reqs + 1] = { method = "DELETE", path = path }
    what[#reqs] = "the segment " .. path
  end
  reqs[#reqs + 1] = { method = "GET", path = lock_path(run.plan.target) }
  local results, err = conn:request_many(reqs, { cleanup = true })
  for i = 1, #reqs - 1 do
    local resp = results and results[i] or { error = err }
    if resp.error or (resp.status ~= 404 and not swift.is_2xx(resp.status))
    then
      log.warning("could not remove %s: %s", what[i],
        resp.error or errors.http_message("Object DELETE", resp))
    end
  end
  local lock = results and results[#reqs]
  if lock and lock.status then
    local held = lock_of(lock)
    if held ~= nil then
      run.lock_held = held
    end
  end
end

-- The part of a deploy done under the target's lock: the steps, in
-- order.
-- @return as `deploy`
local function run_locked(conn, run)
  for _, step in ipairs(UNTIL_JOB) do
    local ok, err, code, detail = step(conn, run)
    if not ok then
      return abandon(conn, run, err, code, detail)
    end
  end
  local named, nerr, ncode, ndetail = name_image(conn, run)
  if not named then
    return nil, nerr, ncode, errors.with_objects(ndetail, run.written)
  end
  survey(conn, run)
  write_record(conn, run)
  remove_old_images(conn, run)
  local plan = run.plan
  return { url = conn:url_for(run.index), index = run.index,
           image = plan.image, objects = run.written, job = plan.job,
           segments = segments_of(run),
           skipped = run.skipped }
end

local function not_empty(container)
  return ("Target container ('%s') is not empty.\nDeploying to a "
    .. "non-empty container can cause consistency problems with "
    .. "overwritten objects.\nSpecify the flag `--force/-f` to "
    .. "overwrite anyway."):format(container)
end

-- The container: empty (or --force), or created; with the read ACL
-- when `public`.
-- @return true, or nil, a message, a code ("conflict": not empty) and
--   detail
local function ensure_container(conn, plan)
  local container, acl = plan.container, plan.acl
  local names, cerr, code, detail = conn:get_container(container,
                                                       { limit = 1 })
  if names then
    if #names > 0 and not plan.force then
      return nil, not_empty(container), errors.CONFLICT
    end
  elseif code == errors.HTTP and detail.status == 404 then
    log.info("Container '%s' not found. Creating it...", container)
    local ok, perr, pcode, pdetail = conn:put_container(container, {
      ["X-Container-Read"] = acl,
      [swift.CREATED_META] = os.date("!%Y-%m-%dT%H:%M:%SZ") })
    if not ok then
      return nil, perr, pcode, pdetail
    end
  else
    return nil, cerr, code, detail
  end
  if names and acl then
    log.info("setting the read ACL of '%s' to %s", container, acl)
    return conn:post_container(container, { ["X-Container-Read"] = acl })
  end
  return true
end

-- Take the target's lock. Without --force, a deploy that finished
-- between `ensure_container`'s look and the lock would be overwritten:
-- look again, the lock aside.
-- @return the lock's token, or nil, a message, a code and detail
local function take_lock(conn, plan)
  local token, err, code, detail = acquire_lock(conn, plan.target,
                                                plan.break_lock)
  if not token or plan.force then
    return token, err, code, detail
  end
  local again, aerr, acode, adetail = conn:get_container(plan.container,
                                                         { limit = 2 })
  local others = 0
  for _, name in ipairs(again or {}) do
    if plan.container .. "/" .. name ~= plan.lock then
      others = others + 1
    end
  end
  if not again or others > 0 then
    release_lock(conn, plan.target, token)
    if again then
      return nil, not_empty(plan.container), errors.CONFLICT
    end
    return nil, aerr, acode, adetail
  end
  return token
end

--- Deploy a zapp.
-- The executable unit is the job (`boot/system.map`) with the image it
-- names, and it changes in one step: the tar goes to a new image object
-- (`image_path`: a name of this deploy's own), then the web UI files,
-- then the job that points at the new image; until that last PUT, the
-- target runs its previous version whole (old job, old image), and a
-- deploy that fails before it removes its new image. Only then is
-- `<target>/<zapp name>` (a manifest naming the image, for whoever
-- fetches the zapp) moved and the previous image removed. A lock object
-- taken with `If-None-Match: *` before anything is written makes a
-- concurrent deploy to the same target fail, never overwrite. The zapp
-- is opened once; every read goes through that descriptor. In code: the
-- plan (as `plan` makes it, the web UI files left to the tar's capture),
-- `ensure_container`, `take_lock`, then the steps in `UNTIL_JOB`,
-- `name_image` and `remove_old_images`.
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
--   uploaded at once (default `zpm.deploy.CONCURRENCY`, 8; in bulk, how
--   many bulk requests), ui_upload = "auto" (default), "bulk" or
--   "parallel" (`UI_UPLOAD`: the web UI files in Swift's bulk
--   extract-archive requests where /info announces bulk_upload, or one
--   PUT each),
--   segment_size = bytes (a tar larger than this, or than the cluster's
--   max_file_size from /info, goes as a Static Large Object in segments
--   of this size in container `<container>_segments`; default and
--   maximum: max_file_size), leave_segments = bool (the images of
--   earlier deploys go without their segments: python-swiftclient's
--   --leave-segments; by default an earlier Static Large Object goes
--   with its segments, once the new deploy is in place), progress =
--   bool (progress meters on stderr for the zapp and the web UI
--   uploads), skip_identical = bool (python-swiftclient's
--   --skip-identical: objects the target holds with the same content are
--   not sent: the image when the record in place names this zapp file,
--   unchanged, and the image is still listed as it was stored; web UI
--   files, the job and the manifest whose listed MD5 is the local one),
--   break_lock = bool (`--break-lock`: remove the target's lock if
--   another deploy holds it; one whose deploy is gone on this host is
--   removed anyway) }
-- @return { url = URL to print (percent-encoded), index = object path,
--   image = the image object, objects = list, job = job table,
--   segments = number of segments of the zapp's SLO or nil, skipped =
--   list of { path, bytes } not sent (with skip_identical; else nil) }, or nil, a
--   message, a code and detail (`zpm.errors`); once the lock is taken,
--   detail.objects lists the objects written before the failure and
--   left (container/object)
function M.deploy(conn, target, zapp_path, opts)
  opts = opts or {}
  if opts.ui_upload ~= nil and not M.UI_UPLOAD[opts.ui_upload] then
    return nil, ("deploy option ui_upload: expected 'auto', 'bulk' or "
      .. "'parallel', got '%s'"):format(tostring(opts.ui_upload)),
      errors.INVALID
  end
  local plan, zapp_or_err, bcode, bdetail = build(conn, target, zapp_path,
                                                  opts, { limits = true })
  if not plan then
    return nil, zapp_or_err, bcode, bdetail
  end
  local zapp <close> = zapp_or_err
  if opts.auth_opts == nil and opts.ui_embed_credentials
     and plan.auth_opts.password then
    log.warning("the web UI embeds the password or key: anyone who can "
      .. "read %s/index.html can use these credentials", plan.target)
  end
  local ok, err, code, detail = ensure_container(conn, plan)
  if not ok then
    return nil, err, code, detail
  end
  local token, kerr, kcode, kdetail = take_lock(conn, plan)
  if not token then
    return nil, kerr, kcode, kdetail
  end
  local run = { plan = plan, zapp = zapp, token = token, opts = opts,
                written = {}, image_stored = {} }
  local result, ferr, fcode, fdetail = run_locked(conn, run)
  release_lock(conn, plan.target, token, run.lock_held)
  return result, ferr, fcode, fdetail
end

return M
