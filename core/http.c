/*
 * HTTP requests on a libcurl multi handle, one or many at a time:
 * streaming bodies from sources, 2xx bodies to a sink, retries with
 * backoff, time limits per attempt and per request, MD5 of what was sent,
 * and a redacted debug trace.
 *
 * A request runs in a transfer slot (an easy handle and the state of its
 * current attempt); the session keeps the slots and the multi handle,
 * whose connection pool all of them share, so keep-alive connections
 * outlive requests and batches.
 */
#include "zpm/http.h"
#include "zpm/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <linux/sockios.h>
#endif

#include <curl/curl.h>

/*
 * How far an upload got is what the peer acknowledged (Linux's SIOCOUTQ:
 * bytes written but not acknowledged), which needs the transfer's
 * socket: the session opens them itself, and learns which one a request
 * runs on from its local port (CURLOPT_PREREQFUNCTION, libcurl 7.80).
 */
#if defined(SIOCOUTQ) && LIBCURL_VERSION_NUM >= 0x075000
#define TRACK_SOCKETS 1
#endif

/* Longest trace line handed to the trace callback; longer ones are cut. */
#define TRACE_LINE_MAX 2048

/*
 * The time limits' clocks stop while a request moves min_rate bytes/s;
 * that is judged over windows of this many ms, so that a burst (a body
 * filling the socket buffers of a server that reads nothing) earns one
 * window, not the time it would take at min_rate.
 */
#define WINDOW_MS 250

enum limit {
  LIMIT_NONE = 0,
  LIMIT_ATTEMPT,    /* the attempt's timeout_ms ran out */
  LIMIT_DEADLINE    /* the request's deadline_ms ran out */
};

enum abort_reason {
  ABORT_NONE = 0,
  ABORT_SOURCE,     /* the body source failed */
  ABORT_SINK,       /* the caller's sink refused the bytes */
  ABORT_CALLBACK,   /* a header or trace callback asked to stop */
  ABORT_CANCEL      /* the session's cancel flag was set */
};

enum slot_state {
  SLOT_IDLE = 0,    /* free for the next job */
  SLOT_RUNNING,     /* its easy handle is in the multi handle */
  SLOT_WAITING      /* between attempts, until due_ms */
};

struct run;

/* One request in flight: its easy handle and its current attempt. */
struct transfer {
  struct zpm_http_session *s;
  CURL *curl;
  char errbuf[CURL_ERROR_SIZE];
  char *error_body;               /* ZPM_HTTP_ERROR_BODY_MAX bytes */
  size_t error_body_len;

  enum slot_state state;
  struct run *run;
  struct zpm_http_job *job;
  const struct zpm_http_request *req;
  struct curl_slist *headers;
  int attempt;
  long backoff;                   /* the next wait, ms */
  long long due_ms;               /* SLOT_WAITING: when to try again */
  unsigned long long position;    /* zpm_source_position of the body */

  /* The current attempt. */
  struct zpm_md5 md5;
  int body_hashes;                /* the body source keeps its own MD5 */
  unsigned long long body_read;   /* body bytes handed to libcurl */
  unsigned long long received;    /* response body bytes */
  unsigned long long delivered;   /* bytes given to the caller's sink */
  long status;
  char reason[128];
  long retry_after;               /* seconds, -1 if absent */
  enum abort_reason abort;
  int sink_errno;
  enum limit timed_out;           /* the limit that stopped the attempt */
  curl_socket_t sock;             /* the attempt's, or CURL_SOCKET_BAD */

  /* Time limits of the request (the session's where it has none). */
  long timeout_ms;                /* 0: none */
  long deadline_ms;               /* 0: none */
  long min_rate;                  /* 0: the clocks never stop */
  unsigned long long moved;       /* body bytes sent and received, in
                                     every attempt so far */
  unsigned long long attempt_moved;  /* libcurl's count for this attempt */
  long long win_start;            /* the window being measured, ms */
  unsigned long long win_moved;   /* moved when it began */
  long long attempt_slow;         /* ms on the clocks, windows judged */
  long long request_slow;
};

struct zpm_http_session {
  CURLM *multi;
  struct transfer **slots;
  size_t n_slots;
  curl_socket_t *socks;           /* the sockets open (TRACK_SOCKETS) */
  size_t n_socks, cap_socks;
  int busy;                       /* a run is in progress */
  long connect_timeout_ms;
  long low_speed_limit;
  long low_speed_time;
  int insecure;
  char *cacert;
  char *user_agent;
  zpm_http_trace_fn trace;
  void *trace_ud;
  const zpm_cancel_flag *cancel;
  long timeout_ms;                /* defaults for the requests */
  long deadline_ms;
  long min_rate;
  char *timeout_note;
  zpm_http_retry_fn on_retry;
  void *retry_ud;
  char trace_line[TRACE_LINE_MAX];
  /* zpm_http_request's copy of the last non-2xx body */
  char *error_body;
  size_t error_body_len;
};

/* A zpm_http_run in progress. */
struct run {
  struct zpm_http_job *jobs;
  size_t n, next;                 /* jobs, and the first not started */
  int stop_on_failure;
  int stopping;                   /* stop_on_failure tripped */
  zpm_progress_fn progress;
  void *progress_ud;
  unsigned long long finished_position;  /* of the jobs done */
};

static int ascii_ieq(const char *a, size_t alen, const char *b)
{
  size_t i;

  for (i = 0; i < alen; i++) {
    if (b[i] == '\0' ||
        tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
      return 0;
  }
  return b[alen] == '\0';
}

int zpm_http_header_is_secret(const char *name, size_t len)
{
  static const char *const secret[] = {
    "X-Auth-Token", "X-Auth-Key", "X-Storage-Token", "X-Subject-Token",
    "X-Service-Token", "Authorization", "Proxy-Authorization", "Cookie",
    "Set-Cookie", "X-Auth-Password", NULL
  };
  int i;

  for (i = 0; secret[i] != NULL; i++) {
    if (ascii_ieq(name, len, secret[i]))
      return 1;
  }
  return 0;
}

int zpm_http_fd_sink(void *ud, const void *buf, size_t len)
{
  return zpm_write_all(*(const int *)ud, buf, len);
}

/* --- session ------------------------------------------------------------- */

int zpm_http_session_open(struct zpm_http_session **out,
                          const struct zpm_http_options *options,
                          struct zpm_error *err)
{
  struct zpm_http_session *s;
  static const struct zpm_http_options none;

  *out = NULL;
  if (options == NULL)
    options = &none;
  if (options->connect_timeout_ms < 0 || options->low_speed_limit < 0 ||
      options->low_speed_time < 0 || options->timeout_ms < 0 ||
      options->deadline_ms < 0 || options->min_rate < 0)
    return zpm_error_set(err, ZPM_EINVAL, "negative timeout or limit");
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return zpm_error_set(err, ZPM_ENETWORK, "curl_global_init failed");
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    curl_global_cleanup();
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  s->connect_timeout_ms = options->connect_timeout_ms;
  s->low_speed_limit = options->low_speed_limit;
  s->low_speed_time = options->low_speed_time;
  s->insecure = options->insecure;
  s->trace = options->trace;
  s->trace_ud = options->trace_ud;
  s->cancel = options->cancel;
  s->timeout_ms = options->timeout_ms;
  s->deadline_ms = options->deadline_ms;
  s->min_rate = options->min_rate;
  s->on_retry = options->on_retry;
  s->retry_ud = options->retry_ud;
  s->timeout_note = options->timeout_note != NULL ?
                    strdup(options->timeout_note) : NULL;
  s->cacert = options->cacert != NULL ? strdup(options->cacert) : NULL;
  s->user_agent = strdup(options->user_agent != NULL ?
                         options->user_agent : "zpm");
  s->error_body = malloc(ZPM_HTTP_ERROR_BODY_MAX);
  s->multi = curl_multi_init();
  if ((options->cacert != NULL && s->cacert == NULL) ||
      (options->timeout_note != NULL && s->timeout_note == NULL) ||
      s->user_agent == NULL || s->error_body == NULL || s->multi == NULL) {
    zpm_http_session_free(s);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  /* Keep every connection a batch opened for the next one. */
  curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, 64L);
  *out = s;
  return ZPM_OK;
}

static void free_slot(struct transfer *t)
{
  if (t == NULL)
    return;
  if (t->curl != NULL) {
    /* No trace from the cleanup: the trace's owner may be going away. */
    curl_easy_setopt(t->curl, CURLOPT_VERBOSE, 0L);
    curl_easy_cleanup(t->curl);
  }
  free(t->error_body);
  zpm_md5_free(&t->md5);
  free(t);
}

void zpm_http_session_free(struct zpm_http_session *s)
{
  size_t i;

  if (s == NULL)
    return;
  for (i = 0; i < s->n_slots; i++)
    free_slot(s->slots[i]);
  free(s->slots);
  if (s->multi != NULL) {
    curl_multi_cleanup(s->multi);
    curl_global_cleanup();
  }
  free(s->socks);
  free(s->cacert);
  free(s->timeout_note);
  free(s->user_agent);
  free(s->error_body);
  free(s);
}

/* Make sure the session has n slots. */
static int grow_slots(struct zpm_http_session *s, size_t n)
{
  struct transfer **slots;

  if (n <= s->n_slots)
    return ZPM_OK;
  slots = realloc(s->slots, n * sizeof(*slots));
  if (slots == NULL)
    return ZPM_ENOMEM;
  s->slots = slots;
  while (s->n_slots < n) {
    struct transfer *t = calloc(1, sizeof(*t));

    if (t == NULL)
      return ZPM_ENOMEM;
    t->s = s;
    t->curl = curl_easy_init();
    t->error_body = malloc(ZPM_HTTP_ERROR_BODY_MAX);
    if (t->curl == NULL || t->error_body == NULL ||
        zpm_md5_init(&t->md5) != ZPM_OK) {
      free_slot(t);
      return ZPM_ENOMEM;
    }
    s->slots[s->n_slots++] = t;
  }
  return ZPM_OK;
}

/* --- trace --------------------------------------------------------------- */

/* Append at most n bytes of p to the trace line at *len; cuts quietly. */
static void trace_append(struct zpm_http_session *s, size_t *len,
                         const char *p, size_t n)
{
  size_t room = sizeof(s->trace_line) - 1 - *len;

  if (n > room)
    n = room;
  memcpy(s->trace_line + *len, p, n);
  *len += n;
  s->trace_line[*len] = '\0';
}

static void trace_emit(struct transfer *t, const char *prefix,
                       const char *line, size_t n, int headers)
{
  struct zpm_http_session *s = t->s;
  size_t len = 0;
  const char *colon = headers ? memchr(line, ':', n) : NULL;

  trace_append(s, &len, prefix, 2);
  if (colon != NULL &&
      zpm_http_header_is_secret(line, (size_t)(colon - line))) {
    trace_append(s, &len, line, (size_t)(colon - line));
    trace_append(s, &len, ": <redacted>", 12);
  } else {
    trace_append(s, &len, line, n);
  }
  if (s->trace(s->trace_ud, s->trace_line, len) != 0 &&
      t->abort == ABORT_NONE)
    t->abort = ABORT_CALLBACK;
}

/*
 * CURLOPT_DEBUGFUNCTION: pass on connection info and header lines, one
 * line at a time with secrets redacted; never body or TLS data.
 */
static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
                    void *ud)
{
  struct transfer *t = ud;
  const char *prefix;
  int headers = 1;

  (void)h;
  switch (type) {
  case CURLINFO_TEXT:
    prefix = "* ";
    headers = 0;
    break;
  case CURLINFO_HEADER_IN:
    prefix = "< ";
    break;
  case CURLINFO_HEADER_OUT:
    prefix = "> ";
    break;
  default:
    return 0;
  }
  while (size > 0) {
    const char *nl = memchr(data, '\n', size);
    size_t n = nl != NULL ? (size_t)(nl - data) : size;
    size_t used = nl != NULL ? n + 1 : n;

    if (n > 0 && data[n - 1] == '\r')
      n--;
    if (n > 0)
      trace_emit(t, prefix, data, n, headers);
    data += used;
    size -= used;
  }
  return 0;
}

/* --- transfer callbacks -------------------------------------------------- */

/* Move the run's meter to where the bodies' sources have got. */
static void update_progress(struct transfer *t)
{
  struct run *run = t->run;
  struct zpm_http_session *s = t->s;
  unsigned long long done = run->finished_position;
  size_t i;

  if (t->req->body != NULL)
    t->position = zpm_source_position(t->req->body);
  for (i = 0; i < s->n_slots; i++) {
    if (s->slots[i]->state != SLOT_IDLE && s->slots[i]->run == run)
      done += s->slots[i]->position;
  }
  run->progress(run->progress_ud, done, 0);
}

static int is_space(char c)
{
  return c == ' ' || c == '\t';
}

/* "HTTP/1.1 200 OK": remember status and reason, reset per-response. */
static void parse_status_line(struct transfer *t, const char *p,
                              size_t n)
{
  size_t i = 0;
  long code = 0;
  size_t rlen;

  while (i < n && !is_space(p[i]))
    i++;
  while (i < n && is_space(p[i]))
    i++;
  while (i < n && p[i] >= '0' && p[i] <= '9' && code < 1000) {
    code = code * 10 + (p[i] - '0');
    i++;
  }
  while (i < n && is_space(p[i]))
    i++;
  rlen = n - i;
  if (rlen >= sizeof(t->reason))
    rlen = sizeof(t->reason) - 1;
  memcpy(t->reason, p + i, rlen);
  t->reason[rlen] = '\0';
  t->status = code;
  t->retry_after = -1;
}

static long parse_retry_after(const char *p, size_t n)
{
  long v = 0;
  size_t i;

  if (n == 0)
    return -1;
  for (i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;    /* an HTTP-date: use the backoff instead */
    if (v < 1000000)
      v = v * 10 + (p[i] - '0');
  }
  return v;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
  struct transfer *t = ud;
  const struct zpm_http_request *req = t->req;
  size_t total = size * nitems;
  size_t n = total;
  const char *colon;
  const char *value;
  size_t name_len, value_len;
  int rc = 0;

  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    n--;
  if (n == 0 || is_space(buf[0]))
    return total;     /* end of headers, or an obsolete folded line */
  if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    parse_status_line(t, buf, n);
    if (req->on_header != NULL)
      rc = req->on_header(req->header_ud, NULL, 0, t->reason,
                          strlen(t->reason));
  } else {
    colon = memchr(buf, ':', n);
    if (colon == NULL)
      return total;
    name_len = (size_t)(colon - buf);
    while (name_len > 0 && is_space(buf[name_len - 1]))
      name_len--;
    value = colon + 1;
    value_len = n - (size_t)(value - buf);
    while (value_len > 0 && is_space(*value)) {
      value++;
      value_len--;
    }
    while (value_len > 0 && is_space(value[value_len - 1]))
      value_len--;
    if (ascii_ieq(buf, name_len, "Retry-After"))
      t->retry_after = parse_retry_after(value, value_len);
    if (req->on_header != NULL)
      rc = req->on_header(req->header_ud, buf, name_len, value, value_len);
  }
  if (rc != 0) {
    if (t->abort == ABORT_NONE)
      t->abort = ABORT_CALLBACK;
    return 0;
  }
  return total;
}

int zpm_http_is_2xx(long status)
{
  return status >= 200 && status < 300;
}

static size_t write_cb(char *buf, size_t size, size_t nitems, void *ud)
{
  struct transfer *t = ud;
  const struct zpm_http_request *req = t->req;
  size_t len = size * nitems;
  int rc;

  if (t->abort != ABORT_NONE)
    return 0;
  t->received += len;
  if (!zpm_http_is_2xx(t->status)) {
    size_t room = ZPM_HTTP_ERROR_BODY_MAX - t->error_body_len;
    size_t take = len < room ? len : room;

    memcpy(t->error_body + t->error_body_len, buf, take);
    t->error_body_len += take;
    return len;
  }
  t->delivered += len;
  if (req->sink == NULL || len == 0)
    return len;
  rc = req->sink(req->sink_ud, buf, len);
  if (rc != 0) {
    t->abort = ABORT_SINK;
    t->sink_errno = rc;
    return 0;
  }
  return len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
  struct transfer *t = ud;
  struct zpm_source *body = t->req->body;
  size_t got = 0;

  if (t->abort != ABORT_NONE)
    return CURL_READFUNC_ABORT;
  if (body == NULL)
    return 0;
  if (zpm_source_read(body, buf, size * nitems, &got) != ZPM_OK) {
    t->abort = ABORT_SOURCE;
    return CURL_READFUNC_ABORT;
  }
  if (!t->body_hashes && t->req->body_md5 == NULL)
    zpm_md5_update(&t->md5, buf, got);
  t->body_read += got;
  if (t->run->progress != NULL)
    update_progress(t);
  return got;
}

/* libcurl rewinds by itself when it resends on a stale connection. */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
  struct transfer *t = ud;
  struct zpm_source *body = t->req->body;

  if (offset != 0 || origin != SEEK_SET)
    return CURL_SEEKFUNC_CANTSEEK;
  if (body != NULL && zpm_source_rewind(body) != ZPM_OK) {
    t->abort = ABORT_SOURCE;
    return CURL_SEEKFUNC_FAIL;
  }
  /* restarts the state the slot holds; were it to fail, the MD5 would
   * finish as zeroes and match no Etag */
  (void)zpm_md5_init(&t->md5);
  t->body_read = 0;
  if (t->run->progress != NULL)
    update_progress(t);
  return CURL_SEEKFUNC_OK;
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  struct transfer *t = ud;

  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  if (t->abort == ABORT_NONE && zpm_cancelled(t->s->cancel))
    t->abort = ABORT_CANCEL;
  return t->abort != ABORT_NONE;
}

/* --- request ------------------------------------------------------------- */

static int is_token_char(unsigned char c)
{
  return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static int valid_token(const char *s)
{
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s != '\0'; s++) {
    if (!is_token_char((unsigned char)*s))
      return 0;
  }
  return 1;
}

static int valid_value(const char *s)
{
  if (s == NULL)
    return 0;
  return strpbrk(s, "\r\n") == NULL;
}

/* "Name: value" (or "Name;" to send an empty value, libcurl's way). */
static int build_headers(const struct zpm_http_request *req,
                         struct curl_slist **out, struct zpm_error *err)
{
  struct curl_slist *list = NULL;
  size_t i;

  *out = NULL;
  for (i = 0; i < req->n_headers; i++) {
    const struct zpm_http_header *h = &req->headers[i];
    size_t nlen, vlen;
    char *line;
    struct curl_slist *next;

    if (!valid_token(h->name) || !valid_value(h->value)) {
      curl_slist_free_all(list);
      return zpm_error_set(err, ZPM_EINVAL, "invalid header '%s'",
                           h->name != NULL ? h->name : "(null)");
    }
    nlen = strlen(h->name);
    vlen = strlen(h->value);
    line = malloc(nlen + vlen + 3);
    if (line == NULL) {
      curl_slist_free_all(list);
      return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
    }
    memcpy(line, h->name, nlen);
    if (vlen == 0) {
      line[nlen] = ';';
      line[nlen + 1] = '\0';
    } else {
      line[nlen] = ':';
      line[nlen + 1] = ' ';
      memcpy(line + nlen + 2, h->value, vlen + 1);
    }
    next = curl_slist_append(list, line);
    free(line);
    if (next == NULL) {
      curl_slist_free_all(list);
      return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
    }
    list = next;
  }
  *out = list;
  return ZPM_OK;
}

/*
 * The URL for messages: without user:password@ and without the query or
 * fragment, which may carry signatures or tokens.
 */
static void safe_url(const char *url, char *out, size_t cap)
{
  const char *scheme = strstr(url, "://");
  const char *host = scheme != NULL ? scheme + 3 : url;
  size_t auth_end = strcspn(host, "/?#");
  const char *at = NULL;
  size_t i, len = 0;
  const char *p;

  for (i = 0; i < auth_end; i++) {
    if (host[i] == '@')
      at = host + i;
  }
  for (p = url; *p != '\0' && len + 1 < cap; p++) {
    if (at != NULL && p == host)
      p = at + 1;
    if (*p == '?' || *p == '#')
      break;
    out[len++] = *p;
  }
  out[len] = '\0';
}

#ifdef TRACK_SOCKETS
/* CURLOPT_OPENSOCKETFUNCTION: libcurl's socket, remembered. */
static curl_socket_t open_socket_cb(void *ud, curlsocktype purpose,
                                    struct curl_sockaddr *addr)
{
  struct zpm_http_session *s = ud;
  int fd;

  (void)purpose;
  fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd < 0)
    return CURL_SOCKET_BAD;
  if (s->n_socks == s->cap_socks) {
    size_t cap = s->cap_socks > 0 ? 2 * s->cap_socks : 16;
    curl_socket_t *p = realloc(s->socks, cap * sizeof(*p));

    if (p == NULL)
      return fd;                /* untracked: uploads count as sent */
    s->socks = p;
    s->cap_socks = cap;
  }
  s->socks[s->n_socks++] = fd;
  return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: forgotten, and closed. */
static int close_socket_cb(void *ud, curl_socket_t fd)
{
  struct zpm_http_session *s = ud;
  size_t i;

  for (i = 0; i < s->n_socks; i++) {
    if (s->socks[i] == fd) {
      s->socks[i] = s->socks[--s->n_socks];
      break;
    }
  }
  return close(fd);
}

/* CURLOPT_PREREQFUNCTION: the socket of the attempt, by its local port. */
static int prereq_cb(void *ud, char *primary_ip, char *local_ip,
                     int primary_port, int local_port)
{
  struct transfer *t = ud;
  struct zpm_http_session *s = t->s;
  size_t i;

  (void)primary_ip;
  (void)local_ip;
  (void)primary_port;
  t->sock = CURL_SOCKET_BAD;
  for (i = 0; i < s->n_socks; i++) {
    struct sockaddr_storage a;
    socklen_t len = sizeof(a);
    int port = -1;

    if (getsockname(s->socks[i], (struct sockaddr *)&a, &len) != 0)
      continue;
    if (a.ss_family == AF_INET)
      port = ntohs(((struct sockaddr_in *)&a)->sin_port);
    else if (a.ss_family == AF_INET6)
      port = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
    if (port == local_port) {
      t->sock = s->socks[i];
      break;
    }
  }
  return CURL_PREREQFUNC_OK;
}
#endif

static void set_common_options(struct transfer *t)
{
  struct zpm_http_session *s = t->s;
  const struct zpm_http_request *req = t->req;
  CURL *c = t->curl;

  curl_easy_reset(c);
  t->errbuf[0] = '\0';
  curl_easy_setopt(c, CURLOPT_PRIVATE, t);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                   (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_USERAGENT, s->user_agent);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)ZPM_HTTP_BUFFER_SIZE);
#if LIBCURL_VERSION_NUM >= 0x073e00
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)ZPM_HTTP_BUFFER_SIZE);
#endif
  if (s->connect_timeout_ms > 0)
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
  if (s->low_speed_limit > 0 && s->low_speed_time > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, s->low_speed_limit);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->low_speed_time);
  }
  if (s->insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (s->cacert != NULL)
    curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, t);
  curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
  curl_easy_setopt(c, CURLOPT_SEEKDATA, t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
#ifdef TRACK_SOCKETS
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, s);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, s);
  curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, prereq_cb);
  curl_easy_setopt(c, CURLOPT_PREREQDATA, t);
#endif
  if (s->trace != NULL) {
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, t);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  }
}

/*
 * The method decides how the body goes: POST through CURLOPT_POST, every
 * other method with a body (PUT first) as an upload. An unknown length
 * makes libcurl send the body chunked.
 */
static void set_method(struct transfer *t)
{
  const struct zpm_http_request *req = t->req;
  CURL *c = t->curl;
  const char *m = req->method;
  curl_off_t len = 0;

  if (req->body != NULL)
    len = (curl_off_t)zpm_source_length(req->body);
  if (strcmp(m, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (req->body == NULL)
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, len);
  } else if (strcmp(m, "PUT") == 0 || req->body != NULL) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, len);
    if (strcmp(m, "PUT") != 0)
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
  } else if (strcmp(m, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(m, "GET") == 0) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
  }
}

static int transient_code(CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return 1;
  default:
    return 0;
  }
}

/* 408 and 5xx; 429 and 498 (Swift's rate limiting) when asked to. */
static int transient_status(long status, int ratelimit)
{
  if (status == 429 || status == 498)
    return ratelimit;
  return status == 408 || (status >= 500 && status < 600);
}

static long long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "30", "0.25": ms as seconds, for messages. */
static void format_seconds(long ms, char *out, size_t cap)
{
  snprintf(out, cap, "%g", (double)ms / 1000.0);
}

static void begin_attempt(struct transfer *t)
{
  t->body_read = 0;
  t->received = 0;
  t->delivered = 0;
  t->status = 0;
  t->reason[0] = '\0';
  t->retry_after = -1;
  t->abort = ABORT_NONE;
  t->sink_errno = 0;
  t->error_body_len = 0;
  t->timed_out = LIMIT_NONE;
  t->sock = CURL_SOCKET_BAD;
}

static void fill_response(struct transfer *t, struct zpm_http_response *resp)
{
  const struct zpm_http_request *req = t->req;
  unsigned char digest[ZPM_MD5_DIGEST_SIZE];

  resp->status = t->status;
  memcpy(resp->reason, t->reason, sizeof(resp->reason));
  resp->sent = t->body_read;
  resp->received = t->received;
  resp->attempts = t->attempt;
  resp->has_md5 = req->body != NULL;
  resp->md5[0] = '\0';
  if (req->body != NULL && req->body_md5 != NULL) {
    snprintf(resp->md5, sizeof(resp->md5), "%s", req->body_md5);
  } else if (req->body != NULL) {
    struct zpm_md5 copy = { NULL };

    if (t->body_hashes)
      (void)zpm_source_md5(req->body, &copy);
    else
      (void)zpm_md5_copy(&copy, &t->md5);
    /* a failed copy finishes as zeroes, which match no Etag */
    zpm_md5_final(&copy, digest);
    zpm_md5_free(&copy);
    zpm_md5_hex(digest, resp->md5);
  }
  resp->error_body = NULL;
  resp->error_body_len = 0;
}

/*
 * " (after 3 attempts; no time left for a retry within the 30 s
 * deadline)": what a failure's message ends with, when anything.
 */
static void attempts_note(const struct transfer *t, int out_of_time,
                          char *out, size_t cap)
{
  char secs[32];

  out[0] = '\0';
  format_seconds(t->deadline_ms, secs, sizeof(secs));
  if (t->attempt > 1 && out_of_time)
    snprintf(out, cap, " (after %d attempts; no time left for a retry "
             "within the %s s deadline)", t->attempt, secs);
  else if (out_of_time)
    snprintf(out, cap, " (no time left for a retry within the %s s "
             "deadline)", secs);
  else if (t->attempt > 1)
    snprintf(out, cap, " (after %d attempts)", t->attempt);
}

static int network_error(struct transfer *t, CURLcode rc, int out_of_time,
                         struct zpm_error *err)
{
  const struct zpm_http_request *req = t->req;
  char url[256];
  char tries[160];
  const char *detail = t->errbuf;

  safe_url(req->url, url, sizeof(url));
  attempts_note(t, out_of_time, tries, sizeof(tries));
  /* libcurl's detail often ends with its strerror text already. */
  if (detail[0] == '\0' || strstr(detail, curl_easy_strerror(rc)) != NULL)
    zpm_error_set(err, ZPM_ENETWORK, "%s %s: %s%s", req->method, url,
                  detail[0] != '\0' ? detail : curl_easy_strerror(rc),
                  tries);
  else
    zpm_error_set(err, ZPM_ENETWORK, "%s %s: %s: %s%s", req->method, url,
                  curl_easy_strerror(rc), detail, tries);
  if (err != NULL)
    err->lib_code = (int)rc;
  return ZPM_ENETWORK;
}

static int abort_error(struct transfer *t, struct zpm_error *err)
{
  const struct zpm_http_request *req = t->req;
  const struct zpm_error *serr;
  char url[256];
  int status = ZPM_EIO;

  safe_url(req->url, url, sizeof(url));
  switch (t->abort) {
  case ABORT_SOURCE:
    /* A limit or a bad archive keeps its status; the rest is I/O. */
    serr = zpm_source_error(req->body);
    status = serr->status == ZPM_ELIMIT || serr->status == ZPM_EARCHIVE ?
             serr->status : ZPM_EIO;
    zpm_error_set(err, status, "%s %s: reading the request body: %s",
                  req->method, url, serr->message);
    if (err != NULL)
      err->lib_code = serr->lib_code;
    break;
  case ABORT_CANCEL:
    status = zpm_error_set(err, ZPM_ECANCELED, "%s %s: interrupted",
                           req->method, url);
    break;
  case ABORT_SINK:
    zpm_error_set(err, ZPM_EIO, "%s %s: writing the response body: %s",
                  req->method, url, strerror(t->sink_errno));
    if (err != NULL)
      err->lib_code = t->sink_errno;
    break;
  default:
    zpm_error_set(err, ZPM_EIO, "%s %s: aborted by a callback",
                  req->method, url);
    break;
  }
  return status;
}

/* --- time limits ------------------------------------------------------- */

/* A request's limit, else the session's: 0 for none. */
static long pick_limit(long request, long session)
{
  if (request == 0)
    return session;
  return request < 0 ? 0 : request;
}

/*
 * Bytes written to the attempt's socket that the peer has not
 * acknowledged yet, or 0 when that is unknown.
 */
static long long unacked(const struct transfer *t)
{
#ifdef TRACK_SOCKETS
  int queued = 0;

  if (t->sock != CURL_SOCKET_BAD && ioctl(t->sock, SIOCOUTQ, &queued) == 0
      && queued > 0)
    return queued;
#else
  (void)t;
#endif
  return 0;
}

/*
 * Bring t->moved up to date: body bytes received, and sent as far as
 * the peer acknowledged them (not as far as the socket took them: its
 * buffers can take megabytes at once, then drain at the network's
 * pace), from libcurl's counts, not from what the body source handed
 * over (libcurl reads ahead ZPM_HTTP_BUFFER_SIZE at a time).
 */
static void update_moved(struct transfer *t)
{
  curl_off_t up = 0, down = 0;
  long long queued;
  unsigned long long total;

  if (t->state != SLOT_RUNNING)
    return;
  curl_easy_getinfo(t->curl, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(t->curl, CURLINFO_SIZE_DOWNLOAD_T, &down);
  queued = up > 0 ? unacked(t) : 0;
  up = up > queued ? up - queued : 0;
  total = (unsigned long long)up + (unsigned long long)(down > 0 ? down : 0);
  /* A rewind (a resend on a stale connection) counts from zero again. */
  if (total > t->attempt_moved)
    t->moved += total - t->attempt_moved;
  t->attempt_moved = total;
}

/* Whether `bytes` moved in `span` ms is min_rate or faster. */
static int moved_fast(const struct transfer *t, unsigned long long bytes,
                      long long span)
{
  return t->min_rate > 0 && span > 0 &&
         bytes * 1000ULL >= (unsigned long long)t->min_rate *
                            (unsigned long long)span;
}

/*
 * End the window being measured if it lasted WINDOW_MS, or at once with
 * force: its time goes on the clocks unless the request moved fast.
 */
static void judge_window(struct transfer *t, long long now, int force)
{
  long long span = now - t->win_start;

  if (span <= 0 || (!force && span < WINDOW_MS))
    return;
  if (!moved_fast(t, t->moved - t->win_moved, span)) {
    t->attempt_slow += span;
    t->request_slow += span;
  }
  t->win_start = now;
  t->win_moved = t->moved;
}

/* A clock at now: the windows judged, and the one under way if slow. */
static long long clock_at(const struct transfer *t, long long judged,
                          long long now)
{
  long long span = now - t->win_start;

  if (span > 0 && !moved_fast(t, t->moved - t->win_moved, span))
    judged += span;
  return judged;
}

/*
 * Whether the attempt of slot t may be retried if it fails now: retries
 * left, nothing handed to the sink, and an idempotent request or one
 * that sent nothing yet (a job POST runs once).
 */
static int can_retry(const struct transfer *t)
{
  const struct zpm_http_request *req = t->req;
  long request_size = 0;
  int committed;

  curl_easy_getinfo(t->curl, CURLINFO_REQUEST_SIZE, &request_size);
  committed = req->body != NULL ? t->body_read > 0 : request_size > 0;
  return t->attempt <= req->retry.max_retries && t->delivered == 0 &&
         (req->idempotent || !committed);
}

/*
 * Whether the attempt's timeout applies: it is there to retry a hung
 * attempt, so under a deadline an attempt that could not be retried
 * anyway runs on to the deadline.
 */
static int attempt_limited(const struct transfer *t)
{
  return t->timeout_ms > 0 && (t->deadline_ms <= 0 || can_retry(t));
}

/* Which limit has run out at now, if any. */
static enum limit limit_reached(const struct transfer *t, long long now)
{
  if (t->deadline_ms > 0 &&
      clock_at(t, t->request_slow, now) >= t->deadline_ms)
    return LIMIT_DEADLINE;
  if (attempt_limited(t) &&
      clock_at(t, t->attempt_slow, now) >= t->timeout_ms)
    return LIMIT_ATTEMPT;
  return LIMIT_NONE;
}

/*
 * How long the run loop may sleep before slot t's limits need looking
 * at: the end of its window (when a rate can stop the clocks), or the
 * time left on a clock; -1 when it has no limit running.
 */
static long long limit_wait(const struct transfer *t, long long now)
{
  long long wait = -1, left;
  int limited;

  if (t->state != SLOT_RUNNING)
    return -1;
  limited = attempt_limited(t);
  if (t->deadline_ms <= 0 && !limited)
    return -1;
  if (t->min_rate > 0)
    wait = t->win_start + WINDOW_MS - now;
  if (t->deadline_ms > 0) {
    left = t->deadline_ms - clock_at(t, t->request_slow, now);
    if (wait < 0 || left < wait)
      wait = left;
  }
  if (limited) {
    left = t->timeout_ms - clock_at(t, t->attempt_slow, now);
    if (wait < 0 || left < wait)
      wait = left;
  }
  return wait < 0 ? 0 : wait;
}

/*
 * "GET <url>: no answer within 30 s (deadline; 3 attempts; --timeout)":
 * the request ran out of time (which: the limit; out_of_time: an attempt
 * timeout left no time for a retry before the deadline).
 */
static int timeout_error(struct transfer *t, enum limit which,
                         int out_of_time, struct zpm_error *err)
{
  const struct zpm_http_request *req = t->req;
  const char *note = t->s->timeout_note;
  char url[256];
  char secs[32], deadline[32];
  char tries[32];
  char late[96];

  safe_url(req->url, url, sizeof(url));
  format_seconds(which == LIMIT_DEADLINE ? t->deadline_ms : t->timeout_ms,
                 secs, sizeof(secs));
  format_seconds(t->deadline_ms, deadline, sizeof(deadline));
  tries[0] = '\0';
  if (t->attempt > 1)
    snprintf(tries, sizeof(tries), "; %d attempts", t->attempt);
  late[0] = '\0';
  if (out_of_time)
    snprintf(late, sizeof(late), "; no time left for a retry within the "
             "%s s deadline", deadline);
  zpm_error_set(err, ZPM_ENETWORK, "%s %s: %s within %s s (%s%s%s%s%s)",
                req->method, url,
                t->status >= 200 ? "no complete answer" : "no answer", secs,
                which == LIMIT_DEADLINE ? "deadline" : "attempt timeout",
                tries, late, note != NULL ? "; " : "",
                note != NULL ? note : "");
  if (err != NULL)
    err->lib_code = (int)CURLE_OPERATION_TIMEDOUT;
  return ZPM_ENETWORK;
}

/*
 * Tell the session's on_retry of the retry about to wait delay ms;
 * nonzero: the callback wants the request stopped.
 */
static int report_retry(struct transfer *t, CURLcode rc, long delay)
{
  const struct zpm_http_request *req = t->req;
  struct zpm_http_retry_event ev;
  char why[128];
  char url[256];

  if (t->s->on_retry == NULL)
    return 0;
  safe_url(req->url, url, sizeof(url));
  memset(&ev, 0, sizeof(ev));
  ev.method = req->method;
  ev.url = url;
  ev.attempt = t->attempt + 1;
  ev.max_attempts = req->retry.max_retries + 1;
  ev.delay_ms = delay;
  if (t->timed_out != LIMIT_NONE) {
    char secs[32];

    format_seconds(t->timeout_ms, secs, sizeof(secs));
    snprintf(why, sizeof(why), "%s within %s s (attempt timeout)",
             t->status >= 200 ? "no complete answer" : "no answer", secs);
    ev.reason = why;
  } else if (rc != CURLE_OK) {
    ev.reason = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
  } else {
    ev.status = t->status;
    ev.reason = t->reason;
  }
  return t->s->on_retry(t->s->retry_ud, &ev);
}

/* --- running jobs ---------------------------------------------------------- */

int zpm_http_check(const struct zpm_http_request *req,
                   struct zpm_error *err)
{
  size_t i;

  if (req == NULL || req->url == NULL || !valid_token(req->method))
    return zpm_error_set(err, ZPM_EINVAL, "invalid method or URL");
  if (req->retry.max_retries < 0 || req->retry.backoff_ms < 0 ||
      req->retry.max_backoff_ms < 0 || req->timeout_ms < ZPM_HTTP_NONE ||
      req->deadline_ms < ZPM_HTTP_NONE || req->min_rate < ZPM_HTTP_NONE)
    return zpm_error_set(err, ZPM_EINVAL, "negative retry or timeout");
  for (i = 0; i < req->n_headers; i++) {
    const struct zpm_http_header *h = &req->headers[i];

    if (!valid_token(h->name) || !valid_value(h->value))
      return zpm_error_set(err, ZPM_EINVAL, "invalid header '%s'",
                           h->name != NULL ? h->name : "(null)");
  }
  return ZPM_OK;
}

/* Hand an attempt to the multi handle; ZPM_OK or the job's failure. */
static int start_attempt(struct transfer *t)
{
  begin_attempt(t);
  if (zpm_md5_init(&t->md5) != ZPM_OK)
    return zpm_error_set(&t->job->err, ZPM_ENOMEM, "out of memory");
  if (t->attempt > 0 && t->req->body != NULL &&
      zpm_source_rewind(t->req->body) != ZPM_OK) {
    t->attempt++;
    t->abort = ABORT_SOURCE;
    return abort_error(t, &t->job->err);
  }
  t->attempt++;
  t->position = 0;
  judge_window(t, now_ms(), 1);
  t->attempt_slow = 0;
  t->attempt_moved = 0;
  set_common_options(t);
  set_method(t);
  if (curl_multi_add_handle(t->s->multi, t->curl) != CURLM_OK)
    return zpm_error_set(&t->job->err, ZPM_ENOMEM,
                         "cannot start a transfer");
  t->state = SLOT_RUNNING;
  return ZPM_OK;
}

static int job_failed(const struct zpm_http_job *job)
{
  return job->status != ZPM_OK || job->resp.status < 200 ||
         job->resp.status >= 300;
}

/* The job of slot t is over with status: record it, free the slot. */
static void finish_job(struct transfer *t, int status)
{
  struct zpm_http_job *job = t->job;
  struct run *run = t->run;

  fill_response(t, &job->resp);
  job->status = status;
  if (status == ZPM_OK && !zpm_http_is_2xx(t->status) &&
      t->error_body_len > 0) {
    job->error_body_copy = malloc(t->error_body_len);
    if (job->error_body_copy != NULL) {
      memcpy(job->error_body_copy, t->error_body, t->error_body_len);
      job->resp.error_body = job->error_body_copy;
      job->resp.error_body_len = t->error_body_len;
    }
  }
  if (job_failed(job) && run->stop_on_failure)
    run->stopping = 1;
  if (t->req->body != NULL)
    run->finished_position += zpm_source_position(t->req->body);
  curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  t->position = 0;
  t->state = SLOT_IDLE;
  t->job = NULL;
  t->req = NULL;
  t->run = NULL;
  if (run->progress != NULL)
    run->progress(run->progress_ud, run->finished_position, 0);
}

/*
 * libcurl asks for "100 Continue" before any body over 1 KiB: a round
 * trip more per request, which for many small uploads costs more than
 * sending a body the server then refuses. Below EXPECT_MIN_BODY bytes of
 * known length, send at once (unless the caller set Expect itself).
 */
#define EXPECT_MIN_BODY (1024 * 1024)

static int no_small_expect(struct transfer *t, struct zpm_error *err)
{
  const struct zpm_http_request *req = t->req;
  long long len;
  struct curl_slist *next;
  size_t i;

  if (req->body == NULL)
    return ZPM_OK;
  len = zpm_source_length(req->body);
  if (len < 0 || len >= EXPECT_MIN_BODY)
    return ZPM_OK;
  for (i = 0; i < req->n_headers; i++) {
    if (ascii_ieq(req->headers[i].name, strlen(req->headers[i].name),
                  "Expect"))
      return ZPM_OK;
  }
  next = curl_slist_append(t->headers, "Expect:");
  if (next == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  t->headers = next;
  return ZPM_OK;
}

/* Give the next job to an idle slot. */
static void start_job(struct run *run, struct transfer *t)
{
  struct zpm_http_job *job = &run->jobs[run->next++];
  int status;

  job->started = 1;
  t->run = run;
  t->job = job;
  t->req = job->req;
  t->attempt = 0;
  t->backoff = job->req->retry.backoff_ms;
  t->timeout_ms = pick_limit(t->req->timeout_ms, t->s->timeout_ms);
  t->deadline_ms = pick_limit(t->req->deadline_ms, t->s->deadline_ms);
  t->min_rate = pick_limit(t->req->min_rate, t->s->min_rate);
  t->moved = 0;
  t->win_start = now_ms();
  t->win_moved = 0;
  t->attempt_slow = 0;
  t->request_slow = 0;
  status = build_headers(t->req, &t->headers, &job->err);
  if (status == ZPM_OK)
    status = no_small_expect(t, &job->err);
  /* A read-ahead source hashes in its thread, in parallel with sending. */
  t->body_hashes = t->req->body != NULL &&
                   zpm_source_md5(t->req->body, &t->md5) == ZPM_OK;
  if (status == ZPM_OK)
    status = start_attempt(t);
  if (status != ZPM_OK) {
    t->state = SLOT_WAITING;    /* so that finish_job finds it busy */
    finish_job(t, status);
  }
}

/* How a failed attempt ends its job (no retry). */
static int attempt_failure(struct transfer *t, CURLcode rc, int out_of_time)
{
  if (t->timed_out != LIMIT_NONE)
    return timeout_error(t, t->timed_out, out_of_time, &t->job->err);
  return network_error(t, rc, out_of_time, &t->job->err);
}

/*
 * An attempt of slot t ended with rc (CURLE_OPERATION_TIMEDOUT and
 * t->timed_out when a time limit stopped it): finish the job or schedule
 * a retry, if the wait for it ends before the deadline.
 */
static void attempt_done(struct transfer *t, CURLcode rc)
{
  const struct zpm_http_request *req = t->req;
  long delay;
  long long now;
  int retry;

  curl_multi_remove_handle(t->s->multi, t->curl);
  t->state = SLOT_WAITING;
  if (t->abort != ABORT_NONE) {
    finish_job(t, abort_error(t, &t->job->err));
    return;
  }
  if (t->timed_out == LIMIT_DEADLINE) {
    finish_job(t, attempt_failure(t, rc, 0));
    return;
  }
  retry = can_retry(t);
  if (rc != CURLE_OK) {
    if (!retry || !transient_code(rc)) {
      finish_job(t, attempt_failure(t, rc, 0));
      return;
    }
    delay = t->backoff;
  } else {
    if (!retry || !transient_status(t->status, req->retry.ratelimit)) {
      finish_job(t, ZPM_OK);
      return;
    }
    delay = t->backoff;
    if (t->retry_after >= 0)
      delay = t->retry_after * 1000L;
  }
  if (delay > req->retry.max_backoff_ms)
    delay = req->retry.max_backoff_ms;
  /* The wait is on the deadline's clock: no retry that cannot start. */
  now = now_ms();
  if (t->deadline_ms > 0 &&
      clock_at(t, t->request_slow, now) + delay >= t->deadline_ms) {
    finish_job(t, rc != CURLE_OK ? attempt_failure(t, rc, 1) : ZPM_OK);
    return;
  }
  t->backoff = t->backoff > req->retry.max_backoff_ms / 2 ?
               req->retry.max_backoff_ms : t->backoff * 2;
  if (report_retry(t, rc, delay) != 0) {
    t->abort = ABORT_CALLBACK;
    finish_job(t, abort_error(t, &t->job->err));
    return;
  }
  t->due_ms = now + delay;
}

/*
 * Stop the attempt of slot t if a time limit ran out (returns 1); between
 * attempts only the clocks move (a wait never passes the deadline).
 */
static int check_limits(struct transfer *t, long long now)
{
  enum limit which;

  if (t->state == SLOT_IDLE || t->job == NULL)
    return 0;
  update_moved(t);
  judge_window(t, now, 0);
  if (t->state != SLOT_RUNNING)
    return 0;
  which = limit_reached(t, now);
  if (which == LIMIT_NONE)
    return 0;
  t->timed_out = which;
  attempt_done(t, CURLE_OPERATION_TIMEDOUT);
  return 1;
}

int zpm_http_run(struct zpm_http_session *s, struct zpm_http_job *jobs,
                 size_t n, const struct zpm_http_run_options *options)
{
  static const struct zpm_http_run_options defaults;
  struct run run;
  size_t i, slots;
  int active = 0;

  if (options == NULL)
    options = &defaults;
  if (s->busy || options->concurrency < 0)
    return ZPM_EINVAL;
  for (i = 0; i < n; i++) {
    jobs[i].started = 0;
    jobs[i].status = ZPM_OK;
    jobs[i].error_body_copy = NULL;
    memset(&jobs[i].resp, 0, sizeof(jobs[i].resp));
    zpm_error_clear(&jobs[i].err);
    if (zpm_http_check(jobs[i].req, &jobs[i].err) != ZPM_OK) {
      jobs[i].status = ZPM_EINVAL;
      return ZPM_EINVAL;
    }
  }
  slots = options->concurrency > 0 ? (size_t)options->concurrency : 1;
  if (slots > n)
    slots = n;
  if (grow_slots(s, slots) != ZPM_OK)
    return ZPM_ENOMEM;
  memset(&run, 0, sizeof(run));
  run.jobs = jobs;
  run.n = n;
  run.stop_on_failure = options->stop_on_failure;
  run.progress = options->progress;
  run.progress_ud = options->progress_ud;
  run.finished_position = options->progress_base;
  s->busy = 1;
  for (;;) {
    long long now = now_ms();
    long long sleep_ms;
    int running = 0, queued;
    CURLMsg *msg;

    /* Fill idle slots; restart the retries that are due. Once
     * cancelled, start nothing: a retry waiting fails at once, and the
     * transfers under way stop in xferinfo_cb. */
    if (zpm_cancelled(s->cancel))
      run.stopping = 1;
    active = 0;
    for (i = 0; i < slots; i++) {
      struct transfer *t = s->slots[i];

      if (run.stopping && zpm_cancelled(s->cancel)
          && t->state == SLOT_WAITING && t->job != NULL) {
        t->abort = ABORT_CANCEL;
        finish_job(t, abort_error(t, &t->job->err));
      }

      if (t->state == SLOT_IDLE && run.next < run.n && !run.stopping)
        start_job(&run, t);
      if (t->state == SLOT_WAITING && t->job != NULL) {
        if (t->due_ms <= now) {
          int status = start_attempt(t);

          if (status != ZPM_OK)
            finish_job(t, status);
        }
      }
      if (t->state != SLOT_IDLE)
        active++;
    }
    if (active == 0 && (run.next >= run.n || run.stopping))
      break;
    curl_multi_perform(s->multi, &running);
    while ((msg = curl_multi_info_read(s->multi, &queued)) != NULL) {
      struct transfer *t = NULL;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      attempt_done(t, msg->data.result);
    }
    /* Time limits; then sleep until a retry is due, a limit may run out
     * or a window ends, at most a second (not at all when an attempt was
     * stopped: its slot may take the next job at once). */
    now = now_ms();
    sleep_ms = -1;
    for (i = 0; i < slots; i++) {
      struct transfer *t = s->slots[i];
      long long w;

      if (check_limits(t, now))
        sleep_ms = 0;
      if (t->state == SLOT_WAITING && t->job != NULL)
        w = t->due_ms > now ? t->due_ms - now : 0;
      else
        w = limit_wait(t, now);
      if (w >= 0 && (sleep_ms < 0 || w < sleep_ms))
        sleep_ms = w;
    }
    if (running > 0 || sleep_ms >= 0) {
      long wait = 1000;

      if (sleep_ms >= 0 && sleep_ms < wait)
        wait = (long)sleep_ms;
      curl_multi_poll(s->multi, NULL, 0, (int)wait, NULL);
    }
  }
  s->busy = 0;
  if (zpm_cancelled(s->cancel)) {
    for (i = 0; i < n; i++) {
      if (!jobs[i].started)
        jobs[i].status = zpm_error_set(&jobs[i].err, ZPM_ECANCELED,
                                       "interrupted");
    }
  }
  if (run.progress != NULL)
    run.progress(run.progress_ud, run.finished_position, 0);
  return ZPM_OK;
}

void zpm_http_jobs_release(struct zpm_http_job *jobs, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    free(jobs[i].error_body_copy);
    jobs[i].error_body_copy = NULL;
    jobs[i].resp.error_body = NULL;
    jobs[i].resp.error_body_len = 0;
  }
}

int zpm_http_request(struct zpm_http_session *s,
                     const struct zpm_http_request *req,
                     struct zpm_http_response *resp,
                     struct zpm_error *err)
{
  struct zpm_http_job job;
  int status;

  memset(resp, 0, sizeof(*resp));
  memset(&job, 0, sizeof(job));
  job.req = req;
  status = zpm_http_run(s, &job, 1, NULL);
  if (status == ZPM_EINVAL && job.err.status == ZPM_OK)
    zpm_error_set(&job.err, ZPM_EINVAL, "the session is busy");
  if (status == ZPM_ENOMEM)
    zpm_error_set(&job.err, ZPM_ENOMEM, "out of memory");
  if (status == ZPM_OK)
    status = job.status;
  *resp = job.resp;
  /* The session's copy: valid until its next request. */
  s->error_body_len = 0;
  if (job.resp.error_body_len > 0) {
    memcpy(s->error_body, job.resp.error_body, job.resp.error_body_len);
    s->error_body_len = job.resp.error_body_len;
    resp->error_body = s->error_body;
    resp->error_body_len = s->error_body_len;
  }
  zpm_http_jobs_release(&job, 1);
  if (status != ZPM_OK && err != NULL)
    *err = job.err;
  return status;
}
