/*
 * What every zpm Lua module shares (zpm.core and zpm.core.http).
 */
#include "bindings.h"

int zpm_lua_fail(lua_State *L, const struct zpm_error *err)
{
  lua_pushnil(L);
  lua_pushstring(L, err->message);
  lua_pushstring(L, zpm_status_name(err->status));
  return 3;
}
