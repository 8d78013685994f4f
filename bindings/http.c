/*
 * zpm.core.http: HTTP sessions on libzpmcore's libcurl layer.
 *
 *   http.CONCURRENCY, http.RETRIES, http.CAPTURE_MAX_MEMBER,
 *     http.CAPTURE_MAX_TOTAL: the defaults of request_many's concurrency
 *     (8), of a request's retries (5, ZPM_HTTP_RETRY_DEFAULT) and of a
 *     capture's max_member and max_total (16 and 64 MiB)
 *   http.is_2xx(status) -> boolean: a success (200 to 299)
 *   http.session([opts]) -> session
 *     opts: connect_timeout (s), low_speed_limit (bytes/s),
 *     low_speed_time (s), insecure, cacert, user_agent, trace (a function
 *     called with each redacted debug line), interrupt (the flag of
 *     zpm.core.interrupt.flag(): a caught signal stops every transfer,
 *     code "interrupted"); defaults for the requests' time limits:
 *     attempt_timeout (s, their `timeout`), deadline (s), min_rate
 *     (bytes/s); timeout_note (a string added to the message of a
 *     request that ran out of time, e.g. "--timeout"); on_retry (a
 *     function called before each wait for a retry with { method, url,
 *     attempt (the coming one), attempts (the most), delay (s), status
 *     (or nil), reason }). Unknown names raise.
 *   session:request(req) -> resp | nil, msg, code ("network", "io",
 *     "invalid", "callback")
 *     req: method, url, headers = { name = value }, body = string |
 *     { file = path [, offset = n] [, length = n] } | { gunzip = path
 *     (or an open Lua file, read from its start; name = its name for
 *     messages)
 *     [, capture = { patterns = { glob, ... } [, max_member = n]
 *     [, max_total = n] }] },
 *     sink = nil (collect into resp.body up to max_body bytes) |
 *     { file = path } | { fd = n } | function(chunk), retries, backoff,
 *     max_backoff (s), retry_on_ratelimit (retry 429 and 498; default
 *     true), idempotent (default: method ~= "POST"),
 *     timeout (s, each attempt), deadline (s, the whole request: every
 *     attempt and wait), min_rate (bytes/s: while the request moves this
 *     fast, neither clock runs) -- each 0 for none, absent for the
 *     session's; max_body (bytes, default 16 MiB), progress (a
 *     zpm.core.progress meter moved as the body's source advances); or
 *     body = { source = src, max = n, strict = bool }: the next n bytes
 *     at most of an http.source (strict: "limit" if it has more).
 *     resp: status, reason, headers (lower-case names; repeats joined
 *     with ", "), body (collected 2xx body, or the first 64 KiB of a
 *     non-2xx one), sent, received, md5 (of the body sent), attempts,
 *     and with a capture, once the whole body was sent: captured = {
 *     { name = ..., data = ... }, ... }, the tar's regular files whose
 *     names match a pattern (Python fnmatch: '*' matches '/'), in
 *     archive order, collected while the body streamed.
 *     A non-2xx status is a response, not a failure. Codes: "network"
 *     (libcurl's message, with method and URL), "io" (body file, sink,
 *     corrupt .gz, max_body), "limit" (a captured member larger than
 *     max_member, default 16 MiB, or all of them than max_total, default
 *     64 MiB), "archive" (a captured body that is not a tar),
 *     "invalid" (byte range outside the file),
 *     "callback" (a Lua sink or trace function raised: its message).
 *     A gunzip body is inflated, hashed and captured in a read-ahead
 *     thread (4 x 512 KiB), with ISA-L when it was found at build time.
 *   session:request_many(reqs [, opts]) -> results | nil, msg, code
 *     reqs: a list of req tables as above, run in parallel on
 *     connections the session keeps alive; opts: concurrency (default
 *     http.CONCURRENCY, 8), stop_on_failure (start no more once one
 *     fails: an error or a final non-2xx), progress (one meter for all). results[i]: the
 *     response, { error = msg, code = code }, or false (not started).
 *     Every request is checked before any starts (a bad one raises);
 *     a body that cannot be opened fails that request only. Requests
 *     are prepared 256 at a time, so lists of any length work.
 *   http.source(spec) -> src: a { file } or { gunzip [, capture] } body
 *     read piece by piece by several requests; src:position(),
 *     src:offset(), src:captured(), src:rewind(), src:close().
 *   session:close() -> true; also __gc and __close. Using a closed
 *     session raises.
 *
 * Lua runs inside libcurl's callbacks only through lua_pcall: an error is
 * kept in a stack slot, the transfer aborted, and the error returned once
 * libcurl is out of the way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindings.h"
#include "zpm/http.h"
#include "zpm/body.h"
#include "zpm/source.h"

#define SESSION_MT "zpm.core.HttpSession"
#define CAPTURE_MT "zpm.core.TarCapture"
#define SOURCE_MT "zpm.core.HttpSource"
/* request_many's default concurrency, exported as http.CONCURRENCY */
#define DEFAULT_CONCURRENCY 8

struct lrequest;

/* A body source that outlives requests: http.source(spec). */
struct lsource {
  struct zpm_source *src;       /* NULL once closed */
  struct zpm_tar_capture *tc;   /* its capture, or NULL */
};

struct lsession {
  struct zpm_http_session *s;   /* NULL once closed */
  struct lrequest *active;      /* the request running, or NULL */
  char *collect;                /* buffer for collected bodies */
  size_t collect_cap;
};

enum sink_kind { SINK_COLLECT, SINK_FILE, SINK_FD, SINK_FUNCTION };

/* A parsed request: pointers into strings the req table keeps alive. */
struct lrequest {
  lua_State *L;
  struct lsession *ls;
  struct zpm_http_request req;
  struct zpm_http_header *headers;
  /* body */
  const char *body_data;        /* a string body */
  size_t body_len;
  const char *body_file;
  const char *body_gunzip;      /* a path, or the name of gunzip_fd */
  int has_gunzip_fd;            /* body.gunzip was an open Lua file */
  int gunzip_fd;
  long long offset, length;
  int capture;                  /* body.capture given */
  const char **patterns;        /* into the anchored patterns table */
  size_t n_patterns;
  size_t max_member, max_total;
  struct zpm_tar_capture **tc;  /* in a box that frees it on __gc */
  /* sink */
  enum sink_kind sink;
  const char *sink_path;
  int fd;
  size_t max_body;
  size_t collected;
  int too_large;
  char **collect;               /* the buffer collected bodies go to: */
  size_t *collect_cap;          /* the session's, or own_* in a batch */
  char *own;
  size_t own_cap;
  struct zpm_source *src;       /* the body, while the request runs */
  struct lsource *body_source;  /* body = { source = ... } */
  int in_batch;                 /* one of request_many's requests */
  unsigned long long slice_max;
  int slice_strict;
  /* stack slots */
  int trace_idx;                /* trace function or nil */
  int retry_idx;                /* on_retry function or nil */
  int sink_idx;                 /* sink function or nil */
  int headers_idx;              /* response headers table */
  int err_idx;                  /* the first callback error, or nil */
  int failed;                   /* a Lua callback raised */
};

/* --- session ------------------------------------------------------------- */

static struct lsession *to_session(lua_State *L)
{
  return (struct lsession *)luaL_checkudata(L, 1, SESSION_MT);
}

static struct lsession *check_session(lua_State *L)
{
  struct lsession *ls = to_session(L);

  if (ls->s == NULL)
    luaL_error(L, "attempt to use a closed HTTP session");
  return ls;
}

/* Run fn(...) from C, protected; on error keep it in r->err_idx. */
static int protected_call(struct lrequest *r, lua_CFunction helper,
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

static int trace_line(void *ud, const char *line, size_t len)
{
  struct lsession *ls = ud;
  struct lrequest *r = ls->active;
  struct span sp;

  if (r == NULL || lua_isnil(r->L, r->trace_idx) || r->failed)
    return 0;
  sp.p = line;
  sp.n = len;
  return protected_call(r, call_with_string, r->trace_idx, &sp) != 0;
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
static int retry_event(void *ud, const struct zpm_http_retry_event *ev)
{
  struct lsession *ls = ud;
  struct lrequest *r = ls->active;
  struct zpm_http_retry_event copy = *ev;

  if (r == NULL || lua_isnil(r->L, r->retry_idx) || r->failed)
    return 0;
  return protected_call(r, call_with_event, r->retry_idx, &copy) != 0;
}

static double opt_number(lua_State *L, int idx, const char *name,
                         double lo, double hi)
{
  lua_Number v = lua_tonumber(L, -1);

  if (lua_type(L, -1) != LUA_TNUMBER || !(v >= lo && v <= hi))
    luaL_argerror(L, idx, lua_pushfstring(L,
      "option '%s' must be a number in %f..%f", name, lo, hi));
  return (double)v;
}

static const char *opt_string(lua_State *L, int idx, const char *name)
{
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, idx, lua_pushfstring(L,
      "option '%s' must be a string", name));
  return lua_tostring(L, -1);
}

static int opt_boolean(lua_State *L, int idx, const char *name)
{
  if (lua_type(L, -1) != LUA_TBOOLEAN)
    luaL_argerror(L, idx, lua_pushfstring(L,
      "option '%s' must be a boolean", name));
  return lua_toboolean(L, -1);
}

/* Index of key (a string) in names, or raise "unknown option". */
static int option_index(lua_State *L, int idx, const char *const names[])
{
  int i;

  if (lua_type(L, -2) == LUA_TSTRING) {
    const char *key = lua_tostring(L, -2);

    for (i = 0; names[i] != NULL; i++) {
      if (strcmp(key, names[i]) == 0)
        return i;
    }
  }
  lua_pushvalue(L, -2);
  return luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'",
                                               luaL_tolstring(L, -1, NULL)));
}

/*
 * Options are read into opt; strings point into the options table, which
 * stays on the stack until the session has copied them.
 */
static void read_session_options(lua_State *L, int idx,
                                 struct zpm_http_options *opt)
{
  static const char *const names[] = {
    "connect_timeout", "low_speed_limit", "low_speed_time", "insecure",
    "cacert", "trace", "user_agent", "interrupt", "attempt_timeout",
    "deadline", "min_rate", "timeout_note", "on_retry", NULL
  };

  if (lua_isnoneornil(L, idx))
    return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    switch (option_index(L, idx, names)) {
    case 0:
      opt->connect_timeout_ms = (long)(opt_number(L, idx,
        "connect_timeout", 0, 86400) * 1000 + 0.5);
      break;
    case 1:
      opt->low_speed_limit = (long)opt_number(L, idx, "low_speed_limit",
                                              0, 1e12);
      break;
    case 2:
      opt->low_speed_time = (long)opt_number(L, idx, "low_speed_time",
                                             0, 86400);
      break;
    case 3:
      opt->insecure = opt_boolean(L, idx, "insecure");
      break;
    case 4:
      opt->cacert = opt_string(L, idx, "cacert");
      break;
    case 5:
      if (lua_type(L, -1) != LUA_TFUNCTION)
        luaL_argerror(L, idx, "option 'trace' must be a function");
      break;
    case 7:
      opt->cancel = zpm_lua_opt_interrupt(L, idx, -1);
      break;
    case 8:
      opt->timeout_ms = (long)(opt_number(L, idx, "attempt_timeout", 0,
                                          1e7) * 1000 + 0.5);
      break;
    case 9:
      opt->deadline_ms = (long)(opt_number(L, idx, "deadline", 0, 1e7) *
                                1000 + 0.5);
      break;
    case 10:
      opt->min_rate = (long)opt_number(L, idx, "min_rate", 0, 1e12);
      break;
    case 11:
      opt->timeout_note = opt_string(L, idx, "timeout_note");
      break;
    case 12:
      if (lua_type(L, -1) != LUA_TFUNCTION)
        luaL_argerror(L, idx, "option 'on_retry' must be a function");
      break;
    default:
      opt->user_agent = opt_string(L, idx, "user_agent");
      break;
    }
    lua_pop(L, 1);
  }
}

static int http_session(lua_State *L)
{
  struct zpm_http_options opt;
  struct zpm_error err;
  struct lsession *ls;
  int status;

  memset(&opt, 0, sizeof(opt));
  opt.user_agent = "zpm/" ZPM_VERSION;
  read_session_options(L, 1, &opt);
  lua_settop(L, 1);
  ls = (struct lsession *)lua_newuserdatauv(L, sizeof(*ls), 2);
  memset(ls, 0, sizeof(*ls));
  luaL_setmetatable(L, SESSION_MT);
  if (lua_istable(L, 1)) {
    /* Without a trace libcurl formats no debug text for nobody. */
    if (lua_getfield(L, 1, "trace") != LUA_TNIL) {
      opt.trace = trace_line;
      opt.trace_ud = ls;
    }
    lua_setiuservalue(L, -2, 1);
    if (lua_getfield(L, 1, "on_retry") != LUA_TNIL) {
      opt.on_retry = retry_event;
      opt.retry_ud = ls;
    }
    lua_setiuservalue(L, -2, 2);
  }
  zpm_error_clear(&err);
  status = zpm_http_session_open(&ls->s, &opt, &err);
  if (status != ZPM_OK)
    return zpm_lua_fail(L, &err);
  return 1;
}

/* close, __close and __gc: release the handle and buffer, once. */
static int session_close(lua_State *L)
{
  struct lsession *ls = to_session(L);

  if (ls->active != NULL)
    return luaL_error(L, "cannot close an HTTP session during its request");
  if (ls->s != NULL) {
    zpm_http_session_free(ls->s);
    ls->s = NULL;
  }
  free(ls->collect);
  ls->collect = NULL;
  ls->collect_cap = 0;
  lua_pushboolean(L, 1);
  return 1;
}

static int session_tostring(lua_State *L)
{
  struct lsession *ls = to_session(L);

  if (ls->s == NULL)
    lua_pushliteral(L, "zpm.core.HttpSession (closed)");
  else
    lua_pushfstring(L, "zpm.core.HttpSession (%p)", (void *)ls);
  return 1;
}

/* --- request arguments --------------------------------------------------- */

static lua_Integer field_integer(lua_State *L, int idx, const char *name,
                                 lua_Integer lo)
{
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);

  if (lua_type(L, -1) != LUA_TNUMBER || !isint || v < lo)
    luaL_argerror(L, idx, lua_pushfstring(L,
      "'%s' must be an integer >= %I", name, lo));
  return v;
}

static long field_ms(lua_State *L, int idx, const char *name)
{
  return (long)(opt_number(L, idx, name, 0, 1e7) * 1000 + 0.5);
}

/*
 * A request's time limit (s, scale 1000: in ms) or rate (bytes/s, scale
 * 1): 0 turns it off whatever the session's default.
 */
static long field_limit(lua_State *L, int idx, const char *name,
                        double scale)
{
  double v = opt_number(L, idx, name, 0, scale > 1 ? 1e7 : 1e12);
  long n = (long)(v * scale + 0.5);

  if (n == 0 && v > 0)
    n = 1;                      /* a tiny limit, not none */
  return n == 0 ? ZPM_HTTP_NONE : n;
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

/*
 * capture = { patterns = { ... }, max_member, max_total } (on top): the
 * patterns table and an array of pointers into it stay on the stack.
 */
static void read_capture(lua_State *L, int idx, struct lrequest *r)
{
  static const char *const names[] = { "patterns", "max_member",
                                       "max_total", NULL };
  int tbl = lua_gettop(L);
  size_t i, n;

  if (lua_type(L, tbl) != LUA_TTABLE)
    luaL_argerror(L, idx, "'body.capture' must be a table");
  lua_pushnil(L);
  while (lua_next(L, tbl) != 0) {
    switch (option_index(L, idx, names)) {
    case 0:
      break;
    case 1:
      r->max_member = (size_t)field_integer(L, idx, "capture.max_member",
                                            1);
      break;
    default:
      r->max_total = (size_t)field_integer(L, idx, "capture.max_total", 1);
      break;
    }
    lua_pop(L, 1);
  }
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

/*
 * body (on top): a string, or { file, offset, length } | { gunzip,
 * capture }.
 */
static void read_body(lua_State *L, int idx, struct lrequest *r)
{
  static const char *const names[] = { "file", "offset", "length",
                                       "gunzip", "capture", "source", "max",
                                       "strict", "name", NULL };
  int tbl = lua_gettop(L);

  if (lua_type(L, tbl) == LUA_TSTRING) {
    r->body_data = lua_tolstring(L, tbl, &r->body_len);
    return;
  }
  if (lua_type(L, tbl) != LUA_TTABLE)
    luaL_argerror(L, idx, "'body' must be a string or a table");
  lua_pushnil(L);
  while (lua_next(L, tbl) != 0) {
    switch (option_index(L, idx, names)) {
    case 0:
      r->body_file = opt_string(L, idx, "body.file");
      break;
    case 1:
      r->offset = (long long)field_integer(L, idx, "body.offset", 0);
      break;
    case 2:
      r->length = (long long)field_integer(L, idx, "body.length", 0);
      break;
    case 3:
      r->gunzip_fd = zpm_lua_file_fd(L, -1);
      r->has_gunzip_fd = r->gunzip_fd >= 0;
      if (!r->has_gunzip_fd)
        r->body_gunzip = opt_string(L, idx, "body.gunzip");
      break;
    case 5:
      r->body_source = luaL_testudata(L, -1, SOURCE_MT);
      if (r->body_source == NULL || r->body_source->src == NULL)
        luaL_argerror(L, idx, "'body.source' must be an open http.source");
      break;
    case 6:
      r->slice_max = (unsigned long long)field_integer(L, idx, "body.max",
                                                       0);
      break;
    case 7:
      r->slice_strict = opt_boolean(L, idx, "body.strict");
      break;
    default:
      break;                    /* capture: read below */
    }
    lua_pop(L, 1);
  }
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
  if (lua_getfield(L, tbl, "capture") != LUA_TNIL) {
    if (r->body_gunzip == NULL)
      luaL_argerror(L, idx, "'capture' goes with 'gunzip' only");
    read_capture(L, idx, r);
  }
}

/* The box's __gc: free the capture (idempotent). */
static int capture_gc(lua_State *L)
{
  struct zpm_tar_capture **box = luaL_checkudata(L, 1, CAPTURE_MT);

  zpm_tar_capture_free(*box);
  *box = NULL;
  return 0;
}

/* sink (on top): a function, { file = path } or { fd = n }. */
static void read_sink(lua_State *L, int idx, struct lrequest *r)
{
  static const char *const names[] = { "file", "fd", NULL };
  int tbl = lua_gettop(L);

  if (lua_type(L, tbl) == LUA_TFUNCTION) {
    r->sink = SINK_FUNCTION;
    lua_copy(L, tbl, r->sink_idx);
    return;
  }
  if (lua_type(L, tbl) != LUA_TTABLE)
    luaL_argerror(L, idx, "'sink' must be a function or a table");
  lua_pushnil(L);
  while (lua_next(L, tbl) != 0) {
    if (r->sink != SINK_COLLECT)
      luaL_argerror(L, idx, "'sink' takes one of 'file', 'fd'");
    if (option_index(L, idx, names) == 0) {
      r->sink = SINK_FILE;
      r->sink_path = opt_string(L, idx, "sink.file");
      lua_insert(L, tbl + 1);   /* anchor it; the key stays on top */
      lua_pushnil(L);
    } else {
      r->sink = SINK_FD;
      r->fd = (int)field_integer(L, idx, "sink.fd", 0);
    }
    lua_pop(L, 1);
  }
  if (r->sink == SINK_COLLECT)
    luaL_argerror(L, idx, "'sink' needs 'file' or 'fd'");
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
 * Parse the req table at idx into r. Every string the request uses is
 * left on the stack, so a callback that changes req cannot free it.
 */
static void read_request(lua_State *L, int idx, struct lrequest *r)
{
  static const char *const names[] = {
    "method", "url", "headers", "body", "sink", "retries", "backoff",
    "max_backoff", "idempotent", "timeout", "max_body", "progress",
    "retry_on_ratelimit", "deadline", "min_rate", NULL
  };
  int has_idempotent = 0;
  lua_Integer v;

  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    switch (option_index(L, idx, names)) {
    case 5:
      v = field_integer(L, idx, "retries", 0);
      r->req.retry.max_retries = v > 1000 ? 1000 : (int)v;
      break;
    case 6:
      r->req.retry.backoff_ms = field_ms(L, idx, "backoff");
      break;
    case 7:
      r->req.retry.max_backoff_ms = field_ms(L, idx, "max_backoff");
      break;
    case 8:
      r->req.idempotent = opt_boolean(L, idx, "idempotent");
      has_idempotent = 1;
      break;
    case 9:
      r->req.timeout_ms = field_limit(L, idx, "timeout", 1000);
      break;
    case 10:
      v = field_integer(L, idx, "max_body", 0);
      r->max_body = (size_t)v;
      break;
    case 11:
      /* session:request reads it; in a request_many list it is an error */
      if (r->in_batch)
        luaL_argerror(L, idx, "'progress' goes in request_many's options");
      break;
    case 12:
      r->req.retry.ratelimit = opt_boolean(L, idx, "retry_on_ratelimit");
      break;
    case 13:
      r->req.deadline_ms = field_limit(L, idx, "deadline", 1000);
      break;
    case 14:
      r->req.min_rate = field_limit(L, idx, "min_rate", 1);
      break;
    default:
      break;      /* strings and tables: read below */
    }
    lua_pop(L, 1);
  }
  r->req.method = anchored_string(L, idx, "method");
  if (r->req.method[0] == '\0')
    luaL_argerror(L, idx, "'method' must not be empty");
  r->req.url = anchored_string(L, idx, "url");
  if (lua_getfield(L, idx, "headers") != LUA_TNIL)
    read_headers(L, idx, r);
  if (lua_getfield(L, idx, "body") != LUA_TNIL)
    read_body(L, idx, r);
  if (lua_getfield(L, idx, "sink") != LUA_TNIL)
    read_sink(L, idx, r);
  if (!has_idempotent)
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
  return protected_call(r, add_header, r->headers_idx, &h) != 0;
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
  if (protected_call(r, call_with_string, r->sink_idx, &sp) != 0)
    return ECANCELED;
  return 0;
}

/* --- request ------------------------------------------------------------- */

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
  } else {
    d->data = r->body_data;
    d->len = r->body_len;
  }
}

/* No body (*src NULL) without body_data, file, gunzip or source. */
static int open_source(struct lrequest *r, struct zpm_source **src,
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

/* { { name = ..., data = ... }, ... }: the members a capture holds. */
static void push_captured(lua_State *L, const struct zpm_tar_capture *tc)
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

static void push_response(lua_State *L, struct lrequest *r,
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
    push_captured(L, *r->tc);
    lua_setfield(L, -2, "captured");
  }
}

/*
 * Set up r for the request table at req_idx: its stack slots, its parsed
 * fields (strings anchored on the stack) and the capture's box. Raises
 * on a bad request.
 */
static void prepare_request(lua_State *L, struct lsession *ls,
                            struct lrequest *r, int req_idx, int in_batch)
{
  memset(r, 0, sizeof(*r));
  r->L = L;
  r->ls = ls;
  r->length = -1;
  r->fd = -1;
  r->max_body = ZPM_BODY_COLLECT_MAX;
  r->slice_max = ULLONG_MAX;
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
    r->tc = lua_newuserdatauv(L, sizeof(*r->tc), 0);
    *r->tc = NULL;
    luaL_setmetatable(L, CAPTURE_MT);
  }
}

/* Open the body and the sink; nothing raises from here on. */
static int acquire_request(struct lrequest *r, struct zpm_error *err)
{
  int status = open_source(r, &r->src, err);

  if (status == ZPM_OK)
    status = open_sink(r, err);
  r->req.body = r->src;
  r->req.on_header = on_header;
  r->req.header_ud = r;
  return status;
}

/* Close the sink and the body; returns status, or a sink close error. */
static int release_request(struct lrequest *r, int status,
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
static int push_failure(lua_State *L, struct lrequest *r, int status,
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

/*
 * Field `progress` of the table at idx, a meter, as the run's progress
 * callback (none when nil). The value stays on the stack: the meter lives.
 */
static void opt_progress(lua_State *L, int idx,
                         struct zpm_http_run_options *opt)
{
  struct zpm_lua_progress *lp;

  if (lua_getfield(L, idx, "progress") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lp = luaL_testudata(L, -1, ZPM_PROGRESS_MT);
  if (lp == NULL)
    luaL_argerror(L, idx, "'progress' must be a zpm.core.progress meter");
  opt->progress = zpm_lua_progress_report;
  opt->progress_ud = lp;
}

static int session_request(lua_State *L)
{
  struct lsession *ls = check_session(L);
  struct lrequest r;
  struct zpm_http_job job;
  struct zpm_http_run_options opt;
  struct zpm_error err;
  int status;
  int bad_request = 0;

  if (ls->active != NULL)
    return luaL_error(L, "HTTP session is busy with another request");
  lua_settop(L, 2);
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&opt, 0, sizeof(opt));
  opt_progress(L, 2, &opt);
  prepare_request(L, ls, &r, 2, 0);

  /* Arguments are good: acquire, run, release; nothing raises here. */
  zpm_error_clear(&err);
  memset(&job, 0, sizeof(job));
  job.req = &r.req;
  status = acquire_request(&r, &err);
  if (status == ZPM_OK) {
    ls->active = &r;
    status = zpm_http_run(ls->s, &job, 1, &opt);
    ls->active = NULL;
    /* a bad method, URL or header raises, as bad arguments do */
    bad_request = status == ZPM_EINVAL;
    if (status == ZPM_OK)
      status = job.status;
    else if (job.err.status == ZPM_OK)
      zpm_error_set(&job.err, status, "cannot run the request");
    if (status != ZPM_OK)
      err = job.err;
  }
  status = release_request(&r, status, &err);
  if (bad_request) {
    zpm_http_jobs_release(&job, 1);
    return luaL_argerror(L, 2, err.message);
  }
  lua_pushnil(L);
  if (push_failure(L, &r, status, &err)) {
    zpm_http_jobs_release(&job, 1);
    return 3;
  }
  lua_pop(L, 1);
  push_response(L, &r, &job.resp);
  zpm_http_jobs_release(&job, 1);
  if (r.tc != NULL) {
    zpm_tar_capture_free(*r.tc);
    *r.tc = NULL;
  }
  return 1;
}

/* Free what a batch holds: bodies, sinks, own buffers, error bodies. */
static void release_batch(struct lrequest *rs, struct zpm_http_job *jobs,
                          size_t n)
{
  size_t i;
  struct zpm_error err;

  for (i = 0; i < n; i++) {
    release_request(&rs[i], ZPM_EIO, &err);
    free(rs[i].own);
    rs[i].own = NULL;
  }
  zpm_http_jobs_release(jobs, n);
}

struct batch {
  struct lrequest *rs;
  struct zpm_http_job *jobs;
  size_t n;
};

/* The batch box's __gc: release whatever a raise left behind. */
static int batch_gc(lua_State *L)
{
  struct batch *b = lua_touserdata(L, 1);

  if (b->rs != NULL)
    release_batch(b->rs, b->jobs, b->n);
  free(b->rs);
  free(b->jobs);
  b->rs = NULL;
  b->jobs = NULL;
  return 0;
}

/*
 * session:request_many(reqs [, opts]) -> results: the requests run in
 * parallel (see the top of this file).
 */
/* Requests prepared at once: their strings and tables sit on the stack. */
#define BATCH_WINDOW 256

/* Whether a finished job failed: an error, or a final non-2xx status. */
static int job_failed(const struct lrequest *r,
                      const struct zpm_http_job *job)
{
  return r->failed || r->too_large || job->status != ZPM_OK ||
         !zpm_http_is_2xx(job->resp.status);
}

/*
 * Run the requests reqs[first + 1 .. first + m] (a window) and store
 * their results; *base is where the meter got to, *stopping whether
 * stop_on_failure tripped. Raises only when the run cannot start.
 */
static void run_window(lua_State *L, struct lsession *ls, struct batch *b,
                       size_t first, size_t m,
                       struct zpm_http_run_options *opt,
                       unsigned long long *base, int *stopping,
                       int results)
{
  size_t ran[BATCH_WINDOW];      /* run[j] is request ran[j] */
  size_t i, k = 0;
  int status;
  int top = lua_gettop(L);

  b->n = 0;
  for (i = 0; i < m; i++) {
    struct lrequest *r = &b->rs[i];

    luaL_checkstack(L, 4, "HTTP requests");
    lua_rawgeti(L, 2, (lua_Integer)(first + i) + 1);
    prepare_request(L, ls, r, lua_gettop(L), 1);
    r->collect = &r->own;
    r->collect_cap = &r->own_cap;
    r->fd = -1;
    b->n = i + 1;
    memset(&b->jobs[i], 0, sizeof(b->jobs[i]));
    zpm_error_clear(&b->jobs[i].err);
  }

  /* nothing raises from here to the results */
  if (!*stopping) {
    /* a body that cannot be opened fails its request, not the rest */
    struct zpm_http_job *run = b->jobs + m;

    for (i = 0; i < m; i++) {
      b->jobs[i].status = acquire_request(&b->rs[i], &b->jobs[i].err);
      if (b->jobs[i].status != ZPM_OK) {
        b->jobs[i].started = 1;
        if (opt->stop_on_failure)
          break;
        continue;
      }
      run[k] = b->jobs[i];
      run[k].req = &b->rs[i].req;
      ran[k++] = i;
    }
    opt->progress_base = *base;
    ls->active = m > 0 ? &b->rs[0] : NULL;   /* trace errors go there */
    status = zpm_http_run(ls->s, run, k, opt);
    ls->active = NULL;
    if (status != ZPM_OK) {
      zpm_http_jobs_release(run, k);
      release_batch(b->rs, b->jobs, m);
      luaL_error(L, "cannot run the requests: %s",
                 zpm_status_name(status));
    }
    /* back in request order */
    for (i = 0; i < k; i++)
      b->jobs[ran[i]] = run[i];
  }
  for (i = 0; i < m; i++) {
    struct lrequest *r = &b->rs[i];
    struct zpm_http_job *job = &b->jobs[i];
    int jstatus;

    if (r->src != NULL)
      *base += zpm_source_position(r->src);
    jstatus = release_request(r, job->status, &job->err);
    luaL_checkstack(L, 6, "HTTP results");
    if (!job->started) {
      lua_pushboolean(L, 0);
    } else {
      if (job_failed(r, job) && opt->stop_on_failure)
        *stopping = 1;
      lua_createtable(L, 0, 2);
      if (push_failure(L, r, jstatus, &job->err)) {
        lua_setfield(L, -3, "code");
        lua_setfield(L, -2, "error");
      } else {
        lua_pop(L, 1);
        push_response(L, r, &job->resp);
      }
    }
    lua_rawseti(L, results, (lua_Integer)(first + i) + 1);
    if (r->tc != NULL) {
      zpm_tar_capture_free(*r->tc);
      *r->tc = NULL;
    }
  }
  release_batch(b->rs, b->jobs, m);
  b->n = 0;
  lua_settop(L, top);
}

static int session_request_many(lua_State *L)
{
  static const char *const names[] = { "concurrency", "stop_on_failure",
                                       "progress", NULL };
  struct lsession *ls = check_session(L);
  struct zpm_http_run_options opt;
  struct batch *b;
  size_t i, n, window;
  unsigned long long base = 0;
  int stopping = 0;
  int results;

  if (ls->active != NULL)
    return luaL_error(L, "HTTP session is busy with another request");
  lua_settop(L, 3);
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&opt, 0, sizeof(opt));
  opt.concurrency = DEFAULT_CONCURRENCY;
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      switch (option_index(L, 3, names)) {
      case 0:
        opt.concurrency = (int)field_integer(L, 3, "concurrency", 1);
        if (opt.concurrency > BATCH_WINDOW)
          opt.concurrency = BATCH_WINDOW;
        break;
      case 1:
        opt.stop_on_failure = opt_boolean(L, 3, "stop_on_failure");
        break;
      default:
        break;                  /* progress: read below */
      }
      lua_pop(L, 1);
    }
    opt_progress(L, 3, &opt);
  }
  n = (size_t)lua_rawlen(L, 2);

  /* every request is checked before any starts */
  for (i = 0; i < n; i++) {
    struct lrequest r;
    struct zpm_error err;
    int top = lua_gettop(L);

    luaL_checkstack(L, 4, "HTTP requests");
    if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE)
      return luaL_argerror(L, 2, "a list of request tables");
    prepare_request(L, ls, &r, lua_gettop(L), 1);
    zpm_error_clear(&err);
    if (zpm_http_check(&r.req, &err) != ZPM_OK)
      return luaL_argerror(L, 2, err.message);
    lua_settop(L, top);
  }

  window = n < BATCH_WINDOW ? n : BATCH_WINDOW;
  b = lua_newuserdatauv(L, sizeof(*b), 0);
  memset(b, 0, sizeof(*b));
  lua_newtable(L);
  lua_pushcfunction(L, batch_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  b->rs = calloc(window > 0 ? window : 1, sizeof(*b->rs));
  /* the jobs in request order, then those run (a compact copy) */
  b->jobs = calloc(window > 0 ? 2 * window : 1, sizeof(*b->jobs));
  if (b->rs == NULL || b->jobs == NULL)
    return luaL_error(L, "out of memory");
  lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
  results = lua_gettop(L);
  for (i = 0; i < n; i += window) {
    size_t m = n - i < window ? n - i : window;

    run_window(L, ls, b, i, m, &opt, &base, &stopping, results);
  }
  return 1;
}

/* --- sources that outlive a request --------------------------------------- */

static struct lsource *check_source(lua_State *L)
{
  struct lsource *ls = luaL_checkudata(L, 1, SOURCE_MT);

  if (ls->src == NULL)
    luaL_error(L, "attempt to use a closed http.source");
  return ls;
}

/*
 * http.source(spec) -> source: a body read piece by piece by several
 * requests ({ source = src, max = n, strict = bool } bodies).
 */
static int http_source(lua_State *L)
{
  struct lrequest r;
  struct lsource *ls;
  struct zpm_error err;
  int status;

  memset(&r, 0, sizeof(r));
  r.length = -1;
  r.slice_max = ULLONG_MAX;
  lua_settop(L, 1);
  ls = lua_newuserdatauv(L, sizeof(*ls), 0);
  memset(ls, 0, sizeof(*ls));
  luaL_setmetatable(L, SOURCE_MT);
  lua_pushvalue(L, 1);
  read_body(L, 1, &r);
  if (r.body_source != NULL || r.body_data != NULL)
    return luaL_argerror(L, 1, "a source is { file = ... } or "
                               "{ gunzip = ... }");
  r.tc = &ls->tc;
  zpm_error_clear(&err);
  status = open_source(&r, &ls->src, &err);
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
  push_captured(L, ls->tc);
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

static int source_close(lua_State *L)
{
  struct lsource *ls = luaL_checkudata(L, 1, SOURCE_MT);

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

static const luaL_Reg session_methods[] = {
  { "request", session_request },
  { "request_many", session_request_many },
  { "close", session_close },
  { NULL, NULL }
};

static const luaL_Reg session_metamethods[] = {
  { "__gc", session_close },
  { "__close", session_close },
  { "__tostring", session_tostring },
  { "__index", NULL },
  { NULL, NULL }
};

/* http.is_2xx(status): whether a status is a success. */
static int http_is_2xx(lua_State *L)
{
  lua_pushboolean(L, zpm_http_is_2xx((long)luaL_checkinteger(L, 1)));
  return 1;
}

static const luaL_Reg http_functions[] = {
  { "is_2xx", http_is_2xx },
  { "session", http_session },
  { "source", http_source },
  { NULL, NULL }
};

int luaopen_zpm_core_http(lua_State *L);

int luaopen_zpm_core_http(lua_State *L)
{
  if (luaL_newmetatable(L, CAPTURE_MT)) {
    lua_pushcfunction(L, capture_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SOURCE_MT)) {
    lua_pushcfunction(L, source_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, source_close);
    lua_setfield(L, -2, "__close");
    luaL_newlib(L, source_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SESSION_MT)) {
    luaL_setfuncs(L, session_metamethods, 0);
    luaL_newlib(L, session_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, http_functions);
  {
    /* the defaults, for Lua to use rather than type again */
    static const struct zpm_http_retry retry = ZPM_HTTP_RETRY_DEFAULT;

    lua_pushinteger(L, DEFAULT_CONCURRENCY);
    lua_setfield(L, -2, "CONCURRENCY");
    lua_pushinteger(L, retry.max_retries);
    lua_setfield(L, -2, "RETRIES");
    lua_pushinteger(L, ZPM_TAR_CAPTURE_MAX_MEMBER);
    lua_setfield(L, -2, "CAPTURE_MAX_MEMBER");
    lua_pushinteger(L, ZPM_TAR_CAPTURE_MAX_TOTAL);
    lua_setfield(L, -2, "CAPTURE_MAX_TOTAL");
  }
  return 1;
}
