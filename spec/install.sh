#!/bin/sh
# ctest install/luarocks: install zpm with `luarocks make` from a clean copy
# of the sources into a temporary tree, then bundle examples/hello with the
# installed zpm. Fully offline.
set -eu
SRC=${1:?source dir}
work=$(mktemp -d /tmp/zpm-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
# the sources without any build directories
(cd "$SRC" && tar -cf - --exclude='./build*' --exclude=./.git .) \
  | (cd "$work/src" && tar -xf -)
(cd "$work/src" && luarocks --lua-version=5.4 make --tree="$work/tree" \
  rockspec/zpm-scm-1.rockspec) > "$work/luarocks.log" 2>&1 || {
  cat "$work/luarocks.log"; exit 1; }
"$work/tree/bin/zpm" version
# the HTTP module is a second C module: check it was installed too
"$work/tree/bin/zpm" auth --os-storage-url http://127.0.0.1:9/v1/AUTH_x \
  --os-auth-token t
cp -r "$SRC/examples/hello" "$work/hello"
(cd "$work/hello" && "$work/tree/bin/zpm" bundle)
members=$(tar -tzf "$work/hello/hello.zapp" | tr '\n' ' ')
echo "members: $members"
[ "$members" = "boot/system.map zapp.yaml hello.py " ] || {
  echo "unexpected members" >&2; exit 1; }
