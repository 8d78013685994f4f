/*
 * libFuzzer target: the gunzip source that deploy reads a zapp through
 * (ISA-L when the build found it, zlib otherwise), with a tar capture
 * attached as deploy attaches one. The first input byte seeds the read
 * sizes; the rest is written to a temp file, since the source takes a
 * path. Read to the end (or 4 MiB of output) in pseudo-random pieces,
 * rewind, read again in 64 KiB pieces: both passes must succeed or fail
 * together (which error comes first may depend on the read size: a
 * corrupt tar header can show before a bad CRC) and, when they succeed,
 * give the same bytes; the capture must be complete when the data ended
 * cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input_file.h"
#include "zpm/source.h"
#include "zpm/tar_capture.h"

#define OUT_MAX (4u * 1024 * 1024)

static unsigned char buf[65536];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  input_file_init("gz");
  return 0;
}

struct pass {
  int rc;
  int capped;               /* stopped at OUT_MAX */
  unsigned long long bytes;
  uint64_t hash;            /* FNV-1a of the output */
};

static struct pass read_all(struct zpm_source *src, uint32_t seed)
{
  struct pass p = { ZPM_OK, 0, 0, 14695981039346656037ull };
  size_t cap, got, i;

  for (;;) {
    if (seed == 0) {
      cap = sizeof(buf);
    } else {
      seed = seed * 1103515245u + 12345u;
      cap = 1 + (seed >> 8) % 9000;
    }
    got = 0;
    p.rc = zpm_source_read(src, buf, cap, &got);
    if (p.rc != ZPM_OK || got == 0)
      return p;
    if (got > cap)
      abort();
    for (i = 0; i < got; i++)
      p.hash = (p.hash ^ buf[i]) * 1099511628211ull;
    p.bytes += got;
    if (p.bytes >= OUT_MAX) {
      p.capped = 1;
      return p;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path;
  static const char *const patterns[] = { "zapp.yaml", "boot/*" };
  struct zpm_tar_capture_options opt;
  struct zpm_tar_capture *tc = NULL;
  struct zpm_source_tap tap;
  struct zpm_source *src = NULL;
  struct zpm_error err;
  struct pass a, b;
  uint32_t seed;

  if (size < 1)
    return 0;
  seed = (uint32_t)data[0] * 7919u + 1;
  data++;
  size--;
  path = input_file_write(data, size);
  memset(&opt, 0, sizeof(opt));
  opt.patterns = patterns;
  opt.n_patterns = 2;
  opt.max_member = 100000;
  opt.max_total = 200000;
  if (zpm_tar_capture_new(&tc, &opt, &err) != ZPM_OK)
    return 0;
  if (zpm_source_gunzip(&src, path, &err) != ZPM_OK) {
    if (src != NULL)
      abort();
    zpm_tar_capture_free(tc);
    return 0;
  }
  zpm_tar_capture_tap(tc, &tap);
  if (zpm_source_add_tap(src, &tap) != ZPM_OK)
    abort();

  a = read_all(src, seed);
  if (!a.capped && a.rc == ZPM_OK && !zpm_tar_capture_complete(tc))
    abort();
  if (zpm_source_rewind(src) == ZPM_OK) {
    b = read_all(src, 0);
    if (!a.capped && !b.capped &&
        ((a.rc == ZPM_OK) != (b.rc == ZPM_OK) || (a.rc == ZPM_OK &&
                          (a.bytes != b.bytes || a.hash != b.hash)))) {
      fprintf(stderr, "pass 1: rc %d, %llu bytes; pass 2: rc %d, %llu "
              "bytes (%s)\n", a.rc, a.bytes, b.rc, b.bytes,
              zpm_source_error(src)->message);
      abort();
    }
  }
  zpm_source_free(src);
  zpm_tar_capture_free(tc);
  return 0;
}
