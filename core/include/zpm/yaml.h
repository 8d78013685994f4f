/*
 * YAML loading on libyaml into a generic, position-carrying tree.
 *
 * The tree keeps what a validator needs to point at the user's file:
 * mapping keys in document order, every node's 1-based line and column,
 * each scalar's text and whether it was quoted. Aliases are resolved by
 * sharing the anchored node (the tree is a DAG); the expanded size of the
 * document is bounded by zpm_yaml_limits so an alias bomb fails fast.
 */
#ifndef ZPM_YAML_H
#define ZPM_YAML_H

#include <stddef.h>

#include "zpm/error.h"

enum zpm_yaml_kind {
  ZPM_YAML_SCALAR,
  ZPM_YAML_SEQUENCE,
  ZPM_YAML_MAPPING
};

enum zpm_yaml_style {
  ZPM_YAML_PLAIN,         /* unquoted: subject to implicit resolution */
  ZPM_YAML_SINGLE_QUOTED,
  ZPM_YAML_DOUBLE_QUOTED,
  ZPM_YAML_LITERAL,       /* | block */
  ZPM_YAML_FOLDED         /* > block */
};

struct zpm_yaml_node {
  enum zpm_yaml_kind kind;
  enum zpm_yaml_style style;   /* scalars only */
  const char *tag;             /* explicit tag, expanded (e.g.
                                  "tag:yaml.org,2002:str"), or NULL */
  const char *text;            /* scalar value, NUL-terminated */
  size_t length;               /* scalar value length in bytes */
  unsigned long line;          /* 1-based start position */
  unsigned long column;
  size_t count;                /* sequence items, or mapping pairs */
  struct zpm_yaml_node **items; /* sequence: count nodes;
                                   mapping: 2*count nodes, key then value */
};

struct zpm_yaml_limits {
  size_t max_depth;        /* nesting of collections; 0 = default (256) */
  size_t max_nodes;        /* nodes after alias expansion;
                              0 = default (1000000) */
  size_t max_input;        /* bytes of input; 0 = default (64 MiB) */
};

struct zpm_yaml_doc;

/*
 * Parse one YAML document from buf. An empty stream gives a document
 * whose root is NULL. More than one document is an error, as in PyYAML's
 * safe_load. On failure *out is NULL and err carries ZPM_EYAML (or
 * ZPM_ELIMIT / ZPM_ENOMEM) with the 1-based line and column.
 */
int zpm_yaml_load(struct zpm_yaml_doc **out, const char *buf, size_t len,
                  const struct zpm_yaml_limits *limits,
                  struct zpm_error *err);

/* Root node, or NULL for an empty document. */
const struct zpm_yaml_node *zpm_yaml_root(const struct zpm_yaml_doc *doc);

void zpm_yaml_free(struct zpm_yaml_doc *doc);

/* What an untagged plain scalar means under YAML 1.1 (PyYAML safe_load). */
enum zpm_scalar_type {
  ZPM_SCALAR_STRING,
  ZPM_SCALAR_NULL,
  ZPM_SCALAR_BOOL,
  ZPM_SCALAR_INT,
  ZPM_SCALAR_FLOAT
};

struct zpm_scalar {
  enum zpm_scalar_type type;
  int boolean;
  long long integer;
  double number;
};

/*
 * Resolve a plain scalar's text as PyYAML's safe_load does: booleans
 * (yes/no/on/off/true/false in three casings), null (~, null, empty),
 * integers (decimal, 0b, 0x, leading-0 octal, sexagesimal, '_' allowed),
 * floats (with a dot, exponent, sexagesimal, .inf, .nan). Anything else,
 * including timestamps, stays a string. An integer that does not fit in
 * 64 bits is returned as a float.
 */
void zpm_yaml_resolve_plain(const char *text, size_t len,
                            struct zpm_scalar *out);

/*
 * Construct a scalar of the given type from its text, as PyYAML does for
 * an explicit tag (!!int, !!float, !!bool, !!null, !!str): the text is
 * not matched against the implicit patterns first, so "!!float 1e5" and
 * "!!bool yEs" work. Returns ZPM_OK, or ZPM_EINVAL when the text cannot
 * be read as that type (out is then a string).
 */
int zpm_yaml_construct_scalar(enum zpm_scalar_type type, const char *text,
                              size_t len, struct zpm_scalar *out);

#endif
