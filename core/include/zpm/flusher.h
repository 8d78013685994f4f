/*
 * Making a file durable while it is still being written: a thread that
 * runs fdatasync on it each time it is kicked (kicks that come while one
 * runs make one more), so that the fsync that ends the file has only the
 * last stretch to wait for. On this project's machine the fsync of a 115
 * MB zapp took 60-95 ms even with its writeback started every 8 MiB, and
 * 6 ms after background fdatasyncs every 8 MiB: most of it is the
 * device's cache flush, which only a sync waits for.
 *
 * A write error that a background fdatasync reported is not reported
 * again to a later fsync of the same open file on Linux (errseq), so the
 * first one is kept and returned by zpm_flusher_stop, which the owner
 * must check before trusting its own fsync.
 */
#ifndef ZPM_FLUSHER_H
#define ZPM_FLUSHER_H

struct zpm_flusher;

/*
 * Start a flusher for fd (not owned: the caller closes it after
 * zpm_flusher_stop). Returns 0, or an errno (no thread) with *out NULL:
 * the file is then only synced by its owner, which is slower, not wrong.
 */
int zpm_flusher_start(struct zpm_flusher **out, int fd);

/* Ask for an fdatasync of everything written so far; never blocks on
 * the disk. Any thread; f may be NULL (nothing happens). */
void zpm_flusher_kick(struct zpm_flusher *f);

/*
 * Wait until every kick was served (a running or pending fdatasync), end
 * the thread and free f (NULL: 0). Returns 0, or the errno of the first
 * background fdatasync that failed.
 */
int zpm_flusher_stop(struct zpm_flusher *f);

#endif
