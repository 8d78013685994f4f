/* The decompressed content of a .gz file as a body source. */
#include "source_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#ifdef ZPM_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* Compressed input is read in blocks of this size. */
#define GUNZIP_IN_SIZE (256 * 1024)

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
  ssize_t n = zpm_pread_full(gs->fd, gs->in, GUNZIP_IN_SIZE,
                             (off_t)gs->in_pos);

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
  gunzip_read, gunzip_rewind, gunzip_destroy, gunzip_position, NULL
};

/* Set up the inflater the file's first bytes call for. */
static int gunzip_init(struct gunzip_source *gs, struct zpm_error *err)
{
  int rc;

#ifdef ZPM_HAVE_ISAL
  unsigned char magic[2];

  if (zpm_pread_full(gs->fd, magic, 2, 0) == 2 && magic[0] == 0x1f &&
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
  fd = zpm_open_regular(path, &st, err);
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
