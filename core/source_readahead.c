/* Another source read ahead in a thread, hashed as it is read. */
#include "source_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
  if (src != NULL && src->ops == &zpm_slice_ops) {
    const struct zpm_slice_source *ss =
      (const struct zpm_slice_source *)src;

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
