/*
 * What the three files of zpm.core.http share: http.c (the module, the
 * session and its runs), http_request.c (a request table read into C and
 * its response pushed back) and source.c (bodies: the body table read
 * into the core's description, zpm_body_open, http.source).
 */
#ifndef ZPM_HTTP_LUA_H
#define ZPM_HTTP_LUA_H

#include <stddef.h>

#include "bindings.h"
#include "zpm/body.h"
#include "zpm/http.h"
#include "zpm/source.h"
#include "zpm/tar_capture.h"

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
  int has_idempotent;           /* req.idempotent was given */
  /* body, for the core's struct zpm_body_desc */
  const char *body_data;        /* a string body */
  size_t body_len;
  const char *body_file;
  const char *body_gunzip;      /* a path, or the name of gunzip_fd */
  int has_gunzip_fd;            /* body.gunzip was an open Lua file */
  int gunzip_fd;
  long long offset, length;
  int capture;                  /* body.capture given */
  int md5;                      /* body.md5: gunzip's MD5 tap (default 1) */
  const char **patterns;        /* into the anchored patterns table */
  size_t n_patterns;
  size_t max_member, max_total;
  struct zpm_tar_capture **tc;  /* in a box that frees it on __gc */
  struct lsource *body_source;  /* body = { source = ... } */
  unsigned long long slice_max;
  int slice_strict;
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
  int in_batch;                 /* one of request_many's requests */
  /* stack slots */
  int trace_idx;                /* trace function or nil */
  int retry_idx;                /* on_retry function or nil */
  int sink_idx;                 /* sink function or nil */
  int headers_idx;              /* response headers table */
  int err_idx;                  /* the first callback error, or nil */
  int failed;                   /* a Lua callback raised */
};

/* --- source.c ------------------------------------------------------------ */

extern const struct zpm_lua_class zpm_lua_source_class;   /* HttpSource */
extern const struct zpm_lua_class zpm_lua_capture_class;  /* TarCapture */

/* r's body fields before reading a body table (no body). */
void zpm_lua_body_init(struct lrequest *r);
/* The body (on top of the stack, argument idx) into r; raises. */
void zpm_lua_read_body(lua_State *L, int idx, struct lrequest *r);
/* Open r's body (and its capture into *r->tc); *src NULL for none. */
int zpm_lua_open_body(struct lrequest *r, struct zpm_source **src,
                      struct zpm_error *err);
/* Push { { name = ..., data = ... }, ... }: the members tc holds. */
void zpm_lua_push_captured(lua_State *L, const struct zpm_tar_capture *tc);
/* http.source(spec) -> source */
int zpm_lua_http_source(lua_State *L);

/* --- http_request.c ------------------------------------------------------ */

/* Run fn(...) from C, protected; on error keep it in r->err_idx. */
int zpm_lua_protected_call(struct lrequest *r, lua_CFunction helper,
                           int fn_idx, void *arg);
/* The session's trace and on_retry callbacks (ud: struct lsession). */
int zpm_lua_trace_line(void *ud, const char *line, size_t len);
int zpm_lua_retry_event(void *ud, const struct zpm_http_retry_event *ev);
/* Set r up for the request table at req_idx (slots, fields); raises. */
void zpm_lua_prepare_request(lua_State *L, struct lsession *ls,
                             struct lrequest *r, int req_idx, int in_batch);
/* Open the body and the sink; nothing raises from here on. */
int zpm_lua_acquire_request(struct lrequest *r, struct zpm_error *err);
/* Close the sink and the body; returns status, or a sink close error. */
int zpm_lua_release_request(struct lrequest *r, int status,
                            struct zpm_error *err);
/* Push message and code of a failed request; 0 when it did not fail. */
int zpm_lua_push_failure(lua_State *L, struct lrequest *r, int status,
                         const struct zpm_error *err);
void zpm_lua_push_response(lua_State *L, struct lrequest *r,
                           const struct zpm_http_response *resp);

#endif
