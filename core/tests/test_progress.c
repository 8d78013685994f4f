/* Tests for the progress meter: the line for given figures (units,
 * percent, bar, ETA, unknown total, fitting the width), and a live meter
 * drawing into a file on a fake clock (rate over a recent window, the
 * final line, idempotent finish), NULL safety, a bounded number of
 * redraws for a million updates, a failing fd turning it off, and the
 * zapp writer counting its input into a meter. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "zpm/archive.h"
#include "zpm/progress.h"

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define SEC 1000000000ULL

static char line[1024];

static const char *fmt(const char *label, unsigned long long done,
                       unsigned long long total, double rate, double secs,
                       int finished, int cols)
{
  size_t n = zpm_progress_format(line, sizeof(line), label, done, total,
                                 rate, secs, finished, cols);

  CHECK(n == strlen(line));
  CHECK(n <= (size_t)(cols - 1));
  return line;
}

static void test_format(void)
{
  /* the example line; at 82 columns the bar gets 20 */
  CHECK_STR(fmt("label", 129394278ULL, 300 * MIB, 56.2 * MIB, 4.2, 0, 82),
            "label  123.4 MiB / 300.0 MiB   41%  [========>           ]"
            "   56.2 MiB/s  ETA 0:04");
  CHECK_STR(fmt("x", 0, 300 * MIB, -1, -1, 0, 82),
            "x        0 B / 300.0 MiB    0%  [>                      ]"
            "         --/s  ETA --:--");
  CHECK_STR(fmt("x", 300 * MIB, 300 * MIB, 3 * MIB, 100, 1, 82),
            "x  300.0 MiB / 300.0 MiB  100%  [=========================]"
            "    3.0 MiB/s  in 1:40");
  /* unknown total: bytes and rate, no percent, bar or ETA */
  CHECK_STR(fmt("up", 5 * MIB, 0, 1.5 * KIB, 7, 0, 80),
            "up    5.0 MiB    1.5 KiB/s");
  CHECK_STR(fmt("up", 5 * MIB, 0, 2 * MIB, 65, 1, 80),
            "up    5.0 MiB    2.0 MiB/s  in 1:05");
  /* no label: no leading separator */
  CHECK_STR(fmt("", 1023, 0, 0, -1, 0, 80), "   1023 B        0 B/s");
  /* done past the total (a file that grew) stays at 100% */
  CHECK(strstr(fmt("x", 2 * MIB, MIB, -1, -1, 0, 80), " 100% ") != NULL);
  /* 99.99% is not 100% */
  CHECK(strstr(fmt("x", GIB - 1, GIB, -1, -1, 0, 80), "  99% ") != NULL);
}

static void test_units(void)
{
  static const struct {
    unsigned long long bytes;
    const char *text;
  } cases[] = {
    { 0, "0 B" },
    { 1, "1 B" },
    { 1023, "1023 B" },
    { 1024, "1.0 KiB" },
    { 1536, "1.5 KiB" },
    { 1048524, "1023.9 KiB" },
    { 1048575, "1.0 MiB" },    /* not "1024.0 KiB" */
    { 123 * MIB + 400 * KIB, "123.4 MiB" },
    { 3 * GIB + GIB / 2, "3.5 GiB" },
    { 2048 * GIB, "2.0 TiB" },
  };
  char want[64];
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(want, sizeof(want), "x  %9s", cases[i].text);
    /* rate -1: the line is the bytes and "--/s" */
    fmt("x", cases[i].bytes, 0, -1, -1, 0, 80);
    CHECK(strncmp(line, want, strlen(want)) == 0);
    if (strncmp(line, want, strlen(want)) != 0)
      fprintf(stderr, "  got \"%s\", want \"%s...\"\n", line, want);
  }
}

static void test_eta(void)
{
  static const struct {
    double secs;
    int finished;
    const char *text;
  } cases[] = {
    { -1, 0, "ETA --:--" },
    { 0, 0, "ETA 0:00" },
    { 4.4, 0, "ETA 0:04" },
    { 59.6, 0, "ETA 1:00" },
    { 65, 0, "ETA 1:05" },
    { 3599, 0, "ETA 59:59" },
    { 3725, 0, "ETA 1:02:05" },
    { 99 * 3600.0, 0, "ETA 99:00:00" },
    { 1e9, 0, "ETA --:--" },
    { 5, 1, "in 0:05" },
    { 7322, 1, "in 2:02:02" },
  };
  size_t i, n, w;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fmt("x", MIB, 2 * MIB, MIB, cases[i].secs, cases[i].finished, 200);
    n = strlen(line);
    w = strlen(cases[i].text);
    CHECK(n > w && strcmp(line + n - w, cases[i].text) == 0
          && line[n - w - 1] == ' ');
    if (!(n > w && strcmp(line + n - w, cases[i].text) == 0))
      fprintf(stderr, "  got \"%s\", want \"...%s\"\n", line,
              cases[i].text);
  }
}

static void test_width(void)
{
  const char *label = "bundling a-rather-long-application-name.zapp";
  size_t n;

  /* wide: a bar, at most 40 wide */
  fmt(label, MIB, 2 * MIB, MIB, 1, 0, 300);
  CHECK(strchr(line, '[') != NULL);
  CHECK(strchr(line, ']') - strchr(line, '[') == 41);
  /* narrower: the bar goes first... */
  fmt(label, MIB, 2 * MIB, MIB, 1, 0, 100);
  CHECK(strchr(line, '[') == NULL);
  CHECK(strstr(line, "ETA 0:01") != NULL);
  CHECK(strstr(line, " 50%") != NULL);
  /* ...then the ETA, then the rate, then the percent */
  fmt(label, MIB, 2 * MIB, MIB, 1, 0, 90);
  CHECK(strstr(line, "ETA") == NULL);
  CHECK(strstr(line, "MiB/s") != NULL);
  fmt(label, MIB, 2 * MIB, MIB, 1, 0, 78);
  CHECK(strstr(line, "/s") == NULL);
  CHECK(strstr(line, " 50%") != NULL);
  CHECK(strstr(fmt(label, MIB, 2 * MIB, MIB, 1, 0, 72), " 50%") != NULL);
  CHECK_STR(fmt(label, MIB, 2 * MIB, MIB, 1, 0, 71),
            "bundling a-rather-long-application-name.zapp    1.0 MiB / "
            "2.0 MiB");
  /* then the label is cut */
  CHECK_STR(fmt(label, MIB, 2 * MIB, MIB, 1, 0, 40),
            "bundling a-rather-    1.0 MiB / 2.0 MiB");
  /* absurdly narrow: clipped, never longer than the terminal */
  n = strlen(fmt(label, MIB, 2 * MIB, MIB, 1, 0, 10));
  CHECK(n == 9);
  CHECK(strlen(fmt(label, MIB, 2 * MIB, MIB, 1, 0, 0)) <= 1);
  /* a UTF-8 label is not cut inside a character */
  CHECK_STR(fmt("caf\xc3\xa9\xc3\xa9", 0, 0, 0, -1, 0, 17),
            "caf\xc3\xa9        0 B");
  CHECK_STR(fmt("caf\xc3\xa9\xc3\xa9", 0, 0, 0, -1, 0, 16),
            "caf        0 B");
  /* control characters cannot break the line */
  CHECK_STR(fmt("a\rb\n\033[2J", 0, 0, -1, -1, 0, 80),
            "a?b??[2J        0 B         --/s");
  /* a small buffer is truncated, NUL-terminated */
  CHECK(zpm_progress_format(line, 8, "label", 0, 0, -1, -1, 0, 80) == 7);
  CHECK_STR(line, "label  ");
  CHECK(zpm_progress_format(line, 0, "label", 0, 0, -1, -1, 0, 80) == 0);
}

/* ---- live meters ------------------------------------------------------ */

static unsigned long long fake_now;

static unsigned long long fake_clock(void *ud)
{
  (void)ud;
  return fake_now;
}

static int out_fd = -1;

static void out_reset(void)
{
  CHECK(ftruncate(out_fd, 0) == 0);
  CHECK(lseek(out_fd, 0, SEEK_SET) == 0);
}

/* What the meter wrote since out_reset, as a string (static). */
static const char *out_text(void)
{
  static char buf[1 << 16];
  ssize_t n = pread(out_fd, buf, sizeof(buf) - 1, 0);

  CHECK(n >= 0);
  buf[n < 0 ? 0 : n] = '\0';
  return buf;
}

/* The last line drawn: after the last '\r', without "\033[K" and '\n'. */
static const char *last_line(void)
{
  static char buf[1024];
  const char *text = out_text();
  const char *cr = strrchr(text, '\r');
  char *end;

  snprintf(buf, sizeof(buf), "%s", cr != NULL ? cr + 1 : text);
  end = strstr(buf, "\033[K");
  if (end != NULL)
    *end = '\0';
  return buf;
}

static size_t count_char(const char *s, char c)
{
  size_t n = 0;

  for (; *s != '\0'; s++)
    n += *s == c;
  return n;
}

static struct zpm_progress *open_fake(const char *label,
                                      unsigned long long total)
{
  struct zpm_progress *p = NULL;
  struct zpm_error err;

  out_reset();
  zpm_error_clear(&err);
  CHECK(zpm_progress_open(&p, label, total, out_fd, &err) == ZPM_OK);
  fake_now = 1000 * SEC;
  zpm_progress_set_clock(p, fake_clock, NULL);
  return p;
}

static void test_live(void)
{
  struct zpm_progress *p;
  const char *text;
  int i;

  setenv("ZPM_PROGRESS_INTERVAL_MS", "0", 1);
  setenv("COLUMNS", "100", 1);   /* a file has no window size */

  p = open_fake("bundling t.zapp", 100 * MIB);
  text = out_text();
  /* drawn at open: '\r', the line, clear to the end of the line */
  CHECK(text[0] == '\r');
  CHECK(strstr(text, "bundling t.zapp        0 B / 100.0 MiB    0%")
        != NULL);
  CHECK(strstr(text, "ETA --:--\033[K") != NULL);
  CHECK(strchr(text, '\n') == NULL);

  /* 1 MiB/s for 10 s */
  for (i = 0; i < 10; i++) {
    fake_now += SEC;
    zpm_progress_add(p, MIB);
  }
  CHECK(strstr(last_line(), "10.0 MiB / 100.0 MiB   10%") != NULL);
  CHECK(strstr(last_line(), "  1.0 MiB/s  ETA 1:30") != NULL);
  /* then 10 MiB/s: the rate follows within the window (5 s) */
  for (i = 0; i < 6; i++) {
    fake_now += SEC;
    zpm_progress_add(p, 10 * MIB);
  }
  CHECK(strstr(last_line(), "70.0 MiB / 100.0 MiB   70%") != NULL);
  CHECK(strstr(last_line(), " 10.0 MiB/s  ETA 0:03") != NULL);
  /* a stall: ticks without bytes bring the rate down, ETA unknown */
  for (i = 0; i < 6; i++) {
    fake_now += SEC;
    zpm_progress_add(p, 0);
  }
  CHECK(strstr(last_line(), "  0 B/s  ETA --:--") != NULL);
  /* a retry goes back; the rate restarts */
  zpm_progress_set(p, 20 * MIB);
  CHECK(strstr(last_line(), " 20.0 MiB / 100.0 MiB   20%") != NULL);
  CHECK(strstr(last_line(), "--/s") != NULL);
  fake_now += 2 * SEC;
  zpm_progress_set(p, 24 * MIB);
  CHECK(strstr(last_line(), "  2.0 MiB/s  ETA 0:38") != NULL);
  /* the total changes */
  zpm_progress_set_total(p, 48 * MIB);
  fake_now += SEC / 2;
  zpm_progress_add(p, 0);
  CHECK(strstr(last_line(), "24.0 MiB / 48.0 MiB   50%") != NULL);
  zpm_progress_set(p, 48 * MIB);

  /* finish: the final line (average rate, time taken) and a newline */
  fake_now = 1000 * SEC + 24 * SEC;
  zpm_progress_finish(p);
  text = out_text();
  CHECK(strlen(text) > 4
        && strcmp(text + strlen(text) - 4, "\033[K\n") == 0);
  CHECK_STR(last_line(),
            "bundling t.zapp   48.0 MiB / 48.0 MiB  100%  "
            "[==============================]    2.0 MiB/s  in 0:24");
  /* idempotent; nothing is drawn after it */
  i = (int)strlen(out_text());
  zpm_progress_finish(p);
  zpm_progress_add(p, MIB);
  zpm_progress_set(p, 0);
  zpm_progress_set_total(p, 1);
  zpm_progress_free(p);
  CHECK((int)strlen(out_text()) == i);
  CHECK(count_char(out_text(), '\n') == 1);

  /* unknown total */
  p = open_fake("uploading", 0);
  fake_now += 2 * SEC;
  zpm_progress_add(p, 3 * MIB);
  CHECK_STR(last_line(), "uploading    3.0 MiB    1.5 MiB/s");
  fake_now += SEC;
  /* free finishes */
  zpm_progress_free(p);
  CHECK_STR(last_line(), "uploading    3.0 MiB    1.0 MiB/s  in 0:03");
  CHECK(strchr(out_text(), '%') == NULL);
  CHECK(strstr(out_text(), "ETA") == NULL);

  /* a total of 0 known later */
  p = open_fake("late", 0);
  zpm_progress_set_total(p, 4 * KIB);
  fake_now += SEC;
  zpm_progress_add(p, KIB);
  CHECK(strstr(last_line(), "1.0 KiB / 4.0 KiB   25%") != NULL);
  zpm_progress_free(p);

  unsetenv("ZPM_PROGRESS_INTERVAL_MS");
}

static void test_null(void)
{
  zpm_progress_set_total(NULL, 1);
  zpm_progress_add(NULL, 1);
  zpm_progress_set(NULL, 1);
  zpm_progress_finish(NULL);
  zpm_progress_free(NULL);
  zpm_progress_set_clock(NULL, fake_clock, NULL);
  CHECK(1);
}

static unsigned long long real_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000ULL
         + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

/*
 * Updates as fast as they come (a million at least, for 350 ms at least):
 * one draw at open, then one per 100 ms at most.
 */
static void test_bounded(void)
{
  struct zpm_progress *p = NULL;
  unsigned long long t0, elapsed;
  size_t draws;
  long i;

  out_reset();
  t0 = real_ms();
  CHECK(zpm_progress_open(&p, "many", 0, out_fd, NULL) == ZPM_OK);
  for (i = 0; i < 1000000 || real_ms() - t0 < 350; i++)
    zpm_progress_add(p, 7);
  elapsed = real_ms() - t0;
  draws = count_char(out_text(), '\r');
  CHECK(draws >= 2);
  CHECK(draws <= elapsed / ZPM_PROGRESS_INTERVAL_MS + 1);
  zpm_progress_set_total(p, (unsigned long long)i * 7);
  zpm_progress_free(p);
  CHECK(strstr(last_line(), "  100%  ") != NULL);
  printf("%ld updates in %llu ms: %zu draws\n", i, elapsed, draws);
}

/* A write error turns the meter off; the caller never notices. */
static void test_write_failure(void)
{
  struct zpm_progress *p = NULL;
  struct zpm_error err;
  int fds[2];
  sigset_t pending;

  /* a pipe nobody reads: EPIPE, and no SIGPIPE left to kill us */
  CHECK(pipe(fds) == 0);
  close(fds[0]);
  setenv("ZPM_PROGRESS_INTERVAL_MS", "0", 1);
  CHECK(zpm_progress_open(&p, "broken", 10, fds[1], NULL) == ZPM_OK);
  zpm_progress_add(p, 5);
  zpm_progress_finish(p);
  zpm_progress_free(p);
  sigemptyset(&pending);
  CHECK(sigpending(&pending) == 0);
  CHECK(sigismember(&pending, SIGPIPE) == 0);
  close(fds[1]);

  /* an fd open for reading only */
  p = NULL;
  fds[0] = open("/dev/null", O_RDONLY);
  CHECK(fds[0] >= 0);
  CHECK(zpm_progress_open(&p, "ro", 10, fds[0], NULL) == ZPM_OK);
  zpm_progress_add(p, 5);
  zpm_progress_free(p);
  close(fds[0]);
  unsetenv("ZPM_PROGRESS_INTERVAL_MS");

  zpm_error_clear(&err);
  p = (struct zpm_progress *)&err;
  CHECK(zpm_progress_open(&p, "bad", 0, -1, &err) == ZPM_EINVAL);
  CHECK(p == NULL);
  CHECK(strstr(err.message, "fd") != NULL);
}

/* The zapp writer adds the member data it reads; commit finishes. */
static void test_archive(const char *dir)
{
  struct zpm_progress *p = NULL;
  struct zpm_archive_writer *w = NULL;
  char data[5000], file[4200], zapp[4200];
  FILE *f;
  int i;

  for (i = 0; i < (int)sizeof(data); i++)
    data[i] = (char)(i * 7);
  snprintf(file, sizeof(file), "%s/progress-data-%ld", dir, (long)getpid());
  snprintf(zapp, sizeof(zapp), "%s/progress-%ld.zapp", dir, (long)getpid());
  f = fopen(file, "wb");
  CHECK(f != NULL);
  if (f == NULL)
    return;
  for (i = 0; i < 40; i++)   /* 200000 bytes: several 64 KiB reads */
    CHECK(fwrite(data, 1, sizeof(data), f) == sizeof(data));
  fclose(f);

  setenv("ZPM_PROGRESS_INTERVAL_MS", "0", 1);
  p = open_fake("bundling p.zapp", 200000 + 1000);
  CHECK(zpm_archive_create(&w, zapp, NULL, NULL) == ZPM_OK);
  if (w == NULL)
    return;
  zpm_archive_set_progress(w, zpm_progress_report, p);
  CHECK(zpm_archive_add_memory(w, "boot/system.map", data, 1000, 0644, 0)
        == ZPM_OK);
  CHECK(strstr(last_line(), "  1000 B / 196.3 KiB    0%") != NULL);
  CHECK(zpm_archive_add_path(w, file, "data") == ZPM_OK);
  CHECK(strstr(last_line(), "196.3 KiB / 196.3 KiB  100%") != NULL);
  CHECK(count_char(out_text(), '\r') >= 5);   /* open, memory, 4 reads */
  CHECK(strchr(out_text(), '\n') == NULL);
  CHECK(zpm_archive_commit(w) == ZPM_OK);
  /* the writer reports, it never draws: the final line is the caller's */
  CHECK(strchr(out_text(), '\n') == NULL);
  zpm_progress_finish(p);
  CHECK(count_char(out_text(), '\n') == 1);
  CHECK(strstr(last_line(), "  in 0:00") != NULL);
  zpm_archive_free(w);
  zpm_progress_free(p);
  CHECK(count_char(out_text(), '\n') == 1);

  /* a writer discarded without commit leaves the meter to its owner */
  p = open_fake("discarded", 10);
  w = NULL;
  CHECK(zpm_archive_create(&w, zapp, NULL, NULL) == ZPM_OK);
  zpm_archive_set_progress(w, zpm_progress_report, p);
  zpm_archive_free(w);
  CHECK(strchr(out_text(), '\n') == NULL);
  zpm_progress_free(p);
  CHECK(count_char(out_text(), '\n') == 1);
  unsetenv("ZPM_PROGRESS_INTERVAL_MS");
  unlink(file);
  unlink(zapp);
}

/* What a progress callback was told. */
struct reported {
  int calls;
  unsigned long long last_done, last_total;
  int went_back;
};

static void record(void *ud, unsigned long long done,
                   unsigned long long total)
{
  struct reported *r = ud;

  if (r->calls > 0 && done < r->last_done)
    r->went_back = 1;
  r->calls++;
  r->last_done = done;
  r->last_total = total;
}

/* The writer reports absolute member bytes through any callback. */
static void test_archive_callback(const char *dir)
{
  struct reported r;
  struct zpm_archive_writer *w = NULL;
  char zapp[4200];
  char data[3000];

  memset(&r, 0, sizeof(r));
  memset(data, 'x', sizeof(data));
  snprintf(zapp, sizeof(zapp), "%s/callback-%ld.zapp", dir, (long)getpid());
  CHECK(zpm_archive_create(&w, zapp, NULL, NULL) == ZPM_OK);
  if (w == NULL)
    return;
  CHECK(zpm_archive_add_memory(w, "a", data, 100, 0644, 0) == ZPM_OK);
  CHECK(r.calls == 0);   /* nothing set yet: nothing reported */
  zpm_archive_set_progress(w, record, &r);
  CHECK(zpm_archive_add_memory(w, "b", data, 1000, 0644, 0) == ZPM_OK);
  CHECK(zpm_archive_add_memory(w, "c", data, 3000, 0644, 0) == ZPM_OK);
  CHECK(r.calls == 2);
  CHECK(r.last_done == 4100);   /* all member bytes, "a" included */
  CHECK(r.last_total == 0);
  CHECK(!r.went_back);
  zpm_archive_set_progress(w, NULL, NULL);
  CHECK(zpm_archive_add_memory(w, "d", data, 10, 0644, 0) == ZPM_OK);
  CHECK(r.calls == 2);
  CHECK(zpm_archive_commit(w) == ZPM_OK);
  zpm_archive_free(w);
  unlink(zapp);
}

/* The default meter as a callback: a total of 0 keeps the meter's. */
static void test_report(void)
{
  struct zpm_progress *p;

  zpm_progress_report(NULL, 5, 10);   /* no meter: no-op */
  setenv("ZPM_PROGRESS_INTERVAL_MS", "0", 1);
  p = open_fake("report", 1000);
  zpm_progress_report(p, 500, 0);
  CHECK(strstr(last_line(), "500 B / 1000 B   50%") != NULL);
  zpm_progress_report(p, 500, 2000);
  CHECK(strstr(last_line(), "  25%") != NULL);
  zpm_progress_free(p);
  unsetenv("ZPM_PROGRESS_INTERVAL_MS");
}

int main(void)
{
  char path[4096];
  const char *dir = getenv("ZPM_TEST_TMP");

  if (dir == NULL || *dir == '\0')
    dir = "/tmp";
  snprintf(path, sizeof(path), "%s/progress-XXXXXX", dir);
  out_fd = mkstemp(path);
  if (out_fd < 0) {
    dir = "/tmp";
    snprintf(path, sizeof(path), "%s/progress-XXXXXX", dir);
    out_fd = mkstemp(path);
  }
  CHECK(out_fd >= 0);
  if (out_fd < 0)
    return CHECK_DONE();
  unlink(path);
  unsetenv("ZPM_PROGRESS_INTERVAL_MS");

  test_format();
  test_units();
  test_eta();
  test_width();
  test_null();
  test_live();
  test_bounded();
  test_write_failure();
  test_archive(dir);
  test_archive_callback(dir);
  test_report();
  close(out_fd);
  return CHECK_DONE();
}
