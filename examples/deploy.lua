-- A deployment script on zpm's Lua API: bundle a project, deploy it,
-- run it and print the execution summary and the job's output.
--
--   eval "$(zpm devcloud env)"        # or any ST_* / OS_* settings
--   lua5.4 examples/deploy.lua examples/hello hello-demo
--
-- (From a source tree, put lua/ and the build on the module paths:
--  LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;")
local zpm = require("zpm")

local project, target = arg[1] or ".", arg[2] or "demo"
zpm.log.set_handler(function(line) io.stderr:write(line, "\n") end)

local function check(value, err)
  if value == nil then
    io.stderr:write("deploy.lua: ", tostring(err), "\n")
    os.exit(1)
  end
  return value
end

local bundle = check(zpm.bundle(project))
print("bundled " .. bundle.path)

-- settings not given here come from the environment (ST_AUTH, ...)
local conn = check(zpm.connect({}))
local deployed = check(conn:deploy(target, bundle.path, { force = true }))
print("deployed to " .. deployed.url)

local result = check(conn:execute({ container = target }))
local summary = check(zpm.summary(result.headers))
for _, row in ipairs(summary.rows) do
  print(("node %-12s %-8s retcode %s in %ss"):format(row.node, row.status,
                                                     row.retcode,
                                                     row.node_time))
end
print("total time " .. summary.total .. "s")
io.write(result.body)
