-- LuaRocks package for zpm. Built with CMake (the same build as a
-- developer's), fully offline, against Debian's installed libraries.
-- From a clone:
--   luarocks --lua-version=5.4 make --deps-mode=none --tree=DIR \
--     rockspec/zpm-scm-1.rockspec
-- (--deps-mode=none: Debian's lua-cjson, lua-argparse and lua-filesystem
-- packages provide the Lua dependencies, which LuaRocks does not see).
-- A source rock of the clone: ./dev rock (see the README).
rockspec_format = "3.0"
package = "zpm"
version = "scm-1"

source = {
  -- `luarocks make` builds the current directory and ignores this;
  -- `./dev rock` packs a clone by pointing it at the clone's path
  url = "git+file:///usr/src/zpm",
}

description = {
  summary = "ZeroVM Package Manager: create, bundle, deploy and run zapps",
  detailed = [[
zpm creates, bundles, deploys and runs zapps (tar archives with a job
description) on ZeroCloud. A C core (tar streaming, parallel gzip, YAML,
HTTP) exposed as zpm.core, and a Lua workflow and CLI users can script.]],
  homepage = "https://github.com/zerovm/zpm",
  license = "Apache-2.0",
}

dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson",
  "argparse",
  "luafilesystem",
}

-- Checked by LuaRocks before building, so a missing -dev package gets its
-- clear message. libcurl names only the library: LuaRocks does not look
-- in Debian's multiarch include directory, where curl/curl.h lives.
-- CRYPTO is libcrypto (Debian's libssl-dev), for MD5.
external_dependencies = {
  CURL = { library = "curl" },
  CRYPTO = { header = "openssl/evp.h", library = "crypto" },
  ARCHIVE = { header = "archive.h", library = "archive" },
  YAML = { header = "yaml.h", library = "yaml" },
  ZLIB = { header = "zlib.h", library = "z" },
}

build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    ZPM_BUILD_TESTS = "OFF",
    ZPM_LUADIR = "$(LUADIR)",
    ZPM_LUA_LIBDIR = "$(LIBDIR)",
    -- the rest (the man page, the shell completion scripts) goes into
    -- the rock's own directory: LuaRocks installs no man pages or
    -- completions into the tree (`luarocks show zpm` names the dir)
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
  },
  install = {
    bin = { zpm = "bin/zpm" },
  },
}

-- bin/zpm finds the tree it is installed in by itself: LuaRocks' wrapper
-- (which loads luarocks.loader first) would cost ~8 ms of every start.
deploy = {
  wrap_bin_scripts = false,
}
