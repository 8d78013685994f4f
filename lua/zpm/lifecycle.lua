--- What happens to a zapp once deployed: listing the deployments of an
-- account or a container (`list`) and removing one whole (`undeploy`).
-- A deployment is a target (`container` or `container/dir`) holding a
-- job (`<target>/boot/system.map`) and zpm's own objects under
-- `<target>/.zapp/`: the images (`<version>/<zapp file>`) and the record
-- a deploy writes last (`zpm.deploy.record_path`: the zapp's name and
-- version, and every object the deploys wrote). Deployments made before
-- zpm wrote records are still found (by their job and image); their
-- web UI files are then not known.
-- @module zpm.lifecycle
local deploy = require("zpm.deploy")
local errors = require("zpm.errors")
local json = require("zpm.json")
local log = require("zpm.log")
local swift = require("zpm.swift")

local M = {}

local JOB = "boot/system.map"
local IMAGES = deploy.IMAGES

-- Every entry of a container listing (as `conn:list_objects`).
local function list_all(conn, container, prefix)
  return swift.all_pages(function(marker)
    return conn:list_objects(container, { prefix = prefix, marker = marker })
  end)
end

-- Every container of the account.
local function all_containers(conn)
  return swift.all_pages(function(marker)
    return conn:list_containers({ marker = marker })
  end)
end

--- The deployments a container listing shows, by their directory
-- ("" for a deployment at the container itself, else "dir/"): a job and
-- an image or a record under `.zapp/`. No request is made.
-- @param entries a listing (as `conn:list_objects`)
-- @param partial also what is left of a deployment without its job (an
--   image or a record: an undeploy cut after removing the job, which
--   undeploy must be able to finish)
-- @return table dir -> { job = entry or nil, record = entry or nil,
--   images = { { entry, version, file }, ... } (in name order: oldest
--   first) }
function M.find(entries, partial)
  local found = {}
  local function at(dir)
    found[dir] = found[dir] or { images = {} }
    return found[dir]
  end
  for _, e in ipairs(entries) do
    local name = e.name
    local dir = name:match("^(.-)" .. JOB:gsub("%.", "%%.") .. "$")
    if dir and (dir == "" or dir:sub(-1) == "/") then
      at(dir).job = e
    end
    local d, rest = name:match("^(.-)%.zapp/(.+)$")
    if d and (d == "" or d:sub(-1) == "/") then
      if rest == "deploy.json" then
        at(d).record = e
      else
        local version, file = deploy.image_name(rest)
        if version then
          local images = at(d).images
          images[#images + 1] = { entry = e, version = version,
                                  file = file }
        end
      end
    end
  end
  for dir, f in pairs(found) do
    if (not f.job and not partial) or (not f.record and #f.images == 0) then
      found[dir] = nil
    end
  end
  return found
end

-- The record of a deployment, decoded, or nil (none, or unreadable).
local function read_record(conn, container, dir)
  local text = conn:get_object(container, dir .. IMAGES .. "/deploy.json")
  local record = text and json.decode(text)
  return type(record) == "table" and record or nil
end

-- Whether a read ACL lets anyone read (`.r:*`).
local function is_public(acl)
  for item in (acl or ""):gmatch("[^,]+") do
    if item:match("^%s*(.-)%s*$") == ".r:*" then
      return true
    end
  end
  return false
end

local function str(v)
  return type(v) == "string" and v or nil
end

-- One entry of `list` from what `find` found (and its record).
local function entry_of(container, dir, f, record, public)
  local image = f.images[#f.images]
  if record and str(record.image) then
    for _, i in ipairs(f.images) do
      if container .. "/" .. dir .. IMAGES .. "/" .. i.version .. "/"
         .. i.file == record.image then
        image = i
      end
    end
  end
  local target = container .. (dir ~= "" and "/" .. dir:sub(1, -2) or "")
  local segments = record and math.tointeger(record.segments)
  return {
    target = target, container = container,
    zapp = record and str(record.zapp) or nil,
    version = record and (str(record.version)
      or (math.type(record.version) and tostring(record.version))) or nil,
    file = record and str(record.file) or (image and image.file),
    image = image and (container .. "/" .. image.entry.name) or nil,
    bytes = image and math.tointeger(image.entry.bytes) or nil,
    segments = segments,
    public = public,
    last_modified = f.job.last_modified,
    deployed = record and str(record.deployed) or nil,
    args = record and type(record.args) == "table" and record.args or nil,
    recorded = record ~= nil,
  }
end

--- The zapps deployed in one container, or across the account.
-- @param conn a `zpm.swift` connection
-- @param container a container name, or nil for every container of the
--   account
-- @return list of { target, container, zapp (its zapp.yaml's meta.name),
--   version (meta.version, a string), file (the zapp file's name), image
--   (container/object), bytes (the image's size), segments (the number
--   of segments when the image is a Static Large Object), public (the
--   container's read ACL lets anyone read), last_modified (of the job,
--   as Swift lists it: when the deploy took effect), deployed (the
--   record's time), args (the names of `help.args`), recorded (false:
--   deployed before zpm wrote records; zapp, version, segments and args
--   are then nil) } sorted by target; or nil, a message, a code and
--   detail (a missing container: "notfound")
function M.list(conn, container)
  local names = {}
  if container then
    local ok, err = swift.check_container_name(container)
    if not ok then
      return nil, err, errors.INVALID
    end
    names[1] = container
  else
    local all, err, code, detail = all_containers(conn)
    if not all then
      return nil, err, code, detail
    end
    for i, c in ipairs(all) do
      names[i] = c.name
    end
  end
  local out = {}
  for _, c in ipairs(names) do
    local entries, err, code, detail = list_all(conn, c)
    local gone = not entries and code == errors.HTTP
      and detail.status == 404
    if gone and container then
      return nil, ("container '%s' not found"):format(c), errors.NOTFOUND,
        detail
    elseif not entries and not gone then
      return nil, err, code, detail
    end
    -- across the account, a container deleted since the account listing
    -- holds nothing
    local found = M.find(entries or {})
    if next(found) then
      local headers, herr, hcode, hdetail = conn:head_container(c)
      if not headers then
        return nil, herr, hcode, hdetail
      end
      local public = is_public(headers["x-container-read"])
      for dir, f in pairs(found) do
        local record = f.record and read_record(conn, c, dir)
        out[#out + 1] = entry_of(c, dir, f, record, public)
      end
    end
  end
  table.sort(out, function(a, b) return a.target < b.target end)
  return out
end

-- Remove one object; a missing one counts as removed.
local function remove(conn, path, with_segments)
  local c, o = path:match("^([^/]+)/(.+)$")
  return conn:delete_object(c, o, { with_segments = with_segments,
                                    missing_ok = true })
end

-- The objects of a deployment, in the order undeploy removes them: the
-- job first (the target no longer runs), then what the record names, the
-- names of the images (`<target>/<zapp file>`), the images with their
-- segments, the segments zpm stored for the target's images that no
-- image names any more (`deploy --leave-segments`, a deploy killed
-- mid-upload), the record last (until then, undeploy can be run again).
-- Whether a name from a record is a plain relative path: no empty, "."
-- or ".." segment (a record is data anyone who can write the container
-- can change; zpm's own never hold such names).
local function plain_path(path)
  for segment in (path .. "/"):gmatch("(.-)/") do
    if segment == "" or segment == "." or segment == ".." then
      return false
    end
  end
  return true
end

local function doomed(t, c, dir, f, record, segments)
  local list, seen = {}, {}
  local function add(path, kind)
    if not seen[path] then
      seen[path] = true
      list[#list + 1] = { path = path, kind = kind }
    end
  end
  add(c .. "/" .. dir .. JOB, "job")
  local under = t .. "/"
  local objects = record and type(record.objects) == "table"
    and record.objects or {}
  for _, path in ipairs(objects) do
    if type(path) == "string" and path:sub(1, #under) == under
       and plain_path(path:sub(#under + 1))
       and path:sub(1, #under + #IMAGES + 1) ~= under .. IMAGES .. "/" then
      add(path, "object")
    end
  end
  for _, i in ipairs(f.images) do
    add(c .. "/" .. dir .. i.file, "name")
  end
  if record and str(record.file) and not record.file:find("/")
     and plain_path(record.file) then
    add(c .. "/" .. dir .. record.file, "name")
  end
  for _, i in ipairs(f.images) do
    add(c .. "/" .. i.entry.name, "image")
  end
  local sc = swift.segment_container(c)
  for _, e in ipairs(segments) do
    add(sc .. "/" .. e.name, "segment")
  end
  if f.record then
    add(c .. "/" .. f.record.name, "record")
  end
  return list
end

-- Remove a container zpm created (`zpm.swift.CREATED_META`) once empty.
-- @return true (removed), false (kept: not zpm's, not empty, or gone),
--   or nil, message, code, detail
local function remove_container(conn, c)
  local headers, err, code, detail = conn:head_container(c)
  if not headers then
    if code == errors.HTTP and detail.status == 404 then
      return false
    end
    return nil, err, code, detail
  end
  if not headers[swift.CREATED_META:lower()]
     or tonumber(headers["x-container-object-count"]) ~= 0 then
    return false
  end
  local ok, derr, dcode, ddetail = conn:delete_container(c)
  if not ok then
    if dcode == errors.HTTP and ddetail.status == 409 then
      return false    -- an object came meanwhile
    end
    return nil, derr, dcode, ddetail
  end
  return true
end

--- What `undeploy` would remove, without removing anything (read-only
-- requests: a listing and the record).
-- @return { target, container, objects = { { path, kind }, ... } in the
--   order removed (kind "job", "object" (from the record: web UI
--   files...), "name" (`<target>/<zapp file>`), "image" (with its
--   segments), "segment" (left by `deploy --leave-segments` or a killed
--   deploy), "record"), recorded = bool }, or nil, a message and a
--   code ("invalid": not a zapp deployment; "notfound")
function M.undeploy_plan(conn, target)
  local t, c, dir = deploy.check_target(target)
  if not t then
    return nil, c, dir
  end
  dir = dir ~= "" and dir .. "/" or ""
  local entries, err, code, detail = list_all(conn, c, dir ~= "" and dir
                                              or nil)
  if not entries then
    if code == errors.HTTP and detail.status == 404 then
      return nil, ("'%s' is not a zapp deployment: container '%s' not "
        .. "found"):format(t, c), errors.NOTFOUND, detail
    end
    return nil, err, code, detail
  end
  local f = M.find(entries, true)[dir]
  if not f then
    return nil, ("'%s' does not look like a zapp deployment (no %s/%s "
      .. "with an image or a record under %s/%s/); nothing removed")
      :format(t, t, JOB, t, IMAGES), errors.INVALID
  end
  local record = f.record and read_record(conn, c, dir)
  -- the segments of this target's images: `<dir>.zapp/<version>/<file>/
  -- slo/...` in `<container>_segments` (`zpm.swift.segment_names`)
  local segments, serr, scode, sdetail = list_all(conn,
    swift.segment_container(c), dir .. IMAGES .. "/")
  if not segments then
    if not (scode == errors.HTTP and sdetail.status == 404) then
      return nil, serr, scode, sdetail
    end
    segments = {}
  end
  local mine, current = {}, {}
  for _, i in ipairs(f.images) do
    current[i.version .. "/" .. i.file] = true   -- go with their image
  end
  for _, e in ipairs(segments) do
    local rest = e.name:sub(#dir + #IMAGES + 2)
    local image = rest:match("^(.-)/slo/")
    if image and deploy.image_name(image) and not current[image] then
      mine[#mine + 1] = e
    end
  end
  return { target = t, container = c, recorded = record ~= nil,
           objects = doomed(t, c, dir, f, record, mine), found = f }
end

--- Remove a deployment: every object the deploys to the target wrote
-- (as its record names them, and the job, the images with their
-- segments, the names of the images), under the target's deploy lock
-- (a deploy in progress makes it fail), then the container and its
-- `_segments` container when zpm created them and they are empty.
-- @param conn a `zpm.swift` connection
-- @param target "container" or "container/dir"
-- @return { target, removed = { paths, in order }, containers = {
--   names removed }, recorded = bool (false: deployed before zpm wrote
--   records; its web UI files were not known and stay) }, or nil, a
--   message, a code ("invalid": not a zapp deployment, nothing removed;
--   "conflict": a deploy holds the lock) and detail (`removed`; `left`:
--   the objects not removed, named in the message too)
function M.undeploy(conn, target)
  -- planned once to refuse a non-deployment before writing the lock,
  -- and again under the lock: a deploy that ended in between added
  -- objects the first plan does not name
  local plan, err, code, detail = M.undeploy_plan(conn, target)
  if not plan then
    return nil, err, code, detail
  end
  local t, c = plan.target, plan.container
  local token, lerr, lcode, ldetail = deploy.acquire_lock(conn, t)
  if not token then
    return nil, lerr, lcode, ldetail
  end
  plan, err, code, detail = M.undeploy_plan(conn, target)
  if not plan then
    deploy.release_lock(conn, t, token)
    return nil, err, code, detail
  end
  local removed = {}
  for i, o in ipairs(plan.objects) do
    log.info("removing %s", o.path)
    local ok, rerr, rcode, rdetail = remove(conn, o.path, o.kind == "image")
    if not ok then
      deploy.release_lock(conn, t, token)
      local left = {}
      for k = i, #plan.objects do
        left[#left + 1] = plan.objects[k].path
      end
      return nil, ("%s; removed %d objects, left: %s"):format(rerr,
        #removed, table.concat(left, ", ")), rcode,
        { status = rdetail and rdetail.status, removed = removed,
          left = left }
    end
    removed[#removed + 1] = o.path
  end
  deploy.release_lock(conn, t, token)
  local containers = {}
  for _, name in ipairs({ c, swift.segment_container(c) }) do
    local gone, cerr, ccode, cdetail = remove_container(conn, name)
    if gone == nil then
      return nil, ("%s; every object of '%s' is removed, container '%s' "
        .. "is left"):format(cerr, t, name), ccode,
        { status = cdetail and cdetail.status, removed = removed,
          left = { name } }
    end
    if gone then
      containers[#containers + 1] = name
    end
  end
  return { target = t, removed = removed, containers = containers,
           recorded = plan.recorded }
end

return M
