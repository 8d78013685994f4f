/*
 * Body sources: a file range, a gunzipped .gz file and a memory block,
 * behind the small read/rewind/length interface of zpm/source.h.
 */
#include "zpm/source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef ZPM_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* Compressed input is read in blocks of this size. */
#define GUNZIP_IN_SIZE (256 * 1024)

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


/* pread that retries EINTR; returns bytes read or -1 with errno set. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t pos)
{
  ssize_t n;

  do {
    n = pread(fd, buf, len, pos);
  } while (n < 0 && errno == EINTR);
  return n;
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
  file_read, file_rewind, file_destroy, file_position
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

/* --- gunzip -------------------------------------------------------------- */

/*
 * A gzip file (magic 1f 8b) inflates with ISA-L when it was found at
 * build time: about twice as fast as zlib, which matters when inflating
 * competes with the server for the CPUs. Anything else (zlib-wrapped
 * data, a corrupt file) goes to zlib with windowBits 15+32, which
 * detects the header and gives the usual messages. When a member ends
 * and more input follows, that is the next member: reset and go on, as
 * gzip -d does with concatenated files.
 */
struct gunzip_source {
  struct zpm_source base;
  int fd;
  char *path;
  int use_isal;
  z_stream zs;              /* when !use_isal */
#ifdef ZPM_HAVE_ISAL
  struct inflate_state *isal;
#endif
  const unsigned char *next_in;
  size_t avail_in;
  long long in_pos;         /* file offset of the next compressed read */
  int in_eof;               /* no more compressed input */
  int member_end;           /* the last inflate call ended a member */
  int done;                 /* all output delivered */
  unsigned char *in;        /* GUNZIP_IN_SIZE bytes */
  struct zpm_tar_capture *capture;
};

const char *zpm_source_gunzip_backend(void)
{
#ifdef ZPM_HAVE_ISAL
  return "isa-l";
#else
  return "zlib";
#endif
}

static int gunzip_fill(struct gunzip_source *gs)
{
  ssize_t n = pread_full(gs->fd, gs->in, GUNZIP_IN_SIZE, (off_t)gs->in_pos);

  if (n < 0)
    return zpm_error_errno(&gs->base.error, errno, "cannot read %s", gs->path);
  if (n == 0)
    gs->in_eof = 1;
  gs->in_pos += n;
  gs->next_in = gs->in;
  gs->avail_in = (size_t)n;
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

static int zlib_reset(struct gunzip_source *gs)
{
  int rc = inflateReset(&gs->zs);

  return rc == Z_OK ? ZPM_OK : gunzip_zerror(gs, rc);
}

/* Inflate into out; *made bytes came out. */
static int zlib_step(struct gunzip_source *gs, unsigned char *out,
                     size_t cap, size_t *made)
{
  int rc;

  gs->zs.next_in = (unsigned char *)gs->next_in;
  gs->zs.avail_in = (uInt)gs->avail_in;
  gs->zs.next_out = out;
  gs->zs.avail_out = (uInt)cap;
  rc = inflate(&gs->zs, Z_NO_FLUSH);
  gs->next_in = gs->zs.next_in;
  gs->avail_in = gs->zs.avail_in;
  *made = cap - gs->zs.avail_out;
  if (rc == Z_STREAM_END)
    gs->member_end = 1;
  else if (rc != Z_OK && rc != Z_BUF_ERROR)
    return gunzip_zerror(gs, rc);
  return ZPM_OK;
}

#ifdef ZPM_HAVE_ISAL
static int isal_reset(struct gunzip_source *gs)
{
  isal_inflate_reset(gs->isal);
  gs->isal->crc_flag = ISAL_GZIP;
  return ZPM_OK;
}

static const char *isal_message(int rc)
{
  switch (rc) {
  case ISAL_INVALID_BLOCK:
    return "invalid block";
  case ISAL_INVALID_SYMBOL:
    return "invalid symbol";
  case ISAL_INVALID_LOOKBACK:
    return "invalid distance too far back";
  case ISAL_INVALID_WRAPPER:
    return "incorrect header check";
  case ISAL_UNSUPPORTED_METHOD:
    return "unknown compression method";
  case ISAL_INCORRECT_CHECKSUM:
    return "incorrect data check";
  default:
    return "inflate failed";
  }
}

static int isal_step(struct gunzip_source *gs, unsigned char *out,
                     size_t cap, size_t *made)
{
  struct inflate_state *st = gs->isal;
  int rc;

  st->next_in = (uint8_t *)gs->next_in;
  st->avail_in = (uint32_t)gs->avail_in;
  st->next_out = out;
  st->avail_out = (uint32_t)cap;
  rc = isal_inflate(st);
  gs->next_in = st->next_in;
  gs->avail_in = st->avail_in;
  *made = cap - st->avail_out;
  if (rc < 0) {
    rc = zpm_error_set(&gs->base.error, ZPM_EZLIB,
                       "%s: gzip data error: %s", gs->path,
                       isal_message(rc));
    gs->base.error.lib_code = rc;
    return ZPM_EZLIB;
  }
  if (st->block_state == ISAL_BLOCK_FINISH)
    gs->member_end = 1;
  return ZPM_OK;
}
#endif

static int inflate_reset(struct gunzip_source *gs)
{
#ifdef ZPM_HAVE_ISAL
  if (gs->use_isal)
    return isal_reset(gs);
#endif
  return zlib_reset(gs);
}

static int inflate_step(struct gunzip_source *gs, unsigned char *out,
                        size_t cap, size_t *made)
{
#ifdef ZPM_HAVE_ISAL
  if (gs->use_isal)
    return isal_step(gs, out, cap, made);
#endif
  return zlib_step(gs, out, cap, made);
}

/* Pass what came out to the capture; finish it at the end. */
static int gunzip_feed_capture(struct gunzip_source *gs, const void *buf,
                               size_t len)
{
  int rc = ZPM_OK;

  if (len > 0)
    rc = zpm_tar_capture_feed(gs->capture, buf, len);
  if (rc == ZPM_OK && gs->done)
    rc = zpm_tar_capture_finish(gs->capture);
  if (rc != ZPM_OK)
    gs->base.error = *zpm_tar_capture_error(gs->capture);
  return rc;
}

static int gunzip_read(struct zpm_source *src, void *buf, size_t cap,
                       size_t *got)
{
  struct gunzip_source *gs = (struct gunzip_source *)src;
  unsigned char *out = buf;
  size_t pos = 0;
  int rc;

  if (gs->done)
    return ZPM_OK;
  if (cap > (size_t)UINT_MAX)
    cap = (size_t)UINT_MAX;
  while (pos < cap) {
    size_t made = 0;

    if (gs->avail_in == 0 && !gs->in_eof) {
      rc = gunzip_fill(gs);
      if (rc != ZPM_OK)
        return rc;
    }
    if (gs->avail_in == 0 && gs->in_eof) {
      if (gs->member_end) {
        gs->done = 1;
        break;
      }
      return zpm_error_set(&src->error, ZPM_EZLIB,
                           "%s: unexpected end of gzip data", gs->path);
    }
    if (gs->member_end) {
      rc = inflate_reset(gs);
      if (rc != ZPM_OK)
        return rc;
      gs->member_end = 0;
    }
    rc = inflate_step(gs, out + pos, cap - pos, &made);
    if (rc != ZPM_OK)
      return rc;
    pos += made;
  }
  if (gs->capture != NULL) {
    rc = gunzip_feed_capture(gs, buf, pos);
    if (rc != ZPM_OK)
      return rc;
  }
  *got = pos;
  return ZPM_OK;
}

static int gunzip_rewind(struct zpm_source *src)
{
  struct gunzip_source *gs = (struct gunzip_source *)src;
  int rc = inflate_reset(gs);

  if (rc != ZPM_OK)
    return rc;
  gs->avail_in = 0;
  gs->in_pos = 0;
  gs->in_eof = 0;
  gs->member_end = 0;
  gs->done = 0;
  if (gs->capture != NULL)
    zpm_tar_capture_reset(gs->capture);
  return ZPM_OK;
}

static void gunzip_destroy(struct zpm_source *src)
{
  struct gunzip_source *gs = (struct gunzip_source *)src;

#ifdef ZPM_HAVE_ISAL
  free(gs->isal);
#endif
  if (!gs->use_isal)
    inflateEnd(&gs->zs);
  close(gs->fd);
  free(gs->in);
  free(gs->path);
  free(gs);
}

/* The compressed bytes inflated so far. */
static unsigned long long gunzip_position(const struct zpm_source *src)
{
  const struct gunzip_source *gs = (const struct gunzip_source *)src;

  return (unsigned long long)gs->in_pos - gs->avail_in;
}

static const struct zpm_source_ops gunzip_ops = {
  gunzip_read, gunzip_rewind, gunzip_destroy, gunzip_position
};

int zpm_source_gunzip_capture(struct zpm_source *src,
                              struct zpm_tar_capture *tc)
{
  if (src == NULL || src->ops != &gunzip_ops)
    return ZPM_EINVAL;
  ((struct gunzip_source *)src)->capture = tc;
  if (tc != NULL)
    zpm_tar_capture_reset(tc);
  return ZPM_OK;
}

/* Set up the inflater the file's first bytes call for. */
static int gunzip_init(struct gunzip_source *gs, struct zpm_error *err)
{
  int rc;

#ifdef ZPM_HAVE_ISAL
  unsigned char magic[2];

  if (pread_full(gs->fd, magic, 2, 0) == 2 && magic[0] == 0x1f &&
      magic[1] == 0x8b) {
    gs->isal = malloc(sizeof(*gs->isal));
    if (gs->isal == NULL)
      return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
    isal_inflate_init(gs->isal);
    gs->isal->crc_flag = ISAL_GZIP;
    gs->use_isal = 1;
    return ZPM_OK;
  }
#endif
  rc = inflateInit2(&gs->zs, 15 + 32);
  if (rc != Z_OK)
    return zpm_error_set(err, ZPM_EZLIB, "inflateInit2: %s", zError(rc));
  return ZPM_OK;
}

/* The gunzip source of fd, which it owns from here on (closed on error). */
static int gunzip_from_fd(struct zpm_source **out, int fd, const char *path,
                          struct zpm_error *err)
{
  struct gunzip_source *gs;
  int rc;

  gs = calloc(1, sizeof(*gs));
  if (gs != NULL) {
    gs->path = strdup(path);
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
  gs->fd = fd;
  rc = gunzip_init(gs, err);
  if (rc != ZPM_OK) {
    free(gs->path);
    free(gs->in);
    free(gs);
    close(fd);
    return rc;
  }
  gs->base.ops = &gunzip_ops;
  gs->base.length = -1;
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  *out = &gs->base;
  return ZPM_OK;
}

int zpm_source_gunzip(struct zpm_source **out, const char *path,
                      struct zpm_error *err)
{
  struct stat st;
  int fd;

  *out = NULL;
  fd = open_regular(path, &st, err);
  if (fd < 0)
    return err != NULL ? err->status : ZPM_EIO;
  return gunzip_from_fd(out, fd, path, err);
}

int zpm_source_gunzip_fd(struct zpm_source **out, int fd, const char *name,
                         struct zpm_error *err)
{
  struct stat st;
  int own;

  *out = NULL;
  own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0)
    return zpm_error_errno(err, errno, "cannot use the descriptor of %s",
                           name);
  if (fstat(own, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(own);
    return zpm_error_set(err, ZPM_EINVAL, "%s: not a regular file", name);
  }
  return gunzip_from_fd(out, own, name, err);
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

static unsigned long long memory_position(const struct zpm_source *src)
{
  return ((const struct memory_source *)src)->pos;
}

static const struct zpm_source_ops memory_ops = {
  memory_read, memory_rewind, memory_destroy, memory_position
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

/* --- slice --------------------------------------------------------------- */

struct slice_source {
  struct zpm_source base;
  struct zpm_source *parent;
  unsigned long long start;     /* parent's offset where the slice began */
  unsigned long long size;      /* at most this many bytes */
  unsigned long long done;      /* read so far */
  int strict;
};

static int slice_read(struct zpm_source *src, void *buf, size_t cap,
                      size_t *got)
{
  struct slice_source *ss = (struct slice_source *)src;
  unsigned long long left = ss->size - ss->done;
  int status;

  if (left == 0) {
    unsigned char probe;
    size_t n = 0;

    if (!ss->strict)
      return ZPM_OK;
    status = zpm_source_read(ss->parent, &probe, 1, &n);
    if (status != ZPM_OK) {
      src->error = *zpm_source_error(ss->parent);
      return status;
    }
    if (n > 0)
      return zpm_error_set(&src->error, ZPM_ELIMIT,
                           "more than %llu bytes", ss->size);
    return ZPM_OK;
  }
  if (cap > left)
    cap = (size_t)left;
  status = zpm_source_read(ss->parent, buf, cap, got);
  if (status != ZPM_OK) {
    src->error = *zpm_source_error(ss->parent);
    return status;
  }
  ss->done += *got;
  return ZPM_OK;
}

/* Back to where the slice began: rewind the parent, read up to there. */
static int slice_rewind(struct zpm_source *src)
{
  struct slice_source *ss = (struct slice_source *)src;
  struct zpm_source *parent = ss->parent;
  unsigned char scratch[16384];
  int status;

  ss->done = 0;
  if (parent->offset == ss->start)
    return ZPM_OK;
  status = zpm_source_rewind(parent);
  while (status == ZPM_OK && parent->offset < ss->start) {
    unsigned long long want = ss->start - parent->offset;
    size_t n = 0;

    status = zpm_source_read(parent, scratch, want < sizeof(scratch) ?
                             (size_t)want : sizeof(scratch), &n);
    if (status == ZPM_OK && n == 0)
      status = zpm_error_set(&parent->error, ZPM_EIO,
                             "the data ended before the slice's start");
  }
  if (status != ZPM_OK)
    src->error = *zpm_source_error(parent);
  return status;
}

static void slice_destroy(struct zpm_source *src)
{
  free(src);
}

static unsigned long long slice_position(const struct zpm_source *src)
{
  return zpm_source_position(((const struct slice_source *)src)->parent);
}

static const struct zpm_source_ops slice_ops = {
  slice_read, slice_rewind, slice_destroy, slice_position
};

int zpm_source_slice(struct zpm_source **out, struct zpm_source *parent,
                     unsigned long long length, int strict,
                     struct zpm_error *err)
{
  struct slice_source *ss;

  *out = NULL;
  if (parent == NULL)
    return zpm_error_set(err, ZPM_EINVAL, "slice without a parent");
  ss = calloc(1, sizeof(*ss));
  if (ss == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  ss->base.ops = &slice_ops;
  ss->base.length = -1;
  ss->parent = parent;
  ss->start = parent->offset;
  ss->size = length;
  ss->strict = strict;
  *out = &ss->base;
  return ZPM_OK;
}

/* --- readahead ----------------------------------------------------------- */

/*
 * A ring of filled blocks between one producer thread (reading inner) and
 * the consumer (read). The producer fills the slot after the last filled
 * one without holding the lock; the consumer copies out of the first
 * filled one, also unlocked: neither touches the other's slot. The
 * producer also hashes each block before handing it over, and stores the
 * MD5 state reached at its end in it, so the MD5 of what was read costs
 * the reading thread nothing.
 */
struct ra_block {
  unsigned char *data;
  size_t len;
  struct zpm_md5 md5;       /* of every byte up to this block's end */
  unsigned long long position;  /* inner's position at its end */
};

struct readahead_source {
  struct zpm_source base;
  struct zpm_source *inner;
  struct ra_block *ring;
  int nblocks;
  size_t block_size;
  pthread_t thread;
  int running;              /* thread started and not joined */
  struct zpm_md5 pmd5;      /* producer's: all bytes it read */
  struct zpm_md5 cmd5;      /* all bytes of the blocks fully read */
  unsigned long long cpos;  /* inner's position after them */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Under lock: */
  int head;                 /* first filled block */
  int count;                /* filled blocks */
  size_t off;               /* bytes of the head block already read */
  int eof;                  /* inner has no more after the filled blocks */
  int failed;               /* inner failed; perr has why */
  int stop;                 /* the producer must exit */
  struct zpm_error perr;
};

static void *readahead_main(void *arg)
{
  struct readahead_source *ra = arg;

  pthread_mutex_lock(&ra->lock);
  for (;;) {
    struct ra_block *b;
    size_t len = 0;
    int status = ZPM_OK;
    int copied = ZPM_OK;
    int end = 0;

    while (ra->count == ra->nblocks && !ra->stop)
      pthread_cond_wait(&ra->cond, &ra->lock);
    if (ra->stop)
      break;
    b = &ra->ring[(ra->head + ra->count) % ra->nblocks];
    pthread_mutex_unlock(&ra->lock);
    while (len < ra->block_size) {
      size_t got = 0;

      status = zpm_source_read(ra->inner, b->data + len,
                               ra->block_size - len, &got);
      if (status != ZPM_OK || got == 0) {
        end = 1;
        break;
      }
      len += got;
    }
    if (status == ZPM_OK && len > 0) {
      zpm_md5_update(&ra->pmd5, b->data, len);
      copied = zpm_md5_copy(&b->md5, &ra->pmd5);
      b->position = zpm_source_position(ra->inner);
    }
    pthread_mutex_lock(&ra->lock);
    if (status != ZPM_OK) {
      ra->failed = 1;
      ra->perr = *zpm_source_error(ra->inner);
    } else if (copied != ZPM_OK) {
      ra->failed = 1;
      zpm_error_set(&ra->perr, copied, "out of memory");
    } else {
      b->len = len;
      if (len > 0)
        ra->count++;
      ra->eof = end;
    }
    pthread_cond_broadcast(&ra->cond);
    if (ra->failed || ra->eof)
      break;
  }
  pthread_mutex_unlock(&ra->lock);
  return NULL;
}

static int readahead_start(struct readahead_source *ra)
{
  int rc;

  ra->head = 0;
  ra->count = 0;
  ra->off = 0;
  ra->eof = 0;
  ra->failed = 0;
  ra->stop = 0;
  if (zpm_md5_init(&ra->pmd5) != ZPM_OK || zpm_md5_init(&ra->cmd5) != ZPM_OK)
    return zpm_error_set(&ra->base.error, ZPM_ENOMEM, "out of memory");
  rc = pthread_create(&ra->thread, NULL, readahead_main, ra);
  if (rc != 0) {
    zpm_error_set(&ra->base.error, ZPM_EIO,
                  "cannot start the read-ahead thread: %s", strerror(rc));
    ra->base.error.lib_code = rc;
    return ZPM_EIO;
  }
  ra->running = 1;
  return ZPM_OK;
}

static void readahead_stop(struct readahead_source *ra)
{
  if (!ra->running)
    return;
  pthread_mutex_lock(&ra->lock);
  ra->stop = 1;
  pthread_cond_broadcast(&ra->cond);
  pthread_mutex_unlock(&ra->lock);
  pthread_join(ra->thread, NULL);
  ra->running = 0;
}

static int readahead_read(struct zpm_source *src, void *buf, size_t cap,
                          size_t *got)
{
  struct readahead_source *ra = (struct readahead_source *)src;
  struct ra_block *b;
  size_t n;
  int rc;

  if (!ra->running && !ra->eof) {
    rc = readahead_start(ra);
    if (rc != ZPM_OK)
      return rc;
  }
  pthread_mutex_lock(&ra->lock);
  while (ra->count == 0 && !ra->eof && !ra->failed)
    pthread_cond_wait(&ra->cond, &ra->lock);
  if (ra->count == 0) {
    rc = ZPM_OK;
    if (ra->failed) {
      src->error = ra->perr;
      rc = ra->perr.status != ZPM_OK ? ra->perr.status : ZPM_EIO;
    }
    pthread_mutex_unlock(&ra->lock);
    return rc;
  }
  b = &ra->ring[ra->head];
  n = b->len - ra->off;
  pthread_mutex_unlock(&ra->lock);
  if (n > cap)
    n = cap;
  memcpy(buf, b->data + ra->off, n);
  pthread_mutex_lock(&ra->lock);
  ra->off += n;
  if (ra->off == b->len) {
    struct zpm_md5 done = b->md5;

    /* the block's state becomes cmd5; the old cmd5's, the block's spare */
    b->md5 = ra->cmd5;
    ra->cmd5 = done;
    ra->cpos = b->position;
    ra->head = (ra->head + 1) % ra->nblocks;
    ra->count--;
    ra->off = 0;
    pthread_cond_broadcast(&ra->cond);
  }
  pthread_mutex_unlock(&ra->lock);
  *got = n;
  return ZPM_OK;
}

static int readahead_rewind(struct zpm_source *src)
{
  struct readahead_source *ra = (struct readahead_source *)src;
  int rc;

  readahead_stop(ra);
  ra->eof = 0;
  ra->failed = 0;
  ra->count = 0;
  ra->off = 0;
  ra->cpos = 0;
  if (zpm_md5_init(&ra->cmd5) != ZPM_OK)
    return zpm_error_set(&src->error, ZPM_ENOMEM, "out of memory");
  rc = zpm_source_rewind(ra->inner);
  if (rc != ZPM_OK) {
    src->error = *zpm_source_error(ra->inner);
    return rc;
  }
  return ZPM_OK;      /* the thread starts again on the next read */
}

static void readahead_destroy(struct zpm_source *src)
{
  struct readahead_source *ra = (struct readahead_source *)src;
  int i;

  readahead_stop(ra);
  zpm_source_free(ra->inner);
  for (i = 0; i < ra->nblocks; i++) {
    free(ra->ring[i].data);
    zpm_md5_free(&ra->ring[i].md5);
  }
  free(ra->ring);
  zpm_md5_free(&ra->pmd5);
  zpm_md5_free(&ra->cmd5);
  pthread_cond_destroy(&ra->cond);
  pthread_mutex_destroy(&ra->lock);
  free(ra);
}

/* Read by the consumer thread, which alone writes cpos. */
static unsigned long long readahead_position(const struct zpm_source *src)
{
  return ((const struct readahead_source *)src)->cpos;
}

static const struct zpm_source_ops readahead_ops = {
  readahead_read, readahead_rewind, readahead_destroy, readahead_position
};

/*
 * The blocks read whole are in cmd5; the part read of the head block is
 * still in the ring (the producer does not touch it until it is read to
 * its end), so the MD5 is exact wherever the reader stopped.
 */
int zpm_source_md5(struct zpm_source *src, struct zpm_md5 *state)
{
  struct readahead_source *ra = (struct readahead_source *)src;
  const unsigned char *part = NULL;
  size_t off;
  int status;

  /*
   * A slice from its parent's first byte, through which alone the
   * parent was read, has the parent's MD5 (a whole zapp sent as one
   * strict slice keeps hashing in the read-ahead thread).
   */
  if (src != NULL && src->ops == &slice_ops) {
    const struct slice_source *ss = (const struct slice_source *)src;

    if (ss->start != 0 || ss->parent->offset != ss->done)
      return ZPM_EINVAL;
    return zpm_source_md5(ss->parent, state);
  }
  if (src == NULL || src->ops != &readahead_ops)
    return ZPM_EINVAL;
  pthread_mutex_lock(&ra->lock);
  status = zpm_md5_copy(state, &ra->cmd5);
  off = ra->off;
  if (ra->count > 0 && off > 0)
    part = ra->ring[ra->head].data;
  pthread_mutex_unlock(&ra->lock);
  if (status == ZPM_OK && part != NULL)
    zpm_md5_update(state, part, off);
  return status;
}

int zpm_source_readahead(struct zpm_source **out, struct zpm_source *inner,
                         size_t block_size, int blocks,
                         struct zpm_error *err)
{
  struct readahead_source *ra;
  int i;

  *out = NULL;
  if (block_size == 0)
    block_size = 512 * 1024;
  if (blocks <= 0)
    blocks = 4;
  if (blocks > 64)
    return zpm_error_set(err, ZPM_EINVAL, "too many read-ahead blocks");
  ra = calloc(1, sizeof(*ra));
  if (ra == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  ra->ring = calloc((size_t)blocks, sizeof(*ra->ring));
  for (i = 0; ra->ring != NULL && i < blocks; i++) {
    ra->ring[i].data = malloc(block_size);
    if (ra->ring[i].data == NULL)
      break;
  }
  if (ra->ring == NULL || i < blocks) {
    while (ra->ring != NULL && i-- > 0)
      free(ra->ring[i].data);
    free(ra->ring);
    free(ra);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  pthread_mutex_init(&ra->lock, NULL);
  pthread_cond_init(&ra->cond, NULL);
  ra->base.ops = &readahead_ops;
  ra->base.length = inner->length;
  ra->inner = inner;
  ra->nblocks = blocks;
  ra->block_size = block_size;
  if (zpm_md5_init(&ra->cmd5) != ZPM_OK) {
    ra->inner = NULL;       /* the caller keeps it on failure */
    readahead_destroy(&ra->base);
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }
  *out = &ra->base;
  return ZPM_OK;
}
