#!/usr/bin/python3
"""The tables of bench/zerocloud, from what its rounds left in STATE.

    zerocloud_report.py STATE NODES CLK_TCK LABEL [LABEL]

STATE/commands<i>: "name<TAB>command" lines (tree i);
STATE/res<i>/<name>/r<round>.json: hyperfine's export (the runs' times);
r<round>.cpu: "<ticks> <jobs> <machine ticks>", the proxy's CPU (its own
and its reaped children's) and the whole machine's over the round's
warm-up and runs; r<round>.chain: the
X-Chain-Total-Time of each timed run (curl jobs).
"""
import glob
import json
import os
import statistics
import sys


def load(state, i, name, tck):
    res = os.path.join(state, 'res%d' % i, name)
    times, chain, cpu, busy, rounds = [], [], [], [], []
    for path in sorted(glob.glob(os.path.join(res, 'r*.json')),
                       key=lambda p: int(os.path.basename(p)[1:-5])):
        t = json.load(open(path))['results'][0]['times']
        times += t
        rounds.append(statistics.median(t))
        base = path[:-len('.json')]
        if os.path.exists(base + '.chain'):
            chain += [float(x) for x in open(base + '.chain').read().split()
                      if x.strip()]
        ticks, jobs, machine = open(base + '.cpu').read().split()
        cpu.append(int(ticks) / tck / int(jobs))
        busy.append(int(machine) / tck / int(jobs))
    return {'times': times, 'chain': chain, 'cpu': cpu, 'busy': busy,
            'rounds': rounds}


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, unit='s', digits=3):
    return '-' if x is None else ('%.*f %s' % (digits, x, unit)).strip()


def main():
    state, nodes, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    labels = sys.argv[4:]
    names = [line.split('\t', 1)[0]
             for line in open(os.path.join(state, 'commands0'))]
    data = [{n: load(state, i, n, tck) for n in names}
            for i in range(len(labels))]
    print('| command | tree | runs | median | min | max '
          '| middleware (X-Chain-Total-Time) | CPU per job: proxy + runner '
          '+ nodes | machine |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for n in names:
        for label, d in zip(labels, data):
            r = d[n]
            print('| %s | %s | %d | %s | %s | %s | %s | %s | %s |' % (
                n, label, len(r['times']), fmt(med(r['times'])),
                fmt(min(r['times'])), fmt(max(r['times'])),
                fmt(med(r['chain'])), fmt(med(r['cpu'])), fmt(med(r['busy']), digits=2)))
    mapn = 'map%d' % nodes
    print()
    print('per node, (%s - hello-curl) / %d (%d nodes against 1):'
          % (mapn, nodes, nodes + 1))
    per = []
    for label, d in zip(labels, data):
        wall = (med(d[mapn]['times']) - med(d['hello-curl']['times'])) / nodes
        cpu = (med(d[mapn]['cpu']) - med(d['hello-curl']['cpu'])) / nodes
        img = ((med(d[mapn]['times']) - med(d[mapn + '-noimage']['times']))
               / (nodes + 1))
        per.append((wall, cpu, img))
        print('  %-6s %6.1f ms wall, %6.1f ms CPU per node; the image '
              '(fetch once, unpack and mount per node) %+.1f ms wall per node'
              % (label, wall * 1e3, cpu * 1e3, img * 1e3))
    if len(labels) == 2:
        print()
        print('after / before (medians; "paired": the median and range of '
              'the ratios of each round, where the trees ran one after the '
              'other):')
        for n in names:
            b, a = med(data[0][n]['times']), med(data[1][n]['times'])
            cb, ca = med(data[0][n]['cpu']), med(data[1][n]['cpu'])
            pw = [y / x for x, y in zip(data[0][n]['rounds'],
                                        data[1][n]['rounds'])]
            pc = [y / x for x, y in zip(data[0][n]['cpu'], data[1][n]['cpu'])
                  if x]
            print('  %-16s wall %6.3f -> %6.3f s  x%.2f (paired x%.2f, '
                  '%.2f-%.2f)   CPU %6.3f -> %6.3f s  x%.2f (paired x%.2f, '
                  '%.2f-%.2f)' % (n, b, a, a / b, med(pw), min(pw), max(pw),
                                  cb, ca, ca / cb if cb else float('nan'),
                                  med(pc), min(pc), max(pc)))
        (wb, cb, ib), (wa, ca, ia) = per
        print('  %-16s wall %6.1f -> %6.1f ms x%.2f   CPU %6.1f -> %6.1f '
              'ms x%.2f' % ('per node', wb * 1e3, wa * 1e3, wa / wb,
                          cb * 1e3, ca * 1e3, ca / cb if cb else float('nan')))
        print('  %-16s %+.1f ms wall per node (after - before)'
              % ('layout cost', (wa - wb) * 1e3))


if __name__ == '__main__':
    main()
