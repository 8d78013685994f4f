/* Another source read ahead in a thread, which runs its taps. */
#include "source_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * A ring of filled blocks between one producer thread (reading inner) and
 * the consumer (read). The producer fills the slot after the last filled
 * one without holding the lock; the consumer copies out of the first
 * filled one, also unlocked: neither touches the other's slot. Reading
 * inner runs its taps in the producer, which also keeps in each block
 * the marks the taps saved at its end, so what a tap says of the bytes
 * read (the MD5 of what was sent) costs the reading thread nothing.
 */
struct ra_block {
  unsigned char *data;
  size_t len;
  void *marks[ZPM_SOURCE_MAX_TAPS];   /* inner's taps' states at its end */
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
  void *cmarks[ZPM_SOURCE_MAX_TAPS];  /* the marks of the last block read */
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

/* Drop the marks in marks[] (the tap's drop frees them). */
static void drop_marks(const struct zpm_source *inner, void **marks)
{
  int i;

  for (i = 0; i < inner->ntaps; i++) {
    if (marks[i] != NULL && inner->taps[i].drop != NULL)
      inner->taps[i].drop(marks[i]);
    marks[i] = NULL;
  }
}

/* The taps' states at the end of block b; ZPM_ENOMEM if one failed. */
static int save_marks(const struct zpm_source *inner, struct ra_block *b)
{
  int i;

  drop_marks(inner, b->marks);
  for (i = 0; i < inner->ntaps; i++) {
    const struct zpm_source_tap *t = &inner->taps[i];

    if (t->save == NULL)
      continue;
    b->marks[i] = t->save(t->ud);
    if (b->marks[i] == NULL)
      return ZPM_ENOMEM;
  }
  return ZPM_OK;
}

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
      copied = save_marks(ra->inner, b);
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
    int i;

    /* the block's marks say where the taps stand now */
    drop_marks(ra->inner, ra->cmarks);
    for (i = 0; i < ZPM_SOURCE_MAX_TAPS; i++) {
      ra->cmarks[i] = b->marks[i];
      b->marks[i] = NULL;
    }
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

/* With the thread stopped. */
static void drop_all_marks(struct readahead_source *ra)
{
  int i;

  drop_marks(ra->inner, ra->cmarks);
  for (i = 0; i < ra->nblocks; i++)
    drop_marks(ra->inner, ra->ring[i].marks);
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
  drop_all_marks(ra);
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
  if (ra->inner != NULL)
    drop_all_marks(ra);
  zpm_source_free(ra->inner);
  for (i = 0; i < ra->nblocks; i++)
    free(ra->ring[i].data);
  free(ra->ring);
  pthread_cond_destroy(&ra->cond);
  pthread_mutex_destroy(&ra->lock);
  free(ra);
}

/* Read by the consumer thread, which alone writes cpos. */
static unsigned long long readahead_position(const struct zpm_source *src)
{
  return ((const struct readahead_source *)src)->cpos;
}

/*
 * The marks of the blocks read whole are in cmarks; the part read of the
 * head block is still in the ring (the producer does not touch it until
 * it is read to its end), so the view is exact wherever the reader
 * stopped.
 */
static int readahead_tap_view(struct zpm_source *src,
                              zpm_source_feed_fn feed,
                              struct zpm_source_tap_view *view)
{
  struct readahead_source *ra = (struct readahead_source *)src;
  int i;

  for (i = 0; i < ra->inner->ntaps; i++)
    if (ra->inner->taps[i].feed == feed)
      break;
  if (i == ra->inner->ntaps || ra->inner->taps[i].save == NULL)
    return ZPM_EINVAL;
  memset(view, 0, sizeof(*view));
  view->ud = ra->inner->taps[i].ud;
  pthread_mutex_lock(&ra->lock);
  view->mark = ra->cmarks[i];
  if (ra->count > 0 && ra->off > 0) {
    view->tail = ra->ring[ra->head].data;
    view->tail_len = ra->off;
  }
  pthread_mutex_unlock(&ra->lock);
  return ZPM_OK;
}

static const struct zpm_source_ops readahead_ops = {
  readahead_read, readahead_rewind, readahead_destroy, readahead_position,
  readahead_tap_view
};

int zpm_source_readahead(struct zpm_source **out, struct zpm_source *inner,
                         size_t block_size, int blocks,
                         struct zpm_error *err)
{
  struct readahead_source *ra;
  int i;

  *out = NULL;
  if (block_size == 0)
    block_size = ZPM_READAHEAD_BLOCK_SIZE;
  if (blocks <= 0)
    blocks = ZPM_READAHEAD_BLOCKS;
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
  *out = &ra->base;
  return ZPM_OK;
}
