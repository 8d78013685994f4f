/*
 * Reading zapps: walk the members of a tar archive (gzip-compressed or
 * not, detected from the data) one by one, streaming each member's data
 * in pieces. Nothing is extracted to disk; memory stays bounded.
 */
#ifndef ZPM_TAR_READER_H
#define ZPM_TAR_READER_H

#include <stddef.h>

#include "zpm/error.h"

enum zpm_tar_type {
  ZPM_TAR_FILE,
  ZPM_TAR_DIRECTORY,
  ZPM_TAR_SYMLINK,
  ZPM_TAR_HARDLINK,
  ZPM_TAR_OTHER     /* devices, FIFOs, sockets */
};

struct zpm_tar_entry {
  const char *name;       /* valid until the next zpm_tar_next */
  const char *linkname;   /* symlink/hardlink target, or NULL */
  long long size;         /* declared data size */
  enum zpm_tar_type type;
  unsigned mode;          /* permission bits */
};

struct zpm_tar_reader;

int zpm_tar_open(struct zpm_tar_reader **out, const char *path,
                 struct zpm_error *err);

/*
 * The same from an open descriptor: read from its start through a
 * duplicate (closed by zpm_tar_close), so every reader of one descriptor
 * sees one version of the file. name is for messages.
 */
int zpm_tar_open_fd(struct zpm_tar_reader **out, int fd, const char *name,
                    struct zpm_error *err);

/*
 * Advance to the next member. On success *done is 0 and entry is filled,
 * or *done is 1 at the end of the archive.
 */
int zpm_tar_next(struct zpm_tar_reader *r, struct zpm_tar_entry *entry,
                 int *done);

/* Read up to cap bytes of the current member's data; *got 0 at its end. */
int zpm_tar_read(struct zpm_tar_reader *r, void *buf, size_t cap,
                 size_t *got);

void zpm_tar_close(struct zpm_tar_reader *r);

const struct zpm_error *zpm_tar_error(const struct zpm_tar_reader *r);

#endif
