/*
 * zpm.core.archive: create(path [, opts]) -> writer | nil, msg, code.
 *
 * opts: { level = 1..9, threads = n >= 0, mtime = seconds, progress =
 * meter, interrupt = zpm.core.interrupt.flag() } (interrupt: a caught
 * signal fails the writer with code "interrupted" and discards it;
 * mtime fixes every member's mtime; progress, a
 * zpm.core.progress meter, counts the member data read (the writer's
 * progress callback moves it) and is finished by a successful commit;
 * the writer keeps it alive, and a meter closed meanwhile is left
 * alone). Options are read by zpm_lua_options from create_options. A
 * writer is a "zpm.core.ArchiveWriter" userdata (class writer_class):
 *   w:add_path(disk_path, arcname)            -> true | nil, msg, code
 *   w:add_memory(arcname, data [, mode [, mtime]]) -> true | nil, msg, code
 *   w:commit()      -> true | nil, msg, code; the writer is closed after
 *   w:close()       -> true; discards an uncommitted archive (idempotent)
 *   w:temp_path()   -> path of the temporary file
 * __gc and __close are close. Using a closed writer raises.
 */
#include <stddef.h>
#include <string.h>

#include "bindings.h"
#include "zpm/archive.h"
#include "zpm/progress.h"

struct lwriter {
  struct zpm_archive_writer *w;  /* NULL once closed */
};

static const struct zpm_lua_class writer_class;  /* below the methods */

static struct zpm_archive_writer *check_writer(lua_State *L)
{
  return ((struct lwriter *)zpm_lua_check_open(L, 1, &writer_class))->w;
}

static int writer_result(lua_State *L, struct zpm_archive_writer *w,
                         int status)
{
  if (status != ZPM_OK)
    return zpm_lua_fail(L, zpm_archive_error(w));
  lua_pushboolean(L, 1);
  return 1;
}

/* What create's options table fills. */
struct create_options {
  struct zpm_archive_options archive;
  struct zpm_lua_progress *progress;
  const void *interrupt;
};

static void set_fixed_mtime(lua_State *L, int arg,
                            const struct zpm_lua_option *o, void *out)
{
  (void)L, (void)arg, (void)o;
  ((struct create_options *)out)->archive.fixed_mtime = 1;
}

#define CREATE_FIELD(f) offsetof(struct create_options, f)

static const struct zpm_lua_option create_options[] = {
  { "level", ZPM_OPT_INT, CREATE_FIELD(archive.level), 1, 9, NULL, NULL },
  { "threads", ZPM_OPT_INT, CREATE_FIELD(archive.threads), 0, 64, NULL,
    NULL },
  { "mtime", ZPM_OPT_LLONG, CREATE_FIELD(archive.mtime), 0,
    (double)LUA_MAXINTEGER, NULL, set_fixed_mtime },
  { "progress", ZPM_OPT_OBJECT, CREATE_FIELD(progress), 0, 0,
    &zpm_lua_progress_class, NULL },
  { "interrupt", ZPM_OPT_INTERRUPT, CREATE_FIELD(interrupt), 0, 0, NULL,
    NULL },
  { NULL, ZPM_OPT_ANY, 0, 0, 0, NULL, NULL }
};

static int archive_create(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct create_options opt;
  struct zpm_error err;
  struct lwriter *lw;
  int status;

  memset(&opt, 0, sizeof(opt));
  zpm_lua_options(L, 2, 2, create_options, &opt);
  lw = zpm_lua_new(L, &writer_class, sizeof(*lw), 1);
  if (opt.progress != NULL) {
    /* the user value keeps the meter alive as long as the writer */
    lua_getfield(L, 2, "progress");
    lua_setiuservalue(L, -2, 1);
  }
  zpm_error_clear(&err);
  status = zpm_archive_create(&lw->w, path, &opt.archive, &err);
  if (status != ZPM_OK)
    return zpm_lua_fail(L, &err);
  if (opt.progress != NULL)
    zpm_archive_set_progress(lw->w, zpm_lua_progress_report, opt.progress);
  zpm_archive_set_cancel(lw->w, (const zpm_cancel_flag *)opt.interrupt);
  return 1;
}

/* After a commit: the meter's final line, unless it was closed meanwhile. */
static void finish_progress(lua_State *L)
{
  struct zpm_lua_progress *m;

  if (lua_getiuservalue(L, 1, 1) != LUA_TNIL) {
    m = luaL_testudata(L, -1, ZPM_PROGRESS_MT);
    if (m != NULL && zpm_lua_is_open(&zpm_lua_progress_class, m))
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
  struct lwriter *lw = zpm_lua_check_open(L, 1, &writer_class);
  struct zpm_archive_writer *w = lw->w;
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
  struct lwriter *lw = zpm_lua_check(L, 1, &writer_class);

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

static const luaL_Reg writer_methods[] = {
  { "add_path", writer_add_path },
  { "add_memory", writer_add_memory },
  { "commit", writer_commit },
  { "close", writer_close },
  { "temp_path", writer_temp_path },
  { NULL, NULL }
};

static const struct zpm_lua_class writer_class = {
  "zpm.core.ArchiveWriter", "archive writer",
  offsetof(struct lwriter, w), writer_close, writer_methods, NULL
};

static const luaL_Reg archive_functions[] = {
  { "create", archive_create },
  { NULL, NULL }
};

int zpm_lua_open_archive(lua_State *L)
{
  zpm_lua_class(L, &writer_class);
  luaL_newlib(L, archive_functions);
  return 1;
}
