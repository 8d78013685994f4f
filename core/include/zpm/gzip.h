/*
 * Streaming gzip (RFC 1952) compressor with parallel deflate.
 *
 * Input is cut into fixed-size blocks that worker threads compress
 * independently; the results are written in order. Two engines:
 *
 * - zlib: each block is primed with the previous block's last 32 KiB as
 *   dictionary (the pigz scheme) and the blocks form ONE gzip member.
 * - libdeflate (when built with it; the default then): each block is a
 *   complete gzip member of its own, so the stream is several members
 *   concatenated (RFC 1952 2.2). gzip, GNU tar, Python's tarfile,
 *   libarchive and zpm's own readers read all of them; a reader that
 *   stops after the first member does not. Roughly twice as fast.
 *
 * The output depends only on the input and the options, never on thread
 * timing, so bundles stay byte-reproducible. Memory is bounded by
 * 2 * (threads + 2) * block_size, whatever the input size.
 */
#ifndef ZPM_GZIP_H
#define ZPM_GZIP_H

#include <stddef.h>

#include "zpm/error.h"

/*
 * Where compressed bytes go: returns 0, or an errno value to abort. It
 * is called by one thread at a time, in the stream's order, but not
 * always by the thread calling zpm_gzip_write/zpm_gzip_finish: a worker
 * that finished the next block writes it out. Every result is checked:
 * the first failure stops the output and is ZPM_EIO with lib_code the
 * errno, returned by the next call of the calling thread and every later
 * one.
 */
typedef int (*zpm_sink_fn)(void *ud, const void *buf, size_t len);

enum zpm_gzip_engine {
  ZPM_GZIP_AUTO = 0,     /* libdeflate when built with it, else zlib */
  ZPM_GZIP_ZLIB,         /* one member, pigz-style (always available) */
  ZPM_GZIP_LIBDEFLATE    /* one member per block; EINVAL if not built */
};

struct zpm_gzip_options {
  int level;          /* 1..9: every block at that level; 0: the default */
  int threads;        /* 0 means online CPUs, capped at 8; 1 = no threads */
  size_t block_size;  /* input block per job; 0 means the engine's default */
  enum zpm_gzip_engine engine;
  int record;         /* 1: end with the record of the input's MD5 and
                         length (zpm/gzip_record.h); the workers hash
                         the blocks in order before they are written */
};

/*
 * Defaults: zlib level 6 with 128 KiB blocks. libdeflate: blocks of
 * ZPM_GZIP_LIBDEFLATE_BLOCK at level ZPM_GZIP_LIBDEFLATE_LEVEL, which is
 * already smaller than gzip -6 on every bench/bundle shape; level 5 is
 * not on text, and level 7 costs 10-40% more CPU for 0.1-1% less output
 * (bench/RESULTS.md, issue 16). At the default level, runs of 8 KiB
 * chunks that look incompressible (collision entropy >= 7.95 bits per
 * byte and hardly a 4-byte string repeated: compressed files, random or
 * encrypted bytes) become members of stored blocks, a copy instead of a
 * search for matches that finds none; a block may then hold several
 * members. The cut depends only on the bytes, so the output stays
 * deterministic. An explicit level deflates every byte at that level.
 */
#define ZPM_GZIP_LIBDEFLATE_LEVEL 6
#define ZPM_GZIP_LIBDEFLATE_BLOCK (2 * 1024 * 1024)

/* 1 if this build has the libdeflate engine, else 0. */
int zpm_gzip_have_libdeflate(void);

struct zpm_gzip;

int zpm_gzip_open(struct zpm_gzip **out,
                  const struct zpm_gzip_options *options,
                  zpm_sink_fn sink, void *sink_ud, struct zpm_error *err);

/* Queue bytes for compression; may block while workers catch up. */
int zpm_gzip_write(struct zpm_gzip *gz, const void *buf, size_t len);

/*
 * Flush everything, write the trailer. The stream is complete only when
 * this returns 0: most of the output may be written here (every block
 * still queued, the last block, the trailer), so its result must be
 * checked like any write's.
 */
int zpm_gzip_finish(struct zpm_gzip *gz);

/*
 * Stop the output: once this returns, no thread calls the sink again for
 * this stream (for a writer about to close what the sink writes to).
 */
void zpm_gzip_stop_output(struct zpm_gzip *gz);

/* Stop workers and release memory; safe on a finished or failed stream. */
void zpm_gzip_free(struct zpm_gzip *gz);

const struct zpm_error *zpm_gzip_error(const struct zpm_gzip *gz);

/* Bytes accepted by zpm_gzip_write and bytes handed to the sink so far. */
unsigned long long zpm_gzip_bytes_in(const struct zpm_gzip *gz);
unsigned long long zpm_gzip_bytes_out(const struct zpm_gzip *gz);

#endif
