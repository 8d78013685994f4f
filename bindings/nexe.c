/*
 * zpm.core.nexe: the execution summary from X-Nexe-* response headers.
 *
 *   parse(headers) -> rows, total | nil, msg, "invalid"
 *   table(headers) -> text, total | nil, msg, "invalid"
 *   table(headers, write) -> true, total | nil, msg, code
 *
 * headers is a table with lower-case keys "x-nexe-system",
 * "x-nexe-status", "x-nexe-retcode" and "x-nexe-cdr-line".
 */
#include <string.h>

#include "bindings.h"
#include "zpm/nexe.h"

static const char *const header_keys[4] = {
  "x-nexe-system", "x-nexe-status", "x-nexe-retcode", "x-nexe-cdr-line"
};

static const char *const row_keys[ZPM_NEXE_COLUMNS] = {
  "node", "status", "retcode", "node_time", "sys_time", "user_time",
  "disk_reads", "disk_bytes_read", "disk_writes", "disk_bytes_written",
  "network_reads", "network_bytes_read", "network_writes",
  "network_bytes_written"
};

/*
 * Push the four header values (nil when missing) and point h at them;
 * they stay on the stack, so the pointers stay valid. A value that is
 * neither a string nor a number is an argument error.
 */
static void check_headers(lua_State *L, int arg,
                          struct zpm_nexe_headers *h)
{
  struct zpm_nexe_span *spans[4];
  int i;

  luaL_checktype(L, arg, LUA_TTABLE);
  spans[0] = &h->system;
  spans[1] = &h->status;
  spans[2] = &h->retcode;
  spans[3] = &h->cdr;
  for (i = 0; i < 4; i++) {
    int type = lua_getfield(L, arg, header_keys[i]);
    spans[i]->ptr = NULL;
    spans[i]->len = 0;
    if (type == LUA_TNIL)
      continue;
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      luaL_argerror(L, arg, lua_pushfstring(L,
        "header '%s' must be a string, not %s", header_keys[i],
        luaL_typename(L, -1)));
    }
    spans[i]->ptr = lua_tolstring(L, -1, &spans[i]->len);
  }
}

static int nexe_parse(lua_State *L)
{
  struct zpm_nexe_headers h;
  struct zpm_nexe_iter it;
  struct zpm_nexe_row row;
  struct zpm_error err;
  lua_Integer n = 0;
  int has_row;
  int c;

  check_headers(L, 1, &h);
  zpm_error_clear(&err);
  if (zpm_nexe_begin(&it, &h, &err) != ZPM_OK)
    return zpm_lua_fail(L, &err);
  lua_newtable(L);
  for (;;) {
    if (zpm_nexe_next(&it, &row, &has_row, &err) != ZPM_OK)
      return zpm_lua_fail(L, &err);
    if (!has_row)
      break;
    lua_createtable(L, 0, ZPM_NEXE_COLUMNS);
    for (c = 0; c < ZPM_NEXE_COLUMNS; c++) {
      lua_pushlstring(L, row.cell[c].ptr, row.cell[c].len);
      lua_setfield(L, -2, row_keys[c]);
    }
    lua_rawseti(L, -2, ++n);
  }
  lua_pushlstring(L, it.total.ptr, it.total.len);
  return 2;
}

/* Collect the table into a buffer sized by zpm_nexe_measure. */
struct fill {
  char *buf;
  size_t len;
  size_t cap;
};

static int fill_write(const char *buf, size_t len, void *ud)
{
  struct fill *f = ud;

  if (len > f->cap - f->len)
    return -1; /* cannot happen: measure and render agree */
  memcpy(f->buf + f->len, buf, len);
  f->len += len;
  return 0;
}

/* Call the Lua write function; its error or nil, msg stays on the stack. */
enum { WRITE_OK, WRITE_RAISED, WRITE_FAILED };

struct call_write {
  lua_State *L;
  int func;
  int state;
};

static int lua_write(const char *buf, size_t len, void *ud)
{
  struct call_write *w = ud;
  lua_State *L = w->L;

  lua_pushvalue(L, w->func);
  lua_pushlstring(L, buf, len);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    w->state = WRITE_RAISED;
    return 1;
  }
  if (!lua_toboolean(L, -2)) {
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "write failed");
    }
    w->state = WRITE_FAILED;
    return 1;
  }
  lua_pop(L, 2);
  return 0;
}

static int nexe_table(lua_State *L)
{
  struct zpm_nexe_headers h;
  struct zpm_nexe_span total;
  struct zpm_error err;
  int rc;

  if (!lua_isnoneornil(L, 2))
    luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2); /* the header values go at 3..6 */
  check_headers(L, 1, &h);
  zpm_error_clear(&err);
  if (lua_isnil(L, 2)) {
    luaL_Buffer b;
    struct fill f;

    if (zpm_nexe_measure(&h, NULL, &f.cap, &err) != ZPM_OK)
      return zpm_lua_fail(L, &err);
    f.buf = luaL_buffinitsize(L, &b, f.cap);
    f.len = 0;
    rc = zpm_nexe_render(&h, fill_write, &f, &total, NULL, &err);
    if (rc != ZPM_OK)
      return luaL_error(L, "zpm.core.nexe: table size mismatch");
    luaL_pushresultsize(&b, f.len);
  } else {
    struct call_write w;

    w.L = L;
    w.func = 2;
    w.state = WRITE_OK;
    rc = zpm_nexe_render(&h, lua_write, &w, &total, NULL, &err);
    if (w.state == WRITE_RAISED)
      return lua_error(L);
    if (w.state == WRITE_FAILED) {
      lua_pushnil(L);
      lua_insert(L, -2);
      lua_pushliteral(L, "io");
      return 3;
    }
    if (rc != ZPM_OK)
      return zpm_lua_fail(L, &err);
    lua_pushboolean(L, 1);
  }
  lua_pushlstring(L, total.ptr, total.len);
  return 2;
}

static const luaL_Reg nexe_functions[] = {
  { "parse", nexe_parse },
  { "table", nexe_table },
  { NULL, NULL }
};

int zpm_lua_open_nexe(lua_State *L)
{
  luaL_newlib(L, nexe_functions);
  return 1;
}
