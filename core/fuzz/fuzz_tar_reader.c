/*
 * libFuzzer target: the zapp reader (libarchive underneath) on arbitrary
 * bytes (after a first byte that says whether to fix the header
 * checksums). zpm_tar_open takes a path, so each input is written to
 * one temp file made at start-up and rewritten in place. Walks every
 * member and reads all its data in small pieces, checking that the
 * reader never hands back more than it was asked for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input_file.h"
#include "zpm/tar_reader.h"
#include "tar_fixup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  input_file_init("tar");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path;
  struct zpm_tar_reader *r = NULL;
  struct zpm_tar_entry e;
  struct zpm_error err;
  unsigned char buf[1000];
  unsigned char *copy = NULL;
  int done = 0, rc, fix;
  size_t got, members = 0;

  /* First byte: odd fixes the header checksums (see tar_fixup.h). */
  if (size < 1)
    return 0;
  fix = data[0] & 1;
  data++;
  size--;
  if (fix) {
    copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
      return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    data = copy;
  }
  path = input_file_write(data, size);
  free(copy);
  zpm_error_clear(&err);
  rc = zpm_tar_open(&r, path, &err);
  if (rc != ZPM_OK) {
    if (r != NULL)
      abort();
    return 0;
  }
  while (members < 100000) {
    if (zpm_tar_next(r, &e, &done) != ZPM_OK || done)
      break;
    members++;
    if (e.name == NULL)
      abort();
    (void)strlen(e.name);
    if (e.linkname != NULL)
      (void)strlen(e.linkname);
    for (;;) {
      got = 0;
      if (zpm_tar_read(r, buf, sizeof(buf), &got) != ZPM_OK || got == 0)
        break;
      if (got > sizeof(buf))
        abort();
    }
  }
  (void)zpm_tar_error(r);
  zpm_tar_close(r);
  return 0;
}
