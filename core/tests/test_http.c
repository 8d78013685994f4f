/*
 * The HTTP layer against a tiny HTTP/1.1 server this test runs on
 * 127.0.0.1 in threads: a fault stub for what a real server won't show
 * on demand (503 then 200, a 500 storm, resets mid-upload, a stall,
 * Retry-After, a server that never answers, one that drips a byte at a
 * time, one that reads a body slowly), plus chunked uploads, keep-alive
 * reuse and the redacted trace. Backoffs and time limits are in
 * milliseconds so the whole run stays fast.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "check.h"
#include "zpm/http.h"
#include "zpm/digest.h"
#include "zpm/body.h"
#include "zpm/source.h"

/* --- the stub server ----------------------------------------------------- */

enum mode {
  MODE_OK,          /* 200, echoes what it received in headers */
  MODE_FLAKY,       /* 503 twice, then 200 */
  MODE_STORM,       /* always 500 */
  MODE_RETRY_AFTER, /* 503 with Retry-After: 1 once, then 200 */
  MODE_STALL,       /* 200 with 10 of 100 bytes, then silence */
  MODE_RESET,       /* first request: reset after 100 KiB of body */
  MODE_ERROR_BODY,  /* 404 with a 100 KiB body */
  MODE_SECRETS,     /* 200 with secret and repeated response headers */
  MODE_RATELIMIT    /* 429, then 498, then 200 */
};

#define MAX_CONNS 64

struct server {
  int listen_fd;
  int port;
  pthread_t acceptor;
  pthread_t conns[MAX_CONNS];
  int n_conns;
  pthread_mutex_t lock;
  /* Under lock: */
  int stop;
  enum mode mode;
  int requests;         /* requests seen since the mode was set */
  int connections;      /* connections accepted since then */
  long long body_len;   /* last request's body */
  char body_md5[33];
  int chunked;
  char method[16];
  char head[8192];      /* last request's header block */
};

struct conn {
  struct server *srv;
  int fd;
  unsigned char buf[65536];
  size_t pos, len;
  int slow;             /* read 8 KiB every 5 ms (about 1.6 MB/s) */
  struct zpm_md5 md5;   /* of the body of the request being served */
};

static int srv_stopping(struct server *srv)
{
  int stop;

  pthread_mutex_lock(&srv->lock);
  stop = srv->stop;
  pthread_mutex_unlock(&srv->lock);
  return stop;
}

/* Wait until fd is readable: 1, or 0 on stop/timeout. */
static int wait_readable(struct server *srv, int fd, int timeout_ms)
{
  struct pollfd p;
  int waited = 0;

  while (waited < timeout_ms) {
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 50) > 0)
      return 1;
    if (srv_stopping(srv))
      return 0;
    waited += 50;
  }
  return 0;
}

static int conn_fill(struct conn *c)
{
  ssize_t n;

  if (c->pos < c->len)
    return 1;
  if (!wait_readable(c->srv, c->fd, 5000))
    return 0;
  if (c->slow) {
    struct timespec ts = { 0, 5 * 1000 * 1000 };

    nanosleep(&ts, NULL);
  }
  n = recv(c->fd, c->buf, c->slow ? 8192 : sizeof(c->buf), 0);
  if (n <= 0)
    return 0;
  c->pos = 0;
  c->len = (size_t)n;
  return 1;
}

/* One line without CRLF into out; 0 on EOF. */
static int conn_line(struct conn *c, char *out, size_t cap)
{
  size_t n = 0;

  for (;;) {
    unsigned char ch;

    if (!conn_fill(c))
      return 0;
    ch = c->buf[c->pos++];
    if (ch == '\n')
      break;
    if (n + 1 < cap)
      out[n++] = (char)ch;
  }
  if (n > 0 && out[n - 1] == '\r')
    n--;
  out[n] = '\0';
  return 1;
}

/* Consume up to n body bytes into the MD5; returns bytes consumed. */
static long long conn_body(struct conn *c, long long n, struct zpm_md5 *md5)
{
  long long done = 0;

  while (done < n) {
    size_t take;

    if (!conn_fill(c))
      break;
    take = c->len - c->pos;
    if ((long long)take > n - done)
      take = (size_t)(n - done);
    zpm_md5_update(md5, c->buf + c->pos, take);
    c->pos += take;
    done += (long long)take;
  }
  return done;
}

static int send_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static unsigned char pattern_byte(long long i)
{
  return (unsigned char)((i * 31 + 7) & 0xff);
}

static int send_response(int fd, int status, const char *reason,
                         const char *extra, long long body_len)
{
  char head[1024];
  unsigned char chunk[8192];
  long long i = 0;
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Length: %lld\r\n%s\r\n",
                   status, reason, body_len, extra);

  if (send_all(fd, head, (size_t)n) != 0)
    return -1;
  while (i < body_len) {
    size_t k, m = sizeof(chunk);

    if ((long long)m > body_len - i)
      m = (size_t)(body_len - i);
    for (k = 0; k < m; k++)
      chunk[k] = pattern_byte(i + (long long)k);
    if (send_all(fd, chunk, m) != 0)
      return -1;
    i += (long long)m;
  }
  return 0;
}

static int has_header(const char *head, const char *line)
{
  return strstr(head, line) != NULL;
}

/* Sleep ms, in steps that notice the server stopping; 0 if it did. */
static int srv_sleep(struct server *srv, int ms)
{
  struct timespec ts = { 0, 10 * 1000 * 1000 };
  int slept;

  for (slept = 0; slept < ms; slept += 10) {
    if (srv_stopping(srv))
      return 0;
    nanosleep(&ts, NULL);
  }
  return 1;
}

/*
 * /hang: read the request head and nothing more, answer nothing, for 5 s
 * at most (a body is left to fill the socket buffers).
 */
static int serve_hang(struct conn *c)
{
  srv_sleep(c->srv, 5000);
  return 0;
}

/*
 * /drip: a 200 whose 100000-byte body comes a byte every 50 ms, until
 * the client goes or 5 s pass.
 */
static int serve_drip(struct conn *c)
{
  static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000"
                             "\r\n\r\n";
  int i;

  if (send_all(c->fd, head, sizeof(head) - 1) != 0)
    return 0;
  for (i = 0; i < 100; i++) {
    if (!srv_sleep(c->srv, 50) || send_all(c->fd, "x", 1) != 0)
      return 0;
  }
  return 0;
}

/* One request on c; returns 1 to keep the connection, 0 to close it. */
static int serve_one(struct conn *c)
{
  struct server *srv = c->srv;
  char line[4096];
  char head[8192];
  char method[16];
  char path[1024];
  char extra[512];
  size_t hlen = 0;
  long long clen = 0, got = 0;
  int chunked, expect, index;
  enum mode mode;
  unsigned char digest[16];
  char hex[33];
  long long reply_len = 0;

  if (!conn_line(c, line, sizeof(line)))
    return 0;
  if (sscanf(line, "%15s %1023s", method, path) != 2)
    return 0;
  head[0] = '\0';
  for (;;) {
    size_t n;

    if (!conn_line(c, line, sizeof(line)))
      return 0;
    if (line[0] == '\0')
      break;
    n = strlen(line);
    if (hlen + n + 2 < sizeof(head)) {
      memcpy(head + hlen, line, n);
      head[hlen + n] = '\n';
      hlen += n + 1;
      head[hlen] = '\0';
    }
    if (strncasecmp(line, "Content-Length:", 15) == 0)
      clen = atoll(line + 15);
  }
  chunked = has_header(head, "Transfer-Encoding: chunked");
  expect = has_header(head, "Expect: 100-continue");
  if (strncmp(path, "/hang", 5) == 0) {
    pthread_mutex_lock(&srv->lock);
    srv->requests++;
    pthread_mutex_unlock(&srv->lock);
    return serve_hang(c);
  }
  c->slow = strncmp(path, "/slowread", 9) == 0;

  pthread_mutex_lock(&srv->lock);
  mode = srv->mode;
  index = srv->requests++;
  pthread_mutex_unlock(&srv->lock);

  if (expect && send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
    return 0;
  zpm_md5_init(&c->md5);
  if (mode == MODE_RESET && index == 0) {
    struct linger lg = { 1, 0 };

    conn_body(c, 100 * 1024, &c->md5);
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    return 0;
  }
  if (chunked) {
    for (;;) {
      long long size;

      if (!conn_line(c, line, sizeof(line)))
        return 0;
      size = strtoll(line, NULL, 16);
      if (size == 0)
        break;
      if (conn_body(c, size, &c->md5) != size)
        return 0;
      got += size;
      if (!conn_line(c, line, sizeof(line)))
        return 0;
    }
    do {
      if (!conn_line(c, line, sizeof(line)))
        return 0;
    } while (line[0] != '\0');
  } else if (clen > 0) {
    got = conn_body(c, clen, &c->md5);
    if (got != clen)
      return 0;
  }
  zpm_md5_final(&c->md5, digest);
  zpm_md5_hex(digest, hex);

  pthread_mutex_lock(&srv->lock);
  srv->body_len = got;
  memcpy(srv->body_md5, hex, sizeof(hex));
  srv->chunked = chunked;
  snprintf(srv->method, sizeof(srv->method), "%s", method);
  memcpy(srv->head, head, hlen + 1);
  pthread_mutex_unlock(&srv->lock);

  if (strncmp(path, "/drip", 5) == 0)
    return serve_drip(c);
  if (strncmp(path, "/bytes/", 7) == 0)
    reply_len = atoll(path + 7);
  snprintf(extra, sizeof(extra), "X-Body-Md5: %s\r\nX-Body-Length: %lld\r\n",
           hex, got);
  switch (mode) {
  case MODE_FLAKY:
    if (index < 2)
      return send_response(c->fd, 503, "Service Unavailable", "", 9) == 0;
    break;
  case MODE_STORM:
    return send_response(c->fd, 500, "Internal Server Error", "", 5) == 0;
  case MODE_RETRY_AFTER:
    if (index == 0)
      return send_response(c->fd, 503, "Busy", "Retry-After: 1\r\n", 0) ==
             0;
    break;
  case MODE_STALL:
    send_all(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
             "0123456789", 50);
    wait_readable(srv, c->fd, 4000);
    return 0;
  case MODE_ERROR_BODY:
    return send_response(c->fd, 404, "Not Found", "", 100 * 1024) == 0;
  case MODE_RATELIMIT:
    if (index == 0)
      return send_response(c->fd, 429, "Too Many Requests", "", 0) == 0;
    if (index == 1)
      return send_response(c->fd, 498, "Rate Limited", "", 0) == 0;
    break;
  case MODE_SECRETS:
    snprintf(extra, sizeof(extra),
             "Set-Cookie: session=cookiesecret\r\n"
             "x-subject-token: subjectsecret\r\n"
             "X-Dup: one\r\nX-Dup: two\r\nX-Visible: shown\r\n");
    break;
  default:
    break;
  }
  if (send_response(c->fd, 200, "OK", extra, reply_len) != 0)
    return 0;
  return !has_header(head, "Connection: close");
}

static void *conn_main(void *arg)
{
  struct conn *c = arg;

  while (serve_one(c))
    continue;
  close(c->fd);
  zpm_md5_free(&c->md5);
  free(c);
  return NULL;
}

static void *acceptor_main(void *arg)
{
  struct server *srv = arg;

  for (;;) {
    struct conn *c;
    int fd;

    if (!wait_readable(srv, srv->listen_fd, 1 << 30))
      break;
    fd = accept(srv->listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    c = calloc(1, sizeof(*c));
    c->srv = srv;
    c->fd = fd;
    pthread_mutex_lock(&srv->lock);
    srv->connections++;
    if (srv->n_conns < MAX_CONNS &&
        pthread_create(&srv->conns[srv->n_conns], NULL, conn_main, c) == 0) {
      srv->n_conns++;
    } else {
      close(fd);
      free(c);
    }
    pthread_mutex_unlock(&srv->lock);
  }
  return NULL;
}

static int server_start(struct server *srv)
{
  struct sockaddr_in addr;
  socklen_t alen = sizeof(addr);
  int one = 1;
  int rcvbuf = 32 * 1024;
  int mss = 1448;

  memset(srv, 0, sizeof(*srv));
  pthread_mutex_init(&srv->lock, NULL);
  srv->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (srv->listen_fd < 0)
    return -1;
  setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  /* An Ethernet's segment size and a small receive buffer (inherited by
   * the connections), so that a body the server reads slowly moves at
   * that pace into the client's socket, as over a slow network, not in
   * megabytes at once as over loopback (64 KiB segments). */
  setsockopt(srv->listen_fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
  setsockopt(srv->listen_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
             sizeof(rcvbuf));
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(srv->listen_fd, 16) != 0 ||
      getsockname(srv->listen_fd, (struct sockaddr *)&addr, &alen) != 0)
    return -1;
  srv->port = ntohs(addr.sin_port);
  return pthread_create(&srv->acceptor, NULL, acceptor_main, srv);
}

static void server_stop(struct server *srv)
{
  int i;

  pthread_mutex_lock(&srv->lock);
  srv->stop = 1;
  pthread_mutex_unlock(&srv->lock);
  pthread_join(srv->acceptor, NULL);
  for (i = 0; i < srv->n_conns; i++)
    pthread_join(srv->conns[i], NULL);
  close(srv->listen_fd);
  pthread_mutex_destroy(&srv->lock);
}

static void set_mode(struct server *srv, enum mode mode)
{
  pthread_mutex_lock(&srv->lock);
  srv->mode = mode;
  srv->requests = 0;
  srv->connections = 0;
  srv->body_len = -1;
  srv->head[0] = '\0';
  pthread_mutex_unlock(&srv->lock);
}

static int server_requests(struct server *srv)
{
  int n;

  pthread_mutex_lock(&srv->lock);
  n = srv->requests;
  pthread_mutex_unlock(&srv->lock);
  return n;
}

static int server_connections(struct server *srv)
{
  int n;

  pthread_mutex_lock(&srv->lock);
  n = srv->connections;
  pthread_mutex_unlock(&srv->lock);
  return n;
}

/* A port nothing listens on: bound, read, and closed again. */
static int unused_port(void)
{
  struct sockaddr_in addr;
  socklen_t alen = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

/* --- client helpers ------------------------------------------------------ */

static struct server srv;
static char base_url[64];

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void url_of(char *out, size_t cap, const char *path)
{
  snprintf(out, cap, "%s%s", base_url, path);
}

static struct zpm_http_request make_request(const char *method,
                                            const char *url)
{
  struct zpm_http_request req;

  memset(&req, 0, sizeof(req));
  req.method = method;
  req.url = url;
  req.idempotent = 1;
  req.retry.max_retries = 5;
  req.retry.backoff_ms = 1;
  req.retry.max_backoff_ms = 8;
  return req;
}

struct collect {
  struct zpm_md5 md5;
  unsigned long long len;
  int calls;
  int fail_with;          /* errno to return, 0: accept */
};

static int collect_sink(void *ud, const void *buf, size_t len)
{
  struct collect *c = ud;

  c->calls++;
  if (c->fail_with != 0)
    return c->fail_with;
  zpm_md5_update(&c->md5, buf, len);
  c->len += len;
  return 0;
}

static void md5_hex_of(const void *data, size_t len, char hex[33])
{
  struct zpm_md5 ctx = { NULL };
  unsigned char digest[16];

  CHECK(zpm_md5_init(&ctx) == ZPM_OK);
  zpm_md5_update(&ctx, data, len);
  zpm_md5_final(&ctx, digest);
  zpm_md5_free(&ctx);
  zpm_md5_hex(digest, hex);
}

static unsigned char *make_body(size_t len)
{
  unsigned char *p = malloc(len);
  size_t i;

  for (i = 0; i < len; i++)
    p[i] = (unsigned char)(i ^ (i >> 9));
  return p;
}

/* A source of unknown length (so it goes chunked) over a memory one. */
struct opaque_source {
  struct zpm_source base;
  struct zpm_source *inner;
  long long fail_after;     /* fail once this many bytes were read, or -1 */
  long long pos;
};

static int opaque_read(struct zpm_source *src, void *buf, size_t cap,
                       size_t *got)
{
  struct opaque_source *o = (struct opaque_source *)src;
  int rc;

  if (o->fail_after >= 0 && o->pos >= o->fail_after)
    return zpm_error_set(&src->error, ZPM_EIO, "disk on fire");
  rc = zpm_source_read(o->inner, buf, cap, got);
  o->pos += (long long)*got;
  return rc;
}

static int opaque_rewind(struct zpm_source *src)
{
  struct opaque_source *o = (struct opaque_source *)src;

  o->pos = 0;
  return zpm_source_rewind(o->inner);
}

static void opaque_destroy(struct zpm_source *src)
{
  (void)src;
}

static const struct zpm_source_ops opaque_ops = {
  opaque_read, opaque_rewind, opaque_destroy, NULL, NULL
};

/* --- tests --------------------------------------------------------------- */

static void test_get_and_keepalive(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct collect col;
  unsigned char *want = malloc(3000000);
  char hex[33], got[33];
  unsigned char digest[16];
  long long i;
  int k;

  for (i = 0; i < 3000000; i++)
    want[i] = pattern_byte(i);
  md5_hex_of(want, 3000000, hex);
  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/bytes/3000000");
  for (k = 0; k < 3; k++) {
    memset(&col, 0, sizeof(col));
    zpm_md5_init(&col.md5);
    req = make_request("GET", url);
    req.sink = collect_sink;
    req.sink_ud = &col;
    zpm_error_clear(&err);
    CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
    CHECK(resp.status == 200);
    CHECK_STR(resp.reason, "OK");
    CHECK(resp.attempts == 1);
    CHECK(resp.received == 3000000);
    CHECK(resp.sent == 0);
    CHECK(!resp.has_md5);
    CHECK(resp.error_body == NULL);
    CHECK(col.len == 3000000);
    zpm_md5_final(&col.md5, digest);
    zpm_md5_free(&col.md5);
    zpm_md5_hex(digest, got);
    CHECK_STR(got, hex);
  }
  /* Three requests, one connection. */
  CHECK(server_requests(&srv) == 3);
  CHECK(server_connections(&srv) == 1);
  free(want);
}

static void test_put_known_length(struct zpm_http_session *s)
{
  size_t len = 2 * 1024 * 1024 + 123;
  unsigned char *body = make_body(len);
  char url[128], hex[33];
  struct zpm_source *src = NULL;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;

  md5_hex_of(body, len, hex);
  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/v1/acct/c/obj");
  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, body, len, &err) == ZPM_OK);
  req = make_request("PUT", url);
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  CHECK(resp.sent == len);
  CHECK(resp.has_md5);
  CHECK_STR(resp.md5, hex);
  pthread_mutex_lock(&srv.lock);
  CHECK(srv.body_len == (long long)len);
  CHECK_STR(srv.body_md5, hex);
  CHECK(!srv.chunked);
  CHECK_STR(srv.method, "PUT");
  /* a large body waits for 100 Continue: a refusal costs no upload */
  CHECK(strstr(srv.head, "Expect: 100-continue") != NULL);
  pthread_mutex_unlock(&srv.lock);

  /* POST with a known length, and a POST and a PUT without a body. */
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  req = make_request("POST", url);
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  CHECK_STR(resp.md5, hex);
  pthread_mutex_lock(&srv.lock);
  CHECK_STR(srv.method, "POST");
  CHECK_STR(srv.body_md5, hex);
  pthread_mutex_unlock(&srv.lock);
  req = make_request("POST", url);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200 && resp.sent == 0 && !resp.has_md5);
  req = make_request("PUT", url);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  pthread_mutex_lock(&srv.lock);
  CHECK_STR(srv.method, "PUT");
  CHECK(srv.body_len == 0);
  CHECK(strstr(srv.head, "Content-Length: 0") != NULL);
  pthread_mutex_unlock(&srv.lock);
  req = make_request("DELETE", url);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  pthread_mutex_lock(&srv.lock);
  CHECK_STR(srv.method, "DELETE");
  pthread_mutex_unlock(&srv.lock);
  zpm_source_free(src);
  free(body);
}

/* One ustar member of len bytes at out; returns the bytes used. */
static size_t tar_member(unsigned char *out, const char *name,
                         const void *data, size_t len)
{
  unsigned sum = 0;
  size_t i, padded = (len + 511) / 512 * 512;

  memset(out, 0, 512 + padded);
  memcpy(out, name, strlen(name));
  memcpy(out + 100, "0000644", 7);
  snprintf((char *)out + 124, 12, "%011zo", len);
  out[156] = '0';
  memcpy(out + 257, "ustar", 6);
  memcpy(out + 263, "00", 2);
  memset(out + 148, ' ', 8);
  for (i = 0; i < 512; i++)
    sum += out[i];
  snprintf((char *)out + 148, 8, "%06o", sum);
  memcpy(out + 512, data, len);
  return 512 + padded;
}

/*
 * A zapp uploaded with libzpmcore alone: zpm_body_open_zapp inflates,
 * hashes and captures it in its read-ahead thread; the server gets the
 * tar, the response's MD5 is the tar's, the capture holds zapp.yaml.
 */
static void test_zapp_upload(struct zpm_http_session *s)
{
  static const char *const patterns[] = { "zapp.yaml" };
  size_t blen = 3 * 1024 * 1024, tlen;
  unsigned char *big = make_body(blen), *tar = calloc(1, blen + 4096);
  char url[128], hex[33], path[] = "/tmp/zpm-test-zapp-XXXXXX";
  struct zpm_tar_capture_options opt;
  struct zpm_tar_capture *tc = NULL;
  struct zpm_source *src = NULL;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  gzFile gz;
  int fd = mkstemp(path);

  CHECK(fd >= 0);
  tlen = tar_member(tar, "zapp.yaml", "name: z\n", 8);
  tlen += tar_member(tar + tlen, "data.bin", big, blen);
  tlen += 1024;
  gz = gzdopen(fd, "wb1");
  CHECK(gz != NULL && gzwrite(gz, tar, (unsigned)tlen) == (int)tlen);
  CHECK(gzclose(gz) == Z_OK);
  md5_hex_of(tar, tlen, hex);
  memset(&opt, 0, sizeof(opt));
  opt.patterns = patterns;
  opt.n_patterns = 1;
  zpm_error_clear(&err);
  CHECK(zpm_tar_capture_new(&tc, &opt, &err) == ZPM_OK);
  CHECK(zpm_body_open_zapp(&src, path, tc, &err) == ZPM_OK);
  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/v1/acct/c/app.zapp");
  req = make_request("PUT", url);
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200 && resp.sent == tlen);
  CHECK(resp.has_md5);
  CHECK_STR(resp.md5, hex);
  pthread_mutex_lock(&srv.lock);
  CHECK(srv.body_len == (long long)tlen);
  CHECK_STR(srv.body_md5, hex);
  pthread_mutex_unlock(&srv.lock);
  CHECK(zpm_tar_capture_complete(tc) && zpm_tar_capture_count(tc) == 1);
  if (zpm_tar_capture_count(tc) == 1)
    CHECK(zpm_tar_capture_member(tc, 0)->len == 8);
  zpm_source_free(src);
  zpm_tar_capture_free(tc);
  unlink(path);
  free(tar);
  free(big);
}

static void test_chunked(struct zpm_http_session *s)
{
  size_t len = 1300000;
  unsigned char *body = make_body(len);
  char url[128], hex[33];
  struct opaque_source o;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  const char *methods[] = { "PUT", "POST" };
  int i;

  md5_hex_of(body, len, hex);
  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/chunked");
  zpm_error_clear(&err);
  memset(&o, 0, sizeof(o));
  o.base.ops = &opaque_ops;
  o.base.length = -1;
  o.fail_after = -1;
  CHECK(zpm_source_memory(&o.inner, body, len, &err) == ZPM_OK);
  for (i = 0; i < 2; i++) {
    CHECK(zpm_source_rewind(&o.base) == ZPM_OK);
    req = make_request(methods[i], url);
    req.body = &o.base;
    CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
    CHECK(resp.status == 200);
    CHECK(resp.sent == len);
    CHECK_STR(resp.md5, hex);
    pthread_mutex_lock(&srv.lock);
    CHECK(srv.chunked);
    CHECK(srv.body_len == (long long)len);
    CHECK_STR(srv.body_md5, hex);
    CHECK_STR(srv.method, methods[i]);
    pthread_mutex_unlock(&srv.lock);
  }

  /* A source that fails midway: ZPM_EIO with its message, no retry. */
  CHECK(zpm_source_rewind(&o.base) == ZPM_OK);
  o.fail_after = 600000;
  req = make_request("PUT", url);
  req.body = &o.base;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_EIO);
  CHECK(resp.attempts == 1);
  CHECK(strstr(err.message, "disk on fire") != NULL);
  CHECK(strstr(err.message, "PUT ") != NULL);
  zpm_source_free(o.inner);
  free(body);
}

static void test_flaky_then_ok(struct zpm_http_session *s)
{
  size_t len = 1500000;
  unsigned char *body = make_body(len);
  char url[128], hex[33];
  struct zpm_source *src = NULL;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;

  md5_hex_of(body, len, hex);
  set_mode(&srv, MODE_FLAKY);
  url_of(url, sizeof(url), "/flaky");
  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, body, len, &err) == ZPM_OK);
  req = make_request("PUT", url);
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  CHECK(resp.attempts == 3);
  CHECK(server_requests(&srv) == 3);
  /* The final attempt re-sent everything, and the MD5 covers just it. */
  CHECK(resp.sent == len);
  CHECK_STR(resp.md5, hex);
  pthread_mutex_lock(&srv.lock);
  CHECK_STR(srv.body_md5, hex);
  pthread_mutex_unlock(&srv.lock);
  zpm_source_free(src);
  free(body);
}

static void test_storm(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct zpm_source *src = NULL;
  struct collect col;

  set_mode(&srv, MODE_STORM);
  url_of(url, sizeof(url), "/storm");
  memset(&col, 0, sizeof(col));
  req = make_request("GET", url);
  req.retry.max_retries = 3;
  req.sink = collect_sink;
  req.sink_ud = &col;
  zpm_error_clear(&err);
  /* Still a response: the caller decides what a 500 means. */
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 500);
  CHECK_STR(resp.reason, "Internal Server Error");
  CHECK(resp.attempts == 4);
  CHECK(server_requests(&srv) == 4);
  CHECK(resp.error_body_len == 5);
  CHECK(col.calls == 0);

  /* A POST that sent its body is not retried. */
  set_mode(&srv, MODE_STORM);
  CHECK(zpm_source_memory(&src, "{\"job\": 1}", 10, &err) == ZPM_OK);
  req = make_request("POST", url);
  req.idempotent = 0;
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 500);
  CHECK(resp.attempts == 1);
  CHECK(server_requests(&srv) == 1);
  zpm_source_free(src);

  /* Nor is one without a body once it went out. */
  set_mode(&srv, MODE_STORM);
  req = make_request("POST", url);
  req.idempotent = 0;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.attempts == 1);

  /* 4xx other than 408/429 is never retried. */
  set_mode(&srv, MODE_ERROR_BODY);
  req = make_request("GET", url);
  req.sink = collect_sink;
  req.sink_ud = &col;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 404);
  CHECK(resp.attempts == 1);
  CHECK(resp.received == 100 * 1024);
  CHECK(resp.error_body_len == ZPM_HTTP_ERROR_BODY_MAX);
  CHECK(resp.error_body != NULL && resp.error_body[0] == 7 &&
        (unsigned char)resp.error_body[1] == 38);
  CHECK(col.calls == 0);
}

static void test_refused(struct zpm_http_session *s)
{
  char url[256];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct zpm_source *src = NULL;

  snprintf(url, sizeof(url),
           "http://user:hunter2@127.0.0.1:%d/v1/a/c/o?temp_url_sig=abc",
           unused_port());
  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, "job", 3, &err) == ZPM_OK);
  req = make_request("POST", url);
  req.idempotent = 0;   /* nothing was sent: retrying is safe */
  req.retry.max_retries = 2;
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  CHECK(err.lib_code == CURLE_COULDNT_CONNECT);
  CHECK(resp.attempts == 3);
  CHECK(resp.status == 0);
  CHECK(strstr(err.message, "POST http://127.0.0.1:") != NULL);
  CHECK(strstr(err.message, "/v1/a/c/o: ") != NULL);
  CHECK(strstr(err.message, "Couldn't connect") != NULL);
  CHECK(strstr(err.message, "3 attempts") != NULL);
  CHECK(strstr(err.message, "temp_url_sig") == NULL);
  CHECK(strstr(err.message, "hunter2") == NULL);
  zpm_source_free(src);
}

static void test_reset_mid_upload(struct zpm_http_session *s)
{
  size_t len = 3 * 1024 * 1024;
  unsigned char *body = make_body(len);
  char url[128], hex[33];
  struct zpm_source *src = NULL;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;

  md5_hex_of(body, len, hex);
  url_of(url, sizeof(url), "/reset");
  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, body, len, &err) == ZPM_OK);

  set_mode(&srv, MODE_RESET);
  req = make_request("PUT", url);
  req.body = src;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  CHECK(resp.attempts == 2);
  CHECK(resp.sent == len);
  CHECK_STR(resp.md5, hex);
  pthread_mutex_lock(&srv.lock);
  CHECK_STR(srv.body_md5, hex);
  pthread_mutex_unlock(&srv.lock);

  /* The same reset on a job POST: it may have run, so no retry. */
  set_mode(&srv, MODE_RESET);
  req = make_request("POST", url);
  req.idempotent = 0;
  req.body = src;
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  CHECK(resp.attempts == 1);
  CHECK(server_requests(&srv) == 1);
  CHECK(err.lib_code == CURLE_SEND_ERROR || err.lib_code == CURLE_RECV_ERROR
        || err.lib_code == CURLE_GOT_NOTHING);
  zpm_source_free(src);
  free(body);
}

static void test_stall(void)
{
  struct zpm_http_options opt;
  struct zpm_http_session *s = NULL;
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct collect col;
  double t0;

  memset(&opt, 0, sizeof(opt));
  opt.low_speed_limit = 1000;
  opt.low_speed_time = 1;
  opt.connect_timeout_ms = 2000;
  zpm_error_clear(&err);
  CHECK(zpm_http_session_open(&s, &opt, &err) == ZPM_OK);
  set_mode(&srv, MODE_STALL);
  url_of(url, sizeof(url), "/stall");
  memset(&col, 0, sizeof(col));
  req = make_request("GET", url);
  req.sink = collect_sink;
  req.sink_ud = &col;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  CHECK(now_s() - t0 < 4.0);
  CHECK(err.lib_code == CURLE_OPERATION_TIMEDOUT);
  /* Ten bytes reached the sink: retrying would duplicate them. */
  CHECK(col.len == 10);
  CHECK(resp.attempts == 1);
  CHECK(server_requests(&srv) == 1);
  zpm_http_session_free(s);
}

static void test_retry_after(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  double t0, took;

  url_of(url, sizeof(url), "/busy");
  /* Retry-After: 1 is honoured, capped by max_backoff (300 ms). */
  set_mode(&srv, MODE_RETRY_AFTER);
  req = make_request("GET", url);
  req.retry.backoff_ms = 1;
  req.retry.max_backoff_ms = 300;
  zpm_error_clear(&err);
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  took = now_s() - t0;
  CHECK(resp.status == 200);
  CHECK(resp.attempts == 2);
  CHECK(took >= 0.28 && took < 1.0);
  /* And backoff doubles: 503 twice with 40 then 80 ms waits. */
  set_mode(&srv, MODE_FLAKY);
  req.retry.backoff_ms = 40;
  req.retry.max_backoff_ms = 1000;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  took = now_s() - t0;
  CHECK(resp.attempts == 3);
  CHECK(took >= 0.115 && took < 0.9);
}

/* 429 and 498 are retried with retry.ratelimit, answered without. */
static void test_ratelimit(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;

  url_of(url, sizeof(url), "/limited");
  set_mode(&srv, MODE_RATELIMIT);
  req = make_request("GET", url);
  req.retry.ratelimit = 1;
  zpm_error_clear(&err);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  CHECK(resp.attempts == 3);
  set_mode(&srv, MODE_RATELIMIT);
  req.retry.ratelimit = 0;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 429);
  CHECK(resp.attempts == 1);
}

struct header_log {
  int resets;
  int dups;
  char reason[64];
};

static int log_header(void *ud, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
  struct header_log *h = ud;

  if (name == NULL) {
    h->resets++;
    h->dups = 0;
    snprintf(h->reason, sizeof(h->reason), "%.*s", (int)vlen, value);
  } else if (nlen == 5 && strncasecmp(name, "x-dup", 5) == 0) {
    h->dups++;
  }
  return 0;
}

struct trace_log {
  char text[65536];
  size_t len;
};

static int log_trace(void *ud, const char *line, size_t len)
{
  struct trace_log *t = ud;

  if (t->len + len + 2 < sizeof(t->text)) {
    memcpy(t->text + t->len, line, len);
    t->len += len;
    t->text[t->len++] = '\n';
    t->text[t->len] = '\0';
  }
  return 0;
}

static void test_trace_redaction(void)
{
  struct zpm_http_options opt;
  struct zpm_http_session *s = NULL;
  struct trace_log *log = calloc(1, sizeof(*log));
  struct header_log hl;
  char url[128];
  struct zpm_http_header headers[] = {
    { "X-Auth-Token", "tokensecret" },
    { "authorization", "Bearer authsecret" },
    { "X-AUTH-KEY", "keysecret" },
    { "Cookie", "a=cookiesecret" },
    { "X-Service-Token", "servicesecret" },
    { "X-Object-Meta-Color", "blue" },
    { "X-Empty", "" },
  };
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct zpm_source *src = NULL;

  memset(&opt, 0, sizeof(opt));
  opt.trace = log_trace;
  opt.trace_ud = log;
  opt.user_agent = "zpm/test";
  zpm_error_clear(&err);
  CHECK(zpm_http_session_open(&s, &opt, &err) == ZPM_OK);
  set_mode(&srv, MODE_SECRETS);
  url_of(url, sizeof(url), "/hidden");
  CHECK(zpm_source_memory(&src, "body-not-in-trace", 17, &err) == ZPM_OK);
  memset(&hl, 0, sizeof(hl));
  req = make_request("PUT", url);
  req.headers = headers;
  req.n_headers = sizeof(headers) / sizeof(headers[0]);
  req.body = src;
  req.on_header = log_header;
  req.header_ud = &hl;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  /* A small body goes at once, without waiting for 100 Continue. */
  CHECK(hl.resets == 1);
  CHECK(hl.dups == 2);
  CHECK_STR(hl.reason, "OK");
  /* The server did get the secrets... */
  pthread_mutex_lock(&srv.lock);
  CHECK(strstr(srv.head, "X-Auth-Token: tokensecret") != NULL);
  CHECK(strstr(srv.head, "User-Agent: zpm/test") != NULL);
  CHECK(strstr(srv.head, "X-Empty:") != NULL);
  CHECK(strstr(srv.head, "Expect:") == NULL);
  pthread_mutex_unlock(&srv.lock);
  /* ...the trace shows none of them, nor the body. */
  CHECK(strstr(log->text, "secret") == NULL);
  CHECK(strstr(log->text, "body-not-in-trace") == NULL);
  CHECK(strstr(log->text, "> PUT /hidden HTTP/1.1") != NULL);
  CHECK(strstr(log->text, "> X-Auth-Token: <redacted>") != NULL);
  CHECK(strstr(log->text, "> authorization: <redacted>") != NULL);
  CHECK(strstr(log->text, "> X-AUTH-KEY: <redacted>") != NULL);
  CHECK(strstr(log->text, "> Cookie: <redacted>") != NULL);
  CHECK(strstr(log->text, "> X-Object-Meta-Color: blue") != NULL);
  CHECK(strstr(log->text, "< Set-Cookie: <redacted>") != NULL);
  CHECK(strstr(log->text, "< x-subject-token: <redacted>") != NULL);
  CHECK(strstr(log->text, "< X-Visible: shown") != NULL);
  CHECK(strstr(log->text, "< HTTP/1.1 200 OK") != NULL);
  CHECK(strstr(log->text, "* ") != NULL);
  if (check_failures > 0)
    fputs(log->text, stderr);

  /* A bad header name is refused before anything is sent. */
  headers[0].name = "Bad Name";
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_EINVAL);
  headers[0].name = "X-Ok";
  headers[0].value = "a\r\nInjected: yes";
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_EINVAL);
  zpm_source_free(src);
  zpm_http_session_free(s);
  free(log);
  CHECK(zpm_http_header_is_secret("x-storage-token", 15));
  CHECK(zpm_http_header_is_secret("X-Auth-Password", 15));
  CHECK(zpm_http_header_is_secret("PROXY-AUTHORIZATION", 19));
  CHECK(!zpm_http_header_is_secret("X-Auth-Tokens", 13));
  CHECK(!zpm_http_header_is_secret("X-Auth-Toke", 11));
}

static void test_sink_failure(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct collect col;

  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/bytes/100000");
  memset(&col, 0, sizeof(col));
  col.fail_with = ENOSPC;
  req = make_request("GET", url);
  req.sink = collect_sink;
  req.sink_ud = &col;
  zpm_error_clear(&err);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_EIO);
  CHECK(err.lib_code == ENOSPC);
  CHECK(resp.attempts == 1);
  CHECK(col.calls == 1);
  CHECK(strstr(err.message, "No space left") != NULL);
  /* The session is still usable afterwards. */
  col.fail_with = 0;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(col.len == 100000);
}

/* A batch in parallel: every body arrives whole on few reused connections. */
static void test_batch(struct zpm_http_session *s)
{
  enum { N = 200 };
  static struct zpm_http_request reqs[N];
  static struct zpm_http_job jobs[N];
  static struct zpm_source *srcs[N];
  static char hexes[N][33];
  struct zpm_http_run_options opt;
  unsigned char *body = make_body(70000);
  char url[128];
  struct zpm_error err;
  int i, ok = 0, attempts = 0, connections;

  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/put");
  zpm_error_clear(&err);
  for (i = 0; i < N; i++) {
    size_t len = (size_t)(i * 337) % 70000;

    CHECK(zpm_source_memory(&srcs[i], body + i, len - (len > 0), &err) ==
          ZPM_OK);
    md5_hex_of(body + i, len - (len > 0), hexes[i]);
    reqs[i] = make_request("PUT", url);
    reqs[i].body = srcs[i];
    jobs[i].req = &reqs[i];
  }
  memset(&opt, 0, sizeof(opt));
  opt.concurrency = 8;
  CHECK(zpm_http_run(s, jobs, N, &opt) == ZPM_OK);
  for (i = 0; i < N; i++) {
    ok += jobs[i].started && jobs[i].status == ZPM_OK &&
          jobs[i].resp.status == 200 && jobs[i].resp.has_md5 &&
          strcmp(jobs[i].resp.md5, hexes[i]) == 0;
  }
  CHECK(ok == N);
  CHECK(server_requests(&srv) == N);
  connections = server_connections(&srv);
  CHECK(connections >= 2 && connections <= 8);
  /* A second batch reuses those connections (and may open the rest of
     the 8 it is allowed, if the first needed fewer). */
  for (i = 0; i < N; i++)
    zpm_source_rewind(srcs[i]);
  zpm_http_jobs_release(jobs, N);
  CHECK(zpm_http_run(s, jobs, N, &opt) == ZPM_OK);
  for (i = 0; i < N; i++)
    CHECK(jobs[i].status == ZPM_OK && jobs[i].resp.status == 200);
  CHECK(server_connections(&srv) >= connections);
  CHECK(server_connections(&srv) <= 8);
  zpm_http_jobs_release(jobs, N);

  /* Retries are per job: 2 x 503 then 200 for everyone. */
  set_mode(&srv, MODE_FLAKY);
  for (i = 0; i < 20; i++)
    zpm_source_rewind(srcs[i]);
  opt.concurrency = 4;
  CHECK(zpm_http_run(s, jobs, 20, &opt) == ZPM_OK);
  for (i = 0; i < 20; i++) {
    CHECK(jobs[i].status == ZPM_OK && jobs[i].resp.status == 200);
    CHECK_STR(jobs[i].resp.md5, hexes[i]);
    attempts += jobs[i].resp.attempts;
  }
  CHECK(attempts == 22);
  CHECK(server_requests(&srv) == 22);
  zpm_http_jobs_release(jobs, 20);

  /* stop_on_failure: once one fails for good, no new job starts. */
  set_mode(&srv, MODE_STORM);
  for (i = 0; i < 50; i++) {
    zpm_source_rewind(srcs[i]);
    reqs[i].retry.max_retries = 0;
  }
  opt.concurrency = 3;
  opt.stop_on_failure = 1;
  CHECK(zpm_http_run(s, jobs, 50, &opt) == ZPM_OK);
  CHECK(jobs[0].started && jobs[0].status == ZPM_OK &&
        jobs[0].resp.status == 500);
  CHECK(jobs[0].resp.error_body_len == 5);
  CHECK(!jobs[49].started);
  CHECK(server_requests(&srv) <= 6);
  zpm_http_jobs_release(jobs, 50);

  /* A bad request starts nothing. */
  set_mode(&srv, MODE_OK);
  reqs[1].method = "BAD METHOD";
  CHECK(zpm_http_run(s, jobs, 2, &opt) == ZPM_EINVAL);
  CHECK(jobs[1].status == ZPM_EINVAL);
  CHECK(server_requests(&srv) == 0);
  CHECK(zpm_http_run(s, jobs, 0, &opt) == ZPM_OK);

  for (i = 0; i < N; i++)
    zpm_source_free(srcs[i]);
  free(body);
}

/* --- time limits ------------------------------------------------------- */

/*
 * A server that never answers: each attempt ends at timeout_ms and is
 * retried; the request ends at deadline_ms, all attempts and waits
 * together, with a message naming the deadline and the session's note.
 */
static void test_deadline_hang(void)
{
  struct zpm_http_options opt;
  struct zpm_http_session *s = NULL;
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  double t0, took;

  memset(&opt, 0, sizeof(opt));
  opt.timeout_note = "--timeout";
  zpm_error_clear(&err);
  CHECK(zpm_http_session_open(&s, &opt, &err) == ZPM_OK);
  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/hang?sig=secret");
  req = make_request("GET", url);
  req.timeout_ms = 200;
  req.deadline_ms = 700;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.68 && took < 1.0);
  CHECK(err.lib_code == CURLE_OPERATION_TIMEDOUT);
  CHECK(resp.attempts == 4);
  CHECK(server_requests(&srv) == 4);
  CHECK(strstr(err.message, "GET http://127.0.0.1:") != NULL);
  CHECK(strstr(err.message, "/hang: no answer within 0.7 s (deadline; "
                            "4 attempts; --timeout)") != NULL);
  CHECK(strstr(err.message, "secret") == NULL);
  if (check_failures > 0)
    fprintf(stderr, "%s (%.2f s)\n", err.message, took);

  /* Without retries: the attempt timeout, named as such. */
  set_mode(&srv, MODE_OK);
  req.retry.max_retries = 0;
  req.deadline_ms = ZPM_HTTP_NONE;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.19 && took < 0.5);
  CHECK(resp.attempts == 1);
  CHECK(strstr(err.message, "no answer within 0.2 s (attempt timeout; "
                            "--timeout)") != NULL);
  zpm_http_session_free(s);
}

/*
 * A byte every 50 ms defeats a low-speed window (1 byte/s) but not the
 * deadline, even with a rate that stops the clock: 20 bytes/s is below
 * it. The bytes that reached the sink forbid a retry.
 */
static void test_deadline_drip(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  struct collect col;
  double t0, took;

  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/drip");
  memset(&col, 0, sizeof(col));
  req = make_request("GET", url);
  req.sink = collect_sink;
  req.sink_ud = &col;
  req.deadline_ms = 600;
  req.min_rate = 1000;
  zpm_error_clear(&err);
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.58 && took < 0.95);
  CHECK(err.lib_code == CURLE_OPERATION_TIMEDOUT);
  CHECK(strstr(err.message, "no complete answer within 0.6 s (deadline)")
        != NULL);
  CHECK(col.len >= 5 && col.len < 20);
  CHECK(resp.attempts == 1);
  CHECK(resp.status == 200);
  if (check_failures > 0)
    fprintf(stderr, "%s (%.2f s, %llu bytes)\n", err.message, took,
            col.len);

  /* An attempt timeout is there to retry: once bytes reached the sink
   * no retry can follow, and the attempt runs on to the deadline. */
  memset(&col, 0, sizeof(col));
  req.timeout_ms = 200;
  req.min_rate = ZPM_HTTP_NONE;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.58 && took < 0.95);
  CHECK(strstr(err.message, "no complete answer within 0.6 s (deadline)")
        != NULL);
  CHECK(resp.attempts == 1);
  /* Without a deadline, the attempt timeout ends it. */
  req.deadline_ms = ZPM_HTTP_NONE;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.19 && took < 0.5);
  CHECK(strstr(err.message, "no complete answer within 0.2 s (attempt "
                            "timeout)") != NULL);
}

/*
 * A body that moves steadily (about 1.6 MB/s, the server reading slowly)
 * is not cut by a deadline shorter than the transfer when it moves faster
 * than min_rate; with no rate, the deadline is a wall clock and cuts it.
 */
static void test_deadline_steady_upload(struct zpm_http_session *s)
{
  size_t len = 2 * 1024 * 1024;
  unsigned char *body = make_body(len);
  char url[128], hex[33];
  struct zpm_source *src = NULL;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  double t0, took;

  md5_hex_of(body, len, hex);
  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/slowread");
  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, body, len, &err) == ZPM_OK);
  req = make_request("PUT", url);
  req.body = src;
  req.retry.max_retries = 0;
  req.deadline_ms = 400;
  req.timeout_ms = 300;
  req.min_rate = 64 * 1024;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  took = now_s() - t0;
  CHECK(resp.status == 200);
  CHECK_STR(resp.md5, hex);
  CHECK(took > 0.8);            /* twice the deadline, and not cut */
  if (check_failures > 0)
    fprintf(stderr, "steady upload: %.2f s: %s\n", took, err.message);

  /* The same on a wall clock: cut at the deadline. */
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  req.min_rate = ZPM_HTTP_NONE;
  req.timeout_ms = ZPM_HTTP_NONE;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.38 && took < 0.7);
  CHECK(strstr(err.message, "within 0.4 s (deadline)") != NULL);
  zpm_source_free(src);
  free(body);
}

/*
 * A server that takes the request head and reads nothing: the body
 * fills the socket buffers at once, a burst that counts as one window
 * moving fast at most, not as the time those bytes would take at
 * min_rate (900 KiB at 64 KiB/s: 14 s). The request still ends at its
 * deadline.
 */
static void test_deadline_burst(struct zpm_http_session *s)
{
  size_t len = 900 * 1024;      /* sent at once: no 100 Continue awaited */
  unsigned char *body = make_body(len);
  char url[128];
  struct zpm_source *src = NULL;
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  double t0, took;

  set_mode(&srv, MODE_OK);
  url_of(url, sizeof(url), "/hang");
  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, body, len, &err) == ZPM_OK);
  req = make_request("PUT", url);
  req.body = src;
  req.retry.max_retries = 0;
  req.deadline_ms = 600;
  req.min_rate = 64 * 1024;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.58 && took < 1.3);
  CHECK(strstr(err.message, "no answer within 0.6 s (deadline)") != NULL);
  CHECK(resp.sent > 0);
  if (check_failures > 0)
    fprintf(stderr, "burst: %.2f s, %llu sent: %s\n", took, resp.sent,
            err.message);
  zpm_source_free(src);
  free(body);
}

/*
 * The deadline bounds the waits: a retry that could not start before it
 * is not waited for. A 503 with Retry-After: 1 comes back at once as
 * the answer; refused connections end after the attempts that fit.
 */
static void test_deadline_bounds_backoff(struct zpm_http_session *s)
{
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  double t0, took;

  url_of(url, sizeof(url), "/busy");
  set_mode(&srv, MODE_RETRY_AFTER);
  req = make_request("GET", url);
  req.retry.max_backoff_ms = 5000;
  req.deadline_ms = 500;
  zpm_error_clear(&err);
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  took = now_s() - t0;
  CHECK(resp.status == 503);
  CHECK(resp.attempts == 1);
  CHECK(took < 0.3);

  /* Waits of 100, 200, 400 ms: the third would end past 0.5 s. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", unused_port());
  req = make_request("GET", url);
  req.retry.backoff_ms = 100;
  req.retry.max_backoff_ms = 1000;
  req.deadline_ms = 500;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(err.lib_code == CURLE_COULDNT_CONNECT);
  CHECK(resp.attempts == 3);
  CHECK(took >= 0.29 && took < 0.5);
  CHECK(strstr(err.message, "(after 3 attempts; no time left for a retry "
                            "within the 0.5 s deadline)") != NULL);
  if (check_failures > 0)
    fprintf(stderr, "%s (%.2f s)\n", err.message, took);
}

struct retry_log {
  int calls;
  int attempt[8];
  int max_attempts;
  long delay[8];
  long status;
  char reason[64];
  char url[128];
  int stop_at;            /* return nonzero on this call, 0: never */
};

static int log_retry(void *ud, const struct zpm_http_retry_event *ev)
{
  struct retry_log *r = ud;

  if (r->calls < 8) {
    r->attempt[r->calls] = ev->attempt;
    r->delay[r->calls] = ev->delay_ms;
  }
  r->calls++;
  r->max_attempts = ev->max_attempts;
  r->status = ev->status;
  snprintf(r->reason, sizeof(r->reason), "%s", ev->reason);
  snprintf(r->url, sizeof(r->url), "%s %s", ev->method, ev->url);
  return r->calls == r->stop_at;
}

/*
 * Retries are reported before each wait: the attempt coming, the most
 * there can be, the wait, what failed. A report that says stop fails the
 * request. Session defaults apply to requests that set no limit.
 */
static void test_retry_events(void)
{
  struct zpm_http_options opt;
  struct zpm_http_session *s = NULL;
  struct retry_log log;
  char url[128], want[160];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  double t0, took;

  memset(&opt, 0, sizeof(opt));
  memset(&log, 0, sizeof(log));
  opt.on_retry = log_retry;
  opt.retry_ud = &log;
  opt.deadline_ms = 500;
  opt.timeout_ms = 150;
  zpm_error_clear(&err);
  CHECK(zpm_http_session_open(&s, &opt, &err) == ZPM_OK);
  set_mode(&srv, MODE_FLAKY);
  url_of(url, sizeof(url), "/flaky?token=secret");
  req = make_request("PUT", url);
  req.retry.backoff_ms = 5;
  req.retry.max_backoff_ms = 1000;
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_OK);
  CHECK(resp.status == 200);
  CHECK(log.calls == 2);
  CHECK(log.attempt[0] == 2 && log.attempt[1] == 3);
  CHECK(log.delay[0] == 5 && log.delay[1] == 10);
  CHECK(log.max_attempts == 6);
  CHECK(log.status == 503);
  CHECK_STR(log.reason, "Service Unavailable");
  snprintf(want, sizeof(want), "PUT %s/flaky", base_url);
  CHECK_STR(log.url, want);

  /* An attempt timeout (the session's 150 ms) is reported as such. */
  memset(&log, 0, sizeof(log));
  url_of(url, sizeof(url), "/hang");
  req = make_request("GET", url);
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.48 && took < 0.8);   /* the session's deadline */
  CHECK(log.calls >= 2);
  CHECK(log.status == 0);
  CHECK_STR(log.reason, "no answer within 0.15 s (attempt timeout)");
  CHECK(strstr(err.message, "within 0.5 s (deadline; ") != NULL);

  /* A request's own limits win over the session's; none means none. */
  req.deadline_ms = 250;
  req.timeout_ms = ZPM_HTTP_NONE;
  req.retry.max_retries = 0;
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ENETWORK);
  took = now_s() - t0;
  CHECK(took >= 0.24 && took < 0.45);
  CHECK(strstr(err.message, "no answer within 0.25 s (deadline)") != NULL);

  /* A report asking to stop fails the request before its wait. */
  memset(&log, 0, sizeof(log));
  log.stop_at = 1;
  set_mode(&srv, MODE_FLAKY);
  url_of(url, sizeof(url), "/flaky");
  req = make_request("GET", url);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_EIO);
  CHECK(resp.attempts == 1);
  CHECK(server_requests(&srv) == 1);
  CHECK(strstr(err.message, "aborted by a callback") != NULL);
  zpm_http_session_free(s);

  /* Bad limits are refused. */
  req.deadline_ms = -2;
  CHECK(zpm_http_check(&req, &err) == ZPM_EINVAL);
  req.deadline_ms = ZPM_HTTP_NONE;
  req.min_rate = -5;
  CHECK(zpm_http_check(&req, &err) == ZPM_EINVAL);
  req.min_rate = 0;
  CHECK(zpm_http_check(&req, &err) == ZPM_OK);
  opt.deadline_ms = -1;
  CHECK(zpm_http_session_open(&s, &opt, &err) == ZPM_EINVAL);
  CHECK(s == NULL);
}

/* In a batch each request has its own clocks: a hung one ends at its
 * deadline while the others complete. */
static void test_deadline_batch(struct zpm_http_session *s)
{
  enum { N = 6 };
  struct zpm_http_request reqs[N];
  struct zpm_http_job jobs[N];
  struct zpm_http_run_options opt;
  char ok_url[128], hang_url[128];
  double t0, took;
  int i;

  set_mode(&srv, MODE_OK);
  url_of(ok_url, sizeof(ok_url), "/bytes/1000");
  url_of(hang_url, sizeof(hang_url), "/hang");
  memset(jobs, 0, sizeof(jobs));
  for (i = 0; i < N; i++) {
    reqs[i] = make_request("GET", i == 2 ? hang_url : ok_url);
    reqs[i].deadline_ms = 400;
    jobs[i].req = &reqs[i];
  }
  memset(&opt, 0, sizeof(opt));
  opt.concurrency = 3;
  t0 = now_s();
  CHECK(zpm_http_run(s, jobs, N, &opt) == ZPM_OK);
  took = now_s() - t0;
  CHECK(took >= 0.38 && took < 0.8);
  for (i = 0; i < N; i++) {
    if (i == 2) {
      CHECK(jobs[i].status == ZPM_ENETWORK);
      CHECK(strstr(jobs[i].err.message, "(deadline)") != NULL);
    } else {
      CHECK(jobs[i].status == ZPM_OK && jobs[i].resp.status == 200);
    }
  }
  zpm_http_jobs_release(jobs, N);
}

static void *send_sigint(void *arg)
{
  struct timespec ts = { 0, 300 * 1000 * 1000 };

  (void)arg;
  nanosleep(&ts, NULL);
  kill(getpid(), SIGINT);
  return NULL;
}

/* SIGINT, caught, stops a stalled transfer within a second or so; then
 * nothing starts and no retry waits. The handler fires once: the test
 * restores nothing, it is the last to use the session's flag. */
static void test_cancel(void)
{
  struct zpm_http_options opt;
  struct zpm_http_session *s = NULL;
  char url[128];
  struct zpm_http_request req;
  struct zpm_http_response resp;
  struct zpm_error err;
  pthread_t th;
  double t0;

  memset(&opt, 0, sizeof(opt));
  opt.cancel = zpm_cancel_signal_flag();
  CHECK(zpm_cancel_on_signals() == ZPM_OK);
  zpm_error_clear(&err);
  CHECK(zpm_http_session_open(&s, &opt, &err) == ZPM_OK);
  set_mode(&srv, MODE_STALL);
  url_of(url, sizeof(url), "/stall");
  req = make_request("GET", url);
  t0 = now_s();
  CHECK(pthread_create(&th, NULL, send_sigint, NULL) == 0);
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ECANCELED);
  pthread_join(th, NULL);
  CHECK(now_s() - t0 < 2.5);
  CHECK(strstr(err.message, "interrupted") != NULL);
  CHECK(zpm_cancelled(opt.cancel) == SIGINT);
  /* Once cancelled, a request fails at once without being sent. */
  set_mode(&srv, MODE_OK);
  t0 = now_s();
  CHECK(zpm_http_request(s, &req, &resp, &err) == ZPM_ECANCELED);
  CHECK(now_s() - t0 < 0.5);
  CHECK(resp.attempts == 0);
  zpm_http_session_free(s);
}

int main(void)
{
  struct zpm_http_session *s = NULL;
  struct zpm_error err;
  double t0 = now_s();

  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  if (server_start(&srv) != 0) {
    perror("server");
    return 1;
  }
  snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", srv.port);
  zpm_error_clear(&err);
  CHECK(zpm_http_session_open(&s, NULL, &err) == ZPM_OK);
  test_get_and_keepalive(s);
  test_put_known_length(s);
  test_chunked(s);
  test_zapp_upload(s);
  test_flaky_then_ok(s);
  test_storm(s);
  test_refused(s);
  test_reset_mid_upload(s);
  test_retry_after(s);
  test_ratelimit(s);
  test_sink_failure(s);
  test_batch(s);
  test_deadline_drip(s);
  test_deadline_steady_upload(s);
  test_deadline_burst(s);
  test_deadline_bounds_backoff(s);
  test_deadline_batch(s);
  zpm_http_session_free(s);
  test_stall();
  test_deadline_hang();
  test_retry_events();
  test_trace_redaction();
  test_cancel();
  server_stop(&srv);
  printf("%.2f s\n", now_s() - t0);
  return CHECK_DONE();
}
