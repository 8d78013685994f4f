/* Tests of the tree walker (zpm/walk.h) on a real tree under $ZPM_TEST_TMP. */
#define _DEFAULT_SOURCE 1
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "zpm/walk.h"

static char root[4096];

static void make(const char *rel, const char *data)
{
  char path[8192];
  FILE *f;

  snprintf(path, sizeof path, "%s/%s", root, rel);
  if (data == NULL) {
    CHECK(mkdir(path, 0755) == 0);
    return;
  }
  f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(data, f);
    fclose(f);
  }
}

/* Every entry of a walk of dir, "path kind size" per line, into out. */
static int walk_with(const char *dir, const struct zpm_walk_options *o,
                     char *out, size_t cap, struct zpm_error *err)
{
  struct zpm_walk_entry e;
  struct zpm_walk *w;
  size_t used = 0;
  int r;

  out[0] = '\0';
  r = zpm_walk_open(&w, dir, o, err);
  if (r != ZPM_OK)
    return r;
  while ((r = zpm_walk_next(w, &e)) > 0) {
    static const char kinds[] = "fdlo";

    CHECK(strlen(e.path) == e.path_len);
    used += (size_t)snprintf(out + used, cap - used, "%s %c %lld\n", e.path,
                             kinds[e.kind],
                             e.kind == ZPM_WALK_FILE ? e.size : 0LL);
  }
  if (r < 0)
    *err = *zpm_walk_error(w);
  zpm_walk_free(w);
  return r < 0 ? -r : ZPM_OK;
}

static int walk_all(const char *dir, int skip_hidden,
                    const zpm_cancel_flag *cancel, char *out, size_t cap,
                    struct zpm_error *err)
{
  struct zpm_walk_options o = { .skip_hidden = skip_hidden,
                                .file_sizes = 1, .cancel = cancel };

  return walk_with(dir, &o, out, cap, err);
}

static void test_order_kinds_hidden(void)
{
  char out[4096];
  struct zpm_error err;
  char path[8192], target[8192];

  make("b.c", "12345");
  make("B", "x");
  make("b-", "");
  make("a", NULL);
  make("a/z", "zz");
  make("a/m", NULL);
  make("a/m/deep", "d");
  make(".hidden", NULL);
  make(".hidden/h", "h");
  make("a/.h", "h");
  snprintf(path, sizeof path, "%s/link", root);
  snprintf(target, sizeof target, "%s/a", root);
  CHECK(symlink(target, path) == 0);        /* to a directory: not walked */
  snprintf(path, sizeof path, "%s/fifo", root);
  CHECK(mkfifo(path, 0644) == 0);
  CHECK(walk_all(root, 1, NULL, out, sizeof out, &err) == ZPM_OK);
  /* byte order: 'B' < 'a' < 'b-' < 'b.c' < 'fifo' < 'link' */
  CHECK_STR(out, "B f 1\n"
                 "a d 0\n"
                 "a/m d 0\n"
                 "a/m/deep f 1\n"
                 "a/z f 2\n"
                 "b- f 0\n"
                 "b.c f 5\n"
                 "fifo o 0\n"
                 "link l 0\n");
  CHECK(walk_all(root, 0, NULL, out, sizeof out, &err) == ZPM_OK);
  CHECK(strstr(out, ".hidden d 0\n.hidden/h f 1\n") == out);
  CHECK(strstr(out, "a/.h f 1\n") != NULL);
}

/* Without file_sizes the kinds come from the listing: the same walk,
 * every file's size -1. */
static void test_kinds_without_sizes(void)
{
  struct zpm_walk_options o = { .skip_hidden = 1 };
  struct zpm_error err;
  char out[4096];

  CHECK(walk_with(root, &o, out, sizeof out, &err) == ZPM_OK);
  CHECK_STR(out, "B f -1\n"
                 "a d 0\n"
                 "a/m d 0\n"
                 "a/m/deep f -1\n"
                 "a/z f -1\n"
                 "b- f -1\n"
                 "b.c f -1\n"
                 "fifo o 0\n"
                 "link l 0\n");
}

static void test_errors(void)
{
  char out[4096], path[8192], want[8300];
  struct zpm_error err;

  snprintf(path, sizeof path, "%s/link", root);
  CHECK(walk_all(path, 1, NULL, out, sizeof out, &err) == ZPM_EIO);
  snprintf(want, sizeof want, "cannot open directory '%s': %s", path,
           strerror(ENOTDIR));  /* O_DIRECTORY | O_NOFOLLOW */
  CHECK_STR(err.message, want);
  snprintf(path, sizeof path, "%s/b.c", root);
  CHECK(walk_all(path, 1, NULL, out, sizeof out, &err) == ZPM_EIO);
  snprintf(path, sizeof path, "%s/missing", root);
  CHECK(walk_all(path, 1, NULL, out, sizeof out, &err) == ZPM_EIO);
  CHECK(err.lib_code == ENOENT);
}

/* A directory swapped for a symlink to elsewhere after its parent was
 * listed is an error, not followed; a long path keeps its reason. */
static void test_replaced_and_long(void)
{
  char path[8192], target[8192], moved[8192], want[8300];
  struct zpm_walk_options o = { .skip_hidden = 1 };  /* as bundle's */
  struct zpm_walk_entry e;
  struct zpm_error err;
  struct zpm_walk *w;
  char out[4096];
  char rel[700];

  make("sw", NULL);
  make("sw/a", NULL);
  make("sw/a/m", NULL);
  make("sw/a/m/f", "f");
  make("other", NULL);
  make("other/m", NULL);
  make("other/m/secret", "s");
  snprintf(path, sizeof path, "%s/sw", root);
  CHECK(zpm_walk_open(&w, path, &o, &err) == ZPM_OK);
  CHECK(zpm_walk_next(w, &e) == 1);
  CHECK_STR(e.path, "a");
  CHECK(zpm_walk_next(w, &e) == 1);
  CHECK_STR(e.path, "a/m");
  snprintf(moved, sizeof moved, "%s/sw/a.real", root);
  snprintf(path, sizeof path, "%s/sw/a", root);
  snprintf(target, sizeof target, "%s/other", root);
  CHECK(rename(path, moved) == 0);
  CHECK(symlink(target, path) == 0);
  CHECK(zpm_walk_next(w, &e) == -ZPM_EIO);
  snprintf(want, sizeof want, "'%s/sw/a/m' was replaced while being walked",
           root);
  CHECK_STR(zpm_walk_error(w)->message, want);
  zpm_walk_free(w);

  /* three missing 200-byte components: ENOENT, path elided */
  memset(rel, 'n', sizeof rel - 1);
  rel[sizeof rel - 1] = '\0';
  rel[200] = rel[401] = '/';
  rel[602] = '\0';
  snprintf(path, sizeof path, "%s/%s", root, rel);
  CHECK(walk_all(path, 1, NULL, out, sizeof out, &err) == ZPM_EIO);
  CHECK(strstr(err.message, "...") != NULL);
  snprintf(want, sizeof want, "': %s", strerror(ENOENT));
  CHECK(strlen(err.message) > strlen(want)
        && strcmp(err.message + strlen(err.message) - strlen(want), want)
             == 0);
}

static void test_cancel(void)
{
  zpm_cancel_flag flag = 2;
  char out[4096];
  struct zpm_error err;

  CHECK(walk_all(root, 1, &flag, out, sizeof out, &err) == ZPM_ECANCELED);
  CHECK_STR(err.message, "interrupted");
}

/* 300 levels: the walk holds no descriptor per level. */
static void test_deep(void)
{
  static char out[1 << 20];
  char rel[8192] = "deep";
  struct zpm_error err;
  int fds_before = 0, fds_max = 0;
  struct zpm_walk_options o = { .skip_hidden = 1, .file_sizes = 1 };
  struct zpm_walk_entry e;
  struct zpm_walk *w;
  int r, n = 0;
  DIR *d;

  make(rel, NULL);
  for (int i = 0; i < 300; i++) {
    strcat(rel, "/d");
    make(rel, NULL);
  }
  d = opendir("/proc/self/fd");
  while (d != NULL && readdir(d) != NULL)
    fds_before++;
  if (d != NULL)
    closedir(d);
  CHECK(zpm_walk_open(&w, root, &o, &err) == ZPM_OK);
  while ((r = zpm_walk_next(w, &e)) > 0) {
    int fds = 0;

    n += strncmp(e.path, "deep", 4) == 0;
    d = opendir("/proc/self/fd");
    while (d != NULL && readdir(d) != NULL)
      fds++;
    if (d != NULL)
      closedir(d);
    if (fds > fds_max)
      fds_max = fds;
  }
  CHECK(r == 0);
  CHECK(n == 301);
  CHECK(fds_max <= fds_before + 1);  /* the root's descriptor */
  zpm_walk_free(w);
  CHECK(walk_all(root, 1, NULL, out, sizeof out, &err) == ZPM_OK);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(void)
{
  const char *base = getenv("ZPM_TEST_TMP");
  char tmpl[4096];
  int failed;

  if (base != NULL && *base != '\0') {
    mkdir(base, 0755);
    snprintf(tmpl, sizeof(tmpl), "%s/walk-XXXXXX", base);
  } else {
    snprintf(tmpl, sizeof(tmpl), "/tmp/zpm-test-walk-XXXXXX");
  }
  if (mkdtemp(tmpl) == NULL) {
    perror(tmpl);
    return 1;
  }
  snprintf(root, sizeof(root), "%s", tmpl);
  test_order_kinds_hidden();
  test_kinds_without_sizes();
  test_errors();
  test_replaced_and_long();
  test_cancel();
  test_deep();
  failed = CHECK_DONE();
  if (!failed)
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  else
    fprintf(stderr, "left %s for inspection\n", root);
  return failed;
}
