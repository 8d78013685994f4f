/* Tests for the YAML loader: the plain-scalar resolver against PyYAML 6.0
 * safe_load (expected values generated with it), explicit-tag
 * construction, the tree (order, positions, styles, tags, shared
 * aliases) and errors (syntax, aliases, limits, documents, UTF-8). */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zpm/yaml.h"

#define S ZPM_SCALAR_STRING
#define N ZPM_SCALAR_NULL
#define B ZPM_SCALAR_BOOL
#define I ZPM_SCALAR_INT
#define F ZPM_SCALAR_FLOAT

struct resolve_case {
  const char *text;
  enum zpm_scalar_type type;
  long long integer;   /* or the boolean */
  double number;
};

/* Where PyYAML raises a ValueError ("0b_", "0x_": the int pattern
 * matches but leaves no digits), the text stays a string. */
static const struct resolve_case resolve_cases[] = {
  { "", N, 0, 0.0 },
  { "~", N, 0, 0.0 },
  { "null", N, 0, 0.0 },
  { "Null", N, 0, 0.0 },
  { "NULL", N, 0, 0.0 },
  { "nUll", S, 0, 0.0 },
  { "nil", S, 0, 0.0 },
  { "None", S, 0, 0.0 },
  { "yes", B, 1, 0.0 },
  { "Yes", B, 1, 0.0 },
  { "YES", B, 1, 0.0 },
  { "yEs", S, 0, 0.0 },
  { "no", B, 0, 0.0 },
  { "No", B, 0, 0.0 },
  { "NO", B, 0, 0.0 },
  { "true", B, 1, 0.0 },
  { "True", B, 1, 0.0 },
  { "TRUE", B, 1, 0.0 },
  { "tRue", S, 0, 0.0 },
  { "false", B, 0, 0.0 },
  { "False", B, 0, 0.0 },
  { "FALSE", B, 0, 0.0 },
  { "on", B, 1, 0.0 },
  { "On", B, 1, 0.0 },
  { "ON", B, 1, 0.0 },
  { "off", B, 0, 0.0 },
  { "Off", B, 0, 0.0 },
  { "OFF", B, 0, 0.0 },
  { "y", S, 0, 0.0 },
  { "n", S, 0, 0.0 },
  { "0", I, 0LL, 0.0 },
  { "00", I, 0LL, 0.0 },
  { "-0", I, 0LL, 0.0 },
  { "+0", I, 0LL, 0.0 },
  { "0_", I, 0LL, 0.0 },
  { "7", I, 7LL, 0.0 },
  { "+12", I, 12LL, 0.0 },
  { "-12", I, -12LL, 0.0 },
  { "1_000", I, 1000LL, 0.0 },
  { "1__0", I, 10LL, 0.0 },
  { "1_", I, 1LL, 0.0 },
  { "_1", S, 0, 0.0 },
  { "017", I, 15LL, 0.0 },
  { "-017", I, -15LL, 0.0 },
  { "0_7", I, 7LL, 0.0 },
  { "08", S, 0, 0.0 },
  { "09", S, 0, 0.0 },
  { "0o7", S, 0, 0.0 },
  { "0b101", I, 5LL, 0.0 },
  { "-0b101", I, -5LL, 0.0 },
  { "0b1_0", I, 2LL, 0.0 },
  { "0b", S, 0, 0.0 },
  { "0b_", S, 0, 0.0 },
  { "0b2", S, 0, 0.0 },
  { "0x1f", I, 31LL, 0.0 },
  { "-0x1f", I, -31LL, 0.0 },
  { "0x_1F", I, 31LL, 0.0 },
  { "0xAbC", I, 2748LL, 0.0 },
  { "0x", S, 0, 0.0 },
  { "0x_", S, 0, 0.0 },
  { "0x1G", S, 0, 0.0 },
  { "190:20:30", I, 685230LL, 0.0 },
  { "-1:30", I, -90LL, 0.0 },
  { "1:2", I, 62LL, 0.0 },
  { "1:60", S, 0, 0.0 },
  { "1:5_0", S, 0, 0.0 },
  { "1_0:30", I, 630LL, 0.0 },
  { "01:30", S, 0, 0.0 },
  { "0:0", S, 0, 0.0 },
  { "1:", S, 0, 0.0 },
  { "1::2", S, 0, 0.0 },
  { "9223372036854775807", I, 9223372036854775807LL, 0.0 },
  { "-9223372036854775808", I, LLONG_MIN, 0.0 },
  { "9223372036854775808", F, 0, 9.223372036854776e+18 },
  { "-9223372036854775809", F, 0, -9.223372036854776e+18 },
  { "0xffffffffffffffff", F, 0, 1.8446744073709552e+19 },
  { "99999999999999999999999", F, 0, 1e+23 },
  { "1.5", F, 0, 1.5 },
  { "-1.5", F, 0, -1.5 },
  { "+1.5", F, 0, 1.5 },
  { "1.", F, 0, 1.0 },
  { "0.", F, 0, 0.0 },
  { ".5", F, 0, 0.5 },
  { "-.5", S, 0, 0.0 },
  { "._5", S, 0, 0.0 },
  { "._", S, 0, 0.0 },
  { "1_000.5", F, 0, 1000.5 },
  { "1_.5", F, 0, 1.5 },
  { "1.e+5", F, 0, 100000.0 },
  { "1.5e+5", F, 0, 150000.0 },
  { "1.5E-3", F, 0, 0.0015 },
  { "1.5e5", S, 0, 0.0 },
  { "1e5", S, 0, 0.0 },
  { "1e+5", S, 0, 0.0 },
  { "1.5e+", S, 0, 0.0 },
  { "3.14159265358979", F, 0, 3.14159265358979 },
  { ".inf", F, 0, HUGE_VAL },
  { "-.inf", F, 0, -HUGE_VAL },
  { "+.inf", F, 0, HUGE_VAL },
  { ".Inf", F, 0, HUGE_VAL },
  { "-.INF", F, 0, -HUGE_VAL },
  { ".iNf", S, 0, 0.0 },
  { "inf", S, 0, 0.0 },
  { ".nan", F, 0, NAN },
  { ".NaN", F, 0, NAN },
  { ".NAN", F, 0, NAN },
  { "-.nan", S, 0, 0.0 },
  { "nan", S, 0, 0.0 },
  { "1:30.5", F, 0, 90.5 },
  { "0:30.5", F, 0, 30.5 },
  { "1:2:3.5", F, 0, 3723.5 },
  { "-1:30.5", F, 0, -90.5 },
  { "1:30.", F, 0, 90.0 },
  { "1:60.5", S, 0, 0.0 },
  { "2001-12-14", S, 0, 0.0 },
  { "2001-12-14t21:59:43.10-05:00", S, 0, 0.0 },
  { "1.2.3", S, 0, 0.0 },
  { "12e", S, 0, 0.0 },
  { "abc", S, 0, 0.0 },
  { "- a", S, 0, 0.0 },
  { "0x1f ", S, 0, 0.0 },
  { "+", S, 0, 0.0 },
  { "-", S, 0, 0.0 },
  { ".", S, 0, 0.0 },
};

static int same_double(double a, double b)
{
  if (isnan(b))
    return isnan(a);
  return a == b;
}

static void test_resolve(void)
{
  size_t i;

  for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
    const struct resolve_case *c = &resolve_cases[i];
    struct zpm_scalar s;
    int ok;

    zpm_yaml_resolve_plain(c->text, strlen(c->text), &s);
    ok = s.type == c->type;
    if (ok && c->type == B)
      ok = s.boolean == (int)c->integer;
    else if (ok && c->type == I)
      ok = s.integer == c->integer;
    else if (ok && c->type == F)
      ok = same_double(s.number, c->number);
    CHECK(ok);
    if (!ok)
      fprintf(stderr, "  resolve \"%s\": type %d int %lld num %.17g\n",
              c->text, (int)s.type, s.integer, s.number);
  }
}

/* Explicit tags: PyYAML constructs without matching the implicit
 * patterns (expected values from PyYAML; -1 type: it raises). */
static const struct {
  enum zpm_scalar_type want;
  const char *text;
  int type;
  double value;
} construct_cases[] = {
  { F, "1e5", F, 100000.0 },
  { F, "5", F, 5.0 },
  { F, "017", F, 17.0 },
  { F, "inf", F, HUGE_VAL },
  { F, "-Infinity", F, -HUGE_VAL },
  { F, "1:30", F, 90.0 },
  { F, "._5", F, 0.5 },
  { F, "-.nan", F, NAN },
  { F, "0x1f", -1, 0 },
  { F, "", -1, 0 },
  { F, "1.5.", -1, 0 },
  { I, "0o7", I, 7 },
  { I, "1:60", I, 120 },
  { I, "-0x1f", I, -31 },
  { I, "08", -1, 0 },
  { I, "1.5", -1, 0 },
  { I, "", -1, 0 },
  { I, "x", -1, 0 },
  { B, "yEs", B, 1 },
  { B, "OFF", B, 0 },
  { B, "1", -1, 0 },
  { N, "foo", N, 0 },
  { S, "5", S, 0 },
};

static void test_construct(void)
{
  size_t i;

  for (i = 0; i < sizeof(construct_cases) / sizeof(construct_cases[0]);
       i++) {
    struct zpm_scalar s;
    const char *t = construct_cases[i].text;
    int rc = zpm_yaml_construct_scalar(construct_cases[i].want, t,
                                       strlen(t), &s);
    int ok;

    if (construct_cases[i].type < 0) {
      ok = rc == ZPM_EINVAL && s.type == S;
    } else {
      ok = rc == ZPM_OK && (int)s.type == construct_cases[i].type;
      if (ok && s.type == F)
        ok = same_double(s.number, construct_cases[i].value);
      else if (ok && s.type == I)
        ok = s.integer == (long long)construct_cases[i].value;
      else if (ok && s.type == B)
        ok = s.boolean == (int)construct_cases[i].value;
    }
    CHECK(ok);
    if (!ok)
      fprintf(stderr, "  construct %d \"%s\": rc %d type %d\n",
              (int)construct_cases[i].want, t, rc, (int)s.type);
  }
}

/* '.' stays the decimal point under a locale that uses ','. */
static void test_locale(void)
{
  static const char *const names[] = {
    "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE"
  };
  struct zpm_scalar s;
  size_t i;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (setlocale(LC_NUMERIC, names[i]) != NULL)
      break;
  }
  if (i == sizeof(names) / sizeof(names[0])) {
    printf("test_locale: no locale with a decimal comma, skipped\n");
    return;
  }
  zpm_yaml_resolve_plain("1.5", 3, &s);
  CHECK(s.type == ZPM_SCALAR_FLOAT && s.number == 1.5);
  zpm_yaml_resolve_plain("1:30.25", 7, &s);
  CHECK(s.type == ZPM_SCALAR_FLOAT && s.number == 90.25);
  CHECK(zpm_yaml_construct_scalar(ZPM_SCALAR_FLOAT, "1,5", 3, &s)
        == ZPM_EINVAL);
  setlocale(LC_NUMERIC, "C");
}

static struct zpm_yaml_doc *load(const char *text)
{
  struct zpm_yaml_doc *doc = NULL;
  struct zpm_error err;
  int rc;

  zpm_error_clear(&err);
  rc = zpm_yaml_load(&doc, text, strlen(text), NULL, &err);
  CHECK(rc == ZPM_OK);
  if (rc != ZPM_OK)
    fprintf(stderr, "  load: %lu:%lu: %s\n", err.line, err.column,
            err.message);
  return doc;
}

static const struct zpm_yaml_node *value_of(const struct zpm_yaml_node *m,
                                            const char *key)
{
  size_t i;

  if (m == NULL || m->kind != ZPM_YAML_MAPPING)
    return NULL;
  for (i = 0; i < m->count; i++) {
    if (strcmp(m->items[2 * i]->text, key) == 0)
      return m->items[2 * i + 1];
  }
  return NULL;
}

static void test_tree(void)
{
  const char *text =
    "zeta: 1\n"
    "alpha:\n"
    "  - plain\n"
    "  - 'single'\n"
    "  - \"dou\\tble\"\n"
    "  - |\n"
    "    lit\n"
    "  - >\n"
    "    fold\n"
    "mid: !!str 5\n"
    "base: &b {x: 1}\n"
    "use: *b\n"
    "loc: !local v\n"
    "nul: \"a\\0b\"\n"
    "merge:\n"
    "  <<: *b\n";
  struct zpm_yaml_doc *doc = load(text);
  const struct zpm_yaml_node *root = zpm_yaml_root(doc);
  const struct zpm_yaml_node *seq, *n;

  CHECK(root != NULL);
  if (root == NULL) {
    zpm_yaml_free(doc);
    return;
  }
  CHECK(root->kind == ZPM_YAML_MAPPING);
  CHECK(root->count == 8);
  CHECK(root->line == 1 && root->column == 1);
  CHECK(root->tag == NULL);
  CHECK_STR(root->items[0]->text, "zeta");
  CHECK_STR(root->items[2]->text, "alpha");
  CHECK_STR(root->items[4]->text, "mid");
  CHECK_STR(root->items[14]->text, "merge");
  n = root->items[1];
  CHECK(n->kind == ZPM_YAML_SCALAR && n->style == ZPM_YAML_PLAIN);
  CHECK(n->line == 1 && n->column == 7);
  CHECK(n->length == 1);
  seq = value_of(root, "alpha");
  CHECK(seq != NULL && seq->kind == ZPM_YAML_SEQUENCE && seq->count == 5);
  if (seq != NULL && seq->count == 5) {
    CHECK(seq->line == 3 && seq->column == 3);
    CHECK(seq->items[0]->style == ZPM_YAML_PLAIN);
    CHECK(seq->items[1]->style == ZPM_YAML_SINGLE_QUOTED);
    CHECK_STR(seq->items[1]->text, "single");
    CHECK(seq->items[1]->line == 4 && seq->items[1]->column == 5);
    CHECK(seq->items[2]->style == ZPM_YAML_DOUBLE_QUOTED);
    CHECK_STR(seq->items[2]->text, "dou\tble");
    CHECK(seq->items[3]->style == ZPM_YAML_LITERAL);
    CHECK_STR(seq->items[3]->text, "lit\n");
    CHECK(seq->items[4]->style == ZPM_YAML_FOLDED);
    CHECK(seq->items[4]->line == 8);
  }
  n = value_of(root, "mid");
  CHECK(n != NULL && n->tag != NULL);
  if (n != NULL)
    CHECK_STR(n->tag, "tag:yaml.org,2002:str");
  n = value_of(root, "loc");
  if (n != NULL)
    CHECK_STR(n->tag, "!local");
  n = value_of(root, "nul");
  CHECK(n != NULL && n->length == 3 && memcmp(n->text, "a\0b", 3) == 0);
  /* The alias is the anchored node itself. */
  CHECK(value_of(root, "use") == value_of(root, "base"));
  CHECK(value_of(root, "use")->line == 11);
  /* Merge keys are left to the binding: "<<" is an ordinary key here. */
  n = value_of(root, "merge");
  CHECK(n != NULL && n->count == 1);
  if (n != NULL && n->count == 1) {
    CHECK_STR(n->items[0]->text, "<<");
    CHECK(n->items[1] == value_of(root, "base"));
  }
  zpm_yaml_free(doc);
}

static void test_empty(void)
{
  static const char *const empty[] = { "", "# only a comment\n", "\n\n" };
  struct zpm_yaml_doc *doc;
  size_t i;

  for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
    doc = load(empty[i]);
    CHECK(doc != NULL && zpm_yaml_root(doc) == NULL);
    zpm_yaml_free(doc);
  }
  /* An explicit empty document holds one empty plain scalar. */
  doc = load("---\n");
  CHECK(zpm_yaml_root(doc) != NULL
        && zpm_yaml_root(doc)->kind == ZPM_YAML_SCALAR
        && zpm_yaml_root(doc)->length == 0);
  zpm_yaml_free(doc);
  doc = load("--- 5\n...\n");
  CHECK(zpm_yaml_root(doc) != NULL);
  zpm_yaml_free(doc);
}

struct error_case {
  const char *text;
  int status;
  unsigned long line, column;
  const char *message;
};

static const struct error_case error_cases[] = {
  { "a: 1\n b: 2\n", ZPM_EYAML, 2, 3,
    "mapping values are not allowed in this context" },
  { "a:\n  - b\n c: d\n", ZPM_EYAML, 3, 2,
    "while parsing a block mapping: did not find expected key" },
  { "key: 'open\n", ZPM_EYAML, 2, 1,
    "while scanning a quoted scalar: found unexpected end of stream" },
  { "a: *nope\n", ZPM_EYAML, 1, 4, "found undefined alias 'nope'" },
  { "a: &x [1, *x]\n", ZPM_EYAML, 1, 11, "found recursive alias 'x'" },
  { "a: &x 1\nb: &x 2\n", ZPM_EYAML, 2, 4,
    "found duplicate anchor 'x'; first occurrence at line 1, column 4" },
  { "a: 1\n---\nb: 2\n", ZPM_EYAML, 2, 1,
    "expected a single document in the stream, but found another "
    "document" },
  { "--- 1\n--- 2\n", ZPM_EYAML, 2, 1,
    "expected a single document in the stream, but found another "
    "document" },
  { "a: b\xff\n", ZPM_EYAML, 1, 5, "invalid leading UTF-8 octet (#xFF)" },
  { "x: y\nk: \xc3\xa9\xc3", ZPM_EYAML, 2, 5,
    "incomplete UTF-8 octet sequence" },
  { "x: y\nk: \xc3\xa9\xc3\n", ZPM_EYAML, 2, 6,
    "invalid trailing UTF-8 octet (#xA)" },
  { "a: \x01\n", ZPM_EYAML, 1, 4, "control characters are not allowed (#x1)" },
};

static void check_error(const char *text, size_t len,
                        const struct zpm_yaml_limits *limits, int status,
                        unsigned long line, unsigned long column,
                        const char *message)
{
  struct zpm_yaml_doc *doc = (struct zpm_yaml_doc *)&doc;
  struct zpm_error err;
  int rc;

  zpm_error_clear(&err);
  rc = zpm_yaml_load(&doc, text, len, limits, &err);
  CHECK(rc == status);
  CHECK(err.status == status);
  CHECK(doc == NULL);
  CHECK_STR(err.message, message);
  CHECK(err.line == line && err.column == column);
  if (err.line != line || err.column != column)
    fprintf(stderr, "  at %lu:%lu, want %lu:%lu\n", err.line, err.column,
            line, column);
  zpm_yaml_free(doc);
}

static void test_errors(void)
{
  size_t i;

  for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
    const struct error_case *c = &error_cases[i];

    check_error(c->text, strlen(c->text), NULL, c->status, c->line,
                c->column, c->message);
  }
}

/* Appends s to the buffer at *at (which has room). */
static void put(char *buf, size_t *at, const char *s)
{
  size_t n = strlen(s);

  memcpy(buf + *at, s, n);
  *at += n;
  buf[*at] = '\0';
}

static void test_limits(void)
{
  static const char *const laughs[] = {
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
  };
  static const char deep[] = "a: &a [[[1]]]\nb: [[[[[*a]]]]]\n";
  static const char big[] =
    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]";
  static const char many[] =
    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]";
  struct zpm_yaml_limits small = { 8, 50, 64 };
  struct zpm_yaml_limits few = { 0, 10, 0 };
  char buf[4096];
  size_t at = 0, i;
  struct zpm_yaml_doc *doc;

  /* Billion laughs: a is 11 nodes, b 111... e 111111; with the 123460
   * before f, its 8th *e passes a million. */
  for (i = 0; i < sizeof(laughs) / sizeof(laughs[0]); i++)
    put(buf, &at, laughs[i]);
  check_error(buf, at, NULL, ZPM_ELIMIT, 6, 36,
              "document expands to more than 1000000 nodes through "
              "aliases");
  /* Within limits, the same document shape loads. */
  doc = load(laughs[0]);
  CHECK(doc != NULL);
  zpm_yaml_free(doc);

  /* 257 nested flow sequences against the default depth of 256. */
  at = 0;
  for (i = 0; i < 257; i++)
    put(buf, &at, "[");
  for (i = 0; i < 257; i++)
    put(buf, &at, "]");
  check_error(buf, at, NULL, ZPM_ELIMIT, 1, 257,
              "nesting deeper than 256 levels");
  buf[256] = '\0';
  memset(buf + 128, ']', 128);
  for (i = 0; i < 128; i++)
    buf[i] = '[';
  doc = load(buf);
  CHECK(doc != NULL);
  zpm_yaml_free(doc);

  /* Depth through aliases: each alias adds the anchored node's height. */
  check_error(deep, strlen(deep), &small, ZPM_ELIMIT,
              2, 9, "nesting deeper than 8 levels");
  check_error(big, strlen(big), &small, ZPM_ELIMIT, 0, 0,
              "input is larger than 64 bytes");
  /* The 11th node is the item at column 29. */
  check_error(many, strlen(many), &few, ZPM_ELIMIT, 1, 29,
              "document has more than 10 nodes");
}

int main(void)
{
  test_resolve();
  test_construct();
  test_locale();
  test_tree();
  test_empty();
  test_errors();
  test_limits();
  return CHECK_DONE();
}
