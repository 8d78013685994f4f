/*
 * zpm.core.http's requests: a request table read into C (through the
 * option lists below, as lua-cjson's typed option setters do), the Lua
 * callbacks libcurl's transfers call (only through lua_pcall), and the
 * response pushed back as a table. See http.c for the Lua API.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_lua.h"

int zpm_lua_protected_call(struct lrequest *r, lua_CFunction helper,
                           int fn_idx, void *arg)
{
  lua_State *L = r->L;

  lua_pushcfunction(L, helper);
  lua_pushvalue(L, fn_idx);
  lua_pushlightuserdata(L, arg);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    if (!r->failed)
      lua_replace(L, r->err_idx);
    else
      lua_pop(L, 1);
    r->failed = 1;
    return -1;
  }
  return 0;
}

struct span {
  const char *p;
  size_t n;
};

/* helper(fn, span): fn(string) */
static int call_with_string(lua_State *L)
{
  struct span *sp = lua_touserdata(L, 2);

  lua_settop(L, 1);
  lua_pushlstring(L, sp->p, sp->n);
  lua_call(L, 1, 0);
  return 0;
}

int zpm_lua_trace_line(void *ud, const char *line, size_t len)
{
  struct lsession *ls = ud;
  struct lrequest *r = ls->active;
  struct span sp;

  if (r == NULL || lua_isnil(r->L, r->trace_idx) || r->failed)
    return 0;
  sp.p = line;
  sp.n = len;
  return zpm_lua_protected_call(r, call_with_string, r->trace_idx, &sp) != 0;
}

/* helper(fn, event): fn({ method, url, attempt, ... }) */
static int call_with_event(lua_State *L)
{
  const struct zpm_http_retry_event *ev = lua_touserdata(L, 2);

  lua_settop(L, 1);
  lua_createtable(L, 0, 7);
  lua_pushstring(L, ev->method);
  lua_setfield(L, -2, "method");
  lua_pushstring(L, ev->url);
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, ev->attempt);
  lua_setfield(L, -2, "attempt");
  lua_pushinteger(L, ev->max_attempts);
  lua_setfield(L, -2, "attempts");
  lua_pushnumber(L, (lua_Number)ev->delay_ms / 1000);
  lua_setfield(L, -2, "delay");
  if (ev->status != 0) {
    lua_pushinteger(L, ev->status);
    lua_setfield(L, -2, "status");
  }
  lua_pushstring(L, ev->reason != NULL ? ev->reason : "");
  lua_setfield(L, -2, "reason");
  lua_call(L, 1, 0);
  return 0;
}

/* The session's on_retry: outside libcurl, but protected all the same. */
int zpm_lua_retry_event(void *ud, const struct zpm_http_retry_event *ev)
{
  struct lsession *ls = ud;
  struct lrequest *r = ls->active;
  struct zpm_http_retry_event copy = *ev;

  if (r == NULL || lua_isnil(r->L, r->retry_idx) || r->failed)
    return 0;
  return zpm_lua_protected_call(r, call_with_event, r->retry_idx, &copy) != 0;
}

/*
 * headers = { name = value } (the table on top): into an array of
 * pointers into strings that an anchor table, left on the stack, keeps.
 */
static void read_headers(lua_State *L, int idx, struct lrequest *r)
{
  int tbl = lua_gettop(L);
  size_t n = 0, i = 0;
  int anchor;

  if (lua_type(L, tbl) != LUA_TTABLE)
    luaL_argerror(L, idx, "'headers' must be a table");
  lua_pushnil(L);
  while (lua_next(L, tbl) != 0) {
    n++;
    lua_pop(L, 1);
  }
  r->headers = lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof(*r->headers),
                                 0);
  lua_createtable(L, (int)(2 * n), 0);
  anchor = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, tbl) != 0) {
    int vt = lua_type(L, -1);

    if (lua_type(L, -2) != LUA_TSTRING ||
        (vt != LUA_TSTRING && vt != LUA_TNUMBER))
      luaL_argerror(L, idx, "'headers' must map names to strings or "
                            "numbers");
    if (i == n)
      luaL_argerror(L, idx, "'headers' changed while being read");
    lua_pushvalue(L, -2);
    lua_rawseti(L, anchor, (lua_Integer)(2 * i + 1));
    if (vt == LUA_TNUMBER) {
      luaL_tolstring(L, -1, NULL);
      lua_replace(L, -2);
    }
    r->headers[i].value = lua_tostring(L, -1);
    lua_rawseti(L, anchor, (lua_Integer)(2 * i + 2));
    lua_rawgeti(L, anchor, (lua_Integer)(2 * i + 1));
    r->headers[i].name = lua_tostring(L, -1);
    lua_pop(L, 1);
    i++;
  }
  r->req.headers = r->headers;
  r->req.n_headers = i;
}

/* Push req[name], which must be a string; it stays on the stack. */
static const char *anchored_string(lua_State *L, int idx, const char *name)
{
  int t = lua_getfield(L, idx, name);

  if (t == LUA_TNIL)
    luaL_argerror(L, idx, lua_pushfstring(L, "'%s' is required", name));
  if (t != LUA_TSTRING)
    luaL_argerror(L, idx, lua_pushfstring(L, "'%s' must be a string",
                                          name));
  return lua_tostring(L, -1);
}

/*
 * A time limit (s, scale 1000: in ms) or a rate (bytes/s, scale 1) of a
 * request: 0 turns it off whatever the session's default.
 */
static long limit_of(lua_State *L, double scale)
{
  double v = (double)lua_tonumber(L, -1);
  long n = (long)(v * scale + 0.5);

  if (n == 0 && v > 0)
    n = 1;                      /* a tiny limit, not none */
  return n == 0 ? ZPM_HTTP_NONE : n;
}

static void set_timeout(lua_State *L, int arg,
                        const struct zpm_lua_option *o, void *out)
{
  (void)arg;
  (void)o;
  ((struct lrequest *)out)->req.timeout_ms = limit_of(L, 1000);
}

static void set_deadline(lua_State *L, int arg,
                         const struct zpm_lua_option *o, void *out)
{
  (void)arg;
  (void)o;
  ((struct lrequest *)out)->req.deadline_ms = limit_of(L, 1000);
}

static void set_min_rate(lua_State *L, int arg,
                         const struct zpm_lua_option *o, void *out)
{
  (void)arg;
  (void)o;
  ((struct lrequest *)out)->req.min_rate = limit_of(L, 1);
}

/* retries: any count, at most 1000 of them run */
static void set_retries(lua_State *L, int arg,
                        const struct zpm_lua_option *o, void *out)
{
  lua_Integer v = lua_tointeger(L, -1);

  (void)arg;
  (void)o;
  ((struct lrequest *)out)->req.retry.max_retries = v > 1000 ? 1000 : (int)v;
}

static void set_idempotent(lua_State *L, int arg,
                           const struct zpm_lua_option *o, void *out)
{
  (void)L;
  (void)arg;
  (void)o;
  ((struct lrequest *)out)->has_idempotent = 1;
}

/* session:request reads progress; in a request_many list it is an error */
static void set_progress(lua_State *L, int arg,
                         const struct zpm_lua_option *o, void *out)
{
  (void)o;
  if (((struct lrequest *)out)->in_batch)
    luaL_argerror(L, arg, "'progress' goes in request_many's options");
}

/* body_md5: 32 lower-case hex digits. */
static void check_md5_hex(lua_State *L, int arg,
                          const struct zpm_lua_option *o, void *out)
{
  const char *hex = ((struct lrequest *)out)->req.body_md5;
  size_t n = strspn(hex, "0123456789abcdef");

  (void)o;
  if (n != ZPM_MD5_HEX_SIZE - 1 || hex[n] != '\0')
    luaL_argerror(L, arg, "'body_md5' must be 32 lower-case hex digits");
}

#define ANY_SIZE 9007199254740992.0   /* 2^53: no upper bound */
#define REQ(field) offsetof(struct lrequest, field)

/* What a request table holds; method, url, headers, body, sink: below. */
static const struct zpm_lua_option request_options[] = {
  { "method", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "url", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "headers", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "body", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "sink", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "retries", ZPM_OPT_LLONG, ZPM_OPT_NOWHERE, 0, ANY_SIZE, NULL,
    set_retries },
  { "backoff", ZPM_OPT_MS, REQ(req.retry.backoff_ms), 0, 1e7, NULL, NULL },
  { "max_backoff", ZPM_OPT_MS, REQ(req.retry.max_backoff_ms), 0, 1e7,
    NULL, NULL },
  { "retry_on_ratelimit", ZPM_OPT_BOOLEAN, REQ(req.retry.ratelimit), 0, 0,
    NULL, NULL },
  { "idempotent", ZPM_OPT_BOOLEAN, REQ(req.idempotent), 0, 0, NULL,
    set_idempotent },
  { "timeout", ZPM_OPT_DOUBLE, ZPM_OPT_NOWHERE, 0, 1e7, NULL, set_timeout },
  { "deadline", ZPM_OPT_DOUBLE, ZPM_OPT_NOWHERE, 0, 1e7, NULL,
    set_deadline },
  { "min_rate", ZPM_OPT_DOUBLE, ZPM_OPT_NOWHERE, 0, 1e12, NULL,
    set_min_rate },
  { "max_body", ZPM_OPT_SIZE, REQ(max_body), 0, ANY_SIZE, NULL, NULL },
  { "body_md5", ZPM_OPT_STRING, REQ(req.body_md5), 0, 0, NULL,
    check_md5_hex },
  { "progress", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, set_progress },
  { NULL, 0, 0, 0, 0, NULL, NULL }
};

static void set_sink_file(lua_State *L, int arg,
                          const struct zpm_lua_option *o, void *out)
{
  struct lrequest *r = out;

  (void)L;
  (void)o;
  if (r->sink != SINK_COLLECT)
    luaL_argerror(L, arg, "'sink' takes one of 'file', 'fd'");
  r->sink = SINK_FILE;
}

static void set_sink_fd(lua_State *L, int arg,
                        const struct zpm_lua_option *o, void *out)
{
  struct lrequest *r = out;

  (void)o;
  if (r->sink != SINK_COLLECT)
    luaL_argerror(L, arg, "'sink' takes one of 'file', 'fd'");
  r->sink = SINK_FD;
}

static const struct zpm_lua_option sink_options[] = {
  { "file", ZPM_OPT_STRING, REQ(sink_path), 0, 0, NULL, set_sink_file },
  { "fd", ZPM_OPT_INT, REQ(fd), 0, INT_MAX, NULL, set_sink_fd },
  { NULL, 0, 0, 0, 0, NULL, NULL }
};

/* sink (on top): a function, { file = path } or { fd = n }. */
static void read_sink(lua_State *L, int idx, struct lrequest *r)
{
  int tbl = lua_gettop(L);

  if (lua_type(L, tbl) == LUA_TFUNCTION) {
    r->sink = SINK_FUNCTION;
    lua_copy(L, tbl, r->sink_idx);
    return;
  }
  if (lua_type(L, tbl) != LUA_TTABLE)
    luaL_argerror(L, idx, "'sink' must be a function or a table");
  zpm_lua_options(L, idx, tbl, sink_options, r);
  if (r->sink == SINK_COLLECT)
    luaL_argerror(L, idx, "'sink' needs 'file' or 'fd'");
  if (r->sink == SINK_FILE)
    lua_getfield(L, tbl, "file");   /* anchored: a callback may change it */
}

/*
 * Parse the req table at idx into r. Every string the request uses is
 * left on the stack, so a callback that changes req cannot free it.
 */
static void read_request(lua_State *L, int idx, struct lrequest *r)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  zpm_lua_options(L, idx, idx, request_options, r);
  r->req.method = anchored_string(L, idx, "method");
  if (r->req.method[0] == '\0')
    luaL_argerror(L, idx, "'method' must not be empty");
  r->req.url = anchored_string(L, idx, "url");
  if (lua_getfield(L, idx, "headers") != LUA_TNIL)
    read_headers(L, idx, r);
  if (lua_getfield(L, idx, "body") != LUA_TNIL)
    zpm_lua_read_body(L, idx, r);
  if (lua_getfield(L, idx, "sink") != LUA_TNIL)
    read_sink(L, idx, r);
  if (!r->has_idempotent)
    r->req.idempotent = strcmp(r->req.method, "POST") != 0;
}

/* --- transfer callbacks -------------------------------------------------- */

struct header_arg {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};

/* helper(headers_table, header_arg): add one header, or clear all. */
static int add_header(lua_State *L)
{
  struct header_arg *h = lua_touserdata(L, 2);
  luaL_Buffer b;
  size_t i;

  lua_settop(L, 1);
  if (h->name == NULL) {
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, 1);
    }
    return 0;
  }
  luaL_buffinit(L, &b);
  for (i = 0; i < h->name_len; i++) {
    char c = h->name[i];

    luaL_addchar(&b, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
  }
  luaL_pushresult(&b);                     /* 2: key */
  lua_pushvalue(L, 2);
  if (lua_rawget(L, 1) == LUA_TSTRING) {   /* 3: earlier value */
    lua_pushliteral(L, ", ");
    lua_pushlstring(L, h->value, h->value_len);
    lua_concat(L, 3);
  } else {
    lua_pop(L, 1);
    lua_pushlstring(L, h->value, h->value_len);
  }
  lua_rawset(L, 1);
  return 0;
}

static int on_header(void *ud, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
  struct lrequest *r = ud;
  struct header_arg h;

  h.name = name;
  h.name_len = name_len;
  h.value = value;
  h.value_len = value_len;
  return zpm_lua_protected_call(r, add_header, r->headers_idx, &h) != 0;
}

static int collect_sink(void *ud, const void *buf, size_t len)
{
  struct lrequest *r = ud;
  size_t need = r->collected + len;

  if (need > r->max_body) {
    r->too_large = 1;
    return EFBIG;
  }
  if (need > *r->collect_cap) {
    size_t cap = *r->collect_cap > 0 ? *r->collect_cap : 65536;
    char *p;

    while (cap < need)
      cap = cap > r->max_body / 2 ? r->max_body : cap * 2;
    p = realloc(*r->collect, cap);
    if (p == NULL)
      return ENOMEM;
    *r->collect = p;
    *r->collect_cap = cap;
  }
  memcpy(*r->collect + r->collected, buf, len);
  r->collected = need;
  return 0;
}

static int function_sink(void *ud, const void *buf, size_t len)
{
  struct lrequest *r = ud;
  struct span sp;

  sp.p = buf;
  sp.n = len;
  if (zpm_lua_protected_call(r, call_with_string, r->sink_idx, &sp) != 0)
    return ECANCELED;
  return 0;
}

static int open_sink(struct lrequest *r, struct zpm_error *err)
{
  switch (r->sink) {
  case SINK_FILE:
    do {
      r->fd = open(r->sink_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0666);
    } while (r->fd < 0 && errno == EINTR);
    if (r->fd < 0)
      return zpm_error_errno(err, errno, "cannot open %s", r->sink_path);
    /* fall through */
  case SINK_FD:
    r->req.sink = zpm_http_fd_sink;
    r->req.sink_ud = &r->fd;
    break;
  case SINK_FUNCTION:
    r->req.sink = function_sink;
    r->req.sink_ud = r;
    break;
  default:
    r->req.sink = collect_sink;
    r->req.sink_ud = r;
    break;
  }
  return ZPM_OK;
}

void zpm_lua_push_response(lua_State *L, struct lrequest *r,
                           const struct zpm_http_response *resp)
{
  int ok = zpm_http_is_2xx(resp->status);

  lua_createtable(L, 0, 8);
  lua_pushinteger(L, resp->status);
  lua_setfield(L, -2, "status");
  lua_pushstring(L, resp->reason);
  lua_setfield(L, -2, "reason");
  lua_pushvalue(L, r->headers_idx);
  lua_setfield(L, -2, "headers");
  if (!ok) {
    lua_pushlstring(L, resp->error_body != NULL ? resp->error_body : "",
                    resp->error_body_len);
    lua_setfield(L, -2, "body");
  } else if (r->sink == SINK_COLLECT) {
    lua_pushlstring(L, *r->collect != NULL ? *r->collect : "",
                    r->collected);
    lua_setfield(L, -2, "body");
  }
  lua_pushinteger(L, (lua_Integer)resp->sent);
  lua_setfield(L, -2, "sent");
  lua_pushinteger(L, (lua_Integer)resp->received);
  lua_setfield(L, -2, "received");
  if (resp->has_md5) {
    lua_pushstring(L, resp->md5);
    lua_setfield(L, -2, "md5");
  }
  lua_pushinteger(L, resp->attempts);
  lua_setfield(L, -2, "attempts");
  if (r->tc != NULL && *r->tc != NULL &&
      zpm_tar_capture_complete(*r->tc)) {
    zpm_lua_push_captured(L, *r->tc);
    lua_setfield(L, -2, "captured");
  }
}

/*
 * Set up r for the request table at req_idx: its stack slots, its parsed
 * fields (strings anchored on the stack) and the capture's box. Raises
 * on a bad request.
 */
void zpm_lua_prepare_request(lua_State *L, struct lsession *ls,
                             struct lrequest *r, int req_idx, int in_batch)
{
  memset(r, 0, sizeof(*r));
  r->L = L;
  r->ls = ls;
  zpm_lua_body_init(r);
  r->fd = -1;
  r->max_body = ZPM_BODY_COLLECT_MAX;
  r->collect = &ls->collect;
  r->collect_cap = &ls->collect_cap;
  {
    static const struct zpm_http_retry retry = ZPM_HTTP_RETRY_DEFAULT;

    r->req.retry = retry;
  }
  luaL_checkstack(L, 40, "HTTP request");
  lua_getiuservalue(L, 1, 1);
  r->trace_idx = lua_gettop(L);
  lua_getiuservalue(L, 1, 2);
  r->retry_idx = lua_gettop(L);
  lua_pushnil(L);
  r->sink_idx = lua_gettop(L);
  lua_newtable(L);
  r->headers_idx = lua_gettop(L);
  lua_pushnil(L);
  r->err_idx = lua_gettop(L);
  r->in_batch = in_batch;
  read_request(L, req_idx, r);
  if (r->capture) {
    /* A box first, so the capture is freed even if pushing raises. */
    r->tc = zpm_lua_new(L, &zpm_lua_capture_class, sizeof(*r->tc), 0);
  }
}

/* Open the body and the sink; nothing raises from here on. */
int zpm_lua_acquire_request(struct lrequest *r, struct zpm_error *err)
{
  int status = zpm_lua_open_body(r, &r->src, err);

  if (status == ZPM_OK)
    status = open_sink(r, err);
  r->req.body = r->src;
  r->req.on_header = on_header;
  r->req.header_ud = r;
  return status;
}

/* Close the sink and the body; returns status, or a sink close error. */
int zpm_lua_release_request(struct lrequest *r, int status,
                            struct zpm_error *err)
{
  if (r->sink == SINK_FILE && r->fd >= 0 && close(r->fd) != 0 &&
      status == ZPM_OK)
    status = zpm_error_errno(err, errno, "cannot write %s", r->sink_path);
  r->fd = -1;
  zpm_source_free(r->src);
  r->src = NULL;
  r->req.body = NULL;
  if (r->tc != NULL && (status != ZPM_OK || r->failed || r->too_large)) {
    zpm_tar_capture_free(*r->tc);
    *r->tc = NULL;
  }
  return status;
}

/*
 * Push the message and code of a failed request (a raising callback, a
 * body over max_body, or err); returns 0 when it did not fail.
 */
int zpm_lua_push_failure(lua_State *L, struct lrequest *r, int status,
                         const struct zpm_error *err)
{
  if (r->failed) {
    lua_pushvalue(L, r->err_idx);
    if (lua_type(L, -1) != LUA_TSTRING) {
      luaL_tolstring(L, -1, NULL);
      lua_remove(L, -2);
    }
    lua_pushliteral(L, "callback");
    return 1;
  }
  if (r->too_large) {
    lua_pushfstring(L, "response body larger than %I bytes",
                    (lua_Integer)r->max_body);
    lua_pushliteral(L, "io");
    return 1;
  }
  if (status != ZPM_OK) {
    lua_pushstring(L, err->message);
    lua_pushstring(L, zpm_status_name(err->status));
    return 1;
  }
  return 0;
}
