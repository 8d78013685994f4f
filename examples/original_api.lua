-- A script written against the original zpm's Python API (zpmlib.zpm),
-- translated one call at a time to zpm's Lua API. The Python it
-- translates is in the comments (`--| `).
--
--   eval "$(zpm devcloud env)"
--   lua5.4 examples/original_api.lua /tmp/demo demo
local zpm = require("zpm")

local location, target = arg[1] or "demo", arg[2] or "demo"
-- Python raised where Lua returns nil and a message: stop there.
local function check(value, ...)
  if value == nil then
    io.stderr:write("original_api.lua: ", tostring((...)), "\n")
    os.exit(1)
  end
  return value, ...
end

--| zpm.create_project(location, with_ui=False, template=None)
check(zpm.new_project(location, { with_ui = false }))
--| zpm.bundle_project(location)
local bundle = check(zpm.bundle(location))

--| conn = zpm.ZeroCloudConnection(os.environ['ST_AUTH'],
--|     os.environ['ST_USER'], os.environ['ST_KEY'], retries=3)
local conn = check(zpm.zerocloud_connection(os.getenv("ST_AUTH"),
  os.getenv("ST_USER"), os.getenv("ST_KEY"), { retries = 3 }))
--| conn.authenticate()
check(conn:authenticate())

--| auth_opts = zpm._prepare_auth('1.0', args, conn)
local auth_opts = check(zpm.prepare_auth("1.0", conn.settings, conn.url))
--| index = zpm._deploy_zapp(conn, target, zapp_path, auth_opts, force=True)
local deployed = check(conn:deploy(target, bundle.path,
                                   { auth_opts = auth_opts, force = true }))
--| print('app deployed to\n  %s/%s' % (conn.url, index))
print(("app deployed to\n  %s/%s"):format(conn.url, deployed.index))

--| job = zpm._prepare_job(tar, zapp, zpm._get_swift_zapp_url(conn.url,
--|     '%s/%s' % (target, os.path.basename(zapp_path))))
local zapp_url = zpm.swift_zapp_url(conn.url,
  target .. "/" .. bundle.name)
local job = check(zpm.prepare_job(bundle.path, zapp_url))
--| resp, buf = {}, BytesIO()
--| conn.post_job(job, response_dict=resp, response_body_buffer=buf)
local resp = check(conn:post_job(job))
--| total_time, table = zpm._get_exec_table(resp)
local table_text, total_time = check(zpm.summary_table(resp.headers))
--| print('Execution summary:'); print(table)
print("Execution summary:")
print(table_text)
--| print('Total time: %s' % total_time)
print("Total time: " .. total_time)
--| sys.stdout.write(buf.getvalue())
io.write(resp.body)
