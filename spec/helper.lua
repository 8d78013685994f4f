-- Loaded by busted before every spec (ctest passes --helper). Makes the
-- sources and the built zpm.core findable when busted is run by hand too.
local source = os.getenv("ZPM_SOURCE_DIR") or "."
local build = os.getenv("ZPM_BUILD_DIR") or (source .. "/build")
package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/?.lua;"):format(
  source, source, source) .. package.path
package.cpath = ("%s/?.so;"):format(build) .. package.cpath
