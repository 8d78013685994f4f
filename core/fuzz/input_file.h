/*
 * For fuzz targets whose API takes a path: one temporary file per
 * process, rewritten with each input, removed at exit.
 */
#ifndef ZPM_FUZZ_INPUT_FILE_H
#define ZPM_FUZZ_INPUT_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char input_path[256];
static int input_fd = -1;

static void input_file_cleanup(void)
{
  if (input_path[0] != '\0')
    unlink(input_path);
}

/* Make the file (from LLVMFuzzerInitialize); aborts if it cannot. */
static void input_file_init(const char *tag)
{
  const char *dir = getenv("TMPDIR");

  snprintf(input_path, sizeof(input_path), "%s/zpm-fuzz-%s-XXXXXX",
           dir != NULL && dir[0] != '\0' ? dir : "/tmp", tag);
  input_fd = mkstemp(input_path);
  if (input_fd < 0)
    abort();
  atexit(input_file_cleanup);
}

/* Replace the file's content with data; returns its path. */
static const char *input_file_write(const uint8_t *data, size_t size)
{
  if (ftruncate(input_fd, 0) != 0 ||
      pwrite(input_fd, data, size, 0) != (ssize_t)size)
    abort();
  return input_path;
}

#endif
