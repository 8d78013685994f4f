/*
 * zpm.core.fs.walk(dir [, opts]) -> paths, kinds, sizes | nil, msg, code.
 *
 * Every entry under the directory dir (zpm/walk.h): three arrays of the
 * same length, paths relative to dir ("a/b"), kinds ("file",
 * "directory", "link", "other") and sizes (lstat's st_size), depth
 * first, a directory before its contents, names in byte order, symlinks
 * never followed. opts: { hidden = false (true keeps names starting
 * with '.'), interrupt = zpm.core.interrupt.flag() (a caught signal stops
 * the walk with code "interrupted") }.
 *
 * The walker lives in a "zpm.core.Walk" userdata while the arrays are
 * filled, so an error raised meanwhile (out of memory) leaks nothing.
 */
#include <stddef.h>

#include "bindings.h"
#include "zpm/walk.h"

struct lwalk {
  struct zpm_walk *w;  /* NULL once closed */
};

static int walk_close(lua_State *L);

static const struct zpm_lua_class walk_class = {
  "zpm.core.Walk", "walk", offsetof(struct lwalk, w), walk_close, NULL, NULL
};

static int walk_close(lua_State *L)
{
  struct lwalk *lw = zpm_lua_check(L, 1, &walk_class);

  zpm_walk_free(lw->w);
  lw->w = NULL;
  return 0;
}

struct walk_options {
  int hidden;
  const void *interrupt;
};

#define WALK_FIELD(f) offsetof(struct walk_options, f)

static const struct zpm_lua_option walk_options[] = {
  { "hidden", ZPM_OPT_BOOLEAN, WALK_FIELD(hidden), 0, 0, NULL, NULL },
  { "interrupt", ZPM_OPT_INTERRUPT, WALK_FIELD(interrupt), 0, 0, NULL,
    NULL },
  { NULL, ZPM_OPT_ANY, 0, 0, 0, NULL, NULL }
};

static const char *const kind_names[] = {
  [ZPM_WALK_FILE] = "file", [ZPM_WALK_DIRECTORY] = "directory",
  [ZPM_WALK_LINK] = "link", [ZPM_WALK_OTHER] = "other"
};

static int fs_walk(lua_State *L)
{
  const char *root = luaL_checkstring(L, 1);
  struct walk_options opt = { 0, NULL };
  struct zpm_walk_options wopt;
  struct zpm_walk_entry e;
  struct zpm_error err;
  struct lwalk *lw;
  lua_Integer n = 0;
  int r;

  zpm_lua_options(L, 2, 2, walk_options, &opt);
  lua_settop(L, 2);
  lw = zpm_lua_new(L, &walk_class, sizeof *lw, 0);  /* 3 */
  wopt.skip_hidden = !opt.hidden;
  wopt.cancel = (const zpm_cancel_flag *)opt.interrupt;
  if (zpm_walk_open(&lw->w, root, &wopt, &err) != ZPM_OK)
    return zpm_lua_fail(L, &err);
  lua_newtable(L);  /* 4: paths */
  lua_newtable(L);  /* 5: kinds */
  lua_newtable(L);  /* 6: sizes */
  while ((r = zpm_walk_next(lw->w, &e)) > 0) {
    n++;
    lua_pushlstring(L, e.path, e.path_len);
    lua_rawseti(L, 4, n);
    lua_pushstring(L, kind_names[e.kind]);
    lua_rawseti(L, 5, n);
    lua_pushinteger(L, (lua_Integer)e.size);
    lua_rawseti(L, 6, n);
  }
  if (r < 0) {
    err = *zpm_walk_error(lw->w);
    zpm_walk_free(lw->w);
    lw->w = NULL;
    return zpm_lua_fail(L, &err);
  }
  zpm_walk_free(lw->w);
  lw->w = NULL;
  return 3;
}

static const luaL_Reg fs_functions[] = {
  { "walk", fs_walk },
  { NULL, NULL }
};

int zpm_lua_open_fs(lua_State *L)
{
  luaL_newlib(L, fs_functions);
  return 1;
}
