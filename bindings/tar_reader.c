/*
 * zpm.core.archive.scan(path, visit) -> true | nil, msg, code
 * zpm.core.archive.scan(file, visit [, name]): an open Lua file instead,
 * read from its start through a duplicate descriptor (name: for messages)
 *
 * Walks the members of a (gzip-compressed) tar archive. For each member it
 * calls visit(entry, read) with entry = { name, type = "file" |
 * "directory" | "symlink" | "hardlink" | "other", size, mode, linkname }
 * and read(max), valid only during that call, which returns the member's
 * data as a string, or nil, msg, "limit" when it is larger than max bytes.
 * visit returning false stops the walk (still a success). An error raised
 * by visit closes the archive and propagates.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "bindings.h"
#include "zpm/gzip_record.h"
#include "zpm/tar_reader.h"

/* A zpm.core.TarReader: the walk's state, its reader closed by __gc. */
struct scan_state {
  struct zpm_tar_reader *owner; /* NULL once closed */
  struct zpm_tar_reader *r;   /* NULL outside a visit call */
  const char *name;
  long long size;
};

static const char *const type_names[] = {
  "file", "directory", "symlink", "hardlink", "other"
};

static int scan_read(lua_State *L)
{
  struct scan_state *st = lua_touserdata(L, lua_upvalueindex(1));
  lua_Integer max = luaL_checkinteger(L, 1);
  luaL_Buffer b;
  size_t total = 0;

  if (st->r == NULL)
    return luaL_error(L, "read() is only valid during its visit call");
  luaL_argcheck(L, max >= 0, 1, "max must not be negative");
  if (st->size > max) {
    lua_pushnil(L);
    lua_pushfstring(L, "member '%s' is larger than %I bytes", st->name,
                    max);
    lua_pushliteral(L, "limit");
    return 3;
  }
  luaL_buffinit(L, &b);
  for (;;) {
    size_t got;
    char *dst = luaL_prepbuffer(&b);
    if (zpm_tar_read(st->r, dst, LUAL_BUFFERSIZE, &got) != ZPM_OK)
      return zpm_lua_fail(L, zpm_tar_error(st->r));
    if (got == 0)
      break;
    total += got;
    if (total > (size_t)max) {
      /* the header lied about the size */
      lua_pushnil(L);
      lua_pushfstring(L, "member '%s' holds more data than declared",
                      st->name);
      lua_pushliteral(L, "limit");
      return 3;
    }
    luaL_addsize(&b, got);
  }
  luaL_pushresult(&b);
  return 1;
}

static void push_entry(lua_State *L, const struct zpm_tar_entry *e)
{
  lua_createtable(L, 0, 5);
  lua_pushstring(L, e->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, type_names[e->type]);
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)e->size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)e->mode);
  lua_setfield(L, -2, "mode");
  if (e->linkname != NULL) {
    lua_pushstring(L, e->linkname);
    lua_setfield(L, -2, "linkname");
  }
}

static void scan_close(struct scan_state *st)
{
  zpm_tar_close(st->owner);
  st->owner = NULL;
  st->r = NULL;
}

/* __gc and __close: close the reader if a Lua error escaped the walk. */
static int scan_gc(lua_State *L)
{
  scan_close(lua_touserdata(L, 1));
  return 0;
}

static const struct zpm_lua_class scan_class = {
  "zpm.core.TarReader", "tar reader",
  offsetof(struct scan_state, owner), scan_gc, NULL, NULL
};

/*
 * Call visit (at index 2) for each member of st's open reader, with the
 * read function at read_fn; a Lua error raised by visit propagates.
 */
static int scan_members(lua_State *L, struct scan_state *st, int read_fn)
{
  struct zpm_tar_reader *r = st->owner;
  struct zpm_error err;

  for (;;) {
    struct zpm_tar_entry entry;
    int done, status, stop;

    if (zpm_tar_next(r, &entry, &done) != ZPM_OK) {
      err = *zpm_tar_error(r);
      scan_close(st);
      return zpm_lua_fail(L, &err);
    }
    if (done)
      break;
    st->r = r;
    st->name = entry.name;
    st->size = entry.size;
    lua_pushvalue(L, 2);
    push_entry(L, &entry);
    lua_pushvalue(L, read_fn);
    status = lua_pcall(L, 2, 1, 0);
    st->r = NULL;
    if (status != LUA_OK) {
      scan_close(st);
      return lua_error(L);
    }
    stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (stop)
      break;
  }
  scan_close(st);
  lua_pushboolean(L, 1);
  return 1;
}

static int archive_scan(lua_State *L)
{
  int fd = zpm_lua_file_fd(L, 1);
  const char *path = fd >= 0 ? luaL_optstring(L, 3, "(open file)")
                             : luaL_checkstring(L, 1);
  struct scan_state *st;
  struct zpm_tar_reader *r;
  struct zpm_error err;
  int opened;

  luaL_checktype(L, 2, LUA_TFUNCTION);
  st = zpm_lua_new(L, &scan_class, sizeof(*st), 0);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, scan_read, 1);
  zpm_error_clear(&err);
  opened = fd >= 0 ? zpm_tar_open_fd(&r, fd, path, &err)
                   : zpm_tar_open(&r, path, &err);
  if (opened != ZPM_OK)
    return zpm_lua_fail(L, &err);
  st->owner = r;
  return scan_members(L, st, lua_gettop(L));
}

/*
 * zpm.core.archive.record(path | file [, name]) -> { md5, length } |
 * false (the archive has no record) | nil, msg, code: the record a
 * bundle ends with of its tar's MD5 (hex) and length (zpm/gzip_record.h)
 */
static int archive_record(lua_State *L)
{
  int fd = zpm_lua_file_fd(L, 1);
  const char *path = fd >= 0 ? luaL_optstring(L, 2, "(open file)")
                             : luaL_checkstring(L, 1);
  struct zpm_gzip_record rec;
  char hex[ZPM_MD5_HEX_SIZE];
  struct zpm_error err;
  int opened = fd < 0;
  int found = 0;
  int status;

  zpm_error_clear(&err);
  if (opened) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      zpm_error_errno(&err, errno, "cannot open %s", path);
      return zpm_lua_fail(L, &err);
    }
  }
  status = zpm_gzip_record_read(fd, path, &rec, &found, &err);
  if (opened)
    close(fd);
  if (status != ZPM_OK)
    return zpm_lua_fail(L, &err);
  if (!found) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_createtable(L, 0, 2);
  zpm_md5_hex(rec.md5, hex);
  lua_pushstring(L, hex);
  lua_setfield(L, -2, "md5");
  lua_pushinteger(L, (lua_Integer)rec.length);
  lua_setfield(L, -2, "length");
  return 1;
}

void zpm_lua_add_tar_reader(lua_State *L)
{
  lua_pushcfunction(L, archive_scan);
  lua_setfield(L, -2, "scan");
  lua_pushcfunction(L, archive_record);
  lua_setfield(L, -2, "record");
}
