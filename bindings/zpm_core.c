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
    zpm_error_errno(&err, errno, "%s", path);
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

/*
 * __index of the module table: what lives in modules of their own, so
 * that their libraries load on first use. `http` is
 * require("zpm.core.http"), `interrupt` require("zpm.core.interrupt"),
 * `md5` and `md5_new` the functions of require("zpm.core.digest").
 */
static int core_index(lua_State *L)
{
  static const struct {
    const char *key, *module;
    int whole;                    /* the module itself, or its field key */
  } lazy[] = {
    { "http", "zpm.core.http", 1 },
    { "interrupt", "zpm.core.interrupt", 1 },
    { "md5", "zpm.core.digest", 0 },
    { "md5_new", "zpm.core.digest", 0 },
  };
  const char *key = lua_tostring(L, 2);
  size_t i;

  for (i = 0; key != NULL && i < sizeof(lazy) / sizeof(lazy[0]); i++) {
    if (strcmp(key, lazy[i].key) != 0)
      continue;
    lua_getglobal(L, "require");
    lua_pushstring(L, lazy[i].module);
    lua_call(L, 1, 1);
    if (!lazy[i].whole)
      lua_getfield(L, -1, key);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, key);
    return 1;
  }
  return 0;
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
  zpm_lua_open_fs(L);
  lua_setfield(L, -2, "fs");
  /* core.http lives in its own module (it loads libcurl): found on
   * first use through the module table's __index */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, core_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}
