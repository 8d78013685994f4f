/*
 * Shared by the tar fuzz targets (header only, static: each target is
 * one translation unit).
 */
#ifndef ZPM_FUZZ_TAR_FIXUP_H
#define ZPM_FUZZ_TAR_FIXUP_H

#include <stddef.h>

/*
 * Random mutations almost never keep a header's checksum right, so on
 * odd seeds every non-zero 512-byte block gets its checksum rewritten
 * (header or not: the parser only checks it where it expects a header)
 * and the fuzzer gets past the checksum to the fields behind it. Even
 * seeds keep the bytes as they are, for the bad-checksum path.
 */
static void fix_checksums(unsigned char *p, size_t size)
{
  size_t off, i;

  for (off = 0; off + 512 <= size; off += 512) {
    unsigned char *h = p + off;
    unsigned long sum = 0;
    int zero = 1;

    for (i = 0; i < 512; i++) {
      if (h[i] != 0)
        zero = 0;
      sum += (i >= 148 && i < 156) ? ' ' : h[i];
    }
    if (zero)
      continue;
    for (i = 0; i < 6; i++)
      h[148 + i] = (unsigned char)('0' + ((sum >> (3 * (5 - i))) & 7));
    h[154] = '\0';
    h[155] = ' ';
  }
}

#endif
