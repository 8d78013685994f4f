/*
 * What the source implementations (source_*.c) share and no user of
 * zpm/source.h needs.
 */
#ifndef ZPM_SOURCE_IMPL_H
#define ZPM_SOURCE_IMPL_H

#include <sys/stat.h>
#include <sys/types.h>

#include "zpm/source.h"
#include "zpm/util.h"

/* Open path read-only and check it is a regular file; -1 on failure. */
int zpm_open_regular(const char *path, struct stat *st,
                     struct zpm_error *err);

#endif
