/*
 * Walking a directory tree for the bundle plan: every entry under a root,
 * depth first, a directory before its contents, the names of a directory
 * in byte order (what `table.sort` gives in the C locale), each with the
 * kind and size its lstat says, never following a symlink.
 *
 * It costs one fstatat per entry, relative to its directory's descriptor
 * (no path lookup from the root, no readlink), and one open per
 * directory, by its path from the root's descriptor. Without file_sizes,
 * an entry whose kind the directory listing gives (d_type) is lstat'ed
 * only when it is a directory: a regular file then has size -1, a link
 * or other 0, and the walk makes one fstatat per directory, not per
 * entry. The walker holds the root's descriptor and the sorted entries
 * of the directories it is inside, never one descriptor per level. A
 * directory whose path from the root is longer than PATH_MAX (4096
 * bytes) cannot be opened (an error: ENAMETOOLONG). A directory is
 * checked to be the one its parent's listing lstat'ed (device and
 * inode) when it is entered: one replaced meanwhile, by a symlink to
 * elsewhere say, is an error, never followed. Paths in messages longer
 * than 320 bytes lose their middle ("...") so that the reason fits.
 */
#ifndef ZPM_WALK_H
#define ZPM_WALK_H

#include <stddef.h>

#include "zpm/cancel.h"
#include "zpm/error.h"

enum zpm_walk_kind {
  ZPM_WALK_FILE,       /* a regular file */
  ZPM_WALK_DIRECTORY,
  ZPM_WALK_LINK,       /* a symbolic link (not followed) */
  ZPM_WALK_OTHER       /* a FIFO, socket or device */
};

struct zpm_walk_entry {
  const char *path;    /* relative to the root ("a/b"); valid until next */
  size_t path_len;
  enum zpm_walk_kind kind;
  long long size;      /* st_size; -1 for a file without file_sizes */
};

struct zpm_walk_options {
  int skip_hidden;     /* non-zero: leave out names starting with '.' */
  int file_sizes;      /* non-zero: lstat every entry, files included */
  const zpm_cancel_flag *cancel;  /* or NULL: checked per directory */
};

struct zpm_walk;

/*
 * Start walking the directory root (a symlink is refused: ENOTDIR). Errors
 * name the path: "cannot open directory '<root>': <strerror>".
 */
int zpm_walk_open(struct zpm_walk **out, const char *root,
                  const struct zpm_walk_options *options,
                  struct zpm_error *err);

/*
 * The next entry: 1 and *entry set, 0 at the end, or a negative status
 * (-ZPM_EIO, -ZPM_ECANCELED...) with zpm_walk_error set; the walk stops
 * at the first error ("cannot add '<root>/<path>': ..." when an entry
 * vanished, "cannot open directory '<root>/<path>': ..." when a
 * directory cannot be read).
 */
int zpm_walk_next(struct zpm_walk *w, struct zpm_walk_entry *entry);

const struct zpm_error *zpm_walk_error(const struct zpm_walk *w);

void zpm_walk_free(struct zpm_walk *w);

#endif
