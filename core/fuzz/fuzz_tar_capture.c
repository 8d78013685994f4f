/*
 * libFuzzer target: the push tar parser. The first input byte seeds the
 * piece sizes (and, when odd, has the checksums fixed: see
 * fix_checksums); the rest is the archive. It is fed twice: in pieces of
 * pseudo-random size (1 to 1100 bytes), then after a reset in one piece.
 * The parser follows 512-byte blocks whatever the cut, so both feeds
 * must end the same way and capture the same members byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zpm/tar_capture.h"
#include "tar_fixup.h"

struct outcome {
  int feed;
  int finish;
};

static struct outcome run(struct zpm_tar_capture *tc, const uint8_t *data,
                          size_t size, uint32_t seed)
{
  struct outcome o = { ZPM_OK, ZPM_OK };
  size_t off = 0, n;

  zpm_tar_capture_reset(tc);
  while (off < size) {
    if (seed == 0) {
      n = size - off;
    } else {
      seed = seed * 1103515245u + 12345u;
      n = 1 + (seed >> 16) % 1100;
      if (n > size - off)
        n = size - off;
    }
    o.feed = zpm_tar_capture_feed(tc, data + off, n);
    if (o.feed != ZPM_OK)
      return o;
    off += n;
  }
  o.finish = zpm_tar_capture_finish(tc);
  return o;
}

struct snapshot {
  size_t count;
  char **names;
  unsigned char **data;
  size_t *lens;
};

static void take(struct snapshot *s, const struct zpm_tar_capture *tc)
{
  size_t i;

  s->count = zpm_tar_capture_count(tc);
  s->names = calloc(s->count + 1, sizeof(*s->names));
  s->data = calloc(s->count + 1, sizeof(*s->data));
  s->lens = calloc(s->count + 1, sizeof(*s->lens));
  if (s->names == NULL || s->data == NULL || s->lens == NULL)
    abort();
  for (i = 0; i < s->count; i++) {
    const struct zpm_tar_member *m = zpm_tar_capture_member(tc, i);
    size_t n = strlen(m->name);

    s->names[i] = malloc(n + 1);
    s->data[i] = malloc(m->len + 1);
    if (s->names[i] == NULL || s->data[i] == NULL)
      abort();
    memcpy(s->names[i], m->name, n + 1);
    if (m->len > 0)
      memcpy(s->data[i], m->data, m->len);
    s->lens[i] = m->len;
  }
}

static void drop(struct snapshot *s)
{
  size_t i;

  for (i = 0; i < s->count; i++) {
    free(s->names[i]);
    free(s->data[i]);
  }
  free(s->names);
  free(s->data);
  free(s->lens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const patterns[] = {
    "zapp.yaml", "boot/*", "*.json", "ui/*"
  };
  struct zpm_tar_capture_options opt;
  struct zpm_tar_capture *tc = NULL;
  struct zpm_error err;
  struct outcome a, b;
  struct snapshot sa;
  unsigned char *copy;
  size_t i;
  uint32_t seed;

  if (size < 1)
    return 0;
  seed = (uint32_t)data[0] + 1;
  copy = malloc(size);
  if (copy == NULL)
    return 0;
  memcpy(copy, data + 1, size - 1);
  size--;
  if (seed & 1)
    fix_checksums(copy, size);
  data = copy;
  memset(&opt, 0, sizeof(opt));
  opt.patterns = patterns;
  opt.n_patterns = sizeof(patterns) / sizeof(patterns[0]);
  opt.max_member = 20000;   /* small, so the limits are reached too */
  opt.max_total = 50000;
  if (zpm_tar_capture_new(&tc, &opt, &err) != ZPM_OK) {
    free(copy);
    return 0;
  }

  a = run(tc, data, size, seed);
  take(&sa, tc);
  if (zpm_tar_capture_complete(tc) != (a.feed == ZPM_OK &&
                                       a.finish == ZPM_OK))
    abort();
  /* A failed capture stays failed. */
  if (a.feed != ZPM_OK && zpm_tar_capture_feed(tc, data, 0) == ZPM_OK &&
      zpm_tar_capture_feed(tc, "x", 1) == ZPM_OK)
    abort();

  b = run(tc, data, size, 0);
  if (a.feed != b.feed || a.finish != b.finish)
    abort();
  if (a.feed == ZPM_OK && a.finish == ZPM_OK) {
    if (sa.count != zpm_tar_capture_count(tc))
      abort();
    for (i = 0; i < sa.count; i++) {
      const struct zpm_tar_member *m = zpm_tar_capture_member(tc, i);
      if (strcmp(m->name, sa.names[i]) != 0 || m->len != sa.lens[i] ||
          (m->len > 0 && memcmp(m->data, sa.data[i], m->len) != 0))
        abort();
    }
  }
  drop(&sa);
  zpm_tar_capture_free(tc);
  free(copy);
  return 0;
}
