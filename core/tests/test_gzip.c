/* Tests for the parallel gzip stream, both engines: round trips through
 * zlib's inflate (every member), identical bytes for any thread count and
 * write chunking, the default per-block levels, the record of the
 * input's MD5 and length, and errors from the sink. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "zpm/digest.h"
#include "zpm/gzip.h"
#include "zpm/gzip_record.h"

struct buf {
  unsigned char *data;
  size_t len;
  size_t cap;
  size_t fail_after;  /* fail once more than this many bytes; 0: never */
  int calls;
};

static int buf_sink(void *ud, const void *p, size_t len)
{
  struct buf *b = ud;
  size_t cap;
  unsigned char *nd;

  b->calls++;
  if (b->fail_after > 0 && b->len + len > b->fail_after)
    return ENOSPC;
  if (b->len + len > b->cap) {
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len)
      cap *= 2;
    nd = realloc(b->data, cap);
    if (nd == NULL)
      return ENOMEM;
    b->data = nd;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, len);
  b->len += len;
  return 0;
}

static unsigned long long rng_state = 88172645463325252ULL;

static unsigned rng(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state >> 11);
}

/* Half text-like lines, half random bytes, in stretches. */
static unsigned char *make_data(size_t len, int kind)
{
  static const char *words[] = {
    "local", "function", "return", "end", "if", "then", "archive",
    "zapp", "bundle", "=", "(", ")", "\n", "  ", "true", "nil", "self"
  };
  unsigned char *d = malloc(len ? len : 1);
  size_t i = 0;

  while (i < len) {
    if (kind == 0 || (kind == 2 && (i / 40000) % 2 == 0)) {
      const char *w = words[rng() % (sizeof(words) / sizeof(words[0]))];
      size_t wl = strlen(w);
      size_t j;
      for (j = 0; j < wl && i < len; j++)
        d[i++] = (unsigned char)w[j];
      if (i < len)
        d[i++] = ' ';
    } else {
      d[i++] = (unsigned char)rng();
    }
  }
  return d;
}

/* The engines this build has; the tests run over each. */
static enum zpm_gzip_engine engines[2];
static size_t nengines;

static void find_engines(void)
{
  engines[nengines++] = ZPM_GZIP_ZLIB;
  if (zpm_gzip_have_libdeflate())
    engines[nengines++] = ZPM_GZIP_LIBDEFLATE;
}

/* Compress data in write chunks of `chunk` bytes (0: one write). */
static int gz_compress_with(struct buf *out, const unsigned char *data,
                            size_t len, int threads, size_t block,
                            size_t chunk, int level,
                            enum zpm_gzip_engine engine)
{
  struct zpm_gzip_options opt = { level, threads, block, engine, 0 };
  struct zpm_gzip *gz = NULL;
  struct zpm_error err;
  size_t off = 0;
  int status;

  memset(out, 0, sizeof(*out));
  status = zpm_gzip_open(&gz, &opt, buf_sink, out, &err);
  if (status != 0)
    return status;
  while (status == 0 && off < len) {
    size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
    status = zpm_gzip_write(gz, data + off, n);
    off += n;
  }
  if (status == 0)
    status = zpm_gzip_finish(gz);
  if (status == 0) {
    CHECK(zpm_gzip_bytes_in(gz) == len);
    CHECK(zpm_gzip_bytes_out(gz) == out->len);
  }
  zpm_gzip_free(gz);
  return status;
}

static int gz_compress(struct buf *out, const unsigned char *data, size_t len,
                       int threads, size_t block, size_t chunk, int level)
{
  return gz_compress_with(out, data, len, threads, block, chunk, level,
                          ZPM_GZIP_ZLIB);
}

/*
 * Inflate a gzip stream (windowBits 31) member after member, the way
 * gzip -d does: at each member's end, reset and go on while input is
 * left. Compare with want; *members (if not NULL) gets the count.
 */
static int inflate_members(const struct buf *gzdata,
                           const unsigned char *want, size_t want_len,
                           size_t *members)
{
  z_stream s;
  unsigned char *got = malloc(want_len + 1);
  size_t got_len = 0;
  size_t n = 0;
  int ret = Z_OK;
  int ok;

  memset(&s, 0, sizeof(s));
  if (inflateInit2(&s, 31) != Z_OK) {
    free(got);
    return 0;
  }
  s.next_in = gzdata->data;
  s.avail_in = (uInt)gzdata->len;
  for (;;) {
    s.next_out = got + got_len;
    s.avail_out = (uInt)(want_len + 1 - got_len);
    ret = inflate(&s, Z_FINISH);
    got_len = (size_t)(s.next_out - got);
    if (ret != Z_STREAM_END)
      break;
    n++;
    if (s.avail_in == 0)
      break;
    if (inflateReset(&s) != Z_OK) {
      ret = Z_STREAM_ERROR;
      break;
    }
  }
  ok = ret == Z_STREAM_END && got_len == want_len && s.avail_in == 0
       && (want_len == 0 || memcmp(got, want, want_len) == 0);
  inflateEnd(&s);
  free(got);
  if (members != NULL)
    *members = n;
  return ok;
}

static int inflate_equals(const struct buf *gzdata, const unsigned char *want,
                          size_t want_len)
{
  return inflate_members(gzdata, want, want_len, NULL);
}

/*
 * Where each gzip member of a stream ends: ends[i] is the offset just
 * past member i. Returns the member count (at most max), 0 if the
 * stream is not whole members.
 */
static size_t member_ends(const struct buf *gzdata, size_t *ends, size_t max)
{
  unsigned char sink[65536];
  z_stream s;
  size_t n = 0;
  int ret;

  memset(&s, 0, sizeof(s));
  if (inflateInit2(&s, 31) != Z_OK)
    return 0;
  s.next_in = gzdata->data;
  s.avail_in = (uInt)gzdata->len;
  while (n < max && s.avail_in > 0) {
    s.next_out = sink;
    s.avail_out = sizeof(sink);
    ret = inflate(&s, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) {
      ends[n++] = gzdata->len - s.avail_in;
      if (inflateReset(&s) != Z_OK)
        break;
    } else if (ret != Z_OK) {
      n = 0;
      break;
    }
  }
  if (s.avail_in != 0)
    n = 0;
  inflateEnd(&s);
  return n;
}

/* Whether member i of a equals member j of b (ends from member_ends). */
static int same_member(const struct buf *a, const size_t *a_ends, size_t i,
                       const struct buf *b, const size_t *b_ends, size_t j)
{
  size_t a_off = i == 0 ? 0 : a_ends[i - 1];
  size_t b_off = j == 0 ? 0 : b_ends[j - 1];
  size_t len = a_ends[i] - a_off;

  return len == b_ends[j] - b_off
         && memcmp(a->data + a_off, b->data + b_off, len) == 0;
}

static void test_round_trips(void)
{
  static const size_t block = 128 * 1024;
  const size_t sizes[] = { 0, 1, 100, 32768, block - 1, block, block + 1,
                           3 * block, 7 * block + 12345 };
  size_t i;
  size_t e;
  int kind;

  for (e = 0; e < nengines; e++) {
    for (kind = 0; kind < 3; kind++) {
      for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *d = make_data(sizes[i], kind);
        struct buf out;
        size_t members = 0;
        /* libdeflate: 128 KiB members here, so that several show up */
        int status = gz_compress_with(&out, d, sizes[i], 2,
                                      e == 0 ? 0 : block, 0, 6, engines[e]);

        CHECK(status == 0);
        CHECK(out.len >= 18);
        CHECK(out.data[0] == 0x1f && out.data[1] == 0x8b
              && out.data[2] == 8);
        CHECK(out.data[3] == 0);
        CHECK(engines[e] != ZPM_GZIP_ZLIB || out.data[9] == 3);
        CHECK(inflate_members(&out, d, sizes[i], &members));
        if (!inflate_equals(&out, d, sizes[i]))
          fprintf(stderr, "  size %zu kind %d engine %d\n", sizes[i], kind,
                  (int)engines[e]);
        /* zlib: one member; libdeflate: one per block, one if empty */
        if (engines[e] == ZPM_GZIP_ZLIB || sizes[i] == 0)
          CHECK(members == 1);
        else
          CHECK(members == (sizes[i] + block - 1) / block);
        free(out.data);
        free(d);
      }
    }
  }
}

/* The same bytes whatever the thread count and write chunking. */
static void test_deterministic_engine(enum zpm_gzip_engine engine)
{
  size_t len = 2 * 1024 * 1024 + 777;
  unsigned char *d = make_data(len, 2);
  struct buf ref;
  const int threads[] = { 1, 2, 4, 3 };
  const size_t chunks[] = { 0, 1000, 65536, 131072, 131073 };
  size_t t;
  size_t c;

  /* libdeflate: 256 KiB blocks, so that 3 and 4 threads all get work */
  size_t block = engine == ZPM_GZIP_ZLIB ? 0 : 256 * 1024;

  CHECK(gz_compress_with(&ref, d, len, 1, block, 0, 6, engine) == 0);
  CHECK(inflate_equals(&ref, d, len));
  for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
    for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
      struct buf out;
      CHECK(gz_compress_with(&out, d, len, threads[t], block, chunks[c], 6,
                             engine) == 0);
      CHECK(out.len == ref.len && memcmp(out.data, ref.data, ref.len) == 0);
      free(out.data);
    }
  }
  free(ref.data);

  /* Small blocks (smaller than the dictionary window) and other levels. */
  {
    int level;
    for (level = 1; level <= 9; level += 4) {
      struct buf a;
      struct buf b;
      CHECK(gz_compress_with(&a, d, 300000, 1, 5000, 777, level, engine)
            == 0);
      CHECK(gz_compress_with(&b, d, 300000, 4, 5000, 0, level, engine)
            == 0);
      CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
      CHECK(inflate_equals(&a, d, 300000));
      free(a.data);
      free(b.data);
    }
  }
  free(d);
}

static void test_deterministic(void)
{
  size_t e;

  for (e = 0; e < nengines; e++)
    test_deterministic_engine(engines[e]);
}

/* Whether member i (ends from member_ends) is len bytes of stored blocks. */
static int stored_member(const struct buf *a, const size_t *ends, size_t i,
                         size_t len)
{
  size_t off = i == 0 ? 0 : ends[i - 1];
  size_t blocks = (len + 65534) / 65535;

  /* header 10, trailer 8; each stored block: 3 bits + pad, LEN, NLEN */
  return ends[i] - off == len + 18 + 5 * blocks
         && (a->data[off + 10] & 0x06) == 0;
}

/*
 * The default level (0) with libdeflate: random blocks stored, the
 * others (text, and random bytes with a little text in every 4 KiB) at
 * ZPM_GZIP_LIBDEFLATE_LEVEL. Each member must be byte for byte what a
 * whole stream at that one level makes of the same block (level 0:
 * stored blocks).
 */
static void test_default_levels(void)
{
  enum { BLOCK = 65536, NBLOCKS = 13 };
  /* t = text, r = random bytes, m = random with a little text */
  static const char kinds[NBLOCKS + 1] = "ttrtttmttrrtt";
  /* the level wanted for each block, from the rule; 0: stored */
  static const int want[NBLOCKS] = { 6, 6, 0, 6, 6, 6, 6, 6, 6, 0, 0, 6,
                                     6 };
  const int threads[] = { 1, 2, 3 };
  size_t len = (size_t)NBLOCKS * BLOCK - 1000;  /* last block shorter */
  unsigned char *d = malloc(len);
  unsigned char *text = make_data(BLOCK, 0);
  unsigned char *noise = make_data(BLOCK, 1);
  struct buf l6;
  struct buf l7;
  struct buf ref;
  size_t e6[NBLOCKS + 1];
  size_t e7[NBLOCKS + 1];
  size_t ed[NBLOCKS + 1];
  size_t i;
  size_t t;

  if (!zpm_gzip_have_libdeflate()) {
    free(d);
    free(text);
    free(noise);
    return;
  }
  CHECK(ZPM_GZIP_LIBDEFLATE_LEVEL == 6);
  for (i = 0; i < NBLOCKS; i++) {
    size_t off = i * BLOCK;
    size_t n = len - off < BLOCK ? len - off : BLOCK;

    memcpy(d + off, kinds[i] == 't' ? text : noise, n);
    if (kinds[i] == 'm') {
      /* 1/8 text, in every 4 KiB: not stored */
      size_t k;

      for (k = 0; k + 4096 <= n; k += 4096)
        memcpy(d + off + k, text + k, 512);
    }
  }
  CHECK(gz_compress_with(&l6, d, len, 2, BLOCK, 0, 6,
                         ZPM_GZIP_LIBDEFLATE) == 0);
  CHECK(gz_compress_with(&l7, d, len, 2, BLOCK, 0, 7,
                         ZPM_GZIP_LIBDEFLATE) == 0);
  CHECK(member_ends(&l6, e6, NBLOCKS + 1) == NBLOCKS);
  CHECK(member_ends(&l7, e7, NBLOCKS + 1) == NBLOCKS);
  /* levels 6 and 7 differ on both kinds of deflated block: the
   * comparison below tells the level apart */
  CHECK(!same_member(&l6, e6, 0, &l7, e7, 0));
  CHECK(!same_member(&l6, e6, 6, &l7, e7, 6));
  memset(&ref, 0, sizeof(ref));
  for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
    struct buf out;

    CHECK(gz_compress_with(&out, d, len, threads[t], BLOCK, 4097, 0,
                           ZPM_GZIP_LIBDEFLATE) == 0);
    CHECK(inflate_equals(&out, d, len));
    CHECK(member_ends(&out, ed, NBLOCKS + 1) == NBLOCKS);
    for (i = 0; i < NBLOCKS; i++) {
      int ok = want[i] == 0 ? stored_member(&out, ed, i, BLOCK)
                            : same_member(&out, ed, i, &l6, e6, i);
      CHECK(ok);
      if (!ok)
        fprintf(stderr, "  block %zu (%c): not level %d\n", i, kinds[i],
                want[i]);
    }
    if (t == 0)
      ref = out;
    else {
      CHECK(out.len == ref.len && memcmp(out.data, ref.data, out.len) == 0);
      free(out.data);
    }
  }
  free(ref.data);
  free(l6.data);
  free(l7.data);
  free(noise);
  free(text);
  free(d);
}

/*
 * At the default level a block holding runs of random and of text bytes
 * becomes one member per run, 64 KiB chunks apart: the random runs
 * stored, the text deflated. An explicit level deflates everything, and
 * so does the default on bytes that look random but repeat.
 */
static void test_stored_runs(void)
{
  enum { CHUNK = 65536, BLOCK = 8 * CHUNK };
  /* r = random chunk, t = text chunk, two blocks */
  static const char kinds[] = "rrtttrtr" "ttttrrrr";
  size_t len = sizeof(kinds) - 1;
  unsigned char *text = make_data(CHUNK, 0);
  unsigned char *noise = make_data(CHUNK, 1);
  unsigned char *d;
  size_t ends[16];
  struct buf out;
  size_t i;

  if (!zpm_gzip_have_libdeflate()) {
    free(text);
    free(noise);
    return;
  }
  len *= CHUNK;
  d = malloc(len);
  for (i = 0; i < sizeof(kinds) - 1; i++)
    memcpy(d + i * CHUNK, kinds[i] == 't' ? text : noise, CHUNK);
  CHECK(gz_compress_with(&out, d, len, 2, BLOCK, 0, 0,
                         ZPM_GZIP_LIBDEFLATE) == 0);
  CHECK(inflate_equals(&out, d, len));
  /* block 1: rr ttt r t r; block 2: tttt rrrr */
  CHECK(member_ends(&out, ends, 16) == 7);
  CHECK(stored_member(&out, ends, 0, 2 * CHUNK));
  CHECK(!stored_member(&out, ends, 1, 3 * CHUNK));
  CHECK(stored_member(&out, ends, 2, CHUNK));
  CHECK(stored_member(&out, ends, 4, CHUNK));
  CHECK(stored_member(&out, ends, 6, 4 * CHUNK));
  free(out.data);
  CHECK(gz_compress_with(&out, d, len, 2, BLOCK, 0, 7,
                         ZPM_GZIP_LIBDEFLATE) == 0);
  CHECK(member_ends(&out, ends, 16) == 2);
  free(out.data);
  /* copies of a 4 KiB random table, a byte in 64 changed: they look
   * random byte by byte but repeat, so they are deflated, not stored */
  for (i = 0; i < BLOCK; i++)
    d[i] = i % 64 == 0 ? noise[(i * 7) % CHUNK] : noise[i % 4096];
  CHECK(gz_compress_with(&out, d, BLOCK, 2, BLOCK, 0, 0,
                         ZPM_GZIP_LIBDEFLATE) == 0);
  CHECK(inflate_equals(&out, d, BLOCK));
  CHECK(member_ends(&out, ends, 16) == 1);
  CHECK(out.len < BLOCK / 2);
  free(out.data);
  free(d);
  free(noise);
  free(text);
}

/* Within 1% of a plain one-pass zlib deflate at the same level. */
static void test_ratio(void)
{
  size_t len = 4 * 1024 * 1024;
  unsigned char *d = make_data(len, 2);
  struct buf out;
  uLongf plain_len = compressBound((uLong)len);
  unsigned char *plain = malloc(plain_len);

  CHECK(compress2(plain, &plain_len, d, (uLong)len, 6) == Z_OK);
  CHECK(gz_compress(&out, d, len, 2, 0, 0, 6) == 0);
  CHECK((double)out.len <= (double)plain_len * 1.01);
  free(out.data);
  /* The default engine and level: no larger than one-pass zlib -6. */
  {
    struct zpm_gzip *gz = NULL;
    struct zpm_error err;

    memset(&out, 0, sizeof(out));
    CHECK(zpm_gzip_open(&gz, NULL, buf_sink, &out, &err) == 0);
    CHECK(zpm_gzip_write(gz, d, len) == 0);
    CHECK(zpm_gzip_finish(gz) == 0);
    CHECK(out.len <= plain_len + 18);
    if (out.len > plain_len + 18)
      fprintf(stderr, "  default %zu vs zlib -6 %lu\n", out.len,
              (unsigned long)plain_len);
    CHECK(inflate_equals(&out, d, len));
    zpm_gzip_free(gz);
    free(out.data);
  }
  free(plain);
  free(d);
}

static void test_failing_sink(void)
{
  size_t len = 1024 * 1024;
  unsigned char *d = make_data(len, 1);
  const int threads[] = { 1, 2, 4 };
  size_t t;
  size_t e;

  for (t = 0; t < nengines * 3; t++) {
    /* libdeflate: 64 KiB members, so that the sink fails mid-stream */
    struct zpm_gzip_options opt = { 6, threads[t % 3],
                                    t < 3 ? 0 : 65536, engines[t / 3], 0 };
    struct zpm_gzip *gz = NULL;
    struct zpm_error err;
    struct buf out;
    int status = 0;
    size_t off;

    memset(&out, 0, sizeof(out));
    out.fail_after = 200000;
    CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == 0);
    for (off = 0; off < len && status == 0; off += 50000)
      status = zpm_gzip_write(gz, d + off,
                              len - off < 50000 ? len - off : 50000);
    if (status == 0)
      status = zpm_gzip_finish(gz);
    CHECK(status == ZPM_EIO);
    CHECK(zpm_gzip_error(gz)->status == ZPM_EIO);
    CHECK(zpm_gzip_error(gz)->lib_code == ENOSPC);
    CHECK(strstr(zpm_gzip_error(gz)->message, "No space") != NULL);
    /* Sticky: every later call returns the same error. */
    CHECK(zpm_gzip_write(gz, d, 10) == ZPM_EIO);
    CHECK(zpm_gzip_finish(gz) == ZPM_EIO);
    zpm_gzip_free(gz);
    free(out.data);
  }

  /* Freed without finish, with blocks still queued. */
  for (e = 0; e < nengines; e++) {
    struct zpm_gzip_options opt = { 9, 4, 4096, engines[e], 0 };
    struct zpm_gzip *gz = NULL;
    struct zpm_error err;
    struct buf out;

    memset(&out, 0, sizeof(out));
    CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == 0);
    CHECK(zpm_gzip_write(gz, d, len) == 0);
    zpm_gzip_free(gz);
    free(out.data);
  }
  free(d);
}

/*
 * The last bytes fail: every write is accepted (the data fits in one
 * block, queued only by finish), and finish must report the sink's
 * error, whether it hits the last block or only the 8-byte trailer.
 * zpm's zapp writer once lost exactly this one, in libarchive's close.
 */
static void test_failing_finish(void)
{
  size_t len = 100000;
  unsigned char *d = make_data(len, 1);
  const int threads[] = { 1, 2, 4 };
  size_t t;

  for (t = 0; t < nengines * 3; t++) {
    struct zpm_gzip_options opt = { 6, threads[t % 3], 0, engines[t / 3],
                                    0 };
    struct buf whole;
    size_t cut[2];
    size_t c;

    /* the whole stream's size, to cut it before its end */
    CHECK(gz_compress_with(&whole, d, len, threads[t % 3], 0, 0, 6,
                           engines[t / 3]) == 0);
    cut[0] = whole.len / 2;
    cut[1] = whole.len - 1;   /* the trailer (zlib) or the member's end */
    free(whole.data);
    for (c = 0; c < 2; c++) {
      struct zpm_gzip *gz = NULL;
      struct zpm_error err;
      struct buf out;

      memset(&out, 0, sizeof(out));
      out.fail_after = cut[c];
      CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == 0);
      if (gz == NULL)
        continue;
      CHECK(zpm_gzip_write(gz, d, len) == 0);
      CHECK(out.calls == 0);
      CHECK(zpm_gzip_finish(gz) == ZPM_EIO);
      CHECK(zpm_gzip_error(gz)->lib_code == ENOSPC);
      CHECK(zpm_gzip_bytes_out(gz) <= cut[c]);
      CHECK(zpm_gzip_finish(gz) == ZPM_EIO);
      zpm_gzip_free(gz);
      free(out.data);
    }
  }
  free(d);
}

/*
 * zpm_gzip_stop_output: once it returns the sink is never called again
 * (a worker may have been writing a block out), and the stream fails
 * instead of reusing slots that were never written.
 */
static void test_stop_output(void)
{
  size_t len = 1024 * 1024;
  unsigned char *d = make_data(len, 2);
  size_t e;

  for (e = 0; e < nengines; e++) {
    struct zpm_gzip_options opt = { 6, 2, 65536, engines[e], 0 };
    struct zpm_gzip *gz = NULL;
    struct zpm_error err;
    struct buf out;
    int status = 0;
    int calls;
    size_t off;

    memset(&out, 0, sizeof(out));
    CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == 0);
    if (gz == NULL)
      continue;
    for (off = 0; off < 400000; off += 50000)
      CHECK(zpm_gzip_write(gz, d + off, 50000) == 0);
    zpm_gzip_stop_output(gz);
    calls = out.calls;
    for (; off < len && status == 0; off += 50000)
      status = zpm_gzip_write(gz, d + off,
                              len - off < 50000 ? len - off : 50000);
    if (status == 0)
      status = zpm_gzip_finish(gz);
    CHECK(status == ZPM_EINVAL);
    CHECK(strstr(zpm_gzip_error(gz)->message, "output stopped") != NULL);
    CHECK(zpm_gzip_finish(gz) == ZPM_EINVAL);
    CHECK(out.calls == calls);
    zpm_gzip_free(gz);
    CHECK(out.calls == calls);
    free(out.data);
  }
  free(d);
}

static void test_bad_options(void)
{
  struct zpm_gzip_options opt = { 10, 1, 0, ZPM_GZIP_AUTO, 0 };
  struct zpm_gzip *gz = (struct zpm_gzip *)&opt;
  struct zpm_error err;
  struct buf out;

  zpm_error_clear(&err);
  CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == ZPM_EINVAL);
  CHECK(gz == NULL);
  CHECK(strstr(err.message, "level") != NULL);
  opt.level = 0;
  opt.threads = -1;
  CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == ZPM_EINVAL);
  opt.threads = 1;
  opt.block_size = 65u * 1024 * 1024;
  CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == ZPM_EINVAL);
  CHECK(strstr(err.message, "block size") != NULL);
  opt.block_size = 0;
  opt.engine = (enum zpm_gzip_engine)7;
  CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == ZPM_EINVAL);
  CHECK(strstr(err.message, "engine") != NULL);
  opt.engine = ZPM_GZIP_LIBDEFLATE;
  if (!zpm_gzip_have_libdeflate()) {
    CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == ZPM_EINVAL);
    CHECK(strstr(err.message, "libdeflate") != NULL);
  }
  CHECK(zpm_gzip_open(&gz, &opt, NULL, &out, &err) == ZPM_EINVAL);
  CHECK(gz == NULL);
  /* NULL options: defaults. */
  memset(&out, 0, sizeof(out));
  CHECK(zpm_gzip_open(&gz, NULL, buf_sink, &out, &err) == 0);
  CHECK(zpm_gzip_write(gz, "hello", 5) == 0);
  CHECK(zpm_gzip_finish(gz) == 0);
  CHECK(zpm_gzip_finish(gz) == 0);
  CHECK(zpm_gzip_write(gz, "x", 1) == ZPM_EINVAL);
  CHECK(inflate_equals(&out, (const unsigned char *)"hello", 5));
  zpm_gzip_free(gz);
  zpm_gzip_free(NULL);
  free(out.data);
}

/* The default engine is libdeflate when built with it: several members. */
static void test_default_engine(void)
{
  size_t len = 3 * 1024 * 1024 + 5;
  unsigned char *d = make_data(len, 2);
  struct zpm_gzip *gz = NULL;
  struct zpm_error err;
  struct buf out;
  size_t members = 0;

  memset(&out, 0, sizeof(out));
  CHECK(zpm_gzip_open(&gz, NULL, buf_sink, &out, &err) == 0);
  CHECK(zpm_gzip_write(gz, d, len) == 0);
  CHECK(zpm_gzip_finish(gz) == 0);
  CHECK(inflate_members(&out, d, len, &members));
  /* libdeflate: one member per block, more where random runs are stored */
  if (zpm_gzip_have_libdeflate())
    CHECK(members > (len + ZPM_GZIP_LIBDEFLATE_BLOCK - 1)
                    / ZPM_GZIP_LIBDEFLATE_BLOCK);
  else
    CHECK(members == 1);
  zpm_gzip_free(gz);
  free(out.data);
  free(d);
}

/* The record as zpm_gzip_record_read finds it in a file holding out. */
static int read_record(const struct buf *out, struct zpm_gzip_record *rec)
{
  char path[] = "/tmp/zpm-test-gzip-XXXXXX";
  int fd = mkstemp(path);
  struct zpm_error err;
  int found = -1;

  if (fd < 0)
    return -1;
  if (write(fd, out->data, out->len) == (ssize_t)out->len
      && zpm_gzip_record_read(fd, path, rec, &found, &err) != 0)
    found = -1;
  close(fd);
  unlink(path);
  return found;
}

/*
 * With record set, the stream ends with the record member: every
 * reader still inflates the input (zlib, member after member), and the
 * record holds the input's MD5 and length, for either engine, any
 * thread count and an empty input. Without it, or with one byte of it
 * changed, a file has no record.
 */
static void test_record(void)
{
  size_t lens[] = { 0, 3 * 65536 + 17 };
  unsigned char *data = make_data(lens[1], 0);
  size_t e;
  size_t l;

  for (e = 0; e < nengines; e++) {
    for (l = 0; l < 2; l++) {
      struct zpm_gzip_options opt = { 0, 3, 65536, engines[e], 1 };
      struct zpm_gzip *gz = NULL;
      struct zpm_gzip_record rec;
      unsigned char want[ZPM_MD5_DIGEST_SIZE];
      struct zpm_md5 md5 = { NULL };
      struct zpm_error err;
      struct buf out;

      memset(&out, 0, sizeof(out));
      CHECK(zpm_gzip_open(&gz, &opt, buf_sink, &out, &err) == 0);
      CHECK(zpm_gzip_write(gz, data, lens[l]) == 0);
      CHECK(zpm_gzip_finish(gz) == 0);
      zpm_gzip_free(gz);
      CHECK(inflate_equals(&out, data, lens[l]));
      CHECK(zpm_md5_init(&md5) == 0);
      zpm_md5_update(&md5, data, lens[l]);
      zpm_md5_final(&md5, want);
      zpm_md5_free(&md5);
      CHECK(read_record(&out, &rec) == 1);
      CHECK(memcmp(rec.md5, want, sizeof(want)) == 0);
      CHECK(rec.length == lens[l]);
      out.data[out.len - ZPM_GZIP_RECORD_SIZE + 17] ^= 1;  /* in the MD5 */
      CHECK(read_record(&out, &rec) == 1);
      CHECK(memcmp(rec.md5, want, sizeof(want)) != 0);
      out.data[out.len - ZPM_GZIP_RECORD_SIZE + 3] ^= 0x10;  /* FLG */
      CHECK(read_record(&out, &rec) == 0);
      out.len -= 1;
      CHECK(read_record(&out, &rec) == 0);
      free(out.data);
    }
    {
      struct buf out;
      struct zpm_gzip_record rec;

      CHECK(gz_compress_with(&out, data, lens[1], 2, 65536, 0, 0,
                             engines[e]) == 0);
      CHECK(read_record(&out, &rec) == 0);
      free(out.data);
    }
  }
  free(data);
}

int main(void)
{
  find_engines();
  test_round_trips();
  test_default_engine();
  test_deterministic();
  test_default_levels();
  test_stored_runs();
  test_ratio();
  test_failing_sink();
  test_failing_finish();
  test_stop_output();
  test_bad_options();
  test_record();
  return CHECK_DONE();
}
