/*
 * What a scalar means under YAML 1.1 as PyYAML's safe_load reads it.
 *
 * The matchers below are hand-written equivalents of PyYAML 6.0's
 * implicit resolver regexes (resolver.py), anchored at both ends; the
 * constructors follow SafeConstructor (construct_yaml_int/float/bool).
 * Nothing here depends on the C locale's decimal point.
 */
#include "zpm/yaml.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
  if (is_digit(c))
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

static char to_lower(char c)
{
  if (c >= 'A' && c <= 'Z')
    return (char)(c - 'A' + 'a');
  return c;
}

static int equals(const char *s, size_t n, const char *word)
{
  return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Bytes taken by s[0..n) that all belong to [0-9_] (when digits) or to
 * the characters accepted by ok(). */
static size_t span(const char *s, size_t n, int (*ok)(char))
{
  size_t i = 0;

  while (i < n && (ok(s[i]) || s[i] == '_'))
    i++;
  return i;
}

static int is_binary(char c)
{
  return c == '0' || c == '1';
}

static int is_octal(char c)
{
  return c >= '0' && c <= '7';
}

/* Bytes taken by (:[0-5]?[0-9])* at s; greedy is exact for this group. */
static size_t sexagesimal_span(const char *s, size_t n)
{
  size_t i = 0;

  while (i + 1 < n && s[i] == ':' && is_digit(s[i + 1])) {
    if (i + 2 < n && s[i + 1] <= '5' && is_digit(s[i + 2]))
      i += 3;
    else
      i += 2;
  }
  return i;
}

static size_t sign_span(const char *s, size_t n)
{
  return n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
}

/*
 * [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*)
 * | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+
 */
static int match_int(const char *s, size_t n)
{
  size_t i = sign_span(s, n);
  size_t k;

  s += i;
  n -= i;
  if (n == 0)
    return 0;
  if (s[0] == '0') {
    if (n == 1)
      return 1;
    if (s[1] == 'b')
      return n > 2 && span(s + 2, n - 2, is_binary) == n - 2;
    if (s[1] == 'x')
      return n > 2 && span(s + 2, n - 2, is_hex) == n - 2;
    return span(s + 1, n - 1, is_octal) == n - 1;
  }
  if (!is_digit(s[0]))
    return 0;
  k = 1 + span(s + 1, n - 1, is_digit);
  if (k == n)
    return 1;
  i = sexagesimal_span(s + k, n - k);
  return i > 0 && k + i == n;
}

/* ([eE][-+][0-9]+)? up to the end of the string. */
static int match_exponent(const char *s, size_t n)
{
  size_t i;

  if (n == 0)
    return 1;
  if (n < 3 || (s[0] != 'e' && s[0] != 'E') || (s[1] != '-' && s[1] != '+'))
    return 0;
  for (i = 2; i < n; i++) {
    if (!is_digit(s[i]))
      return 0;
  }
  return 1;
}

/*
 * [-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)?
 * | \.[0-9][0-9_]*([eE][-+][0-9]+)?
 * | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
 * | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
 * (PyYAML 6.0's second branch wants a digit right after the dot.)
 */
static int match_float(const char *s, size_t n)
{
  size_t sign = sign_span(s, n);
  const char *p = s + sign;
  size_t m = n - sign;
  size_t k, g;

  if (m == 0)
    return 0;
  if (p[0] == '.') {
    if (equals(p + 1, m - 1, "inf") || equals(p + 1, m - 1, "Inf")
        || equals(p + 1, m - 1, "INF"))
      return 1;
    if (sign)
      return 0;
    if (equals(p + 1, m - 1, "nan") || equals(p + 1, m - 1, "NaN")
        || equals(p + 1, m - 1, "NAN"))
      return 1;
    if (m < 2 || !is_digit(p[1]))
      return 0;
    k = 2 + span(p + 2, m - 2, is_digit);
    return match_exponent(p + k, m - k);
  }
  if (!is_digit(p[0]))
    return 0;
  k = 1 + span(p + 1, m - 1, is_digit);
  if (k < m && p[k] == '.') {
    k++;
    k += span(p + k, m - k, is_digit);
    return match_exponent(p + k, m - k);
  }
  g = sexagesimal_span(p + k, m - k);
  if (g == 0 || k + g >= m || p[k + g] != '.')
    return 0;
  k += g + 1;
  return span(p + k, m - k, is_digit) == m - k;
}

/* A copy of s without '_' (and lower-cased when asked), in buf when it
 * fits, else on the heap. NULL when out of memory. */
static char *clean_copy(const char *s, size_t n, char *buf, size_t size,
                        int lower, size_t *outlen)
{
  char *out = buf;
  size_t i, j = 0;

  if (n + 1 > size) {
    out = malloc(n + 1);
    if (out == NULL)
      return NULL;
  }
  for (i = 0; i < n; i++) {
    if (s[i] != '_')
      out[j++] = lower ? to_lower(s[i]) : s[i];
  }
  out[j] = '\0';
  *outlen = j;
  return out;
}

static void release(char *p, char *buf)
{
  if (p != buf)
    free(p);
}

/*
 * strtod on s[0..n), a validated decimal literal, reading '.' as the
 * decimal point whatever setlocale says: the copy handed to strtod spells
 * it as the current locale does, as Lua's lua_str2number does.
 */
static int locale_strtod(const char *s, size_t n, double *out)
{
  char buf[128];
  const char *point = localeconv()->decimal_point;
  size_t plen = point != NULL ? strlen(point) : 0;
  size_t i, j = 0;
  char *copy;
  char *end;
  int rc;

  if (plen == 0) {
    point = ".";
    plen = 1;
  }
  if (n > (SIZE_MAX - 1) / plen)
    return -1;
  copy = n * plen + 1 > sizeof(buf) ? malloc(n * plen + 1) : buf;
  if (copy == NULL)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] == '.') {
      memcpy(copy + j, point, plen);
      j += plen;
    } else {
      copy[j++] = s[i];
    }
  }
  copy[j] = '\0';
  *out = strtod(copy, &end);
  rc = (size_t)(end - copy) == j ? 0 : -1;
  release(copy, buf);
  return rc;
}

/*
 * Python's float() on a decimal literal: digits with an optional dot and
 * an optional exponent (sign optional), at least one mantissa digit; or
 * inf, infinity, nan (already lower-cased, sign stripped).
 */
static int decimal_float(const char *s, size_t n, double *out)
{
  size_t i = 0, digits = 0;

  if (equals(s, n, "inf") || equals(s, n, "infinity")) {
    *out = HUGE_VAL;
    return 0;
  }
  if (equals(s, n, "nan")) {
    *out = NAN;
    return 0;
  }
  while (i < n && is_digit(s[i])) {
    i++;
    digits++;
  }
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && is_digit(s[i])) {
      i++;
      digits++;
    }
  }
  if (digits == 0)
    return -1;
  if (i < n && s[i] == 'e') {
    size_t e;

    i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
      i++;
    e = i;
    while (i < n && is_digit(s[i]))
      i++;
    if (i == e)
      return -1;
  }
  if (i != n)
    return -1;
  return locale_strtod(s, n, out);
}

/* SafeConstructor.construct_yaml_float on any text (explicit !!float
 * included): drop '_', lower-case, sign, .inf/.nan, base 60, float(). */
static int construct_float(const char *s, size_t n, double *out)
{
  char buf[128];
  size_t len, i;
  char *c = clean_copy(s, n, buf, sizeof(buf), 1, &len);
  const char *p;
  double sign = 1.0, value = 0.0, base = 1.0, part;
  int rc = 0;

  if (c == NULL)
    return -1;
  p = c;
  if (len > 0 && (p[0] == '-' || p[0] == '+')) {
    if (p[0] == '-')
      sign = -1.0;
    p++;
    len--;
  }
  if (len == 0) {
    rc = -1;
  } else if (equals(p, len, ".inf")) {
    value = sign * HUGE_VAL;
  } else if (equals(p, len, ".nan")) {
    value = NAN;
  } else if (memchr(p, ':', len) != NULL) {
    /* Right to left, as PyYAML sums digit * 60**k. */
    size_t end = len;

    for (i = len; rc == 0; i--) {
      if (i == 0 || p[i - 1] == ':') {
        rc = decimal_float(p + i, end - i, &part);
        value += part * base;
        base *= 60.0;
        end = i - (i > 0);
        if (i == 0)
          break;
      }
    }
    value *= sign;
  } else {
    rc = decimal_float(p, len, &value);
    value *= sign;
  }
  release(c, buf);
  if (rc == 0)
    *out = value;
  return rc;
}

/* magnitude = magnitude * base + digit, noting overflow of 64 bits. */
static void accumulate(unsigned long long *mag, double *approx,
                       int *overflow, unsigned base, unsigned digit)
{
  if (*mag > (ULLONG_MAX - digit) / base)
    *overflow = 1;
  else
    *mag = *mag * base + digit;
  *approx = *approx * base + digit;
}

static int digits_in(const char *s, size_t n, unsigned base)
{
  size_t i;

  if (n == 0)
    return 0;
  for (i = 0; i < n; i++) {
    if (!is_hex(s[i]) || (unsigned)hex_value(s[i]) >= base)
      return 0;
  }
  return 1;
}

/* value = value * 60 + part over the ':'-separated decimal parts. */
static int sexagesimal_int(const char *p, size_t len, unsigned long long *mag,
                           double *approx, int *overflow)
{
  size_t start = 0, i, j;

  for (i = 0; i <= len; i++) {
    unsigned long long part = 0;
    double part_approx = 0.0;
    int part_overflow = 0;

    if (i < len && p[i] != ':')
      continue;
    if (!digits_in(p + start, i - start, 10))
      return -1;
    for (j = start; j < i; j++)
      accumulate(&part, &part_approx, &part_overflow, 10,
                 (unsigned)(p[j] - '0'));
    accumulate(mag, approx, overflow, 60, 0);
    if (part_overflow || *mag > ULLONG_MAX - part)
      *overflow = 1;
    else
      *mag += part;
    *approx += part_approx;
    start = i + 1;
  }
  return 0;
}

/*
 * SafeConstructor.construct_yaml_int on any text: drop '_', sign, "0",
 * 0b binary, 0x hex, leading 0 octal (0o too, as Python's int(x, 8)
 * takes it), ':' base 60, else decimal. A value beyond 64 bits comes
 * back as a float.
 */
static int construct_int(const char *s, size_t n, struct zpm_scalar *out)
{
  char buf[128];
  size_t len, i;
  char *c = clean_copy(s, n, buf, sizeof(buf), 0, &len);
  const char *p;
  int negative = 0, overflow = 0, rc = 0;
  unsigned long long mag = 0;
  double approx = 0.0;
  unsigned base = 10;

  if (c == NULL)
    return -1;
  p = c;
  if (len > 0 && (p[0] == '-' || p[0] == '+')) {
    negative = p[0] == '-';
    p++;
    len--;
  }
  if (len > 1 && p[0] == '0' && (p[1] == 'b' || p[1] == 'x' || p[1] == 'o')) {
    base = p[1] == 'b' ? 2 : p[1] == 'x' ? 16 : 8;
    p += 2;
    len -= 2;
  } else if (len > 1 && p[0] == '0') {
    base = 8;
  }
  if (base == 10 && memchr(p, ':', len) != NULL) {
    rc = sexagesimal_int(p, len, &mag, &approx, &overflow);
  } else if (!digits_in(p, len, base)) {
    rc = -1;
  } else {
    for (i = 0; i < len; i++)
      accumulate(&mag, &approx, &overflow, base, (unsigned)hex_value(p[i]));
    if (overflow && base == 10)
      approx = strtod(p, NULL); /* digits only: no decimal point */
  }
  if (!overflow)
    approx = (double)mag; /* correctly rounded, unlike the running sum */
  release(c, buf);
  if (rc != 0)
    return rc;
  if (!overflow && !negative && mag <= (unsigned long long)LLONG_MAX) {
    out->type = ZPM_SCALAR_INT;
    out->integer = (long long)mag;
  } else if (!overflow && negative
             && mag <= (unsigned long long)LLONG_MAX + 1u) {
    out->type = ZPM_SCALAR_INT;
    out->integer = mag == (unsigned long long)LLONG_MAX + 1u
                     ? LLONG_MIN : -(long long)mag;
  } else {
    out->type = ZPM_SCALAR_FLOAT;
    out->number = negative ? -approx : approx;
  }
  return 0;
}

/* PyYAML's bool_values, looked up after lower-casing. */
static int construct_bool(const char *s, size_t n, int *out)
{
  static const char *const words[] = {
    "yes", "no", "true", "false", "on", "off"
  };
  char low[6];
  size_t i;

  if (n > 5)
    return -1;
  for (i = 0; i < n; i++)
    low[i] = to_lower(s[i]);
  for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    if (equals(low, n, words[i])) {
      *out = i % 2 == 0;
      return 0;
    }
  }
  return -1;
}

static int is_null_word(const char *s, size_t n)
{
  return n == 0 || equals(s, n, "~") || equals(s, n, "null")
         || equals(s, n, "Null") || equals(s, n, "NULL");
}

static int is_bool_word(const char *s, size_t n, int *value)
{
  static const char *const words[] = {
    "yes", "Yes", "YES", "no", "No", "NO",
    "true", "True", "TRUE", "false", "False", "FALSE",
    "on", "On", "ON", "off", "Off", "OFF"
  };
  size_t i;

  for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    if (equals(s, n, words[i])) {
      *value = (i / 3) % 2 == 0;
      return 1;
    }
  }
  return 0;
}

static void set_string(struct zpm_scalar *out)
{
  memset(out, 0, sizeof(*out));
  out->type = ZPM_SCALAR_STRING;
}

void zpm_yaml_resolve_plain(const char *text, size_t len,
                            struct zpm_scalar *out)
{
  int b;

  set_string(out);
  if (is_null_word(text, len)) {
    out->type = ZPM_SCALAR_NULL;
  } else if (is_bool_word(text, len, &b)) {
    out->type = ZPM_SCALAR_BOOL;
    out->boolean = b;
  } else if (match_int(text, len)) {
    /* "0b_" matches the regex but has no digits: PyYAML raises a
     * ValueError there; we keep the text as a string. */
    if (construct_int(text, len, out) != 0)
      set_string(out);
  } else if (match_float(text, len)) {
    if (construct_float(text, len, &out->number) == 0)
      out->type = ZPM_SCALAR_FLOAT;
  }
}

int zpm_yaml_construct_scalar(enum zpm_scalar_type type, const char *text,
                              size_t len, struct zpm_scalar *out)
{
  set_string(out);
  switch (type) {
  case ZPM_SCALAR_STRING:
    return ZPM_OK;
  case ZPM_SCALAR_NULL:
    out->type = ZPM_SCALAR_NULL;
    return ZPM_OK;
  case ZPM_SCALAR_BOOL:
    if (construct_bool(text, len, &out->boolean) != 0)
      return ZPM_EINVAL;
    out->type = ZPM_SCALAR_BOOL;
    return ZPM_OK;
  case ZPM_SCALAR_INT:
    if (construct_int(text, len, out) != 0) {
      set_string(out);
      return ZPM_EINVAL;
    }
    return ZPM_OK;
  case ZPM_SCALAR_FLOAT:
    if (construct_float(text, len, &out->number) != 0)
      return ZPM_EINVAL;
    out->type = ZPM_SCALAR_FLOAT;
    return ZPM_OK;
  }
  return ZPM_EINVAL;
}
