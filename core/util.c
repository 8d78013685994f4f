/*
 * Small helpers shared by the core and the bindings (see zpm/util.h).
 */
#include "zpm/util.h"

#include <errno.h>
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
