--- A project template for a zapp that runs a POSIX shell script on the
-- `sh` system image (no interpreter beyond /bin/sh needed).
local ZAPP_YAML = [[
# zapp.yaml for a shell-script zapp: `zpm bundle` writes %s.zapp.
project_type: shell

execution:
  groups:
  - name: main
    # the `sh` system image's shell runs main.sh from the zapp
    path: file://sh:sh
    args: main.sh
    devices:
    - name: sh
    - name: stdout

meta:
  name: "%s"
  Version: ""
  Author-email: ""
  Summary: ""

help:
  description: ""
  args: []

bundling:
- main.sh
]]

local MAIN_SH = [[
#!/bin/sh
# Runs on ZeroCloud: what it prints is the job's output.
echo "Hello from $(uname -s) with arguments: $*"
]]

local yaml_quote = require("zpm.templates.util").yaml_quote

return {
  description = "a POSIX shell script zapp",
  create = function(ctx)
    local name = yaml_quote(ctx.name)
    ctx:file("zapp.yaml", ZAPP_YAML:format(name, name))
    ctx:sample("main.sh", MAIN_SH, 493)
  end,
}
