--- The web UI files `zpm new --with-ui` writes: a page that runs the
-- deployed job from the browser (doc/webui.md). Plain HTML, CSS and
-- JavaScript with no external resources, so the page works offline.
-- The files are real files in `templates/ui/` beside this module (and
-- `examples/hello-ui/` carries the same, checked by spec/unit/examples).
--
-- `index.html.tmpl` is rendered at deploy time (zpm.webui, autoescaped):
-- one field per `help.args` entry, one object path field per `input` or
-- `output` device of each group, a password field (hidden by the script
-- when the page has no auth or embedded credentials), and the
-- `auth_opts` JSON in a non-executed <script type="application/json">.
local util = require("zpm.templates.util")

local M = {}

--- The files' names, in the order they are created.
M.NAMES = { "index.html.tmpl", "zerocloud.js", "style.css" }

--- The files with their text, read from `templates/ui/`.
-- @return list of { name = ..., content = ... } in the order of
--   `M.NAMES`, or nil, "cannot read <path>: <reason>" and "io"
function M.files()
  local files = {}
  for i, name in ipairs(M.NAMES) do
    local content, err, code = util.read("ui", name)
    if not content then
      return nil, err, code
    end
    files[i] = { name = name, content = content }
  end
  return files
end

return M
