/*
 * The zapp writer (see zpm/archive.h): libarchive builds a pax-restricted
 * tar stream, our write callback hands it to the parallel gzip stream,
 * and the gzip sink writes a temporary file beside the target, renamed
 * into place by zpm_archive_commit.
 *
 * Entries are built by hand (never archive_read_disk), so nothing but
 * the fields set here reaches a header: no owner names, no atime/ctime,
 * no xattrs or ACLs.
 *
 * An add that fails before anything reached the tar stream (missing
 * file, wrong type, unreadable) leaves the writer usable; a failure after
 * a header was written breaks it: later adds and commit return the error.
 *
 * Nothing written is taken on trust: libarchive ignores what its close
 * callback returns, so the gzip stream is finished by commit itself, after
 * archive_write_close, and every sink write, the fsync and the close of
 * the temporary file are checked before the rename. A failed write names
 * the temporary file and errno ("cannot write '.../.x.zapp.tmp-AbC123':
 * No space left on device"); the previous file at path stays as it was.
 *
 * The writer holds an exclusive flock on its temporary file until it is
 * renamed or removed, so a temporary file nobody holds was left by a
 * killed run: the next writer for the same path removes those
 * (zpm_archive_remove_stale).
 */
/* flock(2) is BSD, not POSIX: glibc declares it under _DEFAULT_SOURCE. */
#define _DEFAULT_SOURCE 1

#include "zpm/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "zpm/cancel.h"
#include "zpm/flusher.h"
#include "zpm/gzip.h"
#include "zpm/util.h"

#define ARCHIVE_IO_BLOCK (64 * 1024)
/* Output bytes between two background fdatasyncs (zpm/flusher.h). */
#define FLUSH_STEP (8u * 1024 * 1024)

/* Temporary files: ".<base>" TEMP_SUFFIX, with mkstemp's six characters. */
#define TEMP_SUFFIX ".tmp-"
#define TEMP_RANDOM 6
/* Tries at a temporary file a cleaner does not remove under our feet. */
#define TEMP_TRIES 16

struct zpm_archive_writer {
  struct zpm_archive_options opts;
  char *path;
  char *tmp_path;
  int fd;                  /* the temporary file, or -1 */
  int lock_fd;             /* a dup of fd holding its flock, or -1 */
  int tmp_exists;          /* tmp_path is on disk and ours to remove */
  int sink_errno;          /* errno of the first failed write, or 0 */
  unsigned long long written;         /* bytes in the temporary file */
  unsigned long long flushed_at;  /* written when the flusher was kicked */
  struct zpm_flusher *flusher;   /* or NULL: commit's fsync does it all */
  struct archive *a;
  struct archive_entry *entry;
  struct zpm_gzip *gz;
  unsigned char *buf;      /* ARCHIVE_IO_BLOCK bytes for file data */
  int committing;          /* commit under way */
  int discarding;          /* the write callback drops everything */
  int committed;
  int broken;              /* the tar stream is unusable */
  zpm_progress_fn progress;      /* or NULL */
  void *progress_ud;
  unsigned long long progress_done;  /* member bytes read so far */
  const zpm_cancel_flag *cancel;  /* or NULL; not ours */
  struct zpm_error err;
};

/* Keep libarchive's own message and errno. */
static int fail_archive(struct zpm_archive_writer *w, const char *what,
                        const char *path)
{
  const char *msg = archive_error_string(w->a);
  const struct zpm_error *gerr = zpm_gzip_error(w->gz);

  /* The temporary file could not be written (disk full): say so. The
   * sink may run on a compressing thread: its errno is read only once
   * gzip has reported the failure to this thread. */
  if (gerr->status == ZPM_EIO && w->sink_errno != 0)
    return zpm_error_errno(&w->err, w->sink_errno,
                           "cannot write '%s'", w->tmp_path);
  /* A failure of ours under libarchive (out of memory) keeps its status. */
  if (gerr->status != ZPM_OK) {
    zpm_error_set(&w->err, gerr->status, "%s '%s': %s", what, path,
                  gerr->message);
    w->err.lib_code = gerr->lib_code;
    return gerr->status;
  }
  zpm_error_set(&w->err, ZPM_EARCHIVE, "%s '%s': %s", what, path,
                msg != NULL ? msg : "libarchive error");
  w->err.lib_code = archive_errno(w->a);
  return ZPM_EARCHIVE;
}

static int sink_fd(void *ud, const void *buf, size_t len)
{
  struct zpm_archive_writer *w = ud;

  w->sink_errno = zpm_write_all(w->fd, buf, len);
  if (w->sink_errno != 0)
    return w->sink_errno;
  /* the file is made durable while we compress: commit's fsync then
   * waits only for the last step (a 115 MB zapp: 60-95 ms -> 6 ms) */
  w->written += len;
  if (w->written - w->flushed_at >= FLUSH_STEP) {
    zpm_flusher_kick(w->flusher);
    w->flushed_at = w->written;
  }
  return 0;
}

static la_ssize_t write_cb(struct archive *a, void *ud, const void *buf,
                           size_t len)
{
  struct zpm_archive_writer *w = ud;
  const struct zpm_error *gerr;

  if (w->discarding)
    return (la_ssize_t)len;
  if (zpm_gzip_write(w->gz, buf, len) != ZPM_OK) {
    gerr = zpm_gzip_error(w->gz);
    archive_set_error(a, gerr->lib_code, "%s", gerr->message);
    return -1;
  }
  return (la_ssize_t)len;
}

/*
 * Nothing to do: libarchive ignores this callback's result (it lost a
 * disk-full error here once), so zpm_archive_commit finishes the gzip
 * stream itself, after archive_write_close.
 */
static int close_cb(struct archive *a, void *ud)
{
  (void)a;
  (void)ud;
  return ARCHIVE_OK;
}

/* "<dir>/.<base>.tmp-XXXXXX" beside path. */
static char *temp_template(const char *path)
{
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
  const char *base = path + dir_len;
  size_t base_len = strlen(base);
  static const char suffix[] = TEMP_SUFFIX "XXXXXX";
  char *t = malloc(dir_len + 1 + base_len + sizeof(suffix));
  char *q = t;

  if (t == NULL)
    return NULL;
  memcpy(q, path, dir_len);
  q += dir_len;
  *q++ = '.';
  memcpy(q, base, base_len);
  q += base_len;
  memcpy(q, suffix, sizeof(suffix));
  return t;
}

/* The directory part of path ("." for a bare name), or NULL. */
static char *parent_dir(const char *path)
{
  const char *slash = strrchr(path, '/');
  size_t len;
  char *dir;

  if (slash == NULL)
    len = 0;
  else
    len = slash == path ? 1 : (size_t)(slash - path);
  dir = malloc(len > 0 ? len + 1 : 2);
  if (dir == NULL)
    return NULL;
  if (len == 0) {
    dir[0] = '.';
    dir[1] = '\0';
  } else {
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  return dir;
}

/* mkstemp's characters, without locale-dependent isalnum. */
static int temp_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

/* Whether name is ".<base>.tmp-" and six letters or digits. */
static int is_temp_name(const char *name, const char *base)
{
  size_t base_len = strlen(base);
  size_t suffix_len = sizeof(TEMP_SUFFIX) - 1;
  const char *p = name;
  size_t i;

  if (*p++ != '.' || strncmp(p, base, base_len) != 0)
    return 0;
  p += base_len;
  if (strncmp(p, TEMP_SUFFIX, suffix_len) != 0)
    return 0;
  p += suffix_len;
  for (i = 0; i < TEMP_RANDOM; i++) {
    if (!temp_char(p[i]))
      return 0;
  }
  return p[TEMP_RANDOM] == '\0';
}

/*
 * Remove dir/name if it is a regular file of ours that no writer holds:
 * the exclusive lock taken without waiting proves that, and the name
 * must still be the file we locked. It is unlinked before the lock goes,
 * so a writer that locks its new file after us sees it unlinked (and
 * makes another: create_temp).
 */
static int remove_if_stale(int dfd, const char *name)
{
  struct stat st;
  struct stat again;
  int removed = 0;
  int fd;

  fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
                         | O_CLOEXEC);
  if (fd < 0)
    return 0;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
      && st.st_uid == geteuid()
      && flock(fd, LOCK_EX | LOCK_NB) == 0
      && fstatat(dfd, name, &again, AT_SYMLINK_NOFOLLOW) == 0
      && again.st_dev == st.st_dev && again.st_ino == st.st_ino
      && unlinkat(dfd, name, 0) == 0)
    removed = 1;
  close(fd);
  return removed;
}

int zpm_archive_remove_stale(const char *path)
{
  const char *slash;
  const char *base;
  char *dir;
  DIR *d;
  struct dirent *de;
  int removed = 0;

  if (path == NULL || path[0] == '\0')
    return 0;
  slash = strrchr(path, '/');
  base = slash != NULL ? slash + 1 : path;
  if (base[0] == '\0')
    return 0;
  dir = parent_dir(path);
  if (dir == NULL)
    return 0;
  d = opendir(dir);
  free(dir);
  if (d == NULL)
    return 0;
  for (;;) {
    de = readdir(d);
    if (de == NULL)
      break;
    if (is_temp_name(de->d_name, base))
      removed += remove_if_stale(dirfd(d), de->d_name);
  }
  closedir(d);
  return removed;
}

/*
 * Make the temporary file and hold an exclusive flock on it until it is
 * renamed or removed. lock_fd, a dup of fd, carries the lock past the
 * checked close(fd) in commit, up to the rename. A cleaner may remove the
 * file between mkstemp and flock: it is then unlinked once we hold the
 * lock, and we try another name. Where flock is not supported the file
 * is written unlocked (and no cleaner can remove it either).
 */
static int create_temp(struct zpm_archive_writer *w, struct zpm_error *err)
{
  size_t len = strlen(w->tmp_path);
  struct stat st;
  int tries;
  int fd;
  int r;

  for (tries = 0; tries < TEMP_TRIES; tries++) {
    memset(w->tmp_path + len - TEMP_RANDOM, 'X', TEMP_RANDOM);
    fd = mkstemp(w->tmp_path);
    if (fd < 0)
      return zpm_error_errno(err, errno,
                             "cannot create a temporary file for '%s'",
                             w->path);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    do {
      r = flock(fd, LOCK_EX);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
      /* no flock here (ENOLCK, EOPNOTSUPP...): write it unlocked */
      w->fd = fd;
      w->tmp_exists = 1;
      return ZPM_OK;
    }
    if (fstat(fd, &st) != 0) {
      r = errno;
      unlink(w->tmp_path);
      close(fd);
      return zpm_error_errno(err, r, "cannot stat '%s'", w->tmp_path);
    }
    if (st.st_nlink > 0) {
      w->fd = fd;
      w->tmp_exists = 1;
      w->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (w->lock_fd < 0)
        return zpm_error_errno(err, errno,
                               "cannot duplicate the descriptor of '%s'",
                               w->tmp_path);
      return ZPM_OK;
    }
    close(fd);
  }
  return zpm_error_set(err, ZPM_EIO, "cannot create a temporary file for "
                       "'%s': removed by another process %d times",
                       w->path, TEMP_TRIES);
}

/* Remove the temporary file (while still holding its lock), close it. */
static void discard(struct zpm_archive_writer *w)
{
  /* a compressing thread may be writing a block out: not after this */
  zpm_gzip_stop_output(w->gz);
  (void)zpm_flusher_stop(w->flusher);  /* the file goes: no error matters */
  w->flusher = NULL;
  if (w->tmp_exists) {
    unlink(w->tmp_path);
    w->tmp_exists = 0;
  }
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
  if (w->lock_fd >= 0) {
    close(w->lock_fd);
    w->lock_fd = -1;
  }
}

static int setup_archive(struct zpm_archive_writer *w, struct zpm_error *err)
{
  struct zpm_gzip_options gopt;
  int status;

  memset(&gopt, 0, sizeof(gopt));
  gopt.level = w->opts.level;
  gopt.threads = w->opts.threads;
  gopt.record = 1;    /* deploys read the tar's MD5 and length from it */
  status = zpm_gzip_open(&w->gz, &gopt, sink_fd, w, err);
  if (status != ZPM_OK)
    return status;
  w->a = archive_write_new();
  w->entry = archive_entry_new();
  w->buf = malloc(ARCHIVE_IO_BLOCK);
  if (w->a == NULL || w->entry == NULL || w->buf == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "archive: out of memory");
  /*
   * No blocking: libarchive hands every header and data chunk straight
   * to gzip (which has its own blocks) and does not pad the end to a
   * 10240-byte record; the tar still ends with its two zero blocks.
   */
  if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK
      || archive_write_add_filter_none(w->a) != ARCHIVE_OK
      || archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK
      || archive_write_open(w->a, w, NULL, write_cb, close_cb)
           != ARCHIVE_OK) {
    zpm_error_set(err, ZPM_EARCHIVE, "cannot start '%s': %s", w->path,
                  archive_error_string(w->a) != NULL
                    ? archive_error_string(w->a) : "libarchive error");
    if (err != NULL)
      err->lib_code = archive_errno(w->a);
    return ZPM_EARCHIVE;
  }
  return ZPM_OK;
}

int zpm_archive_create(struct zpm_archive_writer **out, const char *path,
                       const struct zpm_archive_options *options,
                       struct zpm_error *err)
{
  struct zpm_archive_writer *w;
  int status;

  *out = NULL;
  if (options != NULL && (options->level < 0 || options->level > 9))
    return zpm_error_set(err, ZPM_EINVAL,
                         "archive: level must be 1..9, not %d",
                         options->level);
  if (options != NULL && options->threads < 0)
    return zpm_error_set(err, ZPM_EINVAL,
                         "archive: threads must be >= 0, not %d",
                         options->threads);
  if (path == NULL || path[0] == '\0')
    return zpm_error_set(err, ZPM_EINVAL, "archive: empty output path");

  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "archive: out of memory");
  w->fd = -1;
  w->lock_fd = -1;
  if (options != NULL)
    w->opts = *options;
  w->path = strdup(path);
  w->tmp_path = temp_template(path);
  if (w->path == NULL || w->tmp_path == NULL) {
    zpm_archive_free(w);
    return zpm_error_set(err, ZPM_ENOMEM, "archive: out of memory");
  }
  /* first, so that a killed run's space is free before we write */
  zpm_archive_remove_stale(path);
  status = create_temp(w, err);
  if (status == ZPM_OK) {
    /* no thread: commit's fsync does it all, only slower */
    (void)zpm_flusher_start(&w->flusher, w->fd);
    status = setup_archive(w, err);
  }
  if (status != ZPM_OK) {
    zpm_archive_free(w);
    return status;
  }
  *out = w;
  return ZPM_OK;
}

/* A cancelled writer is broken: commit then discards it. */
static int check_cancel(struct zpm_archive_writer *w)
{
  if (!zpm_cancelled(w->cancel))
    return ZPM_OK;
  w->broken = 1;
  return zpm_error_set(&w->err, ZPM_ECANCELED, "interrupted");
}

static int writer_usable(struct zpm_archive_writer *w)
{
  if (!w->broken && w->fd >= 0 && !w->committed && !w->committing)
    check_cancel(w);
  if (w->broken)
    return w->err.status != ZPM_OK ? w->err.status : ZPM_EARCHIVE;
  if (w->committed || w->committing || w->fd < 0)
    return zpm_error_set(&w->err, ZPM_EINVAL,
                         "archive '%s' is already committed or closed",
                         w->path);
  return ZPM_OK;
}

static long long member_mtime(const struct zpm_archive_writer *w,
                              long long own)
{
  return w->opts.fixed_mtime ? w->opts.mtime : own;
}

/* The fields common to every member; everything else stays unset. */
static void entry_start(struct zpm_archive_writer *w, const char *arcname,
                        unsigned type, unsigned perm, long long mtime)
{
  struct archive_entry *e = w->entry;

  archive_entry_clear(e);
  archive_entry_copy_pathname(e, arcname);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, (mode_t)(perm & 07777));
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_mtime(e, (time_t)mtime, 0);
  archive_entry_set_size(e, 0);
}

static int write_header(struct zpm_archive_writer *w, const char *what)
{
  int r = archive_write_header(w->a, w->entry);

  /* ARCHIVE_WARN: written, e.g. a name not convertible to UTF-8. */
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
    return ZPM_OK;
  if (r == ARCHIVE_FATAL)
    w->broken = 1;
  return fail_archive(w, "cannot add", what);
}

/* n more bytes of member data read: tell the caller's callback, if any. */
static void report_progress(struct zpm_archive_writer *w, unsigned long long n)
{
  w->progress_done += n;
  if (w->progress != NULL)
    w->progress(w->progress_ud, w->progress_done, 0);
}

static int write_data(struct zpm_archive_writer *w, const void *data,
                      size_t len, const char *what)
{
  const char *p = data;
  la_ssize_t n;

  while (len > 0) {
    n = archive_write_data(w->a, p, len);
    if (n <= 0) {
      w->broken = 1;
      return fail_archive(w, "cannot write", what);
    }
    p += n;
    len -= (size_t)n;
  }
  return ZPM_OK;
}

/* The member of the regular file open at fd (fstat st); closes fd. */
static int add_open_file(struct zpm_archive_writer *w, int fd,
                         const char *disk, const char *arcname,
                         const struct stat *st)
{
  long long left;
  ssize_t n;
  int status;
  int at_end = 0;          /* a short read saw the end of the file */

  entry_start(w, arcname, AE_IFREG, (unsigned)st->st_mode,
              member_mtime(w, (long long)st->st_mtime));
  archive_entry_set_size(w->entry, (la_int64_t)st->st_size);
  status = write_header(w, disk);
  left = (long long)st->st_size;
  while (status == ZPM_OK && left > 0) {
    /* One byte more than is left: a short read then shows the end, and
     * a small file takes one read, not two. */
    size_t want = left < ARCHIVE_IO_BLOCK ? (size_t)left + 1
                                          : ARCHIVE_IO_BLOCK;

    status = check_cancel(w);
    if (status != ZPM_OK)
      break;
    n = read(fd, w->buf, want);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      status = zpm_error_errno(&w->err, errno, "cannot read '%s'", disk);
      w->broken = 1;
    } else if (n == 0) {
      status = zpm_error_set(&w->err, ZPM_EIO,
                             "'%s' shrank while being added", disk);
      w->broken = 1;
    } else if (n > left) {
      status = zpm_error_set(&w->err, ZPM_EIO,
                             "'%s' grew while being added", disk);
      w->broken = 1;
    } else {
      status = write_data(w, w->buf, (size_t)n, disk);
      left -= n;
      report_progress(w, (unsigned long long)n);
      at_end = (size_t)n < want;
    }
  }
  if (status == ZPM_OK && !at_end) {
    /* The header promised st_size bytes: more means a changing file. */
    do {
      n = read(fd, w->buf, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 0) {
      status = zpm_error_set(&w->err, ZPM_EIO,
                             "'%s' grew while being added", disk);
      w->broken = 1;
    }
  }
  close(fd);
  return status;
}

static int add_regular(struct zpm_archive_writer *w, const char *disk,
                       const char *arcname, const struct stat *lst)
{
  struct stat st;
  int fd;
  int status;

  fd = open(disk, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return zpm_error_errno(&w->err, errno, "cannot open '%s'", disk);
  if (fstat(fd, &st) != 0) {
    status = zpm_error_errno(&w->err, errno, "cannot stat '%s'", disk);
    close(fd);
    return status;
  }
  if (!S_ISREG(st.st_mode) || st.st_dev != lst->st_dev
      || st.st_ino != lst->st_ino) {
    close(fd);
    return zpm_error_set(&w->err, ZPM_EIO,
                         "'%s' was replaced while being added", disk);
  }
  return add_open_file(w, fd, disk, arcname, &st);
}

static int add_symlink(struct zpm_archive_writer *w, const char *disk,
                       const char *arcname, const struct stat *lst)
{
  size_t cap = lst->st_size > 0 ? (size_t)lst->st_size + 1 : 4096;
  char *target = NULL;
  ssize_t n;
  int status;

  for (;;) {
    char *t = realloc(target, cap);
    if (t == NULL) {
      free(target);
      return zpm_error_set(&w->err, ZPM_ENOMEM, "archive: out of memory");
    }
    target = t;
    n = readlink(disk, target, cap);
    if (n < 0) {
      status = zpm_error_errno(&w->err, errno, "cannot read link '%s'", disk);
      free(target);
      return status;
    }
    if ((size_t)n < cap)
      break;
    cap *= 2;
  }
  target[n] = '\0';
  entry_start(w, arcname, AE_IFLNK, (unsigned)lst->st_mode,
              member_mtime(w, (long long)lst->st_mtime));
  archive_entry_copy_symlink(w->entry, target);
  free(target);
  return write_header(w, disk);
}

static int add_directory(struct zpm_archive_writer *w, const char *disk,
                         const char *arcname, const struct stat *lst)
{
  size_t len = strlen(arcname);
  char *name;

  /* Directories always carry a trailing '/', as GNU tar writes them. */
  name = malloc(len + 2);
  if (name == NULL)
    return zpm_error_set(&w->err, ZPM_ENOMEM, "archive: out of memory");
  memcpy(name, arcname, len + 1);
  if (len == 0 || arcname[len - 1] != '/') {
    name[len] = '/';
    name[len + 1] = '\0';
  }
  entry_start(w, name, AE_IFDIR, (unsigned)lst->st_mode,
              member_mtime(w, (long long)lst->st_mtime));
  free(name);
  return write_header(w, disk);
}

int zpm_archive_add_path(struct zpm_archive_writer *w, const char *disk_path,
                         const char *arcname)
{
  struct stat st;
  int status;

  status = writer_usable(w);
  if (status != ZPM_OK)
    return status;
  zpm_error_clear(&w->err);
  if (arcname == NULL || arcname[0] == '\0')
    return zpm_error_set(&w->err, ZPM_EINVAL,
                         "empty member name for '%s'", disk_path);
  if (lstat(disk_path, &st) != 0)
    return zpm_error_errno(&w->err, errno, "cannot add '%s'", disk_path);
  if (S_ISREG(st.st_mode))
    return add_regular(w, disk_path, arcname, &st);
  if (S_ISDIR(st.st_mode))
    return add_directory(w, disk_path, arcname, &st);
  if (S_ISLNK(st.st_mode))
    return add_symlink(w, disk_path, arcname, &st);
  return zpm_error_set(&w->err, ZPM_EINVAL,
                       "'%s' is not a regular file, directory or symlink",
                       disk_path);
}

int zpm_archive_add_file(struct zpm_archive_writer *w, const char *disk_path,
                         const char *arcname)
{
  struct stat st;
  int status;
  int fd;

  status = writer_usable(w);
  if (status != ZPM_OK)
    return status;
  if (arcname == NULL || arcname[0] == '\0')
    return zpm_archive_add_path(w, disk_path, arcname);
  /* O_NOFOLLOW: a link is not followed; O_NONBLOCK: a FIFO put there
   * does not block the open (fstat then sends it to add_path) */
  fd = open(disk_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY
                       | O_NONBLOCK);
  if (fd < 0)
    return zpm_archive_add_path(w, disk_path, arcname);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return zpm_archive_add_path(w, disk_path, arcname);
  }
  zpm_error_clear(&w->err);
  return add_open_file(w, fd, disk_path, arcname, &st);
}

int zpm_archive_add_memory(struct zpm_archive_writer *w, const char *arcname,
                           const void *data, size_t len, unsigned mode,
                           long long mtime)
{
  int status;

  status = writer_usable(w);
  if (status != ZPM_OK)
    return status;
  zpm_error_clear(&w->err);
  if (arcname == NULL || arcname[0] == '\0')
    return zpm_error_set(&w->err, ZPM_EINVAL, "empty member name");
  /* An explicit mtime wins; "default" is the fixed mtime, or 0. */
  if (mtime < 0)
    mtime = w->opts.fixed_mtime ? w->opts.mtime : 0;
  entry_start(w, arcname, AE_IFREG, mode, mtime);
  archive_entry_set_size(w->entry, (la_int64_t)len);
  status = write_header(w, arcname);
  if (status == ZPM_OK)
    status = write_data(w, data, len, arcname);
  if (status == ZPM_OK)
    report_progress(w, (unsigned long long)len);
  return status;
}

void zpm_archive_set_progress(struct zpm_archive_writer *w,
                              zpm_progress_fn fn, void *ud)
{
  w->progress = fn;
  w->progress_ud = ud;
}

void zpm_archive_set_cancel(struct zpm_archive_writer *w,
                            const zpm_cancel_flag *flag)
{
  w->cancel = flag;
}

static mode_t current_umask(void)
{
  mode_t mask = umask(022);

  umask(mask);
  return mask;
}

/*
 * Make the rename durable: fsync the directory. Best effort: the new file
 * is in place by then, and failing would not bring the old one back.
 */
static void sync_parent(const char *path)
{
  char *dir = parent_dir(path);
  int fd;

  if (dir == NULL)
    return;
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

/* Fail the commit: the temporary file goes, the previous file stays. */
static int commit_failed(struct zpm_archive_writer *w, int status)
{
  w->broken = 1;
  discard(w);
  return status;
}

/*
 * The tar stream is closed first (its trailer goes through write_cb),
 * then the gzip stream is finished here and not in the close callback,
 * whose result libarchive drops. Only a temporary file whose every write,
 * fsync and close succeeded is renamed over path.
 */
int zpm_archive_commit(struct zpm_archive_writer *w)
{
  int status;
  int fd;

  status = writer_usable(w);
  if (status != ZPM_OK) {
    if (w->broken)
      discard(w);
    return status;
  }
  zpm_error_clear(&w->err);
  w->committing = 1;
  /* a failed sink write shows here or in zpm_gzip_finish, whichever
   * thread met it (sink_errno is read only after gzip reported it) */
  if (archive_write_close(w->a) != ARCHIVE_OK
      || zpm_gzip_error(w->gz)->status != ZPM_OK)
    return commit_failed(w, fail_archive(w, "cannot finish", w->path));
  if (zpm_gzip_finish(w->gz) != ZPM_OK)
    return commit_failed(w, fail_archive(w, "cannot finish", w->path));
  status = check_cancel(w);
  if (status != ZPM_OK)
    return commit_failed(w, status);
  /* a failure a background fdatasync saw is not seen again by fsync */
  status = zpm_flusher_stop(w->flusher);
  w->flusher = NULL;
  fd = w->fd;
  w->fd = -1;
  if (status != 0)
    status = zpm_error_errno(&w->err, status, "cannot write '%s'",
                             w->tmp_path);
  else if (fsync(fd) != 0)
    status = zpm_error_errno(&w->err, errno, "cannot write '%s'", w->tmp_path);
  if (status == ZPM_OK
      && fchmod(fd, 0666 & ~current_umask()) != 0)
    status = zpm_error_errno(&w->err, errno, "cannot chmod '%s'", w->tmp_path);
  if (close(fd) != 0 && status == ZPM_OK)
    status = zpm_error_errno(&w->err, errno, "cannot write '%s'", w->tmp_path);
  if (status == ZPM_OK && rename(w->tmp_path, w->path) != 0)
    status = zpm_error_errno(&w->err, errno, "cannot rename to '%s'", w->path);
  if (status != ZPM_OK)
    return commit_failed(w, status);
  w->tmp_exists = 0;
  w->committed = 1;
  /* the lock goes only now: the name was ours up to the rename */
  if (w->lock_fd >= 0) {
    close(w->lock_fd);
    w->lock_fd = -1;
  }
  sync_parent(w->path);
  return ZPM_OK;
}

void zpm_archive_free(struct zpm_archive_writer *w)
{
  if (w == NULL)
    return;
  if (w->a != NULL) {
    /* Closing an unfinished archive writes a trailer: drop it. */
    if (!w->committed)
      w->discarding = 1;
    archive_write_free(w->a);
  }
  if (w->entry != NULL)
    archive_entry_free(w->entry);
  zpm_gzip_free(w->gz);
  w->gz = NULL;
  discard(w);
  free(w->buf);
  free(w->tmp_path);
  free(w->path);
  free(w);
}

const char *zpm_archive_temp_path(const struct zpm_archive_writer *w)
{
  return w->tmp_path;
}

const struct zpm_error *zpm_archive_error(const struct zpm_archive_writer *w)
{
  return &w->err;
}

/* --- tar in memory, for Swift's bulk middleware -------------------------- */

struct zpm_tar_buffer {
  struct archive *a;
  struct archive_entry *entry;
  unsigned char *data;
  size_t len;
  size_t cap;
  int broken;              /* a failed add or write: nothing more */
  int finished;
  struct zpm_error err;
};

static la_ssize_t tar_buffer_write(struct archive *a, void *ud,
                                   const void *buf, size_t len)
{
  struct zpm_tar_buffer *t = ud;
  size_t cap = t->cap;
  unsigned char *grown;

  if (len > SIZE_MAX - t->len) {
    archive_set_error(a, ENOMEM, "tar too large");
    return -1;
  }
  while (cap < t->len + len)
    cap = cap < SIZE_MAX / 2 ? (cap > 0 ? cap * 2 : 64 * 1024) : SIZE_MAX;
  if (cap != t->cap) {
    grown = realloc(t->data, cap);
    if (grown == NULL) {
      archive_set_error(a, ENOMEM, "out of memory");
      return -1;
    }
    t->data = grown;
    t->cap = cap;
  }
  memcpy(t->data + t->len, buf, len);
  t->len += len;
  return (la_ssize_t)len;
}

/* libarchive's message and errno for what failed on name. */
static int tar_buffer_fail(struct zpm_tar_buffer *t, const char *what,
                           const char *name)
{
  const char *msg = archive_error_string(t->a);
  int e = archive_errno(t->a);

  t->broken = 1;
  zpm_error_set(&t->err, e == ENOMEM ? ZPM_ENOMEM : ZPM_EARCHIVE,
                "%s '%s': %s", what, name,
                msg != NULL ? msg : "libarchive error");
  t->err.lib_code = e;
  return t->err.status;
}

int zpm_tar_buffer_new(struct zpm_tar_buffer **out, size_t size_hint,
                       struct zpm_error *err)
{
  struct zpm_tar_buffer *t;

  *out = NULL;
  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "tar: out of memory");
  t->cap = size_hint;
  t->data = size_hint > 0 ? malloc(size_hint) : NULL;
  t->a = archive_write_new();
  t->entry = archive_entry_new();
  if ((size_hint > 0 && t->data == NULL) || t->a == NULL
      || t->entry == NULL) {
    zpm_tar_buffer_free(t);
    return zpm_error_set(err, ZPM_ENOMEM, "tar: out of memory");
  }
  /*
   * pax-restricted: ustar headers, a pax record only where ustar cannot
   * say it (long or non-ASCII names, the MIME type); the xattr only as
   * SCHILY.xattr (libarchive would add LIBARCHIVE.xattr too, whose value
   * is base64: Swift takes either key as the Content-Type, as it is).
   * Names go as the bytes given (hdrcharset=BINARY): no conversion
   * through the locale's charset, which in the C locale cannot take
   * UTF-8; Python's tarfile (Swift's) reads them back byte for byte.
   * No blocking: the tar ends with its two zero blocks, unpadded.
   */
  if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK
      || archive_write_set_format_option(t->a, "pax", "xattrheader",
                                         "SCHILY") != ARCHIVE_OK
      || archive_write_set_format_option(t->a, "pax", "hdrcharset",
                                         "BINARY") != ARCHIVE_OK
      || archive_write_add_filter_none(t->a) != ARCHIVE_OK
      || archive_write_set_bytes_per_block(t->a, 0) != ARCHIVE_OK
      || archive_write_open(t->a, t, NULL, tar_buffer_write, NULL)
           != ARCHIVE_OK) {
    zpm_error_set(err, ZPM_EARCHIVE, "tar: %s",
                  archive_error_string(t->a) != NULL
                    ? archive_error_string(t->a) : "libarchive error");
    if (err != NULL)
      err->lib_code = archive_errno(t->a);
    zpm_tar_buffer_free(t);
    return ZPM_EARCHIVE;
  }
  *out = t;
  return ZPM_OK;
}

static int tar_buffer_usable(struct zpm_tar_buffer *t)
{
  if (t->broken)
    return t->err.status;
  if (t->finished)
    return zpm_error_set(&t->err, ZPM_EINVAL, "tar already finished");
  return ZPM_OK;
}

int zpm_tar_buffer_add(struct zpm_tar_buffer *t, const char *name,
                       const void *data, size_t len, const char *mime_type)
{
  struct archive_entry *e = t->entry;
  const char *p = data;
  la_ssize_t n;
  int status = tar_buffer_usable(t);

  if (status != ZPM_OK)
    return status;
  if (name == NULL || name[0] == '\0')
    return zpm_error_set(&t->err, ZPM_EINVAL, "empty member name");
  archive_entry_clear(e);
  archive_entry_copy_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_mtime(e, 0, 0);
  archive_entry_set_size(e, (la_int64_t)len);
  if (mime_type != NULL)
    archive_entry_xattr_add_entry(e, "user.mime_type", mime_type,
                                  strlen(mime_type));
  status = archive_write_header(t->a, e);
  if (status != ARCHIVE_OK)
    return tar_buffer_fail(t, "cannot add", name);
  while (len > 0) {
    n = archive_write_data(t->a, p, len);
    if (n <= 0)
      return tar_buffer_fail(t, "cannot write", name);
    p += n;
    len -= (size_t)n;
  }
  return ZPM_OK;
}

int zpm_tar_buffer_finish(struct zpm_tar_buffer *t, const void **data,
                          size_t *len)
{
  int status = tar_buffer_usable(t);

  *data = NULL;
  *len = 0;
  if (status != ZPM_OK)
    return status;
  t->finished = 1;
  if (archive_write_close(t->a) != ARCHIVE_OK)
    return tar_buffer_fail(t, "cannot finish", "tar");
  *data = t->data;
  *len = t->len;
  return ZPM_OK;
}

const struct zpm_error *zpm_tar_buffer_error(const struct zpm_tar_buffer *t)
{
  return &t->err;
}

void zpm_tar_buffer_free(struct zpm_tar_buffer *t)
{
  if (t == NULL)
    return;
  if (t->a != NULL)
    archive_write_free(t->a);
  if (t->entry != NULL)
    archive_entry_free(t->entry);
  free(t->data);
  free(t);
}
