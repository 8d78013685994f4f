/*
 * Tests for the execution summary. The expected tables were printed by
 * bench/summary_reference.py (the original algorithm with Debian's
 * python3-prettytable 3.6.0), so they are prettytable's own output.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zpm/nexe.h"

struct table_case {
  const char *name;
  const char *system;
  const char *status;
  const char *retcode;
  const char *cdr;
  const char *total;
  const char *table;
};

static const struct table_case table_cases[] = {
  { "design",
    "combiner,mapper-1",
    "some error,ok",
    "1,0",
    "5.121, 4.993, 0.13 3.84 1025 75943662 23 735 8 399 0 0,4.511, 0.12 4"
    ".00 1026 75943758 0 0 0 0 1 11",
    "5.121",
    "+----------+------------+---------+-------+------+-------+----------"
    "-+------------+------------+------------+--------------+------------"
    "---+---------------+---------------+\n"
    "|   Node   |   Status   | Retcode | NodeT | SysT | UserT | DiskReads"
    " | DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkByte"
    "sR | NetworkWrites | NetworkBytesW |\n"
    "+----------+------------+---------+-------+------+-------+----------"
    "-+------------+------------+------------+--------------+------------"
    "---+---------------+---------------+\n"
    "| combiner | some error |    1    | 4.993 | 0.13 |  3.84 |    1025  "
    " |  75943662  |     23     |    735     |      8       |      399   "
    "   |       0       |       0       |\n"
    "| mapper-1 |     ok     |    0    | 4.511 | 0.12 |  4.00 |    1026  "
    " |  75943758  |     0      |     0      |      0       |       0    "
    "   |       1       |       11      |\n"
    "+----------+------------+---------+-------+------+-------+----------"
    "-+------------+------------+------------+--------------+------------"
    "---+---------------+---------------+",
  },
  { "one node",
    "hello",
    "ok",
    "0",
    "3.920, 3.913, 0.11 3.37 1025 75943644 2 20 0 0 0 0",
    "3.920",
    "+-------+--------+---------+-------+------+-------+-----------+-----"
    "-------+------------+------------+--------------+---------------+---"
    "------------+---------------+\n"
    "|  Node | Status | Retcode | NodeT | SysT | UserT | DiskReads | Disk"
    "BytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Ne"
    "tworkWrites | NetworkBytesW |\n"
    "+-------+--------+---------+-------+------+-------+-----------+-----"
    "-------+------------+------------+--------------+---------------+---"
    "------------+---------------+\n"
    "| hello |   ok   |    0    | 3.913 | 0.11 |  3.37 |    1025   |  759"
    "43644  |     2      |     20     |      0       |       0       |   "
    "    0       |       0       |\n"
    "+-------+--------+---------+-------+------+-------+-----------+-----"
    "-------+------------+------------+--------------+---------------+---"
    "------------+---------------+",
  },
  { "ragged: rows stop at the shortest list",
    "a,b,c",
    "ok,ok",
    "0,0,0",
    "1.0, 0.5, 1 2 3 4 5 6 7 8 9 10, 0.25, 10 9 8 7 6 5 4 3 2 1, 0.1, 1 1"
    " 1 1 1 1 1 1 1 1",
    "1.0",
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads | DiskB"
    "ytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Net"
    "workWrites | NetworkBytesW |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "|  a   |   ok   |    0    |  0.5  |  1   |   2   |     3     |     4"
    "      |     5      |     6      |      7       |       8       |    "
    "   9       |       10      |\n"
    "|  b   |   ok   |    0    |  0.25 |  10  |   9   |     8     |     7"
    "      |     6      |     5      |      4       |       3       |    "
    "   2       |       1       |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+",
  },
  { "ragged: cdr ends after a node time",
    "a,b",
    "ok,ok",
    "0,0",
    "1.0, 0.5, 1 2 3 4 5 6 7 8 9 10, 0.25",
    "1.0",
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads | DiskB"
    "ytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Net"
    "workWrites | NetworkBytesW |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "|  a   |   ok   |    0    |  0.5  |  1   |   2   |     3     |     4"
    "      |     5      |     6      |      7       |       8       |    "
    "   9       |       10      |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+",
  },
  { "whitespace: names kept, cdr stripped",
    " a , b",
    "ok, error ",
    " 0,1",
    " 9.5 ,\t0.5 , 1  2\t3 4 5 6 7 8 9 10 ,0.25,10 9 8 7 6 5 4 3 2 1 ",
    "9.5",
    "+------+---------+---------+-------+------+-------+-----------+-----"
    "-------+------------+------------+--------------+---------------+---"
    "------------+---------------+\n"
    "| Node |  Status | Retcode | NodeT | SysT | UserT | DiskReads | Disk"
    "BytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Ne"
    "tworkWrites | NetworkBytesW |\n"
    "+------+---------+---------+-------+------+-------+-----------+-----"
    "-------+------------+------------+--------------+---------------+---"
    "------------+---------------+\n"
    "|  a   |    ok   |     0   |  0.5  |  1   |   2   |     3     |     "
    "4      |     5      |     6      |      7       |       8       |   "
    "    9       |       10      |\n"
    "|   b  |  error  |    1    |  0.25 |  10  |   9   |     8     |     "
    "7      |     6      |     5      |      4       |       3       |   "
    "    2       |       1       |\n"
    "+------+---------+---------+-------+------+-------+-----------+-----"
    "-------+------------+------------+--------------+---------------+---"
    "------------+---------------+",
  },
  { "centring: odd and even spare space",
    "abcdefghijk,ab,abc",
    "x,xy,xyz",
    "12,1,123",
    "2, 1.5, 123456 1 12 1234 12345 123 1234567 1 12 123, 1.25, 1 22 333 "
    "4444 55555 666666 7777777 88888888 999999999 0, 1, 0 0 0 0 0 0 0 0 0"
    " 0",
    "2",
    "+-------------+--------+---------+-------+--------+-------+---------"
    "--+------------+------------+------------+--------------+-----------"
    "----+---------------+---------------+\n"
    "|     Node    | Status | Retcode | NodeT |  SysT  | UserT | DiskRead"
    "s | DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkByt"
    "esR | NetworkWrites | NetworkBytesW |\n"
    "+-------------+--------+---------+-------+--------+-------+---------"
    "--+------------+------------+------------+--------------+-----------"
    "----+---------------+---------------+\n"
    "| abcdefghijk |   x    |    12   |  1.5  | 123456 |   1   |     12  "
    "  |    1234    |   12345    |    123     |   1234567    |       1   "
    "    |       12      |      123      |\n"
    "|      ab     |   xy   |    1    |  1.25 |   1    |   22  |    333  "
    "  |    4444    |   55555    |   666666   |   7777777    |    8888888"
    "8   |   999999999   |       0       |\n"
    "|     abc     |  xyz   |   123   |   1   |   0    |   0   |     0   "
    "  |     0      |     0      |     0      |      0       |       0   "
    "    |       0       |       0       |\n"
    "+-------------+--------+---------+-------+--------+-------+---------"
    "--+------------+------------+------------+--------------+-----------"
    "----+---------------+---------------+",
  },
  { "no rows: the title box only",
    "a",
    "ok",
    "0",
    "7.25",
    "7.25",
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads | DiskB"
    "ytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Net"
    "workWrites | NetworkBytesW |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+",
  },
  { "empty values",
    "",
    "",
    "",
    "",
    "",
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads | DiskB"
    "ytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Net"
    "workWrites | NetworkBytesW |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+",
  },
  { "empty cells",
    ",",
    ",",
    ",",
    "1,,1 2 3 4 5 6 7 8 9 10,,1 2 3 4 5 6 7 8 9 10",
    "1",
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads | DiskB"
    "ytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR | Net"
    "workWrites | NetworkBytesW |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+\n"
    "|      |        |         |       |  1   |   2   |     3     |     4"
    "      |     5      |     6      |      7       |       8       |    "
    "   9       |       10      |\n"
    "|      |        |         |       |  1   |   2   |     3     |     4"
    "      |     5      |     6      |      7       |       8       |    "
    "   9       |       10      |\n"
    "+------+--------+---------+-------+------+-------+-----------+------"
    "------+------------+------------+--------------+---------------+----"
    "-----------+---------------+",
  },
  { "UTF-8: accents, CJK, combining marks",
    "caf\303\251,\344\270\255\346\226\207\350\212\202\347\202\271,e\314"
    "\201e\314\201,\303\251\344\270\255a",
    "ok,ok,ok,ok",
    "0,0,0,0",
    "1, 1, 0 0 0 0 0 0 0 0 0 0, 2, 0 0 0 0 0 0 0 0 0 0, 3, 0 0 0 0 0 0 0 "
    "0 0 0, 4, 0 0 0 0 0 0 0 0 0 0",
    "1",
    "+----------+--------+---------+-------+------+-------+-----------+--"
    "----------+------------+------------+--------------+---------------+"
    "---------------+---------------+\n"
    "|   Node   | Status | Retcode | NodeT | SysT | UserT | DiskReads | D"
    "iskBytesR | DiskWrites | DiskBytesW | NetworkReads | NetworkBytesR |"
    " NetworkWrites | NetworkBytesW |\n"
    "+----------+--------+---------+-------+------+-------+-----------+--"
    "----------+------------+------------+--------------+---------------+"
    "---------------+---------------+\n"
    "|   caf\303\251   |   ok   |    0    |   1   |  0   |   0   |     0 "
    "    |     0      |     0      |     0      |      0       |       0 "
    "      |       0       |       0       |\n"
    "| \344\270\255\346\226\207\350\212\202\347\202\271 |   ok   |    0  "
    "  |   2   |  0   |   0   |     0     |     0      |     0      |    "
    " 0      |      0       |       0       |       0       |       0    "
    "   |\n"
    "|    e\314\201e\314\201    |   ok   |    0    |   3   |  0   |   0  "
    " |     0     |     0      |     0      |     0      |      0       |"
    "       0       |       0       |       0       |\n"
    "|   \303\251\344\270\255a   |   ok   |    0    |   4   |  0   |   0 "
    "  |     0     |     0      |     0      |     0      |      0       "
    "|       0       |       0       |       0       |\n"
    "+----------+--------+---------+-------+------+-------+-----------+--"
    "----------+------------+------------+--------------+---------------+"
    "---------------+---------------+",
  },
};

struct sink {
  char *buf;
  size_t len;
  size_t cap;
  size_t chunks;
  size_t max_chunk;
  size_t fail_at;    /* return 99 for this chunk (1-based); 0: never */
};

static int sink_write(const char *buf, size_t len, void *ud)
{
  struct sink *s = ud;

  s->chunks++;
  if (len > s->max_chunk)
    s->max_chunk = len;
  if (s->fail_at != 0 && s->chunks == s->fail_at)
    return 99;
  if (s->cap != 0) {
    if (s->len + len + 1 > s->cap) {
      size_t cap = (s->len + len + 1) * 2;
      char *p = realloc(s->buf, cap);
      if (p == NULL)
        return 98;
      s->buf = p;
      s->cap = cap;
    }
    memcpy(s->buf + s->len, buf, len);
    s->buf[s->len + len] = '\0';
  }
  s->len += len;
  return 0;
}

static struct zpm_nexe_span span(const char *s)
{
  struct zpm_nexe_span sp;

  sp.ptr = s;
  sp.len = s ? strlen(s) : 0;
  return sp;
}

static struct zpm_nexe_headers headers(const char *system,
                                       const char *status,
                                       const char *retcode,
                                       const char *cdr)
{
  struct zpm_nexe_headers h;

  h.system = span(system);
  h.status = span(status);
  h.retcode = span(retcode);
  h.cdr = span(cdr);
  return h;
}

static void test_tables(void)
{
  size_t i;

  for (i = 0; i < sizeof(table_cases) / sizeof(table_cases[0]); i++) {
    const struct table_case *c = &table_cases[i];
    struct zpm_nexe_headers h = headers(c->system, c->status, c->retcode,
                                        c->cdr);
    struct sink s = { NULL, 0, 1, 0, 0, 0 };
    struct zpm_nexe_span total = { NULL, 0 };
    struct zpm_error err;
    unsigned long rows = 0;
    size_t size = 0;
    size_t measured = 0;
    int rc;

    zpm_error_clear(&err);
    rc = zpm_nexe_render(&h, sink_write, &s, &total, &size, &err);
    if (rc != ZPM_OK)
      fprintf(stderr, "case %s: %s\n", c->name, err.message);
    CHECK(rc == ZPM_OK);
    CHECK_STR(s.buf, c->table);
    CHECK(size == strlen(c->table));
    CHECK(total.len == strlen(c->total) &&
          memcmp(total.ptr, c->total, total.len) == 0);
    CHECK(zpm_nexe_measure(&h, &rows, &measured, &err) == ZPM_OK);
    CHECK(measured == size);
    free(s.buf);
  }
}

/* Each row's cells point into the headers, as received. */
static void test_rows(void)
{
  struct zpm_nexe_headers h = headers(
    " a ,b", "ok,error", "0,1",
    " 5.1 , 4.9 , 1 2 3 4 5 6 7 8 9 10 ,2.5,\t10 9 8 7 6 5 4 3 2 1,3");
  struct zpm_nexe_iter it;
  struct zpm_nexe_row row;
  struct zpm_error err;
  int has_row = 0;

  zpm_error_clear(&err);
  CHECK(zpm_nexe_begin(&it, &h, &err) == ZPM_OK);
  CHECK(it.total.len == 3 && memcmp(it.total.ptr, "5.1", 3) == 0);
  CHECK(zpm_nexe_next(&it, &row, &has_row, &err) == ZPM_OK && has_row);
  CHECK(row.cell[0].len == 3 && memcmp(row.cell[0].ptr, " a ", 3) == 0);
  CHECK(row.cell[3].len == 3 && memcmp(row.cell[3].ptr, "4.9", 3) == 0);
  CHECK(row.cell[4].len == 1 && row.cell[4].ptr[0] == '1');
  CHECK(row.cell[13].len == 2 && memcmp(row.cell[13].ptr, "10", 2) == 0);
  CHECK(zpm_nexe_next(&it, &row, &has_row, &err) == ZPM_OK && has_row);
  CHECK(row.cell[1].len == 5 && memcmp(row.cell[1].ptr, "error", 5) == 0);
  CHECK(row.cell[4].len == 2 && memcmp(row.cell[4].ptr, "10", 2) == 0);
  /* "3" is a node time with no stats item after it: the rows end */
  CHECK(zpm_nexe_next(&it, &row, &has_row, &err) == ZPM_OK && !has_row);
  CHECK(zpm_nexe_next(&it, &row, &has_row, &err) == ZPM_OK && !has_row);
}

static void test_missing(void)
{
  static const char *const names[4] = {
    "X-Nexe-System", "X-Nexe-Status", "X-Nexe-Retcode", "X-Nexe-Cdr-Line"
  };
  int i;

  for (i = 0; i < 4; i++) {
    struct zpm_nexe_headers h = headers("a", "ok", "0",
                                        "1, 1, 0 0 0 0 0 0 0 0 0 0");
    struct sink s = { NULL, 0, 0, 0, 0, 0 };
    struct zpm_error err;
    struct zpm_nexe_span *spans[4];

    spans[0] = &h.system;
    spans[1] = &h.status;
    spans[2] = &h.retcode;
    spans[3] = &h.cdr;
    spans[i]->ptr = NULL;
    zpm_error_clear(&err);
    CHECK(zpm_nexe_render(&h, sink_write, &s, NULL, NULL, &err) ==
          ZPM_EINVAL);
    CHECK(err.status == ZPM_EINVAL);
    CHECK(strstr(err.message, names[i]) != NULL);
    CHECK(strstr(err.message, "is it ZeroCloud?") != NULL);
    CHECK(s.chunks == 0);
  }
}

static void test_bad_stats(void)
{
  static const struct {
    const char *cdr;
    const char *want;
  } cases[] = {
    { "1, 1, 0 0 0 0 0 0 0 0 0 0, 2, 1 2 3 4 5 6 7 8 9",
      "node 'mapper' (row 2) has 9 statistics, expected 10" },
    { "1, 1, 0 0 0 0 0 0 0 0 0 0, 2, 1 2 3 4 5 6 7 8 9 10 11",
      "node 'mapper' (row 2) has 11 statistics, expected 10" },
    { "1, 1, 0 0 0 0 0 0 0 0 0 0, 2,  ",
      "node 'mapper' (row 2) has 0 statistics, expected 10: ''" },
    { "1, 1, 0 0 0 0 0 0 0 0 0, 2, 0 0 0 0 0 0 0 0 0 0",
      "node 'reducer' (row 1) has 9 statistics, expected 10: '0 0 0 0" },
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct zpm_nexe_headers h = headers("reducer,mapper", "ok,ok", "0,0",
                                        cases[i].cdr);
    struct sink s = { NULL, 0, 0, 0, 0, 0 };
    struct zpm_error err;

    zpm_error_clear(&err);
    CHECK(zpm_nexe_render(&h, sink_write, &s, NULL, NULL, &err) ==
          ZPM_EINVAL);
    if (strstr(err.message, cases[i].want) == NULL)
      fprintf(stderr, "message: %s\n", err.message);
    CHECK(strstr(err.message, cases[i].want) != NULL);
    CHECK(strstr(err.message, "X-Nexe-Cdr-Line") != NULL);
    /* nothing is written when the input is bad */
    CHECK(s.chunks == 0);
    CHECK(zpm_nexe_measure(&h, NULL, NULL, &err) == ZPM_EINVAL);
  }
}

static void test_widths(void)
{
  static const struct {
    const char *s;
    size_t width;
  } cases[] = {
    { "", 0 }, { "abc", 3 }, { "caf\303\251", 4 },
    { "\344\270\255\346\226\207", 4 },       /* CJK: 2 each */
    { "e\314\201", 1 },                       /* combining acute */
    { "\342\200\213x", 1 },                   /* zero width space */
    { "\360\237\230\200", 2 },                /* emoji */
    { "\377\376a", 3 },                       /* invalid bytes: 1 each */
    { "\300\200", 2 },                        /* overlong NUL */
    { "\355\240\200", 3 },                    /* surrogate */
    { "\342\202", 2 },                        /* truncated sequence */
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    CHECK(zpm_nexe_text_width(cases[i].s, strlen(cases[i].s)) ==
          cases[i].width);
}

/* A non-zero return from write stops the rendering and is returned. */
static void test_write_abort(void)
{
  struct zpm_nexe_headers h = headers("a", "ok", "0",
                                      "1, 1, 0 0 0 0 0 0 0 0 0 0");
  struct sink s = { NULL, 0, 0, 0, 0, 1 };
  struct zpm_error err;

  zpm_error_clear(&err);
  CHECK(zpm_nexe_render(&h, sink_write, &s, NULL, NULL, &err) == 99);
  CHECK(s.chunks == 1);
}

/* A job of 100,000 nodes: built and rendered in bounded chunks. */
static void test_many_nodes(void)
{
  enum { NODES = 100000 };
  static const char stats[] = ", 0.12 4.00 1026 75943758 0 0 0 0 1 11";
  size_t cap = (size_t)NODES * 64 + 64;
  char *system = malloc(cap);
  char *status = malloc((size_t)NODES * 3);
  char *retcode = malloc((size_t)NODES * 2);
  char *cdr = malloc(cap);
  size_t ns = 0;
  size_t nc = 0;
  unsigned long rows = 0;
  size_t measured = 0;
  size_t size = 0;
  struct sink s = { NULL, 0, 0, 0, 0, 0 };
  struct zpm_nexe_headers h;
  struct zpm_error err;
  int i;

  CHECK(system && status && retcode && cdr);
  if (!(system && status && retcode && cdr))
    goto done;
  nc += (size_t)snprintf(cdr, cap, "%s", "5.121");
  for (i = 0; i < NODES; i++) {
    ns += (size_t)snprintf(system + ns, cap - ns, "%snode-%d",
                           i ? "," : "", i + 1);
    memcpy(status + (i ? 3 * i - 1 : 0), i ? ",ok" : "ok", i ? 3 : 2);
    memcpy(retcode + (i ? 2 * i - 1 : 0), i ? ",0" : "0", i ? 2 : 1);
    nc += (size_t)snprintf(cdr + nc, cap - nc, ", %d.%03d%s", i % 10,
                           i % 1000, stats);
  }
  h.system.ptr = system;
  h.system.len = ns;
  h.status.ptr = status;
  h.status.len = (size_t)NODES * 3 - 1;
  h.retcode.ptr = retcode;
  h.retcode.len = (size_t)NODES * 2 - 1;
  h.cdr.ptr = cdr;
  h.cdr.len = nc;
  zpm_error_clear(&err);
  CHECK(zpm_nexe_measure(&h, &rows, &measured, &err) == ZPM_OK);
  CHECK(rows == NODES);
  CHECK(zpm_nexe_render(&h, sink_write, &s, NULL, &size, &err) == ZPM_OK);
  CHECK(size == measured && s.len == size);
  CHECK(s.max_chunk <= ZPM_NEXE_CHUNK);
  CHECK(s.chunks >= size / ZPM_NEXE_CHUNK);
done:
  free(system);
  free(status);
  free(retcode);
  free(cdr);
}

int main(void)
{
  test_tables();
  test_rows();
  test_missing();
  test_bad_stats();
  test_widths();
  test_write_abort();
  test_many_nodes();
  return CHECK_DONE();
}
