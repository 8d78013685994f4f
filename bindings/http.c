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
 *     fails: an error or a final non-2xx), progress (one meter for
 *     all). results[i]: the response, { error = msg, code = code }, or
 *     false (not started).
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
 *
 * This file holds the module and the session; http_request.c reads a
 * request table and pushes its response; source.c turns a body table
 * into the core's body description (zpm/body.h) and holds http.source.
 * Options are read from static lists (zpm_lua_options, bindings.h).
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "http_lua.h"

#define SESSION_MT "zpm.core.HttpSession"
/* request_many's default concurrency, exported as http.CONCURRENCY */
#define DEFAULT_CONCURRENCY 8

static const struct zpm_lua_class session_class;

/* --- session ------------------------------------------------------------- */

#define OPT(field) offsetof(struct zpm_http_options, field)

/* Strings point into the options table, on the stack until the session
 * has copied them. */
static const struct zpm_lua_option session_options[] = {
  { "connect_timeout", ZPM_OPT_MS, OPT(connect_timeout_ms), 0, 86400,
    NULL, NULL },
  { "low_speed_limit", ZPM_OPT_LONG, OPT(low_speed_limit), 0, 1e12, NULL,
    NULL },
  { "low_speed_time", ZPM_OPT_LONG, OPT(low_speed_time), 0, 86400, NULL,
    NULL },
  { "insecure", ZPM_OPT_BOOLEAN, OPT(insecure), 0, 0, NULL, NULL },
  { "cacert", ZPM_OPT_STRING, OPT(cacert), 0, 0, NULL, NULL },
  { "user_agent", ZPM_OPT_STRING, OPT(user_agent), 0, 0, NULL, NULL },
  { "trace", ZPM_OPT_FUNCTION, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { "interrupt", ZPM_OPT_INTERRUPT, OPT(cancel), 0, 0, NULL, NULL },
  { "attempt_timeout", ZPM_OPT_MS, OPT(timeout_ms), 0, 1e7, NULL, NULL },
  { "deadline", ZPM_OPT_MS, OPT(deadline_ms), 0, 1e7, NULL, NULL },
  { "min_rate", ZPM_OPT_LONG, OPT(min_rate), 0, 1e12, NULL, NULL },
  { "timeout_note", ZPM_OPT_STRING, OPT(timeout_note), 0, 0, NULL, NULL },
  { "on_retry", ZPM_OPT_FUNCTION, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { NULL, 0, 0, 0, 0, NULL, NULL }
};

static int http_session(lua_State *L)
{
  struct zpm_http_options opt;
  struct zpm_error err;
  struct lsession *ls;
  int status;

  memset(&opt, 0, sizeof(opt));
  opt.user_agent = "zpm/" ZPM_VERSION;
  zpm_lua_options(L, 1, 1, session_options, &opt);
  lua_settop(L, 1);
  ls = zpm_lua_new(L, &session_class, sizeof(*ls), 2);
  if (lua_istable(L, 1)) {
    /* Without a trace libcurl formats no debug text for nobody. */
    if (lua_getfield(L, 1, "trace") != LUA_TNIL) {
      opt.trace = zpm_lua_trace_line;
      opt.trace_ud = ls;
    }
    lua_setiuservalue(L, -2, 1);
    if (lua_getfield(L, 1, "on_retry") != LUA_TNIL) {
      opt.on_retry = zpm_lua_retry_event;
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
  struct lsession *ls = zpm_lua_check(L, 1, &session_class);

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
  struct lsession *ls = zpm_lua_check_open(L, 1, &session_class);
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
  zpm_lua_prepare_request(L, ls, &r, 2, 0);

  /* Arguments are good: acquire, run, release; nothing raises here. */
  zpm_error_clear(&err);
  memset(&job, 0, sizeof(job));
  job.req = &r.req;
  status = zpm_lua_acquire_request(&r, &err);
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
  status = zpm_lua_release_request(&r, status, &err);
  if (bad_request) {
    zpm_http_jobs_release(&job, 1);
    return luaL_argerror(L, 2, err.message);
  }
  lua_pushnil(L);
  if (zpm_lua_push_failure(L, &r, status, &err)) {
    zpm_http_jobs_release(&job, 1);
    return 3;
  }
  lua_pop(L, 1);
  zpm_lua_push_response(L, &r, &job.resp);
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
    zpm_lua_release_request(&rs[i], ZPM_EIO, &err);
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
 * Release the requests of a window that ran and store their results at
 * results[first + 1 ..]; *base moves on by their sources' positions.
 */
static void store_results(lua_State *L, struct batch *b, size_t first,
                          size_t m, int stop_on_failure,
                          unsigned long long *base, int *stopping,
                          int results)
{
  size_t i;

  for (i = 0; i < m; i++) {
    struct lrequest *r = &b->rs[i];
    struct zpm_http_job *job = &b->jobs[i];
    int jstatus;

    if (r->src != NULL)
      *base += zpm_source_position(r->src);
    jstatus = zpm_lua_release_request(r, job->status, &job->err);
    luaL_checkstack(L, 6, "HTTP results");
    if (!job->started) {
      lua_pushboolean(L, 0);
    } else {
      if (job_failed(r, job) && stop_on_failure)
        *stopping = 1;
      lua_createtable(L, 0, 2);
      if (zpm_lua_push_failure(L, r, jstatus, &job->err)) {
        lua_setfield(L, -3, "code");
        lua_setfield(L, -2, "error");
      } else {
        lua_pop(L, 1);
        zpm_lua_push_response(L, r, &job->resp);
      }
    }
    lua_rawseti(L, results, (lua_Integer)(first + i) + 1);
    if (r->tc != NULL) {
      zpm_tar_capture_free(*r->tc);
      *r->tc = NULL;
    }
  }
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
    zpm_lua_prepare_request(L, ls, r, lua_gettop(L), 1);
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
      b->jobs[i].status = zpm_lua_acquire_request(&b->rs[i], &b->jobs[i].err);
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
  store_results(L, b, first, m, opt->stop_on_failure, base, stopping,
                results);
  release_batch(b->rs, b->jobs, m);
  b->n = 0;
  lua_settop(L, top);
}

static const struct zpm_lua_option many_options[] = {
  { "concurrency", ZPM_OPT_INT,
    offsetof(struct zpm_http_run_options, concurrency), 1, INT_MAX, NULL,
    NULL },
  { "stop_on_failure", ZPM_OPT_BOOLEAN,
    offsetof(struct zpm_http_run_options, stop_on_failure), 0, 0, NULL,
    NULL },
  { "progress", ZPM_OPT_ANY, ZPM_OPT_NOWHERE, 0, 0, NULL, NULL },
  { NULL, 0, 0, 0, 0, NULL, NULL }
};

static int session_request_many(lua_State *L)
{
  struct lsession *ls = zpm_lua_check_open(L, 1, &session_class);
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
  zpm_lua_options(L, 3, 3, many_options, &opt);
  if (opt.concurrency > BATCH_WINDOW)
    opt.concurrency = BATCH_WINDOW;
  if (!lua_isnil(L, 3))
    opt_progress(L, 3, &opt);
  n = (size_t)lua_rawlen(L, 2);

  /* every request is checked before any starts */
  for (i = 0; i < n; i++) {
    struct lrequest r;
    struct zpm_error err;
    int top = lua_gettop(L);

    luaL_checkstack(L, 4, "HTTP requests");
    if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE)
      return luaL_argerror(L, 2, "a list of request tables");
    zpm_lua_prepare_request(L, ls, &r, lua_gettop(L), 1);
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

static const luaL_Reg session_methods[] = {
  { "request", session_request },
  { "request_many", session_request_many },
  { "close", session_close },
  { NULL, NULL }
};

static const struct zpm_lua_class session_class = {
  SESSION_MT, "HTTP session", offsetof(struct lsession, s), session_close,
  session_methods, NULL
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
  { "source", zpm_lua_http_source },
  { NULL, NULL }
};

int luaopen_zpm_core_http(lua_State *L);

int luaopen_zpm_core_http(lua_State *L)
{
  zpm_lua_class(L, &zpm_lua_capture_class);
  zpm_lua_class(L, &zpm_lua_source_class);
  zpm_lua_class(L, &session_class);
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
