/*
 * Tar member walking on libarchive's reader. Errors keep libarchive's own
 * message and errno, with the archive's path in front.
 */
#include "zpm/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK (64 * 1024)

struct zpm_tar_reader {
  struct archive *a;
  char *path;
  int fd;                 /* our duplicate of a caller's descriptor, or -1 */
  struct zpm_error err;
};

static int fail_archive(struct zpm_tar_reader *r, const char *what)
{
  const char *msg = archive_error_string(r->a);

  r->err.lib_code = archive_errno(r->a);
  return zpm_error_set(&r->err, ZPM_EARCHIVE, "%s: %s: %s", r->path, what,
                       msg ? msg : "unknown error");
}

/* Open path, or fd (>= 0: a duplicate read from the start, named path). */
static int tar_open(struct zpm_tar_reader **out, const char *path, int fd,
                    struct zpm_error *err)
{
  struct zpm_tar_reader *r;
  int rc;

  *out = NULL;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  r->fd = -1;
  r->path = strdup(path);
  r->a = archive_read_new();
  if (r->path == NULL || r->a == NULL) {
    zpm_tar_close(r);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  archive_read_support_filter_gzip(r->a);
  archive_read_support_filter_none(r->a);
  archive_read_support_format_tar(r->a);
  archive_read_support_format_gnutar(r->a);
  if (fd >= 0) {
    r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (r->fd < 0 || lseek(r->fd, 0, SEEK_SET) != 0) {
      zpm_error_errno(err, errno, "%s: cannot read its descriptor", path);
      zpm_tar_close(r);
      return ZPM_EIO;
    }
    rc = archive_read_open_fd(r->a, r->fd, READ_BLOCK);
  } else {
    rc = archive_read_open_filename(r->a, path, READ_BLOCK);
  }
  if (rc != ARCHIVE_OK) {
    int status = fail_archive(r, "cannot read archive");
    if (err != NULL)
      *err = r->err;
    zpm_tar_close(r);
    return status;
  }
  *out = r;
  return ZPM_OK;
}

int zpm_tar_open(struct zpm_tar_reader **out, const char *path,
                 struct zpm_error *err)
{
  return tar_open(out, path, -1, err);
}

int zpm_tar_open_fd(struct zpm_tar_reader **out, int fd, const char *name,
                    struct zpm_error *err)
{
  *out = NULL;
  if (fd < 0)
    return zpm_error_set(err, ZPM_EINVAL, "%s: no descriptor", name);
  return tar_open(out, name, fd, err);
}

static enum zpm_tar_type entry_type(struct archive_entry *e)
{
  if (archive_entry_hardlink(e) != NULL)
    return ZPM_TAR_HARDLINK;
  switch (archive_entry_filetype(e)) {
  case AE_IFREG: return ZPM_TAR_FILE;
  case AE_IFDIR: return ZPM_TAR_DIRECTORY;
  case AE_IFLNK: return ZPM_TAR_SYMLINK;
  default: return ZPM_TAR_OTHER;
  }
}

int zpm_tar_next(struct zpm_tar_reader *r, struct zpm_tar_entry *entry,
                 int *done)
{
  struct archive_entry *e;
  int rc = archive_read_next_header(r->a, &e);

  *done = 0;
  if (rc == ARCHIVE_EOF) {
    *done = 1;
    return ZPM_OK;
  }
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
    return fail_archive(r, "cannot read the next member");
  entry->name = archive_entry_pathname(e);
  if (entry->name == NULL)
    return zpm_error_set(&r->err, ZPM_EARCHIVE, "%s: a member has no name",
                         r->path);
  entry->type = entry_type(e);
  entry->linkname = entry->type == ZPM_TAR_HARDLINK
    ? archive_entry_hardlink(e) : archive_entry_symlink(e);
  entry->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  entry->mode = (unsigned)(archive_entry_perm(e) & 07777);
  return ZPM_OK;
}

int zpm_tar_read(struct zpm_tar_reader *r, void *buf, size_t cap,
                 size_t *got)
{
  la_ssize_t n = archive_read_data(r->a, buf, cap);

  *got = 0;
  if (n < 0)
    return fail_archive(r, "cannot read member data");
  *got = (size_t)n;
  return ZPM_OK;
}

void zpm_tar_close(struct zpm_tar_reader *r)
{
  if (r == NULL)
    return;
  if (r->a != NULL)
    archive_read_free(r->a);
  if (r->fd >= 0)
    close(r->fd);
  free(r->path);
  free(r);
}

const struct zpm_error *zpm_tar_error(const struct zpm_tar_reader *r)
{
  return &r->err;
}
