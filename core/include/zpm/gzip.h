/*
 * Streaming gzip (RFC 1952) compressor with parallel deflate.
 *
 * Input is cut into fixed-size blocks that worker threads deflate
 * independently, each primed with the previous block's last 32 KiB as
 * dictionary (the pigz scheme), and the results are written in order as
 * one gzip member. The output depends only on the input and the options,
 * never on thread timing, so bundles stay byte-reproducible. Memory is
 * bounded by threads * block_size, whatever the input size.
 */
#ifndef ZPM_GZIP_H
#define ZPM_GZIP_H

#include <stddef.h>

#include "zpm/error.h"

/* Where compressed bytes go: returns 0, or an errno value to abort. */
typedef int (*zpm_sink_fn)(void *ud, const void *buf, size_t len);

struct zpm_gzip_options {
  int level;          /* 1..9; 0 means 6 */
  int threads;        /* 0 means online CPUs, capped at 8; 1 = no threads */
  size_t block_size;  /* input block per job; 0 means 128 KiB */
};

struct zpm_gzip;

int zpm_gzip_open(struct zpm_gzip **out,
                  const struct zpm_gzip_options *options,
                  zpm_sink_fn sink, void *sink_ud, struct zpm_error *err);

/* Queue bytes for compression; may block while workers catch up. */
int zpm_gzip_write(struct zpm_gzip *gz, const void *buf, size_t len);

/* Flush everything, write the trailer. The stream is complete after. */
int zpm_gzip_finish(struct zpm_gzip *gz);

/* Stop workers and release memory; safe on a finished or failed stream. */
void zpm_gzip_free(struct zpm_gzip *gz);

const struct zpm_error *zpm_gzip_error(const struct zpm_gzip *gz);

/* Bytes accepted by zpm_gzip_write and bytes handed to the sink so far. */
unsigned long long zpm_gzip_bytes_in(const struct zpm_gzip *gz);
unsigned long long zpm_gzip_bytes_out(const struct zpm_gzip *gz);

#endif
