/*
 * zpm.core.yaml: load(text [, name]) and load_file(path) give the value
 * PyYAML's safe_load would, or nil, "name:line:col: message", code.
 *
 * Mappings and sequences follow the protocol of lua/zpm/ordered.lua: each
 * gets its own metatable, a descriptor with __name (ORDERED_OBJECT or
 * ORDERED_ARRAY) and, for mappings, keys in document order; it also tells
 * where the collection came from: line, column, lines and columns (of
 * each member's value). The null value is a NULL light userdata, like
 * cjson.null.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bindings.h"
#include "zpm/yaml.h"

#define TAG_PREFIX "tag:yaml.org,2002:"
/* zpm.ordered's OBJECT and ARRAY (spec/unit/ordered_spec.lua checks) */
#define ORDERED_OBJECT "zpm.ordered.object"
#define ORDERED_ARRAY "zpm.ordered.array"
#define YAML_MAX_INPUT ((size_t)64 * 1024 * 1024)

/* What a load holds while Lua may raise: freed by __gc if it does. */
struct handle {
  FILE *file;
  struct zpm_yaml_doc *doc;
};

static void handle_close(struct handle *h)
{
  if (h->file != NULL) {
    fclose(h->file);
    h->file = NULL;
  }
  zpm_yaml_free(h->doc);
  h->doc = NULL;
}

/* __gc and __close: free what a load holds if Lua raised meanwhile. */
static int handle_gc(lua_State *L)
{
  handle_close(lua_touserdata(L, 1));
  return 0;
}

/* Open while it holds a document (or, before it has one, a file). */
static const struct zpm_lua_class handle_class = {
  "zpm.core.YamlDocument", "YAML document",
  offsetof(struct handle, doc), handle_gc, NULL, NULL
};

/* A closed handle with its metatable set, before anything is acquired. */
static struct handle *new_handle(lua_State *L)
{
  return zpm_lua_new(L, &handle_class, sizeof(struct handle), 0);
}

static int fail_node(struct zpm_error *err, const struct zpm_yaml_node *n,
                     const char *fmt, const char *arg)
{
  zpm_error_set(err, ZPM_EYAML, fmt, arg);
  err->line = n->line;
  err->column = n->column;
  return ZPM_EYAML;
}

static const char *kind_name(enum zpm_yaml_kind kind)
{
  switch (kind) {
  case ZPM_YAML_SEQUENCE: return "sequence";
  case ZPM_YAML_MAPPING: return "mapping";
  default: return "scalar";
  }
}

/* What a node's tag asks for. */
enum construct {
  C_DEFAULT,   /* no tag: by kind, plain scalars resolved */
  C_STRING,    /* !!str, or the non-specific "!" on a scalar */
  C_NULL,
  C_BOOL,
  C_INT,
  C_FLOAT,
  C_SEQ,
  C_MAP
};

static int tag_construct(struct zpm_error *err, const struct zpm_yaml_node *n,
                         enum construct *out)
{
  static const struct {
    const char *name;
    enum construct c;
  } known[] = {
    { "str", C_STRING }, { "null", C_NULL }, { "bool", C_BOOL },
    { "int", C_INT }, { "float", C_FLOAT }, { "seq", C_SEQ },
    { "map", C_MAP }
  };
  const size_t plen = sizeof(TAG_PREFIX) - 1;
  enum zpm_yaml_kind want;
  size_t i;

  *out = C_DEFAULT;
  if (n->tag == NULL)
    return ZPM_OK;
  if (strcmp(n->tag, "!") == 0) {
    *out = n->kind == ZPM_YAML_SCALAR ? C_STRING : C_DEFAULT;
    return ZPM_OK;
  }
  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    if (strncmp(n->tag, TAG_PREFIX, plen) == 0
        && strcmp(n->tag + plen, known[i].name) == 0)
      break;
  }
  if (i == sizeof(known) / sizeof(known[0]))
    return fail_node(err, n,
                     "could not determine a constructor for the tag '%s'",
                     n->tag);
  *out = known[i].c;
  want = *out == C_SEQ ? ZPM_YAML_SEQUENCE
         : *out == C_MAP ? ZPM_YAML_MAPPING : ZPM_YAML_SCALAR;
  if (n->kind != want) {
    char msg[64];

    snprintf(msg, sizeof(msg), "expected a %s node, but found %s",
             kind_name(want), kind_name(n->kind));
    return fail_node(err, n, "%s", msg);
  }
  return ZPM_OK;
}

static int push_scalar(lua_State *L, struct zpm_error *err,
                       const struct zpm_yaml_node *n, enum construct c)
{
  static const enum zpm_scalar_type types[] = {
    ZPM_SCALAR_STRING, ZPM_SCALAR_STRING, ZPM_SCALAR_NULL,
    ZPM_SCALAR_BOOL, ZPM_SCALAR_INT, ZPM_SCALAR_FLOAT
  };
  struct zpm_scalar s;

  if (c == C_DEFAULT && n->style == ZPM_YAML_PLAIN) {
    zpm_yaml_resolve_plain(n->text, n->length, &s);
  } else if (zpm_yaml_construct_scalar(types[c], n->text, n->length, &s)
             != ZPM_OK) {
    char msg[160];

    snprintf(msg, sizeof(msg), "expected %s for the tag '%s', but found "
             "'%.60s%s'", c == C_INT ? "an int" : c == C_FLOAT ? "a float"
             : "a bool", n->tag, n->text, n->length > 60 ? "..." : "");
    return fail_node(err, n, "%s", msg);
  }
  switch (s.type) {
  case ZPM_SCALAR_NULL:
    lua_pushlightuserdata(L, NULL);
    break;
  case ZPM_SCALAR_BOOL:
    lua_pushboolean(L, s.boolean);
    break;
  case ZPM_SCALAR_INT:
    lua_pushinteger(L, (lua_Integer)s.integer);
    break;
  case ZPM_SCALAR_FLOAT:
    lua_pushnumber(L, (lua_Number)s.number);
    break;
  default:
    lua_pushlstring(L, n->text, n->length);
    break;
  }
  return ZPM_OK;
}

static int push_node(lua_State *L, struct zpm_error *err,
                     const struct zpm_yaml_node *n);

/*
 * Give the collection at index t its metatable from the tables keys (0
 * for sequences), lines and columns at the given indexes.
 */
static void set_info(lua_State *L, const struct zpm_yaml_node *n, int t,
                     int keys, int lines, int columns)
{
  lua_createtable(L, 0, 6);
  lua_pushstring(L, n->kind == ZPM_YAML_MAPPING ? ORDERED_OBJECT
                                                : ORDERED_ARRAY);
  lua_setfield(L, -2, "__name");
  if (keys != 0) {
    lua_pushvalue(L, keys);
    lua_setfield(L, -2, "keys");
  }
  lua_pushinteger(L, (lua_Integer)n->line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, (lua_Integer)n->column);
  lua_setfield(L, -2, "column");
  lua_pushvalue(L, lines);
  lua_setfield(L, -2, "lines");
  lua_pushvalue(L, columns);
  lua_setfield(L, -2, "columns");
  lua_setmetatable(L, t);
}

static int push_sequence(lua_State *L, struct zpm_error *err,
                         const struct zpm_yaml_node *n)
{
  size_t i;
  int t, lines, columns, rc;

  lua_createtable(L, n->count > 1000 ? 1000 : (int)n->count, 0);
  t = lua_gettop(L);
  lua_newtable(L);
  lines = lua_gettop(L);
  lua_newtable(L);
  columns = lua_gettop(L);
  for (i = 0; i < n->count; i++) {
    const struct zpm_yaml_node *item = n->items[i];

    rc = push_node(L, err, item);
    if (rc != ZPM_OK)
      return rc;
    lua_rawseti(L, t, (lua_Integer)i + 1);
    lua_pushinteger(L, (lua_Integer)item->line);
    lua_rawseti(L, lines, (lua_Integer)i + 1);
    lua_pushinteger(L, (lua_Integer)item->column);
    lua_rawseti(L, columns, (lua_Integer)i + 1);
  }
  set_info(L, n, t, 0, lines, columns);
  lua_settop(L, t);
  return ZPM_OK;
}

static int is_merge_key(const struct zpm_yaml_node *k)
{
  if (k->kind != ZPM_YAML_SCALAR)
    return 0;
  if (k->tag != NULL)
    return strcmp(k->tag, TAG_PREFIX "merge") == 0;
  return k->style == ZPM_YAML_PLAIN && k->length == 2
         && memcmp(k->text, "<<", 2) == 0;
}

/*
 * PyYAML's flatten_mapping: the pairs merged in through "<<" keys come
 * first (a mapping's own, flattened; for a sequence of mappings, the last
 * one first, so earlier ones win), then the mapping's other pairs. With
 * out NULL only counts them into *n; else also stores key, value pairs.
 */
static int flatten(struct zpm_error *err, const struct zpm_yaml_node *map,
                   const struct zpm_yaml_node **out, size_t *n)
{
  size_t i, j;
  int rc;

  for (i = 0; i < map->count; i++) {
    const struct zpm_yaml_node *k = map->items[2 * i];
    const struct zpm_yaml_node *v = map->items[2 * i + 1];

    if (!is_merge_key(k))
      continue;
    if (v->kind == ZPM_YAML_MAPPING) {
      rc = flatten(err, v, out, n);
      if (rc != ZPM_OK)
        return rc;
    } else if (v->kind == ZPM_YAML_SEQUENCE) {
      for (j = v->count; j > 0; j--) {
        const struct zpm_yaml_node *sub = v->items[j - 1];

        if (sub->kind != ZPM_YAML_MAPPING)
          return fail_node(err, sub, "expected a mapping for merging, "
                           "but found %s", kind_name(sub->kind));
        rc = flatten(err, sub, out, n);
        if (rc != ZPM_OK)
          return rc;
      }
    } else {
      return fail_node(err, v, "expected a mapping or list of mappings for "
                       "merging, but found %s", kind_name(v->kind));
    }
  }
  for (i = 0; i < map->count; i++) {
    const struct zpm_yaml_node *k = map->items[2 * i];

    if (is_merge_key(k))
      continue;
    if (out != NULL) {
      out[2 * *n] = k;
      out[2 * *n + 1] = map->items[2 * i + 1];
    }
    (*n)++;
  }
  return ZPM_OK;
}

static int push_key(lua_State *L, struct zpm_error *err,
                    const struct zpm_yaml_node *k)
{
  int rc;

  if (k->kind != ZPM_YAML_SCALAR)
    return fail_node(err, k, "%s", "found unhashable key");
  rc = push_node(L, err, k);
  if (rc != ZPM_OK)
    return rc;
  if (lua_type(L, -1) == LUA_TNUMBER && isnan(lua_tonumber(L, -1)))
    return fail_node(err, k, "%s", "found a NaN key, which a Lua table "
                     "cannot hold");
  return ZPM_OK;
}

static int push_mapping(lua_State *L, struct zpm_error *err,
                        const struct zpm_yaml_node *n)
{
  const struct zpm_yaml_node **pairs;
  size_t npairs = 0, i;
  lua_Integer nkeys = 0;
  int t, keys, lines, columns, rc;

  rc = flatten(err, n, NULL, &npairs);
  if (rc != ZPM_OK)
    return rc;
  pairs = lua_newuserdatauv(L, 2 * npairs * sizeof(*pairs) + 1, 0);
  npairs = 0;
  rc = flatten(err, n, pairs, &npairs);
  if (rc != ZPM_OK)
    return rc;
  lua_createtable(L, 0, npairs > 1000 ? 1000 : (int)npairs);
  t = lua_gettop(L);
  lua_newtable(L);
  keys = lua_gettop(L);
  lua_newtable(L);
  lines = lua_gettop(L);
  lua_newtable(L);
  columns = lua_gettop(L);
  for (i = 0; i < npairs; i++) {
    const struct zpm_yaml_node *v = pairs[2 * i + 1];

    rc = push_key(L, err, pairs[2 * i]);
    if (rc != ZPM_OK)
      return rc;
    /* A repeated key keeps its first place, as in a Python dict. */
    lua_pushvalue(L, -1);
    if (lua_rawget(L, t) == LUA_TNIL) {
      lua_pushvalue(L, -2);
      lua_rawseti(L, keys, ++nkeys);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushinteger(L, (lua_Integer)v->line);
    lua_rawset(L, lines);
    lua_pushvalue(L, -1);
    lua_pushinteger(L, (lua_Integer)v->column);
    lua_rawset(L, columns);
    rc = push_node(L, err, v);
    if (rc != ZPM_OK)
      return rc;
    lua_rawset(L, t);
  }
  set_info(L, n, t, keys, lines, columns);
  lua_settop(L, t);
  lua_remove(L, t - 1); /* the pairs buffer */
  return ZPM_OK;
}

static int push_node(lua_State *L, struct zpm_error *err,
                     const struct zpm_yaml_node *n)
{
  enum construct c;
  int rc;

  /* Depth is bounded by the loader's max_depth; the stack still has to
   * hold a few slots per level. */
  luaL_checkstack(L, 12, "YAML document nested too deeply");
  rc = tag_construct(err, n, &c);
  if (rc != ZPM_OK)
    return rc;
  switch (n->kind) {
  case ZPM_YAML_SEQUENCE:
    return push_sequence(L, err, n);
  case ZPM_YAML_MAPPING:
    return push_mapping(L, err, n);
  default:
    return push_scalar(L, err, n, c);
  }
}

/* nil, "name:line:col: message" (or "name: message"), code */
static int fail_named(lua_State *L, const char *name,
                      const struct zpm_error *err)
{
  lua_pushnil(L);
  if (err->line > 0)
    lua_pushfstring(L, "%s:%I:%I: %s", name, (lua_Integer)err->line,
                    (lua_Integer)err->column, err->message);
  else
    lua_pushfstring(L, "%s: %s", name, err->message);
  lua_pushstring(L, zpm_status_name(err->status));
  return 3;
}

static int load_text(lua_State *L, const char *text, size_t len,
                     const char *name)
{
  struct handle *h = new_handle(L);
  const struct zpm_yaml_node *root;
  struct zpm_error err;
  int rc;

  zpm_error_clear(&err);
  rc = zpm_yaml_load(&h->doc, text, len, NULL, &err);
  if (rc != ZPM_OK)
    return fail_named(L, name, &err);
  root = zpm_yaml_root(h->doc);
  if (root == NULL) {
    lua_pushlightuserdata(L, NULL);
  } else {
    rc = push_node(L, &err, root);
    if (rc != ZPM_OK) {
      handle_close(h);
      return fail_named(L, name, &err);
    }
  }
  handle_close(h);
  return 1;
}

static int yaml_load(lua_State *L)
{
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "<string>");

  return load_text(L, text, len, name);
}

static int fail_io(lua_State *L, const char *path, int code)
{
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(code));
  lua_pushstring(L, zpm_status_name(ZPM_EIO));
  return 3;
}

static int yaml_load_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct handle *h = new_handle(L);
  luaL_Buffer b;
  size_t total = 0, got;

  h->file = fopen(path, "rb");
  if (h->file == NULL)
    return fail_io(L, path, errno);
  luaL_buffinit(L, &b);
  do {
    char *p = luaL_prepbuffer(&b);

    got = fread(p, 1, LUAL_BUFFERSIZE, h->file);
    luaL_addsize(&b, got);
    total += got;
    if (total > YAML_MAX_INPUT) {
      struct zpm_error err;

      handle_close(h);
      zpm_error_clear(&err);
      zpm_error_set(&err, ZPM_ELIMIT, "file is larger than %zu bytes",
                    YAML_MAX_INPUT);
      return fail_named(L, path, &err);
    }
  } while (got == LUAL_BUFFERSIZE);
  if (ferror(h->file)) {
    int code = errno;

    handle_close(h);
    return fail_io(L, path, code);
  }
  handle_close(h);
  luaL_pushresult(&b);
  {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);

    return load_text(L, text, len, path);
  }
}

static const luaL_Reg yaml_functions[] = {
  { "load", yaml_load },
  { "load_file", yaml_load_file },
  { NULL, NULL }
};

int zpm_lua_open_yaml(lua_State *L)
{
  zpm_lua_class(L, &handle_class);
  luaL_newlib(L, yaml_functions);
  return 1;
}
