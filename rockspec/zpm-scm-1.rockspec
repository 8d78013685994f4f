-- LuaRocks package for zpm. Built with CMake (the same build as a
-- developer's), fully offline, against Debian's installed libraries:
--   luarocks --lua-version=5.4 make --tree=DIR rockspec/zpm-scm-1.rockspec
rockspec_format = "3.0"
package = "zpm"
version = "scm-1"

source = {
  url = "git+file:///zpm",
}

description = {
  summary = "ZeroVM Package Manager: create, bundle, deploy and run zapps",
  detailed = [[
zpm creates, bundles, deploys and runs zapps (tar archives with a job
description) on ZeroCloud. A C core (tar streaming, parallel gzip, YAML)
exposed as zpm.core, and a Lua workflow and CLI users can script.]],
  license = "Apache-2.0",
}

dependencies = {
  "lua >= 5.4, < 5.5",
  -- lua-cjson, argparse and luafilesystem come from Debian's packages
  -- (lua-cjson, lua-argparse, lua-filesystem); LuaRocks does not see
  -- those, so they are documented in the README instead of listed here.
}

build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    ZPM_BUILD_TESTS = "OFF",
    ZPM_LUADIR = "$(LUADIR)",
    ZPM_LUA_LIBDIR = "$(LIBDIR)",
  },
  install = {
    bin = { zpm = "bin/zpm" },
  },
}
