/*
 * libFuzzer target: the shlex-style splitter and the \xNN escaper.
 * Checks that the words of a split lie within the bounds the splitter
 * can produce (no word longer than the input), that escaping sizes
 * correctly (cap 0 gives the length, at most 4 * len), that a short
 * buffer is never overrun, and that the result holds none of the five
 * characters the NVRAM format cannot carry: no raw quote, comma, space
 * or newline, and a backslash only as the start of a \xNN escape, which
 * decodes back to the input (so the escaping is lossless).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zpm/args.h"

struct words {
  size_t input_len;
  size_t count;
};

static int on_word(const char *word, size_t len, void *ud)
{
  struct words *w = ud;
  char *copy;

  if (len > w->input_len || (len > 0 && word == NULL))
    abort();
  /* Touch every byte so ASan sees an out-of-bounds word. */
  copy = malloc(len + 1);
  if (copy == NULL)
    return 1;
  memcpy(copy, word, len);
  free(copy);
  w->count++;
  return 0;
}

static int hex(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void check_escape(const char *s, size_t len)
{
  size_t need = zpm_args_escape(s, len, NULL, 0), got, i, j, cut;
  char *out;

  if (need > 4 * len || need < len)
    abort();
  out = malloc(need + 1);
  if (out == NULL)
    return;
  got = zpm_args_escape(s, len, out, need);
  if (got != need)
    abort();
  /* No raw " , space or newline; a backslash only opens a \xNN that
     decodes back to the input byte. */
  for (i = 0, j = 0; i < need; i++, j++) {
    if (out[i] == '"' || out[i] == ',' || out[i] == ' ' || out[i] == '\n')
      abort();
    if (out[i] == '\\') {
      if (i + 3 >= need)
        abort();
      if (out[i + 1] != 'x' || hex(out[i + 2]) < 0 || hex(out[i + 3]) < 0)
        abort();
      if (j >= len ||
          (unsigned char)s[j] != hex(out[i + 2]) * 16 + hex(out[i + 3]))
        abort();
      i += 3;
    } else if (j >= len || out[i] != s[j]) {
      abort();
    }
  }
  if (j != len)
    abort();
  free(out);

  /* A buffer too short by any amount is filled, never overrun. */
  cut = need / 2;
  out = malloc(cut > 0 ? cut : 1);   /* exact, so ASan sees overrun */
  if (out == NULL)
    return;
  if (zpm_args_escape(s, len, out, cut) != need)
    abort();
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct words w = { size, 0 };
  struct zpm_error err;
  char *copy;

  /* An exact-size heap copy: a read past the end is caught by ASan. */
  copy = malloc(size > 0 ? size : 1);
  if (copy == NULL)
    return 0;
  if (size > 0)
    memcpy(copy, data, size);
  zpm_error_clear(&err);
  if (zpm_args_split(copy, size, on_word, &w, &err) != ZPM_OK &&
      err.status == ZPM_OK)
    abort();
  check_escape(copy, size);
  free(copy);
  return 0;
}
