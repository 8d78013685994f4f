/*
 * Body sources: where the bytes of an upload come from, read in blocks
 * the caller sizes, so no body is ever held whole in memory.
 *
 * A source can be read to its end, rewound to its beginning and read
 * again (a retried upload re-sends from the start), and may know its
 * length. Five implementations come with the core, one file each: a
 * file or a byte range of it (source_file.c), the gunzipped content of a
 * .gz file (source_gunzip.c), a memory block (source_memory.c), the next
 * bytes of another source (source_slice.c) and another source read
 * ahead in a thread (source_readahead.c); source.c holds the generic
 * calls. Other sources embed struct zpm_source as their first member
 * (zero-filled) and fill in ops, as the built-in ones do.
 *
 * Taps (zpm_source_add_tap) see every byte a source produces, where it
 * is produced: an MD5 (zpm/body.h) and a tar capture (zpm/tar_capture.h)
 * are taps; this interface knows neither.
 */
#ifndef ZPM_SOURCE_H
#define ZPM_SOURCE_H

#include <stddef.h>

#include "zpm/error.h"

struct zpm_source;
struct zpm_md5;

/* At most this many taps on one source. */
#define ZPM_SOURCE_MAX_TAPS 4

/*
 * A tap: called with each block a source produces, in the thread that
 * reads it (a read-ahead source's thread for the source it wraps). A
 * failure of feed or finish fails that read with the tap's error (fill
 * in err). Only feed is required.
 */
typedef int (*zpm_source_feed_fn)(void *ud, const void *buf, size_t len,
                                  struct zpm_error *err);
struct zpm_source_tap {
  zpm_source_feed_fn feed;
  /* On a rewind: back to no bytes seen. */
  void (*reset)(void *ud);
  /* Once, when a read finds the end of the data. */
  int (*finish)(void *ud, struct zpm_error *err);
  /*
   * For a result wanted as of what a reader behind a read-ahead thread
   * has read (an MD5 of the bytes sent): save returns a copy of the
   * state after the block just fed (NULL: out of memory, which fails the
   * read), drop frees one. See zpm_source_tap_view.
   */
  void *(*save)(void *ud);
  void (*drop)(void *mark);
  /* Called with ud when the source is freed. */
  void (*free)(void *ud);
  void *ud;
};

/* See zpm_source_tap_view. */
struct zpm_source_tap_view {
  void *ud;
  int live;
  const void *mark;
  const void *tail;
  size_t tail_len;
};

struct zpm_source_ops {
  /*
   * Fill buf with up to cap bytes; *got = 0 means the end. Returns a
   * status and sets src->error on failure.
   */
  int (*read)(struct zpm_source *src, void *buf, size_t cap, size_t *got);
  /* Go back to the first byte. */
  int (*rewind)(struct zpm_source *src);
  /* Release everything, including src itself. */
  void (*destroy)(struct zpm_source *src);
  /* How far into its input it has got (see zpm_source_position); NULL: 0. */
  unsigned long long (*position)(const struct zpm_source *src);
  /* For a source whose taps run elsewhere (zpm_source_tap_view); NULL:
   * only its own taps. */
  int (*tap_view)(struct zpm_source *src, zpm_source_feed_fn feed,
                  struct zpm_source_tap_view *view);
};

struct zpm_source {
  const struct zpm_source_ops *ops;
  long long length;           /* bytes from start to end, -1 if unknown */
  struct zpm_error error;     /* detail of the last failure */
  unsigned long long offset;  /* bytes read since the last rewind (kept
                                 by zpm_source_read and _rewind) */
  /* Kept by zpm_source_add_tap, _read, _rewind and _free: */
  struct zpm_source_tap taps[ZPM_SOURCE_MAX_TAPS];
  int ntaps;
  int tapped_end;             /* the taps were finished */
};

/*
 * Add a tap (copied) to src, before its first read: it is reset now,
 * fed every block read from src, reset on a rewind and finished at the
 * end; its free is called when src is freed (also when this fails:
 * ZPM_EINVAL for too many taps).
 */
int zpm_source_add_tap(struct zpm_source *src,
                       const struct zpm_source_tap *tap);

/*
 * Where the tap whose feed is feed (its kind: an MD5) stands as of the
 * bytes read from src (view->ud is its ud): for a source that runs it
 * (live = 1), its own state; for a read-ahead source whose inner source
 * runs it (or a slice from the first byte of one, read through the
 * slice alone), mark is the state the tap saved
 * after the last block read whole (NULL: before the first byte) and the
 * tail_len bytes at tail were read since. Valid until the next read,
 * rewind or free of src. ZPM_EINVAL when src has no such tap.
 */
int zpm_source_tap_view(struct zpm_source *src, zpm_source_feed_fn feed,
                        struct zpm_source_tap_view *view);

/*
 * The file at path from byte offset on: length bytes, or to its end when
 * length is -1. The range must lie inside the file.
 */
int zpm_source_file(struct zpm_source **out, const char *path,
                    long long offset, long long length,
                    struct zpm_error *err);

/*
 * The decompressed content of a gzip file (several members are read one
 * after the other, as gzip -d does). Its length is unknown (-1).
 */
int zpm_source_gunzip(struct zpm_source **out, const char *path,
                      struct zpm_error *err);

/*
 * The same, from an open descriptor (read from its start with pread; the
 * source keeps a duplicate, so the caller may close fd). name is for
 * messages. All the readers of one descriptor see one version of the
 * file, even when its path is replaced meanwhile.
 */
int zpm_source_gunzip_fd(struct zpm_source **out, int fd, const char *name,
                         struct zpm_error *err);

/* Which inflater gunzip sources use: "isa-l" or "zlib". */
const char *zpm_source_gunzip_backend(void);

/* len bytes at data, which the caller keeps alive and unchanged. */
int zpm_source_memory(struct zpm_source **out, const void *data,
                      size_t len, struct zpm_error *err);

/*
 * The next bytes of parent, from where it is now: at most length of
 * them. With strict, a parent that has more than length bytes left makes
 * the read after the last byte fail with ZPM_ELIMIT (an upload of it
 * aborts instead of completing short). Its length is unknown (-1): the
 * parent may end sooner. A rewind goes back to where the slice began
 * (rewinding the parent and reading it up to there, if it moved). The
 * caller keeps parent alive and reads it only through the slice while
 * the slice is in use. Its position is the parent's.
 */
int zpm_source_slice(struct zpm_source **out, struct zpm_source *parent,
                     unsigned long long length, int strict,
                     struct zpm_error *err);

/*
 * Read inner ahead in a thread, into `blocks` buffers of block_size
 * bytes, so that producing the bytes (inflating a .gz) overlaps with
 * sending them; the taps of inner run in that thread (and their marks
 * are kept per block, see zpm_source_tap_view). Takes ownership of inner
 * on success only. Rewind stops the thread, rewinds inner and starts
 * over. 0 for either size picks ZPM_READAHEAD_BLOCKS blocks of
 * ZPM_READAHEAD_BLOCK_SIZE bytes.
 */
#define ZPM_READAHEAD_BLOCK_SIZE (512 * 1024)
#define ZPM_READAHEAD_BLOCKS 4
int zpm_source_readahead(struct zpm_source **out, struct zpm_source *inner,
                         size_t block_size, int blocks,
                         struct zpm_error *err);

/*
 * The MD5 state of the bytes read from src since the last rewind, for a
 * source with an MD5 tap (zpm_body_md5_tap in zpm/body.h) that
 * zpm_source_tap_view finds: hashing in a read-ahead thread overlaps
 * with sending. ZPM_EINVAL for others (their reader hashes). *state
 * becomes a copy (zpm_md5_copy: a zeroed one, or one to reuse; the
 * caller frees it), to finish for the digest; ZPM_ENOMEM if it could
 * not be made. (Defined in body.c, with the tap.)
 */
int zpm_source_md5(struct zpm_source *src, struct zpm_md5 *state);

/*
 * How far the source has got through its input, for progress meters: the
 * bytes read of a file or memory source, the compressed bytes consumed of
 * a gunzip source (so its file's size is the total), and for a
 * read-ahead source its inner source's position at the end of the last
 * block handed out. Back to 0 on a rewind.
 */
unsigned long long zpm_source_position(const struct zpm_source *src);

int zpm_source_read(struct zpm_source *src, void *buf, size_t cap,
                    size_t *got);
int zpm_source_rewind(struct zpm_source *src);
long long zpm_source_length(const struct zpm_source *src);
const struct zpm_error *zpm_source_error(const struct zpm_source *src);
/* NULL is fine. */
void zpm_source_free(struct zpm_source *src);

#endif
