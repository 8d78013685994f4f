#!/bin/sh
# ctest fixture: start (up) or stop (down) the servers the cloud specs use:
# a Swift all-in-one with Keystone v3 on 127.0.0.1, under DIR.
#   spec/servers.sh up|down DIR
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
action=${1:?up or down}
DIR=${2:?state dir}
case "$action" in
  up)
    mkdir -p "$DIR"
    # pick both keystone-side ports first so the two can start together
    set -- $("$ROOT/devcloud/swift-aio" free-ports 2)
    "$ROOT/devcloud/keystone-aio" up --dir "$DIR/keystone" --port "$1" \
      --swift-port "$2" --no-install > "$DIR/keystone.out" 2>&1 &
    ks=$!
    "$ROOT/devcloud/swift-aio" up --dir "$DIR/swift" --keystone-port "$1" \
      --keystone-proxy-port "$2" --no-install > "$DIR/swift.out" 2>&1 || {
      cat "$DIR/swift.out"; wait "$ks" || true; exit 1; }
    wait "$ks" || { cat "$DIR/keystone.out"; exit 1; }
    echo "servers up under $DIR"
    ;;
  down)
    "$ROOT/devcloud/swift-aio" down --dir "$DIR/swift" || true
    "$ROOT/devcloud/keystone-aio" down --dir "$DIR/keystone" || true
    ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
