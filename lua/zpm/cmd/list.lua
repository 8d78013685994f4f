--- zpm list: the zapps deployed in a container, or in the account.
local cli = require("zpm.cli")

local M = {}

M.summary = "List deployed zapps"
M.description = [[
List the zapps deployed in CONTAINER, or in every container of the
account: one line each, with the target, the zapp's name and version
(from its zapp.yaml), the size of its image in bytes, the number of
segments when the image is a Static Large Object ("-" otherwise), whether
the container is public (read ACL .r:*) and when the deploy took effect
(the job's last-modified time, UTC). Deployments made by a zpm older than
this command show "?" for what they did not record.]]

function M.add_to_parser(parser)
  parser:argument("container", "Only this container."):args("?")
    :argname("CONTAINER")
  require("zpm.output").add_format_options(parser, "the deployments "
    .. "(a list of objects, the fields of conn:list)")
  cli.add_auth_options(parser)
  cli.add_log_level(parser)
end

M.HEADERS = { "TARGET", "ZAPP", "VERSION", "BYTES", "SEGMENTS", "PUBLIC",
              "LAST MODIFIED" }

--- The rows of the listing (as text), in the order of `HEADERS`.
function M.rows(list)
  local rows = {}
  for i, d in ipairs(list) do
    local unknown = d.recorded and "-" or "?"
    rows[i] = { d.target, d.zapp or unknown, d.version or unknown,
                d.bytes and tostring(d.bytes) or "?",
                d.segments and tostring(d.segments) or unknown,
                d.public and "yes" or "no",
                ((d.last_modified or "?"):gsub("%.%d+$", "")) }
  end
  return rows
end

--- The fields of a deployment `list --format json` prints, in order.
M.JSON_FIELDS = { "target", "container", "zapp", "version", "file",
                  "image", "bytes", "segments", "public", "last_modified",
                  "deployed", "args", "recorded" }

--- The listing as `list --format json` prints it: a JSON array of
-- objects with `JSON_FIELDS` (absent when unknown).
function M.data(list)
  local json = require("zpm.json")
  local out = json.array()
  for i, d in ipairs(list) do
    local values = {}
    for _, field in ipairs(M.JSON_FIELDS) do
      values[field] = d[field]
    end
    if type(d.args) == "table" then
      values.args = json.array(table.move(d.args, 1, #d.args, 1, {}))
    end
    out[i] = json.object(M.JSON_FIELDS, values)
  end
  return out
end

--- The listing as aligned columns (the last one unpadded).
function M.format(list)
  local rows = M.rows(list)
  table.insert(rows, 1, M.HEADERS)
  return cli.columns(rows) .. "\n"
end

function M.run(args)
  local conn, err, code = require("zpm").connect(cli.auth_settings(args))
  if not conn then
    return nil, err, code
  end
  local list, lerr, lcode, ldetail = conn:list(args.container)
  if not list then
    return nil, lerr, lcode, ldetail
  end
  local output = require("zpm.output")
  if output.json(args) then
    return output.write_json(M.data(list))
  end
  local ok, werr, wcode = cli.write(M.format(list))
  if not ok then
    return nil, werr, wcode
  end
  return true
end

return M
