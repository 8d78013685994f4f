--- The default project template: a Python zapp.
local ui = require("zpm.templates.ui")

local ZAPP_YAML = [[
# zapp.yaml describes a ZeroVM application (a "zapp"): what runs, on how
# many nodes, with which files. `zpm bundle` turns this directory into
# %s.zapp; `zpm deploy` uploads it to ZeroCloud.

# The kind of application. It selects the bundler that adds third-party
# dependencies (see `dependencies` below).
project_type: python

# How the zapp runs: a list of node groups. Jobs such as map-reduce use
# several groups connected to each other.
execution:
  groups:
      # Name of the group; other groups refer to it in `connect`.
    - name: main

      # The program to run: file://<system image>:<executable>, a
      # swift://<account>/<container>/<object> path, or a path inside the
      # zapp.
      path: file://python2.7:python

      # Command line, split like a shell would (quotes and backslashes).
      args: main.py

      # Input and output devices. The image of the system (python2.7) and
      # stdout (collected into the response) are the usual minimum. Give
      # a device a `path: swift://...` to map it to an object.
      devices:
      - name: python2.7
      - name: stdout

      # Optional: how many nodes run this group (count), environment
      # variables (env), and groups whose input this one writes (connect).
      # count: 1
      # env:
      #   GREETING: hello
      # connect: [other-group]

# Who and what this zapp is. `name` is required: it names the .zapp file.
meta:
  name: "%s"
  Version: ""
  Author-email: ""
  Summary: ""

# Text for generated help and for the web UI.
help:
  description: ""
  # Command-line arguments the user can set, as [name, label] pairs.
  args: []

# Files to put into the zapp, as glob patterns relative to this file.
# Directories are added with everything in them except hidden files.
bundling:
- "*.py"
%s
# Third-party Python packages to bundle: a package name, or a list
# [package, module, ...] naming the modules it installs.
dependencies: []
]]

local UI_SECTION = [[

# Web UI files: bundled and deployed next to the zapp; *.tmpl files are
# rendered at deploy time.
ui:
- index.html.tmpl
- zerocloud.js
- style.css
]]

local MAIN_PY = [[
# Runs on ZeroCloud: what it prints is the job's output. `zpm bundle`
# puts it into the zapp (`bundling` in zapp.yaml) and the group's `args`
# in `execution` run it.
import sys

print("Hello from %s!" + "".join(" " + a for a in sys.argv[1:]))
]]
local yaml_quote = require("zpm.templates.util").yaml_quote

return {
  description = "a Python zapp (default)",
  create = function(ctx)
    local name = yaml_quote(ctx.name)
    ctx:file("zapp.yaml", ZAPP_YAML:format(name, name,
                                           ctx.with_ui and UI_SECTION or ""))
    -- a program that runs, so that the first bundle and deploy work
    ctx:sample("main.py", MAIN_PY:format((ctx.name:gsub("[^%w%-_. ]", ""))))
    if ctx.with_ui then
      for _, file in ipairs(assert(ui.files())) do
        ctx:file(file.name, file.content)
      end
    end
    -- the python bundler keeps its dependency cache here
    ctx:dir(".zapp")
  end,
}
