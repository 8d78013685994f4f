/*
 * Command lines for ZeroVM job descriptions (DESIGN.md section 4):
 * POSIX-shell-style splitting, exactly as Python's shlex.split, and the
 * \xNN escaping of the characters the NVRAM format cannot hold.
 */
#ifndef ZPM_ARGS_H
#define ZPM_ARGS_H

#include <stddef.h>

#include "zpm/error.h"

/*
 * Split a command line like shlex.split(s) (POSIX mode, no comments).
 * Calls emit(word, len, ud) for each word in order; a non-zero return from
 * emit stops the split and is returned. Errors (ZPM_EINVAL): "No closing
 * quotation", "No escaped character".
 */
int zpm_args_split(const char *s, size_t len,
                   int (*emit)(const char *word, size_t len, void *ud),
                   void *ud, struct zpm_error *err);

/*
 * Escape one argument: backslash, double quote, comma, space and newline
 * become \x5c \x22 \x2c \x20 \x0a. Writes at most cap bytes to out and
 * returns the length the full result needs (like snprintf, without NUL):
 * call with cap 0 to size the buffer. At most 4 * len.
 */
size_t zpm_args_escape(const char *s, size_t len, char *out, size_t cap);

#endif
