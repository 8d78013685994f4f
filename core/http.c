/*
 * HTTP requests on one reused libcurl easy handle: streaming bodies from
 * sources, 2xx bodies to a sink, retries with backoff, MD5 of what was
 * sent, and a redacted debug trace.
 */
#include "zpm/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/* Longest trace line handed to the trace callback; longer ones are cut. */
#define TRACE_LINE_MAX 2048

enum abort_reason {
  ABORT_NONE = 0,
  ABORT_SOURCE,     /* the body source failed */
  ABORT_SINK,       /* the caller's sink refused the bytes */
  ABORT_CALLBACK    /* a header or trace callback asked to stop */
};

struct zpm_http_session {
  CURL *curl;
  long connect_timeout_ms;
  long low_speed_limit;
  long low_speed_time;
  int insecure;
  char *cacert;
  char *user_agent;
  zpm_http_trace_fn trace;
  void *trace_ud;
  char errbuf[CURL_ERROR_SIZE];
  char trace_line[TRACE_LINE_MAX];

  /* The request in progress and its current attempt. */
  const struct zpm_http_request *req;
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
  char *error_body;               /* ZPM_HTTP_ERROR_BODY_MAX bytes */
  size_t error_body_len;
};

static char *copy_string(const char *s)
{
  size_t len;
  char *p;

  if (s == NULL)
    return NULL;
  len = strlen(s) + 1;
  p = malloc(len);
  if (p != NULL)
    memcpy(p, s, len);
  return p;
}

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
  int fd = *(const int *)ud;
  const char *p = buf;

  while (len > 0) {
    ssize_t n = write(fd, p, len);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
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
      options->low_speed_time < 0)
    return zpm_error_set(err, ZPM_EINVAL, "negative timeout or limit");
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return zpm_error_set(err, ZPM_ENETWORK, "curl_global_init failed");
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  s->connect_timeout_ms = options->connect_timeout_ms;
  s->low_speed_limit = options->low_speed_limit;
  s->low_speed_time = options->low_speed_time;
  s->insecure = options->insecure;
  s->trace = options->trace;
  s->trace_ud = options->trace_ud;
  s->cacert = copy_string(options->cacert);
  s->user_agent = copy_string(options->user_agent != NULL ?
                              options->user_agent : "zpm");
  s->error_body = malloc(ZPM_HTTP_ERROR_BODY_MAX);
  s->curl = curl_easy_init();
  if ((options->cacert != NULL && s->cacert == NULL) ||
      s->user_agent == NULL || s->error_body == NULL || s->curl == NULL) {
    zpm_http_session_free(s);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  *out = s;
  return ZPM_OK;
}

void zpm_http_session_free(struct zpm_http_session *s)
{
  if (s == NULL)
    return;
  if (s->curl != NULL) {
    /* No trace from the cleanup: the trace's owner may be going away. */
    curl_easy_setopt(s->curl, CURLOPT_VERBOSE, 0L);
    curl_easy_cleanup(s->curl);
    curl_global_cleanup();
  }
  free(s->cacert);
  free(s->user_agent);
  free(s->error_body);
  free(s);
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

static void trace_emit(struct zpm_http_session *s, const char *prefix,
                       const char *line, size_t n, int headers)
{
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
      s->abort == ABORT_NONE)
    s->abort = ABORT_CALLBACK;
}

/*
 * CURLOPT_DEBUGFUNCTION: pass on connection info and header lines, one
 * line at a time with secrets redacted; never body or TLS data.
 */
static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
                    void *ud)
{
  struct zpm_http_session *s = ud;
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
      trace_emit(s, prefix, data, n, headers);
    data += used;
    size -= used;
  }
  return 0;
}

/* --- transfer callbacks -------------------------------------------------- */

static int is_space(char c)
{
  return c == ' ' || c == '\t';
}

/* "HTTP/1.1 200 OK": remember status and reason, reset per-response. */
static void parse_status_line(struct zpm_http_session *s, const char *p,
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
  if (rlen >= sizeof(s->reason))
    rlen = sizeof(s->reason) - 1;
  memcpy(s->reason, p + i, rlen);
  s->reason[rlen] = '\0';
  s->status = code;
  s->retry_after = -1;
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
  struct zpm_http_session *s = ud;
  const struct zpm_http_request *req = s->req;
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
    parse_status_line(s, buf, n);
    if (req->on_header != NULL)
      rc = req->on_header(req->header_ud, NULL, 0, s->reason,
                          strlen(s->reason));
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
      s->retry_after = parse_retry_after(value, value_len);
    if (req->on_header != NULL)
      rc = req->on_header(req->header_ud, buf, name_len, value, value_len);
  }
  if (rc != 0) {
    if (s->abort == ABORT_NONE)
      s->abort = ABORT_CALLBACK;
    return 0;
  }
  return total;
}

static int is_2xx(long status)
{
  return status >= 200 && status < 300;
}

static size_t write_cb(char *buf, size_t size, size_t nitems, void *ud)
{
  struct zpm_http_session *s = ud;
  const struct zpm_http_request *req = s->req;
  size_t len = size * nitems;
  int rc;

  if (s->abort != ABORT_NONE)
    return 0;
  s->received += len;
  if (!is_2xx(s->status)) {
    size_t room = ZPM_HTTP_ERROR_BODY_MAX - s->error_body_len;
    size_t take = len < room ? len : room;

    memcpy(s->error_body + s->error_body_len, buf, take);
    s->error_body_len += take;
    return len;
  }
  s->delivered += len;
  if (req->sink == NULL || len == 0)
    return len;
  rc = req->sink(req->sink_ud, buf, len);
  if (rc != 0) {
    s->abort = ABORT_SINK;
    s->sink_errno = rc;
    return 0;
  }
  return len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
  struct zpm_http_session *s = ud;
  struct zpm_source *body = s->req->body;
  size_t got = 0;

  if (s->abort != ABORT_NONE)
    return CURL_READFUNC_ABORT;
  if (body == NULL)
    return 0;
  if (zpm_source_read(body, buf, size * nitems, &got) != ZPM_OK) {
    s->abort = ABORT_SOURCE;
    return CURL_READFUNC_ABORT;
  }
  if (!s->body_hashes)
    zpm_md5_update(&s->md5, buf, got);
  s->body_read += got;
  return got;
}

/* libcurl rewinds by itself when it resends on a stale connection. */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
  struct zpm_http_session *s = ud;
  struct zpm_source *body = s->req->body;

  if (offset != 0 || origin != SEEK_SET)
    return CURL_SEEKFUNC_CANTSEEK;
  if (body != NULL && zpm_source_rewind(body) != ZPM_OK) {
    s->abort = ABORT_SOURCE;
    return CURL_SEEKFUNC_FAIL;
  }
  zpm_md5_init(&s->md5);
  s->body_read = 0;
  return CURL_SEEKFUNC_OK;
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  struct zpm_http_session *s = ud;

  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  return s->abort != ABORT_NONE;
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

static void set_common_options(struct zpm_http_session *s,
                               const struct zpm_http_request *req,
                               struct curl_slist *headers)
{
  CURL *c = s->curl;

  curl_easy_reset(c);
  s->errbuf[0] = '\0';
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                   (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_USERAGENT, s->user_agent);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
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
  if (req->timeout_ms > 0)
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
  if (s->insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (s->cacert != NULL)
    curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, s);
  curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
  curl_easy_setopt(c, CURLOPT_SEEKDATA, s);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  if (s->trace != NULL) {
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, s);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  }
}

/*
 * The method decides how the body goes: POST through CURLOPT_POST, every
 * other method with a body (PUT first) as an upload. An unknown length
 * makes libcurl send the body chunked.
 */
static void set_method(struct zpm_http_session *s,
                       const struct zpm_http_request *req)
{
  CURL *c = s->curl;
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

static int transient_status(long status)
{
  return status == 408 || status == 429 || (status >= 500 && status < 600);
}

static void sleep_ms(long ms)
{
  struct timespec ts;

  if (ms <= 0)
    return;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    continue;
}

static void begin_attempt(struct zpm_http_session *s)
{
  zpm_md5_init(&s->md5);
  s->body_read = 0;
  s->received = 0;
  s->delivered = 0;
  s->status = 0;
  s->reason[0] = '\0';
  s->retry_after = -1;
  s->abort = ABORT_NONE;
  s->sink_errno = 0;
  s->error_body_len = 0;
}

static void fill_response(struct zpm_http_session *s,
                          const struct zpm_http_request *req,
                          struct zpm_http_response *resp, int attempts)
{
  unsigned char digest[ZPM_MD5_DIGEST_SIZE];

  resp->status = s->status;
  memcpy(resp->reason, s->reason, sizeof(resp->reason));
  resp->sent = s->body_read;
  resp->received = s->received;
  resp->attempts = attempts;
  resp->has_md5 = req->body != NULL;
  resp->md5[0] = '\0';
  if (req->body != NULL) {
    struct zpm_md5 copy = s->md5;

    if (s->body_hashes)
      zpm_source_md5(req->body, &copy);
    zpm_md5_final(&copy, digest);
    zpm_md5_hex(digest, resp->md5);
  }
  resp->error_body = is_2xx(s->status) ? NULL : s->error_body;
  resp->error_body_len = is_2xx(s->status) ? 0 : s->error_body_len;
}

static int network_error(struct zpm_http_session *s,
                         const struct zpm_http_request *req, CURLcode rc,
                         int attempts, struct zpm_error *err)
{
  char url[256];
  char tries[48];
  const char *detail = s->errbuf;

  safe_url(req->url, url, sizeof(url));
  tries[0] = '\0';
  if (attempts > 1)
    snprintf(tries, sizeof(tries), " (after %d attempts)", attempts);
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

static int abort_error(struct zpm_http_session *s,
                       const struct zpm_http_request *req,
                       struct zpm_error *err)
{
  const struct zpm_error *serr;
  char url[256];
  int status = ZPM_EIO;

  safe_url(req->url, url, sizeof(url));
  switch (s->abort) {
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
  case ABORT_SINK:
    zpm_error_set(err, ZPM_EIO, "%s %s: writing the response body: %s",
                  req->method, url, strerror(s->sink_errno));
    if (err != NULL)
      err->lib_code = s->sink_errno;
    break;
  default:
    zpm_error_set(err, ZPM_EIO, "%s %s: aborted by a callback",
                  req->method, url);
    break;
  }
  return status;
}

int zpm_http_request(struct zpm_http_session *s,
                     const struct zpm_http_request *req,
                     struct zpm_http_response *resp,
                     struct zpm_error *err)
{
  struct curl_slist *headers = NULL;
  long backoff, delay;
  int attempt;
  int status;

  memset(resp, 0, sizeof(*resp));
  if (req->url == NULL || !valid_token(req->method))
    return zpm_error_set(err, ZPM_EINVAL, "invalid method or URL");
  if (req->retry.max_retries < 0 || req->retry.backoff_ms < 0 ||
      req->retry.max_backoff_ms < 0 || req->timeout_ms < 0)
    return zpm_error_set(err, ZPM_EINVAL, "negative retry or timeout");
  status = build_headers(req, &headers, err);
  if (status != ZPM_OK)
    return status;
  s->req = req;
  /* A read-ahead source hashes in its thread, in parallel with sending. */
  s->body_hashes = req->body != NULL &&
                   zpm_source_md5(req->body, &s->md5) == ZPM_OK;
  backoff = req->retry.backoff_ms;
  for (attempt = 1;; attempt++) {
    CURLcode rc;
    int committed, retry;
    long request_size = 0;

    begin_attempt(s);
    if (attempt > 1 && req->body != NULL &&
        zpm_source_rewind(req->body) != ZPM_OK) {
      s->abort = ABORT_SOURCE;
      status = abort_error(s, req, err);
      break;
    }
    set_common_options(s, req, headers);
    set_method(s, req);
    rc = curl_easy_perform(s->curl);
    fill_response(s, req, resp, attempt);
    if (s->abort != ABORT_NONE) {
      status = abort_error(s, req, err);
      break;
    }
    curl_easy_getinfo(s->curl, CURLINFO_REQUEST_SIZE, &request_size);
    committed = req->body != NULL ? s->body_read > 0 : request_size > 0;
    retry = attempt <= req->retry.max_retries && s->delivered == 0 &&
            (req->idempotent || !committed);
    if (rc != CURLE_OK) {
      if (!retry || !transient_code(rc)) {
        status = network_error(s, req, rc, attempt, err);
        break;
      }
      delay = backoff;
    } else {
      if (!retry || !transient_status(s->status)) {
        status = ZPM_OK;
        break;
      }
      delay = backoff;
      if (s->retry_after >= 0)
        delay = s->retry_after * 1000L;
    }
    if (delay > req->retry.max_backoff_ms)
      delay = req->retry.max_backoff_ms;
    sleep_ms(delay);
    backoff = backoff > req->retry.max_backoff_ms / 2 ?
              req->retry.max_backoff_ms : backoff * 2;
  }
  /* Drop the pointers into this request before it goes away. */
  curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
  s->req = NULL;
  curl_slist_free_all(headers);
  return status;
}
