/*
 * Tar capture: follow a tar stream 512-byte block by block as it is fed
 * in arbitrary pieces, and keep the data of matching regular files.
 */
#include "zpm/tar_capture.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

enum state {
  ST_HEADER,      /* filling hdr */
  ST_META,        /* filling meta: a pax 'x' or GNU 'L' body */
  ST_CAPTURE,     /* copying a member's data */
  ST_SKIP,        /* skipping data and padding */
  ST_END,         /* after the end-of-archive block: ignore the rest */
  ST_FAILED
};

struct zpm_tar_capture {
  char **patterns;
  size_t n_patterns;
  size_t max_member;
  size_t max_total;

  enum state state;
  unsigned long long offset;      /* archive bytes fed so far */
  unsigned char hdr[BLOCK];
  size_t hdr_len;
  unsigned long long remaining;   /* bytes left in META/CAPTURE/SKIP */
  unsigned long long pad;         /* padding after META/CAPTURE data */
  char meta_type;                 /* 'x' or 'L' */
  unsigned char *meta;
  size_t meta_len;
  char *pax_name;                 /* for the next member, or NULL */
  char *gnu_name;
  long long pax_size;             /* -1: none */
  int seen_pax;
  struct zpm_tar_member *cur;     /* the member being captured */
  size_t cur_len;
  size_t total;                   /* bytes captured */
  int complete;

  struct zpm_tar_member *members;
  size_t count;
  size_t cap;
  struct zpm_error error;
};

static char *copy_bytes(const void *p, size_t n)
{
  char *s = malloc(n + 1);

  if (s != NULL) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

int zpm_tar_capture_new(struct zpm_tar_capture **out,
                        const struct zpm_tar_capture_options *options,
                        struct zpm_error *err)
{
  struct zpm_tar_capture *tc;
  size_t i;

  *out = NULL;
  tc = calloc(1, sizeof(*tc));
  if (tc == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  tc->pax_size = -1;
  tc->max_member = options->max_member > 0 ? options->max_member
                                           : ZPM_TAR_CAPTURE_MAX_MEMBER;
  tc->max_total = options->max_total > 0 ? options->max_total
                                         : ZPM_TAR_CAPTURE_MAX_TOTAL;
  if (options->n_patterns > 0) {
    tc->patterns = calloc(options->n_patterns, sizeof(*tc->patterns));
    if (tc->patterns == NULL) {
      free(tc);
      return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
    }
  }
  tc->n_patterns = options->n_patterns;
  for (i = 0; i < options->n_patterns; i++) {
    const char *p = options->patterns[i];

    tc->patterns[i] = copy_bytes(p, strlen(p));
    if (tc->patterns[i] == NULL) {
      zpm_tar_capture_free(tc);
      return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
    }
  }
  zpm_error_clear(&tc->error);
  *out = tc;
  return ZPM_OK;
}

void zpm_tar_capture_reset(struct zpm_tar_capture *tc)
{
  size_t i;

  for (i = 0; i < tc->count; i++) {
    free(tc->members[i].name);
    free(tc->members[i].data);
  }
  tc->count = 0;
  if (tc->cur != NULL) {
    free(tc->cur->name);
    free(tc->cur->data);
    free(tc->cur);
    tc->cur = NULL;
  }
  free(tc->meta);
  tc->meta = NULL;
  free(tc->pax_name);
  tc->pax_name = NULL;
  free(tc->gnu_name);
  tc->gnu_name = NULL;
  tc->pax_size = -1;
  tc->seen_pax = 0;
  tc->state = ST_HEADER;
  tc->offset = 0;
  tc->hdr_len = 0;
  tc->remaining = 0;
  tc->pad = 0;
  tc->meta_len = 0;
  tc->cur_len = 0;
  tc->total = 0;
  tc->complete = 0;
  zpm_error_clear(&tc->error);
}

void zpm_tar_capture_free(struct zpm_tar_capture *tc)
{
  size_t i;

  if (tc == NULL)
    return;
  zpm_tar_capture_reset(tc);
  for (i = 0; i < tc->n_patterns; i++)
    free(tc->patterns[i]);
  free(tc->patterns);
  free(tc->members);
  free(tc);
}

int zpm_tar_capture_complete(const struct zpm_tar_capture *tc)
{
  return tc->complete;
}

size_t zpm_tar_capture_count(const struct zpm_tar_capture *tc)
{
  return tc->count;
}

const struct zpm_tar_member *
zpm_tar_capture_member(const struct zpm_tar_capture *tc, size_t i)
{
  return i < tc->count ? &tc->members[i] : NULL;
}

const struct zpm_error *
zpm_tar_capture_error(const struct zpm_tar_capture *tc)
{
  return &tc->error;
}

/* Record a failure; every later feed fails the same way. */
static int fail(struct zpm_tar_capture *tc, int status, const char *what,
                const char *name)
{
  tc->state = ST_FAILED;
  if (status == ZPM_ENOMEM)
    return zpm_error_set(&tc->error, status, "out of memory");
  if (name != NULL)
    return zpm_error_set(&tc->error, status, "tar member '%s': %s", name,
                         what);
  return zpm_error_set(&tc->error, status,
                       "tar header at byte %llu: %s",
                       tc->offset - BLOCK, what);
}

/* --- header fields ------------------------------------------------------- */

/*
 * A numeric field: octal digits (leading spaces allowed, ended by a space
 * or NUL), or base-256 when the first byte has its high bit set (GNU and
 * star, for sizes of 8 GiB and more). -1 when malformed or negative.
 */
static long long parse_number(const unsigned char *p, size_t n)
{
  unsigned long long v = 0;
  size_t i = 0;

  if (p[0] & 0x80) {
    if (p[0] & 0x40)
      return -1;              /* negative */
    v = p[0] & 0x3f;
    for (i = 1; i < n; i++) {
      if (v > (ULLONG_MAX >> 9))
        return -1;
      v = (v << 8) | p[i];
    }
    return v > (unsigned long long)INT64_MAX ? -1 : (long long)v;
  }
  while (i < n && p[i] == ' ')
    i++;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
    if (v > (ULLONG_MAX >> 4))
      return -1;
    v = v * 8 + (unsigned)(p[i] - '0');
  }
  if (i < n && p[i] != ' ' && p[i] != '\0')
    return -1;
  return v > (unsigned long long)INT64_MAX ? -1 : (long long)v;
}

/* The stored checksum matches the header, summed unsigned or signed. */
static int checksum_ok(const unsigned char *h)
{
  long long want = parse_number(h + 148, 8);
  long usum = 0, ssum = 0;
  int i;

  for (i = 0; i < BLOCK; i++) {
    unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];

    usum += c;
    ssum += (signed char)c;
  }
  return want >= 0 && (want == usum || want == ssum);
}

static int all_zero(const unsigned char *h)
{
  int i;

  for (i = 0; i < BLOCK; i++) {
    if (h[i] != 0)
      return 0;
  }
  return 1;
}

/* name, or prefix "/" name for a POSIX ustar header with a prefix. */
static char *header_name(const unsigned char *h)
{
  size_t nlen = strnlen((const char *)h, 100);
  size_t plen = 0;
  char *s;

  if (memcmp(h + 257, "ustar\0", 6) == 0)
    plen = strnlen((const char *)h + 345, 155);
  if (plen == 0)
    return copy_bytes(h, nlen);
  s = malloc(plen + 1 + nlen + 1);
  if (s != NULL) {
    memcpy(s, h + 345, plen);
    s[plen] = '/';
    memcpy(s + plen + 1, h, nlen);
    s[plen + 1 + nlen] = '\0';
  }
  return s;
}

static int matches(const struct zpm_tar_capture *tc, const char *name)
{
  size_t i;

  for (i = 0; i < tc->n_patterns; i++) {
    if (fnmatch(tc->patterns[i], name, FNM_NOESCAPE) == 0)
      return 1;
  }
  return 0;
}

/* --- member bodies ------------------------------------------------------- */

static unsigned long long padding(unsigned long long size)
{
  return (BLOCK - size % BLOCK) % BLOCK;
}

/* Skip size bytes of data and their padding. */
static void skip_data(struct zpm_tar_capture *tc, unsigned long long size)
{
  tc->remaining = size + padding(size);
  tc->state = tc->remaining > 0 ? ST_SKIP : ST_HEADER;
}

/*
 * The body of a pax 'x' header: "LEN key=value\n" records. Keeps path
 * and size for the next member; other keys do not matter here.
 */
static int parse_pax(struct zpm_tar_capture *tc)
{
  const char *p = (const char *)tc->meta;
  size_t n = tc->meta_len, pos = 0;

  while (pos < n) {
    size_t len = 0, i = pos, key, eq;

    while (i < n && p[i] >= '0' && p[i] <= '9' && len <= n) {
      len = len * 10 + (size_t)(p[i] - '0');
      i++;
    }
    if (i == pos || i >= n || p[i] != ' ' || len > n - pos ||
        len < i - pos + 2 || p[pos + len - 1] != '\n') {
      if (p[pos] == '\0')
        break;              /* NUL padding some writers leave */
      return fail(tc, ZPM_EARCHIVE, "malformed pax header", NULL);
    }
    key = i + 1;
    eq = key;
    while (eq < pos + len - 1 && p[eq] != '=')
      eq++;
    if (eq < pos + len - 1) {
      const char *value = p + eq + 1;
      size_t vlen = pos + len - 1 - (eq + 1);

      if (eq - key == 4 && memcmp(p + key, "path", 4) == 0) {
        free(tc->pax_name);
        tc->pax_name = copy_bytes(value, vlen);
        if (tc->pax_name == NULL)
          return fail(tc, ZPM_ENOMEM, NULL, NULL);
      } else if (eq - key == 4 && memcmp(p + key, "size", 4) == 0) {
        unsigned long long v = 0;
        size_t j;

        for (j = 0; j < vlen; j++) {
          if (value[j] < '0' || value[j] > '9' || v > (ULLONG_MAX / 16))
            return fail(tc, ZPM_EARCHIVE, "bad pax size", NULL);
          v = v * 10 + (unsigned)(value[j] - '0');
        }
        if (vlen == 0 || v > (unsigned long long)INT64_MAX)
          return fail(tc, ZPM_EARCHIVE, "bad pax size", NULL);
        tc->pax_size = (long long)v;
      }
    }
    pos += len;
  }
  return ZPM_OK;
}

static int end_meta(struct zpm_tar_capture *tc)
{
  int status = ZPM_OK;

  if (tc->meta_type == 'x') {
    status = parse_pax(tc);
  } else {
    free(tc->gnu_name);
    tc->gnu_name = copy_bytes(tc->meta, strnlen((const char *)tc->meta,
                                                tc->meta_len));
    if (tc->gnu_name == NULL)
      status = fail(tc, ZPM_ENOMEM, NULL, NULL);
  }
  free(tc->meta);
  tc->meta = NULL;
  if (status == ZPM_OK) {
    tc->remaining = tc->pad;
    tc->state = tc->remaining > 0 ? ST_SKIP : ST_HEADER;
  }
  return status;
}

static int end_capture(struct zpm_tar_capture *tc)
{
  struct zpm_tar_member *m = tc->cur;

  if (tc->count == tc->cap) {
    size_t cap = tc->cap > 0 ? tc->cap * 2 : 16;
    struct zpm_tar_member *p = realloc(tc->members, cap * sizeof(*p));

    if (p == NULL)
      return fail(tc, ZPM_ENOMEM, NULL, NULL);
    tc->members = p;
    tc->cap = cap;
  }
  tc->members[tc->count++] = *m;
  free(m);
  tc->cur = NULL;
  tc->remaining = tc->pad;
  tc->state = tc->remaining > 0 ? ST_SKIP : ST_HEADER;
  return ZPM_OK;
}

static int start_capture(struct zpm_tar_capture *tc, char *name,
                         unsigned long long size)
{
  struct zpm_tar_member *m;

  if (size > tc->max_member) {
    zpm_error_set(&tc->error, ZPM_ELIMIT,
                  "tar member '%s' is %llu bytes, more than the limit "
                  "of %zu", name, size, tc->max_member);
    tc->state = ST_FAILED;
    free(name);
    return ZPM_ELIMIT;
  }
  if (size > tc->max_total - tc->total) {
    zpm_error_set(&tc->error, ZPM_ELIMIT,
                  "tar member '%s': the captured members exceed the "
                  "limit of %zu bytes in all", name, tc->max_total);
    tc->state = ST_FAILED;
    free(name);
    return ZPM_ELIMIT;
  }
  m = calloc(1, sizeof(*m));
  if (m != NULL)
    m->data = malloc(size > 0 ? (size_t)size : 1);
  if (m == NULL || m->data == NULL) {
    free(m);
    free(name);
    return fail(tc, ZPM_ENOMEM, NULL, NULL);
  }
  m->name = name;
  m->len = (size_t)size;
  tc->cur = m;
  tc->cur_len = 0;
  tc->total += (size_t)size;
  tc->remaining = size;
  tc->pad = padding(size);
  tc->state = ST_CAPTURE;
  if (size == 0)
    return end_capture(tc);
  return ZPM_OK;
}

/* A complete header block is in hdr: decide what follows it. */
static int on_header(struct zpm_tar_capture *tc)
{
  const unsigned char *h = tc->hdr;
  char type = (char)h[156];
  long long size;
  char *name;
  int regular;

  tc->hdr_len = 0;
  if (all_zero(h)) {
    tc->state = ST_END;
    return ZPM_OK;
  }
  if (!checksum_ok(h))
    return fail(tc, ZPM_EARCHIVE, "bad checksum (not a tar archive?)",
                NULL);
  size = parse_number(h + 124, 12);
  if (size < 0)
    return fail(tc, ZPM_EARCHIVE, "bad size field", NULL);
  if (type == 'x' || type == 'L') {
    if (size > ZPM_TAR_CAPTURE_META_MAX) {
      tc->state = ST_FAILED;
      return zpm_error_set(&tc->error, ZPM_ELIMIT,
                           "tar header at byte %llu: a %s header of %lld "
                           "bytes, more than the limit of %d",
                           tc->offset - BLOCK,
                           type == 'x' ? "pax" : "GNU long name", size,
                           ZPM_TAR_CAPTURE_META_MAX);
    }
    if (type == 'x')
      tc->seen_pax = 1;
    tc->meta_type = type;
    tc->meta = malloc(size > 0 ? (size_t)size : 1);
    if (tc->meta == NULL)
      return fail(tc, ZPM_ENOMEM, NULL, NULL);
    tc->meta_len = 0;
    tc->remaining = (unsigned long long)size;
    tc->pad = padding((unsigned long long)size);
    tc->state = ST_META;
    if (size == 0)
      return end_meta(tc);
    return ZPM_OK;
  }
  if (type == 'g' || type == 'K') {
    skip_data(tc, (unsigned long long)size);
    return ZPM_OK;
  }
  /* A member: the names and size the meta headers gave apply to it. */
  if (tc->pax_size >= 0)
    size = tc->pax_size;
  if (tc->pax_name != NULL) {
    name = tc->pax_name;
    tc->pax_name = NULL;
  } else if (tc->gnu_name != NULL) {
    name = tc->gnu_name;
    tc->gnu_name = NULL;
  } else {
    name = header_name(h);
    if (name == NULL)
      return fail(tc, ZPM_ENOMEM, NULL, NULL);
  }
  free(tc->pax_name);
  tc->pax_name = NULL;
  free(tc->gnu_name);
  tc->gnu_name = NULL;
  tc->pax_size = -1;
  regular = type == '0' || type == '7' ||
            (type == '\0' && name[0] != '\0' &&
             name[strlen(name) - 1] != '/');
  if (regular && matches(tc, name))
    return start_capture(tc, name, (unsigned long long)size);
  free(name);
  /* As libarchive: no data after these, except a pax hard link's. */
  if (type == '2' || type == '3' || type == '4' || type == '5' ||
      type == '6' || (type == '1' && !tc->seen_pax))
    size = 0;
  skip_data(tc, (unsigned long long)size);
  return ZPM_OK;
}

/* --- feeding ------------------------------------------------------------- */

static size_t min_size(size_t a, unsigned long long b)
{
  return (unsigned long long)a < b ? a : (size_t)b;
}

int zpm_tar_capture_feed(struct zpm_tar_capture *tc, const void *buf,
                         size_t len)
{
  const unsigned char *p = buf;
  int status = ZPM_OK;

  if (tc->state == ST_FAILED)
    return tc->error.status;
  tc->complete = 0;
  while (len > 0 && status == ZPM_OK) {
    size_t take;

    switch (tc->state) {
    case ST_HEADER:
      take = min_size(len, BLOCK - tc->hdr_len);
      memcpy(tc->hdr + tc->hdr_len, p, take);
      tc->hdr_len += take;
      tc->offset += take;
      if (tc->hdr_len == BLOCK)
        status = on_header(tc);
      break;
    case ST_META:
      take = min_size(len, tc->remaining);
      memcpy(tc->meta + tc->meta_len, p, take);
      tc->meta_len += take;
      tc->remaining -= take;
      tc->offset += take;
      if (tc->remaining == 0)
        status = end_meta(tc);
      break;
    case ST_CAPTURE:
      take = min_size(len, tc->remaining);
      memcpy(tc->cur->data + tc->cur_len, p, take);
      tc->cur_len += take;
      tc->remaining -= take;
      tc->offset += take;
      if (tc->remaining == 0)
        status = end_capture(tc);
      break;
    case ST_SKIP:
      take = min_size(len, tc->remaining);
      tc->remaining -= take;
      tc->offset += take;
      if (tc->remaining == 0)
        tc->state = ST_HEADER;
      break;
    case ST_END:
      take = len;
      tc->offset += take;
      break;
    default:
      return tc->error.status;
    }
    p += take;
    len -= take;
  }
  return status;
}

int zpm_tar_capture_finish(struct zpm_tar_capture *tc)
{
  if (tc->state == ST_FAILED)
    return tc->error.status;
  if (tc->state == ST_END ||
      (tc->state == ST_HEADER && tc->hdr_len == 0 &&
       tc->pax_name == NULL && tc->gnu_name == NULL)) {
    tc->complete = 1;
    return ZPM_OK;
  }
  tc->state = ST_FAILED;
  return zpm_error_set(&tc->error, ZPM_EARCHIVE,
                       "tar archive truncated at byte %llu", tc->offset);
}

static int tap_feed(void *ud, const void *buf, size_t len,
                    struct zpm_error *err)
{
  int status = zpm_tar_capture_feed(ud, buf, len);

  if (status != ZPM_OK)
    *err = *zpm_tar_capture_error(ud);
  return status;
}

static void tap_reset(void *ud)
{
  zpm_tar_capture_reset(ud);
}

static int tap_finish(void *ud, struct zpm_error *err)
{
  int status = zpm_tar_capture_finish(ud);

  if (status != ZPM_OK)
    *err = *zpm_tar_capture_error(ud);
  return status;
}

void zpm_tar_capture_tap(struct zpm_tar_capture *tc,
                         struct zpm_source_tap *tap)
{
  memset(tap, 0, sizeof(*tap));
  tap->feed = tap_feed;
  tap->reset = tap_reset;
  tap->finish = tap_finish;
  tap->ud = tc;
}
