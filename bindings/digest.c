/*
 * zpm.core.digest: MD5 for Lua, from libcrypto through core/digest.c. A
 * module of its own, as zpm.core.http is, so that a command that hashes
 * nothing does not load libcrypto; zpm.core.md5 and zpm.core.md5_new
 * load it on first use.
 */
#include <lua.h>
#include <lauxlib.h>

#include "zpm/digest.h"
#include "zpm/error.h"

#define MD5_MT "zpm.core.MD5"

/* An MD5 object: state.ctx is NULL once closed. */
struct lmd5 {
  struct zpm_md5 state;
};

static struct lmd5 *check_open(lua_State *L)
{
  struct lmd5 *m = luaL_checkudata(L, 1, MD5_MT);

  if (m->state.ctx == NULL)
    luaL_error(L, "attempt to use a closed MD5 object");
  return m;
}

/* Finish state (made by init or copy, status their result), free it and
 * push its hex digest. */
static int push_final(lua_State *L, struct zpm_md5 *state, int status)
{
  unsigned char digest[ZPM_MD5_DIGEST_SIZE];
  char hex[ZPM_MD5_HEX_SIZE];

  if (status != ZPM_OK)
    return luaL_error(L, "not enough memory");
  zpm_md5_final(state, digest);
  zpm_md5_free(state);
  zpm_md5_hex(digest, hex);
  lua_pushstring(L, hex);
  return 1;
}

/* md5(s) -> the hex digest of the string s. */
static int digest_md5(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  struct zpm_md5 state = { NULL };
  int status = zpm_md5_init(&state);

  zpm_md5_update(&state, s, len);
  return push_final(L, &state, status);
}

/* md5_new() -> an MD5 object with :update(s) and :hexdigest(). */
static int digest_md5_new(lua_State *L)
{
  struct lmd5 *m = lua_newuserdatauv(L, sizeof(*m), 0);

  m->state.ctx = NULL;            /* closed until it holds a state */
  luaL_setmetatable(L, MD5_MT);
  if (zpm_md5_init(&m->state) != ZPM_OK)
    return luaL_error(L, "not enough memory");
  return 1;
}

/* m:update(s) -> m, so that updates chain. */
static int md5_update(lua_State *L)
{
  struct lmd5 *m = check_open(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);

  zpm_md5_update(&m->state, s, len);
  lua_settop(L, 1);
  return 1;
}

/* m:hexdigest() -> the hex digest of everything given so far: of a
 * copy, so that m can go on being updated. */
static int md5_hexdigest(lua_State *L)
{
  struct lmd5 *m = check_open(L);
  struct zpm_md5 copy = { NULL };

  return push_final(L, &copy, zpm_md5_copy(&copy, &m->state));
}

/* m:close(), __close and __gc: idempotent. */
static int md5_close(lua_State *L)
{
  struct lmd5 *m = luaL_checkudata(L, 1, MD5_MT);

  zpm_md5_free(&m->state);
  return 0;
}

static int md5_tostring(lua_State *L)
{
  struct lmd5 *m = luaL_checkudata(L, 1, MD5_MT);

  if (m->state.ctx == NULL)
    lua_pushliteral(L, "zpm.core.MD5 (closed)");
  else
    lua_pushfstring(L, "zpm.core.MD5 (%p)", (void *)m);
  return 1;
}

static const luaL_Reg md5_methods[] = {
  { "update", md5_update },
  { "hexdigest", md5_hexdigest },
  { "close", md5_close },
  { NULL, NULL }
};

static const luaL_Reg md5_metamethods[] = {
  { "__gc", md5_close },
  { "__close", md5_close },
  { "__tostring", md5_tostring },
  { NULL, NULL }
};

static const luaL_Reg digest_functions[] = {
  { "md5", digest_md5 },
  { "md5_new", digest_md5_new },
  { NULL, NULL }
};

int luaopen_zpm_core_digest(lua_State *L);

int luaopen_zpm_core_digest(lua_State *L)
{
  if (luaL_newmetatable(L, MD5_MT)) {
    luaL_setfuncs(L, md5_metamethods, 0);
    luaL_newlib(L, md5_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, digest_functions);
  lua_pushliteral(L, "zpm.core.digest " ZPM_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
