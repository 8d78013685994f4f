/*
 * zpm.core.archive: create(path [, opts]) -> writer | nil, msg, code.
 *
 * opts: { level = 1..9, threads = n >= 0, mtime = seconds, progress =
 * meter, interrupt = zpm.core.interrupt.flag() } (interrupt: a caught
 * signal fails the writer with code "interrupted" and discards it;
 * mtime fixes every member's mtime; progress, a
 * zpm.core.progress meter, counts the member data read (the writer's
 * progress callback moves it) and is finished by a successful commit;
 * the writer keeps it alive, and a meter closed meanwhile is left alone). A writer is a "zpm.core.ArchiveWriter"
 * userdata:
 *   w:add_path(disk_path, arcname)            -> true | nil, msg, code
 *   w:add_memory(arcname, data [, mode [, mtime]]) -> true | nil, msg, code
 *   w:commit()      -> true | nil, msg, code; the writer is closed after
 *   w:close()       -> true; discards an uncommitted archive (idempotent)
 *   w:temp_path()   -> path of the temporary file
 * __gc and __close are close. Using a closed writer raises.
 */
#include <string.h>

#include "bindings.h"
#include "zpm/archive.h"
#include "zpm/progress.h"

#define WRITER_MT "zpm.core.ArchiveWriter"

struct lwriter {
  struct zpm_archive_writer *w;  /* NULL once closed */
};

static struct lwriter *to_lwriter(lua_State *L)
{
  return (struct lwriter *)luaL_checkudata(L, 1, WRITER_MT);
}

static struct zpm_archive_writer *check_writer(lua_State *L)
{
  struct lwriter *lw = to_lwriter(L);

  if (lw->w == NULL)
    luaL_error(L, "attempt to use a closed archive writer");
  return lw->w;
}

static int writer_result(lua_State *L, struct zpm_archive_writer *w,
                         int status)
{
  if (status != ZPM_OK)
    return zpm_lua_fail(L, zpm_archive_error(w));
  lua_pushboolean(L, 1);
  return 1;
}

static lua_Integer opt_integer(lua_State *L, int idx, const char *name,
                               lua_Integer lo, lua_Integer hi)
{
  lua_Integer v;
  int isint;

  v = lua_tointegerx(L, -1, &isint);
  if (!isint || v < lo || v > hi) {
    const char *msg = lua_pushfstring(L,
      "option '%s' must be an integer in %I..%I", name, lo, hi);
    luaL_argerror(L, idx, msg);
  }
  return v;
}

/* The meter on top of the stack, for option progress of argument idx. */
static struct zpm_lua_progress *check_progress(lua_State *L, int idx)
{
  struct zpm_lua_progress *m = luaL_testudata(L, -1, ZPM_PROGRESS_MT);

  if (m == NULL)
    luaL_argerror(L, idx, "option 'progress' must be a progress meter");
  if (m->p == NULL)
    luaL_argerror(L, idx, "option 'progress' is a closed progress meter");
  return m;
}

/* Read the options table at idx; unknown names raise. */
static void read_options(lua_State *L, int idx,
                         struct zpm_archive_options *opt,
                         struct zpm_lua_progress **progress,
                         const void **interrupt)
{
  static const char *const names[] = { "level", "threads", "mtime",
                                       "progress", "interrupt", NULL };

  if (lua_isnoneornil(L, idx))
    return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *key;
    int which = -1;
    int i;

    if (lua_type(L, -2) == LUA_TSTRING) {
      key = lua_tostring(L, -2);
      for (i = 0; names[i] != NULL; i++) {
        if (strcmp(key, names[i]) == 0)
          which = i;
      }
    }
    if (which < 0) {
      lua_pushvalue(L, -2);
      luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'",
                                            luaL_tolstring(L, -1, NULL)));
    }
    switch (which) {
    case 0:
      opt->level = (int)opt_integer(L, idx, "level", 1, 9);
      break;
    case 1:
      opt->threads = (int)opt_integer(L, idx, "threads", 0, 64);
      break;
    case 3:
      *progress = check_progress(L, idx);
      break;
    case 4:
      *interrupt = zpm_lua_opt_interrupt(L, idx, -1);
      break;
    default:
      opt->mtime = (long long)opt_integer(L, idx, "mtime", 0,
                                          LUA_MAXINTEGER);
      opt->fixed_mtime = 1;
      break;
    }
    lua_pop(L, 1);
  }
}

static int archive_create(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct zpm_archive_options opt;
  struct zpm_lua_progress *progress = NULL;
  const void *interrupt = NULL;
  struct zpm_error err;
  struct lwriter *lw;
  int status;

  memset(&opt, 0, sizeof(opt));
  read_options(L, 2, &opt, &progress, &interrupt);
  /* Closed first, metatable set, then acquire: a failure leaks nothing. */
  lw = (struct lwriter *)lua_newuserdatauv(L, sizeof(*lw), 1);
  lw->w = NULL;
  luaL_setmetatable(L, WRITER_MT);
  if (progress != NULL) {
    /* the user value keeps the meter alive as long as the writer */
    lua_getfield(L, 2, "progress");
    lua_setiuservalue(L, -2, 1);
  }
  zpm_error_clear(&err);
  status = zpm_archive_create(&lw->w, path, &opt, &err);
  if (status != ZPM_OK)
    return zpm_lua_fail(L, &err);
  if (progress != NULL)
    zpm_archive_set_progress(lw->w, zpm_lua_progress_report, progress);
  zpm_archive_set_cancel(lw->w, (const zpm_cancel_flag *)interrupt);
  return 1;
}

/* After a commit: the meter's final line, unless it was closed meanwhile. */
static void finish_progress(lua_State *L)
{
  struct zpm_lua_progress *m;

  if (lua_getiuservalue(L, 1, 1) != LUA_TNIL) {
    m = luaL_testudata(L, -1, ZPM_PROGRESS_MT);
    if (m != NULL && m->p != NULL)
      zpm_progress_finish(m->p);
  }
  lua_pop(L, 1);
}

static int writer_add_path(lua_State *L)
{
  struct zpm_archive_writer *w = check_writer(L);
  const char *disk = luaL_checkstring(L, 2);
  const char *arcname = luaL_checkstring(L, 3);

  return writer_result(L, w, zpm_archive_add_path(w, disk, arcname));
}

static int writer_add_memory(lua_State *L)
{
  struct zpm_archive_writer *w = check_writer(L);
  const char *arcname = luaL_checkstring(L, 2);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  lua_Integer mode = luaL_optinteger(L, 4, 420);
  lua_Integer mtime = luaL_optinteger(L, 5, -1);

  luaL_argcheck(L, mode >= 0 && mode <= 07777, 4, "invalid mode");
  luaL_argcheck(L, lua_isnoneornil(L, 5) || mtime >= 0, 5,
                "mtime must be >= 0");
  return writer_result(L, w, zpm_archive_add_memory(w, arcname, data, len,
                                                    (unsigned)mode,
                                                    (long long)mtime));
}

static int writer_commit(lua_State *L)
{
  struct zpm_archive_writer *w = check_writer(L);
  struct lwriter *lw = to_lwriter(L);
  struct zpm_error err;
  int status;

  status = zpm_archive_commit(w);
  err = *zpm_archive_error(w);
  zpm_archive_free(w);
  lw->w = NULL;
  if (status != ZPM_OK)
    return zpm_lua_fail(L, &err);
  finish_progress(L);
  lua_pushboolean(L, 1);
  return 1;
}

/* close, __close and __gc: discard an uncommitted archive, once. */
static int writer_close(lua_State *L)
{
  struct lwriter *lw = to_lwriter(L);

  if (lw->w != NULL) {
    zpm_archive_free(lw->w);
    lw->w = NULL;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int writer_temp_path(lua_State *L)
{
  lua_pushstring(L, zpm_archive_temp_path(check_writer(L)));
  return 1;
}

static int writer_tostring(lua_State *L)
{
  struct lwriter *lw = to_lwriter(L);

  if (lw->w == NULL)
    lua_pushliteral(L, "zpm.core.ArchiveWriter (closed)");
  else
    lua_pushfstring(L, "zpm.core.ArchiveWriter (%s)",
                    zpm_archive_temp_path(lw->w));
  return 1;
}

static const luaL_Reg writer_methods[] = {
  { "add_path", writer_add_path },
  { "add_memory", writer_add_memory },
  { "commit", writer_commit },
  { "close", writer_close },
  { "temp_path", writer_temp_path },
  { NULL, NULL }
};

static const luaL_Reg writer_metamethods[] = {
  { "__gc", writer_close },
  { "__close", writer_close },
  { "__tostring", writer_tostring },
  { "__index", NULL },
  { NULL, NULL }
};

static const luaL_Reg archive_functions[] = {
  { "create", archive_create },
  { NULL, NULL }
};

int zpm_lua_open_archive(lua_State *L)
{
  if (luaL_newmetatable(L, WRITER_MT)) {
    luaL_setfuncs(L, writer_metamethods, 0);
    luaL_newlib(L, writer_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, archive_functions);
  return 1;
}
