/*
 * The record a zapp carries of its tar: the MD5 and length of all the
 * uncompressed bytes, so that a deploy can send the tar with its Etag
 * (Swift checks it) and compare it with what a target holds without
 * inflating and hashing the zapp again.
 *
 * It is the last gzip member of the file: an empty member (no data,
 * CRC-32 0, size 0) whose header has an extra field (RFC 1952 2.3.1.1,
 * FLG.FEXTRA) with one subfield, SI1 'Z' SI2 'P', of
 * ZPM_GZIP_RECORD_DATA bytes: a version (1), the MD5, and the length as
 * 8 bytes least significant first. Every gzip reader accepts
 * concatenated members and skips extra fields, so the file still reads
 * as the same tar everywhere; the record adds ZPM_GZIP_RECORD_SIZE bytes.
 * A file whose last bytes are not exactly such a member has no record
 * (e.g. rewritten by another tool): callers then hash.
 */
#ifndef ZPM_GZIP_RECORD_H
#define ZPM_GZIP_RECORD_H

#include <stddef.h>

#include "zpm/digest.h"
#include "zpm/error.h"

#define ZPM_GZIP_RECORD_DATA 25
/* 10 header + 2 XLEN + 4 subfield header + data + 2 deflate + 8 trailer */
#define ZPM_GZIP_RECORD_SIZE (26 + ZPM_GZIP_RECORD_DATA)

struct zpm_gzip_record {
  unsigned char md5[ZPM_MD5_DIGEST_SIZE];
  unsigned long long length;   /* bytes of uncompressed data */
};

/* The record member for rec, in out. */
void zpm_gzip_record_encode(const struct zpm_gzip_record *rec,
                            unsigned char out[ZPM_GZIP_RECORD_SIZE]);

/*
 * Read the record at the end of the open file fd (named path in
 * messages): ZPM_OK with *found 1 and rec filled, or *found 0 when the
 * file has none; ZPM_EIO (err set) when it cannot be read.
 */
int zpm_gzip_record_read(int fd, const char *path,
                         struct zpm_gzip_record *rec, int *found,
                         struct zpm_error *err);

#endif
