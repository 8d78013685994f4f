/*
 * libFuzzer target: zpm_yaml_load on arbitrary bytes, then a walk of the
 * whole tree (aliases expanded, as the Lua binding walks it) resolving
 * every plain scalar and constructing every scalar under each explicit
 * type. Checks the invariants the binding relies on: scalar text is
 * NUL-terminated at its length, positions are 1-based, a failed load
 * leaves *out NULL and a position-carrying error. Then loads again under
 * tight limits to drive the limit failures part-way through a document.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zpm/yaml.h"

static void walk(const struct zpm_yaml_node *n, size_t depth)
{
  size_t i, items;
  struct zpm_scalar s;

  if (n == NULL)
    return;
  if (n->line == 0 || n->column == 0 || depth > 300)
    abort();
  if (n->kind == ZPM_YAML_SCALAR) {
    if (n->text == NULL || n->text[n->length] != '\0')
      abort();
    if (n->style == ZPM_YAML_PLAIN && n->tag == NULL) {
      zpm_yaml_resolve_plain(n->text, n->length, &s);
      if (s.type == ZPM_SCALAR_BOOL && s.boolean != 0 && s.boolean != 1)
        abort();
    }
    for (i = ZPM_SCALAR_STRING; i <= ZPM_SCALAR_FLOAT; i++)
      zpm_yaml_construct_scalar((enum zpm_scalar_type)i, n->text,
                                n->length, &s);
    return;
  }
  items = n->kind == ZPM_YAML_MAPPING ? 2 * n->count : n->count;
  if (items > 0 && n->items == NULL)
    abort();
  for (i = 0; i < items; i++)
    walk(n->items[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* Fewer nodes than the default keeps an alias-heavy input fast while
     still going past the limit; depth keeps its default. */
  struct zpm_yaml_limits limits = { 0, 20000, 0 };
  struct zpm_yaml_doc *doc = NULL;
  struct zpm_error err;
  int rc;

  zpm_error_clear(&err);
  rc = zpm_yaml_load(&doc, (const char *)data, size, &limits, &err);
  if (rc != ZPM_OK) {
    if (doc != NULL || err.status != rc)
      abort();
    if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
      abort();
    return 0;
  }
  walk(zpm_yaml_root(doc), 0);
  /* Every byte string is also a plain scalar candidate. */
  {
    struct zpm_scalar s;
    zpm_yaml_resolve_plain((const char *)data, size, &s);
  }
  zpm_yaml_free(doc);

  /* Again under tight limits, so that failing part-way through a
     document (depth, node count) is exercised too: it must free
     everything (LeakSanitizer checks). */
  limits.max_depth = 4;
  limits.max_nodes = 40;
  rc = zpm_yaml_load(&doc, (const char *)data, size, &limits, &err);
  if (rc == ZPM_OK) {
    walk(zpm_yaml_root(doc), 0);
    zpm_yaml_free(doc);
  } else if (doc != NULL || err.status != rc) {
    abort();
  }
  return 0;
}
