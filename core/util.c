/*
 * Small helpers shared by the core and the bindings (see zpm/util.h).
 */
/* sync_file_range(2) is Linux's: glibc declares it under _GNU_SOURCE. */
#define _GNU_SOURCE 1

#include "zpm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int zpm_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  ssize_t n;

  while (len > 0) {
    n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

ssize_t zpm_pread_full(int fd, void *buf, size_t len, off_t pos)
{
  ssize_t n;

  do {
    n = pread(fd, buf, len, pos);
  } while (n < 0 && errno == EINTR);
  return n;
}

void zpm_start_writeback(int fd, off_t from, off_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
  /* a hint: an error here shows again at the fsync that counts */
  (void)sync_file_range(fd, from, len, SYNC_FILE_RANGE_WRITE);
#else
  (void)fd;
  (void)from;
  (void)len;
#endif
}
