/*
 * Body sources: the generic calls of zpm/source.h, which dispatch to the
 * implementations (source_file.c, source_gunzip.c, source_memory.c,
 * source_slice.c, source_readahead.c), and the helpers they share.
 */
#include "source_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Feed the taps what a read produced; finish them at the end. */
static int run_taps(struct zpm_source *src, const void *buf, size_t got)
{
  int i, status = ZPM_OK;

  for (i = 0; i < src->ntaps && status == ZPM_OK; i++) {
    const struct zpm_source_tap *t = &src->taps[i];

    if (got > 0)
      status = t->feed(t->ud, buf, got, &src->error);
    else if (!src->tapped_end && t->finish != NULL)
      status = t->finish(t->ud, &src->error);
  }
  if (got == 0 && status == ZPM_OK)
    src->tapped_end = 1;
  if (status != ZPM_OK && src->error.status == ZPM_OK)
    zpm_error_set(&src->error, status, "a tap of the body failed");
  return status;
}

int zpm_source_read(struct zpm_source *src, void *buf, size_t cap,
                    size_t *got)
{
  int status;

  *got = 0;
  if (cap == 0)
    return ZPM_OK;
  status = src->ops->read(src, buf, cap, got);
  src->offset += *got;
  if (status == ZPM_OK && src->ntaps > 0)
    status = run_taps(src, buf, *got);
  return status;
}

static void reset_taps(struct zpm_source *src)
{
  int i;

  for (i = 0; i < src->ntaps; i++)
    if (src->taps[i].reset != NULL)
      src->taps[i].reset(src->taps[i].ud);
  src->tapped_end = 0;
}

int zpm_source_rewind(struct zpm_source *src)
{
  int status = src->ops->rewind(src);

  if (status == ZPM_OK) {
    src->offset = 0;
    reset_taps(src);
  }
  return status;
}

int zpm_source_add_tap(struct zpm_source *src,
                       const struct zpm_source_tap *tap)
{
  if (src == NULL || tap == NULL || tap->feed == NULL ||
      src->ntaps == ZPM_SOURCE_MAX_TAPS) {
    if (tap != NULL && tap->free != NULL)
      tap->free(tap->ud);
    return ZPM_EINVAL;
  }
  src->taps[src->ntaps++] = *tap;
  if (tap->reset != NULL)
    tap->reset(tap->ud);
  return ZPM_OK;
}

int zpm_source_tap_view(struct zpm_source *src, zpm_source_feed_fn feed,
                        struct zpm_source_tap_view *view)
{
  int i;

  if (src == NULL)
    return ZPM_EINVAL;
  for (i = 0; i < src->ntaps; i++)
    if (src->taps[i].feed == feed) {
      memset(view, 0, sizeof(*view));
      view->ud = src->taps[i].ud;
      view->live = 1;
      return ZPM_OK;
    }
  if (src->ops->tap_view == NULL)
    return ZPM_EINVAL;
  return src->ops->tap_view(src, feed, view);
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
  struct zpm_source_tap taps[ZPM_SOURCE_MAX_TAPS];
  int i, n;

  if (src == NULL)
    return;
  /* destroy frees src, with its taps */
  n = src->ntaps;
  memcpy(taps, src->taps, sizeof(taps));
  src->ops->destroy(src);
  for (i = 0; i < n; i++)
    if (taps[i].free != NULL)
      taps[i].free(taps[i].ud);
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
