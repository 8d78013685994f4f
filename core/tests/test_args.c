/* Table-driven tests for zpm_args_split (against Python's shlex.split,
 * expected values generated with Python 3.11) and zpm_args_escape. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zpm/args.h"

struct split_case {
  const char *input;
  int count;              /* -1: expect an error */
  const char *words[4];   /* or, on error, the message */
};

static const struct split_case split_cases[] = {
  { "", 0, { NULL } },
  { "   ", 0, { NULL } },
  { "a", 1, { "a" } },
  { "a b  c", 3, { "a", "b", "c" } },
  { "a\tb\nc\rd", 4, { "a", "b", "c", "d" } },
  { "'a b' c", 2, { "a b", "c" } },
  { "\"a b\" c", 2, { "a b", "c" } },
  { "a\"b c\"d", 1, { "ab cd" } },
  { "a'b'c", 1, { "abc" } },
  { "\"\"", 1, { "" } },
  { "''", 1, { "" } },
  { "a \"\" b", 3, { "a", "", "b" } },
  { "\"a\\\"b\"", 1, { "a\"b" } },
  { "\"a\\\\b\"", 1, { "a\\b" } },
  { "\"a\\nb\"", 1, { "a\\nb" } },
  { "\"a\\$b\"", 1, { "a\\$b" } },
  { "a\\ b", 1, { "a b" } },
  { "a\\\\b", 1, { "a\\b" } },
  { "a\\\"b", 1, { "a\"b" } },
  { "'a\\b'", 1, { "a\\b" } },
  { "'a\\'", 1, { "a\\" } },
  { "mapper.py \"foo\\\\, \\nbar\"", 2, { "mapper.py", "foo\\, \\nbar" } },
  { "x\\\nz", 1, { "x\nz" } },
  { "\"multi\nline\"", 1, { "multi\nline" } },
  { "a#b #c", 2, { "a#b", "#c" } },
  { "\"a\"'b'c", 1, { "abc" } },
  { "--opt=1 -x \"y z\"", 3, { "--opt=1", "-x", "y z" } },
  { "\xc3\xa9t\xc3\xa9 caf\xc3\xa9", 2, { "\xc3\xa9t\xc3\xa9", "caf\xc3\xa9" } },
  { "\"a", -1, { "No closing quotation" } },
  { "'a", -1, { "No closing quotation" } },
  { "a b 'c", -1, { "No closing quotation" } },
  { "a\\", -1, { "No escaped character" } },
  { "\"abc\\", -1, { "No escaped character" } },
};

struct collected {
  int n;
  char *words[8];
};

static int collect(const char *word, size_t len, void *ud)
{
  struct collected *c = ud;
  char *copy;

  if (c->n == 8)
    return -1;
  copy = malloc(len + 1);
  if (copy == NULL)
    return -1;
  memcpy(copy, word, len);
  copy[len] = '\0';
  c->words[c->n++] = copy;
  return 0;
}

static int stop_at_second(const char *word, size_t len, void *ud)
{
  int *seen = ud;
  (void)word;
  (void)len;
  return ++*seen == 2 ? 42 : 0;
}

static void test_split(void)
{
  size_t i;
  int k;

  for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
    const struct split_case *tc = &split_cases[i];
    struct collected got = { 0, { NULL } };
    struct zpm_error err;
    int rc;

    zpm_error_clear(&err);
    rc = zpm_args_split(tc->input, strlen(tc->input), collect, &got, &err);
    if (tc->count < 0) {
      CHECK(rc == ZPM_EINVAL);
      CHECK_STR(err.message, tc->words[0]);
    } else {
      CHECK(rc == ZPM_OK);
      CHECK(got.n == tc->count);
      for (k = 0; k < got.n && k < tc->count; k++)
        CHECK_STR(got.words[k], tc->words[k]);
    }
    for (k = 0; k < got.n; k++)
      free(got.words[k]);
  }
}

static void test_split_stops(void)
{
  int seen = 0;
  struct zpm_error err;

  CHECK(zpm_args_split("a b c", 5, stop_at_second, &seen, &err) == 42);
  CHECK(seen == 2);
}

static void test_escape(void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "", "" },
    { "plain", "plain" },
    { "a b", "a\\x20b" },
    { "a,b", "a\\x2cb" },
    { "q\"q", "q\\x22q" },
    { "back\\slash", "back\\x5cslash" },
    { "new\nline", "new\\x0aline" },
    { "foo\\, \\nbar", "foo\\x5c\\x2c\\x20\\x5cnbar" },
    { "tab\there", "tab\there" },
    { "\\x20", "\\x5cx20" },
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[64];
    size_t n = zpm_args_escape(cases[i].in, strlen(cases[i].in), buf,
                               sizeof(buf) - 1);
    buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
    CHECK(n == strlen(cases[i].out));
    CHECK_STR(buf, cases[i].out);
  }
  /* sizing call and truncation never write past cap */
  {
    char small[3] = { 'X', 'X', 'X' };
    CHECK(zpm_args_escape(" ", 1, NULL, 0) == 4);
    CHECK(zpm_args_escape("  ", 2, small, 2) == 8);
    CHECK(small[0] == '\\' && small[1] == 'x' && small[2] == 'X');
  }
}

int main(void)
{
  test_split();
  test_split_stops();
  test_escape();
  return CHECK_DONE();
}
