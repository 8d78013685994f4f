#include "zpm/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void zpm_error_clear(struct zpm_error *err)
{
  if (err == NULL)
    return;
  memset(err, 0, sizeof(*err));
}

int zpm_error_set(struct zpm_error *err, int status, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return status;
  err->status = status;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  return status;
}

int zpm_error_errno(struct zpm_error *err, int e, const char *fmt, ...)
{
  va_list ap;
  size_t n;

  if (err == NULL)
    return ZPM_EIO;
  err->status = ZPM_EIO;
  err->lib_code = e;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  n = strlen(err->message);
  snprintf(err->message + n, sizeof(err->message) - n, ": %s", strerror(e));
  return ZPM_EIO;
}

const char *zpm_status_name(int status)
{
  switch (status) {
  case ZPM_OK: return "ok";
  case ZPM_EINVAL: return "invalid";
  case ZPM_ENOMEM: return "memory";
  case ZPM_EIO: return "io";
  case ZPM_EYAML: return "yaml";
  case ZPM_ELIMIT: return "limit";
  case ZPM_EARCHIVE: return "archive";
  case ZPM_EZLIB: return "zlib";
  case ZPM_EHTTP: return "http";
  case ZPM_ENETWORK: return "network";
  case ZPM_ECANCELED: return "interrupted";
  default: return "unknown";
  }
}
