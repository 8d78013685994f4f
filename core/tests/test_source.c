/*
 * Body sources (file range, gunzip with one and several members, memory,
 * rewind) and MD5 against the RFC 1321 test suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "zpm/digest.h"
#include "zpm/body.h"
#include "zpm/source.h"

static char root[4096];

static void md5_of(const void *data, size_t len, char hex[33])
{
  struct zpm_md5 ctx = { NULL };
  unsigned char digest[16];

  CHECK(zpm_md5_init(&ctx) == ZPM_OK);
  zpm_md5_update(&ctx, data, len);
  zpm_md5_final(&ctx, digest);
  zpm_md5_free(&ctx);
  zpm_md5_hex(digest, hex);
}

static void test_md5_vectors(void)
{
  static const char *const cases[][2] = {
    { "", "d41d8cd98f00b204e9800998ecf8427e" },
    { "a", "0cc175b9c0f1b6a831c399e269772661" },
    { "abc", "900150983cd24fb0d6963f7d28e17f72" },
    { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
    { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
    { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f" },
    { "1234567890123456789012345678901234567890"
      "1234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a" },
  };
  char hex[33];
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    md5_of(cases[i][0], strlen(cases[i][0]), hex);
    CHECK_STR(hex, cases[i][1]);
  }
}

/* Feeding bytes in uneven pieces gives the digest of the whole. */
static void test_md5_pieces(void)
{
  static unsigned char data[10000];
  struct zpm_md5 ctx = { NULL };
  unsigned char digest[16];
  char whole[33], pieces[33];
  size_t i, pos, step;

  for (i = 0; i < sizeof(data); i++)
    data[i] = (unsigned char)(i * 7 + (i >> 8));
  md5_of(data, sizeof(data), whole);
  for (step = 1; step < 200; step += 37) {
    zpm_md5_init(&ctx);
    for (pos = 0; pos < sizeof(data); pos += step) {
      size_t n = sizeof(data) - pos < step ? sizeof(data) - pos : step;
      zpm_md5_update(&ctx, data + pos, n);
    }
    zpm_md5_final(&ctx, digest);
    zpm_md5_hex(digest, pieces);
    CHECK_STR(pieces, whole);
  }
  zpm_md5_free(&ctx);
  /* Exactly 55, 56 and 64 bytes: the padding edge cases. */
  md5_of(data, 55, whole);
  CHECK(strlen(whole) == 32);
  md5_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         64, whole);
  CHECK_STR(whole, "014842d480b571495a4a0363793f7367");
}

static void path_of(char *out, size_t cap, const char *name)
{
  snprintf(out, cap, "%s/%s", root, name);
}

static int write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  size_t n;

  if (f == NULL)
    return -1;
  n = fwrite(data, 1, len, f);
  if (fclose(f) != 0 || n != len)
    return -1;
  return 0;
}

/* Read a source to its end in blocks of cap; returns bytes or -1. */
static long read_all(struct zpm_source *src, unsigned char *out,
                     size_t outcap, size_t cap)
{
  size_t total = 0;

  for (;;) {
    size_t got = 0;

    if (total + cap > outcap)
      return -1;
    if (zpm_source_read(src, out + total, cap, &got) != ZPM_OK)
      return -1;
    if (got == 0)
      return (long)total;
    total += got;
  }
}

static unsigned char *pattern(size_t len, unsigned seed)
{
  unsigned char *p = malloc(len);
  size_t i;
  unsigned x = seed;

  for (i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    /* Compressible but not trivial. */
    p[i] = (unsigned char)("abcdefgh"[(x >> 16) & 7] + (i % 61 == 0));
  }
  return p;
}

static void test_file_range(void)
{
  size_t len = 300000;
  unsigned char *data = pattern(len, 1);
  unsigned char *out = malloc(len + 65536);
  char path[4200];
  struct zpm_source *src = NULL;
  struct zpm_error err;

  path_of(path, sizeof(path), "plain.bin");
  CHECK(write_file(path, data, len) == 0);

  zpm_error_clear(&err);
  CHECK(zpm_source_file(&src, path, 0, -1, &err) == ZPM_OK);
  CHECK(zpm_source_length(src) == (long long)len);
  CHECK(read_all(src, out, len + 65536, 65536) == (long)len);
  CHECK(memcmp(out, data, len) == 0);
  zpm_source_free(src);

  CHECK(zpm_source_file(&src, path, 1000, 5000, &err) == ZPM_OK);
  CHECK(zpm_source_length(src) == 5000);
  CHECK(read_all(src, out, len, 333) == 5000);
  CHECK(memcmp(out, data + 1000, 5000) == 0);
  /* Rewind after a partial read starts over. */
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(read_all(src, out, len, 4096) == 5000);
  CHECK(memcmp(out, data + 1000, 5000) == 0);
  zpm_source_free(src);

  /* To the end from an offset; an empty range at the very end. */
  CHECK(zpm_source_file(&src, path, (long long)len - 10, -1, &err) ==
        ZPM_OK);
  CHECK(zpm_source_length(src) == 10);
  zpm_source_free(src);
  CHECK(zpm_source_file(&src, path, (long long)len, 0, &err) == ZPM_OK);
  CHECK(read_all(src, out, len, 100) == 0);
  zpm_source_free(src);

  CHECK(zpm_source_file(&src, path, 10, (long long)len, &err) ==
        ZPM_EINVAL);
  CHECK(src == NULL);
  CHECK(strstr(err.message, "beyond the end") != NULL);
  CHECK(zpm_source_file(&src, path, -1, 5, &err) == ZPM_EINVAL);

  path_of(path, sizeof(path), "missing.bin");
  zpm_error_clear(&err);
  CHECK(zpm_source_file(&src, path, 0, -1, &err) == ZPM_EIO);
  CHECK(strstr(err.message, "missing.bin") != NULL);
  CHECK(err.lib_code != 0);
  CHECK(zpm_source_file(&src, root, 0, -1, &err) == ZPM_EINVAL);
  free(data);
  free(out);
}

/* One gzip member of data appended to *out (grown with realloc). */
static size_t gzip_member(const unsigned char *data, size_t len,
                          unsigned char **out, size_t used)
{
  z_stream zs;
  uLong bound;
  unsigned char *p;

  memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    return 0;
  bound = deflateBound(&zs, (uLong)len) + 64;
  p = realloc(*out, used + bound);
  if (p == NULL) {
    deflateEnd(&zs);
    return 0;
  }
  *out = p;
  zs.next_in = (unsigned char *)data;
  zs.avail_in = (uInt)len;
  zs.next_out = p + used;
  zs.avail_out = (uInt)bound;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
    deflateEnd(&zs);
    return 0;
  }
  used += zs.total_out;
  deflateEnd(&zs);
  return used;
}

static void test_readahead(const unsigned char *gz, size_t gzlen,
                           size_t onelen, const unsigned char *a,
                           size_t alen, const unsigned char *b, size_t blen,
                           unsigned char *out, size_t outcap)
{
  char path[4200];
  struct zpm_source *inner = NULL, *src = NULL;
  struct zpm_error err;
  size_t got = 0;
  size_t total = 2 * alen + blen;
  int i;

  zpm_error_clear(&err);
  path_of(path, sizeof(path), "multi.gz");
  CHECK(write_file(path, gz, gzlen) == 0);
  for (i = 0; i < 2; i++) {
    /* Tiny blocks wrap the ring many times; then the defaults. */
    CHECK(zpm_source_gunzip(&inner, path, &err) == ZPM_OK);
    CHECK(zpm_source_readahead(&src, inner, i == 0 ? 4096 : 0,
                               i == 0 ? 3 : 0, &err) == ZPM_OK);
    CHECK(zpm_source_length(src) == -1);
    CHECK(zpm_source_read(src, out, 1000, &got) == ZPM_OK && got == 1000);
    CHECK(memcmp(out, a, 1000) == 0);
    CHECK(zpm_source_rewind(src) == ZPM_OK);
    CHECK(read_all(src, out, outcap, i == 0 ? 1000 : 512 * 1024) ==
          (long)total);
    CHECK(memcmp(out, a, alen) == 0);
    CHECK(memcmp(out + alen, b, blen) == 0);
    CHECK(memcmp(out + alen + blen, a, alen) == 0);
    CHECK(zpm_source_read(src, out, 100, &got) == ZPM_OK && got == 0);
    CHECK(zpm_source_rewind(src) == ZPM_OK);
    CHECK(read_all(src, out, outcap, 65536) == (long)total);
    CHECK(memcmp(out + alen + blen, a, alen) == 0);
    /* Freed while the thread waits on a full ring. */
    CHECK(zpm_source_rewind(src) == ZPM_OK);
    CHECK(zpm_source_read(src, out, 10, &got) == ZPM_OK && got == 10);
    zpm_source_free(src);
  }
  /* Freed before any read: no thread was started. */
  CHECK(zpm_source_gunzip(&inner, path, &err) == ZPM_OK);
  CHECK(zpm_source_readahead(&src, inner, 0, 0, &err) == ZPM_OK);
  zpm_source_free(src);

  /* The inner source's error, after the bytes before it. */
  path_of(path, sizeof(path), "cut2.gz");
  CHECK(write_file(path, gz, onelen - 10) == 0);
  CHECK(zpm_source_gunzip(&inner, path, &err) == ZPM_OK);
  CHECK(zpm_source_readahead(&src, inner, 8192, 2, &err) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 8192) == -1);
  CHECK(zpm_source_error(src)->status == ZPM_EZLIB);
  CHECK(strstr(zpm_source_error(src)->message, "unexpected end") != NULL);
  /* Rewinding clears the failure; it fails again at the same place. */
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 8192) == -1);
  zpm_source_free(src);

  /* A known length is passed through. */
  CHECK(zpm_source_memory(&inner, a, 12345, &err) == ZPM_OK);
  CHECK(zpm_source_readahead(&src, inner, 1000, 2, &err) == ZPM_OK);
  CHECK(zpm_source_length(src) == 12345);
  CHECK(read_all(src, out, outcap, 777) == 12345);
  CHECK(memcmp(out, a, 12345) == 0);
  zpm_source_free(src);
}

static void test_gunzip(void)
{
  size_t alen = 1500000, blen = 70001;
  unsigned char *a = pattern(alen, 2);
  unsigned char *b = pattern(blen, 3);
  unsigned char *gz = NULL;
  unsigned char *out = malloc(2 * alen + blen + 1000000);
  size_t outcap = 2 * alen + blen + 1000000;
  size_t gzlen, onelen;
  char path[4200];
  struct zpm_source *src = NULL;
  struct zpm_error err;
  size_t got = 0;

  zpm_error_clear(&err);
  /* One member. */
  onelen = gzip_member(a, alen, &gz, 0);
  CHECK(onelen > 0 && onelen < alen);
  path_of(path, sizeof(path), "one.gz");
  CHECK(write_file(path, gz, onelen) == 0);
  CHECK(zpm_source_gunzip(&src, path, &err) == ZPM_OK);
  CHECK(zpm_source_length(src) == -1);
  CHECK(read_all(src, out, outcap, 512 * 1024) == (long)alen);
  CHECK(memcmp(out, a, alen) == 0);
  /* Reading past the end keeps returning nothing. */
  CHECK(zpm_source_read(src, out, 100, &got) == ZPM_OK && got == 0);
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 1000) == (long)alen);
  CHECK(memcmp(out, a, alen) == 0);
  zpm_source_free(src);

  /* Three members: a, b, and an empty one; then a again. */
  gzlen = gzip_member(b, blen, &gz, onelen);
  gzlen = gzip_member(b, 0, &gz, gzlen);
  gzlen = gzip_member(a, alen, &gz, gzlen);
  CHECK(gzlen > onelen);
  path_of(path, sizeof(path), "multi.gz");
  CHECK(write_file(path, gz, gzlen) == 0);
  CHECK(zpm_source_gunzip(&src, path, &err) == ZPM_OK);
  /* A partial read, then a rewind: the next read starts from byte 0. */
  CHECK(zpm_source_read(src, out, 777, &got) == ZPM_OK && got == 777);
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 65536) == (long)(2 * alen + blen));
  CHECK(memcmp(out, a, alen) == 0);
  CHECK(memcmp(out + alen, b, blen) == 0);
  CHECK(memcmp(out + alen + blen, a, alen) == 0);
  zpm_source_free(src);

  /* Truncated: an error, not a short body. */
  path_of(path, sizeof(path), "cut.gz");
  CHECK(write_file(path, gz, onelen - 10) == 0);
  CHECK(zpm_source_gunzip(&src, path, &err) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 65536) == -1);
  CHECK(zpm_source_error(src)->status == ZPM_EZLIB);
  CHECK(strstr(zpm_source_error(src)->message, "unexpected end") != NULL);
  zpm_source_free(src);

  /* Not gzip at all, and empty. */
  path_of(path, sizeof(path), "not.gz");
  CHECK(write_file(path, "hello, world, this is not gzip", 30) == 0);
  CHECK(zpm_source_gunzip(&src, path, &err) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 65536) == -1);
  CHECK(zpm_source_error(src)->status == ZPM_EZLIB);
  zpm_source_free(src);
  path_of(path, sizeof(path), "empty.gz");
  CHECK(write_file(path, "", 0) == 0);
  CHECK(zpm_source_gunzip(&src, path, &err) == ZPM_OK);
  CHECK(read_all(src, out, outcap, 65536) == -1);
  zpm_source_free(src);

  /* Read ahead in a thread: same bytes, rewind, errors passed on. */
  test_readahead(gz, gzlen, onelen, a, alen, b, blen, out, outcap);

  path_of(path, sizeof(path), "missing.gz");
  CHECK(zpm_source_gunzip(&src, path, &err) == ZPM_EIO);
  CHECK(src == NULL);
  free(a);
  free(b);
  free(gz);
  free(out);
}

/* The MD5 a read-ahead source keeps is that of the bytes read so far. */
static void test_readahead_md5(const unsigned char *data, size_t len)
{
  static const size_t stops[] = { 0, 1, 999, 4096, 4097, 12288, 50000 };
  struct zpm_source *inner = NULL, *src = NULL;
  struct zpm_error err;
  struct zpm_md5 state = { NULL };
  unsigned char digest[16];
  unsigned char *out = malloc(len + 1000);
  char want[33], got_hex[33];
  size_t i;

  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&inner, data, len, &err) == ZPM_OK);
  CHECK(zpm_source_md5(inner, &state) == ZPM_EINVAL);
  CHECK(zpm_body_md5_tap(inner, &err) == ZPM_OK);
  CHECK(zpm_source_readahead(&src, inner, 4096, 3, &err) == ZPM_OK);
  for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
    size_t pos = 0;

    CHECK(zpm_source_rewind(src) == ZPM_OK);
    while (pos < stops[i]) {
      size_t got = 0;
      size_t want_n = stops[i] - pos < 1000 ? stops[i] - pos : 1000;

      CHECK(zpm_source_read(src, out + pos, want_n, &got) == ZPM_OK);
      if (got == 0)
        break;
      pos += got;
    }
    CHECK(pos == stops[i]);
    CHECK(zpm_source_md5(src, &state) == ZPM_OK);
    zpm_md5_final(&state, digest);
    zpm_md5_hex(digest, got_hex);
    md5_of(data, stops[i], want);
    CHECK_STR(got_hex, want);
  }
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(read_all(src, out, len + 1000, 777) == (long)len);
  CHECK(zpm_source_md5(src, &state) == ZPM_OK);
  zpm_md5_final(&state, digest);
  zpm_md5_hex(digest, got_hex);
  md5_of(data, len, want);
  CHECK_STR(got_hex, want);
  zpm_md5_free(&state);
  zpm_source_free(src);
  free(out);
}

/* A small ustar member header (name < 100 bytes) and its data. */
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
 * A gunzip source with a tar capture, read through a read-ahead thread:
 * the members come out whole whatever the read sizes and gzip member
 * boundaries; a rewind restarts the capture; a limit fails the read.
 */
static int add_capture(struct zpm_source *src, struct zpm_tar_capture *tc)
{
  struct zpm_source_tap tap;

  zpm_tar_capture_tap(tc, &tap);
  return zpm_source_add_tap(src, &tap);
}

static void test_gunzip_capture(void)
{
  static const char *const patterns[] = { "*.html", "ui/*" };
  size_t alen = 300000, blen = 1000;
  unsigned char *a = pattern(alen, 4), *b = pattern(blen, 5);
  unsigned char *tar = calloc(1, 2 * alen + 8192);
  unsigned char *out = malloc(2 * alen + 200000);
  unsigned char *gz = NULL;
  size_t tlen = 0, gzlen, half;
  struct zpm_tar_capture_options opt;
  struct zpm_tar_capture *tc = NULL;
  struct zpm_source *inner = NULL, *src = NULL;
  struct zpm_error err;
  char path[4200];
  size_t got = 0;
  int i;

  zpm_error_clear(&err);
  tlen += tar_member(tar + tlen, "zapp.yaml", "x: 1\n", 5);
  tlen += tar_member(tar + tlen, "big.bin", a, alen);
  tlen += tar_member(tar + tlen, "ui/index.html", b, blen);
  tlen += tar_member(tar + tlen, "ui/app/big.js", a, alen);
  tlen += 1024;
  /* Two gzip members, split inside a header. */
  half = 512 * 3 + 100;
  gzlen = gzip_member(tar, half, &gz, 0);
  gzlen = gzip_member(tar + half, tlen - half, &gz, gzlen);
  path_of(path, sizeof(path), "zapp.gz");
  CHECK(write_file(path, gz, gzlen) == 0);

  memset(&opt, 0, sizeof(opt));
  opt.patterns = patterns;
  opt.n_patterns = 2;
  CHECK(zpm_tar_capture_new(&tc, &opt, &err) == ZPM_OK);
  CHECK(zpm_source_gunzip(&inner, path, &err) == ZPM_OK);
  CHECK(add_capture(inner, tc) == ZPM_OK);
  CHECK(zpm_source_readahead(&src, inner, 8192, 3, &err) == ZPM_OK);
  for (i = 0; i < 2; i++) {
    /* A partial read, a rewind, then all of it. */
    CHECK(zpm_source_read(src, out, 3000, &got) == ZPM_OK);
    CHECK(zpm_source_rewind(src) == ZPM_OK);
    CHECK(read_all(src, out, 2 * alen + 200000, i == 0 ? 1000 : 65536) ==
          (long)tlen);
    CHECK(memcmp(out, tar, tlen) == 0);
    CHECK(zpm_tar_capture_complete(tc));
    CHECK(zpm_tar_capture_count(tc) == 2);
    if (zpm_tar_capture_count(tc) == 2) {
      const struct zpm_tar_member *m = zpm_tar_capture_member(tc, 0);

      CHECK_STR(m->name, "ui/index.html");
      CHECK(m->len == blen && memcmp(m->data, b, blen) == 0);
      m = zpm_tar_capture_member(tc, 1);
      CHECK_STR(m->name, "ui/app/big.js");
      CHECK(m->len == alen && memcmp(m->data, a, alen) == 0);
    }
    CHECK(zpm_source_rewind(src) == ZPM_OK);
  }
  zpm_source_free(src);
  zpm_tar_capture_free(tc);

  /* A limit: the read fails with ZPM_ELIMIT and the capture's message. */
  opt.max_member = alen - 1;
  CHECK(zpm_tar_capture_new(&tc, &opt, &err) == ZPM_OK);
  CHECK(zpm_source_gunzip(&inner, path, &err) == ZPM_OK);
  CHECK(add_capture(inner, tc) == ZPM_OK);
  CHECK(zpm_source_readahead(&src, inner, 0, 0, &err) == ZPM_OK);
  CHECK(read_all(src, out, 2 * alen + 200000, 65536) == -1);
  CHECK(zpm_source_error(src)->status == ZPM_ELIMIT);
  CHECK(strstr(zpm_source_error(src)->message, "ui/app/big.js") != NULL);
  zpm_source_free(src);
  zpm_tar_capture_free(tc);

  /* Not a tar: ZPM_EARCHIVE. */
  opt.max_member = 0;
  CHECK(zpm_tar_capture_new(&tc, &opt, &err) == ZPM_OK);
  path_of(path, sizeof(path), "notar.gz");
  gzlen = gzip_member(a, 5000, &gz, 0);
  CHECK(write_file(path, gz, gzlen) == 0);
  CHECK(zpm_source_gunzip(&inner, path, &err) == ZPM_OK);
  CHECK(add_capture(inner, tc) == ZPM_OK);
  CHECK(read_all(inner, out, 2 * alen + 200000, 65536) == -1);
  CHECK(zpm_source_error(inner)->status == ZPM_EARCHIVE);
  zpm_source_free(inner);
  zpm_tar_capture_free(tc);
  free(gz);
  free(a);
  free(b);
  free(tar);
  free(out);
}

static void test_memory(void)
{
  static const char text[] = "0123456789abcdef";
  unsigned char out[64];
  struct zpm_source *src = NULL;
  struct zpm_error err;
  size_t got = 0;

  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, text, 16, &err) == ZPM_OK);
  CHECK(zpm_source_length(src) == 16);
  CHECK(zpm_source_read(src, out, 5, &got) == ZPM_OK && got == 5);
  CHECK(memcmp(out, "01234", 5) == 0);
  CHECK(zpm_source_read(src, out, 64, &got) == ZPM_OK && got == 11);
  CHECK(memcmp(out, "56789abcdef", 11) == 0);
  CHECK(zpm_source_read(src, out, 64, &got) == ZPM_OK && got == 0);
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(read_all(src, out, sizeof(out), 3) == 16);
  CHECK(memcmp(out, text, 16) == 0);
  zpm_source_free(src);
  CHECK(zpm_source_memory(&src, NULL, 0, &err) == ZPM_OK);
  CHECK(read_all(src, out, sizeof(out), 3) == 0);
  zpm_source_free(src);
  CHECK(zpm_source_memory(&src, NULL, 5, &err) == ZPM_EINVAL);
  zpm_source_free(NULL);
}

/* Read src to its end into buf (cap bytes); returns the status. */
static int read_to_end(struct zpm_source *src, unsigned char *buf, size_t cap,
                    size_t *len)
{
  int status = ZPM_OK;

  *len = 0;
  for (;;) {
    size_t got = 0;

    status = zpm_source_read(src, buf + *len, cap - *len > 7 ? 7 :
                             cap - *len, &got);
    if (status != ZPM_OK || got == 0)
      return status;
    *len += got;
  }
}

/* Slices: consecutive pieces of a parent, strict limits, rewinds. */
static void test_slice(void)
{
  unsigned char *data = pattern(100, 3);
  unsigned char buf[128];
  struct zpm_source *parent = NULL, *a = NULL, *b = NULL, *c = NULL;
  struct zpm_error err;
  size_t len;

  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&parent, data, 100, &err) == ZPM_OK);
  CHECK(zpm_source_slice(&a, parent, 30, 1, &err) == ZPM_OK);
  CHECK(read_to_end(a, buf, sizeof(buf), &len) == ZPM_ELIMIT);
  CHECK(len == 30 && memcmp(buf, data, 30) == 0);
  CHECK_STR(zpm_source_error(a)->message, "more than 30 bytes");
  zpm_source_free(a);

  /* Not strict: the pieces follow each other. */
  CHECK(zpm_source_rewind(parent) == ZPM_OK);
  CHECK(parent->offset == 0);
  CHECK(zpm_source_slice(&a, parent, 30, 0, &err) == ZPM_OK);
  CHECK(read_to_end(a, buf, sizeof(buf), &len) == ZPM_OK && len == 30);
  CHECK(zpm_source_slice(&b, parent, 30, 0, &err) == ZPM_OK);
  CHECK(read_to_end(b, buf, sizeof(buf), &len) == ZPM_OK && len == 30);
  CHECK(memcmp(buf, data + 30, 30) == 0);
  CHECK(zpm_source_position(b) == 60);
  /* The last one ends with the parent, strict or not. */
  CHECK(zpm_source_slice(&c, parent, 50, 1, &err) == ZPM_OK);
  CHECK(read_to_end(c, buf, sizeof(buf), &len) == ZPM_OK && len == 40);
  CHECK(memcmp(buf, data + 60, 40) == 0);
  CHECK(zpm_source_length(c) == -1);

  /* A rewind of b after the parent moved on re-reads b's bytes. */
  CHECK(zpm_source_rewind(b) == ZPM_OK);
  CHECK(read_to_end(b, buf, sizeof(buf), &len) == ZPM_OK && len == 30);
  CHECK(memcmp(buf, data + 30, 30) == 0);
  CHECK(parent->offset == 60);
  zpm_source_free(a);
  zpm_source_free(b);
  zpm_source_free(c);
  zpm_source_free(parent);
  free(data);
}

/* A slice from a read-ahead source's start hashes in its thread. */
static void test_slice_md5(void)
{
  size_t len = 3000000, got = 0;
  unsigned char *data = pattern(len, 5);
  unsigned char *buf = malloc(len);
  struct zpm_source *inner = NULL, *ra = NULL, *whole = NULL, *tail = NULL;
  struct zpm_md5 state = { NULL }, want = { NULL };
  unsigned char d1[16], d2[16];
  struct zpm_error err;

  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&inner, data, len, &err) == ZPM_OK);
  CHECK(zpm_body_md5_tap(inner, &err) == ZPM_OK);
  CHECK(zpm_source_readahead(&ra, inner, 0, 0, &err) == ZPM_OK);
  CHECK(zpm_source_slice(&whole, ra, len, 1, &err) == ZPM_OK);
  CHECK(zpm_source_md5(whole, &state) == ZPM_OK);
  CHECK(read_to_end(whole, buf, len, &got) == ZPM_OK && got == len);
  CHECK(zpm_source_md5(whole, &state) == ZPM_OK);
  zpm_md5_final(&state, d1);
  zpm_md5_init(&want);
  zpm_md5_update(&want, data, len);
  zpm_md5_final(&want, d2);
  CHECK(memcmp(d1, d2, 16) == 0);
  /* one that starts later hashes in its reader */
  CHECK(zpm_source_rewind(ra) == ZPM_OK);
  CHECK(zpm_source_read(ra, buf, 10, &got) == ZPM_OK);
  CHECK(zpm_source_slice(&tail, ra, len, 0, &err) == ZPM_OK);
  CHECK(zpm_source_md5(tail, &state) == ZPM_EINVAL);
  zpm_md5_free(&state);
  zpm_md5_free(&want);
  zpm_source_free(whole);
  zpm_source_free(tail);
  zpm_source_free(ra);
  free(buf);
  free(data);
}

/* A tap that counts what it sees and fails at fail_at bytes. */
struct counter {
  size_t bytes, fail_at;
  int resets, finishes, freed;
};

static int count_feed(void *ud, const void *buf, size_t len,
                      struct zpm_error *err)
{
  struct counter *c = ud;

  (void)buf;
  c->bytes += len;
  if (c->fail_at > 0 && c->bytes >= c->fail_at)
    return zpm_error_set(err, ZPM_ELIMIT, "counter at %zu", c->bytes);
  return ZPM_OK;
}

static void count_reset(void *ud)
{
  struct counter *c = ud;

  c->bytes = 0;
  c->resets++;
}

static int count_finish(void *ud, struct zpm_error *err)
{
  (void)err;
  ((struct counter *)ud)->finishes++;
  return ZPM_OK;
}

static void count_free(void *ud)
{
  ((struct counter *)ud)->freed++;
}

/* Taps see every byte, once finished, reset on a rewind; a failing tap
 * fails the read with its error; a fifth tap is refused (and freed). */
static void test_taps(void)
{
  size_t len = 100000;
  unsigned char *data = pattern(len, 7), *out = malloc(2 * len);
  struct counter c = { 0, 0, 0, 0, 0 }, bad = { 0, 5000, 0, 0, 0 };
  struct zpm_source_tap tap = { count_feed, count_reset, count_finish,
                                NULL, NULL, count_free, &c };
  struct zpm_source *src = NULL, *ra = NULL;
  struct zpm_error err;
  int i;

  zpm_error_clear(&err);
  CHECK(zpm_source_memory(&src, data, len, &err) == ZPM_OK);
  CHECK(zpm_source_add_tap(src, &tap) == ZPM_OK);
  CHECK(c.resets == 1);
  CHECK(read_all(src, out, 2 * len, 3000) == (long)len);
  CHECK(c.bytes == len && c.finishes == 1);
  CHECK(zpm_source_rewind(src) == ZPM_OK);
  CHECK(c.bytes == 0 && c.resets == 2);
  /* through a read-ahead source: fed in its thread, same counts */
  CHECK(zpm_source_readahead(&ra, src, 4096, 2, &err) == ZPM_OK);
  CHECK(read_all(ra, out, 2 * len, 1000) == (long)len);
  CHECK(c.bytes == len && c.finishes == 2);
  CHECK(zpm_source_md5(ra, NULL) == ZPM_EINVAL);   /* no MD5 tap */
  for (i = 0; i < ZPM_SOURCE_MAX_TAPS - 1; i++)
    CHECK(zpm_source_add_tap(src, &tap) == ZPM_OK);
  CHECK(zpm_source_add_tap(src, &tap) == ZPM_EINVAL);
  CHECK(c.freed == 1);
  zpm_source_free(ra);
  CHECK(c.freed == 1 + ZPM_SOURCE_MAX_TAPS);

  tap.ud = &bad;
  tap.free = NULL;
  CHECK(zpm_source_memory(&src, data, len, &err) == ZPM_OK);
  CHECK(zpm_source_add_tap(src, &tap) == ZPM_OK);
  CHECK(read_all(src, out, 2 * len, 3000) == -1);
  CHECK(zpm_source_error(src)->status == ZPM_ELIMIT);
  CHECK(strstr(zpm_source_error(src)->message, "counter at") != NULL);
  zpm_source_free(src);
  free(data);
  free(out);
}

/* zpm_body_open: each kind's bytes; a zapp's MD5 and capture. */
static void test_body_open(void)
{
  static const char *const patterns[] = { "zapp.yaml" };
  size_t blen = 200000, tlen, gzlen;
  unsigned char *b = pattern(blen, 8), *tar = calloc(1, blen + 4096);
  unsigned char *out = malloc(blen + 140000), *gz = NULL;
  char path[4200], want[33], got_hex[33];
  unsigned char digest[16];
  struct zpm_body_desc desc;
  struct zpm_tar_capture_options opt;
  struct zpm_tar_capture *tc = NULL;
  struct zpm_source *src = NULL;
  struct zpm_md5 state = { NULL };
  struct zpm_error err;

  zpm_error_clear(&err);
  zpm_body_desc_init(&desc);
  desc.data = b;
  desc.len = 1000;
  CHECK(zpm_body_open(&src, &desc, &err) == ZPM_OK);
  CHECK(read_all(src, out, blen + 140000, 333) == 1000);
  CHECK(zpm_source_md5(src, &state) == ZPM_EINVAL);
  zpm_source_free(src);

  tlen = tar_member(tar, "zapp.yaml", "name: x\n", 8);
  tlen += tar_member(tar + tlen, "big.bin", b, blen);
  tlen += 1024;
  gzlen = gzip_member(tar, tlen, &gz, 0);
  path_of(path, sizeof(path), "body.zapp");
  CHECK(write_file(path, gz, gzlen) == 0);
  desc.kind = ZPM_BODY_FILE;
  desc.path = path;
  desc.offset = 10;
  desc.length = 20;
  CHECK(zpm_body_open(&src, &desc, &err) == ZPM_OK);
  CHECK(read_all(src, out, blen + 140000, 333) == 20);
  CHECK(memcmp(out, gz + 10, 20) == 0);
  zpm_source_free(src);

  memset(&opt, 0, sizeof(opt));
  opt.patterns = patterns;
  opt.n_patterns = 1;
  CHECK(zpm_tar_capture_new(&tc, &opt, &err) == ZPM_OK);
  CHECK(zpm_body_open_zapp(&src, path, tc, &err) == ZPM_OK);
  CHECK(read_all(src, out, blen + 140000, 65536) == (long)tlen);
  CHECK(memcmp(out, tar, tlen) == 0);
  CHECK(zpm_source_md5(src, &state) == ZPM_OK);
  zpm_md5_final(&state, digest);
  zpm_md5_hex(digest, got_hex);
  md5_of(tar, tlen, want);
  CHECK_STR(got_hex, want);
  CHECK(zpm_tar_capture_complete(tc) && zpm_tar_capture_count(tc) == 1);
  zpm_source_free(src);
  zpm_tar_capture_free(tc);
  desc.kind = ZPM_BODY_GUNZIP;
  desc.path = NULL;
  CHECK(zpm_body_open(&src, &desc, &err) == ZPM_EINVAL && src == NULL);
  zpm_md5_free(&state);
  free(gz);
  free(tar);
  free(out);
  free(b);
}

int main(void)
{
  const char *base = getenv("ZPM_TEST_TMP");
  char tmpl[4096];
  char cmd[4200];
  int failed;

  if (base != NULL && *base != '\0') {
    mkdir(base, 0755);
    snprintf(tmpl, sizeof(tmpl), "%s/source-XXXXXX", base);
  } else {
    snprintf(tmpl, sizeof(tmpl), "/tmp/zpm-test-source-XXXXXX");
  }
  if (mkdtemp(tmpl) == NULL) {
    perror(tmpl);
    return 1;
  }
  snprintf(root, sizeof(root), "%s", tmpl);
  test_md5_vectors();
  test_md5_pieces();
  test_file_range();
  test_gunzip();
  test_memory();
  test_slice();
  test_slice_md5();
  test_gunzip_capture();
  test_taps();
  test_body_open();
  {
    unsigned char *data = pattern(60000, 9);

    test_readahead_md5(data, 60000);
    free(data);
  }
  printf("gunzip backend: %s\n", zpm_source_gunzip_backend());
  failed = CHECK_DONE();
  if (!failed) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", root);
  } else {
    fprintf(stderr, "left %s for inspection\n", root);
  }
  return failed;
}
