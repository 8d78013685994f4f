/*
 * zpm.core.fs.walk(dir [, opts]) -> paths, kinds, sizes | nil, msg, code.
 * zpm.core.fs.walker(dir [, opts]) -> walk | nil, msg, code: the same
 * walk in batches, walk:read(n) -> the next (up to) n entries as the same
 * three arrays, empty ones at the end, or nil, msg, code; walk:close().
 *
 * Every entry under the directory dir (zpm/walk.h): three arrays of the
 * same length, paths relative to dir ("a/b"), kinds ("file",
 * "directory", "link", "other") and sizes (lstat's st_size), depth
 * first, a directory before its contents, names in byte order, symlinks
 * never followed. opts: { hidden = false (true keeps names starting
 * with '.'), sizes = true (false: files are not lstat'ed, their sizes are
 * false), interrupt = zpm.core.interrupt.flag() (a caught signal stops
 * the walk with code "interrupted") }.
 *
 * The walker lives in a "zpm.core.Walk" userdata while the arrays are
 * filled, so an error raised meanwhile (out of memory) leaks nothing. A
 * failed read closes it.
 */
#include <stddef.h>

#include "bindings.h"
#include "zpm/walk.h"

struct lwalk {
  struct zpm_walk *w;  /* NULL once closed */
};

static int walk_close(lua_State *L);

static int walk_read(lua_State *L);

static const luaL_Reg walk_methods[] = {
  { "read", walk_read },
  { "close", walk_close },
  { NULL, NULL }
};

static const struct zpm_lua_class walk_class = {
  "zpm.core.Walk", "walk", offsetof(struct lwalk, w), walk_close,
  walk_methods, NULL
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
  int sizes;
  const void *interrupt;
};

#define WALK_FIELD(f) offsetof(struct walk_options, f)

static const struct zpm_lua_option walk_options[] = {
  { "hidden", ZPM_OPT_BOOLEAN, WALK_FIELD(hidden), 0, 0, NULL, NULL },
  { "sizes", ZPM_OPT_BOOLEAN, WALK_FIELD(sizes), 0, 0, NULL, NULL },
  { "interrupt", ZPM_OPT_INTERRUPT, WALK_FIELD(interrupt), 0, 0, NULL,
    NULL },
  { NULL, ZPM_OPT_ANY, 0, 0, 0, NULL, NULL }
};

static const char *const kind_names[] = {
  [ZPM_WALK_FILE] = "file", [ZPM_WALK_DIRECTORY] = "directory",
  [ZPM_WALK_LINK] = "link", [ZPM_WALK_OTHER] = "other"
};

/* Open a walk of argument 1 with the options at 2: the userdata pushed,
 * or nil, msg, code pushed and a negative return. */
static int open_walk(lua_State *L)
{
  const char *root = luaL_checkstring(L, 1);
  struct walk_options opt = { 0, 1, NULL };
  struct zpm_walk_options wopt;
  struct zpm_error err;
  struct lwalk *lw;

  zpm_lua_options(L, 2, 2, walk_options, &opt);
  lua_settop(L, 2);
  lw = zpm_lua_new(L, &walk_class, sizeof *lw, 0);  /* 3 */
  wopt.skip_hidden = !opt.hidden;
  wopt.file_sizes = opt.sizes;
  wopt.cancel = (const zpm_cancel_flag *)opt.interrupt;
  if (zpm_walk_open(&lw->w, root, &wopt, &err) != ZPM_OK)
    return -zpm_lua_fail(L, &err);
  return 1;
}

/* Push up to max entries of the walk at idx as three arrays (3 results),
 * or nil, msg, code, closing the walk. */
static int read_entries(lua_State *L, int idx, lua_Integer max)
{
  struct lwalk *lw = zpm_lua_check_open(L, idx, &walk_class);
  struct zpm_walk_entry e;
  struct zpm_error err;
  lua_Integer n = 0;
  int r = 0;
  int t;

  lua_newtable(L);
  t = lua_gettop(L);  /* paths; kinds at t + 1, sizes at t + 2 */
  lua_newtable(L);
  lua_newtable(L);
  while (n < max && (r = zpm_walk_next(lw->w, &e)) > 0) {
    n++;
    lua_pushlstring(L, e.path, e.path_len);
    lua_rawseti(L, t, n);
    lua_pushstring(L, kind_names[e.kind]);
    lua_rawseti(L, t + 1, n);
    if (e.size >= 0)
      lua_pushinteger(L, (lua_Integer)e.size);
    else
      lua_pushboolean(L, 0);  /* a file's, not asked for */
    lua_rawseti(L, t + 2, n);
  }
  if (r < 0) {
    err = *zpm_walk_error(lw->w);
    zpm_walk_free(lw->w);
    lw->w = NULL;
    return zpm_lua_fail(L, &err);
  }
  return 3;
}

static int walk_read(lua_State *L)
{
  lua_Integer max = luaL_checkinteger(L, 2);

  luaL_argcheck(L, max > 0, 2, "must be positive");
  return read_entries(L, 1, max);
}

static int fs_walker(lua_State *L)
{
  int n = open_walk(L);

  return n < 0 ? -n : n;
}

static int fs_walk(lua_State *L)
{
  int n = open_walk(L);

  if (n < 0)
    return -n;
  n = read_entries(L, 3, LUA_MAXINTEGER);
  if (n == 3) {
    struct lwalk *lw = zpm_lua_check(L, 3, &walk_class);

    zpm_walk_free(lw->w);
    lw->w = NULL;
  }
  return n;
}

static const luaL_Reg fs_functions[] = {
  { "walk", fs_walk },
  { "walker", fs_walker },
  { NULL, NULL }
};

int zpm_lua_open_fs(lua_State *L)
{
  luaL_newlib(L, fs_functions);
  return 1;
}
