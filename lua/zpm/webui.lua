--- Web UI files deployed with a zapp: which members are UI files, their
-- content types, the auth options the page gets, and `.tmpl` rendering.
-- Rendering here substitutes `{{ name.path }}` expressions only; full
-- Jinja2-style templates arrive with the web UI work.
-- @module zpm.webui
local json = require("zpm.json")

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

--- The auth options a deployed page gets (never a password or key).
-- @param version "1.0", "2.0", "3", "preauth" or "0.0" (no auth)
-- @param settings auth settings
-- @param storage_url the account's storage URL
function M.auth_opts(version, settings, storage_url)
  if version == "0.0" or version == "preauth" then
    return json.object({ "version", "swiftUrl" },
                       { version = "0.0", swiftUrl = storage_url })
  elseif version == "1.0" then
    return json.object({ "version", "authUrl", "username" },
                       { version = "1.0", authUrl = settings.auth,
                         username = settings.user })
  elseif version == "2.0" then
    return json.object({ "version", "authUrl", "tenant", "username" },
                       { version = "2.0", authUrl = settings.os_auth_url,
                         tenant = settings.os_tenant_name,
                         username = settings.os_username })
  end
  return json.object({ "version", "authUrl", "username", "userDomainName",
                       "projectName", "projectDomainName" },
                     { version = "3.0", authUrl = settings.os_auth_url,
                       username = settings.os_username,
                       userDomainName = settings.os_user_domain_name
                         or "Default",
                       projectName = settings.os_project_name,
                       projectDomainName = settings.os_project_domain_name
                         or "Default" })
end

local HTML_ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                       ['"'] = "&#34;", ["'"] = "&#39;" }

--- JSON that is safe inside a <script> element.
function M.script_json(value)
  local text = assert(json.encode(value))
  return (text:gsub("<", "\\u003c"):gsub(">", "\\u003e")
              :gsub("&", "\\u0026"))
end

--- Render a `.tmpl` file: `{{ auth_opts }}` becomes script-safe JSON,
-- `{{ a.b.c }}` looks the path up in vars (HTML-escaped when html).
-- @return text, or nil and "name:line: message"
function M.render(name, text, vars, html)
  local problem
  local out = text:gsub("{{%s*(.-)%s*}}", function(expr)
    if problem then
      return ""
    end
    if expr == "auth_opts" then
      return M.script_json(vars.auth_opts)
    end
    local value = vars
    for part in expr:gmatch("[^.]+") do
      if not part:match("^[%w_%-]+$") or type(value) ~= "table" then
        value = nil
        break
      end
      value = value[part]
    end
    if value == nil then
      problem = ("unknown value '%s'"):format(expr)
      return ""
    end
    local s = type(value) == "table" and assert(json.encode(value))
      or tostring(value)
    return html and s:gsub("[&<>\"']", HTML_ESCAPES) or s
  end)
  if problem then
    return nil, ("%s: %s"):format(name, problem)
  end
  return out
end

return M
