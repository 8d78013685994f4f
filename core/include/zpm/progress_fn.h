/*
 * How a data path reports how far it has got, as libcurl's
 * CURLOPT_XFERINFOFUNCTION does: the archive writer and the HTTP engine
 * call a zpm_progress_fn with the bytes done so far (absolute, and it
 * may go back when a retried upload restarts) and the total (0 when
 * unknown). They never draw; what the callback does with the figures is
 * the caller's: zpm_progress_report (zpm/progress.h) moves the default
 * terminal meter.
 *
 * It runs in the thread doing the work, between blocks, so it must be
 * cheap, and it cannot fail the operation.
 */
#ifndef ZPM_PROGRESS_FN_H
#define ZPM_PROGRESS_FN_H

typedef void (*zpm_progress_fn)(void *ud, unsigned long long done,
                                unsigned long long total);

#endif
