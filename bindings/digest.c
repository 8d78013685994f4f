/*
 * zpm.core.digest: MD5 for Lua, from libcrypto through core/digest.c. A
 * module of its own, as zpm.core.http is, so that a command that hashes
 * nothing does not load libcrypto; zpm.core.md5 and zpm.core.md5_new
 * load it on first use.
 */
#include <stddef.h>

#include "bindings.h"
#include "zpm/digest.h"

/* An MD5 object: state.ctx is NULL once closed. */
struct lmd5 {
  struct zpm_md5 state;
};

static const struct zpm_lua_class md5_class;  /* below the methods */

static struct lmd5 *check_open(lua_State *L)
{
  return zpm_lua_check_open(L, 1, &md5_class);
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
  struct lmd5 *m = zpm_lua_new(L, &md5_class, sizeof(*m), 0);

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
  struct lmd5 *m = zpm_lua_check(L, 1, &md5_class);

  zpm_md5_free(&m->state);
  return 0;
}

static const luaL_Reg md5_methods[] = {
  { "update", md5_update },
  { "hexdigest", md5_hexdigest },
  { "close", md5_close },
  { NULL, NULL }
};

static const struct zpm_lua_class md5_class = {
  "zpm.core.Md5", "MD5 object",
  offsetof(struct lmd5, state.ctx), md5_close, md5_methods, NULL
};

static const luaL_Reg digest_functions[] = {
  { "md5", digest_md5 },
  { "md5_new", digest_md5_new },
  { NULL, NULL }
};

int luaopen_zpm_core_digest(lua_State *L);

int luaopen_zpm_core_digest(lua_State *L)
{
  zpm_lua_class(L, &md5_class);
  luaL_newlib(L, digest_functions);
  lua_pushliteral(L, "zpm.core.digest " ZPM_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
