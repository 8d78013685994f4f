/*
 * The tree walker (see zpm/walk.h). A directory is read whole when the
 * walk enters it: its names into one buffer, sorted, each lstat'ed with
 * fstatat on the directory's descriptor (without file_sizes, only those
 * the listing's d_type names a directory or does not name), which is
 * then closed. The walk keeps a stack of such levels and a path buffer;
 * a level's entries are handed out one by one, and a directory entry is
 * entered on the call after it was handed out (depth first, the
 * directory first).
 */
#define _DEFAULT_SOURCE 1  /* fstatat, openat, fdopendir with glibc */

#include "zpm/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct item {
  size_t name;               /* offset in the level's names */
  const char *p;             /* the name, once the names are all read */
  unsigned char type;        /* d_type: DT_UNKNOWN when not given */
  enum zpm_walk_kind kind;
  long long size;
  dev_t dev;                 /* what lstat saw: the directory entered */
  ino_t ino;                 /* later must be this one */
};

struct level {
  char *names;               /* NUL-terminated names, back to back */
  struct item *items;
  size_t count;
  size_t next;               /* the next item to hand out */
  size_t path_len;           /* length of this directory's path */
};

struct zpm_walk {
  struct zpm_walk_options opts;
  char *root;
  int root_fd;
  struct level *levels;
  size_t depth, cap_levels;
  char *path;                /* the current entry's path, NUL-terminated */
  size_t cap_path;
  int enter;                 /* the last entry is a directory to enter */
  dev_t enter_dev;           /* and what its lstat saw */
  ino_t enter_ino;
  int failed;
  struct zpm_error err;
};

static int oom(struct zpm_walk *w)
{
  w->failed = 1;
  return zpm_error_set(&w->err, ZPM_ENOMEM, "walk: out of memory");
}

/*
 * A path for a message: root "/" rel, its middle elided past SHOWN_MAX
 * bytes, so that a message (ZPM_ERRMSG_SIZE bytes) keeps its reason.
 */
#define SHOWN_MAX 320
#define SHOWN_HEAD 100

static const char *shown_path(char *buf, size_t size, const char *root,
                              const char *rel)
{
  char *full;
  size_t n;

  n = strlen(root) + (rel != NULL ? 1 + strlen(rel) : 0);
  full = malloc(n + 1);
  if (full == NULL) {
    snprintf(buf, size, "%s", root);
    return buf;
  }
  snprintf(full, n + 1, "%s%s%s", root, rel != NULL ? "/" : "",
           rel != NULL ? rel : "");
  if (n <= SHOWN_MAX || size < SHOWN_MAX + 4)
    snprintf(buf, size, "%s", full);
  else
    snprintf(buf, size, "%.*s...%s", SHOWN_HEAD, full,
             full + n - (SHOWN_MAX - SHOWN_HEAD - 3));
  free(full);
  return buf;
}

/* The path of the entry named name under the directory of path_len. */
static int set_path(struct zpm_walk *w, size_t path_len, const char *name)
{
  size_t n = strlen(name);
  size_t need = path_len + 1 + n + 1;

  if (need > w->cap_path) {
    size_t cap = w->cap_path * 2 > need ? w->cap_path * 2 : need;
    char *p = realloc(w->path, cap);

    if (p == NULL)
      return oom(w);
    w->path = p;
    w->cap_path = cap;
  }
  if (path_len > 0)
    w->path[path_len++] = '/';
  memcpy(w->path + path_len, name, n + 1);
  return ZPM_OK;
}

static int by_name(const void *a, const void *b)
{
  return strcmp(((const struct item *)a)->p, ((const struct item *)b)->p);
}

static enum zpm_walk_kind kind_of(mode_t mode)
{
  if (S_ISREG(mode))
    return ZPM_WALK_FILE;
  if (S_ISDIR(mode))
    return ZPM_WALK_DIRECTORY;
  if (S_ISLNK(mode))
    return ZPM_WALK_LINK;
  return ZPM_WALK_OTHER;
}

/* The kind a listing's d_type names (DT_UNKNOWN: see the lstat). */
static enum zpm_walk_kind listed_kind(unsigned char type)
{
  switch (type) {
  case DT_REG:
    return ZPM_WALK_FILE;
  case DT_DIR:
    return ZPM_WALK_DIRECTORY;
  case DT_LNK:
    return ZPM_WALK_LINK;
  default:
    return ZPM_WALK_OTHER;
  }
}

/* Read the directory dfd into lv (names only); dfd is closed. */
static int read_names(struct zpm_walk *w, int dfd, struct level *lv,
                      const char *shown)
{
  DIR *dir = fdopendir(dfd);
  size_t used = 0, cap = 4096, cap_items = 64;
  struct dirent *de;

  if (dir == NULL) {
    int e = errno;

    close(dfd);
    w->failed = 1;
    return zpm_error_errno(&w->err, e, "cannot open directory '%s'", shown);
  }
  lv->names = malloc(cap);
  lv->items = malloc(cap_items * sizeof *lv->items);
  if (lv->names == NULL || lv->items == NULL) {
    closedir(dir);
    return oom(w);
  }
  for (;;) {
    size_t n;

    errno = 0;
    de = readdir(dir);
    if (de == NULL)
      break;
    if (de->d_name[0] == '.' && (w->opts.skip_hidden || de->d_name[1] == '\0'
                                 || (de->d_name[1] == '.'
                                     && de->d_name[2] == '\0')))
      continue;
    n = strlen(de->d_name) + 1;
    if (used + n > cap || lv->count == cap_items) {
      char *names = lv->names;
      struct item *items = lv->items;

      while (used + n > cap)
        cap *= 2;
      if (lv->count == cap_items)
        cap_items *= 2;
      names = realloc(names, cap);
      if (names != NULL)
        lv->names = names;
      items = realloc(items, cap_items * sizeof *items);
      if (items != NULL)
        lv->items = items;
      if (names == NULL || items == NULL) {
        closedir(dir);
        return oom(w);
      }
    }
    memcpy(lv->names + used, de->d_name, n);
    lv->items[lv->count].type = de->d_type;
    lv->items[lv->count++].name = used;
    used += n;
  }
  if (errno != 0) {
    int e = errno;

    closedir(dir);
    w->failed = 1;
    return zpm_error_errno(&w->err, e, "cannot read directory '%s'", shown);
  }
  for (size_t i = 0; i < lv->count; i++)
    lv->items[i].p = lv->names + lv->items[i].name;
  qsort(lv->items, lv->count, sizeof *lv->items, by_name);
  for (size_t i = 0; i < lv->count; i++) {
    struct stat st;
    const char *name = lv->items[i].p;
    enum zpm_walk_kind listed = listed_kind(lv->items[i].type);

    /* a directory's lstat is kept (entering checks it); a file's only
     * gives its size, which the writer's fstat learns anyway */
    if (!w->opts.file_sizes && listed != ZPM_WALK_DIRECTORY
        && lv->items[i].type != DT_UNKNOWN) {
      lv->items[i].kind = listed;
      lv->items[i].size = listed == ZPM_WALK_FILE ? -1 : 0;
      continue;
    }
    if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      int e = errno;

      closedir(dir);
      w->failed = 1;
      char shown2[SHOWN_MAX + 4];

      if (set_path(w, lv->path_len, name) != ZPM_OK)
        return w->err.status;
      return zpm_error_errno(&w->err, e, "cannot add '%s'",
                             shown_path(shown2, sizeof shown2, w->root,
                                        w->path));
    }
    lv->items[i].kind = kind_of(st.st_mode);
    lv->items[i].size = (long long)st.st_size;
    lv->items[i].dev = st.st_dev;
    lv->items[i].ino = st.st_ino;
  }
  closedir(dir);
  return ZPM_OK;
}

/*
 * Enter the directory whose path (relative to the root) is w->path, the
 * one the parent's listing saw as dev/ino: a directory replaced since
 * (by a symlink to elsewhere, say) is an error, not followed.
 */
static int enter(struct zpm_walk *w, size_t path_len, dev_t dev, ino_t ino)
{
  struct level *lv;
  const char *rel = path_len > 0 ? w->path : ".";
  char shown[SHOWN_MAX + 4];
  struct stat st;
  int dfd;

  if (zpm_cancelled(w->opts.cancel)) {
    w->failed = 1;
    return zpm_error_set(&w->err, ZPM_ECANCELED, "interrupted");
  }
  if (w->depth == w->cap_levels) {
    size_t cap = w->cap_levels > 0 ? w->cap_levels * 2 : 16;
    struct level *levels = realloc(w->levels, cap * sizeof *levels);

    if (levels == NULL)
      return oom(w);
    w->levels = levels;
    w->cap_levels = cap;
  }
  lv = &w->levels[w->depth];
  memset(lv, 0, sizeof *lv);
  lv->path_len = path_len;
  w->depth++;  /* counted now: free releases what read_names allocated */
  shown_path(shown, sizeof shown, w->root, path_len > 0 ? w->path : NULL);
  dfd = openat(w->root_fd, rel,
               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    w->failed = 1;
    return zpm_error_errno(&w->err, errno, "cannot open directory '%s'",
                           shown);
  }
  if (path_len > 0 && (fstat(dfd, &st) != 0 || st.st_dev != dev
                       || st.st_ino != ino)) {
    close(dfd);
    w->failed = 1;
    return zpm_error_set(&w->err, ZPM_EIO,
                         "'%s' was replaced while being walked", shown);
  }
  return read_names(w, dfd, lv, shown);
}

static void leave(struct zpm_walk *w)
{
  struct level *lv = &w->levels[--w->depth];

  free(lv->names);
  free(lv->items);
}

int zpm_walk_open(struct zpm_walk **out, const char *root,
                  const struct zpm_walk_options *options,
                  struct zpm_error *err)
{
  struct zpm_walk *w;
  int status;

  *out = NULL;
  w = calloc(1, sizeof *w);
  if (w == NULL || (w->root = strdup(root)) == NULL) {
    free(w);
    return zpm_error_set(err, ZPM_ENOMEM, "walk: out of memory");
  }
  if (options != NULL)
    w->opts = *options;
  w->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (w->root_fd < 0) {
    char shown[SHOWN_MAX + 4];

    status = zpm_error_errno(err, errno, "cannot open directory '%s'",
                             shown_path(shown, sizeof shown, root, NULL));
    zpm_walk_free(w);
    return status;
  }
  status = enter(w, 0, 0, 0);
  if (status != ZPM_OK) {
    if (err != NULL)
      *err = w->err;
    zpm_walk_free(w);
    return status;
  }
  *out = w;
  return ZPM_OK;
}

int zpm_walk_next(struct zpm_walk *w, struct zpm_walk_entry *entry)
{
  if (w->failed)
    return -w->err.status;
  if (w->enter) {
    w->enter = 0;
    if (enter(w, strlen(w->path), w->enter_dev, w->enter_ino) != ZPM_OK)
      return -w->err.status;
  }
  while (w->depth > 0) {
    struct level *lv = &w->levels[w->depth - 1];

    if (lv->next < lv->count) {
      const struct item *it = &lv->items[lv->next++];

      if (set_path(w, lv->path_len, it->p) != ZPM_OK)
        return -w->err.status;
      entry->path = w->path;
      entry->path_len = strlen(w->path);
      entry->kind = it->kind;
      entry->size = it->size;
      w->enter = it->kind == ZPM_WALK_DIRECTORY;
      w->enter_dev = it->dev;
      w->enter_ino = it->ino;
      return 1;
    }
    leave(w);
  }
  return 0;
}

const struct zpm_error *zpm_walk_error(const struct zpm_walk *w)
{
  return &w->err;
}

void zpm_walk_free(struct zpm_walk *w)
{
  if (w == NULL)
    return;
  while (w->depth > 0)
    leave(w);
  if (w->root_fd >= 0)
    close(w->root_fd);
  free(w->levels);
  free(w->path);
  free(w->root);
  free(w);
}
