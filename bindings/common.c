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

const void *zpm_lua_opt_interrupt(lua_State *L, int arg, int idx)
{
  const void *flag = NULL;

  if (lua_type(L, idx) == LUA_TLIGHTUSERDATA)
    flag = lua_touserdata(L, idx);
  else if (!lua_isnil(L, idx))
    luaL_argerror(L, arg, "option 'interrupt' must be the light userdata "
                  "of zpm.core.interrupt.flag()");
  return flag;
}

int zpm_lua_file_fd(lua_State *L, int idx)
{
  luaL_Stream *p = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);

  if (p == NULL)
    return -1;
  if (p->closef == NULL)
    luaL_argerror(L, idx, "attempt to use a closed file");
  return fileno(p->f);
}
