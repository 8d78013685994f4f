/*
 * zpm.core.args: split(cmdline) -> {words} | nil, msg, "invalid";
 * escape(word) -> string.
 */
#include <string.h>

#include "bindings.h"
#include "zpm/args.h"

struct split_target {
  lua_State *L;
  lua_Integer n;
};

static int push_word(const char *word, size_t len, void *ud)
{
  struct split_target *t = ud;
  lua_pushlstring(t->L, word, len);
  lua_rawseti(t->L, -2, ++t->n);
  return 0;
}

static int args_split(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  struct split_target t = { L, 0 };
  struct zpm_error err;

  zpm_error_clear(&err);
  lua_newtable(L);
  if (zpm_args_split(s, len, push_word, &t, &err) != ZPM_OK)
    return zpm_lua_fail(L, &err);
  return 1;
}

static int args_escape(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  size_t need = zpm_args_escape(s, len, NULL, 0);
  char *out = luaL_buffinitsize(L, &b, need);

  zpm_args_escape(s, len, out, need);
  luaL_pushresultsize(&b, need);
  return 1;
}

static const luaL_Reg args_functions[] = {
  { "split", args_split },
  { "escape", args_escape },
  { NULL, NULL }
};

int zpm_lua_open_args(lua_State *L)
{
  luaL_newlib(L, args_functions);
  return 1;
}
