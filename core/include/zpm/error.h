/*
 * Status codes and the error record shared by every libzpmcore function.
 *
 * Functions that can fail return an int status (ZPM_OK is 0) and, where
 * the caller passed one, fill a struct zpm_error with the detail: the
 * wrapped library's own code and message, and a position for parsers.
 */
#ifndef ZPM_ERROR_H
#define ZPM_ERROR_H

#include <stddef.h>

#define ZPM_ERRMSG_SIZE 512

enum zpm_status {
  ZPM_OK = 0,
  ZPM_EINVAL,   /* bad argument or bad input data */
  ZPM_ENOMEM,   /* allocation failed */
  ZPM_EIO,      /* file system error; lib_code holds errno */
  ZPM_EYAML,    /* YAML syntax or structure error; line/column set */
  ZPM_ELIMIT,   /* input exceeds a configured limit (size, depth) */
  ZPM_EARCHIVE, /* libarchive failure; lib_code holds its errno */
  ZPM_EZLIB,    /* zlib failure; lib_code holds its code */
  ZPM_EHTTP,    /* HTTP-level failure (unexpected status) */
  ZPM_ENETWORK, /* transport failure; lib_code holds the CURLcode */
  ZPM_ECANCELED /* stopped by the caller's cancel flag (a signal) */
};

struct zpm_error {
  int status;             /* enum zpm_status */
  int lib_code;           /* errno, CURLcode, zlib code... or 0 */
  unsigned long line;     /* 1-based, 0 when not applicable */
  unsigned long column;   /* 1-based, 0 when not applicable */
  char message[ZPM_ERRMSG_SIZE];
};

/* Reset an error record to "no error". */
void zpm_error_clear(struct zpm_error *err);

/*
 * Record a failure: sets status and a printf-style message (truncated to
 * fit). Returns status so callers can write `return zpm_error_set(...)`.
 * err may be NULL.
 */
int zpm_error_set(struct zpm_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/*
 * Record a failed system call: status ZPM_EIO, lib_code e (its errno),
 * and the printf-style message followed by ": " and strerror(e).
 * Returns ZPM_EIO. err may be NULL.
 */
int zpm_error_errno(struct zpm_error *err, int e, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* Short stable name of a status ("io", "yaml", "network"...). */
const char *zpm_status_name(int status);

#endif
