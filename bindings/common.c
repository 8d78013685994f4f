/*
 * What every zpm Lua module shares (zpm.core and zpm.core.http).
 */
#include <string.h>

#include "bindings.h"

int zpm_lua_fail(lua_State *L, const struct zpm_error *err)
{
  lua_pushnil(L);
  lua_pushstring(L, err->message);
  lua_pushstring(L, zpm_status_name(err->status));
  return 3;
}

const void *zpm_lua_opt_interrupt(lua_State *L, int arg, int idx)
{
  const void *flag = NULL;

  if (lua_type(L, idx) == LUA_TLIGHTUSERDATA)
    flag = lua_touserdata(L, idx);
  else if (!lua_isnil(L, idx))
    luaL_argerror(L, arg, "option 'interrupt' must be the light userdata "
                  "of zpm.core.interrupt.flag()");
  return flag;
}

int zpm_lua_file_fd(lua_State *L, int idx)
{
  luaL_Stream *p = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);

  if (p == NULL)
    return -1;
  if (p->closef == NULL)
    luaL_argerror(L, idx, "attempt to use a closed file");
  return fileno(p->f);
}

/* --- classes ------------------------------------------------------------ */

int zpm_lua_is_open(const struct zpm_lua_class *c, const void *ud)
{
  void *handle;

  memcpy(&handle, (const char *)ud + c->handle, sizeof(handle));
  return handle != NULL;
}

/* __tostring of every class; upvalue 1 is the class. */
static int class_tostring(lua_State *L)
{
  const struct zpm_lua_class *c = lua_touserdata(L, lua_upvalueindex(1));
  void *ud = zpm_lua_check(L, 1, c);

  if (zpm_lua_is_open(c, ud))
    lua_pushfstring(L, "%s (%p)", c->name, ud);
  else
    lua_pushfstring(L, "%s (closed)", c->name);
  return 1;
}

/* Push c's metatable, made on first use. */
static void push_class(lua_State *L, const struct zpm_lua_class *c)
{
  if (!luaL_newmetatable(L, c->name))  /* it also sets __name */
    return;
  if (c->metamethods != NULL)
    luaL_setfuncs(L, c->metamethods, 0);
  lua_pushlightuserdata(L, (void *)c);
  lua_pushcclosure(L, class_tostring, 1);
  lua_setfield(L, -2, "__tostring");
  if (c->close != NULL) {
    lua_pushcfunction(L, c->close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, c->close);
    lua_setfield(L, -2, "__close");
  }
  if (c->methods != NULL) {
    lua_newtable(L);
    luaL_setfuncs(L, c->methods, 0);
    lua_setfield(L, -2, "__index");
  }
}

void zpm_lua_class(lua_State *L, const struct zpm_lua_class *c)
{
  push_class(L, c);
  lua_pop(L, 1);
}

void *zpm_lua_new(lua_State *L, const struct zpm_lua_class *c, size_t size,
                  int nuv)
{
  void *ud = lua_newuserdatauv(L, size, nuv);

  memset(ud, 0, size);
  push_class(L, c);
  lua_setmetatable(L, -2);
  return ud;
}

void *zpm_lua_check(lua_State *L, int idx, const struct zpm_lua_class *c)
{
  return luaL_checkudata(L, idx, c->name);
}

void *zpm_lua_check_open(lua_State *L, int idx,
                         const struct zpm_lua_class *c)
{
  void *ud = luaL_checkudata(L, idx, c->name);

  if (!zpm_lua_is_open(c, ud))
    luaL_error(L, "attempt to use a closed %s", c->noun);
  return ud;
}

/* --- options ------------------------------------------------------------ */

/* The option named by the key below the value on top, or raise. */
static const struct zpm_lua_option *find_option(lua_State *L, int arg,
  const struct zpm_lua_option *list)
{
  if (lua_type(L, -2) == LUA_TSTRING) {
    const char *key = lua_tostring(L, -2);

    for (; list->name != NULL; list++) {
      if (strcmp(key, list->name) == 0)
        return list;
    }
  }
  lua_pushvalue(L, -2);
  luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'",
                                        luaL_tolstring(L, -1, NULL)));
  return NULL;
}

/* Whether a bound is as good as none: beyond what a double holds exactly. */
static int unbounded(double max)
{
  return max >= 9007199254740992.0;   /* 2^53 */
}

/* The integer on top for option o, in its range. */
static lua_Integer opt_integer(lua_State *L, int arg,
                               const struct zpm_lua_option *o)
{
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);

  if (lua_type(L, -1) == LUA_TNUMBER && isint && (double)v >= o->min
      && (double)v <= o->max)
    return v;
  if (unbounded(o->max))
    luaL_argerror(L, arg, lua_pushfstring(L,
      "option '%s' must be an integer >= %I", o->name,
      (lua_Integer)o->min));
  luaL_argerror(L, arg, lua_pushfstring(L,
    "option '%s' must be an integer in %I..%I", o->name,
    (lua_Integer)o->min, (lua_Integer)o->max));
  return 0;
}

/* The number on top for option o, in its range. */
static double opt_number(lua_State *L, int arg,
                         const struct zpm_lua_option *o)
{
  double v = (double)lua_tonumber(L, -1);

  if (lua_type(L, -1) != LUA_TNUMBER || !(v >= o->min && v <= o->max))
    luaL_argerror(L, arg, lua_pushfstring(L,
      "option '%s' must be a number in %f..%f", o->name,
      (lua_Number)o->min, (lua_Number)o->max));
  return v;
}

/* Raise unless the value on top has Lua type `type`. */
static void opt_type(lua_State *L, int arg, const struct zpm_lua_option *o,
                     int type)
{
  if (lua_type(L, -1) != type)
    luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a %s",
                                          o->name, lua_typename(L, type)));
}

/* The open userdata of o's class on top. */
static void *opt_object(lua_State *L, int arg, const struct zpm_lua_option *o)
{
  void *ud = luaL_testudata(L, -1, o->cls->name);

  if (ud == NULL)
    luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a %s",
                                          o->name, o->cls->noun));
  if (!zpm_lua_is_open(o->cls, ud))
    luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' is a closed %s",
                                          o->name, o->cls->noun));
  return ud;
}

/* Check the value on top for option o and store it in its field. */
static void store_option(lua_State *L, int arg,
                         const struct zpm_lua_option *o, char *field)
{
  union {
    int i; long l; long long ll; size_t z; double d; const void *p;
  } v;
  size_t size = 0;

  switch (o->type) {
  case ZPM_OPT_INT:
    v.i = (int)opt_integer(L, arg, o);
    size = sizeof(v.i);
    break;
  case ZPM_OPT_LLONG:
    v.ll = (long long)opt_integer(L, arg, o);
    size = sizeof(v.ll);
    break;
  case ZPM_OPT_SIZE:
    v.z = (size_t)opt_integer(L, arg, o);
    size = sizeof(v.z);
    break;
  case ZPM_OPT_LONG:
    v.l = (long)opt_number(L, arg, o);
    size = sizeof(v.l);
    break;
  case ZPM_OPT_MS:
    v.l = (long)(opt_number(L, arg, o) * 1000 + 0.5);
    size = sizeof(v.l);
    break;
  case ZPM_OPT_DOUBLE:
    v.d = opt_number(L, arg, o);
    size = sizeof(v.d);
    break;
  case ZPM_OPT_BOOLEAN:
    opt_type(L, arg, o, LUA_TBOOLEAN);
    v.i = lua_toboolean(L, -1);
    size = sizeof(v.i);
    break;
  case ZPM_OPT_STRING:
    opt_type(L, arg, o, LUA_TSTRING);
    v.p = lua_tostring(L, -1);
    size = sizeof(v.p);
    break;
  case ZPM_OPT_FUNCTION:
    opt_type(L, arg, o, LUA_TFUNCTION);
    break;
  case ZPM_OPT_TABLE:
    opt_type(L, arg, o, LUA_TTABLE);
    break;
  case ZPM_OPT_OBJECT:
    v.p = opt_object(L, arg, o);
    size = sizeof(v.p);
    break;
  case ZPM_OPT_INTERRUPT:
    v.p = zpm_lua_opt_interrupt(L, arg, -1);
    size = sizeof(v.p);
    break;
  default:
    break;
  }
  if (size > 0 && field != NULL)
    memcpy(field, &v, size);
}

void zpm_lua_options(lua_State *L, int arg, int t,
                     const struct zpm_lua_option *list, void *out)
{
  if (lua_isnoneornil(L, t))
    return;
  t = lua_absindex(L, t);
  if (lua_type(L, t) != LUA_TTABLE)
    luaL_typeerror(L, arg, "table");
  luaL_checkstack(L, 4, "options");
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    const struct zpm_lua_option *o = find_option(L, arg, list);

    store_option(L, arg, o, o->offset == ZPM_OPT_NOWHERE ? NULL
                                      : (char *)out + o->offset);
    if (o->set != NULL)
      o->set(L, arg, o, out);
    lua_pop(L, 1);
  }
}
