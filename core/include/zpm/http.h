/*
 * HTTP client on libcurl for the Swift client: one session owns a libcurl
 * multi handle whose connection pool every request reuses (keep-alive),
 * and runs one request, or a batch of them in parallel on up to N
 * connections (zpm_http_run).
 *
 * A request streams its body from a struct zpm_source (read in blocks of
 * ZPM_HTTP_BUFFER_SIZE) and its 2xx response body to a sink callback;
 * nothing is held whole in memory. Transient failures are retried with
 * exponential backoff; the response of a non-2xx status is kept (its first
 * ZPM_HTTP_ERROR_BODY_MAX bytes) for the caller's error message instead of
 * going to the sink.
 */
#ifndef ZPM_HTTP_H
#define ZPM_HTTP_H

#include <stddef.h>

#include "zpm/cancel.h"
#include "zpm/error.h"
#include "zpm/progress_fn.h"
#include "zpm/digest.h"
#include "zpm/source.h"

#define ZPM_HTTP_BUFFER_SIZE (512 * 1024)
#define ZPM_HTTP_ERROR_BODY_MAX (64 * 1024)

struct zpm_http_session;

/*
 * Debug trace: one line at a time, without its line end, prefixed like
 * curl -v ("* " connection info, "> " header sent, "< " header received).
 * Bodies never appear; values of secret headers read "<redacted>".
 * Returning nonzero aborts the request in progress.
 */
typedef int (*zpm_http_trace_fn)(void *ud, const char *line, size_t len);

/* A retry about to wait (see zpm_http_options.on_retry). */
struct zpm_http_retry_event {
  const char *method;
  const char *url;            /* without user:password@, query, fragment */
  int attempt;                /* the attempt coming next: 2 for the first
                                 retry */
  int max_attempts;           /* 1 + retry.max_retries */
  long delay_ms;              /* the wait before it */
  long status;                /* the status retried, 0 for a failure */
  const char *reason;         /* its reason phrase, or what failed */
};

/* Returning nonzero fails the request as a callback abort. */
typedef int (*zpm_http_retry_fn)(void *ud,
                                 const struct zpm_http_retry_event *ev);

/*
 * In a request's timeout_ms, deadline_ms or min_rate: no limit (no rate),
 * whatever the session's default.
 */
#define ZPM_HTTP_NONE (-1L)

struct zpm_http_options {
  long connect_timeout_ms;    /* 0: libcurl's default (300 s) */
  long low_speed_limit;       /* bytes/s; with low_speed_time, 0: off */
  long low_speed_time;        /* seconds below the limit before failing */
  int insecure;               /* skip TLS peer and host verification */
  const char *cacert;         /* CA bundle file, NULL for the default */
  const char *user_agent;     /* NULL: "zpm" */
  zpm_http_trace_fn trace;    /* NULL: no trace */
  void *trace_ud;
  /* Stop every transfer, start no more and retry none, failing them
   * with ZPM_ECANCELED, once *cancel is non-zero (zpm/cancel.h). */
  const zpm_cancel_flag *cancel;
  /*
   * Defaults for the requests' timeout_ms, deadline_ms and min_rate
   * (struct zpm_http_request says what they do); 0: none.
   */
  long timeout_ms;
  long deadline_ms;
  long min_rate;
  /*
   * Added to the message of a request that ran out of time, e.g. the
   * option that sets the limit: "... (deadline; <note>)". NULL: none.
   */
  const char *timeout_note;
  /* Told of each retry before its wait (never inside libcurl). */
  zpm_http_retry_fn on_retry;
  void *retry_ud;
};

struct zpm_http_retry {
  int max_retries;            /* retries after the first attempt */
  long backoff_ms;            /* first wait; doubles each retry */
  long max_backoff_ms;        /* cap on a wait, Retry-After included */
  int ratelimit;              /* retry 429 and 498 (rate limited) too */
};

/* python-swiftclient's defaults: 5 retries, 1 s, doubling up to 64 s;
 * zpm retries rate limiting too (swiftclient's retry_on_ratelimit). */
#define ZPM_HTTP_RETRY_DEFAULT { 5, 1000, 64000, 1 }

struct zpm_http_header {
  const char *name;
  const char *value;          /* "" sends an empty header */
};

struct zpm_http_request {
  const char *method;         /* "GET", "PUT", "POST", "HEAD", ... */
  const char *url;
  const struct zpm_http_header *headers;
  size_t n_headers;
  /*
   * Request body or NULL. Its length, when known, is sent as
   * Content-Length; otherwise the body goes chunked. Rewound for retries.
   */
  struct zpm_source *body;
  /*
   * The body's hex MD5 when the caller knows it (a zapp's record, sent
   * as Swift's ETag request header, which the server checks): the
   * response reports it as md5 and the body is not hashed. NULL: the
   * MD5 of the bytes sent is computed.
   */
  const char *body_md5;
  /*
   * 0 for a request that must not run twice (a job POST): it is retried
   * only while none of it has been sent.
   */
  int idempotent;
  struct zpm_http_retry retry;
  /*
   * Time limits, so that no request hangs forever: timeout_ms bounds
   * each attempt (one that runs out fails as a lost connection does, and
   * is retried alike; under a deadline, an attempt that could not be
   * retried anyway runs on to the deadline); deadline_ms bounds the
   * whole request, every attempt and every wait between them (a retry
   * whose wait would end past it is not made: the request ends with that
   * attempt's outcome). Both clocks stop while the request moves at
   * least min_rate bytes/s (body bytes received, or sent and acknowledged
   * by the peer; judged a quarter second at a time), so that a large
   * transfer going steadily is never cut while a hung or dripping server
   * is; without a rate they are wall clocks. A request that runs out
   * fails with ZPM_ENETWORK and CURLE_OPERATION_TIMEDOUT.
   * 0: the session's value; ZPM_HTTP_NONE: none.
   */
  long timeout_ms;
  long deadline_ms;
  long min_rate;              /* bytes/s */
  /*
   * Response headers as they arrive. A call with name == NULL starts a
   * new response (an interim 1xx, or a retry): forget the headers seen so
   * far; value is then the reason phrase. Return nonzero to abort.
   */
  int (*on_header)(void *ud, const char *name, size_t name_len,
                   const char *value, size_t value_len);
  void *header_ud;
  /*
   * Bytes of a 2xx response body. Return 0, or an errno value to abort
   * the request (it fails with ZPM_EIO and is not retried).
   */
  int (*sink)(void *ud, const void *buf, size_t len);
  void *sink_ud;
};

struct zpm_http_response {
  long status;                /* final HTTP status, 0 if none */
  char reason[128];           /* its reason phrase, may be empty */
  unsigned long long sent;    /* body bytes sent in the final attempt */
  unsigned long long received;/* body bytes received in the final attempt */
  int has_md5;                /* a body was sent: md5 is set */
  char md5[ZPM_MD5_HEX_SIZE]; /* hex MD5 of the body bytes sent */
  int attempts;               /* attempts made, 1 + retries */
  /*
   * A non-2xx response's body, its first ZPM_HTTP_ERROR_BODY_MAX bytes;
   * owned by the session, valid until its next request.
   */
  const char *error_body;
  size_t error_body_len;
};

int zpm_http_session_open(struct zpm_http_session **out,
                          const struct zpm_http_options *options,
                          struct zpm_error *err);
/* Closes its connections. NULL is fine. */
void zpm_http_session_free(struct zpm_http_session *s);

/*
 * Run one request to completion, retrying as req->retry allows. Returns
 * ZPM_OK once a response arrived, whatever its status; ZPM_ENETWORK when
 * the transfer failed (lib_code is the CURLcode; the message has the
 * method and the URL without its query); ZPM_EIO when the body source or
 * the sink failed (the abort code or errno in lib_code), except that a
 * body source's ZPM_ELIMIT or ZPM_EARCHIVE (a tar capture's) is kept;
 * ZPM_EINVAL for bad arguments. resp is filled in every case.
 */
int zpm_http_request(struct zpm_http_session *s,
                     const struct zpm_http_request *req,
                     struct zpm_http_response *resp,
                     struct zpm_error *err);

/*
 * A batch of requests run in parallel: at most `concurrency` at a time,
 * each on a connection from the session's pool (opened as needed, then
 * kept alive and reused by the next request). Each job is retried on its
 * own, as its req->retry allows, without holding up the others.
 */
struct zpm_http_job {
  const struct zpm_http_request *req;   /* in */
  int started;                /* out: 0 if never started (stop_on_failure) */
  int status;                 /* out: what zpm_http_request would return */
  struct zpm_http_response resp;        /* out */
  struct zpm_error err;                 /* out, when status != ZPM_OK */
  /* private: the copy of a non-2xx body that resp.error_body points to */
  char *error_body_copy;
};

struct zpm_http_run_options {
  int concurrency;            /* requests in flight at once; 0: 1 */
  /*
   * Start no new job once one has failed: an error status, or a final
   * non-2xx response. The jobs in flight finish.
   */
  int stop_on_failure;
  /*
   * Called with the sum of how far each job's body source has got
   * through its input (zpm_source_position), and a total of 0, as the
   * bodies are sent (from libcurl's transfer-info callback) and as jobs
   * end; or NULL. See zpm/progress_fn.h.
   */
  zpm_progress_fn progress;
  void *progress_ud;
  /* Added to that sum: where earlier runs reporting to it got to. */
  unsigned long long progress_base;
};

/*
 * Run n jobs. Returns ZPM_OK when every started job ran (each job's own
 * status says how it went; ZPM_OK with a 2xx status is a success),
 * ZPM_EINVAL for bad options or a bad request (nothing is started), or
 * ZPM_ENOMEM. Jobs' error bodies stay valid until zpm_http_jobs_release.
 */
int zpm_http_run(struct zpm_http_session *s, struct zpm_http_job *jobs,
                 size_t n, const struct zpm_http_run_options *options);
/*
 * ZPM_OK, or ZPM_EINVAL when zpm_http_request would refuse req (a bad
 * method, URL or header; a negative retry setting; a time limit or rate
 * below ZPM_HTTP_NONE).
 */
int zpm_http_check(const struct zpm_http_request *req,
                   struct zpm_error *err);

/* Free what zpm_http_run kept for the jobs (their error bodies). */
void zpm_http_jobs_release(struct zpm_http_job *jobs, size_t n);

/* A sink that writes to the file descriptor *(int *)ud. */
int zpm_http_fd_sink(void *ud, const void *buf, size_t len);

/* Whether a header's value is secret and is redacted in traces. */
int zpm_http_header_is_secret(const char *name, size_t len);

/* Whether an HTTP status is a success (2xx). */
int zpm_http_is_2xx(long status);

#endif
