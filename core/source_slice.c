/* The next bytes of another source, at most a given number of them. */
#include "source_impl.h"

#include <stdlib.h>

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

/*
 * A slice from its parent's first byte, through which alone the parent
 * was read, sees what its parent's taps saw (a whole zapp sent as one
 * strict slice keeps hashing in the read-ahead thread).
 */
static int slice_tap_view(struct zpm_source *src, zpm_source_feed_fn feed,
                          struct zpm_source_tap_view *view)
{
  const struct slice_source *ss = (const struct slice_source *)src;

  if (ss->start != 0 || ss->parent->offset != ss->done)
    return ZPM_EINVAL;
  return zpm_source_tap_view(ss->parent, feed, view);
}

static const struct zpm_source_ops slice_ops = {
  slice_read, slice_rewind, slice_destroy, slice_position, slice_tap_view
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
