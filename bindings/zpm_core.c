/*
 * zpm.core: the Lua face of libzpmcore. One subtable per area; the module
 * sets no globals and keeps no mutable C state.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindings.h"


/* chmod(path, mode) -> true | nil, msg, "io": LuaFileSystem has none. */
static int core_chmod(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_Integer mode = luaL_checkinteger(L, 2);
  struct zpm_error err;

  luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "invalid mode");
  if (chmod(path, (mode_t)mode) != 0) {
    zpm_error_clear(&err);
    err.lib_code = errno;
    zpm_error_set(&err, ZPM_EIO, "%s: %s", path, strerror(errno));
    return zpm_lua_fail(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* isatty(fd) -> boolean: whether to show a progress meter on fd. */
static int core_isatty(lua_State *L)
{
  lua_Integer fd = luaL_checkinteger(L, 1);

  lua_pushboolean(L, fd >= 0 && fd <= INT_MAX && isatty((int)fd) == 1);
  return 1;
}

/* __index of the module table: `http` is require("zpm.core.http"),
 * `interrupt` require("zpm.core.interrupt"): modules of their own. */
static int core_index(lua_State *L)
{
  const char *key = lua_tostring(L, 2);

  if (key == NULL || (strcmp(key, "http") != 0
                      && strcmp(key, "interrupt") != 0))
    return 0;
  lua_getglobal(L, "require");
  lua_pushstring(L, strcmp(key, "http") == 0 ? "zpm.core.http"
                                             : "zpm.core.interrupt");
  lua_call(L, 1, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, 1, key);
  return 1;
}

static const luaL_Reg core_functions[] = {
  { "chmod", core_chmod },
  { "isatty", core_isatty },
  { NULL, NULL }
};

int luaopen_zpm_core(lua_State *L);

int luaopen_zpm_core(lua_State *L)
{
  luaL_newlib(L, core_functions);
  lua_pushliteral(L, "zpm.core " ZPM_VERSION);
  lua_setfield(L, -2, "_VERSION");
  /* The same value as cjson.null: a NULL light userdata. */
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  zpm_lua_open_args(L);
  lua_setfield(L, -2, "args");
  zpm_lua_open_yaml(L);
  lua_setfield(L, -2, "yaml");
  zpm_lua_open_archive(L);
  zpm_lua_add_tar_reader(L);
  lua_setfield(L, -2, "archive");
  zpm_lua_open_nexe(L);
  lua_setfield(L, -2, "nexe");
  zpm_lua_open_progress(L);
  lua_setfield(L, -2, "progress");
  /* core.http lives in its own module (it loads libcurl): found on
   * first use through the module table's __index */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, core_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}
