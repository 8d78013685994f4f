/*
 * Writing zapps: a tar stream (libarchive, pax-restricted format) through
 * the parallel gzip compressor into a file that appears atomically.
 *
 * Headers are deterministic: uid/gid 0, empty owner names, the file's mode
 * and mtime (or options->mtime when set, for SOURCE_DATE_EPOCH). Data is
 * streamed from disk in fixed-size blocks.
 */
#ifndef ZPM_ARCHIVE_H
#define ZPM_ARCHIVE_H

#include <stddef.h>

#include "zpm/cancel.h"
#include "zpm/error.h"
#include "zpm/progress_fn.h"

struct zpm_archive_options {
  int level;            /* gzip level 1..9; 0 means 6 */
  int threads;          /* compressor threads; 0 means automatic */
  int fixed_mtime;      /* non-zero: use mtime for every member */
  long long mtime;
};

struct zpm_archive_writer;

/*
 * Start a .tar.gz at path, ending with the record of the tar's MD5 and
 * length (zpm/gzip_record.h). Output goes to a temporary file in the same
 * directory, ".<name>.tmp-XXXXXX", on which the writer holds an
 * exclusive flock(2) until it is renamed or removed; nothing appears at
 * path until zpm_archive_commit succeeds. Temporary files of killed
 * writers for the same path are removed first (zpm_archive_remove_stale).
 */
int zpm_archive_create(struct zpm_archive_writer **out, const char *path,
                       const struct zpm_archive_options *options,
                       struct zpm_error *err);

/*
 * Add one file system object under arcname, without following symlinks:
 * a regular file (its data streamed), a directory (its entry only; the
 * caller walks it), or a symbolic link (stored as a link). Other types
 * are refused with ZPM_EINVAL.
 */
int zpm_archive_add_path(struct zpm_archive_writer *w, const char *disk_path,
                         const char *arcname);

/*
 * zpm_archive_add_path for a path a walk saw as a regular file: it is
 * opened (never following a link) and fstat'ed without an lstat first,
 * one system call less per file. Whatever else is found there (gone, a
 * directory, a link, a FIFO) is added or refused as by
 * zpm_archive_add_path, with its messages.
 */
int zpm_archive_add_file(struct zpm_archive_writer *w, const char *disk_path,
                         const char *arcname);

/* Add a regular file member from memory. mtime < 0 means "default". */
int zpm_archive_add_memory(struct zpm_archive_writer *w, const char *arcname,
                           const void *data, size_t len, unsigned mode,
                           long long mtime);

/*
 * Report progress to fn(ud, done, 0) from now on (fn NULL: none, the
 * default): done counts the bytes of member data read so far (files and
 * memory members; the total is the caller's to know), reported as each
 * block is written, in the calling thread.
 */
void zpm_archive_set_progress(struct zpm_archive_writer *w,
                              zpm_progress_fn fn, void *ud);

/*
 * Stop when *flag becomes non-zero (see zpm/cancel.h): the add or commit
 * under way, and every later call, fail with ZPM_ECANCELED, and the
 * temporary file is removed. NULL (the default) never stops.
 */
void zpm_archive_set_cancel(struct zpm_archive_writer *w,
                            const zpm_cancel_flag *flag);

/*
 * Finish the archive, flush it to disk and rename it to its path. Every
 * write, the fsync and the close are checked first: on any failure the
 * temporary file is removed, the file at path is left as it was, and the
 * error names the temporary file and errno ("cannot write '<dir>/.x.zapp
 * .tmp-AbC123': No space left on device", ZPM_EIO, lib_code ENOSPC).
 */
int zpm_archive_commit(struct zpm_archive_writer *w);

/* Discard: remove the temporary file and free. Safe after commit. */
void zpm_archive_free(struct zpm_archive_writer *w);

/*
 * Remove the temporary files that killed writers left beside path: names
 * ".<name>.tmp-" and six letters or digits, regular files of this user
 * that no writer holds locked. Best effort (a file that cannot be locked
 * or removed stays); returns how many were removed.
 */
int zpm_archive_remove_stale(const char *path);

/* Path of the temporary file being written (to keep it out of globs). */
const char *zpm_archive_temp_path(const struct zpm_archive_writer *w);

const struct zpm_error *zpm_archive_error(const struct zpm_archive_writer *w);

/*
 * An uncompressed tar built in memory, for Swift's bulk middleware
 * (PUT ...?extract-archive=tar): regular-file members from memory, in
 * the order added, pax-restricted (names longer than 100 bytes or not
 * ASCII go in a pax "path" record, the bytes given, with the record
 * hdrcharset=BINARY). A member's MIME type, when
 * given, is the pax record SCHILY.xattr.user.mime_type (the extended
 * attribute user.mime_type, as GNU tar and bsdtar write it), which the
 * bulk middleware makes the object's Content-Type. Headers are
 * deterministic: mode 0644, uid/gid 0, mtime 0, no owner names.
 *
 * size_hint (bytes; 0: none) sizes the buffer up front; it grows as
 * needed. An add refused before its header (an empty name) leaves the
 * builder usable; a failure after it breaks the builder: later calls
 * return its error.
 */
struct zpm_tar_buffer;

int zpm_tar_buffer_new(struct zpm_tar_buffer **out, size_t size_hint,
                       struct zpm_error *err);

int zpm_tar_buffer_add(struct zpm_tar_buffer *t, const char *name,
                       const void *data, size_t len, const char *mime_type);

/*
 * End the tar (its two zero blocks) and hand back its bytes, which stay
 * the builder's until zpm_tar_buffer_free. No add after this.
 */
int zpm_tar_buffer_finish(struct zpm_tar_buffer *t, const void **data,
                          size_t *len);

const struct zpm_error *zpm_tar_buffer_error(const struct zpm_tar_buffer *t);

void zpm_tar_buffer_free(struct zpm_tar_buffer *t);

#endif
