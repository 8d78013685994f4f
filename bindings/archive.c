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
 *   w:add_file(disk_prefix, arcname)          -> true | nil, msg, code
 *     (add_path(disk_prefix .. arcname, arcname) for a path a walk saw
 *     as a regular file: no lstat first, and no Lua string per file)
 *   w:add_memory(arcname, data [, mode [, mtime]]) -> true | nil, msg, code
 *   w:commit()      -> true | nil, msg, code; the writer is closed after
 *   w:close()       -> true; discards an uncommitted archive (idempotent)
 *   w:temp_path()   -> path of the temporary file
 * __gc and __close are close. Using a closed writer raises.
 *
 * tar(members) -> string | nil, msg, code: an uncompressed tar made in
 * memory (zpm_tar_buffer), for Swift's bulk middleware; members is a list
 * of { name = string, data = string, mime_type = string or nil }, in
 * order. The builder lives in a "zpm.core.TarBuffer" userdata while it
 * works, so an error raised meanwhile (out of memory) leaks nothing.
 */
#include <stddef.h>
#include <stdlib.h>
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

static int writer_add_file(lua_State *L)
{
  struct zpm_archive_writer *w = check_writer(L);
  size_t plen;
  size_t alen;
  const char *prefix = luaL_checklstring(L, 2, &plen);
  const char *arcname = luaL_checklstring(L, 3, &alen);
  char small[1024];
  char *disk = small;
  int status;

  /* the path is put together here, not in Lua: a bundle of 20,000 files
   * made ~2 MiB of garbage strings, at the writer's peak RSS */
  if (plen + alen + 1 > sizeof(small)) {
    disk = malloc(plen + alen + 1);
    if (disk == NULL)
      return luaL_error(L, "not enough memory");
  }
  memcpy(disk, prefix, plen);
  memcpy(disk + plen, arcname, alen + 1);
  status = zpm_archive_add_file(w, disk, arcname);
  if (disk != small)
    free(disk);
  return writer_result(L, w, status);
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
  { "add_file", writer_add_file },
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

struct ltar {
  struct zpm_tar_buffer *t;  /* NULL once closed */
};

static int tar_close(lua_State *L);

static const struct zpm_lua_class tar_class = {
  "zpm.core.TarBuffer", "tar buffer", offsetof(struct ltar, t), tar_close,
  NULL, NULL
};

static int tar_close(lua_State *L)
{
  struct ltar *lt = zpm_lua_check(L, 1, &tar_class);

  zpm_tar_buffer_free(lt->t);
  lt->t = NULL;
  return 0;
}

/*
 * Field key of members[i] (the table at index m): a string (or nil when
 * optional), left on the stack.
 */
static const char *member_field(lua_State *L, int m, lua_Integer i,
                                const char *key, int optional, size_t *len)
{
  int type = lua_getfield(L, m, key);

  if (type == LUA_TSTRING)
    return lua_tolstring(L, -1, len);
  if (!(optional && type == LUA_TNIL))
    luaL_error(L, "bad argument #1 to 'tar' (members[%d].%s: string "
               "expected, got %s)", (int)i, key, luaL_typename(L, -1));
  return NULL;
}

static int archive_tar(lua_State *L)
{
  lua_Integer n, i;
  size_t hint = 0, len, name_len;
  const char *name, *data, *mime;
  const void *out;
  struct zpm_error err;
  struct ltar *lt;
  int status;

  luaL_checktype(L, 1, LUA_TTABLE);
  n = luaL_len(L, 1);
  /* every member checked, and the size reckoned, before anything */
  for (i = 1; i <= n; i++) {
    if (lua_geti(L, 1, i) != LUA_TTABLE)
      luaL_error(L, "bad argument #1 to 'tar' (members[%d]: table "
                 "expected, got %s)", (int)i, luaL_typename(L, -1));
    member_field(L, -1, i, "name", 0, &name_len);
    member_field(L, -2, i, "data", 0, &len);
    member_field(L, -3, i, "mime_type", 1, NULL);
    lua_pop(L, 4);
    /* header, a pax record of a name and a type, padding */
    hint += len + 2048 + 2 * name_len;
  }
  hint += 1024;
  lt = zpm_lua_new(L, &tar_class, sizeof(*lt), 0);
  zpm_error_clear(&err);
  status = zpm_tar_buffer_new(&lt->t, hint, &err);
  if (status != ZPM_OK)
    return zpm_lua_fail(L, &err);
  for (i = 1; i <= n && status == ZPM_OK; i++) {
    lua_geti(L, 1, i);
    name = member_field(L, -1, i, "name", 0, NULL);
    data = member_field(L, -2, i, "data", 0, &len);
    mime = member_field(L, -3, i, "mime_type", 1, NULL);
    status = zpm_tar_buffer_add(lt->t, name, data, len, mime);
    lua_pop(L, 4);
  }
  if (status == ZPM_OK)
    status = zpm_tar_buffer_finish(lt->t, &out, &len);
  if (status != ZPM_OK) {
    err = *zpm_tar_buffer_error(lt->t);
    return zpm_lua_fail(L, &err);
  }
  lua_pushlstring(L, out, len);
  zpm_tar_buffer_free(lt->t);
  lt->t = NULL;
  return 1;
}

static const luaL_Reg archive_functions[] = {
  { "create", archive_create },
  { "tar", archive_tar },
  { NULL, NULL }
};

int zpm_lua_open_archive(lua_State *L)
{
  zpm_lua_class(L, &writer_class);
  zpm_lua_class(L, &tar_class);
  luaL_newlib(L, archive_functions);
  return 1;
}
