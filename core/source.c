/*
 * Body sources: the generic calls of zpm/source.h, which dispatch to the
 * implementations (source_file.c, source_gunzip.c, source_memory.c,
 * source_slice.c, source_readahead.c), and the helpers they share.
 */
#include "source_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int zpm_source_read(struct zpm_source *src, void *buf, size_t cap,
                    size_t *got)
{
  int status;

  *got = 0;
  if (cap == 0)
    return ZPM_OK;
  status = src->ops->read(src, buf, cap, got);
  src->offset += *got;
  return status;
}

int zpm_source_rewind(struct zpm_source *src)
{
  int status = src->ops->rewind(src);

  if (status == ZPM_OK)
    src->offset = 0;
  return status;
}

long long zpm_source_length(const struct zpm_source *src)
{
  return src->length;
}

unsigned long long zpm_source_position(const struct zpm_source *src)
{
  if (src == NULL || src->ops->position == NULL)
    return 0;
  return src->ops->position(src);
}

const struct zpm_error *zpm_source_error(const struct zpm_source *src)
{
  return &src->error;
}

void zpm_source_free(struct zpm_source *src)
{
  if (src != NULL)
    src->ops->destroy(src);
}


ssize_t zpm_pread_full(int fd, void *buf, size_t len, off_t pos)
{
  ssize_t n;

  do {
    n = pread(fd, buf, len, pos);
  } while (n < 0 && errno == EINTR);
  return n;
}

int zpm_open_regular(const char *path, struct stat *st,
                     struct zpm_error *err)
{
  int fd;

  do {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    zpm_error_errno(err, errno, "cannot open %s", path);
    return -1;
  }
  if (fstat(fd, st) != 0) {
    zpm_error_errno(err, errno, "cannot stat %s", path);
    close(fd);
    return -1;
  }
  if (!S_ISREG(st->st_mode)) {
    zpm_error_set(err, ZPM_EINVAL, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  return fd;
}
