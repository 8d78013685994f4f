/*
 * A progress meter on a terminal: one line, redrawn in place with '\r'
 * and clear-to-end-of-line, e.g.
 *
 *   bundling hello.zapp  123.4 MiB / 300.0 MiB  41%  [=====>      ]
 *     56.2 MiB/s  ETA 0:04
 *
 * (one line on screen). It shows the bytes done, the total, a percent and
 * a bar, the rate over the last few seconds (so it reacts to changes) and
 * an ETA (m:ss or h:mm:ss, "--:--" while unknown). With a total of 0
 * (unknown) it shows the bytes and the rate only. The line fits the
 * terminal's width (TIOCGWINSZ on fd; else $COLUMNS; else 80): when it
 * is narrow the bar goes first, then the ETA, then the rate.
 *
 * Updates are cheap: the line is redrawn at most every
 * ZPM_PROGRESS_INTERVAL_MS (environment variable of that name, read at
 * open, overrides it; 0 draws on every update, for tests). Time comes
 * from CLOCK_MONOTONIC.
 *
 * zpm_progress_finish draws the final state and ends the line with a
 * newline, so the summary stays on screen as wget, curl, pip and git
 * leave theirs ("... 300.0 MiB  100%  [====]  56.2 MiB/s  in 0:05": the
 * average rate and the time taken).
 *
 * Whether to show a meter at all (a terminal, no --quiet) is the
 * caller's choice: the meter draws on whatever fd it is given. Every
 * function accepts p == NULL as a no-op, so a caller without a meter
 * passes NULL. A write error (EPIPE, EIO...) silently turns the meter
 * off; it never fails the operation it reports on, and SIGPIPE is held
 * off while it writes.
 *
 * Single-threaded: one meter is used by one thread at a time.
 */
#ifndef ZPM_PROGRESS_H
#define ZPM_PROGRESS_H

#include <stddef.h>

#include "zpm/error.h"
#include "zpm/progress_fn.h"

#define ZPM_PROGRESS_INTERVAL_MS 100

struct zpm_progress;

/*
 * A meter labelled label (copied) that draws on fd (stderr: 2); total 0
 * means unknown. It draws its first line at once.
 */
int zpm_progress_open(struct zpm_progress **out, const char *label,
                      unsigned long long total, int fd,
                      struct zpm_error *err);

void zpm_progress_set_total(struct zpm_progress *p, unsigned long long total);

/*
 * n more bytes done. Redraws at most every interval; add(p, 0) is a tick
 * that may redraw (the rate falls while nothing moves).
 */
void zpm_progress_add(struct zpm_progress *p, unsigned long long n);

/* Absolute position; may go back (a retried upload restarts the rate). */
void zpm_progress_set(struct zpm_progress *p, unsigned long long done);

/*
 * The meter as a zpm_progress_fn (ud is the meter, or NULL): moves it to
 * done, and sets its total when total is not 0. Hand it to the archive
 * writer or an HTTP run to draw what they report.
 */
void zpm_progress_report(void *meter, unsigned long long done,
                         unsigned long long total);

/*
 * Draw the final line (the bytes done, the average rate and the time
 * taken) and end it with a newline. Idempotent; updates after it are
 * ignored.
 */
void zpm_progress_finish(struct zpm_progress *p);

/* Finish if not finished, and free. NULL is fine. */
void zpm_progress_free(struct zpm_progress *p);

/*
 * The line the meter draws for these figures, without '\r' and the
 * clear, in at most cols - 1 columns (counted in bytes: a UTF-8 label
 * takes no more columns than bytes). rate is in bytes per second, < 0
 * when unknown. seconds is the ETA (< 0: unknown, shown "--:--"), or
 * with finished the time taken (shown "in m:ss"). Writes a
 * NUL-terminated string into buf (truncated to size) and returns its
 * length. For tests, and for callers that show progress their own way.
 */
size_t zpm_progress_format(char *buf, size_t size, const char *label,
                           unsigned long long done, unsigned long long total,
                           double rate, double seconds, int finished,
                           int cols);

/*
 * Test hook: take the time from now(ud), in nanoseconds, instead of
 * CLOCK_MONOTONIC; the meter's start and rate window restart from it.
 */
void zpm_progress_set_clock(struct zpm_progress *p,
                            unsigned long long (*now)(void *ud), void *ud);

#endif
