#!/usr/bin/python3
"""CPU used by a devcloud's servers, each with the processes it forked.

usage: proc_cpu.py snapshot RUN_DIR > FILE
       proc_cpu.py report BEFORE AFTER SECONDS [SAMPLE...]

snapshot: for every RUN_DIR/NAME.pid (one per server, written by
devcloud/swift-aio), the server's process and all its live descendants:
the sum of utime + stime + cutime + cstime (/proc/PID/stat fields 14-17,
clock ticks), so children that ran and were reaped count in their
parent's cutime/cstime, and live ones (a container-updater's forked
sweeps, a job's processes) count themselves. One JSON object per line:
{"name", "pid", "ticks", "procs"}.

report: per server, the CPU seconds between two snapshots and their share
of one core over SECONDS, largest first, then the total. A server whose
pid changed between the snapshots (restarted) is marked and not summed.
SAMPLEs are snapshots taken during the window: the most processes a
server had at once is the largest count among all the snapshots.
"""
import json
import os
import sys


def read_stat(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            text = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after its last ')'
    rest = text[text.rindex(')') + 2:].split()
    # rest[0] is field 3 (state): field N is rest[N - 3]
    return {'ppid': int(rest[1]),
            'ticks': sum(int(rest[i - 3]) for i in (14, 15, 16, 17))}


def snapshot(run_dir):
    stats = {}
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            st = read_stat(int(entry))
            if st:
                stats[int(entry)] = st
                children.setdefault(st['ppid'], []).append(int(entry))
    for fn in sorted(os.listdir(run_dir)):
        if not fn.endswith('.pid'):
            continue
        try:
            with open(os.path.join(run_dir, fn)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if pid not in stats:
            continue
        ticks, procs, todo = 0, 0, [pid]
        while todo:
            p = todo.pop()
            if p in stats:
                ticks += stats[p]['ticks']
                procs += 1
                todo.extend(children.get(p, []))
        print(json.dumps({'name': fn[:-4], 'pid': pid, 'ticks': ticks,
                          'procs': procs}))


def load(path):
    with open(path) as f:
        return {r['name']: r for r in map(json.loads, f) if r}


def report(before_path, after_path, seconds, samples):
    hz = os.sysconf('SC_CLK_TCK')
    before, after = load(before_path), load(after_path)
    most = {}
    for snap in [before, after] + [load(s) for s in samples]:
        for name, r in snap.items():
            most[name] = max(most.get(name, 0), r['procs'])
    rows, total = [], 0.0
    for name, a in after.items():
        b = before.get(name)
        if not b or b['pid'] != a['pid']:
            rows.append((-1.0, name, 'restarted during the window', a))
            continue
        cpu = (a['ticks'] - b['ticks']) / hz
        total += cpu
        rows.append((cpu, name, None, a))
    rows.sort(key=lambda r: (-r[0], r[1]))
    for cpu, name, note, a in rows:
        if note:
            print('  %-22s %s' % (name, note))
        else:
            n = most[name]
            print('  %-22s %7.2f s  %6.2f %%  (up to %d process%s)'
                  % (name, cpu, 100 * cpu / seconds, n,
                     '' if n == 1 else 'es'))
    print('  %-22s %7.2f s  %6.2f %%  of one core over %g s'
          % ('total', total, 100 * total / seconds, seconds))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'snapshot':
        snapshot(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == 'report':
        report(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
