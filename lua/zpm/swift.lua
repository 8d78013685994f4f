--- A Swift (and ZeroCloud) connection on the C HTTP session: one
-- keep-alive session, authentication on first use, one re-authentication
-- on 401, retries with backoff (done by the session), streaming bodies.
-- @module zpm.swift
local core = require("zpm.core")
local auth = require("zpm.auth")
local json = require("zpm.json")
local interrupt = require("zpm.interrupt")
local log = require("zpm.log")
local errors = require("zpm.errors")
local defaults = require("zpm.defaults")

local M = {}

--- The methods of every connection (`zpm.connect` adds the workflow
-- ones, `deploy`, `uploads` and `execute`, which use this module: it
-- speaks Swift and knows nothing above it).
local Connection = {}
Connection.__index = Connection
M.Connection = Connection

--- How many requests `request_many` runs at once by default, and how
-- often a request is retried (python-swiftclient's): `zpm.defaults`',
-- the HTTP session's defaults too (`zpm.core.http.CONCURRENCY`,
-- `RETRIES`, not read here so that loading this module loads no libcurl;
-- a unit spec checks they agree).
M.CONCURRENCY = defaults.CONCURRENCY
M.RETRIES = defaults.RETRIES

--- Whether an HTTP status is a success (2xx): `zpm.core.http.is_2xx`,
-- the check the C session makes too.
function M.is_2xx(status)
  return core.http.is_2xx(status)
end

--- Percent-encode a container or object name (keeping '/'). A path
-- segment that is "." or ".." is encoded too (%2E): libcurl would
-- otherwise remove it as a dot segment, and "c/x/../d/o" would address
-- container d's object instead of the object of that name in c (Swift
-- allows such names; python-swiftclient sends them as they are).
function M.quote(name)
  local quoted = name:gsub("[^%w%-%._~/]", function(c)
    return ("%%%02X"):format(c:byte())
  end)
  if not quoted:find("%.") then
    return quoted
  end
  local segments = {}
  for segment in (quoted .. "/"):gmatch("(.-)/") do
    if segment == "." or segment == ".." then
      segment = segment:gsub("%.", "%%2E")
    end
    segments[#segments + 1] = segment
  end
  return table.concat(segments, "/")
end

-- The low-speed timeout: a transfer slower than 1 byte/s for this many
-- seconds is aborted (and retried). $ZPM_LOW_SPEED_TIME overrides the 60 s
-- default (the fault specs shorten it).
local function low_speed_time()
  local v = math.tointeger(tonumber(os.getenv("ZPM_LOW_SPEED_TIME") or ""))
  return v and v > 0 and v or 60
end

--- Make a connection (no network traffic until it is used).
-- @param settings from `zpm.auth.settings` (plus insecure, retries,
--   timeout, auth_timeout)
-- @return connection, or nil, a message and "invalid" (unusable auth
--   settings)
function M.connect(settings)
  for _, key in ipairs({ "retries", "starting_backoff", "max_backoff" }) do
    local v = settings[key]
    if v ~= nil and (type(v) ~= "number" or v < 0
                     or (key == "retries" and math.type(v) ~= "integer")) then
      return nil, ("connection option %s: expected a %s >= 0, got %s")
        :format(key, key == "retries" and "integer" or "number",
                tostring(v)), errors.INVALID
    end
  end
  for _, key in ipairs({ "timeout", "auth_timeout" }) do
    local v = settings[key]
    if v ~= nil and (type(v) ~= "number" or not (v > 0 and v <= 1e7)) then
      return nil, ("connection option %s%s: expected seconds > 0, got '%s'")
        :format(key, key == "timeout" and " (--timeout, $ZPM_TIMEOUT)" or "",
                tostring(v)), errors.INVALID
    end
  end
  local version, err, code = auth.version(settings)
  if not version then
    return nil, err, code
  end
  local session = core.http.session({
    connect_timeout = 15,
    low_speed_limit = 1,
    low_speed_time = low_speed_time(),
    -- every request's deadline (auth requests set their own); its clock
    -- stops while the request moves min_rate bytes/s
    deadline = settings.timeout or auth.TIMEOUT,
    min_rate = auth.MIN_RATE,
    timeout_note = "--timeout",
    on_retry = function(ev)
      -- "retrying PUT http://.../c/x.tar in 2 s (attempt 2 of 6): 503
      -- Service Unavailable"
      log.info("retrying %s %s in %s s (attempt %d of %d): %s", ev.method,
               ev.url, ("%g"):format(ev.delay), ev.attempt, ev.attempts,
               ev.status and ("%d %s"):format(ev.status, ev.reason)
                 or ev.reason)
    end,
    insecure = settings.insecure and true or false,
    cacert = settings.os_cacert,
    trace = log.enabled("debug") and function(line)
      log.debug("http: %s", line)
    end or nil,
    interrupt = interrupt.flag(),
  })
  return setmetatable({
    settings = settings, version = version, session = session,
    retries = settings.retries, backoff = settings.starting_backoff,
    max_backoff = settings.max_backoff,
    retry_on_ratelimit = settings.retry_on_ratelimit ~= false,
  }, Connection)
end

--- python-swiftclient's service-net URL: "snet-" before the host name
-- (http://proxy:8080/v1/A -> http://snet-proxy:8080/v1/A).
function M.snet_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*://)(.*)$")
  if not scheme or rest:find("^snet%-") then
    return url
  end
  return scheme .. "snet-" .. rest
end

--- Authenticate now (again, if already done).
-- @return storage URL and token, or nil, message, code, detail (as
--   `zpm.auth.authenticate`)
function Connection:authenticate()
  local result, err, code, detail = auth.authenticate(self.session,
    self.settings, self.version)
  if not result then
    return nil, err, code, detail
  end
  self.url, self.token = result.url, result.token
  if self.settings.snet then
    self.url = M.snet_url(self.url)
  end
  log.info("authenticated (auth %s); storage URL %s", self.version,
           self.url)
  return self.url, self.token
end

--- The storage URL and token, authenticating first if needed.
function Connection:auth()
  if self.url then
    return self.url, self.token
  end
  return self:authenticate()
end

--- The full URL of a path under the storage URL ("" is the account).
function Connection:url_for(path)
  local base = self.url:gsub("/+$", "")
  if path == nil or path == "" then
    return base
  end
  return base .. "/" .. M.quote(path)
end

-- The `session:request` table for a request under conn's storage URL,
-- with the current token (req's headers are copied, not changed). Its
-- time limits are the session's (the connection's `timeout`) unless req
-- sets `timeout`, `deadline` or `min_rate`.
local function session_request(conn, method, path, req)
  local headers = {}
  for k, v in pairs(req.headers or {}) do
    headers[k] = v
  end
  headers["X-Auth-Token"] = conn.token
  return { method = method, url = conn:url_for(path) .. (req.query or ""),
           headers = headers, body = req.body, sink = req.sink,
           retries = req.retries or conn.retries,
           backoff = conn.backoff, max_backoff = conn.max_backoff,
           retry_on_ratelimit = conn.retry_on_ratelimit,
           idempotent = req.idempotent, max_body = req.max_body,
           timeout = req.timeout, deadline = req.deadline,
           min_rate = req.min_rate, body_md5 = req.body_md5 }
end

--- One request to the storage URL, with the token; a 401 leads to one
-- re-authentication and a second try (not for pre-authenticated tokens).
-- @param method HTTP method
-- @param path container[/object] or "" for the account
-- @param req extra fields for `session:request` (headers, body, sink...),
--   `query` (a query string starting with '?') and `cleanup` (true: on
--   the `cleanup_session`, for undoing after an interrupt)
-- @return resp (any status), or nil, a message, the failure's code (as
--   `session:request` gives it, or authentication's) and its detail
function Connection:request(method, path, req)
  local url0, err, acode, adetail = self:auth()
  if not url0 then
    return nil, err, acode, adetail
  end
  req = req or {}
  local session = req.cleanup and self:cleanup_session() or self.session
  local reauthed = false
  while true do
    local sreq = session_request(self, method, path, req)
    sreq.progress = req.progress
    if req.cleanup then
      sreq.retries = math.min(sreq.retries or 2, 2)
    end
    local url = sreq.url
    local resp, rerr, code = session:request(sreq)
    if not resp then
      return nil, rerr, code
    end
    if resp.status == 401 and not reauthed and self.version ~= "preauth" then
      log.info("%s %s: 401, authenticating again", method, url)
      reauthed = true
      local ok, aerr, ecode, edetail = self:authenticate()
      if not ok then
        return nil, aerr, ecode, edetail
      end
    else
      resp.url = url
      return resp
    end
  end
end

--- A second HTTP session for undoing what an interrupted operation did
-- (a `request` with `cleanup = true`): it does not stop on SIGINT or
-- SIGTERM, unlike the connection's own, and gives up sooner (a 10 s
-- connect and low-speed window, two retries at most, 30 s in all).
function Connection:cleanup_session()
  if not self.undo_session then
    self.undo_session = core.http.session({
      connect_timeout = 10, low_speed_limit = 1, low_speed_time = 10,
      deadline = 30, insecure = self.settings.insecure and true or false,
      cacert = self.settings.os_cacert })
  end
  return self.undo_session
end

--- Many requests at once, in parallel on up to `concurrency` reused
-- connections (`session:request_many`); those answered 401 are sent
-- again once after one re-authentication (not for pre-authenticated
-- tokens).
-- @param reqs list of { method, path, headers, body, query, ... } as for
--   `Connection:request`
-- @param opts { concurrency = n (default `CONCURRENCY`),
--   stop_on_failure = bool, progress = a `zpm.core.progress` meter,
--   cleanup = true (on the `cleanup_session`, as for `request`) }
-- @return list of results, each resp (any status), { error = message,
--   code = code }, or false (not started: stop_on_failure); or nil, a
--   message, a code (and detail)
function Connection:request_many(reqs, opts)
  local url0, err, acode, adetail = self:auth()
  if not url0 then
    return nil, err, acode, adetail
  end
  opts = opts or {}
  local results = {}
  local todo = {}
  for i = 1, #reqs do
    todo[i] = i
  end
  local reauthed = false
  while #todo > 0 do
    local batch = {}
    for k, i in ipairs(todo) do
      batch[k] = session_request(self, reqs[i].method, reqs[i].path, reqs[i])
      if opts.cleanup then
        batch[k].retries = math.min(batch[k].retries or 2, 2)
      end
    end
    local session = opts.cleanup and self:cleanup_session() or self.session
    local out, rerr, rcode = session:request_many(batch, {
      concurrency = opts.concurrency or M.CONCURRENCY,
      stop_on_failure = opts.stop_on_failure or false,
      progress = opts.progress })
    if not out then
      return nil, rerr, rcode
    end
    -- again: the 401s, and what a 401 kept from starting
    local again, other_failure, unauthorized = {}, false, false
    for k, i in ipairs(todo) do
      local resp = out[k]
      results[i] = resp
      if not resp or resp.status == 401 then
        again[#again + 1] = i
        unauthorized = unauthorized or resp ~= false
      elseif resp.error or not M.is_2xx(resp.status) then
        other_failure = true
      end
      if resp and resp.status then
        resp.url = batch[k].url
      end
    end
    if not unauthorized or other_failure or reauthed
       or self.version == "preauth" then
      break
    end
    log.info("%d requests: 401, authenticating again", #again)
    reauthed = true
    local ok, aerr, ecode, edetail = self:authenticate()
    if not ok then
      return nil, aerr, ecode, edetail
    end
    todo = again
  end
  return results
end

--- Swift's default limit on the size of one object (5 GiB + 2 bytes),
-- used when the cluster's /info does not give one.
M.DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024 * 1024 + 2

--- Swift's defaults for the limits deploy checks, used for what the
-- cluster's /info does not give (`swift.*`; `slo.max_manifest_segments`).
M.DEFAULT_LIMITS = {
  max_file_size = M.DEFAULT_MAX_FILE_SIZE,
  max_object_name_length = 1024,
  max_container_name_length = 256,
  container_listing_limit = 10000,
  max_manifest_segments = 1000,
}

--- The cluster's limits: `swift.max_file_size`, `max_object_name_length`,
-- `max_container_name_length`, `container_listing_limit` and
-- `slo.max_manifest_segments` from its /info (asked once, without a
-- token), Swift's defaults for what it does not say; `bulk_upload`
-- (`{ max_containers_per_extraction, max_failed_extractions }`, either
-- nil when not given) only when /info announces the bulk middleware's
-- archive extraction (`extract_archive`).
-- @return { max_file_size = bytes, ... }, or nil, message, code, detail
--   (authentication failed)
function Connection:limits()
  if self.cluster_limits then
    return self.cluster_limits
  end
  local url0, err, code, detail = self:auth()
  if not url0 then
    return nil, err, code, detail
  end
  -- /info sits next to /v1 (also under a path prefix: /swift/info)
  local base = url0:match("^(.-)/v1/[^/]*/*$")
    or url0:match("^(%a[%w+.-]*://[^/]+)")
  local resp = self.session:request({ method = "GET", url = base .. "/info",
    retries = self.retries, max_body = 1024 * 1024 })
  local info
  if resp and resp.status == 200 then
    info = json.decode(resp.body)
  end
  if type(info) ~= "table" then
    log.info("%s/info is not available: assuming Swift's default limits",
             base)
    info = {}
  end
  local sections = { swift = type(info.swift) == "table" and info.swift
                       or {},
                     slo = type(info.slo) == "table" and info.slo or {} }
  local limits = {}
  for key, default in pairs(M.DEFAULT_LIMITS) do
    local section = key == "max_manifest_segments" and "slo" or "swift"
    local v = math.tointeger(sections[section][key])
    limits[key] = v and v > 0 and v or default
  end
  -- the bulk middleware's section, when it is in the proxy's pipeline
  local bulk = info.bulk_upload
  if type(bulk) == "table" then
    limits.bulk_upload = {}
    for _, key in ipairs({ "max_containers_per_extraction",
                           "max_failed_extractions" }) do
      local v = math.tointeger(bulk[key])
      limits.bulk_upload[key] = v and v > 0 and v or nil
    end
  end
  self.cluster_limits = limits
  return limits
end

--- The largest object the cluster takes in one PUT (`limits()`'s
-- max_file_size).
-- @return bytes, or nil, message, code, detail (authentication failed)
function Connection:max_file_size()
  local limits, err, code, detail = self:limits()
  if not limits then
    return nil, err, code, detail
  end
  return limits.max_file_size
end

--- Whether Swift can store this container name: 1 to `max_length` bytes
-- (default 256) of UTF-8, no '/', no NUL.
-- @return true, or nil, a message and "invalid"
function M.check_container_name(name, max_length)
  max_length = max_length or M.DEFAULT_LIMITS.max_container_name_length
  if type(name) ~= "string" or name == "" then
    return nil, "a container name cannot be empty", errors.INVALID
  elseif #name > max_length then
    return nil, ("container name '%s' is %d bytes long; the cluster takes "
      .. "at most %d"):format(name, #name, max_length), errors.INVALID
  elseif name:find("/", 1, true) then
    return nil, ("container name '%s' has a '/'"):format(name),
      errors.INVALID
  end
  return M.check_utf8(name, "container name")
end

--- Whether Swift can store this object name: 1 to `max_length` bytes
-- (default 1024) of UTF-8 without NUL.
-- @return true, or nil, a message and "invalid"
function M.check_object_name(name, max_length)
  max_length = max_length or M.DEFAULT_LIMITS.max_object_name_length
  if type(name) ~= "string" or name == "" then
    return nil, "an object name cannot be empty", errors.INVALID
  elseif #name > max_length then
    return nil, ("object name '%s' is %d bytes long; the cluster takes at "
      .. "most %d"):format(name, #name, max_length), errors.INVALID
  end
  return M.check_utf8(name, "object name")
end

--- Valid UTF-8 without NUL, as Swift requires of names.
-- @return true, or nil, a message and "invalid"
function M.check_utf8(name, what)
  if not utf8.len(name) then
    return nil, ("%s '%s' is not valid UTF-8"):format(what, name),
      errors.INVALID
  elseif name:find("%z") then
    return nil, ("%s '%s' holds a NUL byte"):format(what,
      (name:gsub("%z", "\\0"))), errors.INVALID
  end
  return true
end

-- A request's outcome when any 2xx is success: resp, or the request's
-- own failure, or `errors.http`'s ("<what> failed: <url> <status> ...",
-- "http", { status, reason, url }).
local function expect(what, resp, err, code, detail)
  if not resp then
    return nil, err, code, detail
  end
  if not M.is_2xx(resp.status) then
    return errors.http(what, resp)
  end
  return resp
end

-- The query string of a listing request (`list_objects`' opts).
local function listing_query(opts)
  local query = ("?format=json&limit=%d"):format(opts.limit or 10000)
  for _, key in ipairs({ "prefix", "marker" }) do
    if opts[key] then
      query = ("%s&%s=%s"):format(query, key,
        (M.quote(opts[key]):gsub("/", "%%2F")))
    end
  end
  return query
end

local LISTING_HEADERS = { Accept = "application/json" }

-- A listing's response (or the nil, message a request gave instead) as
-- `list_objects` returns it.
local function parse_listing(resp, err, code, detail)
  resp, err, code, detail = expect("Container GET", resp, err, code, detail)
  if not resp then
    return nil, err, code, detail
  end
  local listing = json.decode(resp.body ~= "" and resp.body or "[]")
  if type(listing) ~= "table" then
    return nil, "Container GET: the listing is not JSON", errors.PROTOCOL,
      { status = resp.status, url = resp.url }
  end
  local entries = {}
  for i, e in ipairs(listing) do
    entries[i] = { name = e.name, hash = e.hash, bytes = e.bytes,
                   content_type = e.content_type,
                   last_modified = e.last_modified, slo_etag = e.slo_etag }
  end
  return entries
end

--- List a container: one entry per object, as Swift's JSON listing
-- gives it (up to `limit` entries, in name order).
-- @param opts { limit = n (default 10000), prefix = string, marker =
--   string (names after this one) }
-- @return list of { name, hash (the Etag: MD5 of the content; for a
--   Static Large Object, of its manifest), bytes, content_type,
--   last_modified, slo_etag (a Static Large Object's Etag, quoted, where
--   Swift lists it: it marks the object as one) }, or nil, message,
--   code, detail
function Connection:list_objects(container, opts)
  return parse_listing(self:request("GET", container,
    { query = listing_query(opts or {}), headers = LISTING_HEADERS }))
end

--- Several listings at once (`request_many`), each of every page when
-- asked (the pages after the first one by one).
-- @param lists list of { container, opts = as for `list_objects`, plus
--   all = true (every page) }
-- @return list of results, each { entries = list as `list_objects`
--   gives } or { error = message, code = code, detail = detail }; or
--   nil, message, code, detail
function Connection:list_many(lists)
  local reqs = {}
  for i, l in ipairs(lists) do
    reqs[i] = { method = "GET", path = l[1], headers = LISTING_HEADERS,
                query = listing_query(l.opts or {}) }
  end
  local resps, err, code, detail = self:request_many(reqs)
  if not resps then
    return nil, err, code, detail
  end
  local out = {}
  for i, l in ipairs(lists) do
    local resp, opts = resps[i], l.opts or {}
    local entries, lerr, lcode, ldetail
    if resp.error then
      lerr, lcode = resp.error, resp.code
    else
      entries, lerr, lcode, ldetail = parse_listing(resp)
    end
    if entries and opts.all and #entries > 0
       and #entries >= (opts.limit or 10000) then
      local rest
      rest, lerr, lcode, ldetail = M.all_pages(function(marker)
        return self:list_objects(l[1], { prefix = opts.prefix,
          marker = marker or entries[#entries].name })
      end)
      if rest then
        table.move(rest, 1, #rest, #entries + 1, entries)
      else
        entries = nil
      end
    end
    out[i] = entries and { entries = entries }
      or { error = lerr, code = lcode, detail = ldetail }
  end
  return out
end

--- Every entry of a paged listing: fetch(marker) gives the page after
-- marker (nil: the first), an empty page ends it.
-- @return list of entries, or nil, message, code, detail
function M.all_pages(fetch)
  local all, marker = {}, nil
  while true do
    local page, err, code, detail = fetch(marker)
    if not page then
      return nil, err, code, detail
    end
    table.move(page, 1, #page, #all + 1, all)
    if #page == 0 then
      return all
    end
    marker = page[#page].name
  end
end

--- List a container's object names (`list_objects` gives their size,
-- hash and type too).
-- @param opts as for `list_objects`
-- @return list of object names, or nil, message, code, detail
function Connection:get_container(container, opts)
  local entries, err, code, detail = self:list_objects(container, opts)
  if not entries then
    return nil, err, code, detail
  end
  local names = {}
  for i, entry in ipairs(entries) do
    names[i] = entry.name
  end
  return names
end

--- Create a container.
-- @return true and the status (201: created now; 202: it was there), or
--   nil, message, code, detail
function Connection:put_container(container, headers)
  local resp, err, code, detail = expect("Container PUT",
    self:request("PUT", container, { headers = headers }))
  if not resp then
    return nil, err, code, detail
  end
  return true, resp.status
end

--- HEAD a container.
-- @return its headers (lower-case names: `x-container-object-count`,
--   `x-container-read`, `x-container-meta-*`...), or nil, message,
--   code, detail (a missing container: "http", detail.status 404)
function Connection:head_container(container)
  local resp, err, code, detail = expect("Container HEAD",
    self:request("HEAD", container))
  if not resp then
    return nil, err, code, detail
  end
  return resp.headers
end

--- DELETE a container (Swift refuses one that holds objects: 409).
-- @return true, or nil, message, code, detail
function Connection:delete_container(container)
  local resp, err, code, detail = expect("Container DELETE",
    self:request("DELETE", container))
  if not resp then
    return nil, err, code, detail
  end
  return true
end

--- List containers of the account: one entry per container, in name
-- order (up to `limit`, after `marker`).
-- @param opts { limit = n (default 10000), marker = string, prefix =
--   string }
-- @return list of { name, count, bytes }, or nil, message, code, detail
function Connection:list_containers(opts)
  opts = opts or {}
  local query = ("?format=json&limit=%d"):format(opts.limit or 10000)
  for _, key in ipairs({ "prefix", "marker" }) do
    if opts[key] then
      query = ("%s&%s=%s"):format(query, key,
        (M.quote(opts[key]):gsub("/", "%%2F")))
    end
  end
  local resp, err, code, detail = expect("Account GET",
    self:request("GET", "", { query = query,
                 headers = { Accept = "application/json" } }))
  if not resp then
    return nil, err, code, detail
  end
  local listing = json.decode(resp.body ~= "" and resp.body or "[]")
  if type(listing) ~= "table" then
    return nil, "Account GET: the listing is not JSON", errors.PROTOCOL,
      { status = resp.status, url = resp.url }
  end
  local entries = {}
  for i, e in ipairs(listing) do
    entries[i] = { name = e.name, count = e.count, bytes = e.bytes }
  end
  return entries
end

--- The metadata zpm sets on a container it creates (for a deploy, or
-- the segments of a Static Large Object), so that `zpm undeploy` may
-- remove it once empty: `X-Container-Meta-Zpm-Created: <UTC time>`.
M.CREATED_META = "X-Container-Meta-Zpm-Created"

--- The read ACL (`X-Container-Read`) that opens a container to anyone:
-- its objects and its listing, without a token.
M.PUBLIC_READ_ACL = ".r:*,.rlistings"

--- Set a container's metadata, such as its read ACL
-- (`{ ["X-Container-Read"] = zpm.swift.PUBLIC_READ_ACL }`).
-- @return true, or nil, message, code, detail
function Connection:post_container(container, headers)
  local resp, err, code, detail = expect("Container POST",
    self:request("POST", container, { headers = headers }))
  if not resp then
    return nil, err, code, detail
  end
  return true
end

--- HEAD an object.
-- @return headers table, or nil, message, code, detail
function Connection:head_object(container, object)
  local resp, err, code, detail = expect("Object HEAD",
    self:request("HEAD", container .. "/" .. object))
  if not resp then
    return nil, err, code, detail
  end
  return resp.headers
end

--- GET an object.
-- @param opts { sink = as for session:request (default: into memory) }
-- @return body (or true when streamed to a sink) and headers,
--   or nil, message, code, detail
function Connection:get_object(container, object, opts)
  opts = opts or {}
  local resp, err, code, detail = expect("Object GET",
    self:request("GET", container .. "/" .. object, { sink = opts.sink }))
  if not resp then
    return nil, err, code, detail
  end
  return resp.body or true, resp.headers
end

--- Check the response to an object PUT (or the nil, message a request
-- gave instead): a 2xx status, and an Etag that is the MD5 of what was
-- sent (resp.md5).
-- @return true, or nil, a message, a code and detail: the request's own
--   failure, "http" (a non-2xx status: not stored) or "etag" (a 2xx
--   whose Etag does not match: stored, but not as sent; detail `status`,
--   `url`, `etag`, `md5`)
function M.check_put(resp, err, code, detail)
  if not resp then
    return nil, err, code, detail
  end
  if not M.is_2xx(resp.status) then
    return errors.http("Object PUT", resp)
  end
  local etag = resp.headers.etag and resp.headers.etag:gsub('"', "")
  if resp.md5 and etag and etag ~= resp.md5 then
    return nil, ("Object PUT %s: Etag %s does not match the MD5 of the "
      .. "data sent (%s)"):format(resp.url, etag, resp.md5), errors.ETAG,
      { status = resp.status, url = resp.url, etag = etag, md5 = resp.md5 }
  end
  return true
end

--- PUT an object, streaming its body, and check the returned Etag
-- against the MD5 of what was sent.
-- @param body string, { file = path }, or { gunzip = path }
-- @param opts { content_type = ..., headers = {...} }
-- @return response headers, or nil, message, code, detail (as
--   `check_put`: "etag" when the object was stored, but not as sent)
function Connection:put_object(container, object, body, opts)
  opts = opts or {}
  local headers = {}
  for k, v in pairs(opts.headers or {}) do
    headers[k] = v
  end
  headers["Content-Type"] = opts.content_type or "application/octet-stream"
  local resp, err, rcode, rdetail = self:request("PUT",
    container .. "/" .. object, { body = body, headers = headers })
  local stored, perr, code, detail = M.check_put(resp, err, rcode, rdetail)
  if not stored then
    return nil, perr, code, detail
  end
  return resp.headers
end

--- DELETE an object.
-- @param opts { with_segments = true (a Static Large Object goes with
--   its segments: a HEAD says whether it is one), missing_ok = true (a
--   404 counts as deleted), cleanup = true (on the `cleanup_session`: to
--   undo what an interrupted operation wrote) }
-- @return true, or nil, message, code, detail
function Connection:delete_object(container, object, opts)
  opts = opts or {}
  local path = container .. "/" .. object
  local query
  if opts.with_segments then
    local resp, err, code, detail = self:request("HEAD", path,
                                                 { cleanup = opts.cleanup })
    if not resp then
      return nil, err, code, detail
    end
    -- a 404 still gets its DELETE: a PUT whose answer was lost may land
    -- after this HEAD, and the DELETE's newer timestamp then wins
    if resp.status ~= 404 and (resp.headers["x-static-large-object"]
                               or ""):lower() == "true" then
      query = "?multipart-manifest=delete"
    end
  end
  local resp, err, code, detail = self:request("DELETE", path,
    { cleanup = opts.cleanup, query = query })
  if resp and resp.status == 404 and opts.missing_ok then
    return true
  end
  local deleted, derr, dcode, ddetail = expect("Object DELETE", resp, err,
                                               code, detail)
  if not deleted then
    return nil, derr, dcode, ddetail
  end
  return true
end

--- PUT a Static Large Object manifest: object then reads as its
-- segments joined, in order.
-- @param segments list of { path = "/container/object", etag = MD5 (Swift
--   checks it; optional), size_bytes = n (optional) }
-- @param opts { content_type (the object's; default
--   application/octet-stream) }
-- @return true, or nil, message, code, detail
function Connection:put_manifest(container, object, segments, opts)
  opts = opts or {}
  local resp, err, code, detail = expect("SLO manifest PUT",
    self:request("PUT", container .. "/" .. object, {
      query = "?multipart-manifest=put", body = json.encode(segments),
      headers = { ["Content-Type"] = opts.content_type
                  or "application/octet-stream" } }))
  if not resp then
    return nil, err, code, detail
  end
  return true
end

--- The container that holds a container's large-object segments
-- (python-swiftclient's `<container>_segments`).
function M.segment_container(container)
  return container .. "_segments"
end

--- The names of one upload's segments of `object`: python-swiftclient's
-- layout, `<object>/slo/<time>.<random>/<segment size>/<8-digit index>`
-- from index 0, with a random part instead of the total size (unknown
-- until the end), so that two uploads never share segments.
-- @return function(index) -> the segment's object name
function M.segment_names(object, segment_size)
  local prefix = ("%s/slo/%d.%08x/%d/"):format(object, os.time(),
    math.random(0, 0x7fffffff), segment_size)
  return function(index)
    return ("%s%08d"):format(prefix, index)
  end
end

--- Upload a stream as a Static Large Object: segments of up to
-- `segment_size` bytes in `segment_container(container)` (created if
-- needed), each Etag checked, then the manifest at container/object,
-- listing them with their MD5 and size (so Swift checks them again).
-- @param source a `zpm.core.http.source`, read from where it stands
-- @param opts { segment_size = bytes (required), max_segments = n
--   (default: `limits()`'s max_manifest_segments), progress = a
--   `zpm.core.progress` meter, content_type (the object's; default
--   application/octet-stream), too_many = the message when the data
--   needs more than max_segments segments (default: a generic one) }
-- @return the number of segments and the list of their paths
--   (container/object), or nil, message, code and detail whose `objects`
--   are the segments (and manifest) that are, or may be, stored ("limit"
--   when the data needs more than max_segments)
function Connection:put_slo(container, object, source, opts)
  local written = {}
  local max_segments = opts.max_segments
  if not max_segments then
    local limits, lerr, lcode, ldetail = self:limits()
    if not limits then
      return nil, lerr, lcode, errors.with_objects(ldetail, written)
    end
    max_segments = limits.max_manifest_segments
  end
  local segments = M.segment_container(container)
  local created, err, code, detail = self:put_container(segments)
  if not created then
    return nil, err, code, errors.with_objects(detail, written)
  end
  if err == 201 then
    -- made now: marked as zpm's, for `zpm undeploy`
    self:post_container(segments, { [M.CREATED_META] =
                                    os.date("!%Y-%m-%dT%H:%M:%SZ") })
  end
  local name_of = M.segment_names(object, opts.segment_size)
  local manifest = {}
  while true do
    if #manifest >= max_segments then
      return nil, opts.too_many or ("%s/%s needs more than %d segments of "
        .. "%d bytes, the most one Static Large Object may have "
        .. "(max_manifest_segments in /info)"):format(container, object,
        max_segments, opts.segment_size), errors.LIMIT,
        { objects = written }
    end
    local segment = segments .. "/" .. name_of(#manifest)
    local resp, rerr, rcode, rdetail = self:request("PUT", segment, {
      body = { source = source, max = opts.segment_size },
      progress = opts.progress,
      headers = { ["Content-Type"] = "application/octet-stream" } })
    local stored, perr, pcode, pdetail = M.check_put(resp, rerr, rcode,
                                                     rdetail)
    -- no answer (a lost connection, an interrupt): Swift may have stored
    -- it all the same, so it is for the caller to take back too
    if stored or pcode == errors.ETAG or not resp then
      written[#written + 1] = segment
    end
    if not stored then
      return nil, perr, pcode, errors.with_objects(pdetail, written)
    end
    if resp.sent == 0 then
      -- the data ended on a segment boundary: this one is empty
      written[#written] = nil
      local deleted, derr = self:delete_object(segment:match(
        "^([^/]+)/(.+)$"))
      if not deleted then
        log.info("could not delete %s: %s", segment, derr)
        written[#written + 1] = segment
      end
      break
    end
    manifest[#manifest + 1] = { path = "/" .. segment, etag = resp.md5,
                                size_bytes = resp.sent }
    if resp.sent < opts.segment_size then
      break
    end
  end
  local put, perr, pcode, pdetail = self:put_manifest(container, object,
    manifest, { content_type = opts.content_type })
  if not put then
    return nil, perr, pcode, errors.with_objects(pdetail, written)
  end
  return #manifest, written
end

--- Whether the bulk middleware stores an object of this name, as it is,
-- from a tar member of the same name: not one that starts with "/" or
-- "./" (it strips those), ends with "/", holds "//", a backslash or a
-- "." or ".." segment (tar readers and URL code may take them for
-- directories or normalize them: such names go one PUT each).
function M.extractable_name(name)
  if name:find("/$") or name:find("//", 1, true)
     or name:find("\\", 1, true) then
    return false
  end
  for segment in (name .. "/"):gmatch("(.-)/") do
    if segment == "" or segment == "." or segment == ".." then
      return false
    end
  end
  return true
end

-- A name the bulk middleware gives in its Errors: percent-encoded
-- (Python's urllib quote), container/object.
local function unquote(s)
  return (s:gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end))
end

--- How many files one bulk request takes at least when `extract_archive`
-- splits them into several sent at once (fewer files: one request).
M.BULK_FILES_PER_REQUEST = 16

--- How many requests `extract_archive` sends `count` files in, at most
-- `concurrency` (default `CONCURRENCY`): one per
-- `BULK_FILES_PER_REQUEST` files, at least one.
function M.bulk_requests(count, concurrency)
  return math.max(1, math.min(concurrency or M.CONCURRENCY,
                              count // M.BULK_FILES_PER_REQUEST))
end

-- The outcome of one bulk request for its files (see `extract_archive`):
-- a list, one entry per file, or nil and why none is known stored.
local function bulk_outcome(container, files, resp, err)
  if not resp then
    return nil, err
  end
  if not M.is_2xx(resp.status) then
    return nil, select(2, errors.http("Bulk extract-archive PUT", resp))
  end
  -- whitespace first: what Swift sends while it works
  local result = json.decode((resp.body or ""):match("^%s*(.-)%s*$"))
  local created = type(result) == "table"
    and math.tointeger(result["Number Files Created"])
  if not created or type(result.Errors) ~= "table"
     or type(result["Response Status"]) ~= "string" then
    return nil, ("Bulk extract-archive PUT %s: the answer is not the bulk "
      .. "middleware's (status %d)"):format(resp.url, resp.status)
  end
  local failed = {}
  for _, e in ipairs(result.Errors) do
    if type(e) == "table" and type(e[1]) == "string" then
      failed[unquote(e[1])] = tostring(e[2])
    end
  end
  local outcome, tried = {}, created
  for _, f in ipairs(files) do
    if failed[container .. "/" .. f.name] then
      tried = tried + 1
    end
  end
  local why = ("not tried: %s %s"):format(result["Response Status"],
    tostring(result["Response Body"] or "")):gsub("%s+$", "")
  for i, f in ipairs(files) do
    outcome[i] = i > tried and why or failed[container .. "/" .. f.name]
      or true
  end
  return outcome
end

--- Store many objects of one container in a few requests: uncompressed
-- tars of them, each PUT to `container?extract-archive=tar` (Swift's
-- bulk middleware, when `limits().bulk_upload` says the cluster has it),
-- which stores each member as an object with the member's MIME type as
-- its Content-Type. `bulk_requests` of them, sent at once, each of
-- consecutive files: the middleware stores one request's files one after
-- the other, several requests let Swift store them in parallel. The HTTP
-- status is 200 whatever happened to the files: the outcome is in the
-- JSON body, read here file by file. Swift stores the members in tar
-- order and stops at the first failure of the request itself or after
-- `max_failed_extractions` failed files, so the files created are
-- exactly the first `Number Files Created` + (failed) ones, less those
-- its Errors name; the rest were not tried. Swift returns no Etag per
-- file: nothing checks the MD5 of what it stored.
-- @param files list of { name = object name (`extractable_name`), data =
--   string, content_type = string }
-- @param opts { concurrency = requests at once (default `CONCURRENCY`),
--   progress = function(bytes of all tars) returning a
--   `zpm.core.progress` meter for the upload, or nil }
-- @return a list, one entry per file: true (created) or why not ("400 Bad
--   Request", "not tried: 401 Unauthorized ...", the failure of its
--   request: none of that request's files is known stored), the number
--   of requests, and a list of booleans, one per file: true when its
--   request got no answer (a lost connection, an interrupt: Swift may
--   have stored it all the same); or nil, a message, a code and detail
--   (no tar could be made, authentication failed: nothing was sent)
function Connection:extract_archive(container, files, opts)
  opts = opts or {}
  local n = M.bulk_requests(#files, opts.concurrency)
  local runs, reqs, total = {}, {}, 0
  for k = 1, n do
    local first, last = (k - 1) * #files // n + 1, k * #files // n
    local run, members = {}, {}
    for i = first, last do
      local f = files[i]
      run[#run + 1] = f
      members[#members + 1] = { name = f.name, data = f.data,
                                mime_type = f.content_type }
    end
    local tar, terr, tcode = core.archive.tar(members)
    if not tar then
      return nil, terr, tcode
    end
    runs[k], total = run, total + #tar
    reqs[k] = { method = "PUT", path = container,
      query = "?extract-archive=tar", body = tar,
      max_body = 16 * 1024 * 1024,
      -- no Content-Type: the bulk middleware's documentation gives it
      -- to every file (its code does not); each member has its own
      headers = { Accept = "application/json" } }
  end
  local progress <close> = opts.progress and opts.progress(total) or nil
  local results, err, code, detail = self:request_many(reqs, {
    concurrency = n, progress = progress })
  if progress then
    progress:finish()
  end
  if not results then
    return nil, err, code, detail
  end
  local outcome, unanswered = {}, {}
  for k, run in ipairs(runs) do
    local resp = results[k]
    local answered = resp and resp.status ~= nil
    local got, why = bulk_outcome(container, run, answered and resp or nil,
                                  resp and resp.error)
    for j in ipairs(run) do
      outcome[#outcome + 1] = got and got[j] or why
      unanswered[#unanswered + 1] = not answered
    end
  end
  return outcome, n, unanswered
end

-- A body spec of `session:request` rather than a job.
local function is_body_spec(t)
  return t.file ~= nil or t.gunzip ~= nil or t.source ~= nil
end

--- POST a job (or a zapp image) to the account with X-Zerovm-Execute.
-- Not retried once the body was sent (a job is not idempotent).
-- @param body the job: a table (a list of groups, as `zpm.job` makes or
--   `boot/system.map` holds; encoded as JSON here, as the original's
--   `post_job(job)` did), its JSON text, or a streamed body
--   (`{ file = path }`, `{ gunzip = path }` for a zapp's tar)
-- @param opts { content_type (default application/json), sink (where a
--   2xx body goes; default: resp.body) }
-- @return resp `{ status, reason, headers, body }` (any status: the
--   original's response_dict), or nil, message, code, detail
function Connection:post_job(body, opts)
  opts = opts or {}
  if type(body) == "table" and not is_body_spec(body) then
    local text, err = json.encode(body)
    if not text then
      return nil, "post_job: the job cannot be encoded as JSON: "
        .. tostring(err), errors.INVALID
    end
    log.debug("job: %s", text)
    body = text
  end
  return self:request("POST", "", {
    body = body, sink = opts.sink, idempotent = false,
    headers = { ["X-Zerovm-Execute"] = "1.0",
                ["Content-Type"] = opts.content_type or "application/json" },
  })
end

--- Release the HTTP sessions.
function Connection:close()
  self.session:close()
  if self.undo_session then
    self.undo_session:close()
  end
end

return M
