/* Placeholder until the archive binding lands. */
#include "bindings.h"

int zpm_lua_open_archive(lua_State *L)
{
  lua_newtable(L);
  return 1;
}
