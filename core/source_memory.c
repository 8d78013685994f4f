/* A memory block the caller keeps as a body source. */
#include "source_impl.h"

#include <stdlib.h>
#include <string.h>

struct memory_source {
  struct zpm_source base;
  const unsigned char *data;
  size_t pos;
};

static int memory_read(struct zpm_source *src, void *buf, size_t cap,
                       size_t *got)
{
  struct memory_source *ms = (struct memory_source *)src;
  size_t left = (size_t)src->length - ms->pos;

  if (cap > left)
    cap = left;
  if (cap > 0)
    memcpy(buf, ms->data + ms->pos, cap);
  ms->pos += cap;
  *got = cap;
  return ZPM_OK;
}

static int memory_rewind(struct zpm_source *src)
{
  ((struct memory_source *)src)->pos = 0;
  return ZPM_OK;
}

static void memory_destroy(struct zpm_source *src)
{
  free(src);
}

static unsigned long long memory_position(const struct zpm_source *src)
{
  return ((const struct memory_source *)src)->pos;
}

static const struct zpm_source_ops memory_ops = {
  memory_read, memory_rewind, memory_destroy, memory_position, NULL
};

int zpm_source_memory(struct zpm_source **out, const void *data,
                      size_t len, struct zpm_error *err)
{
  struct memory_source *ms;

  *out = NULL;
  if (data == NULL && len > 0)
    return zpm_error_set(err, ZPM_EINVAL, "memory source without data");
  ms = calloc(1, sizeof(*ms));
  if (ms == NULL)
    return zpm_error_set(err, ZPM_ENOMEM, "out of memory");
  ms->base.ops = &memory_ops;
  ms->base.length = (long long)len;
  ms->data = data;
  *out = &ms->base;
  return ZPM_OK;
}
