/*
 * zpm.core.progress: new(label, total [, fd = 2]) -> meter | nil, msg, code.
 *
 * A meter is a "zpm.core.Progress" userdata (struct zpm_lua_progress,
 * class zpm_lua_progress_class, see bindings.h) drawing one line on fd
 * (see zpm/progress.h); total 0 means unknown. Whether to show one (a
 * terminal, no --quiet) is the caller's choice, e.g. `core.isatty(2)`.
 *   m:add(n)          n more bytes done             -> true
 *   m:set(done)       absolute position (may go back) -> true
 *   m:set_total(n)    the total, once known           -> true
 *   m:finish()        final line and newline; idempotent -> true
 *   m:close()         finish if needed and free; idempotent -> true
 * __gc and __close are close. Using a closed meter raises.
 */
#include <limits.h>
#include <stddef.h>

#include "bindings.h"
#include "zpm/progress.h"

static struct zpm_progress *check_meter(lua_State *L)
{
  struct zpm_lua_progress *m = zpm_lua_check_open(L, 1,
                                                  &zpm_lua_progress_class);

  return m->p;
}

static unsigned long long check_count(lua_State *L, int idx)
{
  lua_Integer n = luaL_checkinteger(L, idx);

  luaL_argcheck(L, n >= 0, idx, "must be >= 0");
  return (unsigned long long)n;
}

void zpm_lua_progress_report(void *meter, unsigned long long done,
                             unsigned long long total)
{
  struct zpm_lua_progress *m = meter;

  if (m->p != NULL)
    zpm_progress_report(m->p, done, total);
}

static int progress_new(lua_State *L)
{
  const char *label = luaL_checkstring(L, 1);
  unsigned long long total = check_count(L, 2);
  lua_Integer fd = luaL_optinteger(L, 3, 2);
  struct zpm_lua_progress *m;
  struct zpm_error err;

  luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 3, "invalid file descriptor");
  m = zpm_lua_new(L, &zpm_lua_progress_class, sizeof(*m), 0);
  zpm_error_clear(&err);
  if (zpm_progress_open(&m->p, label, total, (int)fd, &err) != ZPM_OK)
    return zpm_lua_fail(L, &err);
  return 1;
}

static int ok(lua_State *L)
{
  lua_pushboolean(L, 1);
  return 1;
}

static int meter_add(lua_State *L)
{
  struct zpm_progress *p = check_meter(L);

  zpm_progress_add(p, check_count(L, 2));
  return ok(L);
}

static int meter_set(lua_State *L)
{
  struct zpm_progress *p = check_meter(L);

  zpm_progress_set(p, check_count(L, 2));
  return ok(L);
}

static int meter_set_total(lua_State *L)
{
  struct zpm_progress *p = check_meter(L);

  zpm_progress_set_total(p, check_count(L, 2));
  return ok(L);
}

static int meter_finish(lua_State *L)
{
  zpm_progress_finish(check_meter(L));
  return ok(L);
}

/* close, __close and __gc: finish and free, once. */
static int meter_close(lua_State *L)
{
  struct zpm_lua_progress *m = zpm_lua_check(L, 1, &zpm_lua_progress_class);

  if (m->p != NULL) {
    zpm_progress_free(m->p);
    m->p = NULL;
  }
  return ok(L);
}

static const luaL_Reg meter_methods[] = {
  { "add", meter_add },
  { "set", meter_set },
  { "set_total", meter_set_total },
  { "finish", meter_finish },
  { "close", meter_close },
  { NULL, NULL }
};

const struct zpm_lua_class zpm_lua_progress_class = {
  ZPM_PROGRESS_MT, "progress meter",
  offsetof(struct zpm_lua_progress, p), meter_close, meter_methods, NULL
};

static const luaL_Reg progress_functions[] = {
  { "new", progress_new },
  { NULL, NULL }
};

int zpm_lua_open_progress(lua_State *L)
{
  zpm_lua_class(L, &zpm_lua_progress_class);
  luaL_newlib(L, progress_functions);
  return 1;
}
