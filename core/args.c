/*
 * Command-line splitting and escaping for job descriptions.
 *
 * zpm_args_split follows Python's shlex.split in POSIX mode with
 * whitespace_split and no comments, because zapps written for the original
 * zpm rely on its exact behaviour: words separated by space, tab, CR, LF;
 * '...' literal; "..." where a backslash escapes only " and \; outside
 * quotes a backslash escapes any character; quotes may join a word
 * ("a"b is ab) and an empty pair of quotes is an empty word.
 */
#include "zpm/args.h"

#include <stdlib.h>
#include <string.h>

struct word {
  char *buf;
  size_t len;
  size_t cap;
};

static int word_push(struct word *w, char c)
{
  if (w->len == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    char *buf = realloc(w->buf, cap);
    if (buf == NULL)
      return -1;
    w->buf = buf;
    w->cap = cap;
  }
  w->buf[w->len++] = c;
  return 0;
}

static int is_split_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum split_state { BETWEEN, IN_WORD, IN_SINGLE, IN_DOUBLE };

int zpm_args_split(const char *s, size_t len,
                   int (*emit)(const char *word, size_t len, void *ud),
                   void *ud, struct zpm_error *err)
{
  struct word w = { NULL, 0, 0 };
  enum split_state state = BETWEEN;
  int rc = ZPM_OK;
  size_t i = 0;

  while (i < len && rc == ZPM_OK) {
    char c = s[i++];
    int pushed = 0;

    switch (state) {
    case BETWEEN:
    case IN_WORD:
      if (is_split_space(c)) {
        if (state == IN_WORD) {
          rc = emit(w.buf ? w.buf : "", w.len, ud);
          w.len = 0;
        }
        state = BETWEEN;
        continue;
      }
      state = IN_WORD;
      if (c == '\'') {
        state = IN_SINGLE;
      } else if (c == '"') {
        state = IN_DOUBLE;
      } else if (c == '\\') {
        if (i == len) {
          rc = zpm_error_set(err, ZPM_EINVAL, "No escaped character");
          break;
        }
        pushed = word_push(&w, s[i++]);
      } else {
        pushed = word_push(&w, c);
      }
      break;
    case IN_SINGLE:
      if (c == '\'')
        state = IN_WORD;
      else
        pushed = word_push(&w, c);
      break;
    case IN_DOUBLE:
      if (c == '"') {
        state = IN_WORD;
      } else if (c == '\\' && i < len && (s[i] == '"' || s[i] == '\\')) {
        pushed = word_push(&w, s[i++]);
      } else if (c == '\\' && i == len) {
        rc = zpm_error_set(err, ZPM_EINVAL, "No escaped character");
      } else {
        pushed = word_push(&w, c);
      }
      break;
    }
    if (pushed != 0)
      rc = zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  }

  if (rc == ZPM_OK) {
    if (state == IN_SINGLE || state == IN_DOUBLE)
      rc = zpm_error_set(err, ZPM_EINVAL, "No closing quotation");
    else if (state == IN_WORD)
      rc = emit(w.buf ? w.buf : "", w.len, ud);
  }
  free(w.buf);
  return rc;
}

size_t zpm_args_escape(const char *s, size_t len, char *out, size_t cap)
{
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  size_t i;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\' || c == '"' || c == ',' || c == ' ' || c == '\n') {
      const char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
      size_t k;
      for (k = 0; k < 4; k++, n++)
        if (n < cap)
          out[n] = esc[k];
    } else {
      if (n < cap)
        out[n] = (char)c;
      n++;
    }
  }
  return n;
}
