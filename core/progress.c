/*
 * The progress meter (see zpm/progress.h).
 *
 * Updates only add to a counter and read the monotonic clock (a vDSO
 * call); the line is built and written at most once per interval. The
 * rate comes from a ring of (time, bytes) samples taken at least
 * SAMPLE_NS apart: the oldest sample within the last WINDOW_NS (and at
 * least one older than now) gives bytes per second over a recent window,
 * so the figure follows a transfer that speeds up, slows down or stalls.
 */
#include "zpm/progress.h"
#include "zpm/util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define RATE_SAMPLES 24
#define SAMPLE_NS (250 * NS_PER_MS)
#define WINDOW_NS (5 * NS_PER_S)
#define RATE_MIN_NS (50 * NS_PER_MS)  /* less is noise: rate unknown */
#define BAR_MIN 10                    /* narrower than that: no bar */
#define BAR_MAX 40
#define LINE_MAX_COLS 512
#define ETA_MAX_S (100.0 * 3600.0)    /* longer is shown as unknown */

struct sample {
  unsigned long long t;     /* ns */
  unsigned long long done;
};

struct zpm_progress {
  char *label;
  int fd;
  int env_cols;                       /* $COLUMNS at open, or 0 */
  int finished;
  int off;                            /* a write failed: draw no more */
  unsigned long long total;
  unsigned long long done;
  unsigned long long interval_ns;
  unsigned long long start;           /* ns */
  unsigned long long next_draw;       /* ns */
  struct sample ring[RATE_SAMPLES];
  int newest;
  int count;
  unsigned long long (*now)(void *ud);
  void *now_ud;
};

static unsigned long long monotonic_ns(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (unsigned long long)ts.tv_sec * NS_PER_S
         + (unsigned long long)ts.tv_nsec;
}

static unsigned long long now_ns(const struct zpm_progress *p)
{
  return p->now != NULL ? p->now(p->now_ud) : monotonic_ns();
}

/* A non-negative decimal from the environment, or fallback. */
static long env_number(const char *name, long lo, long hi, long fallback)
{
  const char *s = getenv(name);
  char *end;
  long v;

  if (s == NULL || *s == '\0')
    return fallback;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    return fallback;
  return v;
}

/* ---- formatting -------------------------------------------------------- */

/* 1023 B, 1.0 KiB ... 1023.9 KiB, 1.0 MiB...: at most 10 characters. */
static void human(char *buf, size_t size, double v)
{
  static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
                                       "EiB" };
  int u = 0;

  if (v < 1024.0) {
    snprintf(buf, size, "%.0f B", v < 0 ? 0.0 : v);
    return;
  }
  v /= 1024.0;
  /* 1023.95 would print as "1024.0": move up a unit first */
  while (v >= 1023.95 && u < 5) {
    v /= 1024.0;
    u++;
  }
  snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* m:ss or h:mm:ss; "--:--" when unknown or absurd. */
static void clock_text(char *buf, size_t size, double seconds)
{
  unsigned long s;

  if (seconds < 0 || seconds >= ETA_MAX_S) {
    snprintf(buf, size, "--:--");
    return;
  }
  s = (unsigned long)(seconds + 0.5);
  if (s >= 3600)
    snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
  else
    snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

static unsigned percent(unsigned long long done, unsigned long long total)
{
  unsigned pct;

  if (done >= total)
    return 100;
  pct = (unsigned)((double)done * 100.0 / (double)total);
  return pct > 99 ? 99 : pct;   /* 100% only when done */
}

/* "[=====>    ]" with inner width w, into buf (w + 3 bytes). */
static void bar_text(char *buf, size_t w, unsigned long long done,
                     unsigned long long total)
{
  size_t filled;
  size_t i;

  if (done >= total)
    filled = w;
  else
    filled = (size_t)((double)done * (double)w / (double)total);
  if (filled >= w && done < total)
    filled = w - 1;
  buf[0] = '[';
  for (i = 0; i < w; i++) {
    if (i < filled)
      buf[1 + i] = '=';
    else if (i == filled)
      buf[1 + i] = '>';
    else
      buf[1 + i] = ' ';
  }
  buf[1 + w] = ']';
  buf[2 + w] = '\0';
}

/* Bytes of label that fit in n columns, not splitting a UTF-8 sequence. */
static size_t label_cut(const char *label, size_t len, size_t n)
{
  if (n >= len)
    return len;
  while (n > 0 && ((unsigned char)label[n] & 0xC0) == 0x80)
    n--;
  return n;
}

struct line {
  char *buf;
  size_t size;
  size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
  size_t room = l->size > l->len ? l->size - l->len - 1 : 0;

  if (n > room)
    n = room;
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  if (l->size > 0)
    l->buf[l->len] = '\0';
}

static void put_field(struct line *l, const char *s)
{
  put(l, "  ", 2);
  put(l, s, strlen(s));
}

size_t zpm_progress_format(char *buf, size_t size, const char *label,
                           unsigned long long done, unsigned long long total,
                           double rate, double seconds, int finished,
                           int cols)
{
  char sdone[32], stotal[32], bytes[80], pct[8], srate[32], rate_f[40];
  char when[40], bar[BAR_MAX + 3], clean[LINE_MAX_COLS];
  size_t avail, llen, width, i, bar_w = 0;
  int show_pct = total != 0, show_rate = 1, show_when;
  struct line l = { buf, size, 0 };

  if (size == 0)
    return 0;
  buf[0] = '\0';
  if (label == NULL)
    label = "";
  if (cols < 2)
    cols = 2;
  avail = (size_t)cols - 1 < LINE_MAX_COLS - 1
            ? (size_t)cols - 1 : LINE_MAX_COLS - 1;

  /* control characters in the label would break the line */
  llen = strlen(label);
  if (llen > sizeof(clean) - 1)
    llen = sizeof(clean) - 1;
  for (i = 0; i < llen; i++) {
    unsigned char c = (unsigned char)label[i];
    clean[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  llen = label_cut(label, strlen(label), llen);

  human(sdone, sizeof(sdone), (double)done);
  if (total != 0) {
    human(stotal, sizeof(stotal), (double)total);
    snprintf(bytes, sizeof(bytes), "%9s / %s", sdone, stotal);
    snprintf(pct, sizeof(pct), "%3u%%", percent(done, total));
  } else {
    snprintf(bytes, sizeof(bytes), "%9s", sdone);
    pct[0] = '\0';
  }
  if (rate >= 0) {
    human(srate, sizeof(srate), rate);
    snprintf(rate_f, sizeof(rate_f), "%9s/s", srate);
  } else {
    snprintf(rate_f, sizeof(rate_f), "%9s/s", "--");
  }
  show_when = finished || total != 0;
  if (show_when) {
    char t[24];

    clock_text(t, sizeof(t), seconds);
    snprintf(when, sizeof(when), "%s %s", finished ? "in" : "ETA", t);
  }

  /* What fits: the bar goes first, then the ETA, the rate, the percent;
   * then the label is cut; the bytes stay. */
  for (;;) {
    width = (llen > 0 ? llen + 2 : 0) + strlen(bytes)
            + (show_pct ? 2 + strlen(pct) : 0)
            + (show_rate ? 2 + strlen(rate_f) : 0)
            + (show_when ? 2 + strlen(when) : 0);
    if (width <= avail)
      break;
    if (show_when)
      show_when = 0;
    else if (show_rate)
      show_rate = 0;
    else if (show_pct)
      show_pct = 0;
    else
      break;
  }
  if (width > avail)
    llen = label_cut(clean, llen, llen > width - avail
                                    ? llen - (width - avail) : 0);
  if (total != 0 && show_pct && width + 4 + BAR_MIN <= avail) {
    bar_w = avail - width - 4;
    if (bar_w > BAR_MAX)
      bar_w = BAR_MAX;
    bar_text(bar, bar_w, done, total);
  }

  if (llen > 0) {
    put(&l, clean, llen);
    put_field(&l, bytes);
  } else {
    put(&l, bytes, strlen(bytes));
  }
  if (show_pct)
    put_field(&l, pct);
  if (bar_w > 0)
    put_field(&l, bar);
  if (show_rate)
    put_field(&l, rate_f);
  if (show_when)
    put_field(&l, when);
  if (l.len > avail) {
    l.len = avail;
    buf[l.len] = '\0';
  }
  return l.len;
}

/* ---- drawing ----------------------------------------------------------- */

static int columns(const struct zpm_progress *p)
{
  struct winsize ws;

  if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return p->env_cols > 0 ? p->env_cols : 80;
}

/*
 * Write all of buf (zpm_write_all) with SIGPIPE held
 * off meanwhile (as curl does around its sends): a meter on a closed
 * pipe gets EPIPE and turns itself off instead of killing the process.
 */
static int write_nopipe(int fd, const char *buf, size_t len)
{
  sigset_t pipe_set, old, pending;
  int was_pending, e;

  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  (void)sigpending(&pending);
  was_pending = sigismember(&pending, SIGPIPE) == 1;
  (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  e = zpm_write_all(fd, buf, len);
  if (e == EPIPE && !was_pending) {
    struct timespec zero = { 0, 0 };

    /* take the SIGPIPE this write raised before unblocking */
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
      ;
  }
  (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
  return e != 0 ? -1 : 0;
}

static void ring_reset(struct zpm_progress *p, unsigned long long now)
{
  p->newest = 0;
  p->count = 1;
  p->ring[0].t = now;
  p->ring[0].done = p->done;
}

static void ring_sample(struct zpm_progress *p, unsigned long long now)
{
  const struct sample *last = &p->ring[p->newest];

  if (now >= last->t && now - last->t < SAMPLE_NS)
    return;
  p->newest = (p->newest + 1) % RATE_SAMPLES;
  p->ring[p->newest].t = now;
  p->ring[p->newest].done = p->done;
  if (p->count < RATE_SAMPLES)
    p->count++;
}

/* Bytes per second over the recent window; < 0 when unknown. */
static double recent_rate(const struct zpm_progress *p,
                          unsigned long long now)
{
  const struct sample *best = NULL;
  int k;

  for (k = 0; k < p->count; k++) {
    const struct sample *s =
      &p->ring[(p->newest - k + RATE_SAMPLES) % RATE_SAMPLES];

    if (now > s->t) {
      best = s;
      if (now - s->t >= WINDOW_NS)
        break;
    }
  }
  if (best == NULL || now - best->t < RATE_MIN_NS)
    return -1;
  if (p->done <= best->done)
    return 0;
  return (double)(p->done - best->done) * (double)NS_PER_S
         / (double)(now - best->t);
}

static void draw(struct zpm_progress *p, unsigned long long now, int final)
{
  char line[LINE_MAX_COLS + 16];
  double rate, seconds;
  unsigned long long elapsed = now > p->start ? now - p->start : 0;
  size_t n;

  if (final) {
    rate = elapsed > 0 ? (double)p->done * (double)NS_PER_S
                         / (double)elapsed : -1;
    seconds = (double)elapsed / (double)NS_PER_S;
  } else {
    rate = recent_rate(p, now);
    seconds = -1;
    if (p->total != 0 && rate > 0 && p->done <= p->total)
      seconds = (double)(p->total - p->done) / rate;
  }
  line[0] = '\r';
  n = 1 + zpm_progress_format(line + 1, LINE_MAX_COLS, p->label, p->done,
                              p->total, rate, seconds, final, columns(p));
  memcpy(line + n, "\033[K", 3);
  n += 3;
  if (final)
    line[n++] = '\n';
  if (write_nopipe(p->fd, line, n) != 0)
    p->off = 1;
}

/* Redraw if the interval has passed since the last draw. */
static void tick(struct zpm_progress *p)
{
  unsigned long long now;

  if (p->off)
    return;
  now = now_ns(p);
  if (now < p->next_draw)
    return;
  ring_sample(p, now);
  draw(p, now, 0);
  p->next_draw = now + p->interval_ns;
}

/* ---- the public functions ---------------------------------------------- */

int zpm_progress_open(struct zpm_progress **out, const char *label,
                      unsigned long long total, int fd,
                      struct zpm_error *err)
{
  struct zpm_progress *p;

  *out = NULL;
  if (fd < 0)
    return zpm_error_set(err, ZPM_EINVAL, "progress: bad fd %d", fd);
  if (label == NULL)
    label = "";
  p = calloc(1, sizeof(*p));
  if (p != NULL)
    p->label = strdup(label);
  if (p == NULL || p->label == NULL) {
    free(p);
    return zpm_error_set(err, ZPM_ENOMEM, "progress: out of memory");
  }
  p->fd = fd;
  p->total = total;
  p->interval_ns = (unsigned long long)env_number(
    "ZPM_PROGRESS_INTERVAL_MS", 0, 3600000L, ZPM_PROGRESS_INTERVAL_MS)
    * NS_PER_MS;
  p->env_cols = (int)env_number("COLUMNS", 2, 100000L, 0);
  p->start = now_ns(p);
  ring_reset(p, p->start);
  tick(p);
  *out = p;
  return ZPM_OK;
}

void zpm_progress_set_clock(struct zpm_progress *p,
                            unsigned long long (*now)(void *ud), void *ud)
{
  if (p == NULL)
    return;
  p->now = now;
  p->now_ud = ud;
  p->start = now_ns(p);
  p->next_draw = p->start;
  ring_reset(p, p->start);
}

void zpm_progress_set_total(struct zpm_progress *p, unsigned long long total)
{
  if (p == NULL || p->finished)
    return;
  p->total = total;
}

void zpm_progress_add(struct zpm_progress *p, unsigned long long n)
{
  if (p == NULL || p->finished)
    return;
  p->done = p->done + n >= p->done ? p->done + n : ULLONG_MAX;
  tick(p);
}

void zpm_progress_set(struct zpm_progress *p, unsigned long long done)
{
  if (p == NULL || p->finished)
    return;
  /* going back (a retry): the old samples say nothing of the new rate */
  if (done < p->done && !p->off) {
    p->done = done;
    ring_reset(p, now_ns(p));
  }
  p->done = done;
  tick(p);
}

void zpm_progress_report(void *meter, unsigned long long done,
                         unsigned long long total)
{
  struct zpm_progress *p = meter;

  if (p != NULL && total != 0 && total != p->total)
    zpm_progress_set_total(p, total);
  zpm_progress_set(p, done);
}

void zpm_progress_finish(struct zpm_progress *p)
{
  if (p == NULL || p->finished)
    return;
  p->finished = 1;
  if (p->total != 0 && p->done > p->total)
    p->total = p->done;
  if (!p->off)
    draw(p, now_ns(p), 1);
}

void zpm_progress_free(struct zpm_progress *p)
{
  if (p == NULL)
    return;
  zpm_progress_finish(p);
  free(p->label);
  free(p);
}
