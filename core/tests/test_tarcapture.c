/*
 * Tar capture: ustar names and prefixes, pax path= and size=, GNU long
 * names, base-256 sizes, global headers, fnmatch patterns, limits,
 * truncation and reset, with the archive fed in pieces of every size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zpm/tar_capture.h"

/* --- building archives in memory ---------------------------------------- */

struct tarbuf {
  unsigned char *p;
  size_t len, cap;
};

static void tb_append(struct tarbuf *tb, const void *data, size_t len)
{
  if (tb->len + len > tb->cap) {
    size_t cap = tb->cap > 0 ? tb->cap : 4096;

    while (cap < tb->len + len)
      cap *= 2;
    tb->p = realloc(tb->p, cap);
    tb->cap = cap;
  }
  memcpy(tb->p + tb->len, data, len);
  tb->len += len;
}

static void tb_pad(struct tarbuf *tb)
{
  static const unsigned char zero[512];

  if (tb->len % 512 != 0)
    tb_append(tb, zero, 512 - tb->len % 512);
}

enum size_form { SIZE_OCTAL, SIZE_BASE256 };

static void tb_checksum(unsigned char *h)
{
  unsigned sum = 0;
  int i;

  memset(h + 148, ' ', 8);
  for (i = 0; i < 512; i++)
    sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  h[155] = ' ';
}

/*
 * One header block. name goes in the name field (cut to 100 bytes),
 * prefix (may be NULL) in the ustar prefix; gnu selects the GNU magic.
 */
static void tb_header(struct tarbuf *tb, const char *name,
                      const char *prefix, char type,
                      unsigned long long size, enum size_form form,
                      int gnu)
{
  unsigned char h[512];
  size_t nlen = strlen(name);
  int i;

  memset(h, 0, sizeof(h));
  memcpy(h, name, nlen > 100 ? 100 : nlen);
  memcpy(h + 100, "0000644", 7);
  memcpy(h + 108, "0001750", 7);
  memcpy(h + 116, "0001750", 7);
  if (form == SIZE_OCTAL) {
    snprintf((char *)h + 124, 12, "%011llo", size);
  } else {
    h[124] = 0x80;
    for (i = 11; i >= 1; i--) {
      h[124 + i] = (unsigned char)(size & 0xff);
      size >>= 8;
    }
  }
  memcpy(h + 136, "14712345670", 11);
  h[156] = (unsigned char)type;
  if (gnu) {
    memcpy(h + 257, "ustar  ", 8);
  } else {
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    if (prefix != NULL)
      memcpy(h + 345, prefix, strlen(prefix));
  }
  tb_checksum(h);
  tb_append(tb, h, 512);
}

static void tb_file(struct tarbuf *tb, const char *name, const void *data,
                    size_t len)
{
  tb_header(tb, name, NULL, '0', len, SIZE_OCTAL, 0);
  tb_append(tb, data, len);
  tb_pad(tb);
}

/* A pax 'x' (or 'g') header with the given "key=value" records. */
static void tb_pax(struct tarbuf *tb, char type, const char *const *kv,
                   int n)
{
  char body[8192];
  size_t blen = 0;
  int i;

  for (i = 0; i < n; i++) {
    size_t klen = strlen(kv[i]);
    size_t len = klen + 3;          /* digits, space, newline: guess */
    char digits[16];

    for (;;) {
      int d = snprintf(digits, sizeof(digits), "%zu", len);

      if ((size_t)d + 1 + klen + 1 == len)
        break;
      len = (size_t)d + 1 + klen + 1;
    }
    blen += (size_t)snprintf(body + blen, sizeof(body) - blen, "%s %s\n",
                             digits, kv[i]);
  }
  tb_header(tb, "./PaxHeaders/x", NULL, type, blen, SIZE_OCTAL, 0);
  tb_append(tb, body, blen);
  tb_pad(tb);
}

static void tb_gnu_long(struct tarbuf *tb, const char *name)
{
  tb_header(tb, "././@LongLink", NULL, 'L', strlen(name) + 1, SIZE_OCTAL,
            1);
  tb_append(tb, name, strlen(name) + 1);
  tb_pad(tb);
}

static void tb_end(struct tarbuf *tb)
{
  static const unsigned char zero[1024];

  tb_append(tb, zero, sizeof(zero));
}

static unsigned char *bytes(size_t len, unsigned seed)
{
  unsigned char *p = malloc(len > 0 ? len : 1);
  size_t i;

  for (i = 0; i < len; i++)
    p[i] = (unsigned char)((i * 31 + seed * 7 + (i >> 7)) & 0xff);
  return p;
}

/* --- feeding ------------------------------------------------------------- */

static struct zpm_tar_capture *new_capture(const char *const *patterns,
                                           size_t n, size_t max_member,
                                           size_t max_total)
{
  struct zpm_tar_capture_options opt;
  struct zpm_tar_capture *tc = NULL;
  struct zpm_error err;

  memset(&opt, 0, sizeof(opt));
  opt.patterns = patterns;
  opt.n_patterns = n;
  opt.max_member = max_member;
  opt.max_total = max_total;
  zpm_error_clear(&err);
  CHECK(zpm_tar_capture_new(&tc, &opt, &err) == ZPM_OK);
  return tc;
}

/* Feed tb in pieces of step bytes (0: pseudo-random sizes); status. */
static int feed(struct zpm_tar_capture *tc, const struct tarbuf *tb,
                size_t step)
{
  size_t pos = 0;
  unsigned x = 7;
  int rc;

  while (pos < tb->len) {
    size_t n = step;

    if (n == 0) {
      x = x * 1103515245u + 12345u;
      n = 1 + (x >> 16) % 1500;
    }
    if (n > tb->len - pos)
      n = tb->len - pos;
    rc = zpm_tar_capture_feed(tc, tb->p + pos, n);
    if (rc != ZPM_OK)
      return rc;
    pos += n;
  }
  return zpm_tar_capture_finish(tc);
}

static int member_is(const struct zpm_tar_capture *tc, size_t i,
                     const char *name, const void *data, size_t len)
{
  const struct zpm_tar_member *m = zpm_tar_capture_member(tc, i);

  return m != NULL && strcmp(m->name, name) == 0 && m->len == len &&
         (len == 0 || memcmp(m->data, data, len) == 0);
}

/* --- tests --------------------------------------------------------------- */

/*
 * Every kind of header in one archive; fed whole, byte by byte, in
 * 511/512/513-byte pieces and in random ones, the captures are the same.
 */
static void test_formats(void)
{
  static const char *const patterns[] = { "*.html", "ui/*", "exact.txt" };
  static const size_t steps[] = { 0, 1, 2, 511, 512, 513, 4096, 1 << 20 };
  struct tarbuf tb = { NULL, 0, 0 };
  char longname[400];
  char paxpath[420];
  char paxsize[64];
  const char *kv[3];
  unsigned char *a = bytes(1000, 1), *b = bytes(513, 2);
  unsigned char *c = bytes(70000, 3), *d = bytes(512, 4);
  size_t i;

  memset(longname, 0, sizeof(longname));
  for (i = 0; i < 300; i++)
    longname[i] = (char)('a' + i % 26);
  memcpy(longname + 100, "/", 1);
  memcpy(longname + 300, "/deep.html", 10);

  tb_file(&tb, "zapp.yaml", "meta: {}\n", 9);
  tb_header(&tb, "ui/", NULL, '5', 0, SIZE_OCTAL, 0);
  tb_file(&tb, "ui/index.html", a, 1000);           /* 0 */
  tb_file(&tb, "other.bin", c, 70000);
  tb_header(&tb, "page.html", "ui/sub", '0', 513, SIZE_OCTAL, 0);
  tb_append(&tb, b, 513);                           /* 1: ui/sub/... */
  tb_pad(&tb);
  /* A global header's path= applies to nobody here. */
  kv[0] = "path=global.html";
  tb_pax(&tb, 'g', kv, 1);
  /* pax: a long path, and a size= that overrides the header's. */
  snprintf(paxpath, sizeof(paxpath), "path=%s", longname);
  snprintf(paxsize, sizeof(paxsize), "size=%d", 70000);
  kv[0] = "mtime=1700000000.5";
  kv[1] = paxpath;
  kv[2] = paxsize;
  tb_pax(&tb, 'x', kv, 3);
  tb_header(&tb, "cut-name", NULL, '0', 0, SIZE_OCTAL, 0);
  tb_append(&tb, c, 70000);                         /* 2: longname */
  tb_pad(&tb);
  /* GNU long name, and a base-256 size. */
  tb_gnu_long(&tb, "gnu/long/name/that/goes/on/and/on/and/on/and/on/"
                   "and/on/and/on/and/on/and/on/and/on/and/on/x.html");
  tb_header(&tb, "gnu/long/name/that/goes/on/and/on/and/on/and/on/and/o",
            NULL, '0', 512, SIZE_BASE256, 1);
  tb_append(&tb, d, 512);                           /* 3 */
  /* A symlink with a stray size has no data; a matching name is no
   * regular file. */
  tb_header(&tb, "link.html", NULL, '2', 1000, SIZE_OCTAL, 0);
  tb_file(&tb, "exact.txt", "", 0);                 /* 4: empty */
  tb_file(&tb, "exact.txt.not", "x", 1);
  tb_header(&tb, "z.html", NULL, '0', 3, SIZE_BASE256, 0);
  tb_append(&tb, "abc", 3);                         /* 5 */
  tb_pad(&tb);
  tb_end(&tb);
  /* Blocking-factor padding, then junk after the end. */
  tb_append(&tb, "junk after the end", 18);

  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    struct zpm_tar_capture *tc = new_capture(patterns, 3, 0, 0);

    CHECK(feed(tc, &tb, steps[i]) == ZPM_OK);
    CHECK(zpm_tar_capture_complete(tc));
    CHECK(zpm_tar_capture_count(tc) == 6);
    CHECK(member_is(tc, 0, "ui/index.html", a, 1000));
    CHECK(member_is(tc, 1, "ui/sub/page.html", b, 513));
    CHECK(member_is(tc, 2, longname, c, 70000));
    CHECK(member_is(tc, 3, "gnu/long/name/that/goes/on/and/on/and/on/and/"
                    "on/and/on/and/on/and/on/and/on/and/on/and/on/x.html",
                    d, 512));
    CHECK(member_is(tc, 4, "exact.txt", "", 0));
    CHECK(member_is(tc, 5, "z.html", "abc", 3));
    CHECK(zpm_tar_capture_member(tc, 6) == NULL);
    /* Reset: the same archive again gives the same members, once. */
    zpm_tar_capture_reset(tc);
    CHECK(zpm_tar_capture_count(tc) == 0);
    CHECK(!zpm_tar_capture_complete(tc));
    CHECK(feed(tc, &tb, 4096) == ZPM_OK);
    CHECK(zpm_tar_capture_count(tc) == 6);
    zpm_tar_capture_free(tc);
  }
  free(tb.p);
  free(a);
  free(b);
  free(c);
  free(d);
}

/* '*' crosses '/', '?' is one character, classes work, no escapes. */
static void test_patterns(void)
{
  static const char *const p1[] = { "*" };
  static const char *const p2[] = { "ui/?.js", "[ab]*.css", "\\*.txt" };
  static const char *const p3[] = { "nothing" };
  struct tarbuf tb = { NULL, 0, 0 };
  struct zpm_tar_capture *tc;

  tb_file(&tb, "a/b/c.txt", "1", 1);
  tb_file(&tb, "ui/x.js", "2", 1);
  tb_file(&tb, "ui/xy.js", "3", 1);
  tb_file(&tb, "b/deep/s.css", "4", 1);
  tb_file(&tb, "\\star.txt", "5", 1);
  tb_end(&tb);

  tc = new_capture(p1, 1, 0, 0);
  CHECK(feed(tc, &tb, 0) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 5);
  zpm_tar_capture_free(tc);

  tc = new_capture(p2, 3, 0, 0);
  CHECK(feed(tc, &tb, 0) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 3);
  CHECK(member_is(tc, 0, "ui/x.js", "2", 1));
  CHECK(member_is(tc, 1, "b/deep/s.css", "4", 1));
  /* FNM_NOESCAPE: the backslash is an ordinary character. */
  CHECK(member_is(tc, 2, "\\star.txt", "5", 1));
  zpm_tar_capture_free(tc);

  tc = new_capture(p3, 1, 0, 0);
  CHECK(feed(tc, &tb, 100) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 0);
  zpm_tar_capture_free(tc);

  /* No patterns: nothing captured, the archive still followed. */
  tc = new_capture(NULL, 0, 0, 0);
  CHECK(feed(tc, &tb, 100) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 0);
  CHECK(zpm_tar_capture_complete(tc));
  zpm_tar_capture_free(tc);
  free(tb.p);
}

static void test_limits(void)
{
  static const char *const all[] = { "*" };
  struct tarbuf tb = { NULL, 0, 0 };
  struct tarbuf meta = { NULL, 0, 0 };
  struct zpm_tar_capture *tc;
  unsigned char *big = bytes(3000, 5);
  char *huge = malloc(ZPM_TAR_CAPTURE_META_MAX + 2);

  tb_file(&tb, "a", big, 1000);
  tb_file(&tb, "b", big, 2000);
  tb_file(&tb, "c", big, 3000);
  tb_end(&tb);

  /* Exactly at the limits: fine. */
  tc = new_capture(all, 1, 3000, 6000);
  CHECK(feed(tc, &tb, 0) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 3);
  zpm_tar_capture_free(tc);

  /* One member too large. */
  tc = new_capture(all, 1, 2999, 0);
  CHECK(feed(tc, &tb, 0) == ZPM_ELIMIT);
  CHECK(zpm_tar_capture_error(tc)->status == ZPM_ELIMIT);
  CHECK(strstr(zpm_tar_capture_error(tc)->message, "'c'") != NULL);
  CHECK(strstr(zpm_tar_capture_error(tc)->message, "2999") != NULL);
  /* The failure sticks until a reset. */
  CHECK(zpm_tar_capture_feed(tc, "x", 1) == ZPM_ELIMIT);
  CHECK(zpm_tar_capture_finish(tc) == ZPM_ELIMIT);
  CHECK(!zpm_tar_capture_complete(tc));
  zpm_tar_capture_reset(tc);
  CHECK(zpm_tar_capture_feed(tc, tb.p, 1024 + 1024) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 1);
  zpm_tar_capture_free(tc);

  /* The total. */
  tc = new_capture(all, 1, 0, 5999);
  CHECK(feed(tc, &tb, 0) == ZPM_ELIMIT);
  CHECK(strstr(zpm_tar_capture_error(tc)->message, "5999") != NULL);
  zpm_tar_capture_free(tc);

  /* A GNU long name larger than the meta limit. */
  memset(huge, 'n', ZPM_TAR_CAPTURE_META_MAX + 1);
  huge[ZPM_TAR_CAPTURE_META_MAX + 1] = '\0';
  tb_gnu_long(&meta, huge);
  tb_file(&meta, "x", "1", 1);
  tb_end(&meta);
  tc = new_capture(all, 1, 0, 0);
  CHECK(feed(tc, &meta, 0) == ZPM_ELIMIT);
  zpm_tar_capture_free(tc);
  free(meta.p);
  free(huge);
  free(tb.p);
  free(big);
}

static void test_bad_input(void)
{
  static const char *const all[] = { "*" };
  struct tarbuf tb = { NULL, 0, 0 };
  struct tarbuf cut;
  struct zpm_tar_capture *tc;
  unsigned char junk[512];
  size_t ends[] = { 100, 512, 700, 1100, 1536 };
  size_t i;

  tb_file(&tb, "a.txt", "hello", 5);
  tb_file(&tb, "b.txt", "world", 5);
  tb_end(&tb);

  /* Truncated inside a header or data: finish says so. */
  for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
    cut = tb;
    cut.len = ends[i];
    tc = new_capture(all, 1, 0, 0);
    CHECK(feed(tc, &cut, 0) == ZPM_EARCHIVE);
    CHECK(strstr(zpm_tar_capture_error(tc)->message, "truncated") != NULL);
    zpm_tar_capture_free(tc);
  }
  /* Stopping between members without the end blocks is accepted. */
  cut = tb;
  cut.len = 2048;
  tc = new_capture(all, 1, 0, 0);
  CHECK(feed(tc, &cut, 0) == ZPM_OK);
  CHECK(zpm_tar_capture_count(tc) == 2);
  zpm_tar_capture_free(tc);

  /* Not a tar: a bad checksum. */
  memset(junk, 'j', sizeof(junk));
  cut.p = junk;
  cut.len = sizeof(junk);
  tc = new_capture(all, 1, 0, 0);
  CHECK(feed(tc, &cut, 0) == ZPM_EARCHIVE);
  CHECK(strstr(zpm_tar_capture_error(tc)->message, "checksum") != NULL);
  zpm_tar_capture_free(tc);

  /* A corrupt size field, and a negative base-256 one. */
  tb.p[124] = 'z';
  tb_checksum(tb.p);
  tc = new_capture(all, 1, 0, 0);
  CHECK(feed(tc, &tb, 0) == ZPM_EARCHIVE);
  CHECK(strstr(zpm_tar_capture_error(tc)->message, "size") != NULL);
  zpm_tar_capture_free(tc);
  tb.p[124] = 0xff;
  tb_checksum(tb.p);
  tc = new_capture(all, 1, 0, 0);
  CHECK(feed(tc, &tb, 0) == ZPM_EARCHIVE);
  zpm_tar_capture_free(tc);
  free(tb.p);
}

int main(void)
{
  test_formats();
  test_patterns();
  test_limits();
  test_bad_input();
  return CHECK_DONE();
}
