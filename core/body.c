/*
 * Request bodies (zpm/body.h): their descriptions opened as sources, and
 * the MD5 tap (zpm_source_md5 of zpm/source.h).
 */
#include "zpm/body.h"

#include <stdlib.h>
#include <string.h>

#include "zpm/digest.h"

void zpm_body_desc_init(struct zpm_body_desc *desc)
{
  memset(desc, 0, sizeof(*desc));
  desc->kind = ZPM_BODY_MEMORY;
  desc->fd = -1;
  desc->length = -1;
}

/* --- the MD5 tap ---------------------------------------------------------- */

static int md5_feed(void *ud, const void *buf, size_t len,
                    struct zpm_error *err)
{
  (void)err;
  zpm_md5_update(ud, buf, len);
  return ZPM_OK;
}

/* A failed init leaves no context: the MD5 finishes as zeroes, which
 * match no Etag. */
static void md5_reset(void *ud)
{
  (void)zpm_md5_init(ud);
}

static void md5_drop(void *mark)
{
  zpm_md5_free(mark);
  free(mark);
}

static void *md5_save(void *ud)
{
  struct zpm_md5 *copy = calloc(1, sizeof(*copy));

  if (copy != NULL && zpm_md5_copy(copy, ud) != ZPM_OK) {
    md5_drop(copy);
    copy = NULL;
  }
  return copy;
}

int zpm_body_md5_tap(struct zpm_source *src, struct zpm_error *err)
{
  struct zpm_source_tap tap;
  struct zpm_md5 *md5 = calloc(1, sizeof(*md5));

  if (md5 == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  memset(&tap, 0, sizeof(tap));
  tap.feed = md5_feed;
  tap.reset = md5_reset;
  tap.save = md5_save;
  tap.drop = md5_drop;
  tap.free = md5_drop;
  tap.ud = md5;
  if (zpm_source_add_tap(src, &tap) != ZPM_OK)
    return zpm_error_set(err, ZPM_EINVAL, "too many taps on the body");
  return ZPM_OK;
}

int zpm_source_md5(struct zpm_source *src, struct zpm_md5 *state)
{
  struct zpm_source_tap_view view;
  const struct zpm_md5 *from;
  int status;

  if (zpm_source_tap_view(src, md5_feed, &view) != ZPM_OK)
    return ZPM_EINVAL;
  from = view.live ? view.ud : view.mark;
  status = from != NULL ? zpm_md5_copy(state, from) : zpm_md5_init(state);
  if (status == ZPM_OK && view.tail_len > 0)
    zpm_md5_update(state, view.tail, view.tail_len);
  return status;
}

/* --- opening -------------------------------------------------------------- */

/*
 * gunzip -> capture tap -> MD5 tap -> read-ahead: inflating, hashing and
 * capturing run in the read-ahead thread, in parallel with sending.
 */
static int open_gunzip(struct zpm_source **out,
                       const struct zpm_body_desc *desc,
                       struct zpm_error *err)
{
  struct zpm_source *gz = NULL;
  const char *name = desc->path != NULL ? desc->path : "(open file)";
  int status = desc->fd >= 0
    ? zpm_source_gunzip_fd(&gz, desc->fd, name, err)
    : zpm_source_gunzip(&gz, desc->path, err);

  if (status == ZPM_OK && desc->capture != NULL) {
    struct zpm_source_tap tap;

    zpm_tar_capture_tap(desc->capture, &tap);
    status = zpm_source_add_tap(gz, &tap);
    if (status != ZPM_OK)
      zpm_error_set(err, status, "too many taps on the body");
  }
  if (status == ZPM_OK && !desc->skip_md5)
    status = zpm_body_md5_tap(gz, err);
  if (status == ZPM_OK)
    status = zpm_source_readahead(out, gz, ZPM_READAHEAD_BLOCK_SIZE,
                                  ZPM_READAHEAD_BLOCKS, err);
  if (status != ZPM_OK)
    zpm_source_free(gz);
  return status;
}

int zpm_body_open(struct zpm_source **out, const struct zpm_body_desc *desc,
                  struct zpm_error *err)
{
  *out = NULL;
  switch (desc->kind) {
  case ZPM_BODY_MEMORY:
    return zpm_source_memory(out, desc->data, desc->len, err);
  case ZPM_BODY_FILE:
    return zpm_source_file(out, desc->path, desc->offset, desc->length,
                           err);
  case ZPM_BODY_GUNZIP:
    if (desc->path == NULL && desc->fd < 0)
      return zpm_error_set(err, ZPM_EINVAL, "a gunzip body without a file");
    return open_gunzip(out, desc, err);
  case ZPM_BODY_SLICE:
    return zpm_source_slice(out, desc->parent, desc->max, desc->strict,
                            err);
  }
  return zpm_error_set(err, ZPM_EINVAL, "unknown body kind %d",
                       (int)desc->kind);
}

int zpm_body_open_zapp(struct zpm_source **out, const char *path,
                       struct zpm_tar_capture *capture,
                       struct zpm_error *err)
{
  struct zpm_body_desc desc;

  zpm_body_desc_init(&desc);
  desc.kind = ZPM_BODY_GUNZIP;
  desc.path = path;
  desc.capture = capture;
  return zpm_body_open(out, &desc, err);
}
