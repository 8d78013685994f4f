/*
 * Body sources: a file range, a gunzipped .gz file and a memory block,
 * behind the small read/rewind/length interface of zpm/source.h.
 */
#include "zpm/source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Compressed input is read in blocks of this size. */
#define GUNZIP_IN_SIZE (256 * 1024)

int zpm_source_read(struct zpm_source *src, void *buf, size_t cap,
                    size_t *got)
{
  *got = 0;
  if (cap == 0)
    return ZPM_OK;
  return src->ops->read(src, buf, cap, got);
}

int zpm_source_rewind(struct zpm_source *src)
{
  return src->ops->rewind(src);
}

long long zpm_source_length(const struct zpm_source *src)
{
  return src->length;
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

static int errno_error(struct zpm_error *err, int e, const char *what,
                       const char *path)
{
  int status = zpm_error_set(err, ZPM_EIO, "%s %s: %s", what, path,
                             strerror(e));
  if (err != NULL)
    err->lib_code = e;
  return status;
}

/* pread that retries EINTR; returns bytes read or -1 with errno set. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t pos)
{
  ssize_t n;

  do {
    n = pread(fd, buf, len, pos);
  } while (n < 0 && errno == EINTR);
  return n;
}

static char *copy_string(const char *s)
{
  size_t len = strlen(s) + 1;
  char *p = malloc(len);

  if (p != NULL)
    memcpy(p, s, len);
  return p;
}

/* --- file range -------------------------------------------------------- */

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
  n = pread_full(fs->fd, buf, cap, (off_t)(fs->offset + fs->pos));
  if (n < 0)
    return errno_error(&src->error, errno, "cannot read", fs->path);
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

static const struct zpm_source_ops file_ops = {
  file_read, file_rewind, file_destroy
};

/* Open path read-only and check it is a regular file; -1 on failure. */
static int open_regular(const char *path, struct stat *st,
                        struct zpm_error *err)
{
  int fd;

  do {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    errno_error(err, errno, "cannot open", path);
    return -1;
  }
  if (fstat(fd, st) != 0) {
    errno_error(err, errno, "cannot stat", path);
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
  fd = open_regular(path, &st, err);
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
    fs->path = copy_string(path);
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

/* --- gunzip -------------------------------------------------------------- */

/*
 * Inflate with windowBits 15+32 (gzip or zlib header, detected). When a
 * member ends and more input follows, that is the next member: reset and
 * go on, as gzip -d does with concatenated files.
 */
struct gunzip_source {
  struct zpm_source base;
  int fd;
  char *path;
  z_stream zs;
  long long in_pos;         /* file offset of the next compressed read */
  int in_eof;               /* no more compressed input */
  int member_end;           /* the last inflate call ended a member */
  int done;                 /* all output delivered */
  unsigned char *in;        /* GUNZIP_IN_SIZE bytes */
};

static int gunzip_fill(struct gunzip_source *gs)
{
  ssize_t n = pread_full(gs->fd, gs->in, GUNZIP_IN_SIZE, (off_t)gs->in_pos);

  if (n < 0)
    return errno_error(&gs->base.error, errno, "cannot read", gs->path);
  if (n == 0)
    gs->in_eof = 1;
  gs->in_pos += n;
  gs->zs.next_in = gs->in;
  gs->zs.avail_in = (uInt)n;
  return ZPM_OK;
}

static int gunzip_zerror(struct gunzip_source *gs, int rc)
{
  int status = zpm_error_set(&gs->base.error, ZPM_EZLIB,
                             "%s: gzip data error: %s", gs->path,
                             gs->zs.msg != NULL ? gs->zs.msg : zError(rc));
  gs->base.error.lib_code = rc;
  return status;
}

static int gunzip_read(struct zpm_source *src, void *buf, size_t cap,
                       size_t *got)
{
  struct gunzip_source *gs = (struct gunzip_source *)src;
  int rc;

  if (gs->done)
    return ZPM_OK;
  if (cap > (size_t)UINT_MAX)
    cap = (size_t)UINT_MAX;
  gs->zs.next_out = buf;
  gs->zs.avail_out = (uInt)cap;
  while (gs->zs.avail_out > 0) {
    if (gs->zs.avail_in == 0 && !gs->in_eof) {
      rc = gunzip_fill(gs);
      if (rc != ZPM_OK)
        return rc;
    }
    if (gs->zs.avail_in == 0 && gs->in_eof) {
      if (gs->member_end) {
        gs->done = 1;
        break;
      }
      return zpm_error_set(&src->error, ZPM_EZLIB,
                           "%s: unexpected end of gzip data", gs->path);
    }
    if (gs->member_end) {
      rc = inflateReset(&gs->zs);
      if (rc != Z_OK)
        return gunzip_zerror(gs, rc);
      gs->member_end = 0;
    }
    rc = inflate(&gs->zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END)
      gs->member_end = 1;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
      return gunzip_zerror(gs, rc);
  }
  *got = cap - gs->zs.avail_out;
  return ZPM_OK;
}

static int gunzip_rewind(struct zpm_source *src)
{
  struct gunzip_source *gs = (struct gunzip_source *)src;
  int rc = inflateReset(&gs->zs);

  if (rc != Z_OK)
    return gunzip_zerror(gs, rc);
  gs->zs.avail_in = 0;
  gs->in_pos = 0;
  gs->in_eof = 0;
  gs->member_end = 0;
  gs->done = 0;
  return ZPM_OK;
}

static void gunzip_destroy(struct zpm_source *src)
{
  struct gunzip_source *gs = (struct gunzip_source *)src;

  inflateEnd(&gs->zs);
  close(gs->fd);
  free(gs->in);
  free(gs->path);
  free(gs);
}

static const struct zpm_source_ops gunzip_ops = {
  gunzip_read, gunzip_rewind, gunzip_destroy
};

int zpm_source_gunzip(struct zpm_source **out, const char *path,
                      struct zpm_error *err)
{
  struct gunzip_source *gs;
  struct stat st;
  int fd;
  int rc;

  *out = NULL;
  fd = open_regular(path, &st, err);
  if (fd < 0)
    return err != NULL ? err->status : ZPM_EIO;
  gs = calloc(1, sizeof(*gs));
  if (gs != NULL) {
    gs->path = copy_string(path);
    gs->in = malloc(GUNZIP_IN_SIZE);
  }
  if (gs == NULL || gs->path == NULL || gs->in == NULL) {
    if (gs != NULL) {
      free(gs->path);
      free(gs->in);
    }
    free(gs);
    close(fd);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  rc = inflateInit2(&gs->zs, 15 + 32);
  if (rc != Z_OK) {
    free(gs->path);
    free(gs->in);
    free(gs);
    close(fd);
    rc = zpm_error_set(err, ZPM_EZLIB, "inflateInit2: %s", zError(rc));
    return rc;
  }
  gs->base.ops = &gunzip_ops;
  gs->base.length = -1;
  gs->fd = fd;
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  *out = &gs->base;
  return ZPM_OK;
}

/* --- memory -------------------------------------------------------------- */

struct memory_source {
  struct zpm_source base;
  const unsigned char *data;
  size_t pos;
};

static int memory_read(struct zpm_source *src, void *buf, size_t cap,
                       size_t *got)
{
  struct memory_source *ms = (struct memory_source *)src;
  size_t left = (size_t)src->length - ms->pos;

  if (cap > left)
    cap = left;
  if (cap > 0)
    memcpy(buf, ms->data + ms->pos, cap);
  ms->pos += cap;
  *got = cap;
  return ZPM_OK;
}

static int memory_rewind(struct zpm_source *src)
{
  ((struct memory_source *)src)->pos = 0;
  return ZPM_OK;
}

static void memory_destroy(struct zpm_source *src)
{
  free(src);
}

static const struct zpm_source_ops memory_ops = {
  memory_read, memory_rewind, memory_destroy
};

int zpm_source_memory(struct zpm_source **out, const void *data,
                      size_t len, struct zpm_error *err)
{
  struct memory_source *ms;

  *out = NULL;
  if (data == NULL && len > 0)
    return zpm_error_set(err, ZPM_EINVAL, "memory source without data");
  ms = calloc(1, sizeof(*ms));
  if (ms == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  ms->base.ops = &memory_ops;
  ms->base.length = (long long)len;
  ms->data = data;
  *out = &ms->base;
  return ZPM_OK;
}
