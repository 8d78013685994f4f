/*
 * Cancellation by signal. Long operations (writing an archive, running
 * HTTP transfers) take a pointer to a flag and stop with ZPM_ECANCELED,
 * cleaning up as after any failure, once the flag is non-zero.
 *
 * zpm_cancel_on_signals() makes zpm_cancel_signal_flag() such a flag:
 * SIGINT, SIGTERM and SIGHUP set it (to the signal's number), so that
 * Ctrl-C or a `kill` ends a
 * command the way an error does: temporary files removed, the caller told
 * what was done. The handlers fire once (SA_RESETHAND): a second signal
 * of the same kind ends the process at once, as a user pressing Ctrl-C
 * twice expects.
 */
#ifndef ZPM_CANCEL_H
#define ZPM_CANCEL_H

#include <signal.h>

#include "zpm/error.h"

typedef volatile sig_atomic_t zpm_cancel_flag;

/* The flag the handlers set: zero until a signal arrives. */
zpm_cancel_flag *zpm_cancel_signal_flag(void);

/*
 * Install the handlers (once; later calls do nothing). Returns ZPM_OK, or
 * ZPM_EIO with errno set if sigaction fails.
 */
int zpm_cancel_on_signals(void);

/*
 * Before zpm_cancel_on_signals: whether SIGINT is at its default action.
 * Under the lua5.4 interpreter, whose handler is in place while a script
 * runs and puts SIG_DFL back when it fires, that means a Ctrl-C came
 * already (and lua5.4's "interrupted!" error may have been lost in a
 * finalizer). 0 once the handlers are installed.
 */
int zpm_cancel_sigint_default(void);

/* The signal number that set the flag, or 0. flag may be NULL. */
int zpm_cancelled(const zpm_cancel_flag *flag);

#endif
