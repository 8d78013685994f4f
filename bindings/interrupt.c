/*
 * zpm.core.interrupt: Ctrl-C and `kill` as failures, not deaths. A
 * module of its own (zpm/core/interrupt.so, no library behind it), so
 * that zpm's launcher catches signals before it loads anything else.
 *
 *   catch()  -> true, sigint_was_default | nil, msg, "io"   install the
 *               SIGINT, SIGTERM and SIGHUP handlers (once; see
 *               zpm/cancel.h); the second value tells whether SIGINT was
 *               at its default action before (zpm_cancel_sigint_default)
 *   caught() -> signal number | nil     whether one arrived since
 *   flag()   -> light userdata          the flag they set, for the
 *               `interrupt` option of archive.create and
 *               zpm.core.http.session (a module of its own, with its own
 *               copy of the core: the pointer is handed over)
 */
#include <errno.h>
#include <string.h>

#include "bindings.h"
#include "zpm/cancel.h"

static int interrupt_catch(lua_State *L)
{
  struct zpm_error err;
  int was_default = zpm_cancel_sigint_default();

  if (zpm_cancel_on_signals() != ZPM_OK) {
    zpm_error_clear(&err);
    zpm_error_errno(&err, errno, "cannot catch signals");
    return zpm_lua_fail(L, &err);
  }
  lua_pushboolean(L, 1);
  lua_pushboolean(L, was_default);
  return 2;
}

static int interrupt_caught(lua_State *L)
{
  int signo = zpm_cancelled(zpm_cancel_signal_flag());

  if (signo == 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, signo);
  return 1;
}

static int interrupt_flag(lua_State *L)
{
  /* cast away volatile: the flag is only ever read through the API */
  lua_pushlightuserdata(L, (void *)(size_t)zpm_cancel_signal_flag());
  return 1;
}

static const luaL_Reg interrupt_functions[] = {
  { "catch", interrupt_catch },
  { "caught", interrupt_caught },
  { "flag", interrupt_flag },
  { NULL, NULL }
};

int luaopen_zpm_core_interrupt(lua_State *L);

int luaopen_zpm_core_interrupt(lua_State *L)
{
  luaL_newlib(L, interrupt_functions);
  lua_pushliteral(L, "zpm.core.interrupt " ZPM_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
