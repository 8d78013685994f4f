/*
 * What the source implementations (source_*.c) share and no user of
 * zpm/source.h needs.
 */
#ifndef ZPM_SOURCE_IMPL_H
#define ZPM_SOURCE_IMPL_H

#include <sys/stat.h>
#include <sys/types.h>

#include "zpm/source.h"

/* pread that retries EINTR; returns bytes read or -1 with errno set. */
ssize_t zpm_pread_full(int fd, void *buf, size_t len, off_t pos);

/* Open path read-only and check it is a regular file; -1 on failure. */
int zpm_open_regular(const char *path, struct stat *st,
                     struct zpm_error *err);

#endif
