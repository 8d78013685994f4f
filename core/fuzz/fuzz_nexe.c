/*
 * libFuzzer target: the X-Nexe-* header parser and the summary table.
 * The input is split on NUL bytes into the four header values (System,
 * Status, Retcode, Cdr-Line); fewer than four pieces leaves the rest
 * missing. Runs the iterator to the end, then measure and render, and
 * checks that they agree: same status, same byte count, rows of the
 * iterator equal to the measured rows, chunks within ZPM_NEXE_CHUNK.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zpm/nexe.h"

struct sink {
  size_t size;
  size_t calls;
  size_t stop_after;   /* fail the write after this many calls, or 0 */
};

static int sink_write(const char *buf, size_t len, void *ud)
{
  struct sink *s = ud;

  if (len == 0 || len > ZPM_NEXE_CHUNK)
    abort();
  /* the last byte must be readable: ASan checks the chunk's bounds */
  (void)((const volatile char *)buf)[len - 1];
  s->size += len;
  s->calls++;
  if (s->stop_after != 0 && s->calls >= s->stop_after)
    return 42;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct zpm_nexe_headers h;
  struct zpm_nexe_span *spans[4];
  struct zpm_nexe_iter it;
  struct zpm_nexe_row row;
  struct zpm_nexe_span total;
  struct zpm_error err;
  struct sink sink = { 0, 0, 0 };
  const char *p = (const char *)data, *end = p + size;
  unsigned long rows = 0, measured = 0;
  size_t i, measured_size = 0, written = 0;
  int has_row = 1, rc_iter, rc_measure, rc_render;

  memset(&h, 0, sizeof(h));
  spans[0] = &h.system;
  spans[1] = &h.status;
  spans[2] = &h.retcode;
  spans[3] = &h.cdr;
  for (i = 0; i < 4 && p <= end; i++) {
    const char *sep = memchr(p, '\0', (size_t)(end - p));
    const char *stop = sep != NULL ? sep : end;

    spans[i]->ptr = p;
    spans[i]->len = (size_t)(stop - p);
    if (sep == NULL)
      break;
    p = sep + 1;
  }

  rc_iter = zpm_nexe_begin(&it, &h, &err);
  while (rc_iter == ZPM_OK) {
    rc_iter = zpm_nexe_next(&it, &row, &has_row, &err);
    if (rc_iter != ZPM_OK || !has_row)
      break;
    rows++;
    for (i = 0; i < ZPM_NEXE_COLUMNS; i++) {
      const char *c = row.cell[i].ptr;
      if (row.cell[i].len > 0 &&
          (c < (const char *)data || c + row.cell[i].len > end))
        abort();
      zpm_nexe_text_width(c, row.cell[i].len);
    }
  }

  rc_measure = zpm_nexe_measure(&h, &measured, &measured_size, &err);
  if (rc_measure != rc_iter)
    abort();
  if (rc_measure == ZPM_OK && measured != rows)
    abort();

  rc_render = zpm_nexe_render(&h, sink_write, &sink, &total, &written,
                              &err);
  if (rc_render != rc_measure)
    abort();
  if (rc_render == ZPM_OK &&
      (written != measured_size || sink.size != written))
    abort();

  /* A writer that gives up part-way: its code comes back as is. */
  if (rc_render == ZPM_OK && sink.calls > 1) {
    struct sink stop = { 0, 0, 1 };
    if (zpm_nexe_render(&h, sink_write, &stop, NULL, NULL, &err) != 42)
      abort();
  }
  return 0;
}
