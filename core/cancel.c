/*
 * Signal handlers that set a cancel flag (see zpm/cancel.h).
 */
#include "zpm/cancel.h"

#include <stddef.h>
#include <string.h>

/* A signal handler can reach only static storage: this flag is the one
 * mutable global of the core, written by the handler alone. */
static zpm_cancel_flag caught;
static int installed;

static void on_signal(int signo)
{
  caught = signo;
}

zpm_cancel_flag *zpm_cancel_signal_flag(void)
{
  return &caught;
}

int zpm_cancel_on_signals(void)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction sa;
  size_t i;

  if (installed)
    return ZPM_OK;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
    if (sigaction(signals[i], &sa, NULL) != 0)
      return ZPM_EIO;
  }
  installed = 1;
  return ZPM_OK;
}

int zpm_cancel_sigint_default(void)
{
  struct sigaction old;

  if (installed || sigaction(SIGINT, NULL, &old) != 0)
    return 0;
  return !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
}

int zpm_cancelled(const zpm_cancel_flag *flag)
{
  return flag != NULL ? (int)*flag : 0;
}
