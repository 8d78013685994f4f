/*
 * zpm.core: the Lua face of libzpmcore. One subtable per area; the module
 * sets no globals and keeps no mutable C state.
 */
#include "bindings.h"

int zpm_lua_fail(lua_State *L, const struct zpm_error *err)
{
  lua_pushnil(L);
  lua_pushstring(L, err->message);
  lua_pushstring(L, zpm_status_name(err->status));
  return 3;
}

int luaopen_zpm_core(lua_State *L);

int luaopen_zpm_core(lua_State *L)
{
  lua_newtable(L);
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
  lua_setfield(L, -2, "archive");
  return 1;
}
