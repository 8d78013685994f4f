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
local webui = require("zpm.webui")
local zapp_model = require("zpm.zapp")

local M = {}

local SYSTEM_MAP = "boot/system.map"
local MAX_MEMBER = 16 * 1024 * 1024

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

-- One pass over the zapp: zapp.yaml (our bundles put it second, so the
-- ui patterns are known before the UI members come), boot/system.map,
-- and the data of members matching a ui pattern. Members met before
-- zapp.yaml are remembered and read in a second pass only if they turn
-- out to be UI files.
local function read_zapp(path)
  local found = { entries = {} }
  local patterns = nil
  local early = {}
  local function is_ui(name)
    for _, pattern in ipairs(patterns) do
      if webui.fnmatch(name, pattern) then
        return true
      end
    end
    return false
  end
  local perr
  local function visit(entry, read)
    found.entries[#found.entries + 1] = entry
    if entry.type ~= "file" then
      return true
    end
    if entry.name == "zapp.yaml" or entry.name == SYSTEM_MAP then
      local data, rerr = read(MAX_MEMBER)
      if not data then
        perr = rerr
        return false
      end
      found[entry.name] = data
      if entry.name == "zapp.yaml" then
        local zapp, zerr = zapp_model.parse(data, path .. ":zapp.yaml")
        if not zapp then
          perr = zerr
          return false
        end
        found.zapp = zapp
        patterns = zapp_model.list(zapp, "ui")
      end
    elseif patterns == nil then
      early[entry.name] = true
    elseif is_ui(entry.name) then
      entry.data, perr = read(MAX_MEMBER)
      return entry.data ~= nil
    end
    return true
  end
  local ok, err = core.archive.scan(path, visit)
  if not ok or perr then
    return nil, perr or ("%s: %s"):format(path, err)
  end
  if not found.zapp then
    return nil, ("%s: not a zapp (no zapp.yaml)"):format(path)
  end
  if next(early) and patterns then
    local wanted = {}
    for name in pairs(early) do
      wanted[name] = is_ui(name) or nil
    end
    if next(wanted) then
      local data_of = {}
      ok, err = core.archive.scan(path, function(entry, read)
        if wanted[entry.name] and entry.type == "file" then
          data_of[entry.name], perr = read(MAX_MEMBER)
          return data_of[entry.name] ~= nil
        end
        return true
      end)
      if not ok or perr then
        return nil, perr or ("%s: %s"):format(path, err)
      end
      for _, e in ipairs(found.entries) do
        e.data = e.data or data_of[e.name]
      end
    end
  end
  return found
end

--- Deploy a zapp.
-- @param conn a `zpm.swift` connection
-- @param target "container" or "container/dir"
-- @param zapp_path the .zapp file
-- @param opts { force = bool, ui_auth_version = version for the page
--   ("0.0" = none), settings = auth settings for the page }
-- @return { url = URL to print, index = object path, objects = list,
--   job = job table }, or nil and a message
function M.deploy(conn, target, zapp_path, opts)
  opts = opts or {}
  target = target:gsub("^/+", ""):gsub("/+$", "")
  local container = target:match("^[^/]+")
  if not container then
    return nil, "the deploy target needs a container name"
  end
  if not fs.isfile(zapp_path) then
    return nil, ("%s: no such file"):format(zapp_path)
  end

  -- read the zapp first: a bad zapp must not touch the cloud
  local found, err = read_zapp(zapp_path)
  if not found then
    return nil, err
  end
  if not found[SYSTEM_MAP] then
    return nil, ("%s: not a zapp (no %s)"):format(zapp_path, SYSTEM_MAP)
  end
  local zapp = found.zapp
  local the_job, jerr = json.decode_ordered(found[SYSTEM_MAP])
  if type(the_job) ~= "table" then
    return nil, ("%s:%s: %s"):format(zapp_path, SYSTEM_MAP,
                                     jerr or "not a job description")
  end
  local ui = {}
  for _, e in ipairs(found.entries) do
    if e.data and e.name ~= "zapp.yaml" and e.name ~= SYSTEM_MAP then
      if unsafe(e.name) then
        return nil, ("%s: refusing member '%s': it leaves the target")
          :format(zapp_path, e.name)
      end
      ui[#ui + 1] = e
    end
  end

  local url, aerr = conn:auth()
  if not url then
    return nil, aerr
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
    local ok, perr = conn:put_container(container)
    if not ok then
      return nil, perr
    end
  else
    return nil, lerr
  end

  local written = {}
  local function upload(object, body, content_type)
    local c, o = object:match("^([^/]+)/(.+)$")
    log.info("uploading %s (%s)", object, content_type)
    local ok, perr = conn:put_object(c, o, body,
                                     { content_type = content_type })
    if not ok then
      local note = #written > 0 and ("; objects written before the "
        .. "failure: " .. table.concat(written, ", ")) or ""
      return nil, perr .. note
    end
    written[#written + 1] = object
    return true
  end

  local zapp_name = fs.basename(zapp_path)
  local remote_zapp = target .. "/" .. zapp_name
  local ok, uerr = upload(remote_zapp, { gunzip = zapp_path },
                          "application/x-tar")
  if not ok then
    return nil, uerr
  end

  local vars = { zapp = zapp, auth_opts = webui.auth_opts(
    opts.ui_auth_version or conn.version, opts.settings or conn.settings,
    url) }
  local index = target .. "/"
  for _, e in ipairs(ui) do
    local name, data = e.name, e.data
    if name:sub(-5) == ".tmpl" then
      name = name:sub(1, -6)
      local rerr
      data, rerr = webui.render(e.name, data, vars,
                                name:match("%.html?$") ~= nil)
      if not data then
        return nil, rerr
      end
    end
    local object = target .. "/" .. name
    ok, uerr = upload(object, data, webui.content_type(name))
    if not ok then
      return nil, uerr
    end
    if object:sub(-11) == "/index.html" then
      index = object
    end
  end

  job.add_image_device(the_job, M.swift_path(url, remote_zapp))
  local text = assert(json.encode(the_job))
  ok, uerr = upload(target .. "/" .. SYSTEM_MAP, text, "application/json")
  if not ok then
    return nil, uerr
  end
  return { url = conn:url_for(""):gsub("/+$", "") .. "/" .. index,
           index = index, objects = written, job = the_job }
end

return M
