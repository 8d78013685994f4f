#!/usr/bin/python3
"""Create or update the rings of a swift-aio.

usage: swift-rings.py ETC_DIR ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT [IP/DEVICE ...]

For each of account/container/object: ETC_DIR/KIND.builder with 2^10
partitions, min_part_hours 1, and one device per IP/DEVICE (default
127.0.0.1/d1), each in a zone of its own (zone i for the i-th), weight
100; replicas: 3, or the number of devices when fewer.  If the builder
exists with the same devices (IP and name) and replica count, only the
ports are changed when they differ; if its devices differ (another
`--nodes`), it is made again from scratch (the data under the old layout
is not moved).  Writes KIND.ring.gz when it is missing or changed.  One
Python process instead of a dozen swift-ring-builder runs (each costs ~1 s
of imports).
"""
import os
import sys

from swift.common.ring import RingBuilder


def new_builder(devices, port):
    builder = RingBuilder(10, min(3, len(devices)), 1)
    for zone, (ip, name) in enumerate(devices, 1):
        builder.add_dev({'region': 1, 'zone': zone, 'ip': ip, 'port': port,
                         'replication_ip': ip, 'replication_port': port,
                         'device': name, 'weight': 100, 'meta': ''})
    builder.rebalance()
    return builder


def same_layout(builder, devices):
    have = sorted((d['ip'], d['device']) for d in builder.devs if d)
    return (have == sorted(devices)
            and builder.replicas == min(3, len(devices)))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    etc = sys.argv[1]
    devices = [tuple(a.split('/', 1)) for a in sys.argv[5:]] or \
        [('127.0.0.1', 'd1')]
    for kind, port in zip(('account', 'container', 'object'),
                          (int(p) for p in sys.argv[2:5])):
        bpath = os.path.join(etc, kind + '.builder')
        rpath = os.path.join(etc, kind + '.ring.gz')
        changed = False
        builder = RingBuilder.load(bpath) if os.path.exists(bpath) else None
        if builder is None or not same_layout(builder, devices):
            builder = new_builder(devices, port)
            changed = True
        for dev in builder.devs:
            if dev is None:
                continue
            if dev['port'] != port or dev.get('replication_port') != port:
                dev['port'] = port
                dev['replication_port'] = port
                builder.devs_changed = True
                changed = True
        if changed:
            builder.save(bpath)
        if changed or not os.path.exists(rpath):
            builder.get_ring().save(rpath)


if __name__ == '__main__':
    main()
