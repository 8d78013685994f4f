/*
 * Small helpers shared by the core and the bindings, each written once.
 */
#ifndef ZPM_UTIL_H
#define ZPM_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write all len bytes of buf to fd, through EINTR and partial writes.
 * Returns 0, or the errno of the failed write (EIO when write(2) wrote
 * nothing without an error, which only a broken file system does).
 */
int zpm_write_all(int fd, const void *buf, size_t len);

/* pread that retries EINTR; returns bytes read or -1 with errno set. */
ssize_t zpm_pread_full(int fd, void *buf, size_t len, off_t pos);

#endif
