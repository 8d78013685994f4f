/*
 * zpm.core.http's bodies: a request's body table translated into the
 * core's struct zpm_body_desc (zpm/body.h: the core owns the data path
 * and its limits), and http.source, a body several requests read in turn.
 */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "http_lua.h"

#define ANY_SIZE 9007199254740992.0   /* 2^53: no upper bound */

void zpm_lua_body_init(struct lrequest *r)
{
  r->length = -1;
  r->slice_max = ULLONG_MAX;
  r->md5 = 1;
}

/* body.gunzip: a path, or an open Lua file (read through its fd). */
static void set_gunzip(lua_State *L, int arg, const struct zpm_lua_option *o,
                       void *out)
{
  struct lrequest *r = out;

  (void)o;
  r->gunzip_fd = zpm_lua_file_fd(L, -1);
  r->has_gunzip_fd = r->gunzip_fd >= 0;
  if (r->has_gunzip_fd)
    return;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, arg, "option 'gunzip' must be a path or a file");
  r->body_gunzip = lua_tostring(L, -1);
}

static const struct zpm_lua_option body_options[] = {
  { "file", ZPM_OPT_STRING, offsetof(struct lrequest, body_file),
    0, 0, NULL, NULL },
  { "offset", ZPM_OPT_LLONG, offsetof(struct lrequest, offset),
    0, ANY_SIZE, NULL, NULL },
  { "length", ZPM_OPT_LLONG, offsetof(struct lrequest, length),
    0, ANY_SIZE, NULL, NULL },
  { "gunzip", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, set_gunzip },
  { "name", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "capture", ZPM_OPT_TABLE, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "md5", ZPM_OPT_BOOLEAN, offsetof(struct lrequest, md5), 0, 0, NULL,
    NULL },
  { "source", ZPM_OPT_OBJECT, offsetof(struct lrequest, body_source),
    0, 0, &zpm_lua_source_class, NULL },
  /* slice_max is an unsigned long long: the same bytes for n >= 0 */
  { "max", ZPM_OPT_LLONG, offsetof(struct lrequest, slice_max),
    0, ANY_SIZE, NULL, NULL },
  { "strict", ZPM_OPT_BOOLEAN, offsetof(struct lrequest, slice_strict),
    0, 0, NULL, NULL },
  { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const struct zpm_lua_option capture_options[] = {
  { "patterns", ZPM_OPT_TABLE, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "max_member", ZPM_OPT_SIZE, offsetof(struct lrequest, max_member),
    1, ANY_SIZE, NULL, NULL },
  { "max_total", ZPM_OPT_SIZE, offsetof(struct lrequest, max_total),
    1, ANY_SIZE, NULL, NULL },
  { NULL, 0, 0, 0, 0, NULL, NULL }
};

/*
 * capture = { patterns = { ... }, max_member, max_total } (on top): the
 * patterns table and an array of pointers into it stay on the stack.
 */
static void read_capture(lua_State *L, int idx, struct lrequest *r)
{
  int tbl = lua_gettop(L);
  size_t i, n;

  zpm_lua_options(L, idx, tbl, capture_options, r);
  if (lua_getfield(L, tbl, "patterns") != LUA_TTABLE)
    luaL_argerror(L, idx, "'capture.patterns' must be a list of strings");
  n = (size_t)lua_rawlen(L, -1);
  r->patterns = lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof(char *), 0);
  for (i = 0; i < n; i++) {
    if (lua_rawgeti(L, -2, (lua_Integer)i + 1) != LUA_TSTRING)
      luaL_argerror(L, idx, "'capture.patterns' must be a list of "
                            "strings");
    r->patterns[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  r->n_patterns = n;
  r->capture = 1;
}

/* Which fields go together, once the body table was read. */
static void check_body(lua_State *L, int idx, int tbl, struct lrequest *r)
{
  if (r->has_gunzip_fd) {
    /* the file's name, for messages (the table keeps it alive) */
    r->body_gunzip = "(open file)";
    if (lua_getfield(L, tbl, "name") == LUA_TSTRING)
      r->body_gunzip = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  if (r->body_source != NULL) {
    /* the table is on the stack: it keeps the source alive */
    if (r->body_file != NULL || r->body_gunzip != NULL)
      luaL_argerror(L, idx, "'body.source' goes alone");
    return;
  }
  if (r->slice_max != ULLONG_MAX || r->slice_strict)
    luaL_argerror(L, idx, "'max' and 'strict' go with 'source' only");
  if ((r->body_file == NULL) == (r->body_gunzip == NULL))
    luaL_argerror(L, idx, "'body' needs exactly one of 'file', 'gunzip'");
  if (r->body_gunzip != NULL && (r->offset != 0 || r->length != -1))
    luaL_argerror(L, idx, "'offset' and 'length' go with 'file' only");
  if (r->body_gunzip == NULL && !r->md5)
    luaL_argerror(L, idx, "'md5' goes with 'gunzip' only");
}

/*
 * body (on top): a string, or { file, offset, length } | { gunzip,
 * capture, md5 } | { source, max, strict }.
 */
void zpm_lua_read_body(lua_State *L, int idx, struct lrequest *r)
{
  int tbl = lua_gettop(L);

  if (lua_type(L, tbl) == LUA_TSTRING) {
    r->body_data = lua_tolstring(L, tbl, &r->body_len);
    return;
  }
  if (lua_type(L, tbl) != LUA_TTABLE)
    luaL_argerror(L, idx, "'body' must be a string or a table");
  zpm_lua_options(L, idx, tbl, body_options, r);
  check_body(L, idx, tbl, r);
  if (r->body_source != NULL)
    return;
  if (lua_getfield(L, tbl, "capture") != LUA_TNIL) {
    if (r->body_gunzip == NULL)
      luaL_argerror(L, idx, "'capture' goes with 'gunzip' only");
    read_capture(L, idx, r);
  }
}

/* The core's description of the request's body. */
static void body_desc(const struct lrequest *r, struct zpm_body_desc *d)
{
  zpm_body_desc_init(d);
  if (r->body_source != NULL) {
    d->kind = ZPM_BODY_SLICE;
    d->parent = r->body_source->src;
    d->max = r->slice_max;
    d->strict = r->slice_strict;
  } else if (r->body_file != NULL) {
    d->kind = ZPM_BODY_FILE;
    d->path = r->body_file;
    d->offset = r->offset;
    d->length = r->length;
  } else if (r->body_gunzip != NULL) {
    d->kind = ZPM_BODY_GUNZIP;
    d->path = r->body_gunzip;
    d->fd = r->has_gunzip_fd ? r->gunzip_fd : -1;
    d->capture = r->capture ? *r->tc : NULL;
    d->skip_md5 = !r->md5;
  } else {
    d->data = r->body_data;
    d->len = r->body_len;
  }
}

int zpm_lua_open_body(struct lrequest *r, struct zpm_source **src,
                      struct zpm_error *err)
{
  struct zpm_body_desc desc;

  *src = NULL;
  if (r->body_source != NULL && r->body_source->src == NULL)
    return zpm_error_set(err, ZPM_EINVAL, "the body source is closed");
  if (r->body_source == NULL && r->body_data == NULL &&
      r->body_file == NULL && r->body_gunzip == NULL)
    return ZPM_OK;
  if (r->body_gunzip != NULL && r->capture) {
    struct zpm_tar_capture_options opt;
    int status;

    opt.patterns = r->patterns;
    opt.n_patterns = r->n_patterns;
    opt.max_member = r->max_member;
    opt.max_total = r->max_total;
    status = zpm_tar_capture_new(r->tc, &opt, err);
    if (status != ZPM_OK)
      return status;
  }
  body_desc(r, &desc);
  return zpm_body_open(src, &desc, err);
}

void zpm_lua_push_captured(lua_State *L, const struct zpm_tar_capture *tc)
{
  size_t i, n = zpm_tar_capture_count(tc);

  lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
  for (i = 0; i < n; i++) {
    const struct zpm_tar_member *m = zpm_tar_capture_member(tc, i);

    lua_createtable(L, 0, 2);
    lua_pushstring(L, m->name);
    lua_setfield(L, -2, "name");
    lua_pushlstring(L, (const char *)m->data, m->len);
    lua_setfield(L, -2, "data");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* --- the capture's box --------------------------------------------------- */

/* __gc: free the capture (idempotent). */
static int capture_gc(lua_State *L)
{
  struct zpm_tar_capture **box = zpm_lua_check(L, 1,
                                               &zpm_lua_capture_class);

  zpm_tar_capture_free(*box);
  *box = NULL;
  return 0;
}

const struct zpm_lua_class zpm_lua_capture_class = {
  "zpm.core.TarCapture", "tar capture", 0, capture_gc, NULL, NULL
};

/* --- http.source --------------------------------------------------------- */

static struct lsource *check_source(lua_State *L)
{
  return zpm_lua_check_open(L, 1, &zpm_lua_source_class);
}

/*
 * http.source(spec) -> source: a body read piece by piece by several
 * requests ({ source = src, max = n, strict = bool } bodies).
 */
int zpm_lua_http_source(lua_State *L)
{
  struct lrequest r;
  struct lsource *ls;
  struct zpm_error err;
  int status;

  memset(&r, 0, sizeof(r));
  zpm_lua_body_init(&r);
  lua_settop(L, 1);
  ls = zpm_lua_new(L, &zpm_lua_source_class, sizeof(*ls), 0);
  lua_pushvalue(L, 1);
  zpm_lua_read_body(L, 1, &r);
  if (r.body_source != NULL || r.body_data != NULL)
    return luaL_argerror(L, 1, "a source is { file = ... } or "
                               "{ gunzip = ... }");
  r.tc = &ls->tc;
  zpm_error_clear(&err);
  status = zpm_lua_open_body(&r, &ls->src, &err);
  if (status != ZPM_OK) {
    zpm_tar_capture_free(ls->tc);
    ls->tc = NULL;
    return zpm_lua_fail(L, &err);
  }
  lua_pushvalue(L, 2);
  return 1;
}

/* source:position() -> how far through its input (see zpm/source.h) */
static int source_position(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)zpm_source_position(check_source(L)->src));
  return 1;
}

/* source:offset() -> bytes read since the last rewind */
static int source_offset(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)check_source(L)->src->offset);
  return 1;
}

/* source:captured() -> members, once the source was read to its end */
static int source_captured(lua_State *L)
{
  struct lsource *ls = check_source(L);

  if (ls->tc == NULL || !zpm_tar_capture_complete(ls->tc)) {
    lua_pushnil(L);
    return 1;
  }
  zpm_lua_push_captured(L, ls->tc);
  return 1;
}

/* source:rewind() -> true | nil, msg, code */
static int source_rewind(lua_State *L)
{
  struct lsource *ls = check_source(L);

  if (zpm_source_rewind(ls->src) != ZPM_OK)
    return zpm_lua_fail(L, zpm_source_error(ls->src));
  lua_pushboolean(L, 1);
  return 1;
}

/* close, __close and __gc (idempotent) */
static int source_close(lua_State *L)
{
  struct lsource *ls = zpm_lua_check(L, 1, &zpm_lua_source_class);

  /* the source first: a read-ahead thread may be feeding the capture */
  zpm_source_free(ls->src);
  ls->src = NULL;
  zpm_tar_capture_free(ls->tc);
  ls->tc = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg source_methods[] = {
  { "position", source_position },
  { "offset", source_offset },
  { "captured", source_captured },
  { "rewind", source_rewind },
  { "close", source_close },
  { NULL, NULL }
};

const struct zpm_lua_class zpm_lua_source_class = {
  "zpm.core.HttpSource", "http.source", offsetof(struct lsource, src),
  source_close, source_methods, NULL
};
