#!/usr/bin/python3
"""Create or update the one-device, one-replica rings of a swift-aio.

usage: swift-rings.py ETC_DIR ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT

For each of account/container/object: create ETC_DIR/KIND.builder
(2^10 partitions, 1 replica, min_part_hours 1) with one device
r1z1-127.0.0.1:PORT/d1 weight 100 and rebalance; if the builder exists and
its device has another port, change the port (and replication port).
Writes KIND.ring.gz when it is missing or changed.  One Python process
instead of a dozen swift-ring-builder runs (each costs ~1 s of imports).
"""
import os
import sys

from swift.common.ring import RingBuilder


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    etc = sys.argv[1]
    for kind, port in zip(('account', 'container', 'object'),
                          (int(p) for p in sys.argv[2:5])):
        bpath = os.path.join(etc, kind + '.builder')
        rpath = os.path.join(etc, kind + '.ring.gz')
        changed = False
        if os.path.exists(bpath):
            builder = RingBuilder.load(bpath)
        else:
            builder = RingBuilder(10, 1, 1)
            builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1',
                             'port': port, 'replication_ip': '127.0.0.1',
                             'replication_port': port, 'device': 'd1',
                             'weight': 100, 'meta': ''})
            builder.rebalance()
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
