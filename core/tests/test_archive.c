/* Tests for the zapp writer: members read back with libarchive's reader,
 * byte-identical output for the same inputs, fixed mtimes, no temporary
 * file left behind on failure, atomic commit and umask-based mode, a
 * write failing at the very end (disk full at the last flush), and the
 * temporary files of killed writers removed by the next one. */
/* flock(2) is BSD, not POSIX: glibc declares it under _DEFAULT_SOURCE. */
#define _DEFAULT_SOURCE 1

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "check.h"
#include "zpm/archive.h"

#define MTIME_A 1600000000LL
#define MTIME_FIXED 1234567890LL

static char root[4096];

static void join(char *out, size_t size, const char *a, const char *b)
{
  snprintf(out, size, "%s/%s", a, b);
}

static void write_file(const char *rel, const void *data, size_t len,
                       mode_t mode)
{
  char p[4200];
  FILE *f;
  struct timespec ts[2];

  join(p, sizeof(p), root, rel);
  f = fopen(p, "wb");
  CHECK(f != NULL);
  if (f == NULL)
    return;
  CHECK(fwrite(data, 1, len, f) == len);
  fclose(f);
  CHECK(chmod(p, mode) == 0);
  ts[0].tv_sec = MTIME_A;
  ts[0].tv_nsec = 0;
  ts[1].tv_sec = MTIME_A;
  ts[1].tv_nsec = 123456789;  /* sub-second part must not leak */
  CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
}

static void make_dir(const char *rel, mode_t mode)
{
  char p[4200];

  join(p, sizeof(p), root, rel);
  CHECK(mkdir(p, mode) == 0);
  CHECK(chmod(p, mode) == 0);
}

static const char *path_of(const char *rel)
{
  static char p[8][4200];
  static int i;

  i = (i + 1) % 8;
  join(p[i], sizeof(p[i]), root, rel);
  return p[i];
}

/* Count directory entries of root/out whose names start with prefix. */
static int count_prefix(const char *rel_dir, const char *prefix)
{
  DIR *d = opendir(path_of(rel_dir));
  struct dirent *de;
  int n = 0;

  if (d == NULL)
    return -1;
  for (;;) {
    de = readdir(d);
    if (de == NULL)
      break;
    if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
      n++;
  }
  closedir(d);
  return n;
}

static unsigned char *read_all(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  unsigned char *d = NULL;
  long n;

  *len = 0;
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  d = malloc(n > 0 ? (size_t)n : 1);
  if (d != NULL && fread(d, 1, (size_t)n, f) == (size_t)n)
    *len = (size_t)n;
  fclose(f);
  return d;
}

static unsigned char big[300 * 1024 + 7];
static char long_dir[160];

static void make_tree(void)
{
  size_t i;
  unsigned x = 12345;

  for (i = 0; i < sizeof(big); i++) {
    x = x * 1103515245u + 12345u;
    big[i] = (unsigned char)(i % 3 == 0 ? (x >> 16) : 'a' + i % 7);
  }
  CHECK(mkdir(path_of("src"), 0755) == 0);
  write_file("src/a.txt", "hello\n", 6, 0644);
  make_dir("src/sub", 0750);
  make_dir("src/sub/deep", 0755);
  write_file("src/sub/deep/big.bin", big, sizeof(big), 0600);
  write_file("src/sub/run.sh", "#!/bin/sh\necho hi\n", 18, 0755);
  write_file("src/empty", "", 0, 0644);
  CHECK(symlink("a.txt", path_of("src/link")) == 0);
  /* A name over 100 bytes needs a pax extended header. */
  memset(long_dir, 'd', 120);
  long_dir[120] = '\0';
  {
    char rel[200];
    snprintf(rel, sizeof(rel), "src/%s", long_dir);
    make_dir(rel, 0755);
    snprintf(rel, sizeof(rel), "src/%s/f.txt", long_dir);
    write_file(rel, "long\n", 5, 0644);
  }
  CHECK(mkfifo(path_of("src/fifo"), 0644) == 0);
  CHECK(mkdir(path_of("out"), 0755) == 0);
}

struct want {
  const char *name;
  unsigned type;
  unsigned perm;
  long long size;
  const void *data;
  const char *link;
  long long mtime;
};

static int write_archive(const char *rel_out, int threads,
                         const struct zpm_archive_options *base)
{
  struct zpm_archive_options opt = { 6, threads, 0, 0 };
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;
  char rel[400];
  int status = 0;
  int existed = access(path_of(rel_out), F_OK) == 0;

  if (base != NULL) {
    opt = *base;
    opt.threads = threads;
  }
  zpm_error_clear(&err);
  CHECK(zpm_archive_create(&w, path_of(rel_out), &opt, &err) == 0);
  if (w == NULL)
    return -1;
  status |= zpm_archive_add_memory(w, "boot/system.map", "{}\n", 3, 0644,
                                   -1);
  status |= zpm_archive_add_path(w, path_of("src/a.txt"), "a.txt");
  status |= zpm_archive_add_path(w, path_of("src/sub"), "sub");
  status |= zpm_archive_add_path(w, path_of("src/sub/deep"), "sub/deep/");
  status |= zpm_archive_add_path(w, path_of("src/sub/deep/big.bin"),
                                 "sub/deep/big.bin");
  status |= zpm_archive_add_path(w, path_of("src/sub/run.sh"),
                                 "sub/run.sh");
  status |= zpm_archive_add_path(w, path_of("src/empty"), "empty");
  status |= zpm_archive_add_path(w, path_of("src/link"), "link");
  snprintf(rel, sizeof(rel), "src/%s/f.txt", long_dir);
  status |= zpm_archive_add_path(w, path_of(rel), rel + 4);
  CHECK(status == 0);
  if (status != 0)
    fprintf(stderr, "  add: %s\n", zpm_archive_error(w)->message);
  /* The temporary file sits beside the output until commit. */
  CHECK(strstr(zpm_archive_temp_path(w), "/out/.") != NULL);
  CHECK(access(zpm_archive_temp_path(w), F_OK) == 0);
  if (!existed)
    CHECK(access(path_of(rel_out), F_OK) != 0);
  status = zpm_archive_commit(w);
  CHECK(status == 0);
  CHECK(access(zpm_archive_temp_path(w), F_OK) != 0);
  /* A second commit is refused; free after commit keeps the file. */
  CHECK(zpm_archive_commit(w) == ZPM_EINVAL);
  zpm_archive_free(w);
  CHECK(access(path_of(rel_out), F_OK) == 0);
  return status;
}

static void check_archive(const char *rel_out, long long fixed)
{
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  static char long_name[200];
  struct want wants[] = {
    { "boot/system.map", AE_IFREG, 0644, 3, "{}\n", NULL, 0 },
    { "a.txt", AE_IFREG, 0644, 6, "hello\n", NULL, MTIME_A },
    { "sub/", AE_IFDIR, 0750, 0, NULL, NULL, -1 },
    { "sub/deep/", AE_IFDIR, 0755, 0, NULL, NULL, -1 },
    { "sub/deep/big.bin", AE_IFREG, 0600, (long long)sizeof(big), big, NULL,
      MTIME_A },
    { "sub/run.sh", AE_IFREG, 0755, 18, "#!/bin/sh\necho hi\n", NULL,
      MTIME_A },
    { "empty", AE_IFREG, 0644, 0, "", NULL, MTIME_A },
    { "link", AE_IFLNK, 0777, 0, NULL, "a.txt", -1 },
    { long_name, AE_IFREG, 0644, 5, "long\n", NULL, MTIME_A },
  };
  size_t n = 0;
  unsigned char *buf = malloc(sizeof(big) + 16);

  snprintf(long_name, sizeof(long_name), "%s/f.txt", long_dir);
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  CHECK(archive_read_open_filename(a, path_of(rel_out), 10240)
        == ARCHIVE_OK);
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    const struct want *wt = n < sizeof(wants) / sizeof(wants[0])
                              ? &wants[n] : NULL;
    n++;
    if (wt == NULL)
      continue;
    CHECK_STR(archive_entry_pathname(e), wt->name);
    CHECK(archive_entry_filetype(e) == wt->type);
    CHECK((archive_entry_perm(e) & 07777) == wt->perm);
    CHECK(archive_entry_size(e) == wt->size);
    CHECK(archive_entry_uid(e) == 0 && archive_entry_gid(e) == 0);
    CHECK(archive_entry_uname(e) == NULL || *archive_entry_uname(e) == 0);
    CHECK(archive_entry_gname(e) == NULL || *archive_entry_gname(e) == 0);
    CHECK(!archive_entry_atime_is_set(e));
    CHECK(!archive_entry_ctime_is_set(e));
    CHECK(archive_entry_mtime_nsec(e) == 0);
    if (fixed >= 0)
      CHECK(archive_entry_mtime(e) == fixed);
    else if (wt->mtime >= 0)
      CHECK(archive_entry_mtime(e) == wt->mtime);
    if (wt->link != NULL)
      CHECK_STR(archive_entry_symlink(e), wt->link);
    if (wt->data != NULL) {
      la_ssize_t got = 0;
      la_ssize_t r;
      for (;;) {
        r = archive_read_data(a, buf + got, sizeof(big) + 16 - (size_t)got);
        if (r <= 0)
          break;
        got += r;
      }
      CHECK(got == wt->size);
      CHECK(got == 0 || memcmp(buf, wt->data, (size_t)got) == 0);
    }
  }
  CHECK(n == sizeof(wants) / sizeof(wants[0]));
  CHECK(archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP);
  archive_read_free(a);
  free(buf);
}

static void test_round_trip_and_reproducible(void)
{
  size_t la;
  size_t lb;
  size_t lc;
  unsigned char *da;
  unsigned char *db;
  unsigned char *dc;
  struct stat st;

  umask(022);
  CHECK(write_archive("out/one.zapp", 2, NULL) == 0);
  check_archive("out/one.zapp", -1);
  CHECK(stat(path_of("out/one.zapp"), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(count_prefix("out", ".one.zapp.tmp-") == 0);

  umask(077);
  CHECK(write_archive("out/two.zapp", 1, NULL) == 0);
  CHECK(stat(path_of("out/two.zapp"), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  umask(022);
  CHECK(write_archive("out/three.zapp", 4, NULL) == 0);

  da = read_all(path_of("out/one.zapp"), &la);
  db = read_all(path_of("out/two.zapp"), &lb);
  dc = read_all(path_of("out/three.zapp"), &lc);
  CHECK(la > 0 && la == lb && la == lc);
  CHECK(memcmp(da, db, la) == 0 && memcmp(da, dc, la) == 0);
  free(da);
  free(db);
  free(dc);

  /* Committing over an existing file replaces it. */
  CHECK(write_archive("out/one.zapp", 2, NULL) == 0);
  check_archive("out/one.zapp", -1);
}

static void test_fixed_mtime(void)
{
  struct zpm_archive_options opt = { 9, 2, 1, MTIME_FIXED };

  CHECK(write_archive("out/fixed.zapp", 2, &opt) == 0);
  check_archive("out/fixed.zapp", MTIME_FIXED);
}

static void test_failures_leave_nothing(void)
{
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;
  const struct zpm_error *we;
  char tmp[4200];

  zpm_error_clear(&err);
  CHECK(zpm_archive_create(&w, path_of("out/bad.zapp"), NULL, &err) == 0);
  if (w == NULL)
    return;
  snprintf(tmp, sizeof(tmp), "%s", zpm_archive_temp_path(w));
  CHECK(access(tmp, F_OK) == 0);

  CHECK(zpm_archive_add_path(w, path_of("src/missing"), "missing")
        == ZPM_EIO);
  we = zpm_archive_error(w);
  CHECK(we->lib_code == ENOENT);
  CHECK(strstr(we->message, "src/missing") != NULL);

  CHECK(zpm_archive_add_path(w, path_of("src/fifo"), "fifo") == ZPM_EINVAL);
  CHECK(strstr(zpm_archive_error(w)->message,
               "is not a regular file, directory or symlink") != NULL);
  CHECK(strstr(zpm_archive_error(w)->message, "src/fifo'") != NULL);

  /* Such failures do not break the writer. */
  CHECK(zpm_archive_add_path(w, path_of("src/a.txt"), "a.txt") == 0);
  CHECK(zpm_archive_add_memory(w, "", "x", 1, 0644, -1) == ZPM_EINVAL);

  zpm_archive_free(w);
  CHECK(access(tmp, F_OK) != 0);
  CHECK(access(path_of("out/bad.zapp"), F_OK) != 0);
  CHECK(count_prefix("out", ".bad.zapp.tmp-") == 0);

  /* No directory to put the temporary file in. */
  w = (struct zpm_archive_writer *)&err;
  CHECK(zpm_archive_create(&w, path_of("nodir/x.zapp"), NULL, &err)
        == ZPM_EIO);
  CHECK(w == NULL);
  CHECK(err.lib_code == ENOENT);
  CHECK(strstr(err.message, "nodir/x.zapp") != NULL);

  /* Bad options. */
  {
    struct zpm_archive_options opt = { 12, 0, 0, 0 };
    CHECK(zpm_archive_create(&w, path_of("out/x.zapp"), &opt, &err)
          == ZPM_EINVAL);
    CHECK(count_prefix("out", ".x.zapp.tmp-") == 0);
  }

  /* Discarded without commit after real members. */
  CHECK(zpm_archive_create(&w, path_of("out/gone.zapp"), NULL, &err) == 0);
  CHECK(zpm_archive_add_path(w, path_of("src/sub/deep/big.bin"), "b") == 0);
  zpm_archive_free(w);
  CHECK(count_prefix("out", ".gone.zapp.tmp-") == 0);
  CHECK(access(path_of("out/gone.zapp"), F_OK) != 0);
  zpm_archive_free(NULL);
}

/* Commit fails when the target cannot be replaced: temp is removed. */
static void test_commit_failure(void)
{
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;

  CHECK(mkdir(path_of("out/isdir.zapp"), 0755) == 0);
  CHECK(mkdir(path_of("out/isdir.zapp/x"), 0755) == 0);
  CHECK(zpm_archive_create(&w, path_of("out/isdir.zapp"), NULL, &err) == 0);
  if (w == NULL)
    return;
  CHECK(zpm_archive_add_memory(w, "m", "data", 4, 0644, 5) == 0);
  CHECK(zpm_archive_commit(w) == ZPM_EIO);
  CHECK(strstr(zpm_archive_error(w)->message, "isdir.zapp") != NULL);
  CHECK(count_prefix("out", ".isdir.zapp.tmp-") == 0);
  CHECK(zpm_archive_add_memory(w, "n", "d", 1, 0644, 5) != 0);
  zpm_archive_free(w);
  CHECK(count_prefix("out", ".isdir.zapp.tmp-") == 0);
}

/*
 * A file whose size changes under the writer breaks it: /proc files say
 * size 0 but have data. Commit then fails and removes the temp file.
 */
static void test_changing_file(void)
{
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;
  struct stat st;

  if (stat("/proc/self/status", &st) != 0 || st.st_size != 0)
    return;
  CHECK(zpm_archive_create(&w, path_of("out/grow.zapp"), NULL, &err) == 0);
  if (w == NULL)
    return;
  CHECK(zpm_archive_add_path(w, "/proc/self/status", "status") == ZPM_EIO);
  CHECK_STR(zpm_archive_error(w)->message,
            "'/proc/self/status' grew while being added");
  CHECK(zpm_archive_add_path(w, path_of("src/a.txt"), "a.txt") == ZPM_EIO);
  CHECK(zpm_archive_commit(w) == ZPM_EIO);
  CHECK(count_prefix("out", ".grow.zapp.tmp-") == 0);
  zpm_archive_free(w);
  CHECK(access(path_of("out/grow.zapp"), F_OK) != 0);
}

/* Writes the tree's paths into rel_out, with add_file (no lstat first)
 * or add_path; returns the first failure's status and message. */
static int write_files(const char *rel_out, int by_file,
                       const char *const *rels, size_t n, char *msg,
                       size_t msg_size)
{
  struct zpm_archive_options opt = { 6, 2, 1, MTIME_FIXED };
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;
  int status = 0;
  size_t i;

  msg[0] = '\0';
  CHECK(zpm_archive_create(&w, path_of(rel_out), &opt, &err) == 0);
  if (w == NULL)
    return -1;
  for (i = 0; i < n && status == 0; i++) {
    char disk[4200];

    snprintf(disk, sizeof(disk), "%s", path_of(rels[i]));
    status = by_file ? zpm_archive_add_file(w, disk, rels[i] + 4)
                     : zpm_archive_add_path(w, disk, rels[i] + 4);
  }
  if (status != 0)
    snprintf(msg, msg_size, "%s", zpm_archive_error(w)->message);
  /* a refused path leaves the writer usable: the members before stay */
  CHECK(zpm_archive_commit(w) == 0);
  zpm_archive_free(w);
  return status;
}

/*
 * add_file (for paths a walk saw as regular files) writes what add_path
 * writes for every kind found at the path, and fails as it fails: a
 * directory, a link, an empty file, a FIFO (which must not block the
 * open) and a missing file.
 */
static void test_add_file(void)
{
  static const char *rels[] = {
    "src/a.txt", "src/sub", "src/sub/deep/big.bin", "src/sub/run.sh",
    "src/empty", "src/link",
  };
  static const char *fifo[] = { "src/a.txt", "src/fifo" };
  static const char *gone[] = { "src/a.txt", "src/nothing-here" };
  char msg_a[512];
  char msg_b[512];
  unsigned char *da;
  unsigned char *db;
  size_t la;
  size_t lb;

  CHECK(write_files("out/by-path.zapp", 0, rels, 6, msg_a,
                    sizeof(msg_a)) == 0);
  CHECK(write_files("out/by-file.zapp", 1, rels, 6, msg_b,
                    sizeof(msg_b)) == 0);
  da = read_all(path_of("out/by-path.zapp"), &la);
  db = read_all(path_of("out/by-file.zapp"), &lb);
  CHECK(la > 0 && la == lb && memcmp(da, db, la) == 0);
  free(da);
  free(db);

  CHECK(write_files("out/fifo-a.zapp", 0, fifo, 2, msg_a,
                    sizeof(msg_a)) == ZPM_EINVAL);
  CHECK(write_files("out/fifo-b.zapp", 1, fifo, 2, msg_b,
                    sizeof(msg_b)) == ZPM_EINVAL);
  CHECK(strstr(msg_b, "is not a regular file, directory or symlink")
        != NULL);
  CHECK_STR(msg_b, msg_a);

  CHECK(write_files("out/gone-a.zapp", 0, gone, 2, msg_a,
                    sizeof(msg_a)) == ZPM_EIO);
  CHECK(write_files("out/gone-b.zapp", 1, gone, 2, msg_b,
                    sizeof(msg_b)) == ZPM_EIO);
  CHECK(strstr(msg_b, "No such file or directory") != NULL);
  CHECK_STR(msg_b, msg_a);
  da = read_all(path_of("out/gone-a.zapp"), &la);
  db = read_all(path_of("out/gone-b.zapp"), &lb);
  CHECK(la > 0 && la == lb && memcmp(da, db, la) == 0);
  free(da);
  free(db);
}

static void remove_tree(const char *path)
{
  char cmd[4400];
  int rc;

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
  rc = system(cmd);
  (void)rc;
}

/* Members of a .tar.gz, or -1 when it cannot be read whole. */
static int read_members(const char *path)
{
  struct archive *a = archive_read_new();
  struct archive_entry *e;
  int n = 0, r;

  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK) {
    archive_read_free(a);
    return -1;
  }
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
    n++;
  archive_read_free(a);
  return r == ARCHIVE_EOF ? n : -1;
}

/* A set cancel flag fails the next add, and every later call, with
 * ZPM_ECANCELED; the previous zapp stays, the temporary file goes. */
static void test_cancel(void)
{
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;
  zpm_cancel_flag flag = 0;
  char tmp[4200];

  zpm_error_clear(&err);
  CHECK(zpm_archive_create(&w, path_of("out/keep.zapp"), NULL, &err) == 0);
  if (w == NULL)
    return;
  CHECK(zpm_archive_add_path(w, path_of("src/a.txt"), "a.txt") == 0);
  CHECK(zpm_archive_commit(w) == 0);
  zpm_archive_free(w);
  w = NULL;
  CHECK(zpm_archive_create(&w, path_of("out/keep.zapp"), NULL, &err) == 0);
  if (w == NULL)
    return;
  snprintf(tmp, sizeof(tmp), "%s", zpm_archive_temp_path(w));
  zpm_archive_set_cancel(w, &flag);
  CHECK(zpm_archive_add_path(w, path_of("src/a.txt"), "a.txt") == 0);
  flag = SIGINT;
  CHECK(zpm_archive_add_path(w, path_of("src/a.txt"), "b.txt")
        == ZPM_ECANCELED);
  CHECK(strcmp(zpm_archive_error(w)->message, "interrupted") == 0);
  CHECK(zpm_archive_add_memory(w, "c", "x", 1, 0644, -1) == ZPM_ECANCELED);
  CHECK(zpm_archive_commit(w) == ZPM_ECANCELED);
  CHECK(access(tmp, F_OK) != 0);
  zpm_archive_free(w);
  CHECK(count_prefix("out", ".keep.zapp.tmp-") == 0);
  CHECK(read_members(path_of("out/keep.zapp")) == 1);
}

/* Whether two files have the same bytes. */
static int same_file(const char *a, const char *b)
{
  size_t la;
  size_t lb;
  unsigned char *da = read_all(a, &la);
  unsigned char *db = read_all(b, &lb);
  int same = da != NULL && db != NULL && la == lb
             && memcmp(da, db, la) == 0;

  free(da);
  free(db);
  return same;
}

static void copy_file(const char *from, const char *to)
{
  size_t len;
  unsigned char *d = read_all(from, &len);
  FILE *f = fopen(to, "wb");

  CHECK(d != NULL && f != NULL);
  if (d != NULL && f != NULL)
    CHECK(fwrite(d, 1, len, f) == len);
  if (f != NULL)
    fclose(f);
  free(d);
}

/*
 * The disk fills up at the very end: RLIMIT_FSIZE stands in for a full
 * file system (writes past it fail with EFBIG; SIGXFSZ is ignored). The
 * data is one gzip block, so no byte reaches the file before commit: the
 * whole output is written by the final flush, which libarchive's close
 * callback used to do and whose failure it dropped (a truncated zapp was
 * renamed into place). Commit must fail naming the temporary file and
 * errno, leave the previous zapp byte-identical and no temporary file.
 * Then a limit hit in the middle of the stream, by adds.
 */
static void test_disk_full(void)
{
  static unsigned char noise[100000];
  const int threads[] = { 1, 2, 4 };
  struct rlimit old;
  struct rlimit lim;
  size_t i;
  size_t t;
  unsigned x = 777;

  for (i = 0; i < sizeof(noise); i++) {
    x = x * 1103515245u + 12345u;
    noise[i] = (unsigned char)(x >> 16);
  }
  signal(SIGXFSZ, SIG_IGN);
  CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
  CHECK(write_archive("out/full.zapp", 2, NULL) == 0);
  copy_file(path_of("out/full.zapp"), path_of("out/full.copy"));
  for (t = 0; t < 6; t++) {
    struct zpm_archive_options opt = { 6, threads[t % 3], 0, 0 };
    struct zpm_archive_writer *w = NULL;
    struct zpm_error err;
    const struct zpm_error *we;
    char tmp[4200];
    char want[4400];
    int status;

    zpm_error_clear(&err);
    CHECK(zpm_archive_create(&w, path_of("out/full.zapp"), &opt, &err)
          == 0);
    if (w == NULL)
      return;
    snprintf(tmp, sizeof(tmp), "%s", zpm_archive_temp_path(w));
    if (t < 3) {
      /* everything is written by commit: fail there */
      CHECK(zpm_archive_add_memory(w, "noise", noise, sizeof(noise), 0644,
                                   -1) == 0);
      lim = old;
      lim.rlim_cur = sizeof(noise) / 2;
      CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
      status = zpm_archive_commit(w);
    } else {
      /* 2 MiB and more: blocks are written while members are added */
      lim = old;
      lim.rlim_cur = 150000;
      CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
      status = 0;
      for (i = 0; i < 24 && status == 0; i++) {
        char name[32];

        snprintf(name, sizeof(name), "noise%zu", i);
        status = zpm_archive_add_memory(w, name, noise, sizeof(noise),
                                        0644, -1);
      }
      if (status == 0)
        status = zpm_archive_commit(w);
      else
        CHECK(zpm_archive_commit(w) == ZPM_EIO);
    }
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(status == ZPM_EIO);
    we = zpm_archive_error(w);
    CHECK(we->status == ZPM_EIO);
    CHECK(we->lib_code == EFBIG);
    snprintf(want, sizeof(want), "cannot write '%s': %s", tmp,
             strerror(EFBIG));
    CHECK_STR(we->message, want);
    CHECK(access(tmp, F_OK) != 0);
    zpm_archive_free(w);
    CHECK(count_prefix("out", ".full.zapp.tmp-") == 0);
    CHECK(same_file(path_of("out/full.zapp"), path_of("out/full.copy")));
  }
  check_archive("out/full.zapp", -1);
  signal(SIGXFSZ, SIG_DFL);
}

/* Make an empty file root/out/<name>. */
static void touch(const char *name)
{
  char rel[100];
  int fd;

  snprintf(rel, sizeof(rel), "out/%s", name);
  fd = open(path_of(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(write(fd, "partial", 7) == 7);
    close(fd);
  }
}

static int exists_in_out(const char *name)
{
  char rel[100];

  snprintf(rel, sizeof(rel), "out/%s", name);
  return access(path_of(rel), F_OK) == 0;
}

/*
 * Temporary files nobody holds are a killed writer's: the next writer of
 * the same zapp removes them, and only them (the exact name pattern, for
 * that zapp name, regular files, not locked by a live writer).
 */
static void test_stale_temp_files(void)
{
  static const char *const stale[] = {
    ".st.zapp.tmp-AbC123", ".st.zapp.tmp-000000", ".st.zapp.tmp-zzZZ99"
  };
  static const char *const kept[] = {
    ".st.zapp.tmp-AbC12", ".st.zapp.tmp-AbC1234", ".st.zapp.tmp-AbC_23",
    ".st.zapp.tmp-", "st.zapp.tmp-AbC123", ".xst.zapp.tmp-AbC123",
    ".other.zapp.tmp-AbC123", ".st.zapp.tmp-AbC123.x", ".st.zap.tmp-AbC123",
    ".st.zapp.tmp-AbC123~"
  };
  struct zpm_archive_writer *w = NULL;
  struct zpm_archive_writer *w2 = NULL;
  struct zpm_error err;
  size_t i;
  int held;
  char live[4200];

  for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++)
    touch(stale[i]);
  for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
    touch(kept[i]);
  /* a symlink, a directory and a fifo with a stale name stay too */
  CHECK(symlink("st.target", path_of("out/.st.zapp.tmp-Link12")) == 0);
  touch("st.target");
  CHECK(mkdir(path_of("out/.st.zapp.tmp-Dir123"), 0755) == 0);
  CHECK(mkfifo(path_of("out/.st.zapp.tmp-Fifo12"), 0600) == 0);
  /* one held by a live writer: another open file description locks it */
  touch(".st.zapp.tmp-Held12");
  held = open(path_of("out/.st.zapp.tmp-Held12"), O_RDONLY);
  CHECK(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0);

  zpm_error_clear(&err);
  CHECK(zpm_archive_create(&w, path_of("out/st.zapp"), NULL, &err) == 0);
  if (w == NULL)
    return;
  for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++)
    CHECK(!exists_in_out(stale[i]));
  for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
    CHECK(exists_in_out(kept[i]));
  CHECK(exists_in_out(".st.zapp.tmp-Link12"));
  CHECK(exists_in_out("st.target"));
  CHECK(exists_in_out(".st.zapp.tmp-Dir123"));
  CHECK(exists_in_out(".st.zapp.tmp-Fifo12"));
  CHECK(exists_in_out(".st.zapp.tmp-Held12"));

  /* A second writer of the same zapp leaves the live first one alone. */
  snprintf(live, sizeof(live), "%s", zpm_archive_temp_path(w));
  CHECK(zpm_archive_add_memory(w, "a", "one", 3, 0644, -1) == 0);
  CHECK(zpm_archive_create(&w2, path_of("out/st.zapp"), NULL, &err) == 0);
  CHECK(access(live, F_OK) == 0);
  CHECK(zpm_archive_remove_stale(path_of("out/st.zapp")) == 0);
  CHECK(access(live, F_OK) == 0);
  CHECK(zpm_archive_commit(w) == 0);
  zpm_archive_free(w);
  CHECK(read_members(path_of("out/st.zapp")) == 1);
  if (w2 != NULL) {
    CHECK(zpm_archive_add_memory(w2, "b", "two", 3, 0644, -1) == 0);
    CHECK(zpm_archive_add_memory(w2, "c", "two", 3, 0644, -1) == 0);
    CHECK(zpm_archive_commit(w2) == 0);
    zpm_archive_free(w2);
    CHECK(read_members(path_of("out/st.zapp")) == 2);
  }

  /* Released, the held one is stale: removed, and counted. */
  close(held);
  CHECK(zpm_archive_remove_stale(path_of("out/st.zapp")) == 1);
  CHECK(!exists_in_out(".st.zapp.tmp-Held12"));
  CHECK(zpm_archive_remove_stale(path_of("out/st.zapp")) == 0);
  CHECK(zpm_archive_remove_stale(path_of("out/")) == 0);
  CHECK(zpm_archive_remove_stale("") == 0);
  CHECK(zpm_archive_remove_stale(path_of("nodir/st.zapp")) == 0);
  for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
    CHECK(exists_in_out(kept[i]));
  CHECK(count_prefix("out", ".st.zapp.tmp-") == 9);
}

/*
 * A writer killed with SIGKILL (a child process, mid-stream) leaves its
 * temporary file; the kernel drops its lock, and the next writer of the
 * same zapp removes the file.
 */
static void test_killed_writer(void)
{
  static unsigned char noise[64 * 1024];
  struct zpm_archive_writer *w = NULL;
  struct zpm_error err;
  char tmp[4200];
  int fds[2];
  pid_t pid;
  int wstatus = 0;
  ssize_t n;
  size_t i;

  for (i = 0; i < sizeof(noise); i++)
    noise[i] = (unsigned char)(i * 7919u >> 3);
  CHECK(pipe(fds) == 0);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    if (zpm_archive_create(&w, path_of("out/killed.zapp"), NULL, &err) != 0)
      _exit(2);
    for (i = 0; i < 64; i++) {
      if (zpm_archive_add_memory(w, "n", noise, sizeof(noise), 0644, -1)
          != 0)
        _exit(3);
    }
    snprintf(tmp, sizeof(tmp), "%s", zpm_archive_temp_path(w));
    if (write(fds[1], tmp, strlen(tmp) + 1) < 0)
      _exit(4);
    for (;;)
      pause();
  }
  close(fds[1]);
  memset(tmp, 0, sizeof(tmp));
  n = read(fds[0], tmp, sizeof(tmp) - 1);
  close(fds[0]);
  CHECK(n > 0);
  /* alive: its file is held */
  CHECK(zpm_archive_remove_stale(path_of("out/killed.zapp")) == 0);
  CHECK(access(tmp, F_OK) == 0);
  kill(pid, SIGKILL);
  CHECK(waitpid(pid, &wstatus, 0) == pid);
  CHECK(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  CHECK(n > 0 && access(tmp, F_OK) == 0);
  CHECK(count_prefix("out", ".killed.zapp.tmp-") == 1);

  zpm_error_clear(&err);
  CHECK(zpm_archive_create(&w, path_of("out/killed.zapp"), NULL, &err)
        == 0);
  CHECK(access(tmp, F_OK) != 0);
  CHECK(count_prefix("out", ".killed.zapp.tmp-") == 1);  /* its own */
  if (w != NULL) {
    CHECK(zpm_archive_add_memory(w, "n", noise, 10, 0644, -1) == 0);
    CHECK(zpm_archive_commit(w) == 0);
    zpm_archive_free(w);
  }
  CHECK(count_prefix("out", ".killed.zapp.tmp-") == 0);
  CHECK(read_members(path_of("out/killed.zapp")) == 1);
}

/* The tar in memory (zpm_tar_buffer): read back by libarchive, each
 * member with its data and its MIME type as the xattr user.mime_type;
 * an empty name breaks it. */
static void test_tar_buffer(void)
{
  static const char html[] = "<p>x</p>";
  struct zpm_tar_buffer *t;
  struct zpm_error err;
  struct archive *a;
  struct archive_entry *e;
  const void *data;
  const char *xname;
  const void *xvalue;
  size_t len, xsize;
  char buf[64];

  CHECK(zpm_tar_buffer_new(&t, 0, &err) == ZPM_OK);
  CHECK(zpm_tar_buffer_add(t, "a b/\xc3\xbc.html", html, sizeof(html) - 1,
                           "text/html") == ZPM_OK);
  CHECK(zpm_tar_buffer_add(t, "plain", "", 0, NULL) == ZPM_OK);
  CHECK(zpm_tar_buffer_finish(t, &data, &len) == ZPM_OK);
  CHECK(len % 512 == 0 && len > 1024);
  CHECK(zpm_tar_buffer_add(t, "late", "", 0, NULL) == ZPM_EINVAL);
  a = archive_read_new();
  archive_read_support_format_tar(a);
  CHECK(archive_read_open_memory(a, data, len) == ARCHIVE_OK);
  CHECK(archive_read_next_header(a, &e) == ARCHIVE_OK);
  CHECK(strcmp(archive_entry_pathname(e), "a b/\xc3\xbc.html") == 0);
  CHECK(archive_entry_filetype(e) == AE_IFREG);
  CHECK(archive_entry_size(e) == (la_int64_t)(sizeof(html) - 1));
  CHECK(archive_read_data(a, buf, sizeof(buf)) == (la_ssize_t)(sizeof(html)
                                                               - 1));
  CHECK(memcmp(buf, html, sizeof(html) - 1) == 0);
  CHECK(archive_entry_xattr_reset(e) == 1);
  CHECK(archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK);
  CHECK(strcmp(xname, "user.mime_type") == 0);
  CHECK(xsize == 9 && memcmp(xvalue, "text/html", 9) == 0);
  CHECK(archive_read_next_header(a, &e) == ARCHIVE_OK);
  CHECK(strcmp(archive_entry_pathname(e), "plain") == 0);
  CHECK(archive_entry_xattr_reset(e) == 0);
  CHECK(archive_read_next_header(a, &e) == ARCHIVE_EOF);
  archive_read_free(a);
  zpm_tar_buffer_free(t);

  CHECK(zpm_tar_buffer_new(&t, 4096, &err) == ZPM_OK);
  CHECK(zpm_tar_buffer_add(t, "", "", 0, NULL) == ZPM_EINVAL);
  CHECK(strcmp(zpm_tar_buffer_error(t)->message, "empty member name") == 0);
  CHECK(zpm_tar_buffer_finish(t, &data, &len) == ZPM_OK);
  CHECK(len == 1024);
  zpm_tar_buffer_free(t);
}

int main(void)
{
  const char *base = getenv("ZPM_TEST_TMP");
  char tmpl[4096];
  int failed;

  if (base != NULL && *base != '\0') {
    mkdir(base, 0755);
    snprintf(tmpl, sizeof(tmpl), "%s/archive-XXXXXX", base);
  } else {
    snprintf(tmpl, sizeof(tmpl), "/tmp/zpm-test-archive-XXXXXX");
  }
  if (mkdtemp(tmpl) == NULL) {
    perror(tmpl);
    return 1;
  }
  snprintf(root, sizeof(root), "%s", tmpl);
  make_tree();
  test_round_trip_and_reproducible();
  test_fixed_mtime();
  test_failures_leave_nothing();
  test_commit_failure();
  test_changing_file();
  test_cancel();
  test_disk_full();
  test_stale_temp_files();
  test_killed_writer();
  test_tar_buffer();
  test_add_file();
  failed = CHECK_DONE();
  if (!failed)
    remove_tree(root);
  else
    fprintf(stderr, "left %s for inspection\n", root);
  return failed;
}
