#!/bin/sh
# ctest install/luarocks: the installed rock is the product. Install zpm
# with `luarocks make` from a clean copy of the sources into a temporary
# tree (offline, Debian's Lua modules: --deps-mode=none), then, with that
# installed `zpm` alone: create projects from the python (with the web
# UI) and shell templates (their files are installed), bundle
# examples/hello, start a devcloud, deploy and execute it with the
# summary, check a failing job's exit code, and stop the devcloud.
set -eu
SRC=${1:?source dir}
work=$(mktemp -d /tmp/zpm-install-XXXXXX)
zpm="$work/tree/bin/zpm"
cleanup() {
  "$zpm" devcloud down --dir "$work/devcloud" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "install test: $*" >&2; exit 1; }

mkdir "$work/src"
# the sources without any build directories
(cd "$SRC" && tar -cf - --exclude='./build*' --exclude=./.git .) \
  | (cd "$work/src" && tar -xf -)
(cd "$work/src" && luarocks --lua-version=5.4 make --deps-mode=none \
  --tree="$work/tree" rockspec/zpm-scm-1.rockspec) > "$work/luarocks.log" 2>&1 || {
  cat "$work/luarocks.log"; exit 1; }
# no LuaRocks wrapper: the script itself, which finds its tree
head -1 "$zpm" | grep -q lua5.4 || fail "bin/zpm is not the zpm script"
(cd / && env -u LUA_PATH -u LUA_CPATH "$zpm" version)
# the HTTP module is a second C module: check it was installed too
env -u LUA_PATH -u LUA_CPATH "$zpm" auth \
  --os-storage-url http://127.0.0.1:9/v1/AUTH_x --os-auth-token t
# and so is the MD5 one (libcrypto)
md5=$(env -u LUA_PATH LUA_CPATH="$work/tree/lib/lua/5.4/?.so" lua5.4 -e \
  'io.write(require("zpm.core").md5("abc"))')
[ "$md5" = 900150983cd24fb0d6963f7d28e17f72 ] || fail "zpm.core.md5: $md5"

# the man page and the completion scripts, in the rock's directory
rock="$work/tree/lib/luarocks/rocks-5.4/zpm/scm-1"
for f in share/man/man1/zpm.1 share/bash-completion/completions/zpm \
    share/zsh/vendor-completions/_zpm \
    share/fish/vendor_completions.d/zpm.fish; do
  [ -s "$rock/$f" ] || fail "not installed: $f"
done
MANWIDTH=200 man -l "$rock/share/man/man1/zpm.1" | grep -q '^   zpm deploy$' \
  || fail "man -l zpm.1: no zpm deploy"
"$zpm" completion bash | cmp - "$rock/share/bash-completion/completions/zpm" \
  || fail "installed bash completion differs from zpm completion bash"
bash -c ". '$rock/share/bash-completion/completions/zpm'
  COMP_WORDS=(zpm depl); COMP_CWORD=1; _zpm; [ \"\${COMPREPLY[*]}\" = deploy ]" \
  || fail "installed bash completion does not complete"

# the skeleton files are installed beside their modules: `zpm new -u`
# writes the UI files examples/hello-ui carries
"$zpm" new -u "$work/new" > /dev/null
for f in index.html.tmpl zerocloud.js style.css; do
  cmp "$work/new/$f" "$SRC/examples/hello-ui/$f" || fail "zpm new -u: $f"
done
"$zpm" new -t shell "$work/new-sh" > /dev/null
grep -q '^  name: "new-sh"$' "$work/new-sh/zapp.yaml" || fail "zpm new -t shell"

cp -r "$SRC/examples/hello" "$work/hello"
(cd "$work/hello" && "$zpm" bundle)
members=$(tar -tzf "$work/hello/hello.zapp" | tr '\n' ' ')
echo "members: $members"
[ "$members" = "boot/system.map zapp.yaml hello.py " ] || fail "unexpected members"

# the devcloud, from the installed tree (its scripts lost their exec bits)
"$zpm" devcloud up --dir "$work/devcloud" > "$work/up.out"
eval "$(grep '^export ' "$work/up.out")"
"$zpm" devcloud status --dir "$work/devcloud"
(cd "$work/hello" && "$zpm" deploy hello hello.zapp)
out=$("$zpm" execute --summary --container hello hello.zapp)
echo "$out"
echo "$out" | grep -q '^Execution summary:$' || fail "no summary"
echo "$out" | grep -q '| hello |.* ok .*|' || fail "no ok row for node hello"
echo "$out" | grep -q '^Hello, ZeroVM world!$' || fail "no greeting"

# a failed job is a failure: exit 3 and a line naming the node
printf 'import sys\nprint("partial")\nsys.exit(3)\n' > "$work/hello/hello.py"
(cd "$work/hello" && "$zpm" bundle -q)
set +e
(cd "$work/hello" && "$zpm" deploy -f hello hello.zapp --execute) \
  > "$work/fail.out" 2> "$work/fail.err"
code=$?
set -e
cat "$work/fail.out" "$work/fail.err"
[ "$code" = 3 ] || fail "failed job: exit $code, not 3"
grep -q "^partial" "$work/fail.out" || fail "failed job: output lost"
grep -q "^Error: node 'hello' failed: retcode 3" "$work/fail.err" \
  || fail "failed job: no line naming the node"

# a source rock of the clone (when it is one), built and run offline
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$work" && sh "$SRC/dev" rock) > "$work/pack.log" 2>&1 || {
    cat "$work/pack.log"; fail "./dev rock failed"; }
  (cd "$work" && luarocks --lua-version=5.4 build --deps-mode=none \
    --tree="$work/tree2" zpm-scm-1.src.rock) > "$work/build.log" 2>&1 || {
    cat "$work/build.log"; fail "luarocks build of the source rock failed"; }
  "$work/tree2/bin/zpm" version
fi

"$zpm" devcloud down --dir "$work/devcloud"
! "$zpm" devcloud status --dir "$work/devcloud" >/dev/null 2>&1 \
  || fail "devcloud still up after down"
echo "install test: ok"
