/*
 * Parallel gzip in the pigz style (see zpm/gzip.h).
 *
 * The input is cut into blocks of block_size bytes. Block n is deflated as
 * raw deflate data primed with the last 32 KiB of input before it, and
 * ends with a sync flush (the last block with Z_FINISH), so the blocks
 * concatenate into one valid deflate stream. Each block's CRC-32 is
 * computed beside it and combined in order.
 *
 * A fixed ring of slots (threads + 2) carries blocks: the calling thread
 * fills slot seq % nslots, queues it, and before reusing a slot waits
 * until every block that precedes it is written out. Workers take
 * queued slots in sequence order, each with an output buffer from a pool
 * of threads + 1 (the blocks being compressed and one done), given back
 * once the block is written out: the outputs stay resident and few,
 * where one per slot released after each write (madvise) faulted ~8,000
 * pages back in per 100 MB of zapp. Blocks are written out in sequence
 * order by whichever thread holds the writing baton (write_done_blocks):
 * the worker that finished the next one, or the calling thread while it
 * waits, so that the copies into the sink leave the calling thread's
 * critical path. The block boundaries depend only on the byte count, so
 * the output is the same for any number of threads and any write
 * chunking. A worker's result (zret) and every sink call are checked by
 * the baton holder, which records the first failure (out_zret,
 * out_errno) and writes nothing more; the calling thread turns it into
 * the stream's error (gz_fail) at its next call, and the first failure
 * sticks, so no later call can report success.
 *
 * With libdeflate (whole-buffer only: no dictionary, no streaming), block
 * n is instead compressed with libdeflate_gzip_compress into a complete
 * gzip member, with its own header, CRC-32 and size; the stream writes no
 * header or trailer of its own and keeps no window. The ring, the order
 * and the determinism are the same.
 *
 * With the default level, each libdeflate block is cut into runs that
 * are deflated and runs that look incompressible and are stored
 * (member_slot); the cut depends only on the block's bytes.
 */

#include "zpm/gzip.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#ifdef ZPM_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "zpm/digest.h"
#include "zpm/gzip_record.h"

#define GZ_WINDOW 32768
#define GZ_DEFAULT_BLOCK (128 * 1024)
#define GZ_MAX_BLOCK (64u * 1024 * 1024)
#define GZ_MAX_AUTO_THREADS 8
#define GZ_MAX_THREADS 64

/*
 * Stored runs (default level only): a block is judged in chunks of
 * GZ_STORE_CHUNK bytes; a chunk whose collision entropy is at least
 * 7.95 bits per byte (sum(count * (count - 1)) * GZ_STORE_DIV <=
 * n * (n - 1) * 100) is stored, not searched for matches. Chunks are
 * small enough that a 512-byte tar header between two compressed files
 * is deflated, not stored: it saves more than a member costs.
 */
#define GZ_STORE_CHUNK (8 * 1024)
#define GZ_STORE_DIV 24728ULL
#define GZ_STORE_PEEK 1024
/* Repeats: 4-byte strings seen in the block's candidate chunks. */
#define GZ_SEEN_BITS 13

enum slot_state {
  SLOT_FREE,     /* available to the calling thread */
  SLOT_FILLING,  /* the calling thread copies input into it */
  SLOT_QUEUED,   /* waiting for a worker */
  SLOT_BUSY,     /* a worker deflates it */
  SLOT_DONE      /* compressed; waiting to be written in order */
};

/* libdeflate, default level: one run of a block, one gzip member. */
struct run {
  size_t in_off;          /* where it starts in the block */
  size_t in_len;
  size_t out_off;         /* deflated: where its member is in out */
  size_t out_len;         /* deflated: the member's bytes; stored: 0 */
  unsigned long crc;      /* stored: CRC-32 of its bytes */
};

/* An output buffer of the pool (threads: see the top of the file). */
struct out_buf {
  unsigned char *p;
  size_t cap;
};

struct slot {
  enum slot_state state;
  unsigned long long seq;
  int last;               /* the final block: Z_FINISH */
  unsigned char *in;      /* block_size bytes */
  size_t in_len;
  unsigned char *dict;    /* GZ_WINDOW bytes: input preceding this block */
  size_t dict_len;
  unsigned char *out;      /* threads: from the pool while taken */
  size_t out_cap;
  size_t out_len;
  unsigned long crc;
  int zret;               /* Z_OK, or the zlib error of this block */
  struct run *runs;       /* libdeflate, default level: the members */
  size_t nruns;
};

/* libdeflate_gzip_compress found no room: cannot happen with the bound. */
#define GZ_DEFLATE_NOROOM (-100)

struct worker {
  struct zpm_gzip *gz;
  pthread_t thread;
  int started;
  z_stream strm;
  int strm_ready;
#ifdef ZPM_HAVE_LIBDEFLATE
  struct libdeflate_compressor *ldc;       /* at gz->level */
#endif
};

struct zpm_gzip {
  int level;
  int store_runs;         /* default level: incompressible runs stored */
  int members;            /* libdeflate: one gzip member per block */
  int nthreads;           /* 1: everything inline, no threads */
  size_t block_size;
  zpm_sink_fn sink;
  void *sink_ud;

  struct slot *slots;
  size_t nslots;
  struct worker *workers;
  struct out_buf *outs;    /* threads: the pool; outs[0..nfree) are free */
  size_t nouts;
  size_t nfree;

  pthread_mutex_t lock;
  pthread_cond_t work_cv;  /* workers: a slot was queued, or shutdown */
  pthread_cond_t done_cv;  /* caller: a slot is done */
  int sync_ready;          /* lock and condition variables exist */
  int shutdown;

  struct slot *filling;    /* slot being filled, or NULL */
  unsigned long long next_seq;    /* sequence of the next slot to fill */
  unsigned long long next_take;   /* next sequence a worker takes */
  unsigned long long next_write;  /* next sequence to write out */
  int writing;            /* a thread holds the writing baton */
  int out_stopped;        /* nothing more goes to the sink */
  int out_zret;           /* a block's zlib error met while writing out */
  int out_errno;          /* the sink's errno met while writing out */

  unsigned char window[GZ_WINDOW];  /* last input bytes seen */
  size_t window_len;

  unsigned long crc;
  int record;             /* end with the record (zpm/gzip_record.h) */
  struct zpm_md5 md5;     /* of the blocks written out, when record */
  /* threads: the blocks are hashed in order by the workers, whichever
   * finishes the next one takes the baton (hashing), so that the MD5
   * runs beside the calling thread instead of on it */
  unsigned long long next_hash;   /* next sequence to hash */
  int hashing;                    /* a worker is hashing */
  unsigned long long total_in;
  unsigned long long total_out;
  int header_written;
  int finished;
  int status;
  struct zpm_error err;
};

/* Record the stream's first error; every later call returns it. */
static int gz_fail(struct zpm_gzip *gz, int status, int lib_code,
                   const char *msg)
{
  if (gz->status != ZPM_OK)
    return gz->status;
  zpm_error_set(&gz->err, status, "gzip: %s", msg);
  gz->err.lib_code = lib_code;
  gz->status = status;
  return status;
}

static int gz_zlib_fail(struct zpm_gzip *gz, int zret, const char *what)
{
  char detail[128];
  const char *msg = zret == Z_MEM_ERROR ? "out of memory" : zError(zret);

  if (zret == GZ_DEFLATE_NOROOM)
    return gz_fail(gz, ZPM_EZLIB, zret,
                   "libdeflate: output larger than its bound");

  snprintf(detail, sizeof(detail), "%s: %s", what, msg);
  if (zret == Z_MEM_ERROR)
    return gz_fail(gz, ZPM_ENOMEM, zret, detail);
  return gz_fail(gz, ZPM_EZLIB, zret, detail);
}

/* Hand bytes to the sink: 0, or its errno. One thread at a time. */
static int sink_emit(struct zpm_gzip *gz, const void *buf, size_t len)
{
  int e;

  if (len == 0)
    return 0;
  e = gz->sink(gz->sink_ud, buf, len);
  if (e == 0)
    gz->total_out += len;
  return e;
}

static int gz_sink_fail(struct zpm_gzip *gz, int e)
{
  char detail[128];

  snprintf(detail, sizeof(detail), "writing output: %s", strerror(e));
  return gz_fail(gz, ZPM_EIO, e, detail);
}

/* sink_emit for the calling thread, once nothing else writes. */
static int gz_emit(struct zpm_gzip *gz, const void *buf, size_t len)
{
  int e = sink_emit(gz, buf, len);

  return e != 0 ? gz_sink_fail(gz, e) : ZPM_OK;
}

/* Deflate one block with its dictionary; runs in a worker or inline. */
static int deflate_slot(z_stream *s, struct slot *sl)
{
  int flush = sl->last ? Z_FINISH : Z_SYNC_FLUSH;
  int ret;

  sl->out_len = 0;
  ret = deflateReset(s);
  if (ret == Z_OK && sl->dict_len > 0)
    ret = deflateSetDictionary(s, sl->dict, (uInt)sl->dict_len);
  if (ret != Z_OK)
    return ret;
  s->next_in = sl->in;
  s->avail_in = (uInt)sl->in_len;
  for (;;) {
    if (sl->out_len == sl->out_cap) {
      size_t cap = sl->out_cap * 2;
      unsigned char *p = realloc(sl->out, cap);
      if (p == NULL)
        return Z_MEM_ERROR;
      sl->out = p;
      sl->out_cap = cap;
    }
    s->next_out = sl->out + sl->out_len;
    s->avail_out = (uInt)(sl->out_cap - sl->out_len);
    ret = deflate(s, flush);
    sl->out_len = sl->out_cap - s->avail_out;
    if (ret == Z_STREAM_END)
      break;
    if (ret != Z_OK && ret != Z_BUF_ERROR)
      return ret;
    /* A flush is complete once deflate leaves output space unused. */
    if (flush == Z_SYNC_FLUSH && s->avail_out != 0)
      break;
  }
  sl->crc = crc32(crc32(0L, Z_NULL, 0), sl->in, (uInt)sl->in_len);
  return Z_OK;
}

#ifdef ZPM_HAVE_LIBDEFLATE
/* sum(c * (c - 1)) over the byte counts of the four tables */
static unsigned long long collisions(unsigned count[4][256])
{
  unsigned long long sq = 0;
  size_t i;

  for (i = 0; i < 256; i++) {
    unsigned long long c = (unsigned long long)count[0][i] + count[1][i]
                           + count[2][i] + count[3][i];

    sq += c * (c - (c > 0));
  }
  return sq;
}

/*
 * Whether a chunk is not worth deflating: its collision (Renyi order 2)
 * entropy is at least 7.95 bits per byte, i.e. sum(p^2) <= 2^-7.95,
 * sum(p^2) estimated without bias as sum(c * (c - 1)) / (n * (n - 1)).
 * That entropy is never above Shannon's, so deflate could save at most
 * ~0.6% on such a chunk by coding bytes alone. Compressed files (.gz,
 * .png, .zip) and random or encrypted bytes measure 7.99; a chunk that
 * holds a tar header among them, or any text or binary table, far less.
 */
static int high_entropy(const unsigned char *p, size_t len)
{
  unsigned count[4][256];
  size_t i;

  if (len < GZ_STORE_CHUNK / 2)
    return 0;
  memset(count, 0, sizeof(count));
  /* four tables: consecutive equal bytes do not wait on one counter */
  for (i = 0; i + 4 <= len; i += 4) {
    count[0][p[i]]++;
    count[1][p[i + 1]]++;
    count[2][p[i + 2]]++;
    count[3][p[i + 3]]++;
    /* text and tables show after 1 KiB: under 7 bits, stop there */
    if (i + 4 == GZ_STORE_PEEK
        && collisions(count) * 128
           > (unsigned long long)(i + 4) * (i + 3))
      return 0;
  }
  for (; i < len; i++)
    count[0][p[i]]++;
  /* 2^7.95 = 247.28 */
  return collisions(count) * GZ_STORE_DIV
         <= (unsigned long long)len * (len - 1) * 100;
}

/*
 * Whether a chunk repeats 4-byte strings of itself or of the block's
 * earlier candidate chunks (seen[], a hash of their 4-byte strings), in
 * more than 1 position in 256. Noisy copies of a table look random to
 * the entropy test but deflate well; random and compressed bytes repeat
 * a 4-byte string about once in 2^32 / (1 << GZ_SEEN_BITS) positions.
 */
static int repeats(const unsigned char *p, size_t len, uint32_t *seen)
{
  size_t hits = 0;
  size_t i;

  for (i = 0; i + 4 <= len; i++) {
    uint32_t v;
    uint32_t h;

    memcpy(&v, p + i, 4);
    h = (v * 2654435761u) >> (32 - GZ_SEEN_BITS);
    hits += seen[h] == v;
    seen[h] = v;
  }
  return hits * 256 > len;
}

/* A chunk worth storing: high entropy and few repeats. */
static int incompressible(const unsigned char *p, size_t len, uint32_t *seen)
{
  return high_entropy(p, len) && !repeats(p, len, seen);
}

/*
 * Add run [off, off + len) of the block: stored (its CRC only; the
 * calling thread writes it from the input, see emit_stored) or
 * deflated into a gzip member appended to out.
 */
static int add_run(struct libdeflate_compressor *c, struct slot *sl,
                   size_t off, size_t len, int stored)
{
  struct run *r = &sl->runs[sl->nruns++];

  r->in_off = off;
  r->in_len = len;
  r->out_off = sl->out_len;
  r->out_len = 0;
  r->crc = 0;
  if (stored) {
    r->crc = libdeflate_crc32(0, sl->in + off, len);
    return Z_OK;
  }
  r->out_len = libdeflate_gzip_compress(c, sl->in + off, len,
                                        sl->out + sl->out_len,
                                        sl->out_cap - sl->out_len);
  if (r->out_len == 0)
    return GZ_DEFLATE_NOROOM;
  sl->out_len += r->out_len;
  return Z_OK;
}

/*
 * Compress one block into whole gzip members (out_cap is the bound). At
 * the default level (runs != NULL) runs of incompressible chunks become
 * members of stored blocks, written from the input as they are, where
 * level 7 would spend ~12 ms per MiB to find nothing; the runs between
 * them are deflated. The cut depends only on the block's bytes, so the
 * output stays deterministic.
 */
static int member_slot(struct worker *wk, struct slot *sl)
{
  struct libdeflate_compressor *c = wk->ldc;
  size_t start = 0;
  size_t off = 0;
  int run_stored = 0;
  int ret = Z_OK;
  uint32_t seen[1 << GZ_SEEN_BITS];

  sl->out_len = 0;
  sl->nruns = 0;
  memset(seen, 0, sizeof(seen));
  if (sl->runs == NULL || sl->in_len == 0) {
    sl->out_len = libdeflate_gzip_compress(c, sl->in, sl->in_len, sl->out,
                                           sl->out_cap);
    return sl->out_len == 0 ? GZ_DEFLATE_NOROOM : Z_OK;
  }
  while (off < sl->in_len && ret == Z_OK) {
    size_t n = sl->in_len - off < GZ_STORE_CHUNK ? sl->in_len - off
                                                 : GZ_STORE_CHUNK;
    int stored = incompressible(sl->in + off, n, seen);

    if (stored != run_stored && off > start) {
      ret = add_run(c, sl, start, off - start, run_stored);
      start = off;
    }
    run_stored = stored;
    off += n;
  }
  if (ret == Z_OK)
    ret = add_run(c, sl, start, off - start, run_stored);
  return ret;
}
#endif

static int compress_slot(struct worker *wk, struct slot *sl)
{
#ifdef ZPM_HAVE_LIBDEFLATE
  if (wk->ldc != NULL)
    return member_slot(wk, sl);
#endif
  return deflate_slot(&wk->strm, sl);
}

/*
 * Called with the lock held by a worker that just finished a block:
 * hash the done blocks in order, from next_hash on, unless another
 * worker is at it (it will reach them). The blocks stay in their slots
 * until written, which waits for their hash (drain).
 */
static void hash_done_blocks(struct zpm_gzip *gz)
{
  struct slot *sl;

  if (!gz->record || gz->hashing)
    return;
  gz->hashing = 1;
  while (gz->next_hash < gz->next_seq) {
    sl = &gz->slots[gz->next_hash % gz->nslots];
    if (sl->state != SLOT_DONE)
      break;
    pthread_mutex_unlock(&gz->lock);
    zpm_md5_update(&gz->md5, sl->in, sl->in_len);
    pthread_mutex_lock(&gz->lock);
    gz->next_hash++;
    pthread_cond_signal(&gz->done_cv);
  }
  gz->hashing = 0;
}

/* Whether the calling thread may write a slot out: compressed, and
 * hashed when the stream ends with a record. */
static int slot_writable(const struct zpm_gzip *gz, const struct slot *sl)
{
  return sl->state == SLOT_DONE && (!gz->record || sl->seq < gz->next_hash);
}

static void write_done_blocks(struct zpm_gzip *gz);

static void *worker_main(void *arg)
{
  struct worker *wk = arg;
  struct zpm_gzip *gz = wk->gz;
  struct slot *sl;

  pthread_mutex_lock(&gz->lock);
  for (;;) {
    while (!gz->shutdown
           && (gz->next_take == gz->next_seq || gz->nfree == 0))
      pthread_cond_wait(&gz->work_cv, &gz->lock);
    if (gz->shutdown)
      break;
    sl = &gz->slots[gz->next_take % gz->nslots];
    gz->next_take++;
    sl->state = SLOT_BUSY;
    gz->nfree--;
    sl->out = gz->outs[gz->nfree].p;
    sl->out_cap = gz->outs[gz->nfree].cap;
    pthread_mutex_unlock(&gz->lock);
    sl->zret = compress_slot(wk, sl);
    pthread_mutex_lock(&gz->lock);
    sl->state = SLOT_DONE;
    pthread_cond_signal(&gz->done_cv);
    hash_done_blocks(gz);
    write_done_blocks(gz);
  }
  pthread_mutex_unlock(&gz->lock);
  return NULL;
}

/* The stream's gzip header (zlib engine): 0 or the sink's errno. */
static int write_header(struct zpm_gzip *gz)
{
  /* magic, deflate, no flags, mtime 0, XFL 0, OS 3 (Unix) */
  static const unsigned char header[10] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03
  };

  gz->header_written = 1;
  return sink_emit(gz, header, sizeof(header));
}

/* Four bytes, least significant first (gzip's and deflate's order). */
static void put_le32(unsigned char *p, unsigned long v)
{
  p[0] = (unsigned char)(v & 0xff);
  p[1] = (unsigned char)((v >> 8) & 0xff);
  p[2] = (unsigned char)((v >> 16) & 0xff);
  p[3] = (unsigned char)((v >> 24) & 0xff);
}

/*
 * One gzip member of stored deflate blocks (at most 65,535 bytes each)
 * holding p[0..len), written from the input itself: the header, then
 * per block its 5 bytes (BFINAL and BTYPE 00, LEN, NLEN) and its data,
 * then the CRC-32 and size. Returns 0 or the sink's errno.
 */
static int emit_stored(struct zpm_gzip *gz, const unsigned char *p,
                       size_t len, unsigned long crc)
{
  static const unsigned char header[10] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03
  };
  unsigned char hdr[5];
  unsigned char trailer[8];
  size_t total = len;
  size_t n;
  int status = sink_emit(gz, header, sizeof(header));

  do {
    n = len < 65535 ? len : 65535;
    hdr[0] = n == len ? 1 : 0;
    hdr[1] = (unsigned char)(n & 0xff);
    hdr[2] = (unsigned char)(n >> 8);
    hdr[3] = (unsigned char)(~n & 0xff);
    hdr[4] = (unsigned char)((~n >> 8) & 0xff);
    if (status == 0)
      status = sink_emit(gz, hdr, sizeof(hdr));
    if (status == 0)
      status = sink_emit(gz, p, n);
    p += n;
    len -= n;
  } while (len > 0 && status == 0);
  put_le32(trailer, crc);
  put_le32(trailer + 4, (unsigned long)(total & 0xffffffffUL));
  if (status == 0)
    status = sink_emit(gz, trailer, sizeof(trailer));
  return status;
}

/* The members of a block cut into runs, in order: 0 or an errno. */
static int emit_runs(struct zpm_gzip *gz, const struct slot *sl)
{
  size_t i;
  int status = 0;

  for (i = 0; i < sl->nruns && status == 0; i++) {
    const struct run *r = &sl->runs[i];

    if (r->out_len > 0)
      status = sink_emit(gz, sl->out + r->out_off, r->out_len);
    else
      status = emit_stored(gz, sl->in + r->in_off, r->in_len, r->crc);
  }
  return status;
}

/*
 * Send a done block's output to the sink (the thread holding the writing
 * baton, or the calling thread without threads): 0 or the sink's errno.
 */
static int output_slot(struct zpm_gzip *gz, struct slot *sl)
{
  int e;

  if (gz->record && gz->nthreads == 1)
    zpm_md5_update(&gz->md5, sl->in, sl->in_len);
  if (gz->members) {
    return sl->nruns > 0 ? emit_runs(gz, sl)
                         : sink_emit(gz, sl->out, sl->out_len);
  }
  if (!gz->header_written) {
    e = write_header(gz);
    if (e != 0)
      return e;
  }
  e = sink_emit(gz, sl->out, sl->out_len);
  if (e == 0)
    gz->crc = crc32_combine(gz->crc, sl->crc, (z_off_t)sl->in_len);
  return e;
}

/*
 * Called with the lock held: write out, in order, the blocks that are
 * done (and hashed), unless another thread holds the baton (it will
 * reach them) or the output stopped. The first failure is recorded for
 * the calling thread (out_zret, out_errno) and stops the output.
 */
static void write_done_blocks(struct zpm_gzip *gz)
{
  struct slot *sl;
  int e;

  if (gz->writing || gz->out_stopped)
    return;
  gz->writing = 1;
  while (!gz->out_stopped && gz->next_write < gz->next_seq) {
    sl = &gz->slots[gz->next_write % gz->nslots];
    if (!slot_writable(gz, sl))
      break;
    if (sl->zret != Z_OK) {
      gz->out_zret = sl->zret;
      gz->out_stopped = 1;
      break;
    }
    pthread_mutex_unlock(&gz->lock);
    e = output_slot(gz, sl);
    pthread_mutex_lock(&gz->lock);
    if (e != 0) {
      gz->out_errno = e;
      gz->out_stopped = 1;
      break;
    }
    sl->state = SLOT_FREE;
    /* its output back to the pool (realloc'ed by zlib, maybe) */
    gz->outs[gz->nfree].p = sl->out;
    gz->outs[gz->nfree].cap = sl->out_cap;
    gz->nfree++;
    sl->out = NULL;
    pthread_cond_signal(&gz->work_cv);
    gz->next_write++;
    pthread_cond_broadcast(&gz->done_cv);
  }
  gz->writing = 0;
  pthread_cond_broadcast(&gz->done_cv);
}

/* The calling thread's error for a failure met while writing out. */
static int out_failure(struct zpm_gzip *gz, int zret, int e)
{
  if (zret != Z_OK)
    return gz_zlib_fail(gz, zret, "deflate");
  return gz_sink_fail(gz, e);
}

/*
 * Write out (or let the baton's holder write out) the finished blocks.
 * With wait_for set, block until every sequence below wait_for has been
 * written; a failure met by any thread on the way is returned.
 */
static int drain(struct zpm_gzip *gz, unsigned long long wait_for)
{
  int stopped;
  int zret;
  int e;

  if (gz->nthreads == 1)
    return ZPM_OK;
  pthread_mutex_lock(&gz->lock);
  for (;;) {
    write_done_blocks(gz);
    if (gz->out_stopped || gz->next_write >= wait_for)
      break;
    pthread_cond_wait(&gz->done_cv, &gz->lock);
  }
  stopped = gz->out_stopped;
  zret = gz->out_zret;
  e = gz->out_errno;
  pthread_mutex_unlock(&gz->lock);
  if (zret != Z_OK || e != 0)
    return out_failure(gz, zret, e);
  /* zpm_gzip_stop_output came first: the ring cannot move on */
  if (stopped)
    return gz_fail(gz, ZPM_EINVAL, 0, "output stopped");
  return ZPM_OK;
}

/*
 * Stop the output: no thread writes to the sink after this returns (a
 * writer discarding its file calls it before closing that file).
 */
void zpm_gzip_stop_output(struct zpm_gzip *gz)
{
  if (gz == NULL || gz->nthreads == 1 || !gz->sync_ready)
    return;
  pthread_mutex_lock(&gz->lock);
  gz->out_stopped = 1;
  while (gz->writing)
    pthread_cond_wait(&gz->done_cv, &gz->lock);
  pthread_mutex_unlock(&gz->lock);
}

/* Hand the filling slot to a worker, or deflate it here. */
static int submit(struct zpm_gzip *gz, int last)
{
  struct slot *sl = gz->filling;
  size_t keep;

  sl->last = last;
  if (gz->members) {
    /* blocks are independent (libdeflate): no dictionary */
  } else if (sl->in_len >= GZ_WINDOW) {
    memcpy(sl->dict, gz->window, gz->window_len);
    sl->dict_len = gz->window_len;
    memcpy(gz->window, sl->in + sl->in_len - GZ_WINDOW, GZ_WINDOW);
    gz->window_len = GZ_WINDOW;
  } else {
    memcpy(sl->dict, gz->window, gz->window_len);
    sl->dict_len = gz->window_len;
    keep = GZ_WINDOW - sl->in_len;
    if (keep > gz->window_len)
      keep = gz->window_len;
    memmove(gz->window, gz->window + gz->window_len - keep, keep);
    memcpy(gz->window + keep, sl->in, sl->in_len);
    gz->window_len = keep + sl->in_len;
  }
  gz->filling = NULL;

  if (gz->nthreads == 1) {
    int e;

    gz->next_seq++;
    sl->zret = compress_slot(&gz->workers[0], sl);
    if (sl->zret != Z_OK)
      return gz_zlib_fail(gz, sl->zret, "deflate");
    e = output_slot(gz, sl);
    sl->state = SLOT_FREE;
    if (e != 0)
      return gz_sink_fail(gz, e);
    gz->next_write++;
    return ZPM_OK;
  }
  pthread_mutex_lock(&gz->lock);
  sl->state = SLOT_QUEUED;
  gz->next_seq++;
  pthread_cond_signal(&gz->work_cv);
  pthread_mutex_unlock(&gz->lock);
  return drain(gz, 0);
}

/* Take the next slot for filling, writing out older blocks to free it. */
static int acquire(struct zpm_gzip *gz)
{
  unsigned long long seq = gz->next_seq;
  struct slot *sl = &gz->slots[seq % gz->nslots];
  int status;

  if (seq >= gz->nslots) {
    status = drain(gz, seq - gz->nslots + 1);
    if (status != ZPM_OK)
      return status;
  }
  sl->state = SLOT_FILLING;
  sl->seq = seq;
  sl->in_len = 0;
  gz->filling = sl;
  return ZPM_OK;
}

static void gz_release(struct zpm_gzip *gz)
{
  size_t i;

  if (gz->sync_ready) {
    pthread_mutex_lock(&gz->lock);
    gz->shutdown = 1;
    gz->out_stopped = 1;
    pthread_cond_broadcast(&gz->work_cv);
    pthread_mutex_unlock(&gz->lock);
  }
  if (gz->workers != NULL) {
    for (i = 0; i < (size_t)gz->nthreads; i++) {
      if (gz->workers[i].started)
        pthread_join(gz->workers[i].thread, NULL);
    }
    for (i = 0; i < (size_t)gz->nthreads; i++) {
      if (gz->workers[i].strm_ready)
        deflateEnd(&gz->workers[i].strm);
#ifdef ZPM_HAVE_LIBDEFLATE
      if (gz->workers[i].ldc != NULL)
        libdeflate_free_compressor(gz->workers[i].ldc);
#endif
    }
    free(gz->workers);
  }
  if (gz->slots != NULL) {
    for (i = 0; i < gz->nslots; i++) {
      free(gz->slots[i].in);
      free(gz->slots[i].dict);
      free(gz->slots[i].out);  /* a taken buffer is in its slot only */
      free(gz->slots[i].runs);
    }
    free(gz->slots);
  }
  for (i = 0; i < gz->nfree; i++)
    free(gz->outs[i].p);
  free(gz->outs);
  if (gz->sync_ready) {
    pthread_cond_destroy(&gz->done_cv);
    pthread_cond_destroy(&gz->work_cv);
    pthread_mutex_destroy(&gz->lock);
  }
  zpm_md5_free(&gz->md5);
  free(gz);
}

static int resolve_threads(int threads)
{
  long n;

  if (threads > 0)
    return threads;
  n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    n = 1;
  if (n > GZ_MAX_AUTO_THREADS)
    n = GZ_MAX_AUTO_THREADS;
  return (int)n;
}

#ifdef ZPM_HAVE_LIBDEFLATE
/*
 * The bound of one block's output: with stored runs, up to one member
 * per chunk; libdeflate's bound is subadditive, so the sum of the
 * chunks' bounds covers any cut into runs.
 */
static size_t members_bound(const struct worker *wk, size_t block,
                            int runs)
{
  size_t chunks = (block + GZ_STORE_CHUNK - 1) / GZ_STORE_CHUNK;
  size_t b = libdeflate_gzip_compress_bound(wk->ldc, block);

  if (runs && chunks > 1) {
    size_t per = libdeflate_gzip_compress_bound(wk->ldc, GZ_STORE_CHUNK);

    if (per * chunks > b)
      b = per * chunks;
  }
  return b;
}
#endif

/* Per-worker compressors and the bound of one block's output. */
static int gz_setup_engine(struct zpm_gzip *gz, size_t *out_cap,
                           struct zpm_error *err)
{
  size_t i;
  int ret;

#ifdef ZPM_HAVE_LIBDEFLATE
  if (gz->members) {
    for (i = 0; i < (size_t)gz->nthreads; i++) {
      struct worker *wk = &gz->workers[i];

      wk->gz = gz;
      wk->ldc = libdeflate_alloc_compressor(gz->level);
      if (wk->ldc == NULL)
        return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
    }
    *out_cap = members_bound(&gz->workers[0], gz->block_size,
                             gz->store_runs);
    return ZPM_OK;
  }
#endif
  for (i = 0; i < (size_t)gz->nthreads; i++) {
    struct worker *wk = &gz->workers[i];

    wk->gz = gz;
    ret = deflateInit2(&wk->strm, gz->level, Z_DEFLATED, -15, 8,
                       Z_DEFAULT_STRATEGY);
    if (ret != Z_OK) {
      zpm_error_set(err, ret == Z_MEM_ERROR ? ZPM_ENOMEM : ZPM_EZLIB,
                    "gzip: deflateInit2: %s", zError(ret));
      if (err != NULL)
        err->lib_code = ret;
      return ret == Z_MEM_ERROR ? ZPM_ENOMEM : ZPM_EZLIB;
    }
    wk->strm_ready = 1;
  }
  /* Room for the worst case plus the flush marker; grown if ever short. */
  *out_cap = deflateBound(&gz->workers[0].strm, (uLong)gz->block_size) + 64;
  return ZPM_OK;
}

static int gz_setup(struct zpm_gzip *gz, struct zpm_error *err)
{
  size_t i;
  int ret;
  int status;
  size_t out_cap = 0;

  gz->workers = calloc((size_t)gz->nthreads, sizeof(*gz->workers));
  /* One block per worker, one being filled, one done but not written. */
  gz->nslots = gz->nthreads == 1 ? 1 : (size_t)gz->nthreads + 2;
  gz->slots = calloc(gz->nslots, sizeof(*gz->slots));
  if (gz->workers == NULL || gz->slots == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
  status = gz_setup_engine(gz, &out_cap, err);
  if (status != ZPM_OK)
    return status;
  /* threads: the outputs are a pool, taken with a slot (see the top) */
  gz->nouts = gz->nthreads == 1 ? 0 : (size_t)gz->nthreads + 1;
  if (gz->nouts > 0) {
    gz->outs = calloc(gz->nouts, sizeof(*gz->outs));
    if (gz->outs == NULL)
      return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
    for (; gz->nfree < gz->nouts; gz->nfree++) {
      gz->outs[gz->nfree].p = malloc(out_cap);
      gz->outs[gz->nfree].cap = out_cap;
      if (gz->outs[gz->nfree].p == NULL)
        return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
    }
  }
  for (i = 0; i < gz->nslots; i++) {
    gz->slots[i].in = malloc(gz->block_size);
    gz->slots[i].dict = gz->members ? NULL : malloc(GZ_WINDOW);
    if (gz->nouts == 0) {
      gz->slots[i].out = malloc(out_cap);
      gz->slots[i].out_cap = out_cap;
    }
    if (gz->members && gz->store_runs) {
      gz->slots[i].runs = calloc(gz->block_size / GZ_STORE_CHUNK + 1,
                                 sizeof(struct run));
      if (gz->slots[i].runs == NULL)
        return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
    }
    if (gz->slots[i].in == NULL
        || (gz->nouts == 0 && gz->slots[i].out == NULL)
        || (!gz->members && gz->slots[i].dict == NULL))
      return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
  }
  if (gz->nthreads == 1)
    return ZPM_OK;

  if (pthread_mutex_init(&gz->lock, NULL) != 0)
    return zpm_error_set(err, ZPM_ENOMEM, "gzip: cannot create a mutex");
  if (pthread_cond_init(&gz->work_cv, NULL) != 0) {
    pthread_mutex_destroy(&gz->lock);
    return zpm_error_set(err, ZPM_ENOMEM, "gzip: cannot create a cond");
  }
  if (pthread_cond_init(&gz->done_cv, NULL) != 0) {
    pthread_cond_destroy(&gz->work_cv);
    pthread_mutex_destroy(&gz->lock);
    return zpm_error_set(err, ZPM_ENOMEM, "gzip: cannot create a cond");
  }
  gz->sync_ready = 1;
  for (i = 0; i < (size_t)gz->nthreads; i++) {
    ret = pthread_create(&gz->workers[i].thread, NULL, worker_main,
                         &gz->workers[i]);
    if (ret != 0) {
      zpm_error_set(err, ZPM_ENOMEM, "gzip: cannot start a thread: %s",
                    strerror(ret));
      if (err != NULL)
        err->lib_code = ret;
      return ZPM_ENOMEM;
    }
    gz->workers[i].started = 1;
  }
  return ZPM_OK;
}

int zpm_gzip_open(struct zpm_gzip **out,
                  const struct zpm_gzip_options *options,
                  zpm_sink_fn sink, void *sink_ud, struct zpm_error *err)
{
  struct zpm_gzip *gz;
  int level = options != NULL ? options->level : 0;
  int threads = options != NULL ? options->threads : 0;
  size_t block = options != NULL ? options->block_size : 0;
  enum zpm_gzip_engine engine =
    options != NULL ? options->engine : ZPM_GZIP_AUTO;
  int members;
  int store_runs = 0;
  int status;

  *out = NULL;
  if (engine != ZPM_GZIP_AUTO && engine != ZPM_GZIP_ZLIB
      && engine != ZPM_GZIP_LIBDEFLATE)
    return zpm_error_set(err, ZPM_EINVAL, "gzip: unknown engine %d",
                         (int)engine);
  if (engine == ZPM_GZIP_LIBDEFLATE && !zpm_gzip_have_libdeflate())
    return zpm_error_set(err, ZPM_EINVAL,
                         "gzip: built without libdeflate");
  members = engine == ZPM_GZIP_LIBDEFLATE
            || (engine == ZPM_GZIP_AUTO && zpm_gzip_have_libdeflate());
  if (level == 0 && members)
    store_runs = 1;
  if (level == 0)
    level = members ? ZPM_GZIP_LIBDEFLATE_LEVEL : 6;
  if (level < 1 || level > 9)
    return zpm_error_set(err, ZPM_EINVAL,
                         "gzip: level must be 1..9, not %d", level);
  if (threads < 0 || threads > GZ_MAX_THREADS)
    return zpm_error_set(err, ZPM_EINVAL,
                         "gzip: threads must be 0..%d, not %d",
                         GZ_MAX_THREADS, threads);
  if (block == 0)
    block = members ? ZPM_GZIP_LIBDEFLATE_BLOCK : GZ_DEFAULT_BLOCK;
  if (block > GZ_MAX_BLOCK)
    return zpm_error_set(err, ZPM_EINVAL,
                         "gzip: block size must be at most %u bytes",
                         GZ_MAX_BLOCK);
  if (sink == NULL)
    return zpm_error_set(err, ZPM_EINVAL, "gzip: no output sink");

  gz = calloc(1, sizeof(*gz));
  if (gz == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
  gz->level = level;
  gz->store_runs = store_runs;
  gz->members = members;
  gz->nthreads = resolve_threads(threads);
  gz->block_size = block;
  gz->sink = sink;
  gz->sink_ud = sink_ud;
  gz->crc = crc32(0L, Z_NULL, 0);
  gz->record = options != NULL && options->record;
  if (gz->record && zpm_md5_init(&gz->md5) != ZPM_OK) {
    gz_release(gz);
    return zpm_error_set(err, ZPM_ENOMEM, "gzip: out of memory");
  }
  status = gz_setup(gz, err);
  if (status != ZPM_OK) {
    gz_release(gz);
    return status;
  }
  *out = gz;
  return ZPM_OK;
}

int zpm_gzip_write(struct zpm_gzip *gz, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  size_t n;
  int status;

  if (gz->status != ZPM_OK)
    return gz->status;
  if (gz->finished)
    return gz_fail(gz, ZPM_EINVAL, 0, "write after finish");
  while (len > 0) {
    /* A full block is queued only once more input shows it isn't last. */
    if (gz->filling != NULL && gz->filling->in_len == gz->block_size) {
      status = submit(gz, 0);
      if (status != ZPM_OK)
        return status;
    }
    if (gz->filling == NULL) {
      status = acquire(gz);
      if (status != ZPM_OK)
        return status;
    }
    n = gz->block_size - gz->filling->in_len;
    if (n > len)
      n = len;
    memcpy(gz->filling->in + gz->filling->in_len, p, n);
    gz->filling->in_len += n;
    gz->total_in += n;
    p += n;
    len -= n;
  }
  return ZPM_OK;
}

/* The record member (zpm/gzip_record.h) of everything written. */
static int write_record(struct zpm_gzip *gz)
{
  struct zpm_gzip_record rec;
  unsigned char member[ZPM_GZIP_RECORD_SIZE];

  if (gz->md5.ctx == NULL)
    return gz_fail(gz, ZPM_ENOMEM, 0, "out of memory");
  zpm_md5_final(&gz->md5, rec.md5);
  rec.length = gz->total_in;
  zpm_gzip_record_encode(&rec, member);
  return gz_emit(gz, member, sizeof(member));
}

int zpm_gzip_finish(struct zpm_gzip *gz)
{
  unsigned char trailer[8];
  unsigned long isize;
  int status;
  int i;

  if (gz->status != ZPM_OK)
    return gz->status;
  if (gz->finished)
    return ZPM_OK;
  if (gz->filling == NULL) {
    status = acquire(gz);
    if (status != ZPM_OK)
      return status;
  }
  status = submit(gz, 1);
  if (status == ZPM_OK)
    status = drain(gz, gz->next_seq);
  if (status != ZPM_OK)
    return status;
  if (!gz->members) {
    isize = (unsigned long)(gz->total_in & 0xffffffffULL);
    for (i = 0; i < 4; i++) {
      trailer[i] = (unsigned char)((gz->crc >> (8 * i)) & 0xff);
      trailer[4 + i] = (unsigned char)((isize >> (8 * i)) & 0xff);
    }
    status = gz_emit(gz, trailer, sizeof(trailer));
    if (status != ZPM_OK)
      return status;
  }
  if (gz->record) {
    status = write_record(gz);
    if (status != ZPM_OK)
      return status;
  }
  gz->finished = 1;
  return ZPM_OK;
}

int zpm_gzip_have_libdeflate(void)
{
#ifdef ZPM_HAVE_LIBDEFLATE
  return 1;
#else
  return 0;
#endif
}

void zpm_gzip_free(struct zpm_gzip *gz)
{
  if (gz == NULL)
    return;
  gz_release(gz);
}

const struct zpm_error *zpm_gzip_error(const struct zpm_gzip *gz)
{
  return &gz->err;
}

unsigned long long zpm_gzip_bytes_in(const struct zpm_gzip *gz)
{
  return gz->total_in;
}

unsigned long long zpm_gzip_bytes_out(const struct zpm_gzip *gz)
{
  return gz->total_out;
}
