--- Web UI files deployed with a zapp: which members are UI files, their
-- content types, the auth options the page gets, and `.tmpl` rendering.
-- @module zpm.webui
local json = require("zpm.json")
local errors = require("zpm.errors")

local M = {}

local TYPES = {
  html = "text/html", htm = "text/html", css = "text/css",
  js = "application/javascript", json = "application/json",
  txt = "text/plain", svg = "image/svg+xml", png = "image/png",
  jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  ico = "image/x-icon", woff = "font/woff", woff2 = "font/woff2",
  map = "application/json", xml = "application/xml",
}

--- Content type from a file name's extension.
function M.content_type(name)
  local ext = name:match("%.([%w]+)$")
  return ext and TYPES[ext:lower()] or "application/octet-stream"
end

--- Python fnmatch: `*` and `?` match any character, '/' included.
function M.fnmatch(name, pattern)
  local glob = require("zpm.glob")
  -- zpm.glob matches one component; '/' is an ordinary character there
  return glob.fnmatch(name, pattern)
end

--- The auth options a deployed page gets. By default they never carry
-- a password or key: the page asks for it. With `opts.embed_credentials`
-- the password (v2, v3) or key (v1) goes in as `password`, the way the
-- original zpm did it: anyone who can read the page can then use it.
-- @param version "0.0" (no auth), "1.0", "2.0", "3.0" or "preauth"
--   (as "0.0"), in any form the original accepted ("1", 1, "2.0"...)
-- @param settings auth settings
-- @param storage_url the account's storage URL
-- @param opts { embed_credentials = bool } (optional)
-- @return an ordered JSON object (zpm.json):
--   0.0: { version, swiftUrl }; 1.0: { version, authUrl, username };
--   2.0: { version, authUrl, tenant, username };
--   3.0: { version, authUrl, username, userDomainName, projectName,
--   projectDomainName }; each but 0.0 with `password` when embedded;
--   or nil, a message and "invalid" for another version
function M.auth_opts(version, settings, storage_url, opts)
  local embed = opts and opts.embed_credentials
  local keys, values
  if version ~= "preauth" then
    local normal = require("zpm.auth").normalize_version(version)
    if not normal then
      return nil, ("unknown auth version '%s' for the web UI (use 0.0, "
        .. "1.0, 2.0 or 3.0)"):format(tostring(version)), errors.INVALID
    end
    version = normal
  end
  if version == "0.0" or version == "preauth" then
    return json.object({ "version", "swiftUrl" },
                       { version = "0.0", swiftUrl = storage_url })
  elseif version == "1.0" then
    keys = { "version", "authUrl", "username" }
    values = { version = "1.0", authUrl = settings.auth,
               username = settings.user, password = settings.key }
  elseif version == "2.0" then
    keys = { "version", "authUrl", "tenant", "username" }
    values = { version = "2.0", authUrl = settings.os_auth_url,
               tenant = settings.os_tenant_name,
               username = settings.os_username,
               password = settings.os_password }
  else
    keys = { "version", "authUrl", "username", "userDomainName",
             "projectName", "projectDomainName" }
    values = { version = "3.0", authUrl = settings.os_auth_url,
               username = settings.os_username,
               userDomainName = settings.os_user_domain_name or "Default",
               projectName = settings.os_project_name,
               projectDomainName = settings.os_project_domain_name
                 or "Default",
               password = settings.os_password }
  end
  if embed and values.password then
    keys[#keys + 1] = "password"
  else
    values.password = nil
  end
  return json.object(keys, values)
end

--- JSON that is safe inside a <script> element.
function M.script_json(value)
  local text = assert(json.encode(value))
  return (text:gsub("<", "\\u003c"):gsub(">", "\\u003e")
              :gsub("&", "\\u0026"))
end

--- Render a `.tmpl` file with the Jinja2-compatible engine
-- (`zpm.jinja`): variables `zapp` (the parsed zapp.yaml) and
-- `auth_opts` (JSON safe inside a <script> element, as Jinja2's Markup
-- would have carried it). HTML autoescaping is on for `.html.tmpl`,
-- `.htm.tmpl` and `.xml.tmpl` files.
-- @param name the member name (for messages and autoescaping)
-- @return text, or nil, "name:line: message" and "invalid"
function M.render(name, text, vars)
  local jinja = require("zpm.jinja")
  local values = {}
  for k, v in pairs(vars) do
    values[k] = v
  end
  if vars.auth_opts ~= nil then
    values.auth_opts = jinja.markup(M.script_json(vars.auth_opts))
  end
  local out, err = jinja.render(text, name, values)
  if out == nil then
    return nil, err, errors.INVALID
  end
  return out
end

return M
