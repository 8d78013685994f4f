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

# port_free PORT [HOST] -> 0 if nothing listens on HOST:PORT (HOST:
# 127.0.0.1 unless given; a storage node's 127.0.0.N)
port_free() {
    "$PY" - "$1" "${2:-127.0.0.1}" <<'PYEOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[2], int(sys.argv[1])))
except OSError:
    sys.exit(1)
PYEOF
}

# free_ports N [EXCLUDE...] -> N distinct free loopback ports (random, from
# 20000 up to the kernel's ephemeral range).  Never inside that range: a
# server may bind its port seconds after it was picked, and meanwhile any
# outgoing connection on the machine can be given it as its local port
# (CI saw Keystone fail with EADDRINUSE after its 14 s bootstrap).
free_ports() {
    "$PY" - "$@" <<'PYEOF'
import random, socket, sys
n = int(sys.argv[1]); excl = {int(x) for x in sys.argv[2:] if x}
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = map(int, f.read().split())
except (OSError, ValueError):
    lo, hi = 32768, 60999
ranges = [r for r in ((20000, lo - 1), (hi + 1, 65535)) if r[1] - r[0] >= 1000]
if not ranges:
    ranges = [(20000, 65535)]
out = []
tries = 0
while len(out) < n and tries < 2000:
    tries += 1
    a, b = random.choice(ranges)
    p = random.randint(a, b)
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

# proc_state PID -> prints the state letter of /proc/PID/stat (R S D T t Z
# ...); fails when there is no such process
proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ -n "$stat" ] || return 1
    echo "${stat%% *}"
}

# pid_running PID -> 0 if the process exists and is not a zombie.  (kill -0
# succeeds on a zombie: a crashed server that nobody reaped yet.)
pid_running() {
    local st
    [[ ${1:-} =~ ^[0-9]+$ ]] || return 1
    st=$(proc_state "$1") || return 1
    [ "$st" != Z ] && [ "$st" != X ]
}

# pid_alive PIDFILE -> 0 if the pid in the file runs (a zombie does not)
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    pid_running "$pid"
}

# kill_hard PID... : KILL each process and, when it leads its own process
# group (the servers run under setsid), the whole group (the jobs it
# runs); waits up to 5 s until they are gone (or zombies).
kill_hard() {
    local pid st i
    for pid in "$@"; do
        pid_running "$pid" || continue
        st=$(cat "/proc/$pid/stat" 2>/dev/null || true)
        st=${st##*) }
        # field 3 after the command is the process group
        if [ "$(echo "$st" | cut -d' ' -f3)" = "$pid" ]; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
        kill -KILL "$pid" 2>/dev/null || true
    done
    for ((i = 0; i < 50; i++)); do
        local left=
        for pid in "$@"; do pid_running "$pid" && left=1; done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    return 1
}

# stop_pidfiles TIMEOUT_S PIDFILE... : TERM to all at once, wait for all,
# KILL those still there after TIMEOUT_S; removes the pid files.
# (Swift's servers take ~1.7 s to exit on TERM: stopping one after the
# other would add that up.)  A stopped (SIGSTOP) process also gets CONT,
# so that it can act on the TERM; a zombie counts as gone.
stop_pidfiles() {
    local t=$1 f pid i; shift
    local -a pids=() files=()
    for f in "$@"; do
        [ -e "$f" ] || continue
        files+=("$f")
        pid=$(cat "$f" 2>/dev/null || true)
        if pid_running "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            kill -CONT "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < t * 10 && ${#pids[@]} > 0; i++)); do
        local -a left=()
        for pid in "${pids[@]}"; do
            pid_running "$pid" && left+=("$pid")
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

# health_probe TIMEOUT_S [NAME PID HOST PORT CONF]... : checks the servers of a
# swift-aio at once (one thread each) and prints a line per server:
#   NAME<TAB>VERDICT<TAB>TEXT<TAB>MS
# VERDICT is ok, hung (the process exists but does not answer), dead (the
# pid file names a process that is gone, a zombie, or now another
# program) or down (no pid file).  A NAME ending in -N is server NAME of
# storage node N (object-2).  NAME memcached is asked `version`;
# container-updater has no port (only its process is checked); the others
# are asked GET /healthcheck and must answer 200 within TIMEOUT_S.  A
# stopped (SIGSTOP) process is not asked: it cannot answer.  CONF is the
# config file its command line must name (so a reused pid is not taken
# for the server).  Exit 0 if all are ok, 3 if not.
health_probe() {
    "$PY" - "$@" <<'PYEOF'
import os, socket, sys, threading, time

timeout = float(sys.argv[1])
args = sys.argv[2:]
servers = [args[i:i + 5] for i in range(0, len(args) - 4, 5)]
results = {}


def proc(pid):
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            stat = f.read().decode('ascii', 'replace')
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            argv = [a.decode('utf-8', 'replace')
                    for a in f.read().split(b'\0') if a]
    except (OSError, ValueError):
        return None, None
    return stat[stat.rindex(')') + 2:].split()[0], argv


def ours(name, port, conf, argv):
    if name == 'memcached':
        return (bool(argv) and os.path.basename(argv[0]) == 'memcached'
                and port in argv)
    kind = name.rstrip('0123456789').rstrip('-') if name[-1:].isdigit() \
        else name
    kind = {'proxy-keystone': 'proxy'}.get(kind, kind)
    return (any(os.path.basename(a) == 'swift-server.py' for a in argv)
            and kind in argv and conf in argv)


def ask(name, host, port, deadline):
    """None if the server answered well, else what went wrong."""
    if name == 'memcached':
        request, good = b'version\r\n', lambda d: d.startswith(b'VERSION ')
    else:
        request = b'GET /healthcheck HTTP/1.0\r\nHost: %s\r\n\r\n' % \
            host.encode()

        def good(d):
            w = d.split(b'\r\n', 1)[0].split()
            return len(w) >= 2 and w[0].startswith(b'HTTP/') and w[1] == b'200'
    late = 'no answer in %g s' % timeout
    try:
        s = socket.create_connection((host, port),
                                     timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionRefusedError:
        return 'not listening on port %d' % port
    except socket.timeout:
        return late
    except OSError as e:
        return 'port %d: %s' % (port, e.strerror or e)
    data = b''
    try:
        s.sendall(request)
        while b'\r\n' not in data:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return late
    except OSError as e:
        return 'port %d: %s' % (port, e.strerror or e)
    finally:
        s.close()
    if good(data):
        return None
    if not data:
        return 'closed the connection without an answer'
    return 'answered %r' % data.split(b'\r\n', 1)[0].decode('ascii', 'replace')[:80]


def check(name, pid, host, port, conf):
    t0 = time.monotonic()
    if not pid:
        return 'down', 'not running'
    if not pid.isdigit():
        return 'dead', 'dead (bad pid file)'
    pid = int(pid)
    state, argv = proc(pid)
    if state is None:
        return 'dead', 'dead (pid %d, exited)' % pid
    if state in ('Z', 'X'):
        return 'dead', 'dead (pid %d, zombie)' % pid
    if not ours(name, port, conf, argv):
        return 'dead', 'dead (pid %d exited; the pid is now another program\'s)' % pid
    if state in ('T', 't'):
        return 'hung', 'not answering (pid %d, stopped)' % pid
    if name.startswith('container-updater') or not port:
        return 'ok', 'running (pid %d)' % pid
    why = ask(name, host, int(port), t0 + timeout)
    if why is None:
        return 'ok', 'running (pid %d)' % pid
    state, _ = proc(pid)
    if state is None or state in ('Z', 'X'):
        return 'dead', 'dead (pid %d, exited)' % pid
    if state in ('T', 't'):
        return 'hung', 'not answering (pid %d, stopped)' % pid
    if state == 'D':
        why += ', in uninterruptible sleep'
    return 'hung', 'not answering (pid %d, %s)' % (pid, why)


def run(server):
    t0 = time.monotonic()
    verdict, text = check(*server)
    results[server[0]] = (verdict, text, int((time.monotonic() - t0) * 1000))


threads = [threading.Thread(target=run, args=(s,)) for s in servers]
for t in threads:
    t.start()
for t in threads:
    t.join()
bad = 0
for s in servers:
    verdict, text, ms = results[s[0]]
    bad = bad or verdict != 'ok'
    print('%s\t%s\t%s\t%d' % (s[0], verdict, text, ms))
sys.exit(3 if bad else 0)
PYEOF
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
