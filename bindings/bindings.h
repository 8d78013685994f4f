/*
 * Shared declarations of the zpm.core Lua module. Each area (yaml,
 * archive, args...) lives in its own file and contributes one subtable.
 */
#ifndef ZPM_BINDINGS_H
#define ZPM_BINDINGS_H

#include <lua.h>
#include <lauxlib.h>

#include "zpm/error.h"

/* Each pushes its area's table of functions onto the stack. */
int zpm_lua_open_args(lua_State *L);
int zpm_lua_open_yaml(lua_State *L);
int zpm_lua_open_archive(lua_State *L);
/* Adds scan() to the archive table on top of the stack. */
void zpm_lua_add_tar_reader(lua_State *L);
int zpm_lua_open_nexe(lua_State *L);
int zpm_lua_open_progress(lua_State *L);

/*
 * A zpm.core.progress meter: full userdata with metatable ZPM_PROGRESS_MT.
 * p is NULL once the meter is closed. Other modules (zpm.core.http, a
 * .so of its own) take a meter with luaL_testudata(L, i, ZPM_PROGRESS_MT)
 * and read p each time they use it, never keeping it past the call.
 */
struct zpm_lua_progress {
  struct zpm_progress *p;
};
#define ZPM_PROGRESS_MT "zpm.progress"

/*
 * A zpm_progress_fn for the core's data paths, ud a struct
 * zpm_lua_progress: moves the meter, and does nothing once it is closed.
 * The caller keeps the meter's userdata alive while the callback is set.
 */
void zpm_lua_progress_report(void *meter, unsigned long long done,
                             unsigned long long total);

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
