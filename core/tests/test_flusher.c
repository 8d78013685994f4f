/* Tests of the background fdatasync (zpm/flusher.h). */
#define _DEFAULT_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "zpm/flusher.h"

/* Kicks from several places while the file grows, then a clean stop. */
static void test_file(const char *dir)
{
  char path[4096], buf[65536];
  struct zpm_flusher *f;
  int fd;

  snprintf(path, sizeof path, "%s/flusher-XXXXXX", dir);
  fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  memset(buf, 'z', sizeof buf);
  CHECK(zpm_flusher_start(&f, fd) == 0);
  CHECK(f != NULL);
  for (int i = 0; i < 64; i++) {
    CHECK(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf);
    zpm_flusher_kick(f);
    zpm_flusher_kick(f);  /* merged with the one before */
  }
  CHECK(zpm_flusher_stop(f) == 0);
  CHECK(fsync(fd) == 0);
  CHECK(lseek(fd, 0, SEEK_END) == 64 * (off_t)sizeof buf);
  close(fd);
  unlink(path);
}

/* A stop right after the start, or with no kick, syncs nothing and
 * returns 0; NULL is accepted everywhere. */
static void test_idle_and_null(void)
{
  struct zpm_flusher *f;
  int fds[2];

  CHECK(pipe(fds) == 0);
  CHECK(zpm_flusher_start(&f, fds[1]) == 0);
  CHECK(zpm_flusher_stop(f) == 0);  /* fdatasync never ran on the pipe */
  zpm_flusher_kick(NULL);
  CHECK(zpm_flusher_stop(NULL) == 0);
  close(fds[0]);
  close(fds[1]);
}

/*
 * A background fdatasync that fails is the stop's result: fdatasync of a
 * pipe is EINVAL. The owner's own fsync might not see such an error
 * again, so this is what commit checks.
 */
static void test_error_kept(void)
{
  struct zpm_flusher *f;
  int fds[2];

  CHECK(pipe(fds) == 0);
  CHECK(zpm_flusher_start(&f, fds[1]) == 0);
  zpm_flusher_kick(f);
  CHECK(zpm_flusher_stop(f) == EINVAL);  /* served before the stop */
  CHECK(zpm_flusher_start(&f, fds[1]) == 0);
  for (int i = 0; i < 100; i++)
    zpm_flusher_kick(f);
  CHECK(zpm_flusher_stop(f) == EINVAL);
  close(fds[0]);
  close(fds[1]);
}

int main(void)
{
  const char *dir = getenv("ZPM_TEST_TMP");

  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  (void)mkdir(dir, 0755);  /* the first C test to run makes it */
  test_file(dir);
  test_idle_and_null();
  test_error_kept();
  return CHECK_DONE();
}
