# shellcheck shell=bash
# Shared shell functions for devcloud/swift-aio and devcloud/keystone-aio.
# Sourced, not executed.  Bash only.

PY=/usr/bin/python3

die() { echo "${0##*/}: $*" >&2; exit 1; }
note() { echo "${0##*/}: $*" >&2; }

# pkgs_missing PKG... -> prints the packages that are not installed
pkgs_missing() {
    local p st
    for p in "$@"; do
        st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$st" = installed ] || echo "$p"
    done
}

# apt_install PKG... : installs what is missing; apt-get update only if needed.
# Service starts during the install are blocked with a temporary
# /usr/sbin/policy-rc.d (exit 101) unless one already exists.
apt_install() {
    local missing
    missing=$(pkgs_missing "$@")
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "packages missing ($missing) and not root: install them as root"
    note "installing:" $missing
    local made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from zpm devcloud: no service starts during install\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local rc=0
    export DEBIAN_FRONTEND=noninteractive
    # update the lists only if some package has no candidate
    local p need_update=
    for p in $missing; do
        if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then need_update=1; break; fi
    done
    if [ -n "$need_update" ] || ! apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold $missing >&2; then
        apt-get update -q >&2 || true
        apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold $missing >&2 || rc=$?
    fi
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || die "apt-get install failed ($rc)"
}

# port_free PORT -> 0 if nothing listens on 127.0.0.1:PORT
port_free() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PYEOF
}

# free_ports N [EXCLUDE...] -> N distinct free loopback ports (random, 20000-59999)
free_ports() {
    "$PY" - "$@" <<'PYEOF'
import random, socket, sys
n = int(sys.argv[1]); excl = {int(x) for x in sys.argv[2:] if x}
out = []
tries = 0
while len(out) < n and tries < 2000:
    tries += 1
    p = random.randint(20000, 59999)
    if p in excl or p in out:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    out.append(p)
if len(out) < n:
    sys.exit("no free ports")
print(" ".join(map(str, out)))
PYEOF
}

# pid_alive PIDFILE -> 0 if the pid in the file runs
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# stop_pidfiles TIMEOUT_S PIDFILE... : TERM to all at once, wait for all,
# KILL those still there after TIMEOUT_S; removes the pid files.
# (Swift's servers take ~1.7 s to exit on TERM: stopping one after the
# other would add that up.)
stop_pidfiles() {
    local t=$1 f pid i; shift
    local -a pids=() files=()
    for f in "$@"; do
        [ -e "$f" ] || continue
        files+=("$f")
        pid=$(cat "$f" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < t * 10 && ${#pids[@]} > 0; i++)); do
        local -a left=()
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && left+=("$pid")
        done
        pids=("${left[@]+"${left[@]}"}")
        [ ${#pids[@]} = 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]+"${pids[@]}"}"; do
        note "pid $pid ignored TERM for ${t}s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    [ ${#pids[@]} = 0 ] || sleep 0.2
    rm -f "${files[@]+"${files[@]}"}"
}

# now_ms -> milliseconds since epoch
now_ms() { date +%s%3N; }

# tail_logs DIR : prints the tail of every log under DIR/log to stderr
tail_logs() {
    local f
    for f in "$1"/log/*.log; do
        [ -e "$f" ] || continue
        echo "===== $f (last 30 lines) =====" >&2
        tail -n 30 "$f" >&2
    done
}
