/*
 * YAML loading: libyaml's event parser builds a tree of zpm_yaml_node.
 *
 * Everything a document owns lives in one arena freed at once. Open
 * collections are a stack of frames; their children wait on one shared
 * pending stack and are copied into the arena when the collection ends.
 * Anchored nodes sit in a hash table; an alias adds the anchored node
 * itself (so the tree is a DAG) after checking that the document's
 * expanded size and depth stay within the limits.
 */
#include "zpm/yaml.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define DEFAULT_MAX_DEPTH 256
#define DEFAULT_MAX_NODES 1000000
#define DEFAULT_MAX_INPUT ((size_t)64 * 1024 * 1024)
#define ARENA_BLOCK 65536

/* --- arena ------------------------------------------------------------- */

union arena_block {
  struct {
    union arena_block *next;
    size_t size;
    size_t used;
  } h;
  max_align_t align;
};

static void *arena_alloc(union arena_block **head, size_t n, size_t align)
{
  union arena_block *b = *head;
  size_t at;

  if (b != NULL) {
    at = (b->h.used + align - 1) & ~(align - 1);
    if (at <= b->h.size && n <= b->h.size - at) {
      b->h.used = at + n;
      return (char *)(b + 1) + at;
    }
  }
  {
    size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
    union arena_block *nb;

    if (size > SIZE_MAX - sizeof(*nb))
      return NULL;
    nb = malloc(sizeof(*nb) + size);
    if (nb == NULL)
      return NULL;
    nb->h.size = size;
    nb->h.used = n;
    if (b != NULL && size != ARENA_BLOCK) {
      /* A big one-off: keep filling the current block afterwards. */
      nb->h.next = b->h.next;
      b->h.next = nb;
    } else {
      nb->h.next = b;
      *head = nb;
    }
    return nb + 1;
  }
}

static void arena_free(union arena_block *b)
{
  while (b != NULL) {
    union arena_block *next = b->h.next;

    free(b);
    b = next;
  }
}

/* --- document ---------------------------------------------------------- */

/* A node with what the limits need: its size once aliases are expanded,
 * and its height in collection levels. size is 0 while still open. */
struct node_ext {
  struct zpm_yaml_node node;
  size_t size;
  size_t height;
};

struct zpm_yaml_doc {
  struct zpm_yaml_node *root;
  union arena_block *arena;
};

struct anchor {
  const char *name;
  struct node_ext *node;
};

struct frame {
  struct node_ext *node;
  size_t first;        /* index of its first child in pending */
  size_t start_total;  /* total before this node was counted */
  size_t height;       /* highest child so far */
};

struct builder {
  struct zpm_yaml_doc *doc;
  struct zpm_error *err;
  size_t max_depth;
  size_t max_nodes;
  struct zpm_yaml_node **pending;
  size_t npending, cap_pending;
  struct frame *frames;
  size_t depth, cap_frames;
  struct anchor *anchors;   /* open addressing, cap_anchors a power of 2 */
  size_t nanchors, cap_anchors;
  size_t total;             /* nodes so far, aliases expanded */
  int documents;
};

static int out_of_memory(struct builder *b)
{
  return zpm_error_set(b->err, ZPM_ENOMEM, "out of memory");
}

static int fail_at(struct builder *b, int status, yaml_mark_t mark,
                   const char *fmt, const char *arg)
{
  zpm_error_set(b->err, status, fmt, arg);
  if (b->err != NULL) {
    b->err->line = (unsigned long)mark.line + 1;
    b->err->column = (unsigned long)mark.column + 1;
  }
  return status;
}

static int fail_limit(struct builder *b, yaml_mark_t mark, const char *fmt,
                      size_t limit)
{
  zpm_error_set(b->err, ZPM_ELIMIT, fmt, limit);
  if (b->err != NULL) {
    b->err->line = (unsigned long)mark.line + 1;
    b->err->column = (unsigned long)mark.column + 1;
  }
  return ZPM_ELIMIT;
}

static const char *arena_strdup(struct builder *b, const char *s, size_t n)
{
  char *copy = arena_alloc(&b->doc->arena, n + 1, 1);

  if (copy == NULL)
    return NULL;
  memcpy(copy, s, n);
  copy[n] = '\0';
  return copy;
}

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
  size_t ncap;
  void *p;

  if (need <= *cap)
    return 0;
  ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2 / elem)
      return -1;
    ncap *= 2;
  }
  p = realloc(*array, ncap * elem);
  if (p == NULL)
    return -1;
  *array = p;
  *cap = ncap;
  return 0;
}

/* FNV-1a */
static size_t hash_name(const char *s)
{
  size_t h = (size_t)2166136261u;

  while (*s != '\0') {
    h ^= (unsigned char)*s++;
    h *= (size_t)16777619u;
  }
  return h;
}

static struct anchor *anchor_slot(struct anchor *table, size_t cap,
                                  const char *name)
{
  size_t i = hash_name(name) & (cap - 1);

  while (table[i].name != NULL && strcmp(table[i].name, name) != 0)
    i = (i + 1) & (cap - 1);
  return &table[i];
}

static struct node_ext *anchor_find(struct builder *b, const char *name)
{
  struct anchor *slot;

  if (b->cap_anchors == 0)
    return NULL;
  slot = anchor_slot(b->anchors, b->cap_anchors, name);
  return slot->node;
}

static int anchor_add(struct builder *b, const char *name,
                      struct node_ext *node)
{
  struct anchor *slot;

  if (2 * (b->nanchors + 1) > b->cap_anchors) {
    size_t ncap = b->cap_anchors ? 2 * b->cap_anchors : 64;
    struct anchor *table = calloc(ncap, sizeof(*table));
    size_t i;

    if (table == NULL)
      return -1;
    for (i = 0; i < b->cap_anchors; i++) {
      if (b->anchors[i].name != NULL)
        *anchor_slot(table, ncap, b->anchors[i].name) = b->anchors[i];
    }
    free(b->anchors);
    b->anchors = table;
    b->cap_anchors = ncap;
  }
  slot = anchor_slot(b->anchors, b->cap_anchors, name);
  slot->name = arena_strdup(b, name, strlen(name));
  if (slot->name == NULL)
    return -1;
  slot->node = node;
  b->nanchors++;
  return 0;
}

/* Count n more nodes (aliases expanded) against max_nodes. */
static int count_nodes(struct builder *b, size_t n, yaml_mark_t mark,
                       int through_alias)
{
  if (n > b->max_nodes - b->total) {
    return fail_limit(b, mark, through_alias
                        ? "document expands to more than %zu nodes "
                          "through aliases"
                        : "document has more than %zu nodes",
                      b->max_nodes);
  }
  b->total += n;
  return ZPM_OK;
}

/* Hand a finished node to the open collection, or make it the root. */
static int add_child(struct builder *b, struct node_ext *n)
{
  if (b->depth == 0) {
    b->doc->root = &n->node;
    return ZPM_OK;
  }
  if (grow((void **)&b->pending, &b->cap_pending, b->npending + 1,
           sizeof(*b->pending)) != 0)
    return out_of_memory(b);
  b->pending[b->npending++] = &n->node;
  if (n->height > b->frames[b->depth - 1].height)
    b->frames[b->depth - 1].height = n->height;
  return ZPM_OK;
}

static int check_anchor(struct builder *b, const yaml_char_t *anchor,
                        yaml_mark_t mark)
{
  struct node_ext *old;

  if (anchor == NULL)
    return ZPM_OK;
  old = anchor_find(b, (const char *)anchor);
  if (old == NULL)
    return ZPM_OK;
  /* PyYAML refuses to redefine an anchor. */
  zpm_error_set(b->err, ZPM_EYAML,
                "found duplicate anchor '%s'; first occurrence at line %lu,"
                " column %lu", (const char *)anchor, old->node.line,
                old->node.column);
  if (b->err != NULL) {
    b->err->line = (unsigned long)mark.line + 1;
    b->err->column = (unsigned long)mark.column + 1;
  }
  return ZPM_EYAML;
}

static struct node_ext *new_node(struct builder *b, enum zpm_yaml_kind kind,
                                 const yaml_char_t *tag, yaml_mark_t mark)
{
  struct node_ext *n = arena_alloc(&b->doc->arena, sizeof(*n),
                                   alignof(struct node_ext));

  if (n == NULL)
    return NULL;
  memset(n, 0, sizeof(*n));
  n->node.kind = kind;
  n->node.line = (unsigned long)mark.line + 1;
  n->node.column = (unsigned long)mark.column + 1;
  n->node.text = "";
  if (tag != NULL) {
    n->node.tag = arena_strdup(b, (const char *)tag,
                               strlen((const char *)tag));
    if (n->node.tag == NULL)
      return NULL;
  }
  return n;
}

static enum zpm_yaml_style scalar_style(yaml_scalar_style_t style)
{
  switch (style) {
  case YAML_SINGLE_QUOTED_SCALAR_STYLE: return ZPM_YAML_SINGLE_QUOTED;
  case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return ZPM_YAML_DOUBLE_QUOTED;
  case YAML_LITERAL_SCALAR_STYLE: return ZPM_YAML_LITERAL;
  case YAML_FOLDED_SCALAR_STYLE: return ZPM_YAML_FOLDED;
  default: return ZPM_YAML_PLAIN;
  }
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
  struct node_ext *n;
  int rc;

  rc = check_anchor(b, ev->data.scalar.anchor, ev->start_mark);
  if (rc != ZPM_OK)
    return rc;
  rc = count_nodes(b, 1, ev->start_mark, 0);
  if (rc != ZPM_OK)
    return rc;
  n = new_node(b, ZPM_YAML_SCALAR, ev->data.scalar.tag, ev->start_mark);
  if (n == NULL)
    return out_of_memory(b);
  n->node.style = scalar_style(ev->data.scalar.style);
  n->node.length = ev->data.scalar.length;
  n->node.text = arena_strdup(b, (const char *)ev->data.scalar.value,
                              ev->data.scalar.length);
  if (n->node.text == NULL)
    return out_of_memory(b);
  n->size = 1;
  if (ev->data.scalar.anchor != NULL
      && anchor_add(b, (const char *)ev->data.scalar.anchor, n) != 0)
    return out_of_memory(b);
  return add_child(b, n);
}

static int on_start(struct builder *b, const yaml_event_t *ev,
                    enum zpm_yaml_kind kind)
{
  const yaml_char_t *anchor = kind == ZPM_YAML_SEQUENCE
                                ? ev->data.sequence_start.anchor
                                : ev->data.mapping_start.anchor;
  const yaml_char_t *tag = kind == ZPM_YAML_SEQUENCE
                             ? ev->data.sequence_start.tag
                             : ev->data.mapping_start.tag;
  struct node_ext *n;
  struct frame *f;
  size_t before = b->total;
  int rc;

  if (b->depth >= b->max_depth)
    return fail_limit(b, ev->start_mark, "nesting deeper than %zu levels",
                      b->max_depth);
  rc = check_anchor(b, anchor, ev->start_mark);
  if (rc != ZPM_OK)
    return rc;
  rc = count_nodes(b, 1, ev->start_mark, 0);
  if (rc != ZPM_OK)
    return rc;
  n = new_node(b, kind, tag, ev->start_mark);
  if (n == NULL)
    return out_of_memory(b);
  /* Registered while open (size 0), so an alias inside is recursive. */
  if (anchor != NULL && anchor_add(b, (const char *)anchor, n) != 0)
    return out_of_memory(b);
  if (grow((void **)&b->frames, &b->cap_frames, b->depth + 1,
           sizeof(*b->frames)) != 0)
    return out_of_memory(b);
  f = &b->frames[b->depth++];
  f->node = n;
  f->first = b->npending;
  f->start_total = before;
  f->height = 0;
  return ZPM_OK;
}

static int on_end(struct builder *b)
{
  struct frame *f = &b->frames[b->depth - 1];
  struct node_ext *n = f->node;
  size_t count = b->npending - f->first;

  if (count > 0) {
    n->node.items = arena_alloc(&b->doc->arena, count * sizeof(*n->node.items),
                                alignof(struct zpm_yaml_node *));
    if (n->node.items == NULL)
      return out_of_memory(b);
    memcpy(n->node.items, b->pending + f->first,
           count * sizeof(*n->node.items));
  }
  n->node.count = n->node.kind == ZPM_YAML_MAPPING ? count / 2 : count;
  n->size = b->total - f->start_total;
  n->height = f->height + 1;
  b->npending = f->first;
  b->depth--;
  return add_child(b, n);
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
  const char *name = (const char *)ev->data.alias.anchor;
  struct node_ext *n = anchor_find(b, name);
  int rc;

  if (n == NULL)
    return fail_at(b, ZPM_EYAML, ev->start_mark,
                   "found undefined alias '%s'", name);
  if (n->size == 0)
    return fail_at(b, ZPM_EYAML, ev->start_mark,
                   "found recursive alias '%s'", name);
  if (n->height > b->max_depth - b->depth)
    return fail_limit(b, ev->start_mark, "nesting deeper than %zu levels",
                      b->max_depth);
  rc = count_nodes(b, n->size, ev->start_mark, 1);
  if (rc != ZPM_OK)
    return rc;
  return add_child(b, n);
}

/* 1-based line and column of a byte offset, for reader errors, which
 * libyaml reports by offset only. Columns count characters. */
static void offset_position(const char *buf, size_t len, size_t offset,
                            unsigned long *line, unsigned long *column)
{
  size_t i;

  *line = 1;
  *column = 1;
  if (offset > len)
    offset = len;
  for (i = 0; i < offset; i++) {
    unsigned char c = (unsigned char)buf[i];

    if (c == '\n' || (c == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
      (*line)++;
      *column = 1;
    } else if ((c & 0xC0) != 0x80 && c != '\r') {
      (*column)++;
    }
  }
}

static int parser_error(struct builder *b, const yaml_parser_t *p,
                        const char *buf, size_t len)
{
  const char *problem = p->problem ? p->problem : "unknown error";

  if (p->error == YAML_MEMORY_ERROR)
    return out_of_memory(b);
  if (p->error == YAML_READER_ERROR) {
    if (p->problem_value >= 0)
      zpm_error_set(b->err, ZPM_EYAML, "%s (#x%X)", problem,
                    (unsigned)p->problem_value);
    else
      zpm_error_set(b->err, ZPM_EYAML, "%s", problem);
    if (b->err != NULL)
      offset_position(buf, len, p->problem_offset, &b->err->line,
                      &b->err->column);
    return ZPM_EYAML;
  }
  if (p->context != NULL)
    zpm_error_set(b->err, ZPM_EYAML, "%s: %s", p->context, problem);
  else
    zpm_error_set(b->err, ZPM_EYAML, "%s", problem);
  if (b->err != NULL) {
    b->err->line = (unsigned long)p->problem_mark.line + 1;
    b->err->column = (unsigned long)p->problem_mark.column + 1;
  }
  return ZPM_EYAML;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (b->documents++ > 0)
      return fail_at(b, ZPM_EYAML, ev->start_mark, "%s",
                     "expected a single document in the stream, "
                     "but found another document");
    return ZPM_OK;
  case YAML_SCALAR_EVENT:
    return on_scalar(b, ev);
  case YAML_SEQUENCE_START_EVENT:
    return on_start(b, ev, ZPM_YAML_SEQUENCE);
  case YAML_MAPPING_START_EVENT:
    return on_start(b, ev, ZPM_YAML_MAPPING);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    return on_end(b);
  case YAML_ALIAS_EVENT:
    return on_alias(b, ev);
  default:
    return ZPM_OK;
  }
}

static int parse(struct builder *b, const char *buf, size_t len)
{
  yaml_parser_t parser;
  yaml_event_t ev;
  int rc = ZPM_OK, done = 0;

  if (!yaml_parser_initialize(&parser))
    return out_of_memory(b);
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  while (rc == ZPM_OK && !done) {
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = parser_error(b, &parser, buf, len);
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    rc = on_event(b, &ev);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return rc;
}

int zpm_yaml_load(struct zpm_yaml_doc **out, const char *buf, size_t len,
                  const struct zpm_yaml_limits *limits,
                  struct zpm_error *err)
{
  struct builder b;
  size_t max_input = DEFAULT_MAX_INPUT;
  int rc;

  *out = NULL;
  memset(&b, 0, sizeof(b));
  b.err = err;
  b.max_depth = DEFAULT_MAX_DEPTH;
  b.max_nodes = DEFAULT_MAX_NODES;
  if (limits != NULL) {
    if (limits->max_depth != 0)
      b.max_depth = limits->max_depth;
    if (limits->max_nodes != 0)
      b.max_nodes = limits->max_nodes;
    if (limits->max_input != 0)
      max_input = limits->max_input;
  }
  if (len > max_input)
    return zpm_error_set(err, ZPM_ELIMIT, "input is larger than %zu bytes",
                         max_input);
  b.doc = calloc(1, sizeof(*b.doc));
  if (b.doc == NULL)
    return out_of_memory(&b);
  rc = parse(&b, buf, len);
  free(b.pending);
  free(b.frames);
  free(b.anchors);
  if (rc != ZPM_OK) {
    zpm_yaml_free(b.doc);
    return rc;
  }
  *out = b.doc;
  return ZPM_OK;
}

const struct zpm_yaml_node *zpm_yaml_root(const struct zpm_yaml_doc *doc)
{
  return doc != NULL ? doc->root : NULL;
}

void zpm_yaml_free(struct zpm_yaml_doc *doc)
{
  if (doc == NULL)
    return;
  arena_free(doc->arena);
  free(doc);
}
