/* A file, or a byte range of it, as a body source. */
#include "source_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct file_source {
  struct zpm_source base;
  int fd;
  char *path;
  long long offset;     /* first byte of the range */
  long long pos;        /* bytes of the range read so far */
};

static int file_read(struct zpm_source *src, void *buf, size_t cap,
                     size_t *got)
{
  struct file_source *fs = (struct file_source *)src;
  long long left = src->length - fs->pos;
  ssize_t n;

  if (left <= 0)
    return ZPM_OK;
  if ((unsigned long long)left < cap)
    cap = (size_t)left;
  n = zpm_pread_full(fs->fd, buf, cap, (off_t)(fs->offset + fs->pos));
  if (n < 0)
    return zpm_error_errno(&src->error, errno, "cannot read %s", fs->path);
  if (n == 0)
    return zpm_error_set(&src->error, ZPM_EIO,
                         "%s: file shrank while being read", fs->path);
  fs->pos += n;
  *got = (size_t)n;
  return ZPM_OK;
}

static int file_rewind(struct zpm_source *src)
{
  ((struct file_source *)src)->pos = 0;
  return ZPM_OK;
}

static void file_destroy(struct zpm_source *src)
{
  struct file_source *fs = (struct file_source *)src;

  close(fs->fd);
  free(fs->path);
  free(fs);
}

static unsigned long long file_position(const struct zpm_source *src)
{
  return (unsigned long long)((const struct file_source *)src)->pos;
}

static const struct zpm_source_ops file_ops = {
  file_read, file_rewind, file_destroy, file_position, NULL
};

int zpm_source_file(struct zpm_source **out, const char *path,
                    long long offset, long long length,
                    struct zpm_error *err)
{
  struct file_source *fs;
  struct stat st;
  int fd;

  *out = NULL;
  if (offset < 0 || length < -1)
    return zpm_error_set(err, ZPM_EINVAL, "%s: invalid byte range", path);
  fd = zpm_open_regular(path, &st, err);
  if (fd < 0)
    return err != NULL ? err->status : ZPM_EIO;
  if (offset > (long long)st.st_size ||
      (length >= 0 && length > (long long)st.st_size - offset)) {
    close(fd);
    return zpm_error_set(err, ZPM_EINVAL,
                         "%s: byte range %lld+%lld beyond the end (%lld)",
                         path, offset, length, (long long)st.st_size);
  }
  fs = calloc(1, sizeof(*fs));
  if (fs != NULL)
    fs->path = strdup(path);
  if (fs == NULL || fs->path == NULL) {
    free(fs);
    close(fd);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  fs->base.ops = &file_ops;
  fs->base.length = length >= 0 ? length : (long long)st.st_size - offset;
  fs->fd = fd;
  fs->offset = offset;
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd, (off_t)offset, 0, POSIX_FADV_SEQUENTIAL);
#endif
  *out = &fs->base;
  return ZPM_OK;
}
