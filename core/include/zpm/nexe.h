/*
 * The execution summary (DESIGN.md section 7): the per-node accounting a
 * ZeroCloud response carries in its X-Nexe-System, X-Nexe-Status,
 * X-Nexe-Retcode and X-Nexe-Cdr-Line headers, and the prettytable-style
 * table zpm prints from it.
 *
 * Nothing here copies the input: rows are pointers and lengths into the
 * header values, walked one at a time, and the table is written through a
 * callback in bounded chunks, so memory stays constant however many nodes
 * a job has.
 */
#ifndef ZPM_NEXE_H
#define ZPM_NEXE_H

#include <stddef.h>

#include "zpm/error.h"

#define ZPM_NEXE_COLUMNS 14 /* node, status, retcode, node time, 10 stats */
#define ZPM_NEXE_STATS 10   /* numbers in one cdr stats item */

/* A piece of a header value; not NUL-terminated. */
struct zpm_nexe_span {
  const char *ptr;
  size_t len;
};

/*
 * The four header values. A NULL ptr means the header was missing; an
 * empty value (ptr set, len 0) is present and, as in the original zpm,
 * splits into one empty item.
 */
struct zpm_nexe_headers {
  struct zpm_nexe_span system;  /* X-Nexe-System: node names */
  struct zpm_nexe_span status;  /* X-Nexe-Status */
  struct zpm_nexe_span retcode; /* X-Nexe-Retcode */
  struct zpm_nexe_span cdr;     /* X-Nexe-Cdr-Line */
};

/*
 * One node's row, in table column order: node, status, retcode, node
 * time, sys time, user time, disk reads, disk bytes read, disk writes,
 * disk bytes written, network reads, network bytes read, network writes,
 * network bytes written. Each cell points into the header values.
 */
struct zpm_nexe_row {
  struct zpm_nexe_span cell[ZPM_NEXE_COLUMNS];
};

/* A walk over the headers; fill with zpm_nexe_begin. */
struct zpm_nexe_iter {
  struct zpm_nexe_span rest[4]; /* unread part of each list */
  int more[4];                  /* whether rest[i] still holds an item */
  struct zpm_nexe_span total;   /* the job's total time (cdr item 1) */
  unsigned long index;          /* rows handed out so far */
};

/* The column titles, "Node" ... "NetworkBytesW". */
extern const char *const zpm_nexe_column_names[ZPM_NEXE_COLUMNS];

/*
 * Start a walk. Fails with ZPM_EINVAL naming the first missing header
 * when any ptr is NULL. On success it->total holds the total time: the
 * first cdr item, stripped.
 *
 * The split follows the original zpm exactly: each value is split on ','
 * (so "" is one empty item and "a,,b" three); names, statuses and
 * retcodes are kept as they are, surrounding spaces included, while cdr
 * items are stripped of whitespace (space, \t \n \v \f \r, \x1c-\x1f).
 */
int zpm_nexe_begin(struct zpm_nexe_iter *it,
                   const struct zpm_nexe_headers *h, struct zpm_error *err);

/*
 * Hand out the next row. Sets *has_row to 1 and fills row, or sets it to
 * 0 when any list has run out (rows stop at the shortest list, a cdr
 * without a stats item after the last node time included). A stats item
 * that does not hold exactly ten whitespace-separated numbers is
 * ZPM_EINVAL naming the node and its position; the original zpm built a
 * ragged row there and prettytable then refused the table.
 */
int zpm_nexe_next(struct zpm_nexe_iter *it, struct zpm_nexe_row *row,
                  int *has_row, struct zpm_error *err);

/*
 * Width in terminal columns of a cell, as prettytable measures it (with
 * wcwidth): UTF-8 code points, East Asian wide and fullwidth characters
 * count 2, combining marks and zero-width characters 0 (the tables of
 * wcwidth 0.2.5, Unicode 15.0.0). A byte that is not valid UTF-8 counts
 * 1. Two deliberate differences from prettytable, where its output is
 * broken anyway: a control character counts 1 (wcwidth gives the whole
 * cell -1 and the line comes out misaligned) and ANSI colour sequences
 * are not skipped (prettytable strips them before measuring).
 */
size_t zpm_nexe_text_width(const char *s, size_t len);

/*
 * Render the table as prettytable 3 prints it (without a trailing
 * newline): a +---+ rule, the column titles, a rule, one line per row, a
 * rule. Every cell has one space of padding each side and is centred in
 * its column; when the spare space is odd the extra space goes right if
 * the text's width is odd and left if even. A column is as wide as its
 * title or widest cell. With no rows it is the title box and the closing
 * rule, as prettytable prints an empty table.
 *
 * Two walks over the headers: the first finds the widths and checks
 * every row, so bad input fails before anything is written; the second
 * writes. Output goes to write() in chunks of at most ZPM_NEXE_CHUNK
 * bytes. A non-zero return from write stops the rendering and is
 * returned as is. On success *total (if not NULL) is the total time and
 * *size (if not NULL) the number of bytes written.
 */
#define ZPM_NEXE_CHUNK 16384
int zpm_nexe_render(const struct zpm_nexe_headers *h,
                    int (*write)(const char *buf, size_t len, void *ud),
                    void *ud,
                    struct zpm_nexe_span *total, size_t *size,
                    struct zpm_error *err);

/*
 * The first walk on its own: the number of rows and the exact byte size
 * zpm_nexe_render will write, so a caller can allocate once. Fails as
 * zpm_nexe_render does.
 */
int zpm_nexe_measure(const struct zpm_nexe_headers *h,
                     unsigned long *rows, size_t *size,
                     struct zpm_error *err);

#endif
