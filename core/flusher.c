/*
 * The background fdatasync of a file being written (see zpm/flusher.h).
 * One thread per flusher sleeps on a condition variable; a kick sets
 * `wanted` and wakes it; it clears `wanted`, syncs without the lock, and
 * keeps the first error. Kicks that arrive while it syncs are merged
 * into one more sync; a stop waits until every kick was served.
 */
#include "zpm/flusher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct zpm_flusher {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  pthread_t thread;
  int fd;
  int wanted;       /* a sync was asked for since the last one started */
  int stopping;
  int first_errno;  /* of the first failed fdatasync, or 0 */
};

static void *flusher_main(void *arg)
{
  struct zpm_flusher *f = arg;

  pthread_mutex_lock(&f->lock);
  for (;;) {
    while (!f->wanted && !f->stopping)
      pthread_cond_wait(&f->cv, &f->lock);
    if (!f->wanted)
      break;  /* stopping, nothing left to sync */
    f->wanted = 0;
    pthread_mutex_unlock(&f->lock);
    int e = fdatasync(f->fd) != 0 ? errno : 0;
    pthread_mutex_lock(&f->lock);
    /* EINTR only means it stopped early: the owner's fsync still runs */
    if (e != 0 && e != EINTR && f->first_errno == 0)
      f->first_errno = e;
  }
  pthread_mutex_unlock(&f->lock);
  return NULL;
}

int zpm_flusher_start(struct zpm_flusher **out, int fd)
{
  struct zpm_flusher *f;
  int e;

  *out = NULL;
  f = calloc(1, sizeof *f);
  if (f == NULL)
    return ENOMEM;
  f->fd = fd;
  if (pthread_mutex_init(&f->lock, NULL) != 0) {
    free(f);
    return ENOMEM;
  }
  if (pthread_cond_init(&f->cv, NULL) != 0) {
    pthread_mutex_destroy(&f->lock);
    free(f);
    return ENOMEM;
  }
  e = pthread_create(&f->thread, NULL, flusher_main, f);
  if (e != 0) {
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return e;
  }
  *out = f;
  return 0;
}

void zpm_flusher_kick(struct zpm_flusher *f)
{
  if (f == NULL)
    return;
  pthread_mutex_lock(&f->lock);
  f->wanted = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->lock);
}

int zpm_flusher_stop(struct zpm_flusher *f)
{
  int e;

  if (f == NULL)
    return 0;
  pthread_mutex_lock(&f->lock);
  f->stopping = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->lock);
  pthread_join(f->thread, NULL);
  e = f->first_errno;
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->lock);
  free(f);
  return e;
}
