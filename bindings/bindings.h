/*
 * Shared declarations of the zpm.core Lua module. Each area (yaml,
 * archive, args...) lives in its own file and contributes one subtable.
 */
#ifndef ZPM_BINDINGS_H
#define ZPM_BINDINGS_H

#include <lua.h>
#include <lauxlib.h>
#include <stddef.h>

#include "zpm/error.h"

/* Each pushes its area's table of functions onto the stack. */
int zpm_lua_open_args(lua_State *L);
int zpm_lua_open_yaml(lua_State *L);
int zpm_lua_open_archive(lua_State *L);
/* Adds scan() to the archive table on top of the stack. */
void zpm_lua_add_tar_reader(lua_State *L);
int zpm_lua_open_nexe(lua_State *L);
int zpm_lua_open_progress(lua_State *L);
int zpm_lua_open_fs(lua_State *L);

/* --- classes ------------------------------------------------------------ */

/*
 * Every userdata type is a class, made the way liolib's createmeta makes
 * LUA_FILEHANDLE: a metatable registered under the class name, one scheme
 * "zpm.core.<Type>" (Session, Source, TarCapture, Progress,
 * ArchiveWriter, TarReader, Md5, YamlDocument, Walk), with __name, the methods
 * as __index, __tostring "zpm.core.<Type> (0x...)" or "zpm.core.<Type>
 * (closed)", and __gc and __close calling the type's idempotent close.
 *
 * A userdata is closed while the pointer at offset `handle` is NULL:
 * zpm_lua_new makes it zero-filled (closed) with its metatable set,
 * before the caller acquires anything (as liolib's newprefile does), so
 * a failure in between leaks nothing.
 */
struct zpm_lua_class {
  const char *name;             /* "zpm.core.ArchiveWriter" */
  const char *noun;             /* "archive writer", for messages */
  size_t handle;                /* offsetof the pointer NULL when closed */
  lua_CFunction close;          /* __gc and __close, or NULL */
  const luaL_Reg *methods;      /* __index, or NULL */
  const luaL_Reg *metamethods;  /* any others, or NULL */
};

/* Register c's metatable, once per Lua state; the stack is unchanged. */
void zpm_lua_class(lua_State *L, const struct zpm_lua_class *c);

/*
 * Push a new zero-filled (closed) userdata of class c with size bytes and
 * nuv user values, registering the class first if need be.
 */
void *zpm_lua_new(lua_State *L, const struct zpm_lua_class *c, size_t size,
                  int nuv);

/* The userdata of class c at idx (luaL_checkudata), open or closed. */
void *zpm_lua_check(lua_State *L, int idx, const struct zpm_lua_class *c);

/* Same, open: a closed one raises "attempt to use a closed <noun>". */
void *zpm_lua_check_open(lua_State *L, int idx,
                         const struct zpm_lua_class *c);

/* Whether ud, a userdata of class c, is open. */
int zpm_lua_is_open(const struct zpm_lua_class *c, const void *ud);

/*
 * A zpm.core.progress meter, class zpm_lua_progress_class (defined in
 * progress.c, which every module that takes a meter links). p is NULL
 * once the meter is closed. Other modules (zpm.core.http, a .so of its
 * own) take a meter with the option type ZPM_OPT_OBJECT or
 * luaL_testudata(L, i, ZPM_PROGRESS_MT) and read p each time they use it,
 * never keeping it past the call.
 */
struct zpm_lua_progress {
  struct zpm_progress *p;
};
extern const struct zpm_lua_class zpm_lua_progress_class;
#define ZPM_PROGRESS_MT "zpm.core.Progress"

/*
 * A zpm_progress_fn for the core's data paths, ud a struct
 * zpm_lua_progress: moves the meter, and does nothing once it is closed.
 * The caller keeps the meter's userdata alive while the callback is set.
 */
void zpm_lua_progress_report(void *meter, unsigned long long done,
                             unsigned long long total);

/* --- options ------------------------------------------------------------ */

/*
 * Options tables are read from a static list of what each option takes
 * and where it goes, as lua-cjson's typed option setters do, by one
 * function, zpm_lua_options. An unknown key, a value of the wrong type or
 * out of its range raises an argument error naming the option.
 */
enum zpm_lua_opt_type {
  ZPM_OPT_INT,        /* int: an integer in min..max */
  ZPM_OPT_LLONG,      /* long long: an integer in min..max */
  ZPM_OPT_SIZE,       /* size_t: an integer in min..max */
  ZPM_OPT_LONG,       /* long: a number in min..max, truncated */
  ZPM_OPT_MS,         /* long: seconds, a number in min..max, as ms */
  ZPM_OPT_DOUBLE,     /* double: a number in min..max */
  ZPM_OPT_BOOLEAN,    /* int: 0 or 1 */
  ZPM_OPT_STRING,     /* const char *: into the options table */
  ZPM_OPT_FUNCTION,   /* checked only: the caller reads it from the table */
  ZPM_OPT_TABLE,      /* checked only, likewise */
  ZPM_OPT_OBJECT,     /* void *: an open userdata of class `cls` */
  ZPM_OPT_INTERRUPT,  /* const void *: zpm.core.interrupt.flag() */
  ZPM_OPT_ANY         /* not checked: only `set` (if any) reads it */
};

/* For `offset` of an option that is stored nowhere. */
#define ZPM_OPT_NOWHERE ((size_t)-1)

struct zpm_lua_option {
  const char *name;
  enum zpm_lua_opt_type type;
  size_t offset;                /* offsetof its field in out */
  double min, max;              /* the range of numbers and integers */
  const struct zpm_lua_class *cls;  /* for ZPM_OPT_OBJECT */
  /*
   * Called, when not NULL, after the value (on top of the stack) is
   * checked and stored: for what a field alone cannot say (a flag that
   * the option was given, a clamp, a check across options).
   */
  void (*set)(lua_State *L, int arg, const struct zpm_lua_option *o,
              void *out);
};

/*
 * Read the options table at stack index t (nil or none: no options) into
 * out, following list (ended by a NULL name); errors name argument arg.
 * String and object values point into the table, which the caller keeps
 * on the stack while it uses them.
 */
void zpm_lua_options(lua_State *L, int arg, int t,
                     const struct zpm_lua_option *list, void *out);

/* --- the rest ------------------------------------------------------------ */

/*
 * Push the expected-failure triple nil, message, code (code from
 * zpm_status_name) and return 3, for `return zpm_lua_fail(L, &err);`.
 */
int zpm_lua_fail(lua_State *L, const struct zpm_error *err);

/*
 * The `interrupt` option at idx of table argument arg: a light userdata
 * from zpm.core.interrupt.flag(), or nil (NULL).
 */
const void *zpm_lua_opt_interrupt(lua_State *L, int arg, int idx);

/*
 * The descriptor of the Lua file (io.open's handle) at idx, or -1 when
 * the value is not one; a closed file raises. Readers given a file read
 * it through a duplicate descriptor from its start, so all of them see
 * the version of the file that was opened.
 */
int zpm_lua_file_fd(lua_State *L, int idx);

#endif
