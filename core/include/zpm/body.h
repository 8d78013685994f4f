/*
 * Request bodies: what a caller describes (a memory block, a file range,
 * a zapp, the next bytes of another source) and its opening as a
 * zpm_source for zpm_http_run, with the data path the core owns: a zapp
 * is inflated, hashed (MD5) and optionally captured (zpm/tar_capture.h)
 * in a read-ahead thread while libcurl sends. A C program linking
 * libzpmcore alone can upload a zapp this way.
 */
#ifndef ZPM_BODY_H
#define ZPM_BODY_H

#include <stddef.h>

#include "zpm/error.h"
#include "zpm/source.h"
#include "zpm/tar_capture.h"

/* A response body collected in memory stops at this many bytes unless
 * the caller picks another cap. */
#define ZPM_BODY_COLLECT_MAX (16 * 1024 * 1024)

enum zpm_body_kind {
  ZPM_BODY_MEMORY,      /* data, len: kept alive by the caller */
  ZPM_BODY_FILE,        /* path, offset, length (-1: to the end) */
  ZPM_BODY_GUNZIP,      /* a zapp (.gz): path, or fd (>= 0) named path */
  ZPM_BODY_SLICE        /* the next max bytes at most of parent */
};

struct zpm_body_desc {
  enum zpm_body_kind kind;
  const void *data;
  size_t len;
  const char *path;
  int fd;                           /* -1: open path */
  long long offset;
  long long length;
  struct zpm_source *parent;        /* kept alive by the caller */
  unsigned long long max;
  int strict;                       /* see zpm_source_slice */
  struct zpm_tar_capture *capture;  /* gunzip: NULL, or kept by the caller */
  int skip_md5;    /* gunzip: no MD5 tap (the caller knows the MD5, as
                      a zapp's record gives it: zpm/gzip_record.h) */
};

/* A memory body of no bytes, fd -1, length -1: set kind and its fields. */
void zpm_body_desc_init(struct zpm_body_desc *desc);

/*
 * Open the body desc describes. A gunzip body is the .gz inflated, with
 * desc->capture fed the tar (if any) and, unless desc->skip_md5, an MD5
 * tap (zpm_source_md5), in
 * a read-ahead source of ZPM_READAHEAD_BLOCKS blocks of
 * ZPM_READAHEAD_BLOCK_SIZE bytes. The others are the zpm_source_* of the
 * same names. The caller frees *out with zpm_source_free.
 */
int zpm_body_open(struct zpm_source **out, const struct zpm_body_desc *desc,
                  struct zpm_error *err);

/* A zapp at path as zpm_body_open opens it (capture may be NULL). */
int zpm_body_open_zapp(struct zpm_source **out, const char *path,
                       struct zpm_tar_capture *capture,
                       struct zpm_error *err);

/*
 * Add an MD5 tap to src (before its first read), so that zpm_source_md5
 * of src, or of a read-ahead source wrapping it, gives the MD5 of the
 * bytes read since the last rewind.
 */
int zpm_body_md5_tap(struct zpm_source *src, struct zpm_error *err);

#endif
